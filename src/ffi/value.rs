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
            // Read with its length: duckdb_get_varchar's C string would cut the text at a NUL,
            // which option checks must see (and refuse) instead.
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARCHAR => match varchar_text(value) {
                Some(text) => OptionValue::Text(text),
                None => OptionValue::Text(take_c_string(ffi::duckdb_get_varchar(value))),
            },
            // Everything else (DECIMAL, HUGEINT, dates, ...) as DuckDB's text form.
            _ => OptionValue::Text(take_c_string(ffi::duckdb_get_varchar(value))),
        }
    }
}

/// The whole text of a VARCHAR value, NUL characters included: the value is referenced by a
/// one-row constant vector, whose `duckdb_string_t` carries the length. None if the vector
/// cannot be created.
///
/// # Safety
/// `value` must be a valid, non-null VARCHAR `duckdb_value`.
unsafe fn varchar_text(value: ffi::duckdb_value) -> Option<String> {
    // SAFETY: the logical type and the vector are created and destroyed here, exactly once.
    // duckdb_vector_reference_value makes the VARCHAR vector a constant vector holding a copy
    // of the VARCHAR value, so row 0 of its data is a valid duckdb_string_t whose bytes live
    // until the vector is destroyed; they are copied out before that.
    unsafe {
        let mut ty = ffi::duckdb_create_logical_type(ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARCHAR);
        let mut vector = ffi::duckdb_create_vector(ty, 1);
        ffi::duckdb_destroy_logical_type(&mut ty);
        if vector.is_null() {
            return None;
        }
        ffi::duckdb_vector_reference_value(vector, value);
        let data = ffi::duckdb_vector_get_data(vector).cast::<ffi::duckdb_string_t>();
        let text = if data.is_null() {
            None
        } else {
            let len = ffi::duckdb_string_t_length(*data) as usize;
            let ptr = ffi::duckdb_string_t_data(data).cast::<u8>();
            if ptr.is_null() {
                None
            } else {
                Some(String::from_utf8_lossy(std::slice::from_raw_parts(ptr, len)).into_owned())
            }
        };
        ffi::duckdb_destroy_vector(&mut vector);
        text
    }
}
