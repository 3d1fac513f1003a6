//! Audit records: one JSON file per load attempt under `<lake>/_etl/audit/`, written atomically
//! (temporary name, then rename), read back by `etl_audit` and `etl_dbt_sources`.

use super::layout::{AUDIT_DIR, ETL_DIR};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The load started and has not ended (or its process died: see `etl_clean_stale`).
    Running,
    Success,
    Failure,
    /// The process ended mid-load; `etl_clean_stale` removed its temporaries.
    Abandoned,
    /// Published, then its files were removed by a later load (MODE replace, or a retry of
    /// the same load id).
    Replaced,
    /// The record file cannot be read (shown by `etl_audit`, never written).
    Invalid,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Abandoned => "abandoned",
            Status::Replaced => "replaced",
            Status::Invalid => "invalid",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the lake, `/`-separated.
    pub path: String,
    pub bytes: u64,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnEntry {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Unique per attempt (a retried load id has several attempts); names the record's file.
    pub attempt: String,
    pub load_id: String,
    pub pipeline: Option<String>,
    pub source: String,
    pub protocol: String,
    pub mode: String,
    pub status: Status,
    pub rows: u64,
    pub files: Vec<FileEntry>,
    /// Files of earlier loads removed by MODE replace or superseded by a retry of this load id.
    #[serde(default)]
    pub removed_files: Vec<String>,
    /// Files this load supersedes and has not removed yet: listed before the publish renames
    /// anything, so `etl_clean_stale` can finish a publish whose process died (files that could
    /// not be removed stay listed here, never in `removed_files`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseding: Vec<String>,
    /// While `running`: the inode of the file this attempt is about to rename into place. A
    /// retry reuses its earlier attempt's file name, so only the inode tells whether a dead
    /// attempt renamed its file before it died.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publishing_inodes: Vec<u64>,
    pub columns: Vec<ColumnEntry>,
    pub schema_fingerprint: String,
    pub error: Option<String>,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: Option<String>,
    pub etl_version: String,
    /// The file the load publishes (also while running): tells `etl_clean_stale` whether a
    /// dead process had already published.
    #[serde(default)]
    pub planned_file: Option<String>,
    /// The contract the load was checked against (option CONTRACT), as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    /// How violations were handled: block, warn or quarantine (schema/quality when they differ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_violation: Option<String>,
    /// One verdict per contract check (schema checks first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckEntry>,
    /// The rows set aside under `_etl/quarantine/` (ON_VIOLATION quarantine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<FileEntry>,
}

/// The verdict of one contract check, as recorded in the audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckEntry {
    pub check_id: String,
    pub kind: String,
    pub column: Option<String>,
    pub severity: String,
    pub status: String,
    pub failed_rows: u64,
    pub total_rows: u64,
    pub message: String,
}

pub fn audit_dir(lake: &Path) -> PathBuf {
    lake.join(ETL_DIR).join(AUDIT_DIR)
}

impl AuditRecord {
    pub fn path(&self, lake: &Path) -> PathBuf {
        audit_dir(lake).join(format!("{}.json", self.attempt))
    }

