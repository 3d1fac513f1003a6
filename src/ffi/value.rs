//! Converts DuckDB values (COPY options, named parameters) into plain [`OptionValue`]s.

use crate::options::OptionValue;
use duckdb::ffi;
use std::ffi::{CStr, c_char};

/// Converts and destroys an owned `duckdb_value`.
///
/// # Safety
/// `value` must be null or an owned value the caller will not use again.
pub unsafe fn take(mut value: ffi::duckdb_value) -> OptionValue {
    if value.is_null() {
        return OptionValue::Null;
    }
    // SAFETY: value is valid and owned (caller contract); it is destroyed exactly once here.
    unsafe {
        let converted = read(value);
        ffi::duckdb_destroy_value(&mut value);
        converted
    }
}

/// Takes ownership of a DuckDB-allocated C string.
///
/// # Safety
/// `ptr` must be null or a NUL-terminated string allocated by DuckDB (freed with duckdb_free).
pub unsafe fn take_c_string(ptr: *mut c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: ptr is a valid NUL-terminated DuckDB allocation (caller contract), freed once.
    unsafe {
        let text = CStr::from_ptr(ptr).to_string_lossy().into_owned();
        ffi::duckdb_free(ptr.cast());
        text
    }
}

/// # Safety
/// `value` must be a valid, non-null `duckdb_value`.
unsafe fn read(value: ffi::duckdb_value) -> OptionValue {
    // SAFETY: value is valid (caller contract). The logical type returned by
    // duckdb_get_value_type is borrowed from the value and must not be destroyed. Children
    // returned by get_*_child/key/value are owned and destroyed by `take`.
    unsafe {
        if ffi::duckdb_is_null_value(value) {
            return OptionValue::Null;
        }
        let ty = ffi::duckdb_get_value_type(value);
        match ffi::duckdb_get_type_id(ty) {
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_BOOLEAN => OptionValue::Bool(ffi::duckdb_get_bool(value)),
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TINYINT
            | ffi::DUCKDB_TYPE_DUCKDB_TYPE_SMALLINT
            | ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTEGER
            | ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT
            | ffi::DUCKDB_TYPE_DUCKDB_TYPE_UTINYINT
            | ffi::DUCKDB_TYPE_DUCKDB_TYPE_USMALLINT
            | ffi::DUCKDB_TYPE_DUCKDB_TYPE_UINTEGER
            | ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTEGER_LITERAL => {
                OptionValue::Int(ffi::duckdb_get_int64(value))
            }
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_FLOAT | ffi::DUCKDB_TYPE_DUCKDB_TYPE_DOUBLE => {
                OptionValue::Float(ffi::duckdb_get_double(value))
            }
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_LIST | ffi::DUCKDB_TYPE_DUCKDB_TYPE_ARRAY => {
                let n = ffi::duckdb_get_list_size(value);
                OptionValue::List(
                    (0..n)
                        .map(|i| take(ffi::duckdb_get_list_child(value, i)))
                        .collect(),
                )
            }
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_STRUCT => {
                let n = ffi::duckdb_struct_type_child_count(ty);
                OptionValue::Struct(
                    (0..n)
                        .map(|i| {
                            let name = take_c_string(ffi::duckdb_struct_type_child_name(ty, i));
                            (name, take(ffi::duckdb_get_struct_child(value, i)))
                        })
                        .collect(),
                )
            }
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_MAP => {
                let n = ffi::duckdb_get_map_size(value);
                OptionValue::Struct(
                    (0..n)
                        .map(|i| {
                            let key = match take(ffi::duckdb_get_map_key(value, i)) {
                                OptionValue::Text(s) => s,
                                other => other.to_string(),
                            };
                            (key, take(ffi::duckdb_get_map_value(value, i)))
                        })
                        .collect(),
                )
            }
            // VARCHAR and everything else (DECIMAL, HUGEINT, dates, ...) as DuckDB's text form.
            _ => OptionValue::Text(take_c_string(ffi::duckdb_get_varchar(value))),
        }
    }
}
