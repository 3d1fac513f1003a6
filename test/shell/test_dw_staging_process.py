"""dw_staging against real processes: a load killed mid-write leaves only hidden temporaries
(which etl_clean_stale removes and audits), and the warehouse recipe in sql/examples loads each
staged load exactly once."""

import glob
import os
import signal
import subprocess
import time

import duckdb
import pytest

from conftest import ROOT


def connect(extension, database=":memory:"):
    con = duckdb.connect(database, config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{extension}'")
    return con


def stage(con, lake, rows, load_id=None, source="users"):
    extra = f", LOAD_ID '{load_id}'" if load_id else ""
    con.execute(
        f"COPY (SELECT {{'id': i, 'name': 'user ' || i}} FROM range({rows[0]}, {rows[1]}) t(i)) "
        f"TO '{lake}' (FORMAT dw_staging, SOURCE '{source}', PROTOCOL 'rest'{extra})"
    )


def test_killed_load_leaves_nothing_visible_and_clean_stale_removes_it(duckdb_cli, extension, tmp_path):
    lake = tmp_path / "lake"
    con = connect(extension)
    stage(con, lake, (0, 10))  # an earlier, complete load
    script = (
        f"LOAD '{extension}';\n"
        "COPY (SELECT {'id': i, 'payload': repeat('x', 200) || i} FROM range(1000000000) t(i)) "
        f"TO '{lake}' (FORMAT dw_staging, SOURCE 'users', PROTOCOL 'rest', LOAD_ID 'killed');\n"
    )
    # The shell runs in its own process group: the PyPI `duckdb` command is a launcher that
    # starts the real binary as a child, and the whole group must die.
    proc = subprocess.Popen([str(duckdb_cli), "-unsigned"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    proc.stdin.write(script)
    proc.stdin.close()
    partial = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            partial = glob.glob(str(lake / "_etl" / "tmp" / "*" / "*.partial"))
            if partial and os.path.getsize(partial[0]) > 4 << 20:
                break
            assert proc.poll() is None, "the load ended before it could be killed"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert partial, "the load never started writing"
    # Nothing of the group survives (a surviving writer would keep changing the lake).
    size = os.path.getsize(partial[0])
    time.sleep(0.5)
    assert os.path.getsize(partial[0]) == size

    # Only the earlier load is visible; the killed one's bytes sit under a name no glob matches.
    visible = glob.glob(str(lake / "**" / "*.parquet"), recursive=True)
    assert len(visible) == 1
    assert con.execute(f"SELECT count(*) FROM read_parquet('{lake}/**/*.parquet')").fetchall() == [(10,)]
    assert con.execute(
        f"SELECT status FROM etl_audit('{lake}') WHERE load_id = 'killed'").fetchall() == [("running",)]

    # A recent temporary may belong to a live load: the default minimum age keeps it.
    assert con.execute(f"SELECT count(*) FROM etl_clean_stale('{lake}')").fetchall() == [(0,)]
    cleaned = con.execute(
        f"SELECT load_id, bytes > 0 FROM etl_clean_stale('{lake}', min_age_seconds := 0)").fetchall()
    assert cleaned == [("killed", True)]
    assert not glob.glob(str(lake / "_etl" / "tmp" / "*" / "*"))
    assert con.execute(
        f"SELECT status, error LIKE '%etl_clean_stale%' FROM etl_audit('{lake}') WHERE load_id = 'killed'"
    ).fetchall() == [("abandoned", True)]

    # The same load id retried after the crash publishes normally.
    stage(con, lake, (0, 100), load_id="killed")
    assert con.execute(f"SELECT count(*) FROM read_parquet('{lake}/**/*.parquet')").fetchall() == [(110,)]


def run_recipe(extension, database, lake):
    con = connect(extension, str(database))
    con.execute(f"SET VARIABLE lake = '{lake}'")
    con.execute((ROOT / "sql" / "examples" / "load_warehouse.sql").read_text())
    result = con.execute("SELECT count(*), count(DISTINCT _load_id), sum(id) FROM users").fetchall()
    con.close()
    return result[0]


def test_warehouse_recipe_loads_each_load_exactly_once(extension, tmp_path):
    lake = tmp_path / "lake"
    dw = tmp_path / "dw.duckdb"
    con = connect(extension)
    stage(con, lake, (0, 1000))
    stage(con, lake, (1000, 1500), load_id="retried")
    stage(con, lake, (1000, 1500), load_id="retried")  # a retry replaces, never duplicates
    stage(con, lake, (0, 5), source="other")  # another source is not this recipe's business
    con.close()

    assert run_recipe(extension, dw, lake) == (1500, 2, sum(range(1500)))
    assert run_recipe(extension, dw, lake) == (1500, 2, sum(range(1500))), "second run inserts nothing"

    con = connect(extension)
    stage(con, lake, (1500, 1600))
    con.close()
    assert run_recipe(extension, dw, lake) == (1600, 3, sum(range(1600))), "only the new load"
    assert run_recipe(extension, dw, lake) == (1600, 3, sum(range(1600)))


@pytest.mark.parametrize("threads", [1, 2])
def test_parallel_encoding_keeps_every_row_in_order(extension, tmp_path, threads):
    lake = tmp_path / "lake"
    con = connect(extension)
    con.execute(
        "COPY (SELECT {'i': i, 's': 'v' || i} FROM range(1000000) t(i)) "
        f"TO '{lake}' (FORMAT dw_staging, SOURCE 'big', THREADS {threads}, ROW_GROUP_ROWS 50000)"
    )
    rows = con.execute(
        f"SELECT count(*), count(DISTINCT i), min(i), max(i), "
        f"bool_and(i = file_row_number) "
        f"FROM read_parquet('{lake}/**/*.parquet', file_row_number = true)"
    ).fetchall()
    assert rows == [(1000000, 1000000, 0, 999999, True)]


def test_concurrent_retries_of_one_load_id_leave_one_copy(extension, tmp_path):
    """Two processes' worth of the same retried COPY at once (two connections, two threads):
    publishes of one source are serialised, so the lake always ends with one copy."""
    import threading

    con = connect(extension)
    for round_ in range(8):
        lake = tmp_path / f"lake{round_}"
        errors = []

        def run():
            try:
                cur = con.cursor()
                stage(cur, lake, (0, 20000), load_id="same")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors
        assert con.execute(
            f"SELECT count(*), count(DISTINCT _source_file) FROM read_parquet('{lake}/**/*.parquet')"
        ).fetchall() == [(20000, 1)], f"round {round_}"


def test_clean_stale_never_removes_a_running_load(extension, tmp_path):
    """A slow load does not touch its temporary file for a while; its lock still protects it."""
    import threading

    lake = tmp_path / "lake"
    con = connect(extension)
    done = []

    def slow_load():
        cur = con.cursor()
        # The sleep makes the first rows arrive late: the area sits untouched meanwhile.
        cur.execute(
            "COPY (SELECT {'i': i, 'slept': sleep_ms(1500) IS NULL} FROM range(3) t(i)) "
            f"TO '{lake}' (FORMAT dw_staging, SOURCE 'slow', LOAD_ID 'slow-1')"
        )
        done.append(True)

    t = threading.Thread(target=slow_load)
    t.start()
    deadline = time.monotonic() + 30
    while not glob.glob(str(lake / "_etl" / "tmp" / "*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert con.execute(f"SELECT count(*) FROM etl_clean_stale('{lake}', min_age_seconds := 0)").fetchall() == [(0,)]
    t.join(timeout=60)
    assert done == [True]
    assert con.execute(f"SELECT status FROM etl_audit('{lake}')").fetchall() == [("success",)]


def test_overlapping_replace_loads_in_two_processes_leave_one_snapshot(extension, tmp_path):
    """[L5] A replace load that started first and publishes last must not leave its older
    snapshot beside the newer one (the review saw 60M + 1,000 rows, both `success`)."""
    import sys

    lake = tmp_path / "lake"
    script = (
        "import duckdb, sys\n"
        "con = duckdb.connect(config={'allow_unsigned_extensions': 'true'})\n"
        f"con.execute(\"LOAD '{extension}'\")\n"
        "rows, slow, load_id = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]\n"
        "con.execute(\"COPY (SELECT {'id': i, 'w': CASE WHEN i = 0 THEN sleep_ms(\" + str(slow) + \") END IS NULL} \"\n"
        f"            \"FROM range(\" + str(rows) + \") t(i)) TO '{lake}' \"\n"
        "            \"(FORMAT dw_staging, SOURCE 'users', MODE 'replace', LOAD_ID '\" + load_id + \"')\")\n"
    )
    early = subprocess.Popen([sys.executable, "-c", script, "5000", "4000", "early"])
    try:
        deadline = time.monotonic() + 60
        while not glob.glob(str(lake / "_etl" / "tmp" / "[0-9]*")) and time.monotonic() < deadline:
            assert early.poll() is None, "the early load ended too soon"
            time.sleep(0.05)
        late = subprocess.run([sys.executable, "-c", script, "10", "0", "late"], timeout=120)
        assert late.returncode == 0
        assert early.poll() is None, "the early load must publish after the late one"
        assert early.wait(timeout=120) == 0
    finally:
        if early.poll() is None:
            early.kill()
    con = connect(extension)
    assert con.execute(
        f"SELECT count(*), count(DISTINCT _load_id), any_value(_load_id) "
        f"FROM read_parquet('{lake}/sql/users/**/*.parquet')"
    ).fetchall() == [(10, 1, "late")]
    audit = dict(con.execute(f"SELECT load_id, status FROM etl_audit('{lake}')").fetchall())
    assert audit == {"early": "replaced", "late": "success"}
