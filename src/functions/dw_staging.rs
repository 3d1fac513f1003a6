//! `COPY (<query>) TO '<lake>' (FORMAT dw_staging, SOURCE '...', ...)`: glue between DuckDB's
//! COPY callbacks and the pure staging core (`crate::staging`).
//!
//! bind checks options and column types and decides the column names; initialize_global plans
//! the load (final path, temporaries, a `running` audit record) and starts the Parquet writer;
//! sink converts each chunk to Arrow and streams it to the writer; finalize publishes with one
//! rename. When the statement fails, DuckDB drops the state without finalize: `Drop` removes
//! the temporaries and records the failure, so nothing partial is ever visible.

use crate::ffi::chunk::ChunkReader;
use crate::ffi::{CopyBindInfo, CopyFunction, CopyInitInfo};
use crate::options::{OptionValue, Options};
use crate::staging::enforce::{ContractBinding, ContractRun};
use crate::staging::layout::relative_text;
use crate::staging::load::{
    FUNCTION, Load, OPTIONS, StagingOptions, Verdict, lake_root, second_file_refusal,
};
use crate::staging::schema::{
    Column, ColumnType, METADATA_COLUMNS, PARTITION_COLUMN, arrow_schema, metadata_arrays,
    staged_columns, write_with_constants,
};
use crate::staging::writer::ParquetStream;
use arrow_array::ArrayRef;
use arrow_schema::SchemaRef;
use std::error::Error;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct DwStaging;

pub struct DwStagingBindData {
    options: StagingOptions,
    columns: Vec<Column>,
    /// The query is one STRUCT column whose fields are the staged columns.
    unpack_struct: bool,
    schema: SchemaRef,
    /// CONTRACT: the parsed contract bound to the columns, and how violations are handled.
    contract: Option<ContractBinding>,
    /// Global states of this COPY alive now. DuckDB makes one per output file, so two at once
    /// mean a multi-file mode (PER_THREAD_OUTPUT, PARTITION_BY, ...) whose file names showed
    /// nothing: the later inits are refused and no finalize publishes. A live count, not a
    /// count of inits: a prepared COPY runs again with the same bind data, one state at a time.
    live: Arc<AtomicUsize>,
    /// Set once two states were alive at once (never cleared: the statement is multi-file).
    multi_file: Arc<AtomicBool>,
}

struct Writing {
    stream: Option<ParquetStream>,
    rows: u64,
    error: Option<String>,
    /// Published, or the failure was recorded with the contract's verdicts.
    finished: bool,
    contract: Option<ContractRun>,
}

/// Errors from the core may already name the function.
fn prefixed(e: String) -> String {
    if e.starts_with(FUNCTION) {
        e
    } else {
        format!("{FUNCTION}: {e}")
    }
}

pub struct DwStagingGlobalState {
    load: Load,
    writing: Mutex<Writing>,
    /// Metadata columns for a full chunk, sliced per chunk (constant per load).
    metadata: Vec<ArrayRef>,
    /// The bind's live-state count, decremented when this state goes.
    live: Arc<AtomicUsize>,
}

/// DuckDB takes PARTITION_BY columns out of the query before a COPY format sees it (and never
/// passes the option), so a PARTITION_BY shows up only as a query with fewer columns.
const PARTITION_BY_HINT: &str = "If the COPY has PARTITION_BY: dw_staging does not support \
     PARTITION_BY (DuckDB removes the partition columns from the query before a COPY format sees \
     it, and never passes the option); remove it, dw_staging partitions by load_date itself";

const STRUCT_FORM: &str = "COPY (SELECT t FROM my_table t) TO 'lake' (FORMAT dw_staging, SOURCE '...') \
     stages the fields of the single STRUCT column t as columns; or name the columns with \
     COLUMNS ('a', 'b', ...)";

