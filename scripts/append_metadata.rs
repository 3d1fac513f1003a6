//! Appends DuckDB's 534-byte extension metadata footer to a shared library.
//!
//! Built by the Makefile with plain `rustc` (no dependencies, about a second) and unit-tested by
//! `cargo test` (the crate includes this file as a test-only module), so the bytes the host reads
//! are checked by the same code that writes them.
//!
//! Usage: append_metadata --library IN --output OUT --extension-version V
//!        --c-api-version v1.5.6 --abi C_STRUCT --platform host|<platform>
//!
//! Layout (what DuckDB's loader parses from the last 534 bytes of the file):
//! - 22 bytes: `00 93 04 10`, `duckdb_signature`, `80 04` (a WebAssembly custom-section header,
//!   so the same footer also works on wasm builds);
//! - eight 32-byte NUL-padded ASCII fields: "", "", "", ABI type, extension version,
//!   C API version, platform, "4" (the metadata format version);
//! - 256 zero bytes where a signature would go (unsigned: hosts need
//!   `allow_unsigned_extensions` / `duckdb -unsigned`).

use std::fmt;

/// Total footer size in bytes.
pub const FOOTER_LEN: usize = 534;
const HEADER: &[u8] = b"\x00\x93\x04\x10duckdb_signature\x80\x04";
const FIELD_LEN: usize = 32;
const SIGNATURE_LEN: usize = 256;

/// What the footer declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub abi: String,
    pub extension_version: String,
    pub c_api_version: String,
    pub platform: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum FooterError {
    FieldTooLong { field: &'static str, value: String },
    NotAscii { field: &'static str, value: String },
    Empty { field: &'static str },
    UnknownHostPlatform { os: String, arch: String },
}

impl fmt::Display for FooterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FooterError::FieldTooLong { field, value } => write!(
                f,
                "append_metadata: {field} '{value}' is longer than {FIELD_LEN} bytes"
            ),
            FooterError::NotAscii { field, value } => {
                write!(
                    f,
                    "append_metadata: {field} '{value}' is not printable ASCII"
                )
            }
            FooterError::Empty { field } => write!(f, "append_metadata: {field} must not be empty"),
            FooterError::UnknownHostPlatform { os, arch } => write!(
                f,
                "append_metadata: no DuckDB platform name for host os '{os}' arch '{arch}'; \
                 set PLATFORM in extension-config/extension.conf"
            ),
        }
    }
}

/// The DuckDB platform name for an (os, arch) pair as Rust names them.
pub fn duckdb_platform(os: &str, arch: &str) -> Result<String, FooterError> {
    let os_part = match os {
        "linux" => "linux",
        "macos" => "osx",
        "windows" => "windows",
        _ => "",
    };
    let arch_part = match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        _ => "",
    };
    if os_part.is_empty() || arch_part.is_empty() {
        return Err(FooterError::UnknownHostPlatform {
            os: os.to_string(),
            arch: arch.to_string(),
        });
    }
    Ok(format!("{os_part}_{arch_part}"))
}

/// Resolves the configured platform: "host" means the machine this tool was built on.
pub fn resolve_platform(configured: &str) -> Result<String, FooterError> {
    if configured == "host" {
        duckdb_platform(std::env::consts::OS, std::env::consts::ARCH)
    } else {
        Ok(configured.to_string())
    }
}

fn push_field(out: &mut Vec<u8>, field: &'static str, value: &str) -> Result<(), FooterError> {
    if value.len() > FIELD_LEN {
        return Err(FooterError::FieldTooLong {
            field,
            value: value.to_string(),
        });
    }
    if !value.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(FooterError::NotAscii {
            field,
            value: value.to_string(),
        });
    }
    out.extend_from_slice(value.as_bytes());
    out.resize(out.len() + FIELD_LEN - value.len(), 0);
    Ok(())
}

/// The footer bytes for `meta`.
pub fn footer(meta: &Metadata) -> Result<Vec<u8>, FooterError> {
    for (field, value) in [
        ("ABI type", &meta.abi),
        ("extension version", &meta.extension_version),
        ("C API version", &meta.c_api_version),
        ("platform", &meta.platform),
    ] {
        if value.is_empty() {
            return Err(FooterError::Empty { field });
        }
    }
    let mut out = Vec::with_capacity(FOOTER_LEN);
    out.extend_from_slice(HEADER);
    push_field(&mut out, "unused field 1", "")?;
    push_field(&mut out, "unused field 2", "")?;
    push_field(&mut out, "unused field 3", "")?;
    push_field(&mut out, "ABI type", &meta.abi)?;
    push_field(&mut out, "extension version", &meta.extension_version)?;
    push_field(&mut out, "C API version", &meta.c_api_version)?;
    push_field(&mut out, "platform", &meta.platform)?;
    push_field(&mut out, "metadata version", "4")?;
    out.resize(out.len() + SIGNATURE_LEN, 0);
    Ok(out)
}

