//! `contract_diff('<old contract>', '<new contract>')`: the schema changes between two versions
//! of a contract, each classed breaking or non-breaking (for CI gates).

use super::etl_audit::lake_argument;
use crate::contract::diff::diff;
use crate::ffi::rows::{ColDesc, RowsFunction, Val};
use crate::ffi::{LogicalType, TableBindInfo};
use crate::options::OptionValue;
use std::error::Error;

pub struct ContractDiff;

const FUNCTION: &str = "contract_diff";

impl RowsFunction for ContractDiff {
    const NAME: &'static str = FUNCTION;

    fn parameters() -> Vec<LogicalType> {
        vec![LogicalType::varchar(), LogicalType::varchar()]
    }

    fn columns() -> Vec<(&'static str, ColDesc)> {
        vec![
            ("column", ColDesc::Text),
            ("change", ColDesc::Text),
            ("old", ColDesc::Text),
            ("new", ColDesc::Text),
            ("class", ColDesc::Text),
        ]
    }

    fn rows(info: &mut TableBindInfo) -> Result<Vec<Vec<Val>>, Box<dyn Error>> {
        let old_path = lake_argument(FUNCTION, info)?;
        let new_path = match info.parameter(1) {
            OptionValue::Text(t) if !t.is_empty() => t,
            other => {
                return Err(format!(
                    "{FUNCTION}: the new contract path must be a non-empty text, got {other}"
                )
                .into());
            }
        };
        let old = crate::contract::load(&old_path).map_err(|e| format!("{FUNCTION}: {e}"))?;
        let new = crate::contract::load(&new_path).map_err(|e| format!("{FUNCTION}: {e}"))?;
        Ok(diff(&old, &new)
            .into_iter()
            .map(|c| {
                vec![
                    Val::opt_text(c.column.as_deref()),
                    Val::Text(c.change.to_string()),
                    Val::opt_text(c.old.as_deref()),
                    Val::opt_text(c.new.as_deref()),
                    Val::Text(
                        if c.breaking {
                            "breaking"
                        } else {
                            "non-breaking"
                        }
                        .to_string(),
                    ),
                ]
            })
            .collect())
    }
}
