//! The staged table's column types, independent of DuckDB's C API: the FFI layer describes each
//! COPY column with a [`ColumnType`] at bind, and everything else (Arrow schema, Parquet schema,
//! audit types, schema fingerprint) is derived here.

use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use parquet::basic::{ConvertedType, LogicalType as ParquetLogical, Type as PhysicalType};
use parquet::schema::types::{Type as ParquetType, TypePtr};
use std::sync::Arc;

/// How DuckDB stores a DECIMAL of a given width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalStorage {
    I16,
    I32,
    I64,
    I128,
}

/// The width of an ENUM's dictionary index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnumIndex {
    U8,
    U16,
    U32,
}

/// A DuckDB column type this writer can stage.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnType {
    Null,
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    HugeInt,
    Float32,
    Float64,
    Decimal {
        width: u8,
        scale: u8,
        storage: DecimalStorage,
    },
    Varchar,
    Blob,
    Date,
    Time,
    TimeNs,
    Timestamp(TimeUnit),
    TimestampTz,
    TimestampTzNs,
    Interval,
    Uuid,
    Enum {
        values: Arc<[String]>,
        index: EnumIndex,
    },
    Struct(Vec<Column>),
    List(Box<ColumnType>),
    Map(Box<ColumnType>, Box<ColumnType>),
    Array(Box<ColumnType>, usize),
}

/// A named column (or STRUCT field).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
}

impl Column {
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Self {
        Column {
            name: name.into(),
            ty,
        }
    }
}

/// Name of the LIST element field (DuckDB's own Parquet writer uses the same).
const ELEMENT: &str = "element";

impl ColumnType {
    /// The Arrow type the column is converted to before Parquet encoding.
    pub fn arrow_type(&self) -> DataType {
        match self {
            ColumnType::Null => DataType::Null,
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::Int8 => DataType::Int8,
            ColumnType::Int16 => DataType::Int16,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::UInt8 => DataType::UInt8,
            ColumnType::UInt16 => DataType::UInt16,
            ColumnType::UInt32 => DataType::UInt32,
            ColumnType::UInt64 => DataType::UInt64,
            ColumnType::HugeInt => DataType::Decimal128(38, 0),
            ColumnType::Float32 => DataType::Float32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Decimal { width, scale, .. } => DataType::Decimal128(*width, *scale as i8),
            ColumnType::Varchar => DataType::Utf8,
            ColumnType::Blob => DataType::Binary,
            ColumnType::Date => DataType::Date32,
            ColumnType::Time => DataType::Time64(TimeUnit::Microsecond),
            ColumnType::TimeNs => DataType::Time64(TimeUnit::Nanosecond),
            // Parquet has no seconds unit: seconds are written as milliseconds.
            ColumnType::Timestamp(TimeUnit::Second) => {
                DataType::Timestamp(TimeUnit::Millisecond, None)
            }
            ColumnType::Timestamp(unit) => DataType::Timestamp(*unit, None),
            ColumnType::TimestampTz => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            ColumnType::TimestampTzNs => {
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
            }
            // Parquet's INTERVAL (months, days, milliseconds): written as raw 12-byte values and
            // annotated in `parquet_schema`, because arrow-rs cannot write month-day-nano.
            ColumnType::Interval => DataType::FixedSizeBinary(INTERVAL_BYTES),
            ColumnType::Uuid => DataType::FixedSizeBinary(UUID_BYTES),
            ColumnType::Enum { index, .. } => {
                let key = match index {
                    EnumIndex::U8 => DataType::UInt8,
                    EnumIndex::U16 => DataType::UInt16,
                    EnumIndex::U32 => DataType::UInt32,
                };
                DataType::Dictionary(Box::new(key), Box::new(DataType::Utf8))
            }
            ColumnType::Struct(fields) => DataType::Struct(struct_fields(fields)),
            ColumnType::List(child) => {
                DataType::List(Arc::new(Field::new(ELEMENT, child.arrow_type(), true)))
            }
            ColumnType::Map(key, value) => DataType::Map(map_entries_field(key, value), false),
            ColumnType::Array(child, size) => DataType::FixedSizeList(
                Arc::new(Field::new(ELEMENT, child.arrow_type(), true)),
                *size as i32,
            ),
        }
    }

