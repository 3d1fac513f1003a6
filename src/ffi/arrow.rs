//! DuckDB vectors to Arrow arrays, for the COPY sink. [`column_type`] describes a DuckDB logical
//! type as a pure [`ColumnType`] at bind; [`ChunkReader::arrow_column`] then converts the flat
//! vectors DuckDB hands the sink, in DuckDB's physical layout, into Arrow arrays that the pure
//! staging writer encodes. Nothing here interprets the data beyond layout.

use super::chunk::{ChunkReader, type_id_name};
use crate::staging::schema::{Column, ColumnType, DecimalStorage, EnumIndex};
use arrow_array::types::*;
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, DictionaryArray, FixedSizeBinaryArray,
    FixedSizeListArray, ListArray, MapArray, NullArray, PrimitiveArray, StringArray, StructArray,
    UInt32Array,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Fields, TimeUnit};
use duckdb::ffi;
use std::ffi::CStr;
use std::sync::Arc;

/// A type the writer cannot stage: its SQL name and the STRUCT field path leading to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsupported {
    pub ty: String,
    pub path: Vec<String>,
}

impl Unsupported {
    fn new(ty: impl Into<String>) -> Self {
        Unsupported {
            ty: ty.into(),
            path: Vec::new(),
        }
    }
}

/// The deepest nesting of STRUCT / LIST / MAP / ARRAY described (review item C1). Every later
/// pass over a [`ColumnType`] (Arrow and Parquet schemas, the per-chunk conversion, contract
/// checks) recurses along it, so the bound here bounds them all. Real data nests a handful of
/// levels; DuckDB's own parser stops at 1,000.
pub const MAX_TYPE_DEPTH: usize = 100;

/// Describes a DuckDB logical type for the staging writer.
///
/// # Safety
/// `ty` must be a valid logical type for the duration of the call (it is not consumed).
pub unsafe fn column_type(ty: ffi::duckdb_logical_type) -> Result<ColumnType, Unsupported> {
    // SAFETY: the caller's contract.
    unsafe { column_type_at(ty, 0) }
}

