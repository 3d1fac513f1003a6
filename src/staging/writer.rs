//! Streaming Parquet writer with parallel row-group encoding.
//!
//! The caller (the COPY sink, one thread) pushes Arrow column batches. Rows are cut into row
//! groups of `row_group_size`; each row group is encoded by one of `threads` encoder threads
//! while the caller keeps converting the next one. Finished row groups are appended to the file
//! strictly in order. At most `threads + 1` row groups are in flight, so memory stays bounded
//! by the row group size, never by the row count.

use arrow_array::ArrayRef;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowSchemaConverter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::schema::annotate_parquet_schema;

/// Parquet compression codecs a user can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Zstd,
    Snappy,
    Uncompressed,
}

impl Codec {
    pub const NAMES: &'static [&'static str] = &["zstd", "snappy", "uncompressed"];

    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "zstd" => Some(Codec::Zstd),
            "snappy" => Some(Codec::Snappy),
            "uncompressed" | "none" => Some(Codec::Uncompressed),
            _ => None,
        }
    }

    fn compression(self) -> Compression {
        match self {
            // Level 3: DuckDB's own default for ZSTD Parquet.
            Codec::Zstd => Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()),
            Codec::Snappy => Compression::SNAPPY,
            Codec::Uncompressed => Compression::UNCOMPRESSED,
        }
    }
}

#[derive(Debug, Clone)]
pub struct WriterConfig {
    pub row_group_size: usize,
    pub codec: Codec,
    pub threads: usize,
}

type Encoded = (usize, Result<Vec<ArrowColumnChunk>, String>);

struct Job {
    index: usize,
    writers: Vec<ArrowColumnWriter>,
    feed: Receiver<Vec<ArrayRef>>,
}

/// One Parquet file being written.
pub struct ParquetStream {
    path: PathBuf,
    file: Option<SerializedFileWriter<BufWriter<File>>>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    config: WriterConfig,
    jobs: Option<Sender<Job>>,
    results: Receiver<Encoded>,
    workers: Vec<JoinHandle<()>>,
    /// The row group being filled: its feed and row count so far.
    current: Option<(Sender<Vec<ArrayRef>>, usize)>,
    next_index: usize,
    next_append: usize,
    done: BTreeMap<usize, Vec<ArrowColumnChunk>>,
    rows: u64,
}

fn perr(path: &Path, what: &str, e: impl std::fmt::Display) -> String {
    format!("{what} {}: {e}", path.display())
}

