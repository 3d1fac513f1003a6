//! `rest_scan(url, ...)`: a paginated REST API as a table. The HTTP work, pagination and schema
//! inference live in `crate::rest`; this file declares the SQL surface and writes records into
//! DuckDB vectors.

use crate::ffi::{
    LogicalType, OutputChunk, TableBindInfo, TableFunction, TableInitInfo, VectorWriter,
};
use crate::options::{OptionKind, Options};
use crate::rest::client::{Client, Prefetch, RestError, runtime};
use crate::rest::config::{FUNCTION, OPTIONS, PaginatorConfig, SchemaMode, scan_config};
use crate::rest::decode::{Batch, Column, Plan};
use crate::rest::incremental::Watermark;
use crate::rest::paginate::CursorSource;
use crate::rest::schema::{JType, infer, name_clash};
use duckdb::ffi;
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
    rx: mpsc::Receiver<Result<Batch, RestError>>,
    /// The page loop; awaited when the channel closes, so a failure there is never mistaken
    /// for the end of the data.
    task: Option<JoinHandle<()>>,
    batch: Option<Batch>,
    /// Next row of `batch` to emit.
    pos: usize,
    done: bool,
}

pub struct RestScanInitData {
    state: Mutex<ScanState>,
}

impl Drop for RestScanInitData {
    /// The query ended, stopped early (LIMIT) or was interrupted: stop fetching. Aborting the
    /// page loop drops its in-flight fetches (their JoinSet), sleeps and channel sends at once.
    fn drop(&mut self) {
        let state = match self.state.get_mut() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(task) = &state.task {
            task.abort();
        }
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
        let mut prefetch = runtime()?.block_on(client.prefetch(sample))?;
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
        if let Some(clash) = name_clash(&columns) {
            return Err(client.error(clash).into());
        }
        if let Some(column) = &client.cfg.cursor_column
            && !json_column
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
        // The sample's values were only needed for inference; the rows come from the bodies.
        prefetch.pages = Vec::new();
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
        let cfg = &bind.client.cfg;
        let plan = Arc::new(Plan {
            columns: bind.columns.clone(),
            projected: info.projected_columns(),
            unknown_error: cfg.unknown_fields_error && bind.sampled > 0,
            json_column: bind.json_column,
            cursor_field: match &state.style {
                PaginatorConfig::Cursor {
                    source: CursorSource::LastRecord(field),
                    ..
                } => Some(field.clone()),
                _ => None,
            },
            incremental: cfg
                .cursor_column
                .clone()
                .zip(cfg.incremental_value.as_deref().map(Watermark::new)),
            inferred: bind.sampled > 0,
        });
        let (tx, rx) = mpsc::channel(cfg.concurrency.max(2));
        let task = rt.spawn(Arc::clone(&bind.client).run(state, plan, bind.sampled, tx));
        Ok(RestScanInitData {
            state: Mutex::new(ScanState {
                rx,
                task: Some(task),
                batch: None,
                pos: 0,
                done: false,
            }),
        })
    }

    fn scan(
        _bind: &RestScanBindData,
        init: &RestScanInitData,
        out: &mut OutputChunk,
    ) -> Result<(), Box<dyn Error>> {
        let mut state = init
            .state
            .lock()
            .map_err(|_| "rest_scan: state lock poisoned")?;
        // Emit from one batch per call (a page rarely exceeds a chunk; a partly filled chunk is fine).
        loop {
            if state.batch.as_ref().is_some_and(|b| state.pos < b.rows) || state.done {
                break;
            }
            match state.rx.blocking_recv() {
                Some(Ok(batch)) => {
                    state.batch = Some(batch);
                    state.pos = 0;
                }
                Some(Err(e)) => return Err(Box::new(e)),
                None => {
                    state.done = true;
                    if let Some(task) = state.task.take()
                        && let Err(e) = runtime()?.block_on(task)
                    {
                        return Err(format!(
                            "rest_scan: internal error in the page loop ({e}); this is a bug in etl"
                        )
                        .into());
                    }
                }
            }
        }
        let ScanState { batch, pos, .. } = &mut *state;
        let Some(batch) = batch.as_ref().filter(|b| *pos < b.rows) else {
            out.set_len(0);
            return Ok(());
        };
        let n = (batch.rows - *pos).min(out.capacity());
        for (out_index, column) in batch.columns.iter().enumerate() {
            let mut writer = out.column(out_index);
            write_column(&mut writer, column, *pos, n)?;
        }
        *pos += n;
        out.set_len(n);
        Ok(())
    }
}

/// Copies rows `start..start + n` of a decoded column into an output vector (from row 0).
fn write_column(
    w: &mut VectorWriter,
    column: &Column,
    start: usize,
    n: usize,
) -> Result<(), Box<dyn Error>> {
    let valid = &column.valid()[start..start + n];
    match column {
        Column::Bool { values, .. } => {
            for (slot, b) in w.bools()?[..n].iter_mut().zip(&values[start..start + n]) {
                *slot = u8::from(*b);
            }
        }
        Column::Int { values, .. } => w.i64s()?[..n].copy_from_slice(&values[start..start + n]),
        Column::Int32 { values, .. } => w.i32s()?[..n].copy_from_slice(&values[start..start + n]),
        Column::Double { values, .. } => w.f64s()?[..n].copy_from_slice(&values[start..start + n]),
        Column::Text { .. } => {
            for (row, ok) in valid.iter().enumerate() {
                if *ok {
                    w.set_str(row, column.text(start + row))?;
                }
            }
        }
        Column::List { entries, child, .. } => {
            let range = &entries[start..start + n];
            let first = range.first().map(|e| e.0).unwrap_or(0);
            let total: usize = range.iter().map(|e| e.1).sum();
            {
                let slots = w.list_entries()?;
                for (row, (offset, len)) in range.iter().enumerate() {
                    slots[row] = ffi::duckdb_list_entry {
                        offset: (offset - first) as u64,
                        length: *len as u64,
                    };
                }
            }
            let mut child_writer = w.list_child(total)?;
            if total > 0 {
                write_column(&mut child_writer, child, first, total)?;
            }
        }
        Column::Struct { fields, .. } => {
            for (i, field) in fields.iter().enumerate() {
                let mut child = w.struct_child(i)?;
                write_column(&mut child, field, start, n)?;
            }
        }
    }
    for (row, ok) in valid.iter().enumerate() {
        if !ok {
            w.set_null(row);
        }
    }
    Ok(())
}
