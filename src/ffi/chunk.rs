//! Reading the flat vectors of a DuckDB data chunk handed to a COPY sink.
//!
//! The C API gives the sink flattened vectors in DuckDB's physical layout. [`ColumnKind`] is
//! the set of layouts this reader understands; bind rejects other column types with a clear
//! error before any row is read.

use duckdb::ffi;
use std::ffi::c_void;

/// Physical layouts the reader supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Boolean,
    TinyInt,
    SmallInt,
    Integer,
    BigInt,
    UTinyInt,
    USmallInt,
    UInteger,
    UBigInt,
    Float,
    Double,
    Varchar,
}

impl ColumnKind {
    /// The kind for a DuckDB type id, or None when the reader does not support it.
    pub fn from_type_id(id: ffi::duckdb_type) -> Option<Self> {
        Some(match id {
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_BOOLEAN => ColumnKind::Boolean,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TINYINT => ColumnKind::TinyInt,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_SMALLINT => ColumnKind::SmallInt,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTEGER => ColumnKind::Integer,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT => ColumnKind::BigInt,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_UTINYINT => ColumnKind::UTinyInt,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_USMALLINT => ColumnKind::USmallInt,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_UINTEGER => ColumnKind::UInteger,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_UBIGINT => ColumnKind::UBigInt,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_FLOAT => ColumnKind::Float,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_DOUBLE => ColumnKind::Double,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARCHAR => ColumnKind::Varchar,
            _ => return None,
        })
    }
}

/// The SQL name of a DuckDB type id, for error messages.
pub fn type_id_name(id: ffi::duckdb_type) -> &'static str {
    match id {
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_BOOLEAN => "BOOLEAN",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_TINYINT => "TINYINT",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_SMALLINT => "SMALLINT",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTEGER => "INTEGER",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT => "BIGINT",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_UTINYINT => "UTINYINT",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_USMALLINT => "USMALLINT",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_UINTEGER => "UINTEGER",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_UBIGINT => "UBIGINT",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_FLOAT => "FLOAT",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_DOUBLE => "DOUBLE",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP => "TIMESTAMP",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_DATE => "DATE",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIME => "TIME",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTERVAL => "INTERVAL",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_HUGEINT => "HUGEINT",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_UHUGEINT => "UHUGEINT",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARCHAR => "VARCHAR",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_BLOB => "BLOB",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_DECIMAL => "DECIMAL",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_S => "TIMESTAMP_S",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_MS => "TIMESTAMP_MS",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_NS => "TIMESTAMP_NS",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_ENUM => "ENUM",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_LIST => "LIST",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_STRUCT => "STRUCT",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_MAP => "MAP",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_ARRAY => "ARRAY",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_UUID => "UUID",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_UNION => "UNION",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIT => "BIT",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIME_TZ => "TIME WITH TIME ZONE",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_TZ => "TIMESTAMP WITH TIME ZONE",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_SQLNULL => "NULL",
        _ => "an unsupported type",
    }
}

/// One cell read from a vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(&'a str),
}

/// A borrowed view of the chunk DuckDB passes to a sink. Valid only during that call.
pub struct ChunkReader {
    raw: ffi::duckdb_data_chunk,
}

impl ChunkReader {
    /// # Safety
    /// `raw` must be a valid, flattened data chunk that outlives the reader.
    pub unsafe fn new(raw: ffi::duckdb_data_chunk) -> Self {
        ChunkReader { raw }
    }

    pub(crate) fn raw(&self) -> ffi::duckdb_data_chunk {
        self.raw
    }

