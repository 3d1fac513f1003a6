//! One load into the lake, from plan to publish: its options, where its files go, the
//! temporary area it writes to, the atomic publish, the audit record, and the cleanup of
//! temporaries that a killed process left behind.

use super::audit::{AuditRecord, CheckEntry, ColumnEntry, FileEntry, Status};
use super::layout::{
    self, ETL_DIR, PARTIAL_SUFFIX, TMP_DIR, check_path_name, data_file, is_file_of_load,
    parquet_files, quarantine_dir, relative_text, rfc3339, source_dir,
};
use super::writer::{Codec, WriterConfig};
use crate::contract::model::Handling;
use crate::options::{OptionKind, OptionSpec, Options};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

pub const FUNCTION: &str = "dw_staging";

pub const MODES: &[&str] = &["append", "replace"];

pub const VIOLATION_HANDLING: &[&str] = &["block", "warn", "quarantine"];

/// Every COPY option of `FORMAT dw_staging` (docs/dw_staging.md documents each; a test checks).
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::new(
        "SOURCE",
        OptionKind::Text,
        "name of the source; the folder <lake>/<protocol>/<source>",
    )
    .required(),
    OptionSpec::new(
        "PROTOCOL",
        OptionKind::Text,
        "how the data was extracted (rest, oracle, sql, ...); the folder above the source",
    )
    .default("sql"),
    OptionSpec::new(
        "PIPELINE",
        OptionKind::Text,
        "pipeline name recorded in the audit",
    ),
    OptionSpec::new(
        "LOAD_ID",
        OptionKind::Text,
        "id of this load (default: a new time-ordered UUIDv7); re-running with the same id replaces that load",
    ),
    OptionSpec::new(
        "MODE",
        OptionKind::Choice(MODES),
        "append keeps earlier loads; replace removes the source's earlier loads after publishing",
    )
    .default("append"),
    OptionSpec::new(
        "METADATA",
        OptionKind::Bool,
        "append _loaded_at, _load_id and _source_file to every row",
    )
    .default("true"),
    OptionSpec::new(
        "COLUMNS",
        OptionKind::TextList,
        "column names, one per query column (instead of the single-STRUCT form)",
    ),
    OptionSpec::new(
        "ROW_GROUP_ROWS",
        OptionKind::Int {
            min: 1,
            max: 100_000_000,
        },
        "rows per Parquet row group (DuckDB keeps ROW_GROUP_SIZE for itself: it never reaches COPY functions)",
    )
    .default("122880"),
    OptionSpec::new(
        "COMPRESSION",
        OptionKind::Choice(Codec::NAMES),
        "Parquet compression codec",
    )
    .default("zstd"),
    OptionSpec::new(
        "CONTRACT",
        OptionKind::Text,
        "data contract (ODCS v3.1 or the simple format) every row is checked against",
    ),
    OptionSpec::new(
        "ON_VIOLATION",
        OptionKind::Choice(VIOLATION_HANDLING),
        "block publishes nothing when a check fails; warn publishes and records the verdicts; quarantine publishes the valid rows and sets the failing ones aside (default: the contract's violation_handling, else block)",
    ),
    OptionSpec::new(
        "THREADS",
        OptionKind::Int { min: 1, max: 64 },
        "threads encoding row groups in parallel (default: DuckDB's threads setting, at most 8)",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Append,
    Replace,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Append => "append",
            Mode::Replace => "replace",
        }
    }
}

/// The checked options of one COPY.
#[derive(Debug, Clone)]
pub struct StagingOptions {
    pub source: String,
    pub protocol: String,
    pub pipeline: Option<String>,
    pub load_id: Option<String>,
    pub mode: Mode,
    pub metadata: bool,
    pub columns: Option<Vec<String>>,
    pub writer: WriterConfig,
    /// THREADS was given; otherwise the COPY follows DuckDB's `threads` setting.
    pub threads_given: bool,
    /// CONTRACT: the contract file, as given.
    pub contract: Option<String>,
    /// ON_VIOLATION (overrides the contract's violation_handling).
    pub on_violation: Option<Handling>,
}

impl StagingOptions {
    pub fn from_options(options: &Options) -> Result<Self, String> {
        let source = options.text("SOURCE").unwrap_or_default().to_string();
        check_path_name(FUNCTION, "SOURCE", &source)?;
        let protocol = options.text("PROTOCOL").unwrap_or("sql").to_string();
        check_path_name(FUNCTION, "PROTOCOL", &protocol)?;
        let load_id = options.text("LOAD_ID").map(str::to_string);
        if let Some(id) = &load_id {
            check_path_name(FUNCTION, "LOAD_ID", id)?;
        }
        // A generated load id is a 36-character UUID.
        layout::check_file_name_length(
            FUNCTION,
            &source,
            load_id
                .as_deref()
                .unwrap_or("00000000-0000-7000-8000-000000000000"),
        )?;
        let mode = match options.text("MODE") {
            Some("replace") => Mode::Replace,
            _ => Mode::Append,
        };
        let codec =
            Codec::parse(options.text("COMPRESSION").unwrap_or("zstd")).unwrap_or(Codec::Zstd);
        let threads = match options.int("THREADS") {
            Some(n) => n as usize,
            None => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .min(8),
        };
        let contract = options.text("CONTRACT").map(str::to_string);
        let on_violation = options.text("ON_VIOLATION").and_then(Handling::parse);
        if contract.is_none() && on_violation.is_some() {
            return Err(format!(
                "{FUNCTION}: option ON_VIOLATION needs option CONTRACT (the contract whose \
                 violations it handles)"
            ));
        }
        if contract.as_deref() == Some("") {
            return Err(format!(
                "{FUNCTION}: option CONTRACT must name a contract file, got ''"
            ));
        }
        Ok(StagingOptions {
            contract,
            on_violation,
            source,
            protocol,
            pipeline: options.text("PIPELINE").map(str::to_string),
            load_id,
            mode,
            metadata: options.bool("METADATA").unwrap_or(true),
            columns: options.text_list("COLUMNS").map(|c| c.to_vec()),
            threads_given: options.int("THREADS").is_some(),
            writer: WriterConfig {
                row_group_size: options.int("ROW_GROUP_ROWS").unwrap_or(122_880) as usize,
                codec,
                threads,
            },
        })
    }
}

/// A load in progress: decided at the COPY's global init, before any row is written (the
/// `_source_file` of every row must name the final file).
#[derive(Debug)]
pub struct Load {
    pub lake: PathBuf,
    pub options: StagingOptions,
    pub load_id: String,
    pub attempt: String,
    pub started_at: DateTime<Utc>,
    /// The final file, relative to the lake.
    pub relative: PathBuf,
    pub tmp_dir: PathBuf,
    pub tmp_file: PathBuf,
    /// Where the rows a contract sets aside are written (ON_VIOLATION quarantine).
    pub quarantine_tmp: PathBuf,
    pub columns: Vec<(String, String)>,
    pub fingerprint: String,
    /// Held (an exclusive lock on `<tmp_dir>/.lock`) while the load runs: `clean_stale` never
    /// removes the temporaries of a live load. The OS releases it when the process dies.
    _alive: std::fs::File,
}

/// Name of the lock file in an attempt's temporary folder.
const ALIVE_LOCK: &str = ".lock";

/// A temporary folder being set up (its lock not yet taken) is named `.starting-<attempt>`.
const STARTING_PREFIX: &str = ".starting-";

/// `O_NONBLOCK` on Linux: opening a FIFO someone put in the lake must fail, not wait.
const O_NONBLOCK: i32 = 0o4000;

/// Opens (creating when `create`) and exclusively locks the lock file at `path`, which must be
/// a regular file: a FIFO, device or directory under that name is an error, never a wait.
fn open_lock(path: &Path, create: bool) -> Result<std::fs::File, String> {
    let file = open_regular(path, create)?;
    file.lock().map_err(|e| io_err("locking", path, e))?;
    Ok(file)
}

/// Opens the regular file at `path` for writing without blocking (see [`open_lock`]).
fn open_regular(path: &Path, create: bool) -> Result<std::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .create(create)
        .truncate(false)
        .write(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
        .map_err(|e| io_err("opening", path, e))?;
    let is_file = file.metadata().map(|m| m.is_file()).unwrap_or(false);
    if !is_file {
        return Err(format!(
            "{FUNCTION}: {} is not a regular file; dw_staging keeps its locks there: remove it",
            path.display()
        ));
    }
    Ok(file)
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("{FUNCTION}: {what} {}: {e}", path.display())
}

