"""Multi-file COPY modes whose file names look like nothing DuckDB generates by default
(FILENAME_PATTERN, FILE_EXTENSION) or whose query still is one STRUCT (PARTITION_BY in the
single-STRUCT form): refused on both pinned hosts, with nothing published (review D2 items 1, 2;
L1). dw_staging refuses a path inside an existing lake and a second output file of one COPY."""

import subprocess

import duckdb
import pytest

from lake_files import files_under
from lake_files import make_lake as make_sentinel_lake

SENTINELS = [
    "mine.txt",
    "rest/users/load_date=2026-01-01/users_20260101T000000000Z_old.parquet",
    "_etl/audit/20260101T000000000Z_old_0000.json",
]
# A table scan runs on every thread (range() runs on one): a PER_THREAD_OUTPUT COPY of it
# opens one file per thread.
TABLE = "CREATE TABLE src AS SELECT {'id': i} AS t, i % 2 AS p FROM range(1000000) t(i)"
BASE = "FORMAT dw_staging, SOURCE 'users', PROTOCOL 'rest'"


def make_lake(lake):
    make_sentinel_lake(lake, SENTINELS)


def parquet_under(lake):
    return [f for f in files_under(lake) if f.endswith(".parquet") and f not in SENTINELS]


def copy(host, duckdb_cli, extension, lake, options):
    query = "SELECT t, p FROM src" if "PARTITION_BY" in options else "SELECT t FROM src"
    sql = f"COPY ({query}) TO '{lake}' ({BASE}, {options})"
    if host == "python":
        con = duckdb.connect(config={"allow_unsigned_extensions": "true", "threads": 4})
        con.execute(f"LOAD '{extension}'")
        con.execute(TABLE)
        try:
            con.execute(sql)
            return None
        except duckdb.Error as e:
            return str(e)
        finally:
            con.close()
    run = subprocess.run([str(duckdb_cli), "-unsigned", "-bail", "-c",
                          f"SET threads = 4; LOAD '{extension}'; {TABLE}; {sql};"],
                         capture_output=True, text=True, timeout=120)
    return None if run.returncode == 0 else (run.stdout + run.stderr)


NAMED = [
    "PER_THREAD_OUTPUT true, FILENAME_PATTERN 'f{i}', FILE_EXTENSION 'x', OVERWRITE_OR_IGNORE true",
    "PARTITION_BY (p), FILENAME_PATTERN 'f{i}', FILE_EXTENSION 'x', OVERWRITE_OR_IGNORE true",
    "PARTITION_BY (p), FILE_EXTENSION 'pq', OVERWRITE_OR_IGNORE true",
]


@pytest.mark.parametrize("host", ["python", "cli"])
def test_renamed_multi_file_output_into_an_existing_lake_is_refused_and_publishes_nothing(
        host, duckdb_cli, extension, tmp_path):
    for i, options in enumerate(NAMED):
        lake = tmp_path / f"lake{i}"
        make_lake(lake)
        error = copy(host, duckdb_cli, extension, lake, options)
        assert error is not None and "are not supported" in error, f"{options}: {error}"
        assert parquet_under(lake) == [], f"{host}: {options}: {files_under(lake)}"
        assert set(SENTINELS) <= set(files_under(lake)), f"{host}: {options}"


@pytest.mark.parametrize("host", ["python", "cli"])
def test_renamed_multi_file_output_into_a_new_lake_is_refused_and_publishes_nothing(
        host, duckdb_cli, extension, tmp_path):
    for i, options in enumerate(NAMED):
        lake = tmp_path / f"new{i}"
        error = copy(host, duckdb_cli, extension, lake, options)
        assert error is not None and "are not supported" in error, f"{options}: {error}"
        assert parquet_under(lake) == [], f"{host}: {options}: {files_under(lake)}"


@pytest.mark.parametrize("host", ["python", "cli"])
def test_struct_form_partition_by_with_overwrite_names_the_emptied_lake(
        host, duckdb_cli, extension, tmp_path):
    lake = tmp_path / "lake"
    make_lake(lake)
    error = copy(host, duckdb_cli, extension, lake, "PARTITION_BY (p), OVERWRITE true")
    assert error is not None and "are not supported" in error, error
    # Pinned: DuckDB emptied the lake before any dw_staging callback that sees the option.
    assert files_under(lake) == [], files_under(lake)
    assert "restore the lake from a backup" in error, error
