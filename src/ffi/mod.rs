//! Safe wrappers we own for what duckdb-rs lacks. Together with `functions/`, the only code that
//! touches `duckdb::ffi`. Every raw callback goes through [`guard::contain`], so a Rust panic
//! becomes a DuckDB error instead of aborting the host.

pub mod aggregate;
pub mod arrow;
pub mod chunk;
pub mod copy;
pub mod entrypoint;
pub mod guard;
pub mod logical;
pub mod rows;
pub mod scalar;
pub mod table;
pub mod value;
pub mod vector;

pub use copy::{CopyBindInfo, CopyFunction, CopyInitInfo};
pub use entrypoint::Registrar;
pub use logical::LogicalType;
pub use table::{OutputChunk, TableBindInfo, TableFunction, TableInitInfo};
pub use vector::VectorWriter;