/// Reads the declared metadata back from a file's last 534 bytes (None when there is no footer).
pub fn read_footer(file: &[u8]) -> Option<Metadata> {
    if file.len() < FOOTER_LEN {
        return None;
    }
    let tail = &file[file.len() - FOOTER_LEN..];
    if &tail[..HEADER.len()] != HEADER {
        return None;
    }
    let field = |i: usize| {
        let start = HEADER.len() + i * FIELD_LEN;
        let raw = &tail[start..start + FIELD_LEN];
        let end = raw.iter().position(|&b| b == 0).unwrap_or(FIELD_LEN);
        String::from_utf8_lossy(&raw[..end]).into_owned()
    };
    Some(Metadata {
        abi: field(3),
        extension_version: field(4),
        c_api_version: field(5),
        platform: field(6),
    })
}

#[allow(dead_code)] // used by the binary, not by the crate's tests
fn run(args: &[String]) -> Result<(), String> {
    let mut library = None;
    let mut output = None;
    let mut meta = Metadata {
        abi: String::new(),
        extension_version: String::new(),
        c_api_version: String::new(),
        platform: String::new(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("append_metadata: {flag} needs a value"))?
            .clone();
        match flag.as_str() {
            "--library" => library = Some(value),
            "--output" => output = Some(value),
            "--extension-version" => meta.extension_version = value,
            "--c-api-version" => meta.c_api_version = value,
            "--abi" => meta.abi = value,
            "--platform" => meta.platform = resolve_platform(&value).map_err(|e| e.to_string())?,
            other => return Err(format!("append_metadata: unknown flag {other}")),
        }
    }
    let library = library.ok_or("append_metadata: --library is required")?;
    let output = output.ok_or("append_metadata: --output is required")?;
    let tail = footer(&meta).map_err(|e| e.to_string())?;
    let mut bytes =
        std::fs::read(&library).map_err(|e| format!("append_metadata: reading {library}: {e}"))?;
    bytes.extend_from_slice(&tail);
    // Write beside the target and rename, so a half-written file never looks like an extension.
    let tmp = format!("{output}.tmp");
    std::fs::write(&tmp, &bytes).map_err(|e| format!("append_metadata: writing {tmp}: {e}"))?;
    std::fs::rename(&tmp, &output)
        .map_err(|e| format!("append_metadata: renaming {tmp} to {output}: {e}"))?;
    println!(
        "append_metadata: wrote {output} ({} bytes; {} {} {} {})",
        bytes.len(),
        meta.abi,
        meta.extension_version,
        meta.c_api_version,
        meta.platform
    );
    Ok(())
}

#[allow(dead_code)] // the entry point of the standalone tool
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Metadata {
        Metadata {
            abi: "C_STRUCT".into(),
            extension_version: "0.1.0".into(),
            c_api_version: "v1.5.6".into(),
            platform: "linux_amd64".into(),
        }
    }

    #[test]
    fn footer_is_534_bytes_with_fields_at_duckdb_offsets() {
        let f = footer(&meta()).unwrap();
        assert_eq!(f.len(), FOOTER_LEN);
        assert_eq!(&f[..22], b"\x00\x93\x04\x10duckdb_signature\x80\x04");
        // three unused fields
        assert!(f[22..22 + 96].iter().all(|&b| b == 0));
        assert_eq!(&f[118..126], b"C_STRUCT");
        assert!(f[126..150].iter().all(|&b| b == 0));
        assert_eq!(&f[150..155], b"0.1.0");
        assert_eq!(&f[182..188], b"v1.5.6");
        assert_eq!(&f[214..225], b"linux_amd64");
        assert_eq!(&f[246..247], b"4");
        assert!(f[247..278].iter().all(|&b| b == 0));
        assert!(f[278..].iter().all(|&b| b == 0));
        assert_eq!(f.len() - 278, 256);
    }

    #[test]
    fn footer_round_trips_through_reader() {
        let mut file = b"\x7fELF fake library body".to_vec();
        file.extend(footer(&meta()).unwrap());
        assert_eq!(read_footer(&file), Some(meta()));
        assert_eq!(read_footer(b"too short"), None);
    }

    #[test]
    fn footer_rejects_values_that_do_not_fit_a_field() {
        let mut m = meta();
        m.extension_version = "x".repeat(33);
        assert!(matches!(footer(&m), Err(FooterError::FieldTooLong { .. })));
        let mut m = meta();
        m.platform = "linüx".into();
        assert!(matches!(footer(&m), Err(FooterError::NotAscii { .. })));
        let mut m = meta();
        m.abi = String::new();
        assert_eq!(footer(&m), Err(FooterError::Empty { field: "ABI type" }));
    }

    #[test]
    fn platform_names_follow_duckdb() {
        assert_eq!(duckdb_platform("linux", "x86_64").unwrap(), "linux_amd64");
        assert_eq!(duckdb_platform("linux", "aarch64").unwrap(), "linux_arm64");
        assert_eq!(duckdb_platform("macos", "aarch64").unwrap(), "osx_arm64");
        assert!(duckdb_platform("freebsd", "x86_64").is_err());
        assert_eq!(resolve_platform("wasm_eh").unwrap(), "wasm_eh");
    }
}
