//! Owned DuckDB logical types, built from plain descriptions.

use duckdb::ffi;
use std::ffi::CString;

/// An owned `duckdb_logical_type`, destroyed on drop.
pub struct LogicalType {
    raw: ffi::duckdb_logical_type,
}

// SAFETY: a logical type is an immutable heap object; DuckDB's C API allows using it from any
// thread, and we never share mutable access.
unsafe impl Send for LogicalType {}

impl LogicalType {
    pub fn from_id(id: ffi::duckdb_type) -> Self {
        // SAFETY: creating a type from a type id has no preconditions.
        LogicalType {
            raw: unsafe { ffi::duckdb_create_logical_type(id) },
        }
    }
    pub fn varchar() -> Self {
        Self::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARCHAR)
    }
    /// DuckDB's JSON type: VARCHAR with the alias JSON.
    pub fn json() -> Self {
        let t = Self::varchar();
        let alias = c"JSON";
        // SAFETY: t.raw is a valid type we own; alias is NUL-terminated.
        unsafe { ffi::duckdb_logical_type_set_alias(t.raw, alias.as_ptr()) };
        t
    }
    pub fn list(child: &LogicalType) -> Self {
        // SAFETY: child.raw is valid; the new type copies it.
        LogicalType {
            raw: unsafe { ffi::duckdb_create_list_type(child.raw) },
        }
    }
    pub fn structure(fields: &[(String, LogicalType)]) -> Self {
        let names: Vec<CString> = fields
            .iter()
            .map(|(n, _)| CString::new(n.replace('\0', "")).unwrap_or_default())
            .collect();
        let mut name_ptrs: Vec<*const std::ffi::c_char> =
            names.iter().map(|n| n.as_ptr()).collect();
        let mut types: Vec<ffi::duckdb_logical_type> = fields.iter().map(|(_, t)| t.raw).collect();
        // SAFETY: both arrays have fields.len() valid entries that outlive the call; the new
        // type copies the members.
        LogicalType {
            raw: unsafe {
                ffi::duckdb_create_struct_type(
                    types.as_mut_ptr(),
                    name_ptrs.as_mut_ptr(),
                    fields.len() as ffi::idx_t,
                )
            },
        }
    }
    pub fn raw(&self) -> ffi::duckdb_logical_type {
        self.raw
    }
}

impl Drop for LogicalType {
    fn drop(&mut self) {
        if !self.raw.is_null() {
            // SAFETY: we own raw and destroy it once.
            unsafe { ffi::duckdb_destroy_logical_type(&mut self.raw) };
        }
    }
}
