//! `COPY ... TO 'file' (FORMAT etl_test_lines)`: an internal format that exists to prove the
//! COPY wrapper in `ffi::copy` (options, column types, bind data and global state ownership,
//! panic containment, cleanup on failure). Registered only when ETL_TEST_HOOKS=1; replaced by
//! dw_staging as the real COPY format.
//!
//! It writes each row as one delimited text line into `<file>.tmp` and renames it to `<file>` in
//! finalize, so a failed COPY leaves no file behind.

use crate::ffi::chunk::{Cell, ChunkReader, ColumnKind};
use crate::ffi::{CopyBindInfo, CopyFunction, CopyInitInfo};
use crate::options::{OptionKind, OptionSpec, Options};
use std::error::Error;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Mutex;

pub struct TestLines;

const PHASES: &[&str] = &["none", "bind", "initialize_global", "sink", "finalize"];

const OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("DELIMITER", OptionKind::Text, "text between values").default(","),
    OptionSpec::new("NULL_STR", OptionKind::Text, "text written for NULL").default(""),
    OptionSpec::new(
        "COLUMNS",
        OptionKind::TextList,
        "column names, written as a header line",
    ),
    OptionSpec::new("PANIC", OptionKind::Choice(PHASES), "callback that panics").default("none"),
    OptionSpec::new(
        "FAIL",
        OptionKind::Choice(PHASES),
        "callback that returns an error",
    )
    .default("none"),
];

pub struct BindData {
    kinds: Vec<ColumnKind>,
    delimiter: String,
    null_str: String,
    header: Option<Vec<String>>,
    panic_in: String,
    fail_in: String,
}

impl BindData {
    fn inject(&self, phase: &str) -> Result<(), Box<dyn Error>> {
        if self.panic_in == phase {
            // Deliberate: proves ffi::guard turns callback panics into DuckDB errors.
            panic!("injected panic in {phase}");
        }
        if self.fail_in == phase {
            return Err(format!("etl_test_lines: injected failure in {phase}").into());
        }
        Ok(())
    }
}

struct Output {
    writer: Option<BufWriter<File>>,
    rows: u64,
}

pub struct GlobalState {
    tmp_path: PathBuf,
    path: PathBuf,
    out: Mutex<Output>,
}

impl Drop for GlobalState {
    /// DuckDB drops the state without calling finalize when the statement fails: remove the
    /// unfinished temporary so no partial output is left.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp_path);
    }
}

fn cell_text(cell: Cell<'_>, null_str: &str) -> String {
    match cell {
        Cell::Null => null_str.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Int(i) => i.to_string(),
        Cell::UInt(u) => u.to_string(),
        Cell::Float(x) => x.to_string(),
        Cell::Text(s) => s.to_string(),
    }
}

impl CopyFunction for TestLines {
    const NAME: &'static str = "etl_test_lines";
    type BindData = BindData;
    type GlobalState = GlobalState;

    fn bind(info: &CopyBindInfo) -> Result<BindData, Box<dyn Error>> {
        let options = Options::parse(Self::NAME, OPTIONS, &info.options())?;
        let mut kinds = Vec::new();
        for i in 0..info.column_count() {
            let kind = ColumnKind::from_type_id(info.column_type_id(i)).ok_or_else(|| {
                format!(
                    "etl_test_lines: column {} has type {}, which this format cannot write \
                     (it writes booleans, integers, floats and VARCHAR)",
                    i + 1,
                    info.column_type_name(i)
                )
            })?;
            kinds.push(kind);
        }
        let header = options.text_list("COLUMNS").map(|c| c.to_vec());
        if let Some(names) = &header
            && names.len() != kinds.len()
        {
            return Err(format!(
                "etl_test_lines: option COLUMNS names {} columns but the query has {}",
                names.len(),
                kinds.len()
            )
            .into());
        }
        let data = BindData {
            kinds,
            delimiter: options.text("DELIMITER").unwrap_or(",").to_string(),
            null_str: options.text("NULL_STR").unwrap_or("").to_string(),
            header,
            panic_in: options.text("PANIC").unwrap_or("none").to_string(),
            fail_in: options.text("FAIL").unwrap_or("none").to_string(),
        };
        data.inject("bind")?;
        Ok(data)
    }

    fn initialize_global(
        bind: &BindData,
        info: &CopyInitInfo,
    ) -> Result<GlobalState, Box<dyn Error>> {
        bind.inject("initialize_global")?;
        let path = PathBuf::from(info.file_path());
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".tmp");
        let tmp_path = path.with_file_name(tmp_name);
        let file = File::create(&tmp_path)
            .map_err(|e| format!("etl_test_lines: creating {}: {e}", tmp_path.display()))?;
        let mut writer = BufWriter::new(file);
        if let Some(names) = &bind.header {
            writeln!(writer, "{}", names.join(&bind.delimiter))?;
        }
        Ok(GlobalState {
            tmp_path,
            path,
            out: Mutex::new(Output {
                writer: Some(writer),
                rows: 0,
            }),
        })
    }

    fn sink(
        bind: &BindData,
        state: &GlobalState,
        chunk: &ChunkReader,
    ) -> Result<(), Box<dyn Error>> {
        bind.inject("sink")?;
        let columns = bind
            .kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                chunk
                    .column(i, *kind)
                    .ok_or("etl_test_lines: column count changed")
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = state
            .out
            .lock()
            .map_err(|_| "etl_test_lines: writer lock poisoned")?;
        let rows = chunk.len();
        let writer = out
            .writer
            .as_mut()
            .ok_or("etl_test_lines: sink after finalize")?;
        let mut line = String::new();
        for row in 0..rows {
            line.clear();
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    line.push_str(&bind.delimiter);
                }
                line.push_str(&cell_text(column.get(row), &bind.null_str));
            }
            line.push('\n');
            writer.write_all(line.as_bytes())?;
        }
        out.rows += rows as u64;
        Ok(())
    }

    fn finalize(bind: &BindData, state: &GlobalState) -> Result<(), Box<dyn Error>> {
        bind.inject("finalize")?;
        let mut out = state
            .out
            .lock()
            .map_err(|_| "etl_test_lines: writer lock poisoned")?;
        if let Some(writer) = out.writer.take() {
            let file = writer.into_inner().map_err(|e| {
                format!("etl_test_lines: flushing {}: {e}", state.tmp_path.display())
            })?;
            file.sync_all()?;
        }
        std::fs::rename(&state.tmp_path, &state.path)
            .map_err(|e| format!("etl_test_lines: publishing {}: {e}", state.path.display()))?;
        Ok(())
    }
}