    /// The DuckDB type `read_parquet` gives back for the staged column (what the warehouse sees).
    pub fn staged_sql_type(&self) -> String {
        match self {
            ColumnType::Null => "\"NULL\"".into(),
            ColumnType::Boolean => "BOOLEAN".into(),
            ColumnType::Int8 => "TINYINT".into(),
            ColumnType::Int16 => "SMALLINT".into(),
            ColumnType::Int32 => "INTEGER".into(),
            ColumnType::Int64 => "BIGINT".into(),
            ColumnType::UInt8 => "UTINYINT".into(),
            ColumnType::UInt16 => "USMALLINT".into(),
            ColumnType::UInt32 => "UINTEGER".into(),
            ColumnType::UInt64 => "UBIGINT".into(),
            ColumnType::HugeInt => "DECIMAL(38,0)".into(),
            ColumnType::Float32 => "FLOAT".into(),
            ColumnType::Float64 => "DOUBLE".into(),
            ColumnType::Decimal { width, scale, .. } => format!("DECIMAL({width},{scale})"),
            ColumnType::Varchar | ColumnType::Enum { .. } => "VARCHAR".into(),
            ColumnType::Blob => "BLOB".into(),
            ColumnType::Date => "DATE".into(),
            ColumnType::Time => "TIME".into(),
            ColumnType::TimeNs => "TIME_NS".into(),
            ColumnType::Timestamp(
                TimeUnit::Second | TimeUnit::Millisecond | TimeUnit::Microsecond,
            ) => "TIMESTAMP".into(),
            ColumnType::Timestamp(TimeUnit::Nanosecond) => "TIMESTAMP_NS".into(),
            ColumnType::TimestampTz => "TIMESTAMP WITH TIME ZONE".into(),
            ColumnType::TimestampTzNs => "TIMESTAMPTZ_NS".into(),
            ColumnType::Interval => "INTERVAL".into(),
            ColumnType::Uuid => "UUID".into(),
            ColumnType::Struct(fields) => {
                // Repeated field names (unnamed tuple fields) come back as name_1, name_2, ...
                let mut seen = std::collections::HashMap::new();
                let inner: Vec<String> = fields
                    .iter()
                    .map(|c| {
                        let n = seen.entry(c.name.as_str()).or_insert(0usize);
                        let name = if *n == 0 {
                            c.name.clone()
                        } else {
                            format!("{}_{}", c.name, n)
                        };
                        *n += 1;
                        format!("{} {}", quote_ident(&name), c.ty.staged_sql_type())
                    })
                    .collect();
                format!("STRUCT({})", inner.join(", "))
            }
            ColumnType::List(child) | ColumnType::Array(child, _) => {
                format!("{}[]", child.staged_sql_type())
            }
            ColumnType::Map(k, v) => {
                format!("MAP({}, {})", k.staged_sql_type(), v.staged_sql_type())
            }
        }
    }
}

/// Bytes of one Parquet INTERVAL value.
pub const INTERVAL_BYTES: i32 = 12;
/// Bytes of one UUID value.
pub const UUID_BYTES: i32 = 16;

fn struct_fields(columns: &[Column]) -> Fields {
    columns
        .iter()
        .map(|c| Field::new(&c.name, c.ty.arrow_type(), true))
        .collect()
}

fn map_entries_field(key: &ColumnType, value: &ColumnType) -> Arc<Field> {
    Arc::new(Field::new(
        "key_value",
        DataType::Struct(Fields::from(vec![
            Field::new("key", key.arrow_type(), false),
            Field::new("value", value.arrow_type(), true),
        ])),
        false,
    ))
}

/// The words DuckDB's parser refuses as an unquoted STRUCT field name (measured on 2.0.0 over
/// `duckdb_keywords()`; 1.5.6 knows fewer keywords). A staged type like `STRUCT(select INTEGER)`
/// would not be SQL, and dbt runs `data_type` in DDL.
const RESERVED_FIELD_NAMES: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "anti",
    "any",
    "array",
    "as",
    "asc",
    "asof",
    "asymmetric",
    "at",
    "authorization",
    "binary",
    "both",
    "by",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "default",
    "deferrable",
    "desc",
    "describe",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "glob",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lambda",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "pivot",
    "pivot_longer",
    "pivot_wider",
    "placing",
    "positional",
    "primary",
    "qualify",
    "references",
    "returning",
    "right",
    "select",
    "semi",
    "show",
    "similar",
    "some",
    "summarize",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "unpack",
    "unpivot",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// Double-quotes an identifier when it is not a plain lowercase name, or is a reserved word.
pub fn quote_ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !RESERVED_FIELD_NAMES.contains(&name);
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// The Arrow schema of the staged file: the data columns, then the metadata columns.
pub fn arrow_schema(columns: &[Column], metadata: bool) -> Schema {
    let mut fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(&c.name, c.ty.arrow_type(), true))
        .collect();
    if metadata {
        fields.extend(metadata_fields());
    }
    Schema::new(fields)
}

