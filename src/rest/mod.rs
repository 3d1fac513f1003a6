//! rest_scan's pure core: configuration, pagination, auth, retries, rate limiting, circuit
//! breaking, record selection, schema inference and redaction. No DuckDB imports here; the SQL
//! glue is `functions/rest_scan.rs`.

pub mod auth;
pub mod breaker;
pub mod client;
pub mod config;
pub mod decode;
pub mod incremental;
pub mod origin;
pub mod paginate;
pub mod ratelimit;
pub mod redact;
pub mod retry;
pub mod schema;
pub mod select;
