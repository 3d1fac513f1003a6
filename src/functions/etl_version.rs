//! `etl_version()`: the extension version, the C API version it declares and the host DuckDB.

use crate::config::{EXTENSION_VERSION, ExtensionConfig};
use duckdb::core::{DataChunkHandle, Inserter, LogicalTypeHandle, LogicalTypeId};
use duckdb::ffi;
use duckdb::vscalar::{ScalarFunctionSignature, VScalar};
use duckdb::vtab::arrow::WritableVector;
use std::error::Error;
use std::ffi::CStr;

pub struct EtlVersion;

const FIELDS: [&str; 3] = ["version", "c_api_version", "duckdb_version"];

fn host_duckdb_version() -> String {
    // SAFETY: returns a static NUL-terminated string owned by DuckDB (or null).
    let ptr = unsafe { ffi::duckdb_library_version() };
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: non-null static C string.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

impl VScalar for EtlVersion {
    type State = ();

    fn invoke(
        _: &Self::State,
        input: &mut DataChunkHandle,
        output: &mut dyn WritableVector,
    ) -> Result<(), Box<dyn Error>> {
        let config = ExtensionConfig::builtin()?;
        let values = [
            EXTENSION_VERSION.to_string(),
            config.c_api_version,
            host_duckdb_version(),
        ];
        let rows = input.len();
        let out = output.struct_vector();
        for (i, value) in values.iter().enumerate() {
            let child = out.child(i, rows);
            for row in 0..rows {
                child.insert(row, value.as_str());
            }
        }
        Ok(())
    }

    fn signatures() -> Vec<ScalarFunctionSignature> {
        let fields: Vec<(&str, LogicalTypeHandle)> = FIELDS
            .iter()
            .map(|name| (*name, LogicalTypeHandle::from(LogicalTypeId::Varchar)))
            .collect();
        vec![ScalarFunctionSignature::exact(
            vec![],
            LogicalTypeHandle::struct_type(&fields),
        )]
    }
}
