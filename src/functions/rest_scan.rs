//! `rest_scan(url, ...)`: a paginated REST API as a table. The HTTP work, pagination and schema
//! inference live in `crate::rest`; this file declares the SQL surface and writes records into
//! DuckDB vectors.

use crate::ffi::{
    LogicalType, OutputChunk, TableBindInfo, TableFunction, TableInitInfo, VectorWriter,
};
use crate::options::{OptionKind, Options};
use crate::rest::client::{Client, PageRecords, Prefetch, RestError, runtime};
use crate::rest::config::{FUNCTION, OPTIONS, SchemaMode, scan_config};
use crate::rest::schema::{JType, infer, parse_date, parse_timestamp};
use duckdb::ffi;
use serde_json::Value;
use std::collections::VecDeque;
use std::error::Error;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub struct RestScan;

pub struct RestScanBindData {
    client: Arc<Client>,
    columns: Vec<(String, JType)>,
    json_column: bool,
    /// Pages fetched during bind; the first scan continues from them.
    prefetch: Mutex<Option<Prefetch>>,
    /// How many records the schema was inferred from (for error messages).
    sampled: usize,
}

struct ScanState {
    rx: mpsc::Receiver<Result<PageRecords, RestError>>,
    page: VecDeque<Value>,
    done: bool,
    /// Records emitted so far (1-based numbering in messages).
    emitted: u64,
}

pub struct RestScanInitData {
    projection: Vec<usize>,
    state: Mutex<ScanState>,
    task: JoinHandle<()>,
}

impl Drop for RestScanInitData {
    /// The query ended (or stopped early, e.g. LIMIT): stop fetching.
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn json_type_of(t: &JType) -> LogicalType {
    match t {
        JType::Null | JType::Varchar => LogicalType::varchar(),
        JType::Json => LogicalType::json(),
        JType::Boolean => LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_BOOLEAN),
        JType::Integer => LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTEGER),
        JType::BigInt => LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT),
        JType::Double => LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_DOUBLE),
        JType::Date => LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_DATE),
        JType::Timestamp => LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP),
        JType::TimestampTz => LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_TZ),
        JType::List(child) => LogicalType::list(&json_type_of(child)),
        JType::Struct(fields) => {
            let members: Vec<(String, LogicalType)> = fields
                .iter()
                .map(|(n, t)| (n.clone(), json_type_of(t)))
                .collect();
            LogicalType::structure(&members)
        }
    }
}

/// DuckDB type of a named parameter: every option is taken as ANY and checked by our own
/// option table, so errors name the option and the accepted values.
fn parameter_type(_kind: &OptionKind) -> LogicalType {
    LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_ANY)
}

impl TableFunction for RestScan {
    const NAME: &'static str = FUNCTION;
    type BindData = RestScanBindData;
    type InitData = RestScanInitData;

    fn parameters() -> Vec<LogicalType> {
        vec![LogicalType::varchar()]
    }

    fn named_parameters() -> Vec<(&'static str, LogicalType)> {
        OPTIONS
            .iter()
            .map(|s| (s.name, parameter_type(&s.kind)))
            .collect()
    }