/// Resolves the lake root from the path DuckDB hands the COPY function. A multi-file COPY
/// (PER_THREAD_OUTPUT, PARTITION_BY, FILE_SIZE_BYTES) gets generated file names that end with
/// '.'; those modes cannot publish all files at once through the C API, so they are refused.
pub fn lake_root(target: &str) -> Result<PathBuf, String> {
    if let Some((scheme, _)) = target.split_once("://")
        && scheme != "file"
    {
        return Err(format!(
            "{FUNCTION}: the lake '{target}' is a {scheme}:// URL; dw_staging writes to a local \
             (or mounted) folder, where a rename publishes a load atomically"
        ));
    }
    let path = PathBuf::from(target.strip_prefix("file://").unwrap_or(target));
    // A multi-file COPY writes below the target, whatever FILENAME_PATTERN and FILE_EXTENSION
    // name its files: a path inside an existing lake (an ancestor folder holds `_etl/`) is one
    // of those, or a lake nested in another lake's folder; both are refused.
    if path
        .file_name()
        .is_some_and(|n| is_generated_file_name(&n.to_string_lossy()))
        || enclosing_lake(&path).is_some()
    {
        return Err(multi_file_refusal(target, &path));
    }
    if path.is_file() {
        return Err(format!(
            "{FUNCTION}: the target '{target}' is a file; COPY ... TO '<lake folder>' expects the \
             lake's root folder (it is created when missing)"
        ));
    }
    // DuckDB writes to 'tmp_<name>' and renames it afterwards when the target is an existing
    // file, or with USE_TMP_FILE: that would publish outside the lake.
    if let Some(name) = path.file_name().and_then(|n| n.to_str())
        && let Some(real) = name.strip_prefix("tmp_")
        && path.with_file_name(real).exists()
    {
        let real_path = path.with_file_name(real);
        return Err(if real_path.is_file() {
            format!(
                "{FUNCTION}: the target '{}' is a file; COPY ... TO '<lake folder>' expects the \
                 lake's root folder",
                real_path.display()
            )
        } else {
            format!(
                "{FUNCTION}: DuckDB asked to write to '{}' instead of the lake '{}' \
                 (USE_TMP_FILE): dw_staging publishes atomically itself; drop USE_TMP_FILE (or \
                 rename the folder '{}')",
                path.display(),
                real_path.display(),
                path.display()
            )
        });
    }
    Ok(path)
}

/// A file name DuckDB generates for a multi-file COPY (PER_THREAD_OUTPUT, PARTITION_BY,
/// ORDER_BY): `data_0.`, `<uuid>.` (the C API gives COPY formats no file extension, hence the
/// trailing dot), or `data_<n>.<ext>` with FILE_EXTENSION.
fn is_generated_file_name(name: &str) -> bool {
    let default_pattern = name.strip_prefix("data_").is_some_and(|rest| {
        rest.split_once('.')
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    });
    name.ends_with('.') || default_pattern
}

/// The nearest folder above `path` (not `path` itself) that is a lake: it holds `_etl/`. A
/// relative path's last ancestor is the working directory.
fn enclosing_lake(path: &Path) -> Option<PathBuf> {
    // Judged on the absolute path with `.` and `..` resolved by name: `COPY ... TO '.'` from
    // inside the lake is the lake itself (not a path inside it), and `/data/lake/../other` is
    // a sibling of `/data/lake`, not inside it.
    let path = lexically_absolute(path);
    path.ancestors()
        .skip(1)
        .find(|dir| dir.join(ETL_DIR).is_dir())
        .map(Path::to_path_buf)
}

/// `path` made absolute (against the working directory) with `.` and `..` resolved by name.
fn lexically_absolute(path: &Path) -> PathBuf {
    use std::path::Component;
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The error for a multi-file COPY (PER_THREAD_OUTPUT, PARTITION_BY, FILENAME_PATTERN ...),
/// `path` being the file DuckDB asked for. DuckDB prepares the target folder of those modes
/// before any COPY format callback can see the options (docs/design.md, "C API facts"): with
/// OVERWRITE it has already removed every file under it. Say so when that is what happened.
pub fn multi_file_refusal(target: &str, path: &Path) -> String {
    let lake = enclosing_lake(path);
    let emptied = lake.as_deref().filter(|l| !has_files(l));
    let what = format!(
        "{FUNCTION}: PER_THREAD_OUTPUT, PARTITION_BY, ORDER_BY, FILENAME_PATTERN and \
         FILE_EXTENSION are not supported (DuckDB asked for the output file '{target}', which \
         lies inside a lake or is named like the files it generates for them): DuckDB finalizes \
         each of those files separately, so the load could not be published all at once. \
         dw_staging partitions by load_date itself and encodes row groups in parallel (option \
         THREADS): COPY (...) TO 'lake' (FORMAT dw_staging, SOURCE '...'). Never add OVERWRITE \
         to those options (DuckDB's own error suggests it): DuckDB then empties the target folder \
         before any COPY format is called. (A lake cannot be created inside another lake's \
         folder, and a lake folder named like DuckDB's generated files, data_<n>.<...> or ending \
         with '.', must be renamed.)"
    );
    match emptied {
        Some(l) => format!(
            "{what} That has happened here: the lake '{}' holds folders but no files, as DuckDB's \
             OVERWRITE leaves it; restore the lake from a backup.",
            l.display()
        ),
        None => what,
    }
}

/// The refusal when DuckDB initialised a second output file for one COPY (a multi-file mode
/// into a new lake: nothing in the path shows it).
pub fn second_file_refusal(target: &str) -> String {
    format!(
        "{} Nothing of this COPY was published.",
        multi_file_refusal(target, Path::new(target))
    )
}

/// Whether any regular file (or symlink) lies under `dir`.
fn has_files(dir: &Path) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(entry.path()),
                Ok(_) => return true,
                Err(_) => {}
            }
        }
    }
    false
}

/// What a contract decided about a load (option CONTRACT), recorded and published with it.
#[derive(Debug, Default)]
pub struct Verdict {
    /// The handling applied (block, warn, quarantine; `schema: x, quality: y` when they differ).
    pub on_violation: Option<String>,
    pub checks: Vec<CheckEntry>,
    /// (rows, bytes) of the finished quarantine file at `Load::quarantine_tmp`, when rows were
    /// set aside.
    pub quarantine: Option<(u64, u64)>,
    /// Every row was set aside: the lake gets no data file (and MODE replace removes nothing).
    pub no_data_file: bool,
}