fn bind_columns(
    info: &CopyBindInfo,
    options: &StagingOptions,
    contract: Option<&crate::contract::Contract>,
) -> Result<(Vec<Column>, bool), String> {
    let count = info.column_count();
    let mut types = Vec::with_capacity(count);
    for i in 0..count {
        types.push(info.column_type(i).map_err(|u| {
            // In the single-STRUCT form the STRUCT's fields are the staged columns.
            let (column, inner) = match (&options.columns, count, u.path.split_first()) {
                (None, 1, Some((first, rest))) => (format!("'{first}'"), rest.to_vec()),
                (Some(names), _, _) if i < names.len() => {
                    (format!("'{}'", names[i]), u.path.clone())
                }
                _ => (format!("{}", i + 1), u.path.clone()),
            };
            let field = match inner.len() {
                0 => String::new(),
                n if n > 8 => format!(" (field {}... {n} levels deep)", inner[..8].join(".")),
                _ => format!(" (field {})", inner.join(".")),
            };
            format!(
                "{FUNCTION}: column {column}{field} has type {}, which cannot be staged as \
                 Parquet; cast it in the query (for example to VARCHAR)",
                u.ty
            )
        })?);
    }
    let (columns, unpack) = if let Some(names) = &options.columns {
        if names.len() != count {
            let hint = if names.len() > count {
                format!(". {PARTITION_BY_HINT}")
            } else {
                String::new()
            };
            return Err(format!(
                "{FUNCTION}: option COLUMNS names {} columns but the query has {count}{hint}",
                names.len()
            ));
        }
        let cols = names
            .iter()
            .cloned()
            .zip(types)
            .map(|(n, t)| Column::new(n, t))
            .collect();
        (cols, false)
    } else if count == 1
        && let ColumnType::Struct(fields) = &types[0]
    {
        (fields.clone(), true)
    } else if let Some(c) = contract {
        // The contract's names cannot name the query's columns by position: nothing can check
        // that the query's order is the contract's, and a swap (last_name, first_name) would
        // publish silently (review L10). The user names them, in the query's order.
        let names: Vec<String> = c.columns.iter().map(|c| format!("'{}'", c.name)).collect();
        return Err(format!(
            "{FUNCTION}: the C API does not pass column names to COPY functions, so the query's \
             {count} columns cannot be checked against the contract '{}' (its columns are {}); \
             name them: {STRUCT_FORM} in the query's order",
            options.contract.as_deref().unwrap_or_default(),
            names.join(", ")
        ));
    } else {
        return Err(format!(
            "{FUNCTION}: the C API does not pass column names to COPY functions, so the query \
             must be a single STRUCT column or name its columns. {STRUCT_FORM}. \
             {PARTITION_BY_HINT}"
        ));
    };
    if columns.is_empty() {
        return Err(format!("{FUNCTION}: the STRUCT has no fields to stage"));
    }
    let mut seen = std::collections::HashSet::new();
    for c in &columns {
        if c.name.is_empty() {
            return Err(format!(
                "{FUNCTION}: a column has an empty name. {STRUCT_FORM}"
            ));
        }
        if !seen.insert(c.name.to_lowercase()) {
            return Err(format!(
                "{FUNCTION}: column name '{}' appears twice",
                c.name
            ));
        }
        if c.name.eq_ignore_ascii_case(PARTITION_COLUMN) {
            return Err(format!(
                "{FUNCTION}: column '{}' clashes with the lake's partition column (the folders \
                 load_date=YYYY-MM-DD): readers would replace its values with the load date; \
                 rename it",
                c.name
            ));
        }
        if options.metadata && METADATA_COLUMNS.contains(&c.name.to_lowercase().as_str()) {
            return Err(format!(
                "{FUNCTION}: column '{}' clashes with a metadata column ({}); rename it or set \
                 METADATA false",
                c.name,
                METADATA_COLUMNS.join(", ")
            ));
        }
    }
    Ok((columns, unpack))
}

impl CopyFunction for DwStaging {
    const NAME: &'static str = "dw_staging";
    type BindData = DwStagingBindData;
    type GlobalState = DwStagingGlobalState;