impl ParquetStream {
    /// Creates `path` and starts the encoder threads.
    pub fn create(path: &Path, schema: SchemaRef, config: WriterConfig) -> Result<Self, String> {
        let descr = ArrowSchemaConverter::new()
            .convert(&schema)
            .map_err(|e| perr(path, "building the Parquet schema of", e))?;
        let root = annotate_parquet_schema(&descr.root_schema_ptr())
            .map_err(|e| perr(path, "building the Parquet schema of", e))?;
        // Dictionary encoding pays for text (names, codes, enums) but not for numbers and
        // times: arrow-rs keeps a dictionary until it holds 1 MiB, which a row group of
        // near-unique 8-byte values never reaches, so every value would be hashed and
        // interned for nothing (measured: about 2x the encoding time and 2-3x the zstd size).
        let mut builder = WriterProperties::builder()
            .set_compression(config.codec.compression())
            .set_max_row_group_row_count(Some(config.row_group_size.max(1)))
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_dictionary_enabled(false)
            .set_created_by(format!(
                "etl {} (DuckDB extension, dw_staging)",
                crate::config::EXTENSION_VERSION
            ));
        for column in descr.columns() {
            if column.physical_type() == parquet::basic::Type::BYTE_ARRAY {
                builder = builder.set_column_dictionary_enabled(column.path().clone(), true);
            }
        }
        // `_source_file` is the same long text in every row and in the file's name: min/max
        // statistics would compare every value for nothing.
        builder = builder.set_column_statistics_enabled(
            parquet::schema::types::ColumnPath::from(super::schema::METADATA_COLUMNS[2]),
            EnabledStatistics::None,
        );
        let props = builder.build();
        let file = File::create(path).map_err(|e| perr(path, "creating", e))?;
        let writer = SerializedFileWriter::new(
            BufWriter::with_capacity(1 << 20, file),
            root,
            Arc::new(props),
        )
        .map_err(|e| perr(path, "starting", e))?;
        let factory = ArrowRowGroupWriterFactory::new(&writer, schema.clone());
        let (job_tx, job_rx) = channel::<Job>();
        let (result_tx, result_rx) = channel::<Encoded>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let mut workers = Vec::new();
        for n in 0..config.threads.max(1) {
            let jobs = job_rx.clone();
            let results = result_tx.clone();
            let schema = schema.clone();
            let handle = std::thread::Builder::new()
                .name(format!("etl-parquet-{n}"))
                .spawn(move || encoder_loop(&jobs, &results, &schema))
                .map_err(|e| perr(path, "starting an encoder thread for", e))?;
            workers.push(handle);
        }
        Ok(ParquetStream {
            path: path.to_path_buf(),
            file: Some(writer),
            factory,
            schema,
            config,
            jobs: Some(job_tx),
            results: result_rx,
            workers,
            current: None,
            next_index: 0,
            next_append: 0,
            done: BTreeMap::new(),
            rows: 0,
        })
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends a batch (one array per schema field, all of `rows` rows).
    pub fn write(&mut self, columns: Vec<ArrayRef>, rows: usize) -> Result<(), String> {
        let mut offset = 0;
        while offset < rows {
            if self.current.is_none() {
                self.start_row_group()?;
            }
            let (feed, filled) = self.current.as_mut().ok_or("no row group")?;
            let take = (self.config.row_group_size - *filled).min(rows - offset);
            let part = if offset == 0 && take == rows {
                columns.clone()
            } else {
                columns.iter().map(|c| c.slice(offset, take)).collect()
            };
            if feed.send(part).is_err() {
                // The encoder hung up: it failed; its error arrives through `results`.
                self.current = None;
                self.drain(true)?;
                return Err(format!(
                    "encoding {} stopped unexpectedly",
                    self.path.display()
                ));
            }
            *filled += take;
            offset += take;
            self.rows += take as u64;
            if *filled >= self.config.row_group_size {
                self.current = None; // dropping the feed closes the row group
            }
        }
        Ok(())
    }

    fn start_row_group(&mut self) -> Result<(), String> {
        // Bound the work in flight: wait for the oldest row groups first.
        while self.next_index - self.next_append > self.config.threads.max(1) {
            self.receive_one()?;
        }
        self.drain(false)?;
        let writers = self
            .factory
            .create_column_writers(self.next_index)
            .map_err(|e| perr(&self.path, "preparing a row group of", e))?;
        let (tx, rx) = channel();
        let job = Job {
            index: self.next_index,
            writers,
            feed: rx,
        };
        self.jobs
            .as_ref()
            .ok_or("writer already closed")?
            .send(job)
            .map_err(|_| format!("the encoder threads of {} stopped", self.path.display()))?;
        self.next_index += 1;
        self.current = Some((tx, 0));
        Ok(())
    }

    /// Waits for one encoded row group and appends whatever is ready in order.
    fn receive_one(&mut self) -> Result<(), String> {
        let (index, chunks) = self
            .results
            .recv()
            .map_err(|_| format!("the encoder threads of {} stopped", self.path.display()))?;
        self.done.insert(index, chunks?);
        self.append_ready()
    }

    /// Appends ready row groups; with `wait`, first waits for every row group in flight.
    fn drain(&mut self, wait: bool) -> Result<(), String> {
        while let Ok((index, chunks)) = self.results.try_recv() {
            self.done.insert(index, chunks?);
        }
        self.append_ready()?;
        if wait {
            while self.next_append < self.next_index {
                self.receive_one()?;
            }
        }
        Ok(())
    }

    fn append_ready(&mut self) -> Result<(), String> {
        while let Some(chunks) = self.done.remove(&self.next_append) {
            let file = self.file.as_mut().ok_or("writer already closed")?;
            let mut row_group = file
                .next_row_group()
                .map_err(|e| perr(&self.path, "writing", e))?;
            for chunk in chunks {
                chunk
                    .append_to_row_group(&mut row_group)
                    .map_err(|e| perr(&self.path, "writing", e))?;
            }
            row_group
                .close()
                .map_err(|e| perr(&self.path, "writing", e))?;
            self.next_append += 1;
        }
        Ok(())
    }

    /// Encodes what is left, writes the footer and syncs the file to disk. Returns its size.
    pub fn finish(mut self) -> Result<u64, String> {
        self.current = None;
        self.drain(true)?;
        self.stop_workers();
        let file = self.file.take().ok_or("writer already closed")?;
        let inner = file
            .into_inner()
            .map_err(|e| perr(&self.path, "finishing", e))?;
        let file = inner
            .into_inner()
            .map_err(|e| perr(&self.path, "flushing", e.error()))?;
        file.sync_all()
            .map_err(|e| perr(&self.path, "syncing", e))?;
        let bytes = file
            .metadata()
            .map_err(|e| perr(&self.path, "reading the size of", e))?
            .len();
        Ok(bytes)
    }

    fn stop_workers(&mut self) {
        self.current = None;
        self.jobs = None;
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }
}

impl Drop for ParquetStream {
    fn drop(&mut self) {
        self.stop_workers();
    }
}

fn encoder_loop(jobs: &Mutex<Receiver<Job>>, results: &Sender<Encoded>, schema: &SchemaRef) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let index = job.index;
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| encode(job, schema)))
                .unwrap_or_else(|_| Err("the Parquet encoder panicked".to_string()));
        if results.send((index, outcome)).is_err() {
            return;
        }
    }
}