/// Names of the metadata columns appended to every staged row.
pub const METADATA_COLUMNS: [&str; 3] = ["_loaded_at", "_load_id", "_source_file"];

/// The metadata columns' values for a chunk of up to `rows` rows (constant per file: sliced
/// per chunk by [`write_with_constants`]).
pub fn metadata_arrays(
    loaded_at: chrono::DateTime<chrono::Utc>,
    load_id: &str,
    source_file: &str,
    rows: usize,
) -> Vec<arrow_array::ArrayRef> {
    vec![
        Arc::new(
            arrow_array::TimestampMicrosecondArray::from_value(loaded_at.timestamp_micros(), rows)
                .with_timezone("UTC"),
        ),
        Arc::new(arrow_array::StringArray::from_iter_values(
            std::iter::repeat_n(load_id, rows),
        )),
        Arc::new(arrow_array::StringArray::from_iter_values(
            std::iter::repeat_n(source_file, rows),
        )),
    ]
}

/// Appends the first `rows` values of each constant column (the metadata) and writes one
/// batch; an empty batch writes nothing.
pub fn write_with_constants(
    stream: &mut super::writer::ParquetStream,
    constants: &[arrow_array::ArrayRef],
    mut arrays: Vec<arrow_array::ArrayRef>,
    rows: usize,
) -> Result<(), String> {
    if rows == 0 {
        return Ok(());
    }
    for c in constants {
        if rows > c.len() {
            return Err(format!("a chunk of {rows} rows exceeds the vector size"));
        }
        arrays.push(c.slice(0, rows));
    }
    stream.write(arrays, rows)
}

/// The Hive partition column of the layout; readers would replace a data column of that name.
pub const PARTITION_COLUMN: &str = "load_date";

fn metadata_fields() -> Vec<Field> {
    vec![
        Field::new(
            METADATA_COLUMNS[0],
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new(METADATA_COLUMNS[1], DataType::Utf8, false),
        Field::new(METADATA_COLUMNS[2], DataType::Utf8, false),
    ]
}

/// (name, staged SQL type) of every column the staged file holds, metadata included.
pub fn staged_columns(columns: &[Column], metadata: bool) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = columns
        .iter()
        .map(|c| (c.name.clone(), c.ty.staged_sql_type()))
        .collect();
    if metadata {
        out.push((
            METADATA_COLUMNS[0].into(),
            "TIMESTAMP WITH TIME ZONE".into(),
        ));
        out.push((METADATA_COLUMNS[1].into(), "VARCHAR".into()));
        out.push((METADATA_COLUMNS[2].into(), "VARCHAR".into()));
    }
    out
}

