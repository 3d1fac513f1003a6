//! Pure: reading a small file that a user (or another process) names, without trusting it to be
//! one. Contract files and audit records are read whole; a path that is `/dev/zero`, a FIFO, a
//! directory or a huge file must give a clear error instead of exhausting memory or blocking
//! forever (review items C3, H2).
//!
//! The file is opened with `O_NONBLOCK` (opening a FIFO for reading otherwise waits for a
//! writer), its type is checked on the open descriptor (no race with a rename between a
//! `stat` and the `open`), and at most `limit + 1` bytes are ever read, so even a file that
//! grows while it is read costs at most the limit.

use std::fmt;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest contract file read (a contract of thousands of columns is well under 1 MiB).
pub const MAX_CONTRACT_BYTES: u64 = 16 * 1024 * 1024;
/// The largest audit record read (one record is a few KiB; verdicts add samples).
pub const MAX_AUDIT_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// `O_NONBLOCK` on Linux (all architectures DuckDB ships for use this value).
const O_NONBLOCK: i32 = 0o4000;

/// Why a file could not be read. `Display` says what the file is and what to do; the caller
/// adds which file it was meant to be (a contract, an audit record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFileError {
    /// The operating system refused (missing file, permissions, ...).
    Io(String),
    /// Not a regular file: a directory, FIFO, socket or device.
    NotRegular(&'static str),
    /// Larger than the limit.
    TooLarge { limit: u64 },
    /// Not UTF-8 text (only for [`read_text`]).
    NotUtf8,
}

impl fmt::Display for ReadFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadFileError::Io(e) => write!(f, "cannot read the file: {e}"),
            ReadFileError::NotRegular(kind) => {
                write!(
                    f,
                    "it is a {kind}, not a regular file (only regular files are read)"
                )
            }
            ReadFileError::TooLarge { limit } => write!(
                f,
                "the file is larger than {} MiB, the most that is read",
                limit / (1024 * 1024)
            ),
            ReadFileError::NotUtf8 => write!(f, "the file is not UTF-8 text"),
        }
    }
}

impl std::error::Error for ReadFileError {}

fn kind_of(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "FIFO (named pipe)"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else {
        "special file"
    }
}

/// Reads the whole regular file at `path`, at most `limit` bytes.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, ReadFileError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
        .map_err(|e| ReadFileError::Io(e.to_string()))?;
    let meta = file
        .metadata()
        .map_err(|e| ReadFileError::Io(e.to_string()))?;
    if !meta.file_type().is_file() {
        return Err(ReadFileError::NotRegular(kind_of(&meta.file_type())));
    }
    if meta.len() > limit {
        return Err(ReadFileError::TooLarge { limit });
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| ReadFileError::Io(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(ReadFileError::TooLarge { limit });
    }
    Ok(out)
}

/// Reads the whole regular file at `path` as UTF-8 text, at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadFileError> {
    String::from_utf8(read_bytes(path, limit)?).map_err(|_| ReadFileError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("etl-readfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn regular_file_within_the_limit_is_read_whole() {
        let dir = temp_dir("ok");
        let p = dir.join("c.yaml");
        std::fs::write(&p, "columns: {}\n").unwrap();
        assert_eq!(read_text(&p, 100).unwrap(), "columns: {}\n");
    }

    #[test]
    fn dev_zero_is_refused_without_reading() {
        let err = read_bytes(Path::new("/dev/zero"), 1024).unwrap_err();
        assert_eq!(err, ReadFileError::NotRegular("character device"));
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn fifo_is_refused_at_once_instead_of_waiting_for_a_writer() {
        let dir = temp_dir("fifo");
        let p = dir.join("pipe.yaml");
        let status = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(status.success());
        let start = Instant::now();
        let err = read_bytes(&p, 1024).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(2));
        assert_eq!(err, ReadFileError::NotRegular("FIFO (named pipe)"));
    }

    #[test]
    fn directory_is_refused() {
        let dir = temp_dir("dir");
        let err = read_bytes(&dir, 1024).unwrap_err();
        assert_eq!(err, ReadFileError::NotRegular("directory"));
    }

    #[test]
    fn file_over_the_limit_is_refused_with_the_limit_named() {
        let dir = temp_dir("big");
        let p = dir.join("big.yaml");
        std::fs::write(&p, vec![b'a'; 3 * 1024 * 1024]).unwrap();
        let err = read_bytes(&p, 2 * 1024 * 1024).unwrap_err();
        assert_eq!(
            err,
            ReadFileError::TooLarge {
                limit: 2 * 1024 * 1024
            }
        );
        assert!(err.to_string().contains("larger than 2 MiB"), "{err}");
        // Exactly at the limit is fine.
        assert_eq!(
            read_bytes(&p, 3 * 1024 * 1024).unwrap().len(),
            3 * 1024 * 1024
        );
    }

    #[test]
    fn missing_file_names_the_os_error() {
        let err = read_bytes(Path::new("/nonexistent/etl/x.yaml"), 10).unwrap_err();
        assert!(matches!(err, ReadFileError::Io(_)));
        assert!(err.to_string().contains("No such file"), "{err}");
    }

    #[test]
    fn invalid_utf8_is_refused_as_text() {
        let dir = temp_dir("utf8");
        let p = dir.join("bin");
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        assert_eq!(read_text(&p, 10).unwrap_err(), ReadFileError::NotUtf8);
    }
}