/// [`column_type`] for a type nested `depth` levels inside a column.
///
/// # Safety
/// As [`column_type`].
unsafe fn column_type_at(
    ty: ffi::duckdb_logical_type,
    depth: usize,
) -> Result<ColumnType, Unsupported> {
    if depth > MAX_TYPE_DEPTH {
        return Err(Unsupported::new(format!(
            "nested more than {MAX_TYPE_DEPTH} levels deep (STRUCT, LIST, MAP, ARRAY)"
        )));
    }
    // SAFETY: ty is valid (caller contract); every child type we obtain is owned and destroyed
    // by `Owned`; every string DuckDB allocates is freed with duckdb_free.
    unsafe {
        let id = ffi::duckdb_get_type_id(ty);
        Ok(match id {
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_SQLNULL => ColumnType::Null,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_BOOLEAN => ColumnType::Boolean,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TINYINT => ColumnType::Int8,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_SMALLINT => ColumnType::Int16,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTEGER => ColumnType::Int32,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT => ColumnType::Int64,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_UTINYINT => ColumnType::UInt8,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_USMALLINT => ColumnType::UInt16,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_UINTEGER => ColumnType::UInt32,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_UBIGINT => ColumnType::UInt64,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_HUGEINT => ColumnType::HugeInt,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_FLOAT => ColumnType::Float32,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_DOUBLE => ColumnType::Float64,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_DECIMAL => {
                let storage = match ffi::duckdb_decimal_internal_type(ty) {
                    ffi::DUCKDB_TYPE_DUCKDB_TYPE_SMALLINT => DecimalStorage::I16,
                    ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTEGER => DecimalStorage::I32,
                    ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT => DecimalStorage::I64,
                    _ => DecimalStorage::I128,
                };
                ColumnType::Decimal {
                    width: ffi::duckdb_decimal_width(ty),
                    scale: ffi::duckdb_decimal_scale(ty),
                    storage,
                }
            }
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARCHAR => ColumnType::Varchar,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_BLOB => ColumnType::Blob,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_DATE => ColumnType::Date,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIME => ColumnType::Time,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIME_NS => ColumnType::TimeNs,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_S => ColumnType::Timestamp(TimeUnit::Second),
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_MS => {
                ColumnType::Timestamp(TimeUnit::Millisecond)
            }
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP => ColumnType::Timestamp(TimeUnit::Microsecond),
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_NS => {
                ColumnType::Timestamp(TimeUnit::Nanosecond)
            }
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_TZ => ColumnType::TimestampTz,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_TZ_NS => ColumnType::TimestampTzNs,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTERVAL => ColumnType::Interval,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_UUID => ColumnType::Uuid,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_ENUM => {
                let index = match ffi::duckdb_enum_internal_type(ty) {
                    ffi::DUCKDB_TYPE_DUCKDB_TYPE_UTINYINT => EnumIndex::U8,
                    ffi::DUCKDB_TYPE_DUCKDB_TYPE_USMALLINT => EnumIndex::U16,
                    _ => EnumIndex::U32,
                };
                let size = ffi::duckdb_enum_dictionary_size(ty);
                let values: Vec<String> = (0..size)
                    .map(|i| take_string(ffi::duckdb_enum_dictionary_value(ty, i as ffi::idx_t)))
                    .collect();
                ColumnType::Enum {
                    values: values.into(),
                    index,
                }
            }
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_STRUCT => {
                let n = ffi::duckdb_struct_type_child_count(ty);
                let mut fields = Vec::with_capacity(n as usize);
                for i in 0..n {
                    let name = take_string(ffi::duckdb_struct_type_child_name(ty, i));
                    let child = Owned(ffi::duckdb_struct_type_child_type(ty, i));
                    let child_ty = column_type_at(child.0, depth + 1).map_err(|mut u| {
                        u.path.insert(0, name.clone());
                        u
                    })?;
                    fields.push(Column::new(name, child_ty));
                }
                if fields.is_empty() {
                    return Err(Unsupported::new("STRUCT without fields"));
                }
                ColumnType::Struct(fields)
            }
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_LIST => {
                let child = Owned(ffi::duckdb_list_type_child_type(ty));
                ColumnType::List(Box::new(column_type_at(child.0, depth + 1)?))
            }
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_MAP => {
                let key = Owned(ffi::duckdb_map_type_key_type(ty));
                let value = Owned(ffi::duckdb_map_type_value_type(ty));
                ColumnType::Map(
                    Box::new(column_type_at(key.0, depth + 1)?),
                    Box::new(column_type_at(value.0, depth + 1)?),
                )
            }
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_ARRAY => {
                let child = Owned(ffi::duckdb_array_type_child_type(ty));
                let size = ffi::duckdb_array_type_array_size(ty) as usize;
                ColumnType::Array(Box::new(column_type_at(child.0, depth + 1)?), size)
            }
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_UHUGEINT => return Err(Unsupported::new("UHUGEINT")),
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGNUM => return Err(Unsupported::new("BIGNUM")),
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARIANT => return Err(Unsupported::new("VARIANT")),
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_GEOMETRY => return Err(Unsupported::new("GEOMETRY")),
            other => return Err(Unsupported::new(type_id_name(other))),
        })
    }
}

/// An owned child logical type, destroyed on drop.
struct Owned(ffi::duckdb_logical_type);

impl Drop for Owned {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: we own the type and destroy it once.
            unsafe { ffi::duckdb_destroy_logical_type(&mut self.0) };
        }
    }
}

/// Copies and frees a string DuckDB allocated for us.
unsafe fn take_string(ptr: *mut std::ffi::c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: ptr is a NUL-terminated string DuckDB allocated; we free it once after copying.
    unsafe {
        let s = CStr::from_ptr(ptr).to_string_lossy().into_owned();
        ffi::duckdb_free(ptr.cast());
        s
    }
}

impl ChunkReader {
    /// Column `index` of the chunk as an Arrow array of `ty` (the type described at bind).
    pub fn arrow_column(&self, index: usize, ty: &ColumnType) -> Result<ArrayRef, String> {
        if index >= self.column_count() {
            return Err(format!("column {index} is missing from the chunk"));
        }
        // SAFETY: index is in range; the vector lives as long as the chunk, which the caller
        // borrows for this call; it is flat (the sink receives flattened chunks) and its
        // physical layout is the one `ty` was derived from at bind.
        unsafe {
            let vector = ffi::duckdb_data_chunk_get_vector(self.raw(), index as ffi::idx_t);
            convert(vector, ty, self.len(), Mode::Stage)
        }
    }

