//! `contract_check(<row STRUCT>, '<contract path>')`: an aggregate with one result per check
//! (schema checks included): check id, kind, column, severity, status, failed rows, total
//! rows, failed percent, up to 5 sample failing values, message. Used as
//! `SELECT unnest(contract_check(t, 'c.yaml'), recursive := true) FROM tbl t`.
//! Parallel partial states merge (uniqueness holds across threads); the engine is the one
//! contract_violations and dw_staging use.

use crate::contract::Stamp;
use crate::contract::engine::{CheckResult, Evaluator};
use crate::contract::model::Severity;
use crate::ffi::LogicalType;
use crate::ffi::aggregate::AggregateFunction;
use crate::ffi::chunk::{Cell, ChunkReader, ColumnKind};
use crate::ffi::vector::VectorWriter;
use crate::staging::schema::{Column, ColumnType};
use arrow_array::{ArrayRef, UInt32Array};
use duckdb::ffi;
use std::error::Error;

pub struct ContractCheck;

const FUNCTION: &str = "contract_check";

#[derive(Default)]
pub struct ContractCheckState {
    /// The contract path every row of this state named, the row's fields and the evaluator.
    /// The contract path every row of this state named, the row's fields, the evaluator and
    /// the version of the file it was read from.
    inner: Option<(String, Vec<Column>, Evaluator, Option<Stamp>)>,
}

/// The aggregate has no bind in the C API, so a non-constant contract path cannot be refused
/// up front: every row's path is compared with the one the state was started with (and states
/// are merged only when they agree), so a varying path fails instead of silently judging all
/// rows by the first row's contract (review L9).
fn differing_paths(first: &str, other: Option<&str>) -> String {
    let other = match other {
        Some(p) => format!("'{p}'"),
        None => "NULL".to_string(),
    };
    format!(
        "{FUNCTION}: the contract path must be the same constant for every row, got '{first}' \
         and {other}; give the path as a constant text (contract_check(t, 'contract.yaml')), or \
         GROUP BY the path column so that each group has one contract"
    )
}

fn changed_during_query(path: &str) -> String {
    format!(
        "{FUNCTION}: the contract '{path}' changed during the query (parts of the rows were \
         checked against different versions of it); run the query again once the file is no \
         longer being edited"
    )
}

fn result_fields() -> Vec<(String, LogicalType)> {
    let v = LogicalType::varchar;
    let big = || LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT);
    vec![
        ("check_id".into(), v()),
        ("kind".into(), v()),
        ("column".into(), v()),
        ("severity".into(), v()),
        ("status".into(), v()),
        ("failed_rows".into(), big()),
        ("total_rows".into(), big()),
        (
            "failed_percent".into(),
            LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_DOUBLE),
        ),
        ("samples".into(), LogicalType::list(&v())),
        ("message".into(), v()),
    ]
}

fn start(
    input: &ChunkReader,
    first_row: usize,
) -> Result<(String, Vec<Column>, Evaluator, Option<Stamp>), String> {
    let usage = format!("use it as {FUNCTION}(t, 'contract.yaml') FROM my_table t");
    let fields = match input.column_type(0) {
        Ok(ColumnType::Struct(fields)) => fields,
        Ok(other) => {
            return Err(format!(
                "{FUNCTION}: the first argument must be the row as a STRUCT, got {}; {usage}",
                other.staged_sql_type()
            ));
        }
        Err(u) => {
            return Err(format!(
                "{FUNCTION}: the row has a column of type {} that contracts cannot check; {usage}",
                u.ty
            ));
        }
    };
    let path = match input
        .column(1, ColumnKind::Varchar)
        .map(|c| c.get(first_row))
    {
        Some(Cell::Text(p)) => p.to_string(),
        _ => {
            return Err(format!(
                "{FUNCTION}: the contract path must be a text; {usage}"
            ));
        }
    };
    let types = super::contract_violations::field_types(&fields);
    let (evaluator, version) = crate::contract::versioned_evaluator_for(&path, &types)
        .map_err(|e| format!("{FUNCTION}: {e}"))?;
    Ok((path, fields, evaluator, version))
}

impl AggregateFunction for ContractCheck {
    const NAME: &'static str = FUNCTION;
    type State = ContractCheckState;
    /// The chunk's rows converted once for all the states (groups) it updates.
    type Scratch = Option<Vec<ArrayRef>>;