impl Load {
    /// Plans the load and creates its temporary area. `columns` are the staged (name, type)
    /// pairs, metadata included.
    pub fn begin(
        lake: PathBuf,
        options: StagingOptions,
        columns: Vec<(String, String)>,
        now: DateTime<Utc>,
    ) -> Result<Load, String> {
        let load_id = options
            .load_id
            .clone()
            .unwrap_or_else(|| layout::new_load_id(now));
        // A retried load id keeps its earlier file name, so the publish replaces it in one rename.
        let source_root = lake.join(source_dir(&options.protocol, &options.source));
        let existing = parquet_files(&source_root)
            .map_err(|e| io_err("listing", &source_root, e))?
            .into_iter()
            .find(|p| {
                p.file_name().is_some_and(|n| {
                    is_file_of_load(&n.to_string_lossy(), &options.source, &load_id)
                })
            });
        let relative = match existing {
            Some(p) => p.strip_prefix(&lake).map(Path::to_path_buf).unwrap_or(p),
            None => data_file(&options.protocol, &options.source, &load_id, now),
        };
        let attempt = format!(
            "{}_{}_{:04x}",
            layout::compact_timestamp(now),
            load_id,
            fastrand::u16(..)
        );
        let tmp_root = lake.join(ETL_DIR).join(TMP_DIR);
        let tmp_dir = tmp_root.join(&attempt);
        // The folder gets its name only once its lock is held (created under a hidden name,
        // locked, renamed; the lock follows the open file): etl_clean_stale never sees a
        // live load's folder without a held lock.
        let starting = tmp_root.join(format!("{STARTING_PREFIX}{attempt}"));
        std::fs::create_dir_all(&starting).map_err(|e| io_err("creating", &starting, e))?;
        let alive = match open_lock(&starting.join(ALIVE_LOCK), true) {
            Ok(f) => f,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&starting);
                return Err(e);
            }
        };
        if let Err(e) = std::fs::rename(&starting, &tmp_dir) {
            let _ = std::fs::remove_dir_all(&starting);
            return Err(io_err("creating", &tmp_dir, e));
        }
        let file_name = relative
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp_file = tmp_dir.join(format!("{file_name}{PARTIAL_SUFFIX}"));
        let quarantine_tmp = tmp_dir.join(format!("quarantine_{file_name}{PARTIAL_SUFFIX}"));
        let fingerprint = super::schema::fingerprint(&columns);
        let load = Load {
            lake,
            options,
            load_id,
            attempt,
            started_at: now,
            relative,
            tmp_dir,
            tmp_file,
            quarantine_tmp,
            columns,
            fingerprint,
            _alive: alive,
        };
        load.record(Status::Running, 0, Vec::new(), Vec::new(), None, None)
            .write(&load.lake)?;
        Ok(load)
    }

    /// The quarantine file of this load, relative to the lake:
    /// `_etl/quarantine/<protocol>/<source>/load_date=.../<the data file's name>`.
    pub fn quarantine_relative(&self) -> PathBuf {
        Path::new(ETL_DIR)
            .join(layout::QUARANTINE_DIR)
            .join(&self.relative)
    }

    /// `_source_file`: the final file's path relative to the lake.
    pub fn source_file(&self) -> String {
        relative_text(&self.relative)
    }

    pub fn record(
        &self,
        status: Status,
        rows: u64,
        files: Vec<FileEntry>,
        removed_files: Vec<String>,
        error: Option<String>,
        finished_at: Option<DateTime<Utc>>,
    ) -> AuditRecord {
        AuditRecord {
            attempt: self.attempt.clone(),
            load_id: self.load_id.clone(),
            pipeline: self.options.pipeline.clone(),
            source: self.options.source.clone(),
            protocol: self.options.protocol.clone(),
            mode: self.options.mode.as_str().to_string(),
            status,
            rows,
            files,
            removed_files,
            superseding: Vec::new(),
            publishing_inodes: Vec::new(),
            columns: self
                .columns
                .iter()
                .map(|(name, ty)| ColumnEntry {
                    name: name.clone(),
                    ty: ty.clone(),
                })
                .collect(),
            schema_fingerprint: self.fingerprint.clone(),
            error,
            started_at: rfc3339(self.started_at),
            finished_at: finished_at.map(rfc3339),
            etl_version: crate::config::EXTENSION_VERSION.to_string(),
            planned_file: Some(self.source_file()),
            contract: self.options.contract.clone(),
            on_violation: None,
            checks: Vec::new(),
            quarantine: None,
        }
    }

    /// Moves the finished temporary file into place (one rename: readers see all of it or
    /// nothing), removes superseded files (same load id; with MODE replace, every earlier load
    /// of the source), writes the success record and removes the temporary area.
    pub fn publish(
        &self,
        rows: u64,
        bytes: u64,
        now: DateTime<Utc>,
        verdict: Verdict,
    ) -> Result<AuditRecord, String> {
        let target = self.lake.join(&self.relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_err("creating", parent, e))?;
        }
        let quarantine_target = self.lake.join(self.quarantine_relative());
        if verdict.quarantine.is_some()
            && let Some(parent) = quarantine_target.parent()
        {
            std::fs::create_dir_all(parent).map_err(|e| io_err("creating", parent, e))?;
        }
        // Loads of one source publish one at a time (also across processes): the list of
        // superseded files stays true until the new file and its record are in place.
        let _publishing = source_lock(&self.lake, &self.options.protocol, &self.options.source)?;
        // Two overlapping replace loads: the one that started later holds the newer snapshot.
        // If it published first, this older snapshot is superseded at once (nothing of it is
        // published), so the lake keeps one snapshot whichever finishes last.
        // An append that started before a published replace is superseded the same way: had
        // the replace published last, it would have removed it.
        if let Some(newer) = self.newer_published_replace() {
            let what = match self.options.mode {
                Mode::Replace => "this older snapshot",
                Mode::Append => "this load, older than that snapshot,",
            };
            let mut record = self.record(
                Status::Replaced,
                rows,
                Vec::new(),
                Vec::new(),
                Some(format!(
                    "superseded by load {} (MODE replace), which started later ({}) and published \
                     first; {what} was not published",
                    newer.load_id, newer.started_at
                )),
                Some(now),
            );
            record.on_violation = verdict.on_violation;
            record.checks = verdict.checks;
            // The record first: a crash before the temporaries go leaves an outcome, not a
            // `running` record (clean_stale then only removes the folder).
            record.write(&self.lake)?;
            let _ = std::fs::remove_dir_all(&self.tmp_dir);
            return Ok(record);
        }
        // Earlier publishes of this source that died before removing what they superseded.
        finish_interrupted(
            &self.lake,
            Some((&self.options.protocol, &self.options.source)),
            now,
        );
        let source_root = self
            .lake
            .join(source_dir(&self.options.protocol, &self.options.source));
        let own_order = self.order();
        let mut superseded = Vec::new();
        for path in parquet_files(&source_root).map_err(|e| io_err("listing", &source_root, e))? {
            if path == target {
                continue;
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // Only files dw_staging wrote; replace removes loads that started before this one
            // (a load that started later is newer data, even if it published first).
            let Some((ts, id)) = layout::parse_file_name(&name, &self.options.source) else {
                continue;
            };
            let replaced = self.options.mode == Mode::Replace
                && !verdict.no_data_file
                && (ts, id) < (own_order.0.as_str(), own_order.1);
            if id == self.load_id || replaced {
                superseded.push(path);
            }
        }
        // Quarantine files of earlier attempts of this load id are superseded too (a load
        // that replaces other loads keeps their quarantine: it is evidence, not data).
        let quarantine_root = self
            .lake
            .join(quarantine_dir(&self.options.protocol, &self.options.source));
        let mut superseded_quarantine = Vec::new();
        for path in
            parquet_files(&quarantine_root).map_err(|e| io_err("listing", &quarantine_root, e))?
        {
            let of_this_load = path.file_name().is_some_and(|n| {
                is_file_of_load(&n.to_string_lossy(), &self.options.source, &self.load_id)
            });
            let replaced_in_rename = verdict.quarantine.is_some() && path == quarantine_target;
            if of_this_load && !replaced_in_rename {
                superseded_quarantine.push(path);
            }
        }
        // With no data file, a retried load's earlier file goes with the superseded ones.
        if verdict.no_data_file && target.exists() {
            superseded.push(target.clone());
        }
        let superseded_text: Vec<String> = superseded
            .iter()
            .map(|p| relative_text(p.strip_prefix(&self.lake).unwrap_or(p)))
            .collect();
        // Before anything is renamed, the record says what this publish makes visible and what
        // it supersedes: if the process dies from here on, etl_clean_stale finishes the publish
        // (and an overlapping older load sees a published newer one) instead of leaving two
        // snapshots.
        let mut publishing = self.record(Status::Running, 0, Vec::new(), Vec::new(), None, None);
        if !verdict.no_data_file {
            publishing.files.push(FileEntry {
                path: self.source_file(),
                bytes,
                rows,
            });
        }
        publishing.superseding = superseded_text.clone();
        if !verdict.no_data_file {
            use std::os::unix::fs::MetadataExt;
            let ino = std::fs::metadata(&self.tmp_file)
                .map_err(|e| io_err("reading", &self.tmp_file, e))?
                .ino();
            publishing.publishing_inodes.push(ino);
        }
        publishing
            .write(&self.lake)
            .map_err(|e| format!("{e}; the load was not published"))?;
        simulated_crash("before rename")?;
        // A retry replaces its earlier file in the rename; keep that file until the record of
        // this attempt is written, to put it back if writing fails.
        let previous = self.tmp_dir.join("previous.parquet");
        let previous_quarantine = self.tmp_dir.join("previous_quarantine.parquet");
        let mut put_back = Vec::new();
        if verdict.quarantine.is_some() {
            let kept = quarantine_target.exists()
                && std::fs::hard_link(&quarantine_target, &previous_quarantine).is_ok();
            std::fs::rename(&self.quarantine_tmp, &quarantine_target)
                .map_err(|e| io_err("publishing", &quarantine_target, e))?;
            sync_dir(quarantine_target.parent());
            put_back.push((
                kept.then_some(previous_quarantine),
                quarantine_target.clone(),
            ));
        }
        let mut files = Vec::new();
        if !verdict.no_data_file {
            let kept_previous = target.exists() && std::fs::hard_link(&target, &previous).is_ok();
            if let Err(e) = std::fs::rename(&self.tmp_file, &target) {
                undo_publish(&put_back);
                return Err(io_err("publishing", &target, e));
            }
            sync_dir(target.parent());
            put_back.push((kept_previous.then_some(previous), target.clone()));
            files.push(FileEntry {
                path: self.source_file(),
                bytes,
                rows,
            });
        }
        simulated_crash("after rename")?;
        let mut record = self.record(Status::Success, rows, files, Vec::new(), None, Some(now));
        record.superseding = superseded_text;
        record.on_violation = verdict.on_violation;
        record.checks = verdict.checks;
        record.quarantine = verdict.quarantine.map(|(q_rows, q_bytes)| FileEntry {
            path: relative_text(&self.quarantine_relative()),
            bytes: q_bytes,
            rows: q_rows,
        });
        if let Err(e) = record.write(&self.lake) {
            // Without its record the load did not happen: take the files back (or put the
            // retried load's earlier files back), so a retry can never duplicate them.
            undo_publish(&put_back);
            return Err(format!("{e}; the load was not published"));
        }
        simulated_crash("after record")?;
        for path in &superseded_quarantine {
            if std::fs::remove_file(path).is_ok() {
                remove_empty_parents(path, &quarantine_root);
            }
        }
        // The new load is published and recorded; a file that cannot be removed stays listed
        // in `superseding` (its rows stay visible, never lost) for etl_clean_stale or the next
        // replace.
        if finish_superseding(&self.lake, &mut record, now) {
            let _ = std::fs::remove_dir_all(&self.tmp_dir);
        }
        Ok(record)
    }

    /// A successful MODE replace load of this source that started after this one and whose
    /// data file is in the lake (checked under the source's publish lock).
    fn newer_published_replace(&self) -> Option<AuditRecord> {
        let own = self.order();
        super::audit::read_all(&self.lake)
            .ok()?
            .into_iter()
            .find(|r| {
                // `running` with its files listed: a publish that died after (or while)
                // renaming; under the publish lock no live load is in that state.
                published_by(&self.lake, r)
                    && r.mode == Mode::Replace.as_str()
                    && r.source == self.options.source
                    && r.protocol == self.options.protocol
                    && r.load_id != self.load_id
                    && record_order(r)
                        .is_some_and(|(ts, id)| (ts.as_str(), id) > (own.0.as_str(), own.1))
                    && r.files.iter().any(|f| self.lake.join(&f.path).is_file())
            })
    }

    /// Which of two loads of a source started later, the one ordering used everywhere (the
    /// newer-replace check, the files a replace removes): the start in milliseconds as file
    /// names carry it, then the load id (two loads in one millisecond are still ordered, the
    /// same way by both).
    fn order(&self) -> (String, &str) {
        (layout::compact_timestamp(self.started_at), &self.load_id)
    }

    /// Removes the temporaries and records the failure. Never fails (it runs during cleanup).
    pub fn fail(&self, rows: u64, error: &str, now: DateTime<Utc>) {
        self.fail_with(rows, error, now, Verdict::default());
    }

    /// [`Load::fail`] with the contract's verdicts (a load the contract blocked).
    pub fn fail_with(&self, rows: u64, error: &str, now: DateTime<Utc>, verdict: Verdict) {
        let _ = std::fs::remove_dir_all(&self.tmp_dir);
        let mut record = self.record(
            Status::Failure,
            rows,
            Vec::new(),
            Vec::new(),
            Some(error.to_string()),
            Some(now),
        );
        record.on_violation = verdict.on_violation;
        record.checks = verdict.checks;
        let _ = record.write(&self.lake);
    }
}

