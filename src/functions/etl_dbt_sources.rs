//! `etl_dbt_sources('<lake>', warn_after_hours := 24, error_after_hours := 48)`: one row with a
//! dbt `sources.yml` for the lake's successfully staged sources.

use super::etl_audit::lake_argument;
use crate::ffi::rows::{ColDesc, RowsFunction, Val, any_typed};
use crate::ffi::{LogicalType, TableBindInfo};
use crate::options::{OptionKind, OptionSpec, Options};
use crate::staging::audit::{Freshness, dbt_sources_yaml, read_all};
use std::error::Error;
use std::path::Path;

pub struct EtlDbtSources;

const OPTIONS: &[OptionSpec] = &[
    OptionSpec::new(
        "warn_after_hours",
        OptionKind::Int {
            min: 1,
            max: 100_000,
        },
        "dbt source freshness: warn when the newest _loaded_at is older than this",
    )
    .default("24"),
    OptionSpec::new(
        "error_after_hours",
        OptionKind::Int {
            min: 1,
            max: 100_000,
        },
        "dbt source freshness: error when the newest _loaded_at is older than this",
    )
    .default("48"),
];

impl RowsFunction for EtlDbtSources {
    const NAME: &'static str = "etl_dbt_sources";

    fn parameters() -> Vec<LogicalType> {
        vec![LogicalType::varchar()]
    }

    fn named_parameters() -> Vec<(&'static str, LogicalType)> {
        any_typed(OPTIONS)
    }

    fn columns() -> Vec<(&'static str, ColDesc)> {
        vec![("sources_yml", ColDesc::Text)]
    }

    fn rows(info: &mut TableBindInfo) -> Result<Vec<Vec<Val>>, Box<dyn Error>> {
        let lake = lake_argument(Self::NAME, info)?;
        let options = Options::parse(Self::NAME, OPTIONS, &info.named_parameters())?;
        let freshness = Freshness {
            warn_after_hours: options.int("warn_after_hours").unwrap_or(24),
            error_after_hours: options.int("error_after_hours").unwrap_or(48),
        };
        if freshness.error_after_hours < freshness.warn_after_hours {
            return Err(format!(
                "{}: error_after_hours ({}) must not be below warn_after_hours ({})",
                Self::NAME,
                freshness.error_after_hours,
                freshness.warn_after_hours
            )
            .into());
        }
        let records = read_all(Path::new(&lake)).map_err(|e| format!("{}: {e}", Self::NAME))?;
        Ok(vec![vec![Val::Text(dbt_sources_yaml(
            &lake, &records, freshness,
        ))]])
    }
}
