"""Files in a lake that are not what they seem (review items C3, H2): a symlink to /dev/zero, a
FIFO and an oversized file where audit records, locks, temporaries or quarantine files live.
Every function that reads the lake (etl_audit, etl_dbt_sources, etl_clean_stale, a dw_staging
load, which reads earlier records to mark replaced loads) must answer quickly, with bounded
memory, and keep the other records; each probe runs in its own process with a timeout, so a
blocking read fails the test instead of hanging it."""

import json
import os
import resource
import subprocess
import sys

import pytest

PROBE = r"""
import duckdb, json, sys
ext, lake = sys.argv[1], sys.argv[2]
con = duckdb.connect(config={'allow_unsigned_extensions': 'true'})
con.execute(f"LOAD '{ext}'")
out = {}
def run(name, sql):
    try:
        out[name] = con.execute(sql).fetchall()
    except duckdb.Error as e:
        out[name] = 'error: ' + str(e)
run('load', f"COPY (SELECT {{'id': i}} FROM range(10) t(i)) TO '{lake}' (FORMAT dw_staging, SOURCE 'users', MODE 'replace')")
run('retry', f"COPY (SELECT {{'id': i}} FROM range(10) t(i)) TO '{lake}' (FORMAT dw_staging, SOURCE 'users', LOAD_ID 'again')")
run('retry2', f"COPY (SELECT {{'id': i}} FROM range(10) t(i)) TO '{lake}' (FORMAT dw_staging, SOURCE 'users', LOAD_ID 'again')")
run('audit', f"SELECT status, count(*) FROM etl_audit('{lake}') GROUP BY ALL ORDER BY ALL")
run('invalid', f"SELECT error FROM etl_audit('{lake}') WHERE status = 'invalid'")
run('dbt', f"SELECT sources_yml LIKE '%name: \"users\"%' FROM etl_dbt_sources('{lake}')")
run('clean', f"SELECT count(*) FROM etl_clean_stale('{lake}', min_age_seconds := 0)")
run('rows', f"SELECT count(*) FROM read_parquet('{lake}/sql/users/**/*.parquet')")
print(json.dumps(out, default=str))
"""


def probe(extension, lake):
    run = subprocess.run([sys.executable, "-c", PROBE, str(extension), str(lake)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert peak_kib < 2 * 1024 * 1024, f"a probe used {peak_kib} KiB"
    return json.loads(run.stdout.strip().splitlines()[-1])


def special(kind, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "dev_zero":
        os.symlink("/dev/zero", path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "oversized":
        with open(path, "wb") as f:
            f.truncate(17 * 1024 * 1024)  # above the 16 MiB record limit
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["dev_zero", "fifo", "oversized"])
def test_special_file_among_audit_records_is_listed_invalid_and_everything_else_works(
        kind, extension, tmp_path):
    lake = tmp_path / "lake"
    special(kind, lake / "_etl" / "audit" / "20260101T000000000Z_evil_0000.json")
    out = probe(extension, lake)
    for step in ("load", "retry", "retry2"):
        assert out[step] == [(10,)] or out[step] == [[10]], f"{step}: {out[step]}"
    assert ["invalid", 1] in out["audit"], out
    assert ["success", 2] in out["audit"] and ["replaced", 1] in out["audit"], out
    assert "20260101T000000000Z_evil_0000.json" in out["invalid"][0][0], out
    assert out["dbt"] == [[True]], out
    assert out["clean"] == [[0]], out
    assert out["rows"] == [[20]], out


@pytest.mark.parametrize("kind", ["dev_zero", "fifo"])
def test_special_file_as_a_lock_fails_or_is_skipped_without_waiting(kind, extension, tmp_path):
    lake = tmp_path / "lake"
    # the source's publish lock, and the lock of a (dead) load's temporary folder
    special(kind, lake / "_etl" / "locks" / "sql__users.lock")
    special(kind, lake / "_etl" / "tmp" / "20260101T000000000Z_dead_0000" / ".lock")
    out = probe(extension, lake)
    assert out["load"].startswith("error: ") and "sql__users.lock" in out["load"], out
    assert "not a regular file" in out["load"] or "No such device" in out["load"], out
    assert out["clean"] == [[1]], out  # the dead load's folder (its lock is no lock)
    assert out["rows"] == [[0]] or "error" in str(out["rows"]), out


@pytest.mark.parametrize("kind", ["dev_zero", "fifo", "oversized"])
def test_special_files_in_tmp_and_quarantine_folders_are_left_alone(kind, extension, tmp_path):
    lake = tmp_path / "lake"
    special(kind, lake / "_etl" / "quarantine" / "sql" / "users" / "load_date=2026-01-01"
            / "users_20260101T000000000Z_q.parquet")
    special(kind, lake / "_etl" / "tmp" / "stray")
    out = probe(extension, lake)
    assert out["load"] == [[10]], out
    assert out["rows"] == [[20]], out
    assert out["dbt"] == [[True]], out
