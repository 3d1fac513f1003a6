//! Where a load's files go inside the lake, and the names that end up in paths.
//!
//! ```text
//! <lake>/<protocol>/<source>/load_date=YYYY-MM-DD/<source>_<UTC timestamp>_<load id>.parquet
//! <lake>/_etl/audit/<attempt>.json          one record per load attempt
//! <lake>/_etl/tmp/<attempt>/...             temporaries of a load in progress
//! <lake>/_etl/quarantine/<protocol>/<source>/load_date=YYYY-MM-DD/<same name as the load's file>
//!                                           rows a contract set aside (ON_VIOLATION quarantine)
//! ```
//! Nothing else in the lake is ever written or removed.

use chrono::{DateTime, SecondsFormat, Utc};
use std::path::{Path, PathBuf};

/// The folder under the lake root that holds our own bookkeeping.
pub const ETL_DIR: &str = "_etl";
pub const AUDIT_DIR: &str = "audit";
pub const TMP_DIR: &str = "tmp";
pub const QUARANTINE_DIR: &str = "quarantine";
/// Suffix of files being written; never matches a `*.parquet` glob.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// Checks a name that becomes a path component (SOURCE, PROTOCOL, LOAD_ID).
pub fn check_path_name(function: &str, option: &str, value: &str) -> Result<(), String> {
    let valid = !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && !value.contains("..");
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{function}: option {option} got '{value}', expected 1 to 128 characters of letters, \
             digits, '_', '-' and '.', starting with a letter or digit (it becomes part of the \
             lake's paths)"
        ))
    }
}

/// A new time-ordered load id (UUID version 7: 48-bit Unix milliseconds, then randomness), so
/// load ids sort by start time.
pub fn new_load_id(now: DateTime<Utc>) -> String {
    let millis = now.timestamp_millis().max(0) as u64 & 0xFFFF_FFFF_FFFF;
    let rand_a = fastrand::u16(..) & 0x0FFF;
    let rand_b = fastrand::u64(..) & 0x3FFF_FFFF_FFFF_FFFF;
    let hi: u64 = (millis << 16) | 0x7000 | rand_a as u64;
    let lo: u64 = 0x8000_0000_0000_0000 | rand_b;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// `20261122T101500123Z`: a compact UTC timestamp for file names, sortable as text.
pub fn compact_timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%S%3fZ").to_string()
}

/// RFC 3339 UTC with microseconds, as audit records store times.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The folder of one source: `<protocol>/<source>` relative to the lake.
pub fn source_dir(protocol: &str, source: &str) -> PathBuf {
    Path::new(protocol).join(source)
}

/// The quarantine folder of one source, relative to the lake (mirrors the source's folder, so
/// sources of the same name under two protocols never touch each other's quarantine).
pub fn quarantine_dir(protocol: &str, source: &str) -> PathBuf {
    Path::new(ETL_DIR)
        .join(QUARANTINE_DIR)
        .join(source_dir(protocol, source))
}

/// The relative path of a new load's file.
pub fn data_file(protocol: &str, source: &str, load_id: &str, at: DateTime<Utc>) -> PathBuf {
    source_dir(protocol, source)
        .join(format!("load_date={}", at.format("%Y-%m-%d")))
        .join(format!(
            "{source}_{}_{load_id}.parquet",
            compact_timestamp(at)
        ))
}

/// Length of [`compact_timestamp`]'s text.
const TIMESTAMP_LEN: usize = 19;

/// Splits a staged file name `<source>_<timestamp>_<load id>.parquet` of `source` into its
/// timestamp and load id; None for any other name. Exact, so load id `1` never matches the
/// file of load id `nightly_1`.
pub fn parse_file_name<'a>(file_name: &'a str, source: &str) -> Option<(&'a str, &'a str)> {
    let rest = file_name.strip_prefix(source)?.strip_prefix('_')?;
    let rest = rest.strip_suffix(".parquet")?;
    let (ts, tail) = (rest.get(..TIMESTAMP_LEN)?, rest.get(TIMESTAMP_LEN..)?);
    let valid_ts = ts.char_indices().all(|(i, c)| match i {
        8 => c == 'T',
        18 => c == 'Z',
        _ => c.is_ascii_digit(),
    });
    let load_id = tail.strip_prefix('_')?;
    (valid_ts && !load_id.is_empty()).then_some((ts, load_id))
}

