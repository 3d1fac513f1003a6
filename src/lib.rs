//! `etl`: a DuckDB extension that runs a whole data pipeline as SQL.
//!
//! Layers (see docs/design.md): pure modules (`config`, `options`, and later `rest`, `oracle`,
//! `contract`, `profile`, `staging`) hold the logic and are tested with `cargo test`;
//! `functions/` (one file per SQL function) and `ffi/` (our safe wrappers) are the only code
//! that touches DuckDB's C API. This file is the entrypoint only.

pub mod config;
pub mod contract;
pub mod ffi;
pub mod functions;
pub mod options;
pub mod readfile;
pub mod rest;
pub mod staging;

/// The footer writer lives in scripts/ (built by the Makefile with plain rustc); its unit tests
/// run here.
#[cfg(test)]
#[path = "../scripts/append_metadata.rs"]
mod append_metadata;

/// Called by DuckDB on `LOAD etl`. The symbol name must be `<extension name>_init_c_api`.
///
/// # Safety
/// Called by DuckDB's loader with its own `info` and `access`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn etl_init_c_api(
    info: duckdb::ffi::duckdb_extension_info,
    access: *const duckdb::ffi::duckdb_extension_access,
) -> bool {
    // SAFETY: forwarded from DuckDB's loader.
    unsafe { ffi::entrypoint::init_extension(info, access, functions::register) }
}