    /// The children of a STRUCT column as Arrow arrays (the single-STRUCT COPY form).
    pub fn arrow_struct_fields(
        &self,
        index: usize,
        fields: &[Column],
    ) -> Result<Vec<ArrayRef>, String> {
        self.struct_fields(index, fields, Mode::Stage)
    }

    /// The children of a STRUCT column (a row) as Arrow arrays for the contract engine: as
    /// [`Self::arrow_struct_fields`], without Parquet's limits.
    pub fn arrow_row_for_checks(
        &self,
        index: usize,
        fields: &[Column],
    ) -> Result<Vec<ArrayRef>, String> {
        self.struct_fields(index, fields, Mode::Check)
    }

    fn struct_fields(
        &self,
        index: usize,
        fields: &[Column],
        mode: Mode,
    ) -> Result<Vec<ArrayRef>, String> {
        if index >= self.column_count() {
            return Err(format!("column {index} is missing from the chunk"));
        }
        // SAFETY: as in arrow_column; the column is a STRUCT with `fields` children (bind).
        unsafe {
            let vector = ffi::duckdb_data_chunk_get_vector(self.raw(), index as ffi::idx_t);
            fields
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    convert(
                        ffi::duckdb_struct_vector_get_child(vector, i as ffi::idx_t),
                        &f.ty,
                        self.len(),
                        mode,
                    )
                    .map_err(|e| format!("column '{}': {e}", f.name))
                })
                .collect()
        }
    }
}

/// # Safety
/// `vector` is a valid flat vector of at least `len` rows whose layout matches `ty`.
unsafe fn nulls(vector: ffi::duckdb_vector, len: usize) -> Option<NullBuffer> {
    // SAFETY: the validity mask is null (all valid) or holds ceil(len / 64) words.
    unsafe {
        let mask = ffi::duckdb_vector_get_validity(vector);
        if mask.is_null() || len == 0 {
            return None;
        }
        let words = std::slice::from_raw_parts(mask, len.div_ceil(64));
        let buffer = NullBuffer::new(BooleanBuffer::new(Buffer::from_slice_ref(words), 0, len));
        (buffer.null_count() > 0).then_some(buffer)
    }
}

/// # Safety
/// `vector`'s data holds at least `len` values of `T`.
unsafe fn values<T: Copy>(vector: ffi::duckdb_vector, len: usize) -> &'static [T] {
    // SAFETY: caller contract; the 'static is a lie confined to the conversion call (the slice
    // is copied before it returns).
    unsafe {
        let data = ffi::duckdb_vector_get_data(vector).cast::<T>();
        if data.is_null() || len == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(data, len)
        }
    }
}

/// # Safety
/// As for [`values`].
unsafe fn primitive<A: ArrowPrimitiveType>(
    vector: ffi::duckdb_vector,
    len: usize,
) -> PrimitiveArray<A>
where
    A::Native: Copy,
{
    // SAFETY: forwarded.
    unsafe {
        PrimitiveArray::<A>::new(
            ScalarBuffer::from(values::<A::Native>(vector, len).to_vec()),
            nulls(vector, len),
        )
    }
}

/// The bytes of a `duckdb_string_t`: 4-byte length, then up to 12 inlined bytes, or a 4-byte
/// prefix and a pointer (DuckDB's documented string layout; read directly because the C API's
/// accessors cost two calls through function pointers per string).
///
/// # Safety
/// `s` is a valid string of a live vector; the returned slice lives as long as that vector.
pub(crate) unsafe fn string_bytes(s: &ffi::duckdb_string_t) -> &'static [u8] {
    const _: () = assert!(std::mem::size_of::<ffi::duckdb_string_t>() == 16);
    // SAFETY: duckdb_string_t is 16 bytes (checked above); the length is the first u32; short
    // strings are inlined at byte 4, long ones point to vector-owned memory at byte 8.
    unsafe {
        let raw = &*(s as *const ffi::duckdb_string_t).cast::<[u8; 16]>();
        let n = u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
        if n <= 12 {
            std::slice::from_raw_parts(raw.as_ptr().add(4), n)
        } else {
            let mut p = [0u8; 8];
            p.copy_from_slice(&raw[8..16]);
            std::slice::from_raw_parts(usize::from_ne_bytes(p) as *const u8, n)
        }
    }
}