    fn bind(info: &mut TableBindInfo) -> Result<RestScanBindData, Box<dyn Error>> {
        let url = match info.parameter(0) {
            crate::options::OptionValue::Text(u) => u,
            other => return Err(format!("{FUNCTION}: the URL must be text, got {other}").into()),
        };
        let options = Options::parse(FUNCTION, OPTIONS, &info.named_parameters())?;
        let config = scan_config(&url, &options, |name| std::env::var(name).ok())?;
        let schema_mode = config.schema.clone();
        let client = Client::new(config)?;
        let sample = match &schema_mode {
            SchemaMode::Infer { sample_size } => *sample_size,
            _ => 0,
        };
        let prefetch = runtime()?.block_on(client.prefetch(sample))?;
        let (columns, json_column) = match schema_mode {
            SchemaMode::JsonColumn => (vec![("json".to_string(), JType::Json)], true),
            SchemaMode::Fixed(cols) => (cols, false),
            SchemaMode::Infer { sample_size } => {
                let sample = prefetch.pages.iter().flatten().take(sample_size);
                let cols = infer(sample);
                if cols.is_empty() {
                    return Err(client
                        .error(
                            "the first page has no records to infer the schema from; \
                             give the schema with columns := {'name': 'TYPE', ...} or use json_column := true",
                        )
                        .into());
                }
                (cols, false)
            }
        };
        if let Some(column) = &client.cfg.cursor_column
            && !columns.iter().any(|(n, _)| n == column)
        {
            return Err(client
                .error(format!(
                    "cursor_column '{column}' is not a column of the response"
                ))
                .into());
        }
        for (name, ty) in &columns {
            info.add_result_column(name, &json_type_of(ty));
        }
        // Only an inferred schema has a sample to blame in messages; fixed columns and the JSON
        // column deliberately leave other fields out.
        let sampled = if let SchemaMode::Infer { sample_size } = client.cfg.schema {
            prefetch
                .pages
                .iter()
                .map(Vec::len)
                .sum::<usize>()
                .min(sample_size)
        } else {
            0
        };
        Ok(RestScanBindData {
            client,
            columns,
            json_column,
            prefetch: Mutex::new(Some(prefetch)),
            sampled,
        })
    }

    fn init(
        info: &TableInitInfo,
        bind: &RestScanBindData,
    ) -> Result<RestScanInitData, Box<dyn Error>> {
        info.set_max_threads(1);
        let rt = runtime()?;
        let prefetched = bind
            .prefetch
            .lock()
            .map_err(|_| "rest_scan: state lock poisoned")?
            .take();
        let state = match prefetched {
            Some(p) => p,
            // A second execution of the same bound statement starts over.
            None => rt.block_on(bind.client.prefetch(0))?,
        };
        let (tx, rx) = mpsc::channel(bind.client.cfg.concurrency.max(2));
        let task = rt.spawn(Arc::clone(&bind.client).run(state, tx));
        Ok(RestScanInitData {
            projection: info.projected_columns(),
            state: Mutex::new(ScanState {
                rx,
                page: VecDeque::new(),
                done: false,
                emitted: 0,
            }),
            task,
        })
    }

    fn scan(
        bind: &RestScanBindData,
        init: &RestScanInitData,
        out: &mut OutputChunk,
    ) -> Result<(), Box<dyn Error>> {
        let mut state = init
            .state
            .lock()
            .map_err(|_| "rest_scan: state lock poisoned")?;
        let capacity = out.capacity();
        let mut rows: Vec<Value> = Vec::with_capacity(capacity);
        while rows.len() < capacity && !state.done {
            if let Some(record) = state.page.pop_front() {
                rows.push(record);
                continue;
            }
            match state.rx.blocking_recv() {
                Some(Ok(page)) => state.page = VecDeque::from(page),
                Some(Err(e)) => return Err(Box::new(e)),
                None => state.done = true,
            }
        }
        let first = state.emitted + 1;
        state.emitted += rows.len() as u64;
        drop(state);
        let ctx = WriteCtx {
            bind,
            first_record: first,
        };
        if bind.json_column {
            let mut column = out.column(0);
            for (row, record) in rows.iter().enumerate() {
                column.set_str(row, &record.to_string())?;
            }
        } else {
            if bind.client.cfg.unknown_fields_error {
                ctx.check_unknown_top_level(&rows)?;
            }
            for (out_index, &col) in init.projection.iter().enumerate() {
                let Some((name, ty)) = bind.columns.get(col) else {
                    continue;
                };
                let values: Vec<Option<&Value>> = rows.iter().map(|r| field(r, name)).collect();
                let mut writer = out.column(out_index);
                ctx.write(&mut writer, ty, &values, name)?;
            }
        }
        out.set_len(rows.len());
        Ok(())
    }
}

/// A record's top-level field; non-object records are the single column `value`.
fn field<'a>(record: &'a Value, name: &str) -> Option<&'a Value> {
    match record {
        Value::Object(map) => map.get(name),
        other if name == "value" => Some(other),
        _ => None,
    }
}