    fn bind(info: &CopyBindInfo) -> Result<DwStagingBindData, Box<dyn Error>> {
        let parsed = Options::parse(FUNCTION, OPTIONS, &info.options())?;
        let options = StagingOptions::from_options(&parsed)?;
        let contract = match &options.contract {
            Some(path) => Some(
                crate::contract::load(path)
                    .map_err(|e| format!("{FUNCTION}: option CONTRACT: {e}"))?,
            ),
            None => None,
        };
        let (columns, unpack_struct) = bind_columns(info, &options, contract.as_ref())?;
        let schema = Arc::new(arrow_schema(&columns, options.metadata));
        let contract = match contract {
            Some(c) => Some(ContractBinding::new(&c, &options, &columns)?),
            None => None,
        };
        Ok(DwStagingBindData {
            options,
            columns,
            unpack_struct,
            schema,
            contract,
            live: Arc::new(AtomicUsize::new(0)),
            multi_file: Arc::new(AtomicBool::new(false)),
        })
    }

    fn initialize_global(
        bind: &DwStagingBindData,
        info: &CopyInitInfo,
    ) -> Result<DwStagingGlobalState, Box<dyn Error>> {
        let path = info.file_path();
        // Counted as live until the state exists (its Drop gives the count back); every early
        // return below gives it back itself.
        if bind.live.fetch_add(1, Ordering::SeqCst) > 0 {
            bind.multi_file.store(true, Ordering::SeqCst);
            bind.live.fetch_sub(1, Ordering::SeqCst);
            return Err(second_file_refusal(&path).into());
        }
        // Given back unless a state now holds the count (also when initialize_state panics:
        // the guard's Drop runs while the panic unwinds to our callback guard).
        struct Held<'a>(&'a AtomicUsize, bool);
        impl Drop for Held<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    self.0.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
        let mut held = Held(&bind.live, false);
        let state = initialize_state(bind, info, &path);
        held.1 = state.is_ok();
        state
    }

    fn sink(
        bind: &DwStagingBindData,
        state: &DwStagingGlobalState,
        chunk: &ChunkReader,
    ) -> Result<(), Box<dyn Error>> {
        let rows = chunk.len();
        if rows == 0 {
            return Ok(());
        }
        let mut writing = state
            .writing
            .lock()
            .map_err(|_| format!("{FUNCTION}: writer lock poisoned"))?;
        if let Some(e) = &writing.error {
            return Err(e.clone().into());
        }
        let writing = &mut *writing;
        let outcome = (|| -> Result<(), String> {
            let arrays = if bind.unpack_struct {
                chunk.arrow_struct_fields(0, &bind.columns)?
            } else {
                bind.columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        chunk
                            .arrow_column(i, &c.ty)
                            .map_err(|e| format!("column '{}': {e}", c.name))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            };
            let stream = writing
                .stream
                .as_mut()
                .ok_or("the load was already finished")?;
            match &mut writing.contract {
                // The contract sees every row; quarantined ones go to their own file.
                Some(run) => {
                    let (valid, rows) = run.check(arrays, rows)?;
                    write_with_constants(stream, &state.metadata, valid, rows)
                }
                None => write_with_constants(stream, &state.metadata, arrays, rows),
            }
        })();
        if outcome.is_ok() {
            writing.rows += rows as u64;
        }
        if let Err(e) = outcome {
            let message = prefixed(e);
            writing.error = Some(message.clone());
            return Err(message.into());
        }
        Ok(())
    }

    fn finalize(
        bind: &DwStagingBindData,
        state: &DwStagingGlobalState,
    ) -> Result<(), Box<dyn Error>> {
        let mut writing = state
            .writing
            .lock()
            .map_err(|_| format!("{FUNCTION}: writer lock poisoned"))?;
        if let Some(e) = &writing.error {
            return Err(e.clone().into());
        }
        if bind.multi_file.load(Ordering::SeqCst) {
            let message = second_file_refusal(&relative_text(&state.load.lake));
            writing.stream = None;
            state.load.fail(writing.rows, &message, chrono::Utc::now());
            writing.finished = true;
            writing.error = Some(message.clone());
            return Err(message.into());
        }
        let stream = writing
            .stream
            .take()
            .ok_or_else(|| format!("{FUNCTION}: the load was already finished"))?;
        let rows = stream.rows();
        let verdict = match (writing.contract.take(), &bind.contract) {
            (Some(run), Some(binding)) => match binding.finish(run, writing.rows) {
                Ok(v) => v,
                Err((message, verdict)) => {
                    drop(stream);
                    let message = prefixed(message);
                    state
                        .load
                        .fail_with(writing.rows, &message, chrono::Utc::now(), verdict);
                    writing.finished = true;
                    writing.error = Some(message.clone());
                    return Err(message.into());
                }
            },
            _ => Verdict::default(),
        };
        let outcome = stream
            .finish()
            .and_then(|bytes| state.load.publish(rows, bytes, chrono::Utc::now(), verdict));
        match outcome {
            Ok(_) => {
                writing.finished = true;
                Ok(())
            }
            Err(e) => {
                let message = prefixed(e);
                writing.error = Some(message.clone());
                Err(message.into())
            }
        }
    }
}

