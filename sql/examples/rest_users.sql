-- Extract: a paginated, authenticated REST API into a DuckDB table, in one statement.
-- `make demo` runs this against the local mock API (scripts/mock_rest_server.py) with
-- ETL_API_URL and API_TOKEN set; point ETL_API_URL at your own API to try it elsewhere.
LOAD 'build/release/etl.duckdb_extension';

SET VARIABLE api = coalesce(getenv('ETL_API_URL'), 'http://127.0.0.1:8765');

CREATE OR REPLACE TABLE raw_users AS
FROM rest_scan(getvariable('api') || '/auth/bearer/users',
               paginator := 'offset', page_size := 1000,
               auth := 'bearer', token_env := 'API_TOKEN',
               data_selector := '$.data');

-- Nested JSON arrives typed: address is a STRUCT, tags a LIST, created_at a TIMESTAMPTZ.
SELECT count(*) AS users,
       count(DISTINCT id) AS distinct_ids,
       count(DISTINCT address.city) AS cities,
       max(created_at) AS newest
FROM raw_users;

SELECT address.city, count(*) AS users, round(avg(score), 2) AS avg_score
FROM raw_users GROUP BY ALL ORDER BY users DESC LIMIT 3;
