//! The extension's identity and version pins, read from `extension-config/extension.conf`
//! (pure; the same file drives the Makefile and the scripts).

use std::fmt;

/// The config file, compiled in so the entrypoint requests exactly the C API version the footer
/// declares.
pub const EXTENSION_CONF: &str = include_str!("../extension-config/extension.conf");

/// The extension version (from Cargo.toml; the footer carries the same value).
pub const EXTENSION_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionConfig {
    pub name: String,
    pub c_api_version: String,
    pub abi_type: String,
    pub platform: String,
    pub duckdb_rs_version: String,
    pub duckdb_python_version: String,
    pub duckdb_cli_version: String,
    pub duckdb_cli_old_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "extension-config/extension.conf: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Parses `KEY=VALUE` lines; `#` starts a comment line; blank lines are ignored.
pub fn parse_pairs(text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| {
            ConfigError(format!("line {}: expected KEY=VALUE, got '{line}'", n + 1))
        })?;
        pairs.push((key.trim().to_string(), value.trim().to_string()));
    }
    Ok(pairs)
}

impl ExtensionConfig {
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let pairs = parse_pairs(text)?;
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ConfigError(format!("{key} is missing or empty")))
        };
        Ok(ExtensionConfig {
            name: get("EXTENSION_NAME")?,
            c_api_version: get("C_API_VERSION")?,
            abi_type: get("ABI_TYPE")?,
            platform: get("PLATFORM")?,
            duckdb_rs_version: get("DUCKDB_RS_VERSION")?,
            duckdb_python_version: get("DUCKDB_PYTHON_VERSION")?,
            duckdb_cli_version: get("DUCKDB_CLI_VERSION")?,
            duckdb_cli_old_version: get("DUCKDB_CLI_OLD_VERSION")?,
        })
    }

    /// The compiled-in configuration.
    pub fn builtin() -> Result<Self, ConfigError> {
        Self::parse(EXTENSION_CONF)
    }
}

/// A DuckDB version as (major, minor, patch), from "v1.5.6", "1.5.6" or "1.4.4.post1".
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next()?.parse().ok()?;
    Some((major, minor, patch))
}

/// The DuckDB version whose headers a duckdb-rs crate version was generated from: the crate
/// encodes it as 1.MMmmpp.x (1.20000.1 is DuckDB 2.0.0).
pub fn duckdb_version_of_crate(crate_version: &str) -> Option<(u32, u32, u32)> {
    let encoded: u32 = crate_version.split('.').nth(1)?.parse().ok()?;
    Some((encoded / 10_000, (encoded / 100) % 100, encoded % 100))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARGO_TOML: &str = include_str!("../Cargo.toml");
    const CARGO_LOCK: &str = include_str!("../Cargo.lock");

    fn cfg() -> ExtensionConfig {
        ExtensionConfig::builtin().expect("extension.conf parses")
    }

    #[test]
    fn builtin_config_names_the_crate_and_c_struct_abi() {
        let c = cfg();
        assert_eq!(c.name, env!("CARGO_PKG_NAME"));
        assert_eq!(c.abi_type, "C_STRUCT");
        assert!(parse_version(&c.c_api_version).is_some());
    }

    #[test]
    fn version_pins_agree_with_cargo_toml_and_lock() {
        let c = cfg();
        let pin = format!("version = \"={}\"", c.duckdb_rs_version);
        let dep_line = CARGO_TOML
            .lines()
            .find(|l| l.trim_start().starts_with("duckdb ="))
            .expect("Cargo.toml has a duckdb dependency line");
        assert!(
            dep_line.contains(&pin),
            "Cargo.toml duckdb dependency `{dep_line}` must pin {pin} (extension-config says DUCKDB_RS_VERSION={})",
            c.duckdb_rs_version
        );
        let locked = format!("name = \"duckdb\"\nversion = \"{}\"", c.duckdb_rs_version);
        assert!(
            CARGO_LOCK.contains(&locked),
            "Cargo.lock must lock duckdb {}",
            c.duckdb_rs_version
        );
    }

    #[test]
    fn version_pins_agree_with_each_other() {
        let c = cfg();
        let headers = duckdb_version_of_crate(&c.duckdb_rs_version).unwrap();
        let python = parse_version(&c.duckdb_python_version).unwrap();
        assert_eq!(
            headers, python,
            "the Python host (DUCKDB_PYTHON_VERSION) must be the DuckDB the crate was generated from"
        );
        let c_api = parse_version(&c.c_api_version).unwrap();
        let cli = parse_version(&c.duckdb_cli_version).unwrap();
        let old = parse_version(&c.duckdb_cli_old_version).unwrap();
        assert!(
            c_api <= python,
            "C API {c_api:?} newer than the Python host {python:?}"
        );
        assert!(
            c_api <= cli,
            "C API {c_api:?} newer than the shell host {cli:?}"
        );
        assert!(
            old < c_api,
            "the 'old' host {old:?} must predate the C API {c_api:?}"
        );
    }

    #[test]
    fn crate_version_decoding_follows_duckdb_rs_scheme() {
        assert_eq!(duckdb_version_of_crate("1.20000.1"), Some((2, 0, 0)));
        assert_eq!(duckdb_version_of_crate("1.10506.0"), Some((1, 5, 6)));
        assert_eq!(parse_version("v1.5.6"), Some((1, 5, 6)));
        assert_eq!(parse_version("1.4.4.post1"), Some((1, 4, 4)));
        assert_eq!(parse_version("one"), None);
    }

    #[test]
    fn config_errors_name_the_line_or_key() {
        assert_eq!(
            parse_pairs("# c\nA=1\nbroken").unwrap_err().to_string(),
            "extension-config/extension.conf: line 3: expected KEY=VALUE, got 'broken'"
        );
        assert_eq!(
            ExtensionConfig::parse("EXTENSION_NAME=etl")
                .unwrap_err()
                .to_string(),
            "extension-config/extension.conf: C_API_VERSION is missing or empty"
        );
    }
}