/// A DuckDB interval as Parquet's (months, days, milliseconds), all unsigned 32-bit: whole days
/// move out of the time part (as DuckDB's own writer does), sub-millisecond digits are cut, and
/// negative parts (which Parquet readers would take as huge unsigned values) are refused.
fn parquet_interval(iv: &ffi::duckdb_interval) -> Result<(u32, u32, u32), String> {
    const DAY_MICROS: i64 = 86_400_000_000;
    let shown = || {
        format!(
            "{} months {} days {} microseconds",
            iv.months, iv.days, iv.micros
        )
    };
    if iv.months < 0 || iv.days < 0 || iv.micros < 0 {
        return Err(format!(
            "the INTERVAL {} has a negative part, which Parquet cannot store; cast the column \
             to VARCHAR or store it as a number (e.g. epoch(...) seconds)",
            shown()
        ));
    }
    let days = i64::from(iv.days) + iv.micros / DAY_MICROS;
    let millis = (iv.micros % DAY_MICROS) / 1000;
    let days = u32::try_from(days)
        .map_err(|_| format!("the INTERVAL {} is too long for Parquet", shown()))?;
    Ok((iv.months as u32, days, millis as u32))
}

/// An interval in the staged layout (months, days, milliseconds) for the contract engine, which
/// only compares them: negative parts are kept (as their 32-bit two's complement), days move
/// out of the time part as when staging, so both surfaces key intervals alike.
fn checked_interval(iv: &ffi::duckdb_interval) -> (u32, u32, u32) {
    const DAY_MICROS: i64 = 86_400_000_000;
    let days = i64::from(iv.days) + iv.micros.div_euclid(DAY_MICROS);
    let millis = iv.micros.rem_euclid(DAY_MICROS) / 1000;
    (iv.months as u32, days as u32, millis as u32)
}

const MAX_DECIMAL38: u128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;

fn hugeint(h: &ffi::duckdb_hugeint) -> i128 {
    ((h.upper as i128) << 64) | h.lower as i128
}

/// What the arrays are for: staging (Parquet's limits apply: HUGEINT within DECIMAL(38,0),
/// intervals without negative parts) or checking a contract (every value DuckDB holds is
/// read, and errors never speak of Parquet: review U4).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Stage,
    Check,
}

