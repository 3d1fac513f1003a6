"""The SQL test runner is strict: these run it on small bad files and check that it fails loudly."""

import subprocess
import sys

from conftest import ROOT

RUNNER = ROOT / "scripts" / "sqllogictest.py"


def run_runner(tmp_path, text, extension):
    test = tmp_path / "case.test"
    test.write_text(text)
    return subprocess.run(
        [sys.executable, str(RUNNER), "--extension", str(extension), str(test)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_passing_file_is_counted(tmp_path, extension):
    r = run_runner(tmp_path, "require etl\n\nquery I\nSELECT 1 + 1\n----\n2\n", extension)
    assert r.returncode == 0, r.stdout
    assert r.stdout.splitlines()[-1] == "sqllogictest: 1 passed, 0 failed, 0 skipped"


def test_wrong_result_fails_with_a_diff(tmp_path, extension):
    r = run_runner(tmp_path, "query II\nSELECT 1, 'a' UNION ALL SELECT 2, 'b'\n----\n1\ta\n2\tc\n", extension)
    assert r.returncode == 1
    assert "-2\tc" in r.stdout and "+2\tb" in r.stdout, r.stdout
    assert r.stdout.splitlines()[-1] == "sqllogictest: 0 passed, 1 failed, 0 skipped"


def test_unexpected_error_is_never_swallowed_even_if_it_mentions_http(tmp_path, extension):
    r = run_runner(tmp_path, "statement ok\nSELECT error('HTTP 404 from server')\n", extension)
    assert r.returncode == 1
    assert "HTTP 404 from server" in r.stdout


def test_statement_error_requires_and_checks_the_message(tmp_path, extension):
    r = run_runner(tmp_path, "statement error\nSELECT error('boom')\n", extension)
    assert r.returncode == 1 and "must give the expected message" in r.stdout
    r = run_runner(tmp_path, "statement error\nSELECT error('boom')\n----\nbang\n", extension)
    assert r.returncode == 1 and "unexpected message" in r.stdout
    r = run_runner(tmp_path, "statement error\nSELECT 1\n----\nboom\n", extension)
    assert r.returncode == 1 and "should fail but succeeded" in r.stdout


def test_column_count_must_match_declared_types(tmp_path, extension):
    r = run_runner(tmp_path, "query I\nSELECT 1, 2\n----\n1\t2\n", extension)
    assert r.returncode == 1 and "returned 2 columns but the record declares 1" in r.stdout


def test_require_env_skips_and_unknown_records_fail(tmp_path, extension):
    r = run_runner(tmp_path, "require-env ETL_SURELY_UNSET_VAR\n\nstatement ok\nSELECT 1\n", extension)
    assert r.returncode == 0 and "0 passed, 0 failed, 1 skipped" in r.stdout
    r = run_runner(tmp_path, "statment ok\nSELECT 1\n", extension)
    assert r.returncode == 1 and "unknown record type 'statment'" in r.stdout


def test_test_dir_is_substituted_and_sorted_modes_work(tmp_path, extension):
    text = (
        "statement ok\nCOPY (SELECT 3 AS x UNION ALL SELECT 1) TO '__TEST_DIR__/x.csv'\n\n"
        "query I rowsort\nFROM '__TEST_DIR__/x.csv'\n----\n1\n3\n\n"
        "query I\nSELECT * FROM (VALUES (NULL::VARCHAR), ('')) t(x)\n----\nNULL\n(empty)\n"
    )
    r = run_runner(tmp_path, text, extension)
    assert r.returncode == 0, r.stdout