    /// Writes (or replaces) the record atomically.
    pub fn write(&self, lake: &Path) -> Result<(), String> {
        let dir = audit_dir(lake);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("creating the audit folder {}: {e}", dir.display()))?;
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| format!("encoding the audit record: {e}"))?;
        let final_path = self.path(lake);
        let tmp = dir.join(format!(".{}.json.tmp", self.attempt));
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            f.sync_all()
        });
        written.map_err(|e| format!("writing the audit record {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &final_path)
            .map_err(|e| format!("publishing the audit record {}: {e}", final_path.display()))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// The record of one attempt as it is on disk now (None when there is none or it is unreadable).
/// Callers that decide from a record read earlier re-read it with this first: a load may have
/// finished since.
pub fn read_attempt(lake: &Path, attempt: &str) -> Option<AuditRecord> {
    let path = audit_dir(lake).join(format!("{attempt}.json"));
    let text = crate::readfile::read_text(&path, crate::readfile::MAX_AUDIT_RECORD_BYTES).ok()?;
    serde_json::from_str(&text).ok()
}

/// All audit records of a lake, oldest first (by start time, then attempt). A lake without
/// records (or without the folder) has none.
pub fn read_all(lake: &Path) -> Result<Vec<AuditRecord>, String> {
    let dir = audit_dir(lake);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("reading the audit folder {}: {e}", dir.display())),
    };
    let mut records = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("reading the audit folder {}: {e}", dir.display()))?
            .path();
        let is_record = path.extension().is_some_and(|e| e == "json")
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !is_record {
            continue;
        }
        let parsed = crate::readfile::read_text(&path, crate::readfile::MAX_AUDIT_RECORD_BYTES)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<AuditRecord>(&text).map_err(|e| e.to_string()));
        match parsed {
            Ok(record) => records.push(record),
            // One damaged record must not hide the others: it is listed as invalid.
            Err(e) => records.push(invalid_record(&path, &e)),
        }
    }
    records.sort_by(|a, b| {
        (a.started_at.as_str(), a.attempt.as_str())
            .cmp(&(b.started_at.as_str(), b.attempt.as_str()))
    });
    Ok(records)
}

fn invalid_record(path: &Path, error: &str) -> AuditRecord {
    let stem = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    AuditRecord {
        attempt: stem,
        load_id: String::new(),
        pipeline: None,
        source: String::new(),
        protocol: String::new(),
        mode: String::new(),
        status: Status::Invalid,
        rows: 0,
        files: Vec::new(),
        removed_files: Vec::new(),
        superseding: Vec::new(),
        publishing_inodes: Vec::new(),
        columns: Vec::new(),
        schema_fingerprint: String::new(),
        error: Some(format!(
            "the audit record {} is not valid: {error}",
            path.display()
        )),
        started_at: String::new(),
        finished_at: None,
        etl_version: String::new(),
        planned_file: None,
        contract: None,
        on_violation: None,
        checks: Vec::new(),
        quarantine: None,
    }
}

/// Freshness thresholds for the dbt sources file.
#[derive(Debug, Clone, Copy)]
pub struct Freshness {
    pub warn_after_hours: i64,
    pub error_after_hours: i64,
}

