-- The smallest etl pipeline: load the extension and ask it who it is.
-- Run from the repository root: `make demo`, or by hand:
--   build/venv/bin/duckdb -unsigned < sql/examples/hello.sql
-- (-unsigned because locally built extensions are not signed.)
LOAD 'build/release/etl.duckdb_extension';

SELECT v.version AS etl_version, v.c_api_version, v.duckdb_version
FROM (SELECT etl_version() AS v);