struct WriteCtx<'a> {
    bind: &'a RestScanBindData,
    first_record: u64,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl WriteCtx<'_> {
    fn misfit(&self, row: usize, path: &str, value: &Value, ty: &JType) -> RestError {
        let mut shown = value.to_string();
        if shown.len() > 80 {
            shown = format!("{}...", shown.chars().take(80).collect::<String>());
        }
        let origin = if self.bind.sampled > 0 && !self.bind.json_column {
            format!(
                "the column type {ty} (inferred from the first {} records)",
                self.bind.sampled
            )
        } else {
            format!("the column type {ty}")
        };
        self.bind.client.error(format!(
            "record {} field '{path}' has {} value {shown}, which does not fit {origin}; \
             declare the type with columns := {{...}}, raise sample_size, or use json_column := true",
            self.first_record + row as u64,
            kind(value)
        ))
    }

    fn check_unknown_top_level(&self, rows: &[Value]) -> Result<(), RestError> {
        if self.bind.sampled == 0 {
            // Fixed columns: other fields are deliberately left out.
            return Ok(());
        }
        for (row, record) in rows.iter().enumerate() {
            if let Value::Object(map) = record {
                let known = self
                    .bind
                    .columns
                    .iter()
                    .filter(|(n, _)| map.contains_key(n))
                    .count();
                if known < map.len()
                    && let Some(extra) = map
                        .keys()
                        .find(|k| !self.bind.columns.iter().any(|(n, _)| n == *k))
                {
                    return Err(self.unknown(row, extra));
                }
            }
        }
        Ok(())
    }

    fn unknown(&self, row: usize, path: &str) -> RestError {
        self.bind.client.error(format!(
            "record {} has a field '{path}' that the first {} records did not have, so it is not in the schema; \
             raise sample_size, declare columns := {{...}}, or pass unknown_fields := 'ignore' to drop such fields",
            self.first_record + row as u64,
            self.bind.sampled
        ))
    }

    /// Writes one value per row into `w` as type `ty`. `path` names the field in messages.
    fn write(
        &self,
        w: &mut VectorWriter,
        ty: &JType,
        values: &[Option<&Value>],
        path: &str,
    ) -> Result<(), Box<dyn Error>> {
        let mut nulls = Vec::new();
        match ty {
            JType::Boolean => {
                let slots = w.bools()?;
                for (row, v) in values.iter().enumerate() {
                    match v {
                        None | Some(Value::Null) => nulls.push(row),
                        Some(Value::Bool(b)) => slots[row] = *b,
                        Some(Value::String(s)) if s == "true" || s == "false" => {
                            slots[row] = s == "true"
                        }
                        Some(other) => return Err(self.misfit(row, path, other, ty).into()),
                    }
                }
            }
            JType::BigInt | JType::Integer => {
                let wide = matches!(ty, JType::BigInt);
                let mut ints = Vec::with_capacity(values.len());
                for (row, v) in values.iter().enumerate() {
                    let n = match v {
                        None | Some(Value::Null) => {
                            nulls.push(row);
                            0
                        }
                        Some(other) => {
                            as_i64(other).ok_or_else(|| self.misfit(row, path, other, ty))?
                        }
                    };
                    if !wide
                        && i32::try_from(n).is_err()
                        && let Some(v) = v
                    {
                        return Err(self.misfit(row, path, v, ty).into());
                    }
                    ints.push(n);
                }
                if wide {
                    w.i64s()?[..ints.len()].copy_from_slice(&ints);
                } else {
                    let slots = w.i32s()?;
                    for (row, n) in ints.iter().enumerate() {
                        slots[row] = *n as i32;
                    }
                }
            }
            JType::Double => {
                let slots = w.f64s()?;
                for (row, v) in values.iter().enumerate() {
                    match v {
                        None | Some(Value::Null) => nulls.push(row),
                        Some(Value::Number(n)) => slots[row] = n.as_f64().unwrap_or(f64::NAN),
                        Some(Value::String(s)) => {
                            slots[row] = s.trim().parse::<f64>().map_err(|_| {
                                self.misfit(row, path, v.unwrap_or(&Value::Null), ty)
                            })?
                        }
                        Some(other) => return Err(self.misfit(row, path, other, ty).into()),
                    }
                }
            }
            JType::Date => {
                let slots = w.i32s()?;
                for (row, v) in values.iter().enumerate() {
                    match v {
                        None | Some(Value::Null) => nulls.push(row),
                        Some(Value::String(s)) => {
                            slots[row] = parse_date(s).ok_or_else(|| {
                                self.misfit(row, path, v.unwrap_or(&Value::Null), ty)
                            })?
                        }
                        Some(other) => return Err(self.misfit(row, path, other, ty).into()),
                    }
                }
            }
            JType::Timestamp | JType::TimestampTz => {
                let slots = w.i64s()?;
                for (row, v) in values.iter().enumerate() {
                    match v {
                        None | Some(Value::Null) => nulls.push(row),
                        Some(Value::String(s)) => {
                            slots[row] = parse_timestamp(s)
                                .map(|(us, _)| us)
                                .or_else(|| parse_date(s).map(|d| d as i64 * 86_400_000_000))
                                .ok_or_else(|| {
                                    self.misfit(row, path, v.unwrap_or(&Value::Null), ty)
                                })?
                        }
                        Some(other) => return Err(self.misfit(row, path, other, ty).into()),
                    }
                }
            }
            JType::Null | JType::Varchar => {
                for (row, v) in values.iter().enumerate() {
                    match v {
                        None | Some(Value::Null) => nulls.push(row),
                        Some(Value::String(s)) => w.set_str(row, s)?,
                        // Numbers, booleans, objects and arrays keep their JSON text.
                        Some(other) => w.set_str(row, &other.to_string())?,
                    }
                }
            }
            JType::Json => {
                for (row, v) in values.iter().enumerate() {
                    match v {
                        None | Some(Value::Null) => nulls.push(row),
                        Some(other) => w.set_str(row, &other.to_string())?,
                    }
                }
            }
            JType::List(child_ty) => {
                let mut children: Vec<Option<&Value>> = Vec::new();
                {
                    let entries = w.list_entries()?;
                    for (row, v) in values.iter().enumerate() {
                        match v {
                            None | Some(Value::Null) => {
                                entries[row] = ffi::duckdb_list_entry {
                                    offset: children.len() as u64,
                                    length: 0,
                                };
                                nulls.push(row);
                            }
                            Some(Value::Array(items)) => {
                                entries[row] = ffi::duckdb_list_entry {
                                    offset: children.len() as u64,
                                    length: items.len() as u64,
                                };
                                children.extend(items.iter().map(Some));
                            }
                            Some(other) => return Err(self.misfit(row, path, other, ty).into()),
                        }
                    }
                }
                let mut child = w.list_child(children.len())?;
                let child_path = format!("{path}[]");
                self.write(&mut child, child_ty, &children, &child_path)?;
            }
            JType::Struct(fields) => {
                for (row, v) in values.iter().enumerate() {
                    match v {
                        None | Some(Value::Null) => nulls.push(row),
                        Some(Value::Object(map)) => {
                            if self.bind.client.cfg.unknown_fields_error
                                && self.bind.sampled > 0
                                && fields.iter().filter(|(n, _)| map.contains_key(n)).count()
                                    < map.len()
                                && let Some(extra) =
                                    map.keys().find(|k| !fields.iter().any(|(n, _)| n == *k))
                            {
                                return Err(self.unknown(row, &format!("{path}.{extra}")).into());
                            }
                        }
                        Some(other) => return Err(self.misfit(row, path, other, ty).into()),
                    }
                }
                for (i, (name, field_ty)) in fields.iter().enumerate() {
                    let child_values: Vec<Option<&Value>> = values
                        .iter()
                        .map(|v| v.and_then(|v| v.as_object()).and_then(|m| m.get(name)))
                        .collect();
                    let mut child = w.struct_child(i)?;
                    self.write(
                        &mut child,
                        field_ty,
                        &child_values,
                        &format!("{path}.{name}"),
                    )?;
                }
            }
        }
        for row in nulls {
            w.set_null(row);
        }
        Ok(())
    }
}

/// An integer from a JSON number (whole floats accepted) or a numeric string.
fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}