unsafe fn convert(
    vector: ffi::duckdb_vector,
    ty: &ColumnType,
    len: usize,
    mode: Mode,
) -> Result<ArrayRef, String> {
    // SAFETY: every arm reads the physical layout DuckDB uses for the type `ty` was derived
    // from (caller contract).
    unsafe {
        Ok(match ty {
            ColumnType::Null => Arc::new(NullArray::new(len)),
            ColumnType::Boolean => {
                let v = values::<u8>(vector, len);
                let bits = BooleanBuffer::collect_bool(len, |i| v[i] != 0);
                Arc::new(BooleanArray::new(bits, nulls(vector, len)))
            }
            ColumnType::Int8 => Arc::new(primitive::<Int8Type>(vector, len)),
            ColumnType::Int16 => Arc::new(primitive::<Int16Type>(vector, len)),
            ColumnType::Int32 => Arc::new(primitive::<Int32Type>(vector, len)),
            ColumnType::Int64 => Arc::new(primitive::<Int64Type>(vector, len)),
            ColumnType::UInt8 => Arc::new(primitive::<UInt8Type>(vector, len)),
            ColumnType::UInt16 => Arc::new(primitive::<UInt16Type>(vector, len)),
            ColumnType::UInt32 => Arc::new(primitive::<UInt32Type>(vector, len)),
            ColumnType::UInt64 => Arc::new(primitive::<UInt64Type>(vector, len)),
            ColumnType::Float32 => Arc::new(primitive::<Float32Type>(vector, len)),
            ColumnType::Float64 => Arc::new(primitive::<Float64Type>(vector, len)),
            ColumnType::HugeInt => {
                let validity = nulls(vector, len);
                let v: Vec<i128> = values::<ffi::duckdb_hugeint>(vector, len)
                    .iter()
                    .map(hugeint)
                    .collect();
                // Parquet's widest integer-like type is DECIMAL(38,0); HUGEINT reaches past it.
                if let Some(bad) = v.iter().enumerate().find(|(i, x)| {
                    mode == Mode::Stage
                        && x.unsigned_abs() > MAX_DECIMAL38
                        && validity.as_ref().is_none_or(|n| n.is_valid(*i))
                }) {
                    return Err(format!(
                        "the HUGEINT value {} does not fit DECIMAL(38,0), the widest Parquet \
                         integer; cast the column to VARCHAR or DOUBLE",
                        bad.1
                    ));
                }
                Arc::new(
                    PrimitiveArray::<Decimal128Type>::new(ScalarBuffer::from(v), validity)
                        .with_precision_and_scale(38, 0)
                        .map_err(|e| e.to_string())?,
                )
            }
            ColumnType::Decimal {
                width,
                scale,
                storage,
            } => {
                let v: Vec<i128> = match storage {
                    DecimalStorage::I16 => values::<i16>(vector, len)
                        .iter()
                        .map(|x| *x as i128)
                        .collect(),
                    DecimalStorage::I32 => values::<i32>(vector, len)
                        .iter()
                        .map(|x| *x as i128)
                        .collect(),
                    DecimalStorage::I64 => values::<i64>(vector, len)
                        .iter()
                        .map(|x| *x as i128)
                        .collect(),
                    DecimalStorage::I128 => values::<ffi::duckdb_hugeint>(vector, len)
                        .iter()
                        .map(hugeint)
                        .collect(),
                };
                Arc::new(
                    PrimitiveArray::<Decimal128Type>::new(
                        ScalarBuffer::from(v),
                        nulls(vector, len),
                    )
                    .with_precision_and_scale(*width, *scale as i8)
                    .map_err(|e| e.to_string())?,
                )
            }
            ColumnType::Varchar | ColumnType::Blob => {
                let strings = values::<ffi::duckdb_string_t>(vector, len);
                let validity = nulls(vector, len);
                let mut offsets: Vec<i32> = Vec::with_capacity(len + 1);
                offsets.push(0);
                let mut bytes: Vec<u8> = Vec::new();
                for (i, s) in strings.iter().enumerate() {
                    if validity.as_ref().is_none_or(|n| n.is_valid(i)) {
                        bytes.extend_from_slice(string_bytes(s));
                    }
                    let end = i32::try_from(bytes.len())
                        .map_err(|_| "a chunk holds more than 2 GiB of text".to_string())?;
                    offsets.push(end);
                }
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                let bytes = Buffer::from_vec(bytes);
                if matches!(ty, ColumnType::Varchar) {
                    // SAFETY: DuckDB validates VARCHAR as UTF-8; offsets are monotonic by
                    // construction and end at bytes.len().
                    Arc::new(StringArray::new_unchecked(offsets, bytes, validity))
                } else {
                    Arc::new(BinaryArray::new(offsets, bytes, validity))
                }
            }
            ColumnType::Date => Arc::new(primitive::<Date32Type>(vector, len)),
            ColumnType::Time => Arc::new(primitive::<Time64MicrosecondType>(vector, len)),
            ColumnType::TimeNs => Arc::new(primitive::<Time64NanosecondType>(vector, len)),
            ColumnType::Timestamp(TimeUnit::Second) => {
                let v: Vec<i64> = values::<i64>(vector, len)
                    .iter()
                    .map(|s| s.saturating_mul(1000))
                    .collect();
                Arc::new(PrimitiveArray::<TimestampMillisecondType>::new(
                    ScalarBuffer::from(v),
                    nulls(vector, len),
                ))
            }
            ColumnType::Timestamp(TimeUnit::Millisecond) => {
                Arc::new(primitive::<TimestampMillisecondType>(vector, len))
            }
            ColumnType::Timestamp(TimeUnit::Microsecond) => {
                Arc::new(primitive::<TimestampMicrosecondType>(vector, len))
            }
            ColumnType::Timestamp(TimeUnit::Nanosecond) => {
                Arc::new(primitive::<TimestampNanosecondType>(vector, len))
            }
            ColumnType::TimestampTz => {
                Arc::new(primitive::<TimestampMicrosecondType>(vector, len).with_timezone("UTC"))
            }
            ColumnType::TimestampTzNs => {
                Arc::new(primitive::<TimestampNanosecondType>(vector, len).with_timezone("UTC"))
            }
            ColumnType::Interval => {
                let validity = nulls(vector, len);
                let mut bytes = Vec::with_capacity(len * 12);
                for (i, iv) in values::<ffi::duckdb_interval>(vector, len)
                    .iter()
                    .enumerate()
                {
                    let (months, days, millis) = if validity.as_ref().is_none_or(|n| n.is_valid(i))
                    {
                        match mode {
                            Mode::Stage => parquet_interval(iv)?,
                            Mode::Check => checked_interval(iv),
                        }
                    } else {
                        (0, 0, 0)
                    };
                    bytes.extend_from_slice(&months.to_le_bytes());
                    bytes.extend_from_slice(&days.to_le_bytes());
                    bytes.extend_from_slice(&millis.to_le_bytes());
                }
                Arc::new(FixedSizeBinaryArray::new(
                    12,
                    Buffer::from_vec(bytes),
                    validity,
                ))
            }
            ColumnType::Uuid => {
                let mut bytes = Vec::with_capacity(len * 16);
                for h in values::<ffi::duckdb_hugeint>(vector, len) {
                    // DuckDB stores UUIDs with the top bit flipped so they sort as signed.
                    bytes.extend_from_slice(&((h.upper as u64) ^ (1 << 63)).to_be_bytes());
                    bytes.extend_from_slice(&h.lower.to_be_bytes());
                }
                Arc::new(FixedSizeBinaryArray::new(
                    16,
                    Buffer::from_vec(bytes),
                    nulls(vector, len),
                ))
            }
            ColumnType::Enum {
                values: dict,
                index,
            } => {
                let dictionary: ArrayRef = Arc::new(StringArray::from_iter_values(dict.iter()));
                match index {
                    EnumIndex::U8 => enum_array::<UInt8Type>(vector, len, dictionary)?,
                    EnumIndex::U16 => enum_array::<UInt16Type>(vector, len, dictionary)?,
                    EnumIndex::U32 => enum_array::<UInt32Type>(vector, len, dictionary)?,
                }
            }
            ColumnType::Struct(fields) => {
                let children = fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        convert(
                            ffi::duckdb_struct_vector_get_child(vector, i as ffi::idx_t),
                            &f.ty,
                            len,
                            mode,
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let DataType::Struct(arrow_fields) = ty.arrow_type() else {
                    return Err("internal error: STRUCT without fields".into());
                };
                Arc::new(
                    StructArray::try_new(arrow_fields, children, nulls(vector, len))
                        .map_err(|e| e.to_string())?,
                )
            }
            ColumnType::List(child) => {
                let (offsets, elements, validity) = list_parts(vector, child, len, mode)?;
                let field = Arc::new(Field::new("element", child.arrow_type(), true));
                Arc::new(
                    ListArray::try_new(field, offsets, elements, validity)
                        .map_err(|e| e.to_string())?,
                )
            }
            ColumnType::Map(key, value) => {
                let entry_ty = ColumnType::Struct(vec![
                    Column::new("key", (**key).clone()),
                    Column::new("value", (**value).clone()),
                ]);
                let (offsets, entries, validity) = list_parts(vector, &entry_ty, len, mode)?;
                let DataType::Map(entries_field, _) = ty.arrow_type() else {
                    return Err("internal error: MAP type".into());
                };
                let DataType::Struct(entry_fields) = entries_field.data_type().clone() else {
                    return Err("internal error: MAP entries".into());
                };
                let entries = entries
                    .as_any()
                    .downcast_ref::<StructArray>()
                    .ok_or("internal error: MAP entries are not a STRUCT")?;
                let (_, columns, _) = entries.clone().into_parts();
                let entries =
                    StructArray::try_new(Fields::from(entry_fields.to_vec()), columns, None)
                        .map_err(|e| e.to_string())?;
                Arc::new(
                    MapArray::try_new(entries_field, offsets, entries, validity, false)
                        .map_err(|e| e.to_string())?,
                )
            }
            ColumnType::Array(child, size) => {
                let elements = convert(
                    ffi::duckdb_array_vector_get_child(vector),
                    child,
                    len * size,
                    mode,
                )?;
                let field = Arc::new(Field::new("element", child.arrow_type(), true));
                Arc::new(
                    FixedSizeListArray::try_new(field, *size as i32, elements, nulls(vector, len))
                        .map_err(|e| e.to_string())?,
                )
            }
        })
    }
}

/// An ENUM vector (dictionary indices of width `K`) as an Arrow dictionary array. Indices under
/// NULL rows may be garbage: they are zeroed so the array validates.
///
/// # Safety
/// `vector` is a valid flat ENUM vector of `len` rows whose index type is `K`.
unsafe fn enum_array<K>(
    vector: ffi::duckdb_vector,
    len: usize,
    dictionary: ArrayRef,
) -> Result<ArrayRef, String>
where
    K: arrow_array::types::ArrowDictionaryKeyType,
    K::Native: Copy + Default,
{
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        let validity = nulls(vector, len);
        let keys: Vec<K::Native> = values::<K::Native>(vector, len)
            .iter()
            .enumerate()
            .map(|(i, k)| {
                if validity.as_ref().is_none_or(|n| n.is_valid(i)) {
                    *k
                } else {
                    K::Native::default()
                }
            })
            .collect();
        let keys = PrimitiveArray::<K>::new(ScalarBuffer::from(keys), validity);
        Ok(Arc::new(
            DictionaryArray::try_new(keys, dictionary).map_err(|e| e.to_string())?,
        ))
    }
}

