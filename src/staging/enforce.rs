//! A data contract enforced while staging (`COPY ... (FORMAT dw_staging, CONTRACT '...',
//! ON_VIOLATION '...')`). The checks are the contract engine's (`crate::contract::engine`), so
//! the verdicts are the ones `contract_check` gives on the same rows; this module decides what
//! they mean for the load:
//!
//! - **block**: a failing check publishes nothing; the failure record carries the verdicts.
//! - **warn**: everything is published; the audit record carries the verdicts.
//! - **quarantine**: a row failing an error-severity row-level check, or repeating a key a
//!   uniqueness check already saw, is written to `_etl/quarantine/<protocol>/<source>/...` with a
//!   `_violations` column instead of the lake. Checks that cannot be pinned to rows (row
//!   count, freshness) block when they fail. With `on_schema_violation: quarantine`, a schema
//!   violation sets the whole load aside.
//!
//! Warning-severity checks never block or set rows aside. Schema violations follow
//! `on_schema_violation` and quality ones `on_quality_violation` (ON_VIOLATION sets both); the
//! default is block.

use super::audit::CheckEntry;
use super::load::{FUNCTION, Load, StagingOptions, Verdict};
use super::schema::{
    Column, ColumnType, METADATA_COLUMNS, arrow_schema, metadata_arrays, staged_columns,
    write_with_constants,
};
use super::writer::{ParquetStream, WriterConfig};
use crate::contract::Contract;
use crate::contract::engine::{CheckResult, Evaluator, Marks, Status};
use crate::contract::model::{CheckKind, Handling, Severity};
use arrow_array::{ArrayRef, BooleanArray, ListArray, StringArray};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, SchemaRef};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// The column of quarantined rows that lists the checks each row fails.
pub const VIOLATIONS_COLUMN: &str = "_violations";

/// Most failing checks named in a blocked load's error (all of them are in the audit).
const MAX_NAMED: usize = 10;

fn handling_name(h: Handling) -> &'static str {
    match h {
        Handling::Block => "block",
        Handling::Warn => "warn",
        Handling::Quarantine => "quarantine",
    }
}

/// The contract of one COPY, bound to its columns at bind.
#[derive(Debug, Clone)]
pub struct ContractBinding {
    path: String,
    evaluator: Evaluator,
    schema_handling: Handling,
    quality_handling: Handling,
    /// Per check: its failing rows are set aside under quarantine.
    sets_aside: Vec<bool>,
    /// Per check: its verdict concerns the whole load (row count, freshness).
    whole_load: Vec<bool>,
    quarantine_schema: SchemaRef,
}

/// The contract's state while one load runs.
pub struct ContractRun {
    evaluator: Evaluator,
    marks: Marks,
    sets_aside: Vec<bool>,
    /// A schema violation under `quarantine`: every row is set aside, for these checks.
    quarantine_all: Option<Vec<String>>,
    quarantine: Option<ParquetStream>,
    /// `_loaded_at`, `_load_id`, `_source_file` of quarantined rows, for a full chunk.
    quarantine_metadata: Vec<ArrayRef>,
    violations_field: Option<Arc<arrow_schema::Field>>,
    quarantined: u64,
    now: DateTime<Utc>,
}

fn entry(r: &CheckResult) -> CheckEntry {
    CheckEntry {
        check_id: r.check_id.clone(),
        kind: r.kind.clone(),
        column: r.column.clone(),
        severity: match r.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
        .to_string(),
        status: r.status.as_str().to_string(),
        failed_rows: r.failed_rows,
        total_rows: r.total_rows,
        message: r.message.clone(),
    }
}

/// `id: message` for the error of a blocked load.
fn named(r: &CheckResult) -> String {
    if r.message.starts_with(&r.check_id) {
        r.message.clone()
    } else {
        format!("{}: {}", r.check_id, r.message)
    }
}

