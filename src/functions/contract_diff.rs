//! `contract_diff('<old contract>', '<new contract>')`: the schema changes between two versions
//! of a contract, each classed breaking or non-breaking (for CI gates).

use crate::contract::diff::diff;
use crate::ffi::rows::{ColDesc, RowsFunction, Val};
use crate::ffi::{LogicalType, TableBindInfo};
use crate::options::OptionValue;
use std::error::Error;

pub struct ContractDiff;

const FUNCTION: &str = "contract_diff";

/// Argument `index`, the `which` (old or new) contract's path.
fn contract_path(info: &TableBindInfo, index: usize, which: &str) -> Result<String, String> {
    match info.parameter(index) {
        OptionValue::Text(t) if !t.is_empty() => Ok(t),
        other => Err(format!(
            "{FUNCTION}: the {which} contract path (argument {}) must be a non-empty text, got \
             {other}; use it as {FUNCTION}('old.yaml', 'new.yaml')",
            index + 1
        )),
    }
}

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
        let old_path = contract_path(info, 0, "old")?;
        let new_path = contract_path(info, 1, "new")?;
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
