-- Extract, check and stage in one statement: a paginated REST API lands in the lake as
-- partitioned Parquet with load metadata, published atomically, with an audit record. Every row
-- is checked against the contract on the way; rows that break it are quarantined.
-- `make demo` runs this against the local mock API (set ETL_API_URL to try your own); the lake
-- is build/demo/lake (COPY needs a literal target).
LOAD 'build/release/etl.duckdb_extension';

SET VARIABLE api = coalesce(getenv('ETL_API_URL'), 'http://127.0.0.1:8765');

COPY (
    SELECT u FROM rest_scan(getvariable('api') || '/auth/bearer/users',
                            paginator := 'offset', page_size := 1000,
                            auth := 'bearer', token_env := 'API_TOKEN',
                            data_selector := '$.data') u
) TO 'build/demo/lake' (FORMAT dw_staging, SOURCE 'users', PROTOCOL 'rest', PIPELINE 'demo',
                       CONTRACT 'sql/examples/contracts/users.yaml', ON_VIOLATION 'quarantine');

-- Every load leaves an audit record.
SELECT load_id, source, status, rows, quarantined_rows, files[1].path AS file, files[1].bytes AS bytes
FROM etl_audit('build/demo/lake') ORDER BY started_at DESC LIMIT 3;

-- ... with the contract's verdict on every check.
SELECT c.check_id, c.status, c.failed_rows, c.total_rows
FROM (SELECT checks FROM etl_audit('build/demo/lake') ORDER BY started_at DESC LIMIT 1), unnest(checks) u(c);