/// Removes the files `record` supersedes (its `superseding` list), moves the removed ones (or
/// ones already gone) to `removed_files`, rewrites the record and marks the loads whose files
/// went `replaced`. Returns whether the record was written (false: it still lists what remains
/// to do, for etl_clean_stale). Run under the source's publish lock.
fn finish_superseding(lake: &Path, record: &mut AuditRecord, now: DateTime<Utc>) -> bool {
    if record.superseding.is_empty() {
        // Earlier attempts of its load id are superseded all the same.
        mark_replaced(lake, record, &[], now);
        return true;
    }
    let source_root = lake.join(source_dir(&record.protocol, &record.source));
    // A file another, newer load published since (a retried load id reuses its file name) is
    // that load's data now, no longer superseded by this one.
    let own = record_order(record).map(|(ts, id)| (ts, id.to_string()));
    let newer_files: Vec<String> = super::audit::read_all(lake)
        .unwrap_or_default()
        .into_iter()
        .filter(|r| {
            // Attempts of one load id supersede each other in publish order.
            r.load_id != record.load_id
                && published_by(lake, r)
                && record_order(r)
                    .zip(own.as_ref())
                    .is_some_and(|((ts, id), (ots, oid))| (ts.as_str(), id) > (ots.as_str(), oid))
        })
        .flat_map(|r| r.files.into_iter().map(|f| f.path))
        .collect();
    let mut kept = Vec::new();
    let mut removed = Vec::new();
    for text in std::mem::take(&mut record.superseding) {
        if newer_files.contains(&text) {
            continue;
        }
        let path = lake.join(&text);
        let outcome = simulated_crash("remove")
            .map_err(std::io::Error::other)
            .and_then(|()| std::fs::remove_file(&path));
        match outcome {
            Ok(()) => {
                remove_empty_parents(&path, &source_root);
                removed.push(text);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => removed.push(text),
            Err(_) => kept.push(text),
        }
    }
    record.removed_files.extend(removed.iter().cloned());
    record.superseding = kept;
    let written = record.write(lake).is_ok();
    mark_replaced(lake, record, &removed, now);
    written
}

/// Whether the load of record `r` has published its files: a success, or a `running` record
/// that lists files one of which this attempt renamed into place (it died after the rename).
/// A retry reuses its earlier attempt's file name, so an existing file alone does not say the
/// retry published: the file there must be the one the attempt renamed (its inode).
fn published_by(lake: &Path, r: &AuditRecord) -> bool {
    match r.status {
        Status::Success => true,
        Status::Running if !r.files.is_empty() => {
            use std::os::unix::fs::MetadataExt;
            r.files.iter().any(|f| {
                std::fs::metadata(lake.join(&f.path)).is_ok_and(|m| {
                    // Records written before inodes were kept: the file's presence, as before.
                    r.publishing_inodes.is_empty() || r.publishing_inodes.contains(&m.ino())
                })
            })
        }
        _ => false,
    }
}

/// Earlier successful loads whose files `by` removed are marked `replaced` (and earlier
/// attempts of its load id), so the audit never lists a file that is gone as loaded data.
fn mark_replaced(lake: &Path, by: &AuditRecord, removed: &[String], now: DateTime<Utc>) {
    let Ok(records) = super::audit::read_all(lake) else {
        return;
    };
    for mut r in records {
        // An earlier attempt of this load id is superseded even when it published no data
        // file (everything quarantined): its quarantine file is gone too.
        let same_load =
            r.load_id == by.load_id && r.source == by.source && r.protocol == by.protocol;
        let hit = r.status == Status::Success
            && r.attempt != by.attempt
            && (same_load || r.files.iter().any(|f| removed.contains(&f.path)));
        if hit {
            r.status = Status::Replaced;
            r.error = Some(if r.load_id == by.load_id {
                format!(
                    "superseded by a retry of the same load id (attempt {})",
                    by.attempt
                )
            } else {
                format!(
                    "replaced by load {} (MODE replace) at {}",
                    by.load_id,
                    rfc3339(now)
                )
            });
            let _ = r.write(lake);
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Tests: the point where [`simulated_crash`] makes a publish stop as a dying process would.
    static CRASH_AT: std::cell::Cell<&'static str> = const { std::cell::Cell::new("") };
}

/// An error at the named point when a test asked for it (never in a build of the extension).
fn simulated_crash(point: &'static str) -> Result<(), String> {
    #[cfg(test)]
    if CRASH_AT.with(|c| c.get()) == point {
        return Err(format!("simulated crash at {point}"));
    }
    let _ = point;
    Ok(())
}

/// [`Load::order`] of a recorded load (None when its start time is unreadable).
fn record_order(r: &AuditRecord) -> Option<(String, &str)> {
    let at = DateTime::parse_from_rfc3339(&r.started_at).ok()?;
    Some((
        layout::compact_timestamp(at.with_timezone(&Utc)),
        &r.load_id,
    ))
}

/// Takes back files a failed publish had renamed into place, restoring the earlier file a
/// retry replaced (`(kept earlier file, published path)`).
fn undo_publish(published: &[(Option<PathBuf>, PathBuf)]) {
    for (previous, target) in published {
        match previous {
            Some(p) => {
                let _ = std::fs::rename(p, target);
            }
            None => {
                let _ = std::fs::remove_file(target);
            }
        }
    }
}

/// An exclusive lock serialising the publishes of one source; released on drop.
fn source_lock(lake: &Path, protocol: &str, source: &str) -> Result<std::fs::File, String> {
    let dir = lake.join(ETL_DIR).join("locks");
    std::fs::create_dir_all(&dir).map_err(|e| io_err("creating", &dir, e))?;
    open_lock(&dir.join(format!("{protocol}__{source}.lock")), true)
}

fn sync_dir(dir: Option<&Path>) {
    if let Some(d) = dir
        && let Ok(f) = std::fs::File::open(d)
    {
        let _ = f.sync_all();
    }
}

fn remove_empty_parents(file: &Path, stop_at: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == stop_at || !d.starts_with(stop_at) {
            break;
        }
        if std::fs::remove_dir(d).is_err() {
            break; // not empty
        }
        dir = d.parent();
    }
}

/// One temporary area removed by [`clean_stale`].
#[derive(Debug, Clone, PartialEq)]
pub struct Cleaned {
    pub path: String,
    pub bytes: u64,
    pub attempt: String,
    pub load_id: Option<String>,
}

/// Removes temporary areas (of loads whose process died) not modified for `min_age`, and marks
/// their still-running audit records abandoned. Recent areas may belong to a running load and
/// are kept.
/// Where a load's quarantine file goes: `_etl/quarantine/` + its planned data file's path.
fn planned_quarantine(record: &AuditRecord) -> Option<PathBuf> {
    let planned = record.planned_file.as_deref()?;
    record.contract.as_ref()?;
    Some(
        Path::new(ETL_DIR)
            .join(layout::QUARANTINE_DIR)
            .join(planned),
    )
}

/// How old a `.starting-` folder must be before it counts as dead, whatever `min_age` says (it
/// is unlocked only between two system calls, then renamed).
const STARTING_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

pub fn clean_stale(
    lake: &Path,
    min_age: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Cleaned>, String> {
    let tmp_root = lake.join(ETL_DIR).join(TMP_DIR);
    let entries = match std::fs::read_dir(&tmp_root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("listing", &tmp_root, e)),
    };
    let records = super::audit::read_all(lake)?;
    let mut cleaned = Vec::new();
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    dirs.sort();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let starting = name.starts_with(STARTING_PREFIX);
        // A live load holds the lock of its area: never touch it, however old its files look.
        // Entries may vanish at any moment (a load finishing): that is never an error.
        let lock_path = dir.join(ALIVE_LOCK);
        let _held = match open_regular(&lock_path, false) {
            Ok(f) => match f.try_lock() {
                // The lock is ours only if the file we locked is still the folder's lock: a
                // load that just finished removes its folder, lock included, and then releases
                // it, so a lock taken on the removed file proves nothing.
                Ok(()) if same_file(&f, &lock_path) => Some(f),
                Ok(()) => continue,
                Err(std::fs::TryLockError::WouldBlock) => continue,
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(io_err("locking", &lock_path, e));
                }
            },
            Err(_) if std::fs::symlink_metadata(&dir).is_err() => continue, // gone
            // No lock file: a folder a finishing load is removing right now, or one left by a
            // process that died before it locked. Only a long-dead one goes (below).
            Err(_) => None,
        };
        // A lock path that holds something else (a FIFO, a folder) was never a load's lock.
        let lockless = _held.is_none() && std::fs::symlink_metadata(&lock_path).is_err();
        let (bytes, newest) = tree_size_and_mtime(&dir);
        let age = std::time::SystemTime::now()
            .duration_since(newest)
            .unwrap_or_default();
        // A folder still being set up is unlocked for a moment: only a long-dead one goes.
        let min_age = if starting || lockless {
            min_age.max(STARTING_GRACE)
        } else {
            min_age
        };
        if age < min_age {
            continue;
        }
        let attempt = name
            .strip_prefix(STARTING_PREFIX)
            .unwrap_or(&name)
            .to_string();
        let unpublished = std::fs::read_dir(&dir).is_ok_and(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().ends_with(PARTIAL_SUFFIX))
        });
        let removed = if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            std::fs::remove_dir_all(&dir)
        } else {
            std::fs::remove_file(&dir)
        };
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("removing", &dir, e)),
        }
        let mut load_id = None;
        // The record as it is now, not as it was when the scan began (the load may have
        // published and recorded its success since).
        let current = super::audit::read_attempt(lake, &attempt)
            .or_else(|| records.iter().find(|r| r.attempt == attempt).cloned());
        if let Some(r) = current.as_ref() {
            load_id = Some(r.load_id.clone());
            if r.status == Status::Running {
                let mut r = r.clone();
                // Renamed into place by this attempt: its publishing record names the inode
                // (a retry reuses its earlier attempt's file name, so the file being there says
                // nothing). Records without inodes (written before they were kept) are judged
                // by the file's presence, as before.
                let renamed = if r.publishing_inodes.is_empty() {
                    !unpublished
                } else {
                    published_by(lake, &r)
                };
                let published = r
                    .planned_file
                    .as_deref()
                    .map(|f| lake.join(f))
                    .filter(|f| renamed && f.is_file());
                if let Some(file) = published {
                    // The process died between the rename and the record: the rows are
                    // visible, so the load is recorded as the success it is.
                    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
                    let rows = parquet_rows(&file).unwrap_or(0);
                    r.status = Status::Success;
                    r.rows = rows;
                    r.files = vec![FileEntry {
                        path: r.planned_file.clone().unwrap_or_default(),
                        bytes,
                        rows,
                    }];
                    r.error = Some(
                        "recorded by etl_clean_stale: the process ended after publishing, before \
                         writing this record"
                            .into(),
                    );
                    // Its quarantine file (renamed into place just before the data file).
                    if let Some(q) = planned_quarantine(&r).filter(|q| lake.join(q).is_file()) {
                        let path = lake.join(&q);
                        r.quarantine = Some(FileEntry {
                            path: relative_text(&q),
                            bytes: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
                            rows: parquet_rows(&path).unwrap_or(0),
                        });
                    }
                } else {
                    // Nothing of it is visible: its planned files and supersessions are void.
                    r.files.clear();
                    r.superseding.clear();
                    // A quarantine file renamed into place before the process died belongs to
                    // a load that did not happen, unless a recorded load names it.
                    if let Some(q) = planned_quarantine(&r) {
                        let text = relative_text(&q);
                        let recorded = records.iter().any(|o| {
                            o.attempt != r.attempt
                                && o.quarantine.as_ref().is_some_and(|f| f.path == text)
                        });
                        if !recorded {
                            let _ = std::fs::remove_file(lake.join(&q));
                        }
                    }
                    r.status = Status::Abandoned;
                    r.error = Some(
                        "the process ended before the load finished; its temporaries were \
                         removed by etl_clean_stale"
                            .into(),
                    );
                }
                r.finished_at = Some(rfc3339(now));
                r.write(lake)?;
            }
        }
        cleaned.push(Cleaned {
            path: relative_text(dir.strip_prefix(lake).unwrap_or(&dir)),
            bytes,
            attempt,
            load_id,
        });
    }
    finish_interrupted(lake, None, now);
    Ok(cleaned)
}