    fn parameters() -> Vec<LogicalType> {
        vec![
            LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_ANY),
            LogicalType::varchar(),
        ]
    }

    fn return_type() -> LogicalType {
        LogicalType::list(&LogicalType::structure(&result_fields()))
    }

    fn update(
        state: &mut ContractCheckState,
        scratch: &mut Option<Vec<ArrayRef>>,
        input: &ChunkReader,
        rows: &[usize],
    ) -> Result<(), Box<dyn Error>> {
        let Some(&first) = rows.first() else {
            return Ok(());
        };
        if state.inner.is_none() {
            state.inner = Some(start(input, first)?);
        }
        let Some((path, fields, evaluator, _)) = state.inner.as_mut() else {
            return Ok(());
        };
        let paths = input
            .column(1, ColumnKind::Varchar)
            .ok_or_else(|| differing_paths(path, None))?;
        // Every row's path is the state's ([L9]): compared as bytes (a per-row path).
        let expected = path.as_bytes();
        for &row in rows {
            if paths.text_bytes(row) != Some(expected) {
                return Err(match paths.get(row) {
                    Cell::Text(p) => differing_paths(path, Some(p)),
                    _ => differing_paths(path, None),
                }
                .into());
            }
        }
        // Every state of one aggregate sees the same row type, so one conversion serves all.
        let batch = match scratch {
            Some(b) => b,
            None => scratch.insert(input.arrow_row_for_checks(0, fields)?),
        };
        if rows.len() == input.len() {
            evaluator.update(batch, rows.len());
        } else {
            let indices = UInt32Array::from(rows.iter().map(|r| *r as u32).collect::<Vec<_>>());
            let picked = batch
                .iter()
                .map(|a| arrow_select::take::take(a, &indices, None))
                .collect::<Result<Vec<ArrayRef>, _>>()?;
            evaluator.update(&picked, rows.len());
        }
        Ok(())
    }

    fn combine(
        source: ContractCheckState,
        target: &mut ContractCheckState,
    ) -> Result<(), Box<dyn Error>> {
        match (source.inner, target.inner.as_mut()) {
            (Some((src_path, _, src, src_version)), Some((dst_path, _, dst, dst_version))) => {
                if src_path != *dst_path {
                    return Err(differing_paths(dst_path, Some(&src_path)).into());
                }
                // Two states merge check by check: only when they judged by the same checks
                // (the same parse, or the same version of the file parsed again after the
                // cache let it go). A file edited during the query must not merge v1's
                // counts into v2's checks.
                if !crate::contract::mergeable((&src, src_version), (dst, *dst_version)) {
                    return Err(changed_during_query(dst_path).into());
                }
                dst.merge(src)
            }
            (Some(src), None) => target.inner = Some(src),
            (None, _) => {}
        }
        Ok(())
    }

    fn finalize(
        states: &mut [&mut ContractCheckState],
        result: ffi::duckdb_vector,
        offset: usize,
    ) -> Result<(), Box<dyn Error>> {
        let now = chrono::Utc::now().timestamp_micros();
        let results: Vec<Option<Vec<CheckResult>>> = states
            .iter()
            .map(|s| s.inner.as_ref().map(|(_, _, e, _)| e.finish(now)))
            .collect();
        let rows = offset + states.len();
        // SAFETY: result is the live LIST result vector with room for offset + count rows.
        let mut out = unsafe { VectorWriter::new(result, rows) };
        let start = out.list_size()?;
        let added: usize = results.iter().flatten().map(Vec::len).sum();
        let mut nulls = Vec::new();
        {
            let entries = out.list_entries()?;
            let mut next = start as u64;
            for (i, r) in results.iter().enumerate() {
                let n = r.as_ref().map_or(0, Vec::len) as u64;
                entries[offset + i] = ffi::duckdb_list_entry {
                    offset: next,
                    length: n,
                };
                next += n;
                if r.is_none() {
                    nulls.push(offset + i);
                }
            }
        }
        for row in nulls {
            // No rows reached the state: there is no contract to report on.
            out.set_null(row);
        }
        let all: Vec<&CheckResult> = results.iter().flatten().flatten().collect();
        let child = out.list_child(start + added)?;
        let text =
            |k: usize, f: &dyn Fn(&CheckResult) -> Option<String>| -> Result<(), Box<dyn Error>> {
                let mut w = child.struct_child(k)?;
                for (j, r) in all.iter().enumerate() {
                    match f(r) {
                        Some(s) => w.set_str(start + j, &s)?,
                        None => w.set_null(start + j),
                    }
                }
                Ok(())
            };
        text(0, &|r| Some(r.check_id.clone()))?;
        text(1, &|r| Some(r.kind.clone()))?;
        text(2, &|r| r.column.clone())?;
        text(3, &|r| {
            Some(match r.severity {
                Severity::Error => "error".into(),
                Severity::Warning => "warning".into(),
            })
        })?;
        text(4, &|r| Some(r.status.as_str().to_string()))?;
        {
            let mut w = child.struct_child(5)?;
            let slots = w.i64s()?;
            for (j, r) in all.iter().enumerate() {
                slots[start + j] = r.failed_rows as i64;
            }
        }
        {
            let mut w = child.struct_child(6)?;
            let slots = w.i64s()?;
            for (j, r) in all.iter().enumerate() {
                slots[start + j] = r.total_rows as i64;
            }
        }
        {
            let mut w = child.struct_child(7)?;
            let slots = w.f64s()?;
            for (j, r) in all.iter().enumerate() {
                slots[start + j] = r.failed_percent;
            }
        }
        {
            let mut samples = child.struct_child(8)?;
            let sample_start = samples.list_size()?;
            let n: usize = all.iter().map(|r| r.samples.len()).sum();
            {
                let entries = samples.list_entries()?;
                let mut next = sample_start as u64;
                for (j, r) in all.iter().enumerate() {
                    entries[start + j] = ffi::duckdb_list_entry {
                        offset: next,
                        length: r.samples.len() as u64,
                    };
                    next += r.samples.len() as u64;
                }
            }
            let mut values = samples.list_child(sample_start + n)?;
            for (k, s) in all.iter().flat_map(|r| r.samples.iter()).enumerate() {
                match s {
                    Some(s) => values.set_str(sample_start + k, s)?,
                    None => values.set_null(sample_start + k),
                }
            }
        }
        text(9, &|r| Some(r.message.clone()))?;
        Ok(())
    }
}