fn encode(job: Job, schema: &SchemaRef) -> Result<Vec<ArrowColumnChunk>, String> {
    let mut writers = job.writers;
    for batch in job.feed {
        let mut leaf = 0;
        for (field, array) in schema.fields().iter().zip(&batch) {
            for column in compute_leaves(field, array).map_err(|e| e.to_string())? {
                writers
                    .get_mut(leaf)
                    .ok_or("more Parquet leaves than writers")?
                    .write(&column)
                    .map_err(|e| e.to_string())?;
                leaf += 1;
            }
        }
    }
    writers
        .into_iter()
        .map(|w| w.close().map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    fn read_back(path: &Path) -> (usize, Vec<usize>) {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
        let meta = reader.metadata();
        let groups: Vec<usize> = meta
            .row_groups()
            .iter()
            .map(|g| g.num_rows() as usize)
            .collect();
        (groups.iter().sum(), groups)
    }

    #[test]
    fn rows_are_cut_into_exact_row_groups_in_order_across_threads() {
        let dir = std::env::temp_dir().join(format!("etl-writer-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let config = WriterConfig {
            row_group_size: 1000,
            codec: Codec::Zstd,
            threads: 3,
        };
        let mut w = ParquetStream::create(&path, schema, config).unwrap();
        let mut next = 0i64;
        for batch in 0..40 {
            let n = 333 + batch;
            let ints: ArrayRef = Arc::new(Int64Array::from_iter_values(next..next + n as i64));
            let strs: ArrayRef = Arc::new(StringArray::from_iter_values(
                (next..next + n as i64).map(|i| format!("row {i}")),
            ));
            next += n as i64;
            w.write(vec![ints, strs], n).unwrap();
        }
        assert_eq!(w.rows(), next as u64);
        let bytes = w.finish().unwrap();
        assert!(bytes > 0);
        let (rows, groups) = read_back(&path);
        assert_eq!(rows as i64, next);
        assert!(
            groups[..groups.len() - 1].iter().all(|g| *g == 1000),
            "{groups:?}"
        );
        // Values stay in order across row groups encoded on different threads.
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let mut expect = 0i64;
        for batch in reader {
            let batch = batch.unwrap();
            let col = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            for v in col.values() {
                assert_eq!(*v, expect);
                expect += 1;
            }
        }
        assert_eq!(expect, next);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn only_text_columns_are_dictionary_encoded() {
        use parquet::basic::Encoding;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let dir = std::env::temp_dir().join(format!("etl-writer-dict-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let config = WriterConfig {
            row_group_size: 1000,
            codec: Codec::Snappy,
            threads: 1,
        };
        let mut w = ParquetStream::create(&path, schema, config).unwrap();
        let ints: ArrayRef = Arc::new(Int64Array::from_iter_values(0..500));
        let strs: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..500).map(|i| format!("k{}", i % 3)),
        ));
        w.write(vec![ints, strs], 500).unwrap();
        w.finish().unwrap();
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let group = reader.metadata().row_group(0);
        let dict = |c: usize| {
            group
                .column(c)
                .encodings()
                .any(|e| matches!(e, Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY))
        };
        assert!(!dict(0), "numbers are written plain");
        assert!(dict(1), "text keeps its dictionary");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn codec_names_parse_case_insensitively() {
        assert_eq!(Codec::parse("ZSTD"), Some(Codec::Zstd));
        assert_eq!(Codec::parse("snappy"), Some(Codec::Snappy));
        assert_eq!(Codec::parse("uncompressed"), Some(Codec::Uncompressed));
        assert_eq!(Codec::parse("gzip"), None);
    }
}