/// Finishes the supersessions that published loads recorded but did not carry out (the
/// process died between its record and the removals, or a removal failed): see
/// [`finish_superseding`]. `held`: the (protocol, source) whose publish lock the caller holds;
/// every other source's lock is taken here (waiting for a publish in progress).
fn finish_interrupted(lake: &Path, held: Option<(&str, &str)>, now: DateTime<Utc>) {
    let Ok(records) = super::audit::read_all(lake) else {
        return;
    };
    for r in records {
        let ours = held.is_some_and(|(p, s)| p == r.protocol && s == r.source);
        if r.status != Status::Success || r.superseding.is_empty() || (held.is_some() && !ours) {
            continue;
        }
        let _lock = if ours {
            None
        } else {
            match source_lock(lake, &r.protocol, &r.source) {
                Ok(l) => Some(l),
                Err(_) => continue,
            }
        };
        // As it is now, under the lock.
        if let Some(mut current) = super::audit::read_attempt(lake, &r.attempt)
            && current.status == Status::Success
            && !current.superseding.is_empty()
        {
            finish_superseding(lake, &mut current, now);
        }
    }
}

/// Whether the open file `f` is the file now at `path` (same device and inode).
fn same_file(f: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn parquet_rows(path: &Path) -> Option<u64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path).ok()?).ok()?;
    u64::try_from(reader.metadata().file_metadata().num_rows()).ok()
}