/// Offsets, elements and validity of a LIST-layout vector (LIST and MAP). DuckDB's list entries
/// may point anywhere in the child vector; contiguous entries (the common case) slice the
/// child, others are gathered.
unsafe fn list_parts(
    vector: ffi::duckdb_vector,
    child: &ColumnType,
    len: usize,
    mode: Mode,
) -> Result<(OffsetBuffer<i32>, ArrayRef, Option<NullBuffer>), String> {
    // SAFETY: vector is a LIST/MAP vector (caller contract): its data holds `len` list entries
    // and its child holds list_size elements.
    unsafe {
        let entries = values::<ffi::duckdb_list_entry>(vector, len);
        let validity = nulls(vector, len);
        let size = ffi::duckdb_list_vector_get_size(vector) as usize;
        let all = convert(ffi::duckdb_list_vector_get_child(vector), child, size, mode)?;
        let valid = |i: usize| validity.as_ref().is_none_or(|n| n.is_valid(i));
        let mut start = None;
        let mut next = 0u64;
        let mut contiguous = true;
        for (i, e) in entries.iter().enumerate() {
            if !valid(i) || e.length == 0 {
                continue;
            }
            match start {
                None => start = Some(e.offset),
                Some(_) if e.offset != next => contiguous = false,
                _ => {}
            }
            next = e.offset + e.length;
        }
        let mut offsets: Vec<i32> = Vec::with_capacity(len + 1);
        offsets.push(0);
        let mut total: usize = 0;
        let mut gather: Vec<u32> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            if valid(i) && e.length > 0 {
                let (o, l) = (e.offset as usize, e.length as usize);
                if o + l > size {
                    return Err("internal error: list entry beyond its child vector".into());
                }
                if !contiguous {
                    gather.extend((o..o + l).map(|x| x as u32));
                }
                total += l;
            }
            offsets.push(
                i32::try_from(total)
                    .map_err(|_| "a chunk holds more than 2^31 list elements".to_string())?,
            );
        }
        let elements = if contiguous {
            all.slice(start.unwrap_or(0) as usize, total)
        } else {
            arrow_select::take::take(&all, &UInt32Array::from(gather), None)
                .map_err(|e| e.to_string())?
        };
        Ok((
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            elements,
            validity,
        ))
    }
}
