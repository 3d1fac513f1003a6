//! Pure core of `COPY ... TO '<lake>' (FORMAT dw_staging)`: the staged schema, the lake layout,
//! the streaming Parquet writer, the load lifecycle (temporaries, atomic publish, retries,
//! replace) and the audit records. No DuckDB imports: `functions/dw_staging.rs` is the glue.

pub mod audit;
pub mod enforce;
pub mod layout;
pub mod load;
pub mod schema;
pub mod writer;