impl ContractBinding {
    pub fn new(
        contract: &Contract,
        options: &StagingOptions,
        columns: &[Column],
    ) -> Result<ContractBinding, String> {
        let path = options.contract.clone().unwrap_or_default();
        let evaluator = Evaluator::new(contract, &staged_columns(columns, false));
        let schema_handling = options
            .on_violation
            .or(contract.on_schema_violation)
            .unwrap_or(Handling::Block);
        let quality_handling = options
            .on_violation
            .or(contract.on_quality_violation)
            .unwrap_or(Handling::Block);
        let sets_aside = evaluator
            .checks()
            .iter()
            .map(|c| {
                c.severity == Severity::Error
                    && (c.kind.is_row_level() || matches!(c.kind, CheckKind::Duplicate(_)))
            })
            .collect();
        let whole_load = evaluator
            .checks()
            .iter()
            .map(|c| matches!(c.kind, CheckKind::RowCount | CheckKind::Freshness { .. }))
            .collect();
        let may_quarantine =
            quality_handling == Handling::Quarantine || schema_handling == Handling::Quarantine;
        if may_quarantine {
            for c in columns {
                let name = c.name.to_lowercase();
                if name == VIOLATIONS_COLUMN || METADATA_COLUMNS.contains(&name.as_str()) {
                    return Err(format!(
                        "{FUNCTION}: column '{}' clashes with a column of quarantined rows \
                         ({VIOLATIONS_COLUMN}, {}); rename it",
                        c.name,
                        METADATA_COLUMNS.join(", ")
                    ));
                }
            }
        }
        let mut quarantine_columns = columns.to_vec();
        quarantine_columns.push(Column::new(
            VIOLATIONS_COLUMN,
            ColumnType::List(Box::new(ColumnType::Varchar)),
        ));
        Ok(ContractBinding {
            path,
            evaluator,
            schema_handling,
            quality_handling,
            sets_aside,
            whole_load,
            quarantine_schema: Arc::new(arrow_schema(&quarantine_columns, true)),
        })
    }

    fn on_violation(&self) -> String {
        if self.schema_handling == self.quality_handling {
            handling_name(self.quality_handling).to_string()
        } else {
            format!(
                "schema: {}, quality: {}",
                handling_name(self.schema_handling),
                handling_name(self.quality_handling)
            )
        }
    }

    fn blocked(&self, failing: &[&CheckResult], checks: Vec<CheckEntry>) -> (String, Verdict) {
        let mut names: Vec<String> = failing.iter().take(MAX_NAMED).map(|r| named(r)).collect();
        if failing.len() > MAX_NAMED {
            names.push(format!(
                "and {} more (see etl_audit)",
                failing.len() - MAX_NAMED
            ));
        }
        let message = format!(
            "{FUNCTION}: contract '{}' failed, nothing was published (on violation: {}): {}",
            self.path,
            self.on_violation(),
            names.join("; ")
        );
        let verdict = Verdict {
            on_violation: Some(self.on_violation()),
            checks,
            ..Verdict::default()
        };
        (message, verdict)
    }

    /// At the load's start: the schema verdict (a blocking schema violation refuses the load
    /// before any row is read) and the quarantine writer.
    pub fn start(
        &self,
        load: &Load,
        writer: WriterConfig,
        now: DateTime<Utc>,
        chunk_rows: usize,
    ) -> Result<ContractRun, (String, Verdict)> {
        // Schema checks, and checks that cannot run because a column they read is missing:
        // both are known before any row.
        let verdicts = self.evaluator.finish(now.timestamp_micros());
        let failures: Vec<&CheckResult> = verdicts
            .iter()
            .filter(|r| r.schema && r.status == Status::Fail)
            .collect();
        if !failures.is_empty() && self.schema_handling == Handling::Block {
            let checks = failures.iter().map(|r| entry(r)).collect();
            return Err(self.blocked(&failures, checks));
        }
        let quarantine_all = (!failures.is_empty() && self.schema_handling == Handling::Quarantine)
            .then(|| failures.iter().map(|r| r.check_id.clone()).collect());
        let quarantining =
            quarantine_all.is_some() || self.quality_handling == Handling::Quarantine;
        let (quarantine, quarantine_metadata, violations_field) = if quarantining {
            // The rows set aside are few: one encoder thread is plenty.
            let writer = WriterConfig {
                threads: 1,
                ..writer
            };
            let stream =
                ParquetStream::create(&load.quarantine_tmp, self.quarantine_schema.clone(), writer)
                    .map_err(|e| {
                        (
                            format!("{FUNCTION}: quarantine file: {e}"),
                            Verdict::default(),
                        )
                    })?;
            let source_file = super::layout::relative_text(&load.quarantine_relative());
            let metadata = metadata_arrays(now, &load.load_id, &source_file, chunk_rows);
            let field = self
                .quarantine_schema
                .field_with_name(VIOLATIONS_COLUMN)
                .ok()
                .and_then(|f| match f.data_type() {
                    DataType::List(item) => Some(item.clone()),
                    _ => None,
                });
            (Some(stream), metadata, field)
        } else {
            (None, Vec::new(), None)
        };
        Ok(ContractRun {
            evaluator: self.evaluator.clone(),
            marks: Marks::default(),
            sets_aside: self.sets_aside.clone(),
            quarantine_all,
            quarantine,
            quarantine_metadata,
            violations_field,
            quarantined: 0,
            now,
        })
    }