/// The global state of one load (after the live count was taken).
fn initialize_state(
    bind: &DwStagingBindData,
    info: &CopyInitInfo,
    path: &str,
) -> Result<DwStagingGlobalState, Box<dyn Error>> {
    let path = path.to_string();
    let lake = lake_root(&path)?;
    let now = chrono::Utc::now();
    let load = Load::begin(
        lake,
        bind.options.clone(),
        staged_columns(&bind.columns, bind.options.metadata),
        now,
    )?;
    let mut writer = bind.options.writer.clone();
    if !bind.options.threads_given
        && let OptionValue::Int(n) = info.setting("threads")
    {
        writer.threads = (n.max(1) as usize).min(8);
    }
    let contract = match &bind.contract {
        Some(binding) => match binding.start(
            &load,
            writer.clone(),
            now,
            crate::ffi::vector::vector_size(),
        ) {
            Ok(run) => Some(run),
            Err((message, verdict)) => {
                let message = prefixed(message);
                load.fail_with(0, &message, chrono::Utc::now(), verdict);
                return Err(message.into());
            }
        },
        None => None,
    };
    let stream = match ParquetStream::create(&load.tmp_file, bind.schema.clone(), writer) {
        Ok(s) => s,
        Err(e) => {
            let message = prefixed(e);
            load.fail(0, &message, chrono::Utc::now());
            return Err(message.into());
        }
    };
    let full = crate::ffi::vector::vector_size();
    let metadata: Vec<ArrayRef> = if bind.options.metadata {
        metadata_arrays(now, &load.load_id, &load.source_file(), full)
    } else {
        Vec::new()
    };
    Ok(DwStagingGlobalState {
        load,
        writing: Mutex::new(Writing {
            stream: Some(stream),
            rows: 0,
            error: None,
            finished: false,
            contract,
        }),
        metadata,
        live: Arc::clone(&bind.live),
    })
}

impl Drop for DwStagingGlobalState {
    /// Runs after finalize, or instead of it when the statement failed: unpublished loads
    /// leave no files, only a failure record.
    fn drop(&mut self) {
        let (finished, rows, error) = match self.writing.get_mut() {
            Ok(w) => {
                w.stream = None; // stops the encoder threads and closes the file
                w.contract = None; // and the quarantine writer's
                (w.finished, w.rows, w.error.clone())
            }
            Err(_) => (false, 0, None),
        };
        if !finished {
            // DuckDB destroys the state without telling a COPY format why (docs/design.md):
            // record what is known and where the reason is.
            let error = error.unwrap_or_else(|| {
                format!(
                    "the COPY did not complete: the query feeding it failed or was interrupted \
                     after {rows} rows reached dw_staging; nothing was published. DuckDB does not \
                     pass that error to COPY formats, so it is not recorded here: it is the error \
                     the COPY statement returned"
                )
            });
            self.load.fail(rows, &error, chrono::Utc::now());
        }
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}
