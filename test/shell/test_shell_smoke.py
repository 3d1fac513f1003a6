"""Shell smoke tests: the built file in the real pinned duckdb shell, older hosts, broken footers."""

import os
import shutil
import subprocess
import sys

import duckdb
import pytest

from conftest import ROOT, cargo_version

FOOTER_LEN = 534
FIELD = 32
HEADER = b"\x00\x93\x04\x10duckdb_signature\x80\x04"


def run_shell(cli, sql, *flags, env=None, cwd=ROOT):
    return subprocess.run(
        [str(cli), *flags],
        input=sql,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def footer_fields(path):
    data = path.read_bytes()
    tail = data[-FOOTER_LEN:]
    assert tail[: len(HEADER)] == HEADER, "footer header missing"
    fields = [
        tail[len(HEADER) + i * FIELD : len(HEADER) + (i + 1) * FIELD].rstrip(b"\0").decode()
        for i in range(8)
    ]
    assert tail[len(HEADER) + 8 * FIELD :] == b"\0" * 256
    return fields


def with_footer_field(src, dst, index, value):
    data = bytearray(src.read_bytes())
    start = len(data) - FOOTER_LEN + len(HEADER) + index * FIELD
    data[start : start + FIELD] = value.encode().ljust(FIELD, b"\0")
    dst.write_bytes(bytes(data))


def test_pinned_hosts_are_the_configured_versions(config, duckdb_cli, old_duckdb_cli):
    assert duckdb.__version__ == config["DUCKDB_PYTHON_VERSION"]
    cli = subprocess.run([str(duckdb_cli), "--version"], capture_output=True, text=True, timeout=60)
    assert cli.stdout.startswith("v" + config["DUCKDB_CLI_VERSION"] + " "), cli.stdout
    old = subprocess.run([str(old_duckdb_cli), "--version"], capture_output=True, text=True, timeout=60)
    assert old.stdout.startswith("v" + config["DUCKDB_CLI_OLD_VERSION"].split(".post")[0] + " "), old.stdout


def test_footer_declares_configured_abi_version_c_api_and_host_platform(config, extension):
    fields = footer_fields(extension)
    host_platform = duckdb.execute("PRAGMA platform").fetchone()[0]
    assert fields == ["", "", "", config["ABI_TYPE"], cargo_version(), config["C_API_VERSION"], host_platform, "4"]


def test_hello_example_runs_in_the_pinned_shell(duckdb_cli):
    sql = (ROOT / "sql" / "examples" / "hello.sql").read_text()
    result = run_shell(duckdb_cli, sql, "-unsigned", "-csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith(f"{cargo_version()},v1.5.6,"), result.stdout


def test_shell_loads_extension_by_path_and_install(duckdb_cli, extension, tmp_path):
    sql = f"""
    SET extension_directory = '{tmp_path}/ext';
    INSTALL '{extension}';
    LOAD etl;
    SELECT etl_version().version;
    """
    result = run_shell(duckdb_cli, sql, "-unsigned", "-csv", "-noheader")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == cargo_version()


def test_signed_only_shell_refuses_with_a_hint(duckdb_cli, extension):
    result = run_shell(duckdb_cli, f"LOAD '{extension}';")
    assert result.returncode != 0
    assert "signature is either missing or invalid" in result.stderr
    assert "-unsigned" in result.stderr


def test_older_host_rejects_the_extension_naming_the_c_api_version(old_duckdb_cli, extension, config):
    result = run_shell(old_duckdb_cli, f"LOAD '{extension}';", "-unsigned")
    assert result.returncode != 0
    assert f"built for DuckDB C API version '{config['C_API_VERSION']}'" in result.stderr, result.stderr


def test_missing_footer_is_rejected(duckdb_cli, extension, tmp_path):
    broken = tmp_path / "etl.duckdb_extension"
    broken.write_bytes(extension.read_bytes()[:-FOOTER_LEN])
    result = run_shell(duckdb_cli, f"LOAD '{broken}';", "-unsigned")
    assert result.returncode != 0
    assert "The metadata at the end of the file is invalid" in result.stderr, result.stderr


def test_footer_for_another_platform_is_rejected(duckdb_cli, extension, tmp_path):
    broken = tmp_path / "etl.duckdb_extension"
    with_footer_field(extension, broken, 6, "osx_arm64")
    result = run_shell(duckdb_cli, f"LOAD '{broken}';", "-unsigned")
    assert result.returncode != 0
    assert "built for the platform 'osx_arm64'" in result.stderr, result.stderr


def test_file_must_be_named_after_the_entrypoint(duckdb_cli, extension, tmp_path):
    renamed = tmp_path / "other.duckdb_extension"
    shutil.copy(extension, renamed)
    result = run_shell(duckdb_cli, f"LOAD '{renamed}';", "-unsigned")
    assert result.returncode != 0
    assert 'did not contain function "other_init_c_api"' in result.stderr, result.stderr


def test_panic_in_copy_callback_is_an_error_and_the_shell_keeps_running(duckdb_cli, extension, tmp_path):
    sql = f"""
    LOAD '{extension}';
    COPY (SELECT i FROM range(5000) t(i)) TO '{tmp_path}/out.txt' (FORMAT etl_test_lines, PANIC 'sink');
    SELECT 'still alive' AS status;
    """
    result = run_shell(duckdb_cli, sql, "-unsigned", "-csv", env={"ETL_TEST_HOOKS": "1", "RUST_BACKTRACE": "0"})
    # The shell reports the failed statement (exit 1), but it was not killed by a signal.
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "etl internal error in etl_test_lines (sink): injected panic in sink" in result.stderr
    assert "still alive" in result.stdout
    assert not list(tmp_path.glob("out.txt*"))


def test_test_hooks_are_absent_without_the_env_var(duckdb_cli, extension, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ETL_TEST_HOOKS"}
    result = subprocess.run(
        [str(duckdb_cli), "-unsigned"],
        input=f"LOAD '{extension}';\nCOPY (SELECT 1) TO '{tmp_path}/x.txt' (FORMAT etl_test_lines);\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode != 0
    assert "etl_test_lines" in result.stderr and "does not exist" in result.stderr, result.stderr


def test_python_host_loads_and_reports_versions(extension, config):
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{extension}'")
    version, c_api, host_version = con.execute(
        "SELECT v.version, v.c_api_version, v.duckdb_version FROM (SELECT etl_version() AS v)"
    ).fetchone()
    assert (version, c_api) == (cargo_version(), config["C_API_VERSION"])
    assert host_version == "v" + config["DUCKDB_PYTHON_VERSION"]


@pytest.mark.parametrize(
    "failure, message",
    [
        ("error", "etl: loading failed: injected load failure"),
        ("panic", "etl internal error in etl (LOAD): injected panic at load"),
    ],
)
def test_load_failure_is_reported_and_the_shell_keeps_running(duckdb_cli, extension, failure, message):
    sql = f"LOAD '{extension}';\nSELECT 'still alive' AS status;\n"
    env = {"ETL_TEST_HOOKS": "1", "ETL_TEST_LOAD_FAILURE": failure, "RUST_BACKTRACE": "0"}
    result = run_shell(duckdb_cli, sql, "-unsigned", "-csv", env=env)
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert message in result.stderr, result.stderr
    assert "still alive" in result.stdout


def test_rest_demo_pipeline_loads_every_user_through_the_shell(duckdb_cli):
    sql = (ROOT / "sql" / "examples" / "rest_users.sql").read_text()
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "with_mock_server.py"), "--records", "3000", "--",
         str(duckdb_cli), "-unsigned", "-csv"],
        input=sql,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "API_TOKEN": "secret-token-456"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "users,distinct_ids,cities,newest"
    assert lines[1].startswith("3000,3000,8,"), result.stdout