/// A stable fingerprint (FNV-1a 64, hex) of the staged column names and types: equal
/// fingerprints mean loads are schema-compatible.
pub fn fingerprint(columns: &[(String, String)]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, ty) in columns {
        // Keywords quoted since (`"from"`) hash as before: existing lakes keep their fingerprint.
        let ty = crate::contract::model::unquote_identifiers(ty, false);
        for byte in name.bytes().chain([0u8]).chain(ty.bytes()).chain([b'\n']) {
            hash ^= byte as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Adds the annotations arrow-rs cannot derive: 12-byte fixed values are INTERVALs, 16-byte
/// fixed values are UUIDs (no other staged type maps to an unannotated fixed-length array).
pub fn annotate_parquet_schema(node: &TypePtr) -> Result<TypePtr, parquet::errors::ParquetError> {
    let info = node.get_basic_info();
    if node.is_group() {
        let children = node
            .get_fields()
            .iter()
            .map(annotate_parquet_schema)
            .collect::<Result<Vec<_>, _>>()?;
        let mut builder = ParquetType::group_type_builder(info.name())
            .with_fields(children)
            .with_logical_type(info.logical_type_ref().cloned())
            .with_converted_type(info.converted_type());
        if info.has_repetition() {
            builder = builder.with_repetition(info.repetition());
        }
        if info.has_id() {
            builder = builder.with_id(Some(info.id()));
        }
        return Ok(Arc::new(builder.build()?));
    }
    let ParquetType::PrimitiveType {
        physical_type,
        type_length,
        scale,
        precision,
        ..
    } = node.as_ref()
    else {
        return Ok(node.clone());
    };
    let unannotated =
        info.logical_type_ref().is_none() && info.converted_type() == ConvertedType::NONE;
    if *physical_type != PhysicalType::FIXED_LEN_BYTE_ARRAY || !unannotated {
        return Ok(node.clone());
    }
    let mut builder = ParquetType::primitive_type_builder(info.name(), *physical_type)
        .with_repetition(info.repetition())
        .with_length(*type_length)
        .with_scale(*scale)
        .with_precision(*precision);
    if info.has_id() {
        builder = builder.with_id(Some(info.id()));
    }
    builder = match *type_length {
        INTERVAL_BYTES => builder.with_converted_type(ConvertedType::INTERVAL),
        UUID_BYTES => builder.with_logical_type(Some(ParquetLogical::Uuid)),
        _ => builder,
    };
    Ok(Arc::new(builder.build()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::arrow::ArrowSchemaConverter;

    fn sample() -> Vec<Column> {
        vec![
            Column::new("id", ColumnType::Int64),
            Column::new("span", ColumnType::Interval),
            Column::new("uid", ColumnType::Uuid),
            Column::new(
                "nested",
                ColumnType::Struct(vec![Column::new(
                    "tags",
                    ColumnType::List(Box::new(ColumnType::Varchar)),
                )]),
            ),
        ]
    }

    #[test]
    fn parquet_schema_annotates_intervals_and_uuids_only() {
        let schema = arrow_schema(&sample(), true);
        let descr = ArrowSchemaConverter::new().convert(&schema).unwrap();
        let root = annotate_parquet_schema(&descr.root_schema_ptr()).unwrap();
        let fields = root.get_fields();
        assert_ne!(
            fields[0].get_basic_info().converted_type(),
            ConvertedType::INTERVAL
        );
        assert_eq!(
            fields[1].get_basic_info().converted_type(),
            ConvertedType::INTERVAL
        );
        assert_eq!(
            fields[2].get_basic_info().logical_type_ref(),
            Some(&ParquetLogical::Uuid)
        );
        // nested groups keep their structure and names
        assert_eq!(fields[3].name(), "nested");
        assert!(fields[3].is_group());
        assert_eq!(fields.len(), 7, "4 data columns + 3 metadata columns");
    }

    #[test]
    fn staged_types_name_what_read_parquet_returns() {
        assert_eq!(ColumnType::HugeInt.staged_sql_type(), "DECIMAL(38,0)");
        assert_eq!(
            ColumnType::Enum {
                values: Arc::from(vec!["a".to_string()]),
                index: EnumIndex::U8
            }
            .staged_sql_type(),
            "VARCHAR"
        );
        assert_eq!(
            ColumnType::Struct(vec![Column::new("Odd Name", ColumnType::Int32)]).staged_sql_type(),
            "STRUCT(\"Odd Name\" INTEGER)"
        );
        assert_eq!(
            ColumnType::Map(Box::new(ColumnType::Varchar), Box::new(ColumnType::Float64))
                .staged_sql_type(),
            "MAP(VARCHAR, DOUBLE)"
        );
    }

    #[test]
    fn reserved_words_and_odd_names_are_quoted_in_staged_struct_types() {
        let ty = ColumnType::Struct(vec![
            Column::new("select", ColumnType::Int32),
            Column::new("id", ColumnType::Int32),
            Column::new("a\"b", ColumnType::Int32),
        ]);
        assert_eq!(
            ty.staged_sql_type(),
            "STRUCT(\"select\" INTEGER, id INTEGER, \"a\"\"b\" INTEGER)"
        );
    }

    #[test]
    fn fingerprints_of_fields_starting_with_an_underscore_are_as_staged_before() {
        // Before reserved words were quoted, `_id` was already staged quoted and hashed so.
        let ty = format!("STRUCT({} VARCHAR)", quote_ident("_id"));
        assert_eq!(ty, "STRUCT(\"_id\" VARCHAR)");
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in "s".bytes().chain([0u8]).chain(ty.bytes()).chain([b'\n']) {
            hash ^= byte as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        assert_eq!(
            fingerprint(&[("s".to_string(), ty)]),
            format!("{hash:016x}")
        );
    }

    #[test]
    fn fingerprint_changes_with_names_and_types_but_not_between_runs() {
        let a = staged_columns(&sample(), true);
        let mut b = a.clone();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        b[0].1 = "INTEGER".into();
        assert_ne!(fingerprint(&a), fingerprint(&b));
        let mut c = a.clone();
        c[0].0 = "ident".into();
        assert_ne!(fingerprint(&a), fingerprint(&c));
        assert_eq!(fingerprint(&[]), "cbf29ce484222325");
        // Quoting a keyword field leaves the fingerprint as it was before keywords were quoted.
        let old = vec![(
            "s".to_string(),
            "STRUCT(value INTEGER, from INTEGER)".to_string(),
        )];
        let new = vec![(
            "s".to_string(),
            "STRUCT(value INTEGER, \"from\" INTEGER)".to_string(),
        )];
        assert_eq!(fingerprint(&old), fingerprint(&new));
    }
}