fn tree_size_and_mtime(path: &Path) -> (u64, std::time::SystemTime) {
    let mut bytes = 0;
    let mut newest = std::time::UNIX_EPOCH;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if let Ok(m) = meta.modified()
            && m > newest
        {
            newest = m;
        }
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
            }
        } else {
            bytes += meta.len();
        }
    }
    (bytes, newest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::OptionValue;
    use chrono::TimeZone;

    fn lake() -> PathBuf {
        std::env::temp_dir().join(format!("etl-load-{}", fastrand::u64(..)))
    }

    fn options(pairs: &[(&str, OptionValue)]) -> StagingOptions {
        let given: Vec<(String, OptionValue)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let parsed = Options::parse(FUNCTION, OPTIONS, &given).unwrap();
        StagingOptions::from_options(&parsed).unwrap()
    }

    fn text(s: &str) -> OptionValue {
        OptionValue::Text(s.into())
    }

    #[test]
    fn a_lake_named_with_dots_is_judged_by_where_it_is() {
        let dir = lake();
        std::fs::create_dir_all(dir.join("_etl")).unwrap();
        // A sibling reached through `..` is not inside the lake.
        let sibling = dir.join("../etl-load-sibling-of-a-lake");
        assert!(enclosing_lake(&sibling).is_none());
        // A folder inside it is.
        assert_eq!(
            enclosing_lake(&dir.join("p=0").join("x")),
            Some(lexically_absolute(&dir))
        );
        // The lake itself, also spelled with `.`, is not inside a lake.
        assert!(enclosing_lake(&dir.join(".")).is_none());
        assert!(enclosing_lake(&dir.join("sub/..")).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// clean_stale with min age 0 until no dead folder is left (a few tries): a child process
    /// another test forks shares the dead load's lock for a moment (flock follows the open
    /// file into the child until its exec), and clean_stale rightly skips a folder that looks
    /// locked.
    fn clean_dead(lake: &Path, now: DateTime<Utc>) -> Result<Vec<Cleaned>, String> {
        let mut all = Vec::new();
        for _ in 0..20 {
            all.extend(clean_stale(lake, std::time::Duration::ZERO, now)?);
            let dead_left = std::fs::read_dir(lake.join(ETL_DIR).join(TMP_DIR)).is_ok_and(|d| {
                d.filter_map(|e| e.ok())
                    .any(|e| !e.file_name().to_string_lossy().starts_with(STARTING_PREFIX))
            });
            if !dead_left {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ok(all)
    }

    fn at(sec: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, sec).unwrap()
    }

    fn stage(lake: &Path, opts: &StagingOptions, sec: u32, body: &[u8]) -> AuditRecord {
        let load = Load::begin(lake.to_path_buf(), opts.clone(), vec![], at(sec)).unwrap();
        std::fs::write(&load.tmp_file, body).unwrap();
        load.publish(1, body.len() as u64, at(sec), Verdict::default())
            .unwrap()
    }

    #[test]
    fn options_default_and_validate() {
        let o = options(&[("SOURCE", text("users"))]);
        assert_eq!(o.protocol, "sql");
        assert_eq!(o.mode, Mode::Append);
        assert!(o.metadata);
        assert_eq!(o.writer.row_group_size, 122_880);
        assert_eq!(o.writer.codec, Codec::Zstd);
        let missing = Options::parse(FUNCTION, OPTIONS, &[])
            .unwrap_err()
            .to_string();
        assert!(missing.contains("SOURCE"), "{missing}");
        let parsed =
            Options::parse(FUNCTION, OPTIONS, &[("SOURCE".into(), text("../etc"))]).unwrap();
        let err = StagingOptions::from_options(&parsed).unwrap_err();
        assert!(err.contains("option SOURCE got '../etc'"), "{err}");
    }

    #[test]
    fn publish_is_one_rename_and_leaves_no_temporaries() {
        let lake = lake();
        let opts = options(&[("SOURCE", text("users")), ("PROTOCOL", text("rest"))]);
        let load = Load::begin(
            lake.clone(),
            opts,
            vec![("id".into(), "BIGINT".into())],
            at(0),
        )
        .unwrap();
        assert!(
            load.tmp_file
                .to_string_lossy()
                .ends_with(".parquet.partial")
        );
        std::fs::write(&load.tmp_file, b"data").unwrap();
        assert!(
            parquet_files(&lake).unwrap().is_empty(),
            "nothing visible before publish"
        );
        let record = load.publish(5, 4, at(1), Verdict::default()).unwrap();
        assert_eq!(record.status, Status::Success);
        assert_eq!(record.files[0].path, load.source_file());
        assert!(
            record.files[0]
                .path
                .starts_with("rest/users/load_date=2026-11-22/users_")
        );
        assert_eq!(
            parquet_files(&lake).unwrap(),
            vec![lake.join(&load.relative)]
        );
        assert!(!load.tmp_dir.exists());
        let audit = super::super::audit::read_all(&lake).unwrap();
        assert_eq!(
            audit.len(),
            1,
            "the running record was replaced by the outcome"
        );
        assert_eq!(audit[0].status, Status::Success);
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn same_load_id_replaces_its_file_and_other_loads_stay() {
        let lake = lake();
        let other = options(&[("SOURCE", text("users")), ("LOAD_ID", text("other"))]);
        stage(&lake, &other, 0, b"other");
        let retry = options(&[("SOURCE", text("users")), ("LOAD_ID", text("L1"))]);
        let first = stage(&lake, &retry, 1, b"first");
        let second = stage(&lake, &retry, 2, b"second");
        assert_eq!(
            first.files[0].path, second.files[0].path,
            "the retry reuses the file name"
        );
        let files = parquet_files(&lake).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(
            std::fs::read(lake.join(&second.files[0].path)).unwrap(),
            b"second"
        );
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn mode_replace_removes_only_this_sources_earlier_loads() {
        let lake = lake();
        stage(&lake, &options(&[("SOURCE", text("users"))]), 0, b"a");
        stage(&lake, &options(&[("SOURCE", text("orders"))]), 1, b"b");
        std::fs::write(lake.join("keep.txt"), b"x").unwrap();
        let rec = stage(
            &lake,
            &options(&[("SOURCE", text("users")), ("MODE", text("replace"))]),
            2,
            b"c",
        );
        assert_eq!(rec.removed_files.len(), 1);
        let files: Vec<String> = parquet_files(&lake)
            .unwrap()
            .iter()
            .map(|p| relative_text(p.strip_prefix(&lake).unwrap()))
            .collect();
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(files.iter().any(|f| f.starts_with("sql/orders/")));
        assert!(files.contains(&rec.files[0].path));
        assert!(lake.join("keep.txt").exists());
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn a_load_whose_audit_record_cannot_be_written_is_taken_back() {
        let lake = lake();
        let load = Load::begin(
            lake.clone(),
            options(&[("SOURCE", text("u"))]),
            vec![],
            at(0),
        )
        .unwrap();
        std::fs::write(&load.tmp_file, b"data").unwrap();
        // Block the record's file name with a folder, so writing the record fails.
        let record_path = load
            .record(Status::Running, 0, vec![], vec![], None, None)
            .path(&lake);
        std::fs::remove_file(&record_path).unwrap();
        std::fs::create_dir_all(record_path.join("blocked")).unwrap();
        let err = load.publish(1, 4, at(1), Verdict::default()).unwrap_err();
        assert!(err.contains("the load was not published"), "{err}");
        assert!(
            parquet_files(&lake).unwrap().is_empty(),
            "the published file was taken back"
        );
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn failure_removes_temporaries_and_records_the_error() {
        let lake = lake();
        let load = Load::begin(
            lake.clone(),
            options(&[("SOURCE", text("u"))]),
            vec![],
            at(0),
        )
        .unwrap();
        std::fs::write(&load.tmp_file, b"half").unwrap();
        load.fail(7, "boom", at(1));
        assert!(!load.tmp_dir.exists());
        let audit = super::super::audit::read_all(&lake).unwrap();
        assert_eq!(audit[0].status, Status::Failure);
        assert_eq!(audit[0].error.as_deref(), Some("boom"));
        assert!(parquet_files(&lake).unwrap().is_empty());
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn clean_stale_removes_old_temporaries_and_marks_the_load_abandoned() {
        let lake = lake();
        let load = Load::begin(
            lake.clone(),
            options(&[("SOURCE", text("u"))]),
            vec![],
            at(0),
        )
        .unwrap();
        std::fs::write(&load.tmp_file, b"half").unwrap();
        let live = clean_stale(&lake, std::time::Duration::ZERO, at(1)).unwrap();
        assert!(
            live.is_empty(),
            "a running load holds its lock and is never cleaned"
        );
        let (tmp_dir, load_id) = (load.tmp_dir.clone(), load.load_id.clone());
        drop(load); // the process "dies": its lock is released
        let kept = clean_stale(&lake, std::time::Duration::from_secs(3600), at(1)).unwrap();
        assert!(kept.is_empty(), "younger than min_age");
        let cleaned = clean_dead(&lake, at(1)).unwrap();
        assert_eq!(cleaned.len(), 1);
        assert_eq!(cleaned[0].bytes, 4);
        assert_eq!(cleaned[0].load_id.as_deref(), Some(load_id.as_str()));
        assert!(!tmp_dir.exists());
        let audit = super::super::audit::read_all(&lake).unwrap();
        assert_eq!(audit[0].status, Status::Abandoned);
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn clean_stale_with_min_age_zero_never_breaks_loads_starting_or_finishing_beside_it() {
        let lake = lake();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cleaner = {
            let (lake, stop) = (lake.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut cleaned = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match clean_stale(&lake, std::time::Duration::ZERO, at(9)) {
                        Ok(c) => cleaned.extend(c),
                        Err(e) => return Err(e),
                    }
                }
                Ok(cleaned)
            })
        };
        let opts = options(&[("SOURCE", text("u"))]);
        let mut failures = Vec::new();
        for i in 0..300 {
            let outcome =
                Load::begin(lake.clone(), opts.clone(), vec![], at(i % 60)).and_then(|load| {
                    std::fs::write(&load.tmp_file, b"data").map_err(|e| format!("writing: {e}"))?;
                    load.publish(1, 4, at(i % 60), Verdict::default())
                });
            if let Err(e) = outcome {
                failures.push(e);
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let cleaned = cleaner.join().unwrap();
        assert!(
            failures.is_empty(),
            "loads broken by clean_stale: {failures:?}"
        );
        let cleaned = cleaned.expect("clean_stale failed while loads finished");
        assert!(cleaned.is_empty(), "live loads were cleaned: {cleaned:?}");
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn clean_stale_keeps_a_folder_being_set_up_and_ignores_a_fifo_lock() {
        let lake = lake();
        let starting = lake.join("_etl/tmp/.starting-x");
        std::fs::create_dir_all(&starting).unwrap();
        assert!(
            clean_stale(&lake, std::time::Duration::ZERO, at(1))
                .unwrap()
                .is_empty()
        );
        assert!(starting.exists(), "no lock yet: it may be a load starting");
        // A FIFO where a lock belongs neither blocks clean_stale nor a publish.
        let dead = lake.join("_etl/tmp/dead");
        std::fs::create_dir_all(&dead).unwrap();
        let mkfifo = |p: &Path| {
            assert!(
                std::process::Command::new("mkfifo")
                    .arg(p)
                    .status()
                    .unwrap()
                    .success()
            )
        };
        mkfifo(&dead.join(ALIVE_LOCK));
        let cleaned = clean_dead(&lake, at(1)).unwrap();
        assert_eq!(cleaned.len(), 1);
        std::fs::create_dir_all(lake.join("_etl/locks")).unwrap();
        mkfifo(&lake.join("_etl/locks/sql__u.lock"));
        let load = Load::begin(
            lake.clone(),
            options(&[("SOURCE", text("u"))]),
            vec![],
            at(2),
        )
        .unwrap();
        std::fs::write(&load.tmp_file, b"data").unwrap();
        let err = load.publish(1, 4, at(3), Verdict::default()).unwrap_err();
        assert!(
            err.contains("not a regular file") || err.contains("opening"),
            "{err}"
        );
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn clean_stale_removes_the_quarantine_file_of_a_load_that_died_before_its_record() {
        let lake = lake();
        let load = Load::begin(
            lake.clone(),
            options(&[("SOURCE", text("u")), ("CONTRACT", text("c.yaml"))]),
            vec![],
            at(0),
        )
        .unwrap();
        std::fs::write(&load.tmp_file, b"half").unwrap();
        // The quarantine file was renamed into place; then the process died.
        let quarantine = lake.join(load.quarantine_relative());
        std::fs::create_dir_all(quarantine.parent().unwrap()).unwrap();
        std::fs::write(&quarantine, b"set aside").unwrap();
        assert!(quarantine.starts_with(lake.join("_etl/quarantine/sql/u")));
        drop(load);
        clean_dead(&lake, at(1)).unwrap();
        assert!(
            !quarantine.exists(),
            "no record names it: the load did not happen"
        );
        let audit = super::super::audit::read_all(&lake).unwrap();
        assert_eq!(audit[0].status, Status::Abandoned);
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn clean_stale_records_a_load_that_died_after_publishing() {
        let lake = lake();
        let load = Load::begin(
            lake.clone(),
            options(&[("SOURCE", text("u"))]),
            vec![],
            at(0),
        )
        .unwrap();
        std::fs::write(&load.tmp_file, b"not parquet").unwrap();
        // Published (renamed), then the process died before the success record.
        let target = lake.join(&load.relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::rename(&load.tmp_file, &target).unwrap();
        drop(load);
        let cleaned = clean_dead(&lake, at(1)).unwrap();
        assert_eq!(cleaned.len(), 1);
        let audit = super::super::audit::read_all(&lake).unwrap();
        assert_eq!(audit[0].status, Status::Success);
        assert_eq!(audit[0].files[0].bytes, 11);
        assert!(target.exists(), "visible rows are never removed");
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn mode_replace_keeps_loads_that_started_later_and_marks_replaced_records() {
        let lake = lake();
        let early = stage(&lake, &options(&[("SOURCE", text("users"))]), 0, b"a");
        // A replace that started at second 1 publishes after a load that started at second 2.
        let replace = Load::begin(
            lake.clone(),
            options(&[("SOURCE", text("users")), ("MODE", text("replace"))]),
            vec![],
            at(1),
        )
        .unwrap();
        let later = stage(&lake, &options(&[("SOURCE", text("users"))]), 2, b"c");
        std::fs::write(&replace.tmp_file, b"b").unwrap();
        let rec = replace.publish(1, 1, at(3), Verdict::default()).unwrap();
        assert_eq!(rec.removed_files, vec![early.files[0].path.clone()]);
        assert!(lake.join(&later.files[0].path).exists());
        let audit = super::super::audit::read_all(&lake).unwrap();
        let status = |id: &str| audit.iter().find(|r| r.load_id == id).unwrap().status;
        assert_eq!(status(&early.load_id), Status::Replaced);
        assert_eq!(status(&later.load_id), Status::Success);
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn a_lake_emptied_by_duckdbs_overwrite_is_named_in_the_refusal() {
        let lake = lake();
        std::fs::create_dir_all(lake.join("_etl/audit")).unwrap();
        std::fs::create_dir_all(lake.join("sql/users/load_date=2026-01-01")).unwrap();
        let target = lake.join("data_0.");
        let err = lake_root(target.to_str().unwrap()).unwrap_err();
        assert!(err.contains("restore the lake from a backup"), "{err}");
        std::fs::write(lake.join("_etl/audit/a.json"), b"{}").unwrap();
        let err = lake_root(target.to_str().unwrap()).unwrap_err();
        assert!(!err.contains("backup"), "files remain: {err}");
        std::fs::remove_file(lake.join("_etl/audit/a.json")).unwrap();
        // PARTITION_BY asks for a file two folders down: the lake root is what was emptied.
        let partitioned = lake.join("p=0/data_0.");
        let err = lake_root(partitioned.to_str().unwrap()).unwrap_err();
        assert!(err.contains("restore the lake from a backup"), "{err}");
        assert!(
            err.contains(&format!("the lake '{}'", lake.display())),
            "{err}"
        );
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn overlapping_replace_loads_leave_one_snapshot_whichever_publishes_last() {
        let lake = lake();
        let replace = |id: &str| {
            options(&[
                ("SOURCE", text("users")),
                ("MODE", text("replace")),
                ("LOAD_ID", text(id)),
            ])
        };
        stage(&lake, &options(&[("SOURCE", text("users"))]), 0, b"old");
        // `early` starts first and publishes last, after `late` published.
        let early = Load::begin(lake.clone(), replace("early"), vec![], at(1)).unwrap();
        let late = stage(&lake, &replace("late"), 2, b"late");
        std::fs::write(&early.tmp_file, b"early").unwrap();
        let rec = early.publish(1, 5, at(3), Verdict::default()).unwrap();
        assert_eq!(rec.status, Status::Replaced, "{rec:?}");
        assert!(
            rec.error
                .as_deref()
                .unwrap()
                .contains("superseded by load late")
        );
        let files = parquet_files(&lake).unwrap();
        assert_eq!(files, vec![lake.join(&late.files[0].path)], "one snapshot");
        assert!(!early.tmp_dir.exists());
        let audit = super::super::audit::read_all(&lake).unwrap();
        let status = |id: &str| audit.iter().find(|r| r.load_id == id).unwrap().status;
        assert_eq!(status("late"), Status::Success);
        assert_eq!(status("early"), Status::Replaced);
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn multi_file_copy_modes_and_file_targets_are_refused() {
        let err = lake_root("lake/data_0.").unwrap_err();
        assert!(err.contains("PER_THREAD_OUTPUT"), "{err}");
        for generated in ["lake/data_12.parquet", "lake/p=1/data_0.", "lake/0193-ab."] {
            let err = lake_root(generated).unwrap_err();
            assert!(err.contains("Never add OVERWRITE"), "{generated}: {err}");
        }
        assert!(lake_root("lake/data_lake").is_ok());
        assert!(lake_root("lake/data_v2.1").is_ok());
        let dir = lake();
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("afile");
        std::fs::write(&file, b"x").unwrap();
        let err = lake_root(file.to_str().unwrap()).unwrap_err();
        assert!(err.contains("is a file"), "{err}");
        let err = lake_root(dir.join("tmp_afile").to_str().unwrap()).unwrap_err();
        assert!(err.contains("is a file"), "{err}");
        assert_eq!(lake_root("new/lake").unwrap(), PathBuf::from("new/lake"));
        // Inside an existing lake, whatever FILENAME_PATTERN / FILE_EXTENSION named the file.
        std::fs::create_dir_all(dir.join("_etl")).unwrap();
        for inside in ["f0.x", "p=0/part_0.pq", "sub"] {
            let err = lake_root(dir.join(inside).to_str().unwrap()).unwrap_err();
            assert!(err.contains("inside a lake"), "{inside}: {err}");
        }
        assert!(lake_root(dir.to_str().unwrap()).is_ok(), "the lake itself");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn replace_opts(id: &str) -> StagingOptions {
        options(&[
            ("SOURCE", text("users")),
            ("MODE", text("replace")),
            ("LOAD_ID", text(id)),
        ])
    }

    #[test]
    fn an_append_that_started_before_a_published_replace_is_superseded_not_published() {
        let lake = lake();
        let append = Load::begin(
            lake.clone(),
            options(&[("SOURCE", text("users")), ("LOAD_ID", text("early"))]),
            vec![],
            at(1),
        )
        .unwrap();
        let replace = stage(&lake, &replace_opts("snap"), 2, b"snap");
        std::fs::write(&append.tmp_file, b"early").unwrap();
        let rec = append.publish(1, 5, at(3), Verdict::default()).unwrap();
        assert_eq!(rec.status, Status::Replaced, "{rec:?}");
        assert!(
            rec.error
                .as_deref()
                .unwrap()
                .contains("superseded by load snap")
        );
        assert_eq!(
            parquet_files(&lake).unwrap(),
            vec![lake.join(&replace.files[0].path)],
            "only the snapshot's rows remain"
        );
        // An append that started after the replace is kept.
        let later = stage(
            &lake,
            &options(&[("SOURCE", text("users")), ("LOAD_ID", text("later"))]),
            4,
            b"later",
        );
        assert_eq!(later.status, Status::Success);
        assert_eq!(parquet_files(&lake).unwrap().len(), 2);
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn replace_loads_starting_in_the_same_millisecond_leave_one_snapshot_in_either_publish_order() {
        for first_publisher in ["a", "b"] {
            let lake = lake();
            let a = Load::begin(lake.clone(), replace_opts("a"), vec![], at(1)).unwrap();
            let b = Load::begin(lake.clone(), replace_opts("b"), vec![], at(1)).unwrap();
            std::fs::write(&a.tmp_file, b"a").unwrap();
            std::fs::write(&b.tmp_file, b"b").unwrap();
            let (x, y) = if first_publisher == "a" {
                (a, b)
            } else {
                (b, a)
            };
            x.publish(1, 1, at(2), Verdict::default()).unwrap();
            y.publish(1, 1, at(3), Verdict::default()).unwrap();
            let files = parquet_files(&lake).unwrap();
            assert_eq!(files.len(), 1, "{first_publisher} first: {files:?}");
            let audit = super::super::audit::read_all(&lake).unwrap();
            let success: Vec<&str> = audit
                .iter()
                .filter(|r| r.status == Status::Success)
                .map(|r| r.load_id.as_str())
                .collect();
            assert_eq!(
                success,
                vec!["b"],
                "{first_publisher} first: the same load wins"
            );
            std::fs::remove_dir_all(lake).unwrap();
        }
    }

    #[test]
    fn a_superseded_load_keeps_its_temporaries_until_its_record_is_written() {
        let lake = lake();
        let early = Load::begin(lake.clone(), replace_opts("early"), vec![], at(1)).unwrap();
        stage(&lake, &replace_opts("late"), 2, b"late");
        std::fs::write(&early.tmp_file, b"early").unwrap();
        let record_path = early
            .record(Status::Running, 0, vec![], vec![], None, None)
            .path(&lake);
        std::fs::remove_file(&record_path).unwrap();
        std::fs::create_dir_all(record_path.join("blocked")).unwrap();
        assert!(early.publish(1, 5, at(3), Verdict::default()).is_err());
        assert!(
            early.tmp_dir.exists(),
            "removed before the record: a crash there would leave `running` forever"
        );
        std::fs::remove_dir_all(lake).unwrap();
    }

    fn crash_at(point: &'static str) {
        CRASH_AT.with(|c| c.set(point));
    }

    fn status_of(lake: &Path, id: &str) -> Status {
        let audit = super::super::audit::read_all(lake).unwrap();
        audit.iter().find(|r| r.load_id == id).unwrap().status
    }

    /// Publishes `load` up to the crash point, then "kills the process" (its lock goes).
    fn publish_and_die(load: Load, point: &'static str, sec: u32) {
        std::fs::write(&load.tmp_file, b"new").unwrap();
        crash_at(point);
        let err = load.publish(1, 3, at(sec), Verdict::default()).unwrap_err();
        crash_at("");
        assert!(err.contains("simulated crash"), "{err}");
        drop(load);
    }

    #[test]
    fn a_replace_that_died_after_its_rename_is_finished_by_clean_stale() {
        let lake = lake();
        let old = stage(&lake, &options(&[("SOURCE", text("users"))]), 0, b"old");
        let replace = Load::begin(lake.clone(), replace_opts("snap"), vec![], at(1)).unwrap();
        let snap_file = lake.join(&replace.relative);
        publish_and_die(replace, "after rename", 2);
        assert_eq!(
            parquet_files(&lake).unwrap().len(),
            2,
            "the process died mid-publish"
        );
        clean_dead(&lake, at(3)).unwrap();
        assert_eq!(
            parquet_files(&lake).unwrap(),
            vec![snap_file],
            "one snapshot"
        );
        assert_eq!(status_of(&lake, "snap"), Status::Success);
        assert_eq!(status_of(&lake, &old.load_id), Status::Replaced);
        let audit = super::super::audit::read_all(&lake).unwrap();
        let snap = audit.iter().find(|r| r.load_id == "snap").unwrap();
        assert_eq!(snap.removed_files, vec![old.files[0].path.clone()]);
        assert!(snap.superseding.is_empty());
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn an_older_replace_publishing_after_a_newer_one_died_after_its_rename_publishes_nothing() {
        let lake = lake();
        let early = Load::begin(lake.clone(), replace_opts("early"), vec![], at(1)).unwrap();
        let late = Load::begin(lake.clone(), replace_opts("late"), vec![], at(2)).unwrap();
        let late_file = lake.join(&late.relative);
        publish_and_die(late, "after rename", 3);
        std::fs::write(&early.tmp_file, b"early").unwrap();
        let rec = early.publish(1, 5, at(4), Verdict::default()).unwrap();
        assert_eq!(rec.status, Status::Replaced, "{rec:?}");
        assert_eq!(parquet_files(&lake).unwrap(), vec![late_file]);
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn a_replace_that_died_before_removing_what_it_superseded_is_finished() {
        for finisher in ["clean_stale", "next publish"] {
            let lake = lake();
            let old = stage(&lake, &options(&[("SOURCE", text("users"))]), 0, b"old");
            let replace = Load::begin(lake.clone(), replace_opts("snap"), vec![], at(1)).unwrap();
            let snap_file = lake.join(&replace.relative);
            publish_and_die(replace, "after record", 2);
            assert_eq!(status_of(&lake, "snap"), Status::Success);
            if finisher == "clean_stale" {
                clean_dead(&lake, at(3)).unwrap();
                assert_eq!(parquet_files(&lake).unwrap(), vec![snap_file], "{finisher}");
            } else {
                stage(&lake, &options(&[("SOURCE", text("users"))]), 3, b"next");
                let files = parquet_files(&lake).unwrap();
                assert_eq!(files.len(), 2, "{finisher}: {files:?}");
                assert!(files.contains(&snap_file));
            }
            assert_eq!(
                status_of(&lake, &old.load_id),
                Status::Replaced,
                "{finisher}"
            );
            std::fs::remove_dir_all(lake).unwrap();
        }
    }

    #[test]
    fn a_superseded_file_that_cannot_be_removed_is_not_listed_as_removed() {
        let lake = lake();
        let old = stage(&lake, &options(&[("SOURCE", text("users"))]), 0, b"old");
        let replace = Load::begin(lake.clone(), replace_opts("snap"), vec![], at(1)).unwrap();
        std::fs::write(&replace.tmp_file, b"snap").unwrap();
        crash_at("remove");
        let rec = replace.publish(1, 4, at(2), Verdict::default());
        crash_at("");
        let rec = rec.unwrap();
        assert!(rec.removed_files.is_empty(), "{rec:?}");
        assert_eq!(rec.superseding, vec![old.files[0].path.clone()]);
        assert_eq!(
            status_of(&lake, &old.load_id),
            Status::Success,
            "its rows are visible"
        );
        // Removable again: etl_clean_stale finishes it.
        clean_dead(&lake, at(3)).unwrap();
        assert_eq!(status_of(&lake, &old.load_id), Status::Replaced);
        assert_eq!(parquet_files(&lake).unwrap().len(), 1);
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn finishing_a_dead_replace_keeps_a_file_a_newer_retry_published_under_the_same_name() {
        let lake = lake();
        let append = options(&[("SOURCE", text("users")), ("LOAD_ID", text("L"))]);
        let old = stage(&lake, &append, 0, b"old");
        let replace = Load::begin(lake.clone(), replace_opts("snap"), vec![], at(1)).unwrap();
        publish_and_die(replace, "after rename", 2);
        // The retry of L started after the replace: newer data, under L's earlier file name.
        let retry = stage(&lake, &append, 3, b"retry");
        assert_eq!(retry.files[0].path, old.files[0].path);
        clean_dead(&lake, at(4)).unwrap();
        let kept = lake.join(&retry.files[0].path);
        assert_eq!(
            std::fs::read(&kept).unwrap(),
            b"retry",
            "the retry's rows stay"
        );
        assert_eq!(status_of(&lake, "snap"), Status::Success);
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn a_retry_started_after_a_replace_is_kept_by_it() {
        let lake = lake();
        let append = options(&[("SOURCE", text("users")), ("LOAD_ID", text("L"))]);
        stage(&lake, &append, 0, b"old");
        let replace = Load::begin(lake.clone(), replace_opts("snap"), vec![], at(2)).unwrap();
        let retry = stage(&lake, &append, 3, b"retry");
        let fresh = stage(
            &lake,
            &options(&[("SOURCE", text("users")), ("LOAD_ID", text("N"))]),
            3,
            b"new",
        );
        std::fs::write(&replace.tmp_file, b"snap").unwrap();
        replace.publish(1, 4, at(5), Verdict::default()).unwrap();
        assert!(
            lake.join(&retry.files[0].path).exists(),
            "retry (started T3 > replace T2) removed"
        );
        assert!(lake.join(&fresh.files[0].path).exists());
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn a_dead_replace_retry_that_never_renamed_does_not_supersede_a_newer_append() {
        let lake = lake();
        stage(&lake, &replace_opts("R"), 1, b"snap1");
        let a = Load::begin(
            lake.clone(),
            options(&[("SOURCE", text("users")), ("LOAD_ID", text("A"))]),
            vec![],
            at(2),
        )
        .unwrap();
        let r2 = Load::begin(lake.clone(), replace_opts("R"), vec![], at(3)).unwrap();
        publish_and_die(r2, "before rename", 4);
        std::fs::write(&a.tmp_file, b"A").unwrap();
        let rec = a.publish(1, 1, at(5), Verdict::default()).unwrap();
        assert_eq!(
            rec.status,
            Status::Success,
            "A's rows dropped though R's retry never published"
        );
        clean_dead(&lake, at(6)).unwrap();
        assert_eq!(status_of(&lake, "A"), Status::Success);
        std::fs::remove_dir_all(lake).unwrap();
    }

    #[test]
    fn a_dead_append_retry_that_never_renamed_does_not_keep_an_old_file_from_a_replace() {
        let lake = lake();
        let append = options(&[("SOURCE", text("users")), ("LOAD_ID", text("L"))]);
        let old = stage(&lake, &append, 0, b"old");
        let replace = Load::begin(lake.clone(), replace_opts("snap"), vec![], at(2)).unwrap();
        let retry = Load::begin(lake.clone(), append.clone(), vec![], at(3)).unwrap();
        publish_and_die(retry, "before rename", 4);
        std::fs::write(&replace.tmp_file, b"snap").unwrap();
        replace.publish(1, 4, at(5), Verdict::default()).unwrap();
        clean_dead(&lake, at(6)).unwrap();
        assert!(
            !lake.join(&old.files[0].path).exists(),
            "the T0 rows survive beside the snapshot"
        );
        std::fs::remove_dir_all(lake).unwrap();
    }
}