    /// At the end: the verdicts over every row, and whether the load may be published.
    pub fn finish(&self, run: ContractRun, input_rows: u64) -> Result<Verdict, (String, Verdict)> {
        let results = run.evaluator.finish(run.now.timestamp_micros());
        let checks: Vec<CheckEntry> = results.iter().map(entry).collect();
        let whole_load = |id: &str| {
            run.evaluator
                .checks()
                .iter()
                .zip(&self.whole_load)
                .any(|(c, w)| *w && c.id == id)
        };
        let failing: Vec<&CheckResult> = results
            .iter()
            .filter(|r| r.status == Status::Fail)
            .filter(|r| {
                let handling = if r.schema {
                    self.schema_handling
                } else {
                    self.quality_handling
                };
                match handling {
                    Handling::Block => true,
                    Handling::Warn => false,
                    // Rows failing a row-level or uniqueness check were set aside.
                    Handling::Quarantine => !r.schema && whole_load(&r.check_id),
                }
            })
            .collect();
        if !failing.is_empty() {
            return Err(self.blocked(&failing, checks));
        }
        let quarantine = match run.quarantine {
            Some(stream) if run.quarantined > 0 => {
                let bytes = stream.finish().map_err(|e| {
                    (
                        format!("{FUNCTION}: quarantine file: {e}"),
                        Verdict::default(),
                    )
                })?;
                Some((run.quarantined, bytes))
            }
            _ => None,
        };
        Ok(Verdict {
            on_violation: Some(self.on_violation()),
            checks,
            quarantine,
            // A schema violation sets the whole load aside, even an empty one: no file with
            // the wrong schema reaches the lake.
            no_data_file: run.quarantine_all.is_some()
                || (input_rows > 0 && run.quarantined == input_rows),
        })
    }
}

impl ContractRun {
    /// Checks one batch; under quarantine writes the rows it sets aside and returns the others
    /// (arrays and row count) for the lake.
    pub fn check(
        &mut self,
        arrays: Vec<ArrayRef>,
        rows: usize,
    ) -> Result<(Vec<ArrayRef>, usize), String> {
        let Some(quarantine) = self.quarantine.as_mut() else {
            self.evaluator.update(&arrays, rows);
            return Ok((arrays, rows));
        };
        self.evaluator
            .update_marked(&arrays, rows, Some(&mut self.marks));
        let bad: Vec<bool> = if self.quarantine_all.is_some() {
            vec![true; rows]
        } else {
            let mut bad = vec![false; rows];
            for (marks, sets_aside) in self.marks.per_check.iter().zip(&self.sets_aside) {
                if *sets_aside {
                    for (b, m) in bad.iter_mut().zip(marks) {
                        *b |= *m;
                    }
                }
            }
            bad
        };
        let set_aside = bad.iter().filter(|b| **b).count();
        if set_aside == 0 {
            return Ok((arrays, rows));
        }
        let schema_ids: &[String] = self.quarantine_all.as_deref().unwrap_or_default();
        let checks = self.evaluator.checks();
        let mut offsets = Vec::with_capacity(set_aside + 1);
        offsets.push(0i32);
        let mut values: Vec<&str> = Vec::new();
        for (row, _) in bad.iter().enumerate().filter(|(_, b)| **b) {
            values.extend(schema_ids.iter().map(String::as_str));
            for (check, marks) in checks.iter().zip(&self.marks.per_check) {
                if marks.get(row).copied().unwrap_or(false) {
                    values.push(check.id.as_str());
                }
            }
            offsets.push(values.len() as i32);
        }
        let field = self
            .violations_field
            .clone()
            .ok_or("the quarantine schema has no _violations list")?;
        let violations = ListArray::try_new(
            field,
            OffsetBuffer::new(offsets.into()),
            Arc::new(StringArray::from(values)),
            None,
        )
        .map_err(|e| e.to_string())?;
        let good: Vec<bool> = bad.iter().map(|b| !b).collect();
        let bad_mask = BooleanArray::from(bad);
        let filter = |mask: &BooleanArray| -> Result<Vec<ArrayRef>, String> {
            arrays
                .iter()
                .map(|a| arrow_select::filter::filter(a.as_ref(), mask).map_err(|e| e.to_string()))
                .collect()
        };
        let mut aside = filter(&bad_mask)?;
        aside.push(Arc::new(violations));
        write_with_constants(quarantine, &self.quarantine_metadata, aside, set_aside)?;
        self.quarantined += set_aside as u64;
        if set_aside == rows {
            return Ok((Vec::new(), 0));
        }
        let good_mask = BooleanArray::from(good);
        Ok((filter(&good_mask)?, rows - set_aside))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handling_names_are_the_option_values() {
        for (h, n) in [
            (Handling::Block, "block"),
            (Handling::Warn, "warn"),
            (Handling::Quarantine, "quarantine"),
        ] {
            assert_eq!(handling_name(h), n);
            assert_eq!(Handling::parse(n), Some(h));
        }
    }
}
