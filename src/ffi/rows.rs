//! Small table functions that compute all their rows at bind (`etl_audit`, `etl_dbt_sources`,
//! `etl_clean_stale`): implement [`RowsFunction`] and register `Rows<T>`. Values are plain
//! [`Val`]s; nested LIST/STRUCT columns are written generically.

use super::logical::LogicalType;
use super::table::{OutputChunk, TableBindInfo, TableFunction, TableInitInfo};
use super::vector::VectorWriter;
use duckdb::ffi;
use std::error::Error;
use std::marker::PhantomData;
use std::sync::Mutex;

/// A column type of a rows function.
#[derive(Debug, Clone)]
pub enum ColDesc {
    Text,
    BigInt,
    /// TIMESTAMP WITH TIME ZONE, values in microseconds since the epoch.
    TimestampTz,
    List(Box<ColDesc>),
    Struct(Vec<(&'static str, ColDesc)>),
}

impl ColDesc {
    fn logical(&self) -> LogicalType {
        match self {
            ColDesc::Text => LogicalType::varchar(),
            ColDesc::BigInt => LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT),
            ColDesc::TimestampTz => LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_TZ),
            ColDesc::List(child) => LogicalType::list(&child.logical()),
            ColDesc::Struct(fields) => LogicalType::structure(
                &fields
                    .iter()
                    .map(|(n, d)| (n.to_string(), d.logical()))
                    .collect::<Vec<_>>(),
            ),
        }
    }
}

/// One value of a rows function.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Text(String),
    Int(i64),
    List(Vec<Val>),
    Struct(Vec<Val>),
}

impl Val {
    pub fn opt_text(v: Option<&str>) -> Val {
        v.map_or(Val::Null, |s| Val::Text(s.to_string()))
    }
    pub fn opt_int(v: Option<i64>) -> Val {
        v.map_or(Val::Null, Val::Int)
    }
}

/// Named parameters declared `ANY` (checked by the option table, so errors name the option and
/// what it accepts).
pub fn any_typed(specs: &[crate::options::OptionSpec]) -> Vec<(&'static str, LogicalType)> {
    specs
        .iter()
        .map(|s| {
            (
                s.name,
                LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_ANY),
            )
        })
        .collect()
}

pub trait RowsFunction: 'static {
    const NAME: &'static str;
    fn parameters() -> Vec<LogicalType>;
    fn named_parameters() -> Vec<(&'static str, LogicalType)> {
        Vec::new()
    }
    fn columns() -> Vec<(&'static str, ColDesc)>;
    /// All rows, each with one value per column.
    fn rows(info: &mut TableBindInfo) -> Result<Vec<Vec<Val>>, Box<dyn Error>>;
}

pub struct Rows<T>(PhantomData<T>);

pub struct RowsBind {
    columns: Vec<ColDesc>,
    rows: Vec<Vec<Val>>,
}

pub struct RowsInit {
    projected: Vec<usize>,
    next: Mutex<usize>,
}

impl<T: RowsFunction> TableFunction for Rows<T> {
    const NAME: &'static str = T::NAME;
    type BindData = RowsBind;
    type InitData = RowsInit;

    fn parameters() -> Vec<LogicalType> {
        T::parameters()
    }
    fn named_parameters() -> Vec<(&'static str, LogicalType)> {
        T::named_parameters()
    }
    fn bind(info: &mut TableBindInfo) -> Result<RowsBind, Box<dyn Error>> {
        let columns = T::columns();
        for (name, desc) in &columns {
            info.add_result_column(name, &desc.logical());
        }
        let rows = T::rows(info)?;
        Ok(RowsBind {
            columns: columns.into_iter().map(|(_, d)| d).collect(),
            rows,
        })
    }
    fn init(info: &TableInitInfo, _bind: &RowsBind) -> Result<RowsInit, Box<dyn Error>> {
        info.set_max_threads(1);
        Ok(RowsInit {
            projected: info.projected_columns(),
            next: Mutex::new(0),
        })
    }
    fn scan(bind: &RowsBind, init: &RowsInit, out: &mut OutputChunk) -> Result<(), Box<dyn Error>> {
        let mut next = init.next.lock().map_err(|_| "scan state poisoned")?;
        let start = *next;
        let end = (start + out.capacity()).min(bind.rows.len());
        for (out_index, &column) in init.projected.iter().enumerate() {
            let values: Vec<&Val> = bind.rows[start..end].iter().map(|r| &r[column]).collect();
            let desc = bind
                .columns
                .get(column)
                .ok_or("projected column out of range")?;
            write(&mut out.column(out_index), desc, &values)?;
        }
        out.set_len(end - start);
        *next = end;
        Ok(())
    }
}

fn write(w: &mut VectorWriter, desc: &ColDesc, values: &[&Val]) -> Result<(), Box<dyn Error>> {
    match desc {
        ColDesc::Text => {
            for (row, v) in values.iter().enumerate() {
                match v {
                    Val::Text(s) => w.set_str(row, s)?,
                    _ => w.set_null(row),
                }
            }
        }
        ColDesc::BigInt | ColDesc::TimestampTz => {
            let mut nulls = Vec::new();
            {
                let slots = w.i64s()?;
                for (row, v) in values.iter().enumerate() {
                    match v {
                        Val::Int(i) => slots[row] = *i,
                        _ => nulls.push(row),
                    }
                }
            }
            for row in nulls {
                w.set_null(row);
            }
        }
        ColDesc::List(child) => {
            let total: usize = values
                .iter()
                .map(|v| {
                    if let Val::List(items) = v {
                        items.len()
                    } else {
                        0
                    }
                })
                .sum();
            let mut nulls = Vec::new();
            {
                let entries = w.list_entries()?;
                let mut offset = 0u64;
                for (row, v) in values.iter().enumerate() {
                    let n = match v {
                        Val::List(items) => items.len() as u64,
                        _ => {
                            nulls.push(row);
                            0
                        }
                    };
                    entries[row] = ffi::duckdb_list_entry { offset, length: n };
                    offset += n;
                }
            }
            for row in nulls {
                w.set_null(row);
            }
            let items: Vec<&Val> = values
                .iter()
                .flat_map(|v| match v {
                    Val::List(items) => items.iter().collect::<Vec<_>>(),
                    _ => Vec::new(),
                })
                .collect();
            let mut child_writer = w.list_child(total)?;
            write(&mut child_writer, child, &items)?;
        }
        ColDesc::Struct(fields) => {
            for (i, (_, field)) in fields.iter().enumerate() {
                let column: Vec<&Val> = values
                    .iter()
                    .map(|v| match v {
                        Val::Struct(members) => members.get(i).unwrap_or(&Val::Null),
                        _ => &Val::Null,
                    })
                    .collect();
                write(&mut w.struct_child(i)?, field, &column)?;
            }
            for (row, v) in values.iter().enumerate() {
                if !matches!(v, Val::Struct(_)) {
                    w.set_null(row);
                }
            }
        }
    }
    Ok(())
}