/// A YAML double-quoted scalar: backslash, quote and every control character escaped, so any
/// text (a lake path, a column name) stays one scalar.
fn yaml_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Controls, YAML's line separators and the two non-characters YAML forbids raw.
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}') =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` as a SQL string literal: `'` doubled (DuckDB strings have no backslash escapes).
fn sql_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// dbt-duckdb fills `external_location` with Python's `str.format_map` (`{name}` becomes the
/// table's name), so literal braces are doubled.
fn python_format_literal(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

/// dbt renders every string of a schema YAML with Jinja (all but `description` and test
/// arguments: dbt's `SchemaYamlRenderer`), so a `{` is written as the Jinja expression
/// `{{ "{" }}`; no Jinja delimiter (`{{`, `{%`, `{#`) is left in the text.
fn jinja_literal(text: &str) -> String {
    text.replace('{', "{{ \"{\" }}")
}

/// A YAML string dbt renders with Jinja, rendering back to `text`.
fn dbt_value(text: &str) -> String {
    yaml_quote(&jinja_literal(text))
}

/// `text` matched literally by DuckDB's glob (read_parquet reads `[`, `*` and `?` as a pattern):
/// each becomes a one-character class, `[[]`, `[*]`, `[?]` (both pinned hosts).
fn glob_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '[' | '*' | '?' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

/// A dbt `sources.yml` for every source with at least one successful load: one dbt source per
/// protocol, one table per source, columns from the newest successful load, `_loaded_at` as the
/// freshness field and a dbt-duckdb `external_location` that reads the staged Parquet.
pub fn dbt_sources_yaml(lake_text: &str, records: &[AuditRecord], freshness: Freshness) -> String {
    use std::collections::BTreeMap;
    // protocol -> source -> newest successful record (records are oldest first). A load whose
    // rows a contract all set aside published no file: it is no data for dbt.
    let mut latest: BTreeMap<&str, BTreeMap<&str, (&AuditRecord, usize)>> = BTreeMap::new();
    for r in records
        .iter()
        .filter(|r| r.status == Status::Success && !r.files.is_empty())
    {
        let entry = latest
            .entry(r.protocol.as_str())
            .or_default()
            .entry(r.source.as_str())
            .or_insert((r, 0));
        entry.0 = r;
        entry.1 += 1;
    }
    let lake = lake_text.trim_end_matches('/');
    let mut out = String::from(
        "# Generated by etl_dbt_sources() from the dw_staging audit records; do not edit.\n\
         version: 2\n\nsources:\n",
    );
    if latest.is_empty() {
        return "# Generated by etl_dbt_sources(): the lake has no successful loads yet.\n\
                version: 2\n\nsources: []\n"
            .to_string();
    }
    for (protocol, sources) in &latest {
        out.push_str(&format!("  - name: {}\n", dbt_value(protocol)));
        out.push_str(&format!(
            "    description: {}\n",
            yaml_quote(&format!("Staged by dw_staging under {lake}/{protocol}"))
        ));
        out.push_str("    meta:\n");
        out.push_str(&format!(
            "      external_location: {}\n",
            // Read back by YAML, then Jinja (dbt), then format_map (dbt-duckdb), then SQL,
            // then DuckDB's glob: encoded in the reverse order (`{name}` is format_map's).
            yaml_quote(&format!(
                "read_parquet({}, hive_partitioning = true)",
                sql_string(&format!(
                    "{}/{{name}}/**/*.parquet",
                    jinja_literal(&python_format_literal(&glob_literal(&format!(
                        "{lake}/{protocol}"
                    ))))
                ))
            ))
        ));
        out.push_str("    loaded_at_field: _loaded_at\n");
        out.push_str("    freshness:\n");
        out.push_str(&format!(
            "      warn_after: {{count: {}, period: hour}}\n",
            freshness.warn_after_hours
        ));
        out.push_str(&format!(
            "      error_after: {{count: {}, period: hour}}\n",
            freshness.error_after_hours
        ));
        out.push_str("    tables:\n");
        for (source, (record, loads)) in sources {
            out.push_str(&format!("      - name: {}\n", dbt_value(source)));
            out.push_str("        meta:\n");
            out.push_str(&format!("          successful_loads: {loads}\n"));
            out.push_str(&format!(
                "          last_load_id: {}\n",
                dbt_value(&record.load_id)
            ));
            out.push_str(&format!(
                "          schema_fingerprint: {}\n",
                dbt_value(&record.schema_fingerprint)
            ));
            out.push_str("        columns:\n");
            for c in &record.columns {
                out.push_str(&format!("          - name: {}\n", dbt_value(&c.name)));
                out.push_str(&format!("            data_type: {}\n", dbt_value(&c.ty)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(attempt: &str, source: &str, status: Status, started: &str) -> AuditRecord {
        AuditRecord {
            attempt: attempt.into(),
            load_id: format!("id-{attempt}"),
            pipeline: Some("p".into()),
            source: source.into(),
            protocol: "rest".into(),
            mode: "append".into(),
            status,
            rows: 3,
            files: vec![FileEntry {
                path: "rest/x.parquet".into(),
                bytes: 10,
                rows: 3,
            }],
            removed_files: vec![],
            superseding: vec![],
            publishing_inodes: vec![],
            columns: vec![ColumnEntry {
                name: "id".into(),
                ty: "BIGINT".into(),
            }],
            schema_fingerprint: "f".into(),
            error: None,
            started_at: started.into(),
            finished_at: None,
            etl_version: "0".into(),
            planned_file: None,
            contract: None,
            on_violation: None,
            checks: vec![],
            quarantine: None,
        }
    }

    #[test]
    fn records_round_trip_through_files_sorted_by_start() {
        let lake = std::env::temp_dir().join(format!("etl-audit-{}", fastrand::u64(..)));
        assert!(read_all(&lake).unwrap().is_empty(), "no lake: no records");
        let b = record("b", "users", Status::Success, "2026-11-22T10:00:01.000000Z");
        let a = record("a", "users", Status::Failure, "2026-11-22T10:00:00.000000Z");
        b.write(&lake).unwrap();
        a.write(&lake).unwrap();
        let mut b2 = b.clone();
        b2.rows = 99;
        b2.write(&lake).unwrap(); // replaced, not duplicated
        let all = read_all(&lake).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], a);
        assert_eq!(all[1].rows, 99);
        std::fs::write(audit_dir(&lake).join("broken.json"), "{").unwrap();
        let all = read_all(&lake).unwrap();
        assert_eq!(all.len(), 3, "a damaged record is listed, not fatal");
        let bad = all.iter().find(|r| r.status == Status::Invalid).unwrap();
        let err = bad.error.as_deref().unwrap();
        assert!(
            err.contains("broken.json") && err.contains("not valid"),
            "{err}"
        );
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn dbt_yaml_lists_successful_sources_with_freshness_and_columns() {
        let mut quarantined = record("d", "refunds", Status::Success, "4");
        quarantined.files.clear(); // a contract set every row aside
        let records = vec![
            record("a", "users", Status::Success, "1"),
            record("b", "users", Status::Success, "2"),
            record("c", "orders", Status::Failure, "3"),
            quarantined,
        ];
        let yaml = dbt_sources_yaml(
            "lake/",
            &records,
            Freshness {
                warn_after_hours: 24,
                error_after_hours: 48,
            },
        );
        assert!(yaml.contains("  - name: \"rest\"\n"), "{yaml}");
        assert!(yaml.contains("      - name: \"users\"\n"), "{yaml}");
        assert!(
            !yaml.contains("orders"),
            "failed-only sources are left out: {yaml}"
        );
        assert!(
            !yaml.contains("refunds"),
            "sources whose loads published no file are left out: {yaml}"
        );
        assert!(yaml.contains("loaded_at_field: _loaded_at"));
        assert!(yaml.contains("warn_after: {count: 24, period: hour}"));
        assert!(yaml.contains("error_after: {count: 48, period: hour}"));
        assert!(yaml.contains("successful_loads: 2"));
        assert!(yaml.contains("last_load_id: \"id-b\""));
        assert!(
            yaml.contains(
                "read_parquet('lake/rest/{name}/**/*.parquet', hive_partitioning = true)"
            )
        );
        assert!(yaml.contains("data_type: \"BIGINT\""));
        let empty = dbt_sources_yaml(
            "lake",
            &[],
            Freshness {
                warn_after_hours: 1,
                error_after_hours: 2,
            },
        );
        assert!(empty.contains("sources: []"));
    }

    #[test]
    fn dbt_external_location_quotes_a_lake_path_with_quotes_braces_and_control_characters() {
        let yaml = dbt_sources_yaml(
            "/data/o'brien {x}/\"lake\"\t",
            &[record("a", "users", Status::Success, "1")],
            Freshness {
                warn_after_hours: 1,
                error_after_hours: 2,
            },
        );
        let line = yaml
            .lines()
            .find(|l| l.contains("external_location"))
            .unwrap();
        assert_eq!(
            line,
            "      external_location: \"read_parquet('/data/o''brien {{ \\\"{\\\" }}{{ \\\"{\\\" }}x}}/\\\"lake\\\"\\t/rest/{name}/**/*.parquet', hive_partitioning = true)\""
        );
        assert!(
            yaml.lines().all(|l| !l.contains('\t')),
            "control characters are escaped: {yaml}"
        );
    }

    #[test]
    fn dbt_external_location_reads_glob_characters_in_the_lake_path_literally() {
        let yaml = dbt_sources_yaml(
            "/data/a[1]*?\u{2028}\u{fffe}",
            &[record("a", "users", Status::Success, "1")],
            Freshness {
                warn_after_hours: 1,
                error_after_hours: 2,
            },
        );
        let line = yaml
            .lines()
            .find(|l| l.contains("external_location"))
            .unwrap();
        assert!(
            line.contains("'/data/a[[]1][*][?]\\u2028\\ufffe/rest/{name}/**/*.parquet'"),
            "{line}"
        );
        assert!(
            !yaml.contains('\u{2028}') && !yaml.contains('\u{fffe}'),
            "{yaml}"
        );
    }
}
