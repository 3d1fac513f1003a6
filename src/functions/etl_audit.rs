//! `etl_audit('<lake>')`: the audit records of every load into a lake, oldest first, with a
//! fixed schema (also when there are none).

use crate::ffi::rows::{ColDesc, RowsFunction, Val};
use crate::ffi::{LogicalType, TableBindInfo};
use crate::options::OptionValue;
use crate::staging::audit::read_all;
use std::error::Error;
use std::path::Path;

pub struct EtlAudit;

/// The lake path argument of the lake table functions.
pub fn lake_argument(function: &str, info: &TableBindInfo) -> Result<String, String> {
    match info.parameter(0) {
        // `~/` as DuckDB expands it for COPY targets.
        OptionValue::Text(t) if t == "~" || t.starts_with("~/") => match std::env::var("HOME") {
            Ok(home) => Ok(format!("{home}{}", &t[1..])),
            Err(_) => Ok(t),
        },
        OptionValue::Text(t) if !t.is_empty() => Ok(t),
        other => Err(format!(
            "{function}: the lake path must be a non-empty text, got {other}"
        )),
    }
}

/// RFC 3339 text to microseconds since the epoch.
pub fn micros(text: Option<&str>) -> Val {
    text.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(Val::Null, |t| Val::Int(t.timestamp_micros()))
}

impl RowsFunction for EtlAudit {
    const NAME: &'static str = "etl_audit";

    fn parameters() -> Vec<LogicalType> {
        vec![LogicalType::varchar()]
    }

    fn columns() -> Vec<(&'static str, ColDesc)> {
        vec![
            ("load_id", ColDesc::Text),
            ("pipeline", ColDesc::Text),
            ("source", ColDesc::Text),
            ("protocol", ColDesc::Text),
            ("mode", ColDesc::Text),
            ("status", ColDesc::Text),
            ("rows", ColDesc::BigInt),
            (
                "files",
                ColDesc::List(Box::new(ColDesc::Struct(vec![
                    ("path", ColDesc::Text),
                    ("bytes", ColDesc::BigInt),
                    ("rows", ColDesc::BigInt),
                ]))),
            ),
            ("removed_files", ColDesc::List(Box::new(ColDesc::Text))),
            ("schema_fingerprint", ColDesc::Text),
            (
                "columns",
                ColDesc::List(Box::new(ColDesc::Struct(vec![
                    ("name", ColDesc::Text),
                    ("type", ColDesc::Text),
                ]))),
            ),
            ("error", ColDesc::Text),
            ("started_at", ColDesc::TimestampTz),
            ("finished_at", ColDesc::TimestampTz),
            ("attempt", ColDesc::Text),
            ("etl_version", ColDesc::Text),
            ("contract", ColDesc::Text),
            ("on_violation", ColDesc::Text),
            ("quarantined_rows", ColDesc::BigInt),
            ("quarantine_file", ColDesc::Text),
            (
                "checks",
                ColDesc::List(Box::new(ColDesc::Struct(vec![
                    ("check_id", ColDesc::Text),
                    ("kind", ColDesc::Text),
                    ("column", ColDesc::Text),
                    ("severity", ColDesc::Text),
                    ("status", ColDesc::Text),
                    ("failed_rows", ColDesc::BigInt),
                    ("total_rows", ColDesc::BigInt),
                    ("message", ColDesc::Text),
                ]))),
            ),
        ]
    }

    fn rows(info: &mut TableBindInfo) -> Result<Vec<Vec<Val>>, Box<dyn Error>> {
        let lake = lake_argument(Self::NAME, info)?;
        let records = read_all(Path::new(&lake)).map_err(|e| format!("{}: {e}", Self::NAME))?;
        Ok(records
            .into_iter()
            .map(|r| {
                vec![
                    Val::Text(r.load_id),
                    Val::opt_text(r.pipeline.as_deref()),
                    Val::Text(r.source),
                    Val::Text(r.protocol),
                    Val::Text(r.mode),
                    Val::Text(r.status.as_str().to_string()),
                    Val::Int(r.rows as i64),
                    Val::List(
                        r.files
                            .into_iter()
                            .map(|f| {
                                Val::Struct(vec![
                                    Val::Text(f.path),
                                    Val::Int(f.bytes as i64),
                                    Val::Int(f.rows as i64),
                                ])
                            })
                            .collect(),
                    ),
                    Val::List(r.removed_files.into_iter().map(Val::Text).collect()),
                    Val::Text(r.schema_fingerprint),
                    Val::List(
                        r.columns
                            .into_iter()
                            .map(|c| Val::Struct(vec![Val::Text(c.name), Val::Text(c.ty)]))
                            .collect(),
                    ),
                    Val::opt_text(r.error.as_deref()),
                    micros(Some(&r.started_at)),
                    micros(r.finished_at.as_deref()),
                    Val::Text(r.attempt),
                    Val::Text(r.etl_version),
                    Val::opt_text(r.contract.as_deref()),
                    Val::opt_text(r.on_violation.as_deref()),
                    // NULL without a contract; 0 when a contract quarantined nothing.
                    match (&r.quarantine, &r.contract) {
                        (Some(q), _) => Val::Int(q.rows as i64),
                        (None, Some(_)) => Val::Int(0),
                        (None, None) => Val::Null,
                    },
                    Val::opt_text(r.quarantine.as_ref().map(|q| q.path.as_str())),
                    Val::List(
                        r.checks
                            .into_iter()
                            .map(|c| {
                                Val::Struct(vec![
                                    Val::Text(c.check_id),
                                    Val::Text(c.kind),
                                    Val::opt_text(c.column.as_deref()),
                                    Val::Text(c.severity),
                                    Val::Text(c.status),
                                    Val::Int(c.failed_rows as i64),
                                    Val::Int(c.total_rows as i64),
                                    Val::Text(c.message),
                                ])
                            })
                            .collect(),
                    ),
                ]
            })
            .collect())
    }
}
