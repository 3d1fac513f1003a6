"""[C1] Deeply nested types and bodies never crash the host: each query runs in its own Python
process (a segfault or a stack overflow would otherwise kill the test runner), which must exit
normally and print rest_scan's error or its rows."""

import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{sys.argv[1]}'")
    try:
        print("ROWS", con.execute(sys.argv[2]).fetchall())
    except duckdb.Error as e:
        print("ERROR", e)
    """
)


def run(extension, sql: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(extension), sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"the host died (exit {done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


@pytest.mark.parametrize(
    "columns",
    [
        "{'a': 'BIGINT' || repeat('[]', 10000)}",
        "{'a': repeat('STRUCT(a ', 20000) || 'BIGINT' || repeat(')', 20000)}",
        "{'a': repeat('STRUCT(a ', 2000) || 'BIGINT' || repeat(')', 2000)}",
    ],
)
def test_deeply_nested_declared_types_are_an_error_not_a_crash(extension, mock_url, columns):
    out = run(extension, f"FROM rest_scan('{mock_url}/single/users', columns := {columns})")
    assert "nests more than 100 LIST/STRUCT levels" in out, out
    assert "option columns, column 'a'" in out, out


def test_types_at_the_depth_limit_scan(extension, mock_url):
    sql = (
        f"SELECT count(*) FROM rest_scan('{mock_url}/single/users', params := {{'n': 3}}, "
        "columns := {'id': 'BIGINT', 'a': 'BIGINT' || repeat('[]', 100)})"
    )
    assert "ROWS [(3,)]" in run(extension, sql)


def test_deeply_nested_bodies_are_an_error_or_json_not_a_crash(extension, mock_url):
    out = run(extension, f"SELECT typeof(a) FROM rest_scan('{mock_url}/fixture/deep_110.json')")
    assert "ROWS [('JSON" in out, out
    out = run(extension, f"FROM rest_scan('{mock_url}/fixture/deep_200.json')")
    assert "nests arrays/objects more than 128 levels deep" in out, out


def test_objects_nested_to_the_limit_scan_on_every_path(extension, mock_url):
    # 110 levels of objects: the inferred STRUCT stops at 100 levels, the rest is JSON; rows are
    # decoded on the HTTP runtime's threads and written into nested DuckDB vectors.
    url = f"{mock_url}/fixture/deep_objects_110.json"
    out = run(extension, f"SELECT count(*), min(length(o::VARCHAR)) > 1000 FROM rest_scan('{url}')")
    assert "ROWS [(2, True)]" in out, out
    out = run(extension, f"SELECT count(*) FROM rest_scan('{url}', json_column := true)")
    assert "ROWS [(2,)]" in out, out