    pub fn len(&self) -> usize {
        // SAFETY: raw is a valid chunk for the reader's lifetime (constructor contract).
        unsafe { ffi::duckdb_data_chunk_get_size(self.raw) as usize }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn column_count(&self) -> usize {
        // SAFETY: as in len.
        unsafe { ffi::duckdb_data_chunk_get_column_count(self.raw) as usize }
    }

    /// The type of column `index` as the staging/contract core describes it.
    pub fn column_type(
        &self,
        index: usize,
    ) -> Result<crate::staging::schema::ColumnType, super::arrow::Unsupported> {
        let missing = || super::arrow::Unsupported {
            ty: "a missing column".into(),
            path: Vec::new(),
        };
        if index >= self.column_count() {
            return Err(missing());
        }
        // SAFETY: index in range; the logical type is owned and destroyed after use.
        unsafe {
            let v = ffi::duckdb_data_chunk_get_vector(self.raw, index as ffi::idx_t);
            let mut ty = ffi::duckdb_vector_get_column_type(v);
            if ty.is_null() {
                return Err(missing());
            }
            let described = super::arrow::column_type(ty);
            ffi::duckdb_destroy_logical_type(&mut ty);
            described
        }
    }

    /// Column `index`, read with the layout `kind` determined at bind.
    pub fn column(&self, index: usize, kind: ColumnKind) -> Option<ColumnReader<'_>> {
        if index >= self.column_count() {
            return None;
        }
        // SAFETY: index is in range; the vector, its data and validity mask live as long as the
        // chunk, which outlives the returned reader (it borrows self).
        unsafe {
            let vector = ffi::duckdb_data_chunk_get_vector(self.raw, index as ffi::idx_t);
            Some(ColumnReader {
                data: ffi::duckdb_vector_get_data(vector),
                validity: ffi::duckdb_vector_get_validity(vector),
                len: self.len(),
                kind,
                _chunk: std::marker::PhantomData,
            })
        }
    }
}

/// One flat column of a chunk.
pub struct ColumnReader<'a> {
    data: *mut c_void,
    validity: *mut u64,
    len: usize,
    kind: ColumnKind,
    _chunk: std::marker::PhantomData<&'a ChunkReader>,
}

impl<'a> ColumnReader<'a> {
    /// The bytes of a VARCHAR value at `row` (None for NULL, rows past the end, or another
    /// kind): no UTF-8 check, for comparing with known text on a per-row path.
    pub fn text_bytes(&self, row: usize) -> Option<&'a [u8]> {
        if row >= self.len || !matches!(self.kind, ColumnKind::Varchar) {
            return None;
        }
        // SAFETY: as in `get`: row < len, the mask covers len rows, data holds len strings.
        unsafe {
            if !self.validity.is_null() && (*self.validity.add(row / 64) >> (row % 64)) & 1 == 0 {
                return None;
            }
            Some(super::arrow::string_bytes(
                &*self.data.cast::<ffi::duckdb_string_t>().add(row),
            ))
        }
    }

    /// The value at `row` (rows past the chunk length read as NULL).
    pub fn get(&self, row: usize) -> Cell<'a> {
        if row >= self.len {
            return Cell::Null;
        }
        // SAFETY: row < len; validity is null (all valid) or a mask covering len rows; data
        // holds len values of the physical type that `kind` names (checked at bind from the
        // column's type id).
        unsafe {
            // The validity mask read directly (bit `row % 64` of word `row / 64`, DuckDB's
            // documented layout): the C API accessor is a call through a function pointer per
            // row.
            if !self.validity.is_null() && (*self.validity.add(row / 64) >> (row % 64)) & 1 == 0 {
                return Cell::Null;
            }
            match self.kind {
                ColumnKind::Boolean => Cell::Bool(*self.data.cast::<bool>().add(row)),
                ColumnKind::TinyInt => Cell::Int(*self.data.cast::<i8>().add(row) as i64),
                ColumnKind::SmallInt => Cell::Int(*self.data.cast::<i16>().add(row) as i64),
                ColumnKind::Integer => Cell::Int(*self.data.cast::<i32>().add(row) as i64),
                ColumnKind::BigInt => Cell::Int(*self.data.cast::<i64>().add(row)),
                ColumnKind::UTinyInt => Cell::UInt(*self.data.cast::<u8>().add(row) as u64),
                ColumnKind::USmallInt => Cell::UInt(*self.data.cast::<u16>().add(row) as u64),
                ColumnKind::UInteger => Cell::UInt(*self.data.cast::<u32>().add(row) as u64),
                ColumnKind::UBigInt => Cell::UInt(*self.data.cast::<u64>().add(row)),
                ColumnKind::Float => Cell::Float(*self.data.cast::<f32>().add(row) as f64),
                ColumnKind::Double => Cell::Float(*self.data.cast::<f64>().add(row)),
                ColumnKind::Varchar => {
                    let s = &*self.data.cast::<ffi::duckdb_string_t>().add(row);
                    let bytes = super::arrow::string_bytes(s);
                    // DuckDB validates VARCHAR as UTF-8; fall back to a marker rather than UB.
                    Cell::Text(std::str::from_utf8(bytes).unwrap_or("\u{FFFD}"))
                }
            }
        }
    }
}
