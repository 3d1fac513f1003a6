//! `etl_clean_stale('<lake>', min_age_seconds := 3600)`: removes the temporaries of loads whose
//! process died (never visible to readers, but they take space) and marks those loads
//! abandoned in the audit. Returns one row per removed temporary area.

use super::etl_audit::lake_argument;
use crate::ffi::rows::{ColDesc, RowsFunction, Val, any_typed};
use crate::ffi::{LogicalType, TableBindInfo};
use crate::options::{OptionKind, OptionSpec, Options};
use crate::staging::load::clean_stale;
use std::error::Error;
use std::path::Path;

pub struct EtlCleanStale;

const OPTIONS: &[OptionSpec] = &[OptionSpec::new(
    "min_age_seconds",
    OptionKind::Int { min: 0, max: i64::MAX },
    "only temporaries untouched for at least this long are removed (a running load writes continuously)",
)
.default("3600")];

impl RowsFunction for EtlCleanStale {
    const NAME: &'static str = "etl_clean_stale";

    fn parameters() -> Vec<LogicalType> {
        vec![LogicalType::varchar()]
    }

    fn named_parameters() -> Vec<(&'static str, LogicalType)> {
        any_typed(OPTIONS)
    }

    fn columns() -> Vec<(&'static str, ColDesc)> {
        vec![
            ("path", ColDesc::Text),
            ("bytes", ColDesc::BigInt),
            ("load_id", ColDesc::Text),
            ("attempt", ColDesc::Text),
        ]
    }

    fn rows(info: &mut TableBindInfo) -> Result<Vec<Vec<Val>>, Box<dyn Error>> {
        let lake = lake_argument(Self::NAME, info)?;
        let options = Options::parse(Self::NAME, OPTIONS, &info.named_parameters())?;
        let min_age =
            std::time::Duration::from_secs(options.int("min_age_seconds").unwrap_or(3600) as u64);
        let cleaned = clean_stale(Path::new(&lake), min_age, chrono::Utc::now())
            .map_err(|e| format!("{}: {e}", Self::NAME))?;
        Ok(cleaned
            .into_iter()
            .map(|c| {
                vec![
                    Val::Text(c.path),
                    Val::Int(c.bytes as i64),
                    Val::opt_text(c.load_id.as_deref()),
                    Val::Text(c.attempt),
                ]
            })
            .collect())
    }
}
