-- Load: copy into the warehouse exactly the staged loads it does not have yet, idempotently.
-- Run it as often as you like: a load is inserted once, in one transaction together with its
-- bookkeeping row, so a crash midway inserts nothing and the next run picks the load up again.
-- The warehouse here is the DuckDB database you run this in; docs/dw_staging.md shows the same
-- recipe for PostgreSQL. The lake folder is the variable `lake` (SET VARIABLE lake = '...'
-- before running this; default 'lake').
SET VARIABLE lake = coalesce(getvariable('lake'), 'lake');

-- Which loads the warehouse already holds (one row per load id).
CREATE TABLE IF NOT EXISTS etl_loaded (
    load_id   VARCHAR PRIMARY KEY,
    source    VARCHAR,
    protocol  VARCHAR,
    rows      BIGINT,
    loaded_at TIMESTAMPTZ
);

-- The warehouse table takes the staged columns (created empty from the files the first time).
CREATE TABLE IF NOT EXISTS users AS
SELECT * FROM read_parquet(getvariable('lake') || '/rest/users/**/*.parquet', hive_partitioning = true) LIMIT 0;

BEGIN TRANSACTION;

-- Successful loads of rest/users that are not in the warehouse yet (a retried load id counts once).
CREATE OR REPLACE TEMP TABLE pending AS
SELECT load_id, arg_max(rows, finished_at) AS rows
FROM etl_audit(getvariable('lake'))
WHERE protocol = 'rest' AND source = 'users' AND status = 'success'
  AND load_id NOT IN (SELECT load_id FROM etl_loaded)
GROUP BY load_id;

INSERT INTO users BY NAME
SELECT * FROM read_parquet(getvariable('lake') || '/rest/users/**/*.parquet', hive_partitioning = true)
WHERE _load_id IN (SELECT load_id FROM pending);

INSERT INTO etl_loaded
SELECT load_id, 'users', 'rest', rows, now() FROM pending;

COMMIT;

SELECT (SELECT count(*) FROM etl_loaded) AS loads_in_warehouse, (SELECT count(*) FROM users) AS user_rows;
