//! Writing output vectors of a table function. Each accessor checks the vector's physical type
//! once and then hands out a plain slice, so the hot loops are ordinary Rust.

use duckdb::ffi;
use std::fmt;

#[derive(Debug)]
pub struct VectorError(String);

impl fmt::Display for VectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VectorError {}

/// The number of rows a top-level output vector holds.
pub fn vector_size() -> usize {
    // SAFETY: no preconditions.
    unsafe { ffi::duckdb_vector_size() as usize }
}

/// One writable vector (a column, or a STRUCT/LIST child), valid during the scan callback.
pub struct VectorWriter {
    raw: ffi::duckdb_vector,
    type_id: ffi::duckdb_type,
    capacity: usize,
}

impl VectorWriter {
    /// # Safety
    /// `raw` must be a writable vector valid for the writer's lifetime with room for
    /// `capacity` rows.
    pub unsafe fn new(raw: ffi::duckdb_vector, capacity: usize) -> Self {
        // SAFETY: raw is valid (caller contract); the column type is owned and destroyed here.
        let type_id = unsafe {
            let mut ty = ffi::duckdb_vector_get_column_type(raw);
            let id = ffi::duckdb_get_type_id(ty);
            ffi::duckdb_destroy_logical_type(&mut ty);
            id
        };
        VectorWriter {
            raw,
            type_id,
            capacity,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn check(&self, ids: &[ffi::duckdb_type], what: &str) -> Result<(), VectorError> {
        if ids.contains(&self.type_id) {
            Ok(())
        } else {
            Err(VectorError(format!(
                "internal error: writing {what} into a vector of type id {}",
                self.type_id
            )))
        }
    }

    /// # Safety
    /// The caller has checked that the vector's physical type is `T`.
    unsafe fn slice<T>(&mut self) -> &mut [T] {
        // SAFETY: data holds `capacity` values of T (caller contract and constructor contract).
        unsafe {
            std::slice::from_raw_parts_mut(
                ffi::duckdb_vector_get_data(self.raw).cast::<T>(),
                self.capacity,
            )
        }
    }

    /// BOOLEAN values as bytes (0 or 1): the buffer may hold garbage before we write it, which
    /// a `&mut [bool]` must never see.
    pub fn bools(&mut self) -> Result<&mut [u8], VectorError> {
        self.check(&[ffi::DUCKDB_TYPE_DUCKDB_TYPE_BOOLEAN], "booleans")?;
        // SAFETY: checked BOOLEAN (one byte per value).
        Ok(unsafe { self.slice() })
    }

    pub fn i32s(&mut self) -> Result<&mut [i32], VectorError> {
        self.check(
            &[
                ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTEGER,
                ffi::DUCKDB_TYPE_DUCKDB_TYPE_DATE,
            ],
            "32-bit values",
        )?;
        // SAFETY: checked INTEGER or DATE (i32 days).
        Ok(unsafe { self.slice() })
    }

    pub fn i64s(&mut self) -> Result<&mut [i64], VectorError> {
        self.check(
            &[
                ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT,
                ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP,
                ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_TZ,
            ],
            "64-bit values",
        )?;
        // SAFETY: checked BIGINT or TIMESTAMP[_TZ] (i64 microseconds).
        Ok(unsafe { self.slice() })
    }

    pub fn f64s(&mut self) -> Result<&mut [f64], VectorError> {
        self.check(&[ffi::DUCKDB_TYPE_DUCKDB_TYPE_DOUBLE], "doubles")?;
        // SAFETY: checked DOUBLE.
        Ok(unsafe { self.slice() })
    }

    pub fn set_str(&mut self, row: usize, text: &str) -> Result<(), VectorError> {
        self.check(&[ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARCHAR], "text")?;
        if row >= self.capacity {
            return Err(VectorError(format!(
                "internal error: row {row} beyond capacity {}",
                self.capacity
            )));
        }
        // SAFETY: VARCHAR vector, row in range; DuckDB copies the bytes.
        unsafe {
            ffi::duckdb_vector_assign_string_element_len(
                self.raw,
                row as ffi::idx_t,
                text.as_ptr().cast(),
                text.len() as ffi::idx_t,
            )
        };
        Ok(())
    }

    pub fn set_null(&mut self, row: usize) {
        if row >= self.capacity {
            return;
        }
        // SAFETY: the validity mask is made writable first and covers capacity rows.
        unsafe {
            ffi::duckdb_vector_ensure_validity_writable(self.raw);
            let validity = ffi::duckdb_vector_get_validity(self.raw);
            ffi::duckdb_validity_set_row_invalid(validity, row as ffi::idx_t);
        }
    }

    /// Child `index` of a STRUCT vector (same capacity as the parent).
    pub fn struct_child(&self, index: usize) -> Result<VectorWriter, VectorError> {
        self.check(&[ffi::DUCKDB_TYPE_DUCKDB_TYPE_STRUCT], "struct fields")?;
        // SAFETY: STRUCT vector; children live as long as the parent and have its capacity.
        Ok(unsafe {
            VectorWriter::new(
                ffi::duckdb_struct_vector_get_child(self.raw, index as ffi::idx_t),
                self.capacity,
            )
        })
    }

    /// The entries (offset, length) of a LIST vector.
    pub fn list_entries(&mut self) -> Result<&mut [ffi::duckdb_list_entry], VectorError> {
        self.check(&[ffi::DUCKDB_TYPE_DUCKDB_TYPE_LIST], "list entries")?;
        // SAFETY: checked LIST; its data is an array of list entries.
        Ok(unsafe { self.slice() })
    }

    /// Elements already in a LIST vector (results appended across calls start here).
    pub fn list_size(&self) -> Result<usize, VectorError> {
        self.check(&[ffi::DUCKDB_TYPE_DUCKDB_TYPE_LIST], "list size")?;
        // SAFETY: checked LIST.
        Ok(unsafe { ffi::duckdb_list_vector_get_size(self.raw) as usize })
    }

    /// The child vector of a LIST, with room for `total` elements; sets the list size.
    pub fn list_child(&self, total: usize) -> Result<VectorWriter, VectorError> {
        self.check(&[ffi::DUCKDB_TYPE_DUCKDB_TYPE_LIST], "list elements")?;
        // SAFETY: LIST vector; reserve before taking the child (reserving may reallocate).
        unsafe {
            if ffi::duckdb_list_vector_reserve(self.raw, total as ffi::idx_t)
                != ffi::duckdb_state_DuckDBSuccess
                || ffi::duckdb_list_vector_set_size(self.raw, total as ffi::idx_t)
                    != ffi::duckdb_state_DuckDBSuccess
            {
                return Err(VectorError(format!(
                    "could not reserve {total} list elements"
                )));
            }
            Ok(VectorWriter::new(
                ffi::duckdb_list_vector_get_child(self.raw),
                total,
            ))
        }
    }
}