/// Whether `file_name` is a staged file of `load_id` for `source`.
pub fn is_file_of_load(file_name: &str, source: &str, load_id: &str) -> bool {
    parse_file_name(file_name, source).is_some_and(|(_, id)| id == load_id)
}

/// File names are limited to 255 bytes: SOURCE and LOAD_ID share what the name leaves.
pub fn check_file_name_length(function: &str, source: &str, load_id: &str) -> Result<(), String> {
    let len = source.len() + 1 + TIMESTAMP_LEN + 1 + load_id.len() + ".parquet.partial".len();
    if len > 255 {
        return Err(format!(
            "{function}: SOURCE and LOAD_ID together are too long for a file name ({len} of 255 \
             bytes with the timestamp); shorten one of them"
        ));
    }
    Ok(())
}

/// Every `.parquet` file under `dir` (recursively), sorted; a missing folder has none.
pub fn parquet_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A path relative to the lake as text with `/` separators (how `_source_file` and the audit
/// name files).
pub fn relative_text(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 15, 0).unwrap()
    }

    #[test]
    fn data_file_is_hive_partitioned_by_load_date() {
        let p = data_file("rest", "users", "L1", at());
        assert_eq!(
            relative_text(&p),
            "rest/users/load_date=2026-11-22/users_20261122T101500000Z_L1.parquet"
        );
        assert!(is_file_of_load(
            "users_20261122T101500000Z_L1.parquet",
            "users",
            "L1"
        ));
        assert!(!is_file_of_load(
            "users_20261122T101500000Z_L10.parquet",
            "users",
            "L1"
        ));
        assert!(!is_file_of_load(
            "orders_20261122T101500000Z_L1.parquet",
            "users",
            "L1"
        ));
    }

    #[test]
    fn file_names_are_matched_exactly() {
        // Load id "1" is not the file of load id "nightly_1", nor source "users" of "users_x".
        let name = "users_20261122T101500000Z_nightly_1.parquet";
        assert!(!is_file_of_load(name, "users", "1"));
        assert!(is_file_of_load(name, "users", "nightly_1"));
        assert!(!is_file_of_load(
            "users_x_20261122T101500000Z_L1.parquet",
            "users",
            "L1"
        ));
        assert_eq!(
            parse_file_name("users_20261122T101500000Z_L1.parquet", "users"),
            Some(("20261122T101500000Z", "L1"))
        );
        assert_eq!(
            parse_file_name("users_2026112XT101500000Z_L1.parquet", "users"),
            None
        );
        assert!(check_file_name_length("f", &"s".repeat(120), &"l".repeat(120)).is_err());
        assert!(check_file_name_length("f", &"s".repeat(100), &"l".repeat(36)).is_ok());
    }

    #[test]
    fn load_ids_are_uuid_v7_and_sort_by_time() {
        let a = new_load_id(at());
        let b = new_load_id(at() + chrono::Duration::milliseconds(1));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "7", "version nibble");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "variant bits");
        assert!(a < b);
        assert_ne!(new_load_id(at()), new_load_id(at()));
    }

    #[test]
    fn path_names_reject_traversal_hidden_and_separators() {
        for good in ["users", "Orders_2026", "a.b-c", "7"] {
            assert!(
                check_path_name("dw_staging", "SOURCE", good).is_ok(),
                "{good}"
            );
        }
        for bad in ["", "../x", "a/b", "_etl", ".hidden", "a b", "x..y", "é"] {
            let err = check_path_name("dw_staging", "SOURCE", bad).unwrap_err();
            assert!(err.contains("option SOURCE got"), "{err}");
        }
    }

    #[test]
    fn parquet_files_lists_recursively_and_tolerates_missing_folders() {
        let dir = std::env::temp_dir().join(format!("etl-layout-{}", fastrand::u64(..)));
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(dir.join("a/b/x.parquet"), b"").unwrap();
        std::fs::write(dir.join("a/y.parquet.partial"), b"").unwrap();
        assert_eq!(
            parquet_files(&dir).unwrap(),
            vec![dir.join("a/b/x.parquet")]
        );
        assert!(parquet_files(&dir.join("missing")).unwrap().is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
