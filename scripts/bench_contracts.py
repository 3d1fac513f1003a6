#!/usr/bin/env python3
"""Benchmark the data contract surfaces (`contract_check`, `contract_violations`, dw_staging
`CONTRACT`) against hand-written DuckDB SQL doing the same checks.

Run it in the benchmark venv (scripts/bench_requirements.txt: duckdb):

    build/bench-venv/bin/python scripts/bench_contracts.py [--rows N] [--runs R] [--quick]
        [--out build/bench/contracts.json] [--extension build/release/etl.duckdb_extension]

The issue's speed requirement: 1,000,000 rows, six checks (not null, unique, range, regex,
accepted values, row count); measured there, hand-written fused DuckDB SQL took ~0.3 s, Soda Core
~0.8 s, datacontract-cli ~1.7 s. `contract_check` must take at most 1.5x the fused SQL in the
same process; dw_staging with a contract at most 1.3x dw_staging without one; the memory of the
uniqueness check must be bounded by the number of distinct values.

The data: --rows (default 1,000,000) rows of (id BIGINT, email VARCHAR, age INTEGER, country
VARCHAR, score DOUBLE) generated from range(); about ten rows per check fail it (NULL ids, ids
repeating the previous row's, emails without '@', ages -1 and 200, country 'XX'), and a few
emails, ages and countries are NULL (never a pattern/range/accepted-values violation). The
contract (ODCS v3.1, written by this script into its work directory) has exactly the six checks:
id required + unique, age minimum/maximum, email pattern, country validValues and a schema-level
rowCount. What it measures (--quick: 200,000 rows, 1 run per case, memory sizes halved):
  1. speed, in one worker process whose in-memory database holds the data as table `tbl`
     (created once): wall time, best and median of --runs (default 9, interleaved: round after round of every case), of
       - fused SQL: one SELECT computing the six results in one pass (reference);
       - `SELECT unnest(contract_check(t, '<contract>'), recursive := true) FROM tbl t`, as a
         ratio to the fused SQL (target <= 1.5x). Its failed counts must equal the fused SQL's
         (age minimum + maximum = the fused range count, rowCount's total_rows = count(*));
         a disagreement fails the run;
       - `SELECT count(*) FROM tbl t WHERE len(contract_violations(t, '<contract>')) = 0` and
         the equivalent plain SQL WHERE (ratio reported, no target; the counts must agree);
       - `COPY (SELECT t FROM tbl t) TO '<lake>' (FORMAT dw_staging, SOURCE 'bench')` without a
         contract, with `CONTRACT '<contract>', ON_VIOLATION 'warn'` and with ON_VIOLATION
         'quarantine' (the lake is deleted before every run, outside the timing), as a ratio to
         the run without a contract (target <= 1.3x). Staged rows are counted; without a contract
         and with 'warn' every row must be staged. A build that refuses the options records the
         case as failed with its error;
     each case also reports the process CPU seconds of its best run (getrusage) and the CPU
     other processes used meanwhile (from /proc/stat; > 0.2 cores marks the timing DISTURBED);
  2. memory of the uniqueness check: a fresh process per case runs contract_check with one
     `unique: true` property over `SELECT (i % D) * 2654435761 AS k FROM range(N)` (sparse keys:
     the hash set, the worst case; dense ids take a bitmap) for (N, D) = (1M, 1k),
     (4M, 1k), (1M, 1M), (4M, 4M) (halved with --quick), and, as a reference, DuckDB's
     `count(k) - count(DISTINCT k)` over the same rows. It resets the RSS high-water mark
     (echo 5 > /proc/self/clear_refs) just before the query and reads VmHWM after it: the growth
     should follow D, not N (reported, never a failure). The duplicate count must be N - D.
Prints the machine, versions and a table; writes everything as JSON to --out. The extension is
copied into the work directory (beside --out) first, so a rebuild during the run cannot mix
builds; the staged outputs are deleted at the end unless --keep.

Every worker runs in a child process with a timeout (killed with its process group when it
overruns). Exit status: 0 when every case ran and every result agreed, 1 when a case failed,
timed out or disagreed, 2 on setup errors. Missing a speed target is reported, not an error:
these are numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import statistics
import hashlib
import json
import os
import resource
import shutil
import signal
import sys
import time
from pathlib import Path

import benchlib
from benchlib import (
    connect_with_extension, machine_info, proc_status, progress, remove, sql_str,
    system_busy_s, worker_info,
)

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
DEFAULT_EXTENSION = REPO / "build" / "release" / "etl.duckdb_extension"
DEFAULT_OUT = REPO / "build" / "bench" / "contracts.json"

CHECK_TARGET = 1.5  # contract_check / fused SQL
STAGING_TARGET = 1.3  # dw_staging with a contract / without
SOURCE = "bench"
BUSY_CORES = 0.2  # CPU other processes may use during a timed run before it is flagged
# Measured in the issue (another machine), for orientation only.
ISSUE_REFERENCE_S = {"fused_sql": 0.3, "soda_core": 0.8, "datacontract_cli": 1.7}

VALID_COUNTRIES = ["NO", "SE", "DK", "FI", "IS"]
EMAIL_RE = r"[a-z0-9]+@[a-z]+\.[a-z]+"  # full match; the contract anchors it with ^...$
AGE_MIN, AGE_MAX = 0, 150

# Rows fail exactly one check each, at these offsets modulo M (about ten rows per check):
OFF = {"id_null": 1, "id_dup": 3, "email_bad": 4, "email_null": 5, "age_low": 6,
       "age_high": 7, "age_null": 8, "country_bad": 9, "country_null": 10}


def modulus(n: int) -> int:
    return max(11, n // 10)


def columns(n: int) -> list[tuple[str, str]]:
    """The benchmark table, as expressions of the range() column i."""
    m = modulus(n)
    countries = "[" + ", ".join(f"'{c}'" for c in VALID_COUNTRIES) + "]"
    return [
        ("id", f"(CASE WHEN i % {m} = {OFF['id_null']} THEN NULL "
               f"WHEN i % {m} = {OFF['id_dup']} THEN i - 1 ELSE i END)::BIGINT"),
        ("email", f"CASE WHEN i % {m} = {OFF['email_bad']} THEN 'user' || i || '.example.com' "
                  f"WHEN i % {m} = {OFF['email_null']} THEN NULL "
                  f"ELSE 'user' || i || '@example.com' END"),
        ("age", f"(CASE WHEN i % {m} = {OFF['age_low']} THEN -1 "
                f"WHEN i % {m} = {OFF['age_high']} THEN 200 "
                f"WHEN i % {m} = {OFF['age_null']} THEN NULL ELSE i % 90 + 10 END)::INTEGER"),
        ("country", f"CASE WHEN i % {m} = {OFF['country_bad']} THEN 'XX' "
                    f"WHEN i % {m} = {OFF['country_null']} THEN NULL "
                    f"ELSE {countries}[i % {len(VALID_COUNTRIES)} + 1] END"),
        ("score", "((i * 7919) % 10000) / 100.0"),
    ]


CONTRACT_YAML = f"""\
# Written by scripts/bench_contracts.py: the six checks of the issue's benchmark.
apiVersion: v3.1.0
kind: DataContract
id: bench_users
version: 1.0.0
status: active
schema:
  - name: tbl
    logicalType: object
    properties:
      - name: id
        logicalType: integer
        required: true
        unique: true
      - name: email
        logicalType: string
        logicalTypeOptions:
          pattern: '^{EMAIL_RE}$'
      - name: age
        logicalType: integer
        logicalTypeOptions: {{minimum: {AGE_MIN}, maximum: {AGE_MAX}}}
      - name: country
        logicalType: string
        quality:
          - metric: invalidValues
            arguments: {{validValues: [{", ".join(VALID_COUNTRIES)}]}}
            mustBe: 0
      - name: score
        logicalType: number
    quality:
      - metric: rowCount
        mustBeGreaterThan: 0
"""

UNIQUE_YAML = """\
# Written by scripts/bench_contracts.py: one uniqueness check (memory benchmark).
apiVersion: v3.1.0
kind: DataContract
id: bench_unique
version: 1.0.0
status: active
schema:
  - name: keys
    properties:
      - name: k
        logicalType: integer
        unique: true
"""

# The fused SQL's result columns, and the contract_check results (kind, column) each equals.
FUSED_COLUMNS = ["null_id", "dup_id", "age_out", "email_bad", "country_bad", "rows"]
FUSED_TO_CHECKS = {
    "null_id": [("null_values", "id")],
    "dup_id": [("duplicate_values", "id")],
    "age_out": [("minimum", "age"), ("maximum", "age")],
    "email_bad": [("pattern", "email")],
    "country_bad": [("valid_values", "country")],
}


# --------------------------------------------------------------------------------------------
# SQL helpers (shared by parent and workers)
# --------------------------------------------------------------------------------------------


def range_select(n: int) -> str:
    cols = ", ".join(f"{expr} AS {name}" for name, expr in columns(n))
    return f"SELECT {cols} FROM range({n}) r(i)"


def in_list() -> str:
    return ", ".join(sql_str(c) for c in VALID_COUNTRIES)


def fused_sql() -> str:
    # Duplicates = rows beyond the first occurrence of each non-NULL id (NULLs never duplicate):
    # count(id), not count(*), minus count(DISTINCT id).
    return ("SELECT count(*) FILTER (WHERE id IS NULL) AS null_id, "
            "count(id) - count(DISTINCT id) AS dup_id, "
            f"count(*) FILTER (WHERE age NOT BETWEEN {AGE_MIN} AND {AGE_MAX}) AS age_out, "
            f"count(*) FILTER (WHERE NOT regexp_full_match(email, {sql_str(EMAIL_RE)})) "
            "AS email_bad, "
            f"count(*) FILTER (WHERE country NOT IN ({in_list()})) AS country_bad, "
            "count(*) AS rows FROM tbl")


def plain_filter_sql() -> str:
    """The rows contract_violations passes, in plain SQL (NULL passes every check but required)."""
    return ("SELECT count(*) FROM tbl WHERE id IS NOT NULL "
            f"AND coalesce(age BETWEEN {AGE_MIN} AND {AGE_MAX}, true) "
            f"AND coalesce(regexp_full_match(email, {sql_str(EMAIL_RE)}), true) "
            f"AND coalesce(country IN ({in_list()}), true)")


def lake_glob(lake: str) -> str:
    return f"{lake}/sql/{SOURCE}/*/*.parquet"


def jsonable(value):
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


# --------------------------------------------------------------------------------------------
# Workers: `bench_contracts.py --worker KIND --spec JSON`, each prints one RESULT line
# --------------------------------------------------------------------------------------------


def lake_report(con, lake: Path) -> dict:
    """Rows and files of a staged lake: the staged glob and every Parquet file under it."""
    files = sorted(lake.rglob("*.parquet")) if lake.is_dir() else []
    out = {"files": [str(f.relative_to(lake)) for f in files][:20], "file_count": len(files),
           "bytes": sum(f.stat().st_size for f in files), "rows_staged_glob": 0,
           "rows_all_files": 0}
    if files:
        out["rows_all_files"] = con.execute(
            f"SELECT count(*) FROM read_parquet({sql_str(str(lake / '**' / '*.parquet'))})"
        ).fetchone()[0]
        try:
            out["rows_staged_glob"] = con.execute(
                f"SELECT count(*) FROM read_parquet({sql_str(lake_glob(str(lake)))})"
            ).fetchone()[0]
        except Exception:  # no file matches the staged glob
            out["rows_staged_glob"] = 0
    return out


def worker_speed(spec: dict) -> dict:
    """Create `tbl` once, then time every case spec["runs"] times (best of)."""
    n, runs, work = spec["rows"], spec["runs"], Path(spec["dir"])
    con = connect_with_extension(spec["extension"])
    t0 = time.perf_counter()
    con.execute(f"CREATE TABLE tbl AS {range_select(n)}")
    create_s = time.perf_counter() - t0
    src_rows = con.execute("SELECT count(*) FROM tbl").fetchone()[0]
    progress(f"table tbl: {src_rows:,} rows in {create_s:.2f} s")
    out = {"create_table_s": create_s, "source_rows": src_rows, "cases": []}
    # Rounds outside, cases inside: every case sees the same drift of this VM's speed (and
    # fsync times), so the ratios compare like with like.
    state = {c["slug"]: {"times": [], "cpus": [], "others": [], "error": None, "rows": None,
                         "description": None} for c in spec["cases"]}
    for _ in range(runs):
        for case in spec["cases"]:
            st = state[case["slug"]]
            if st["error"]:
                continue
            lake = work / case["slug"]
            sql = case["sql"].replace("{target}", sql_str(str(lake)))
            remove(lake)
            try:
                ru0 = resource.getrusage(resource.RUSAGE_SELF)
                busy0 = system_busy_s()
                t0 = time.perf_counter()
                cur = con.execute(sql)
                st["rows"] = cur.fetchall()
                secs = time.perf_counter() - t0
                busy1 = system_busy_s()
                ru1 = resource.getrusage(resource.RUSAGE_SELF)
                st["description"] = [d[0] for d in cur.description] if cur.description else None
            except Exception as exc:  # reported as a failed case
                st["error"] = f"{type(exc).__name__}: {exc}"[:1000]
                continue
            st["times"].append(secs)
            st["cpus"].append((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime))
            # CPU other processes used meanwhile, in cores (> 0.2: the timing is disturbed).
            st["others"].append(max(0.0, (busy1 - busy0) - st["cpus"][-1]) / secs)
    for case in spec["cases"]:
        st = state[case["slug"]]
        lake = work / case["slug"]
        sql = case["sql"].replace("{target}", sql_str(str(lake)))
        times, cpus, others = st["times"], st["cpus"], st["others"]
        res = {"slug": case["slug"], "sql": sql, "times": times}
        if st["error"]:
            res["error"] = st["error"]
            progress(f"{case['slug']}: FAILED {st['error'][:200]}")
            out["cases"].append(res)
            remove(lake)
            continue
        best = min(range(len(times)), key=times.__getitem__)
        res.update({"best_s": times[best], "median_s": statistics.median(times),
                    "cpu_s": cpus[best], "cpu_s_runs": cpus,
                    "other_cores": others, "other_cores_best": others[best],
                    "columns": st["description"], "result": jsonable(st["rows"])})
        if case["kind"] == "lake":
            # The lake of the last round is still there.
            res["lake"] = lake_report(con, lake)
            if not spec.get("keep"):
                remove(lake)
        progress(f"{case['slug']}: best {times[best]:.3f} s, median {res['median_s']:.3f} s "
                 f"({', '.join(f'{t:.3f}' for t in times)}), cpu {cpus[best]:.2f} s, "
                 f"other processes {others[best]:.2f} cores")
        out["cases"].append(res)
    return out


def worker_mem(spec: dict) -> dict:
    """Fresh process: reset the RSS high-water mark, run one uniqueness query over range()."""
    n, d = spec["rows"], spec["distinct"]
    con = connect_with_extension(spec["extension"])
    # Spread keys (a multiplier, so D stays exact): sparse keys take the hash set. Dense ones
    # (ids 0..D) take a bitmap, far smaller; this measures the worst case.
    source = f"(SELECT (i % {d}) * 2654435761 AS k FROM range({n}) r(i)) t"
    if spec["kind"] == "contract":
        sql = (f"SELECT failed_rows, total_rows FROM (SELECT unnest(contract_check(t, "
               f"{sql_str(spec['contract'])}), recursive := true) FROM {source}) "
               "WHERE kind = 'duplicate_values'")
    else:
        sql = f"SELECT count(k) - count(DISTINCT k), count(*) FROM {source}"
    before = proc_status()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        reset = True
    except OSError:
        reset = False
    after_reset = proc_status()
    t0 = time.perf_counter()
    rows = con.execute(sql).fetchall()
    secs = time.perf_counter() - t0
    after = proc_status()
    base = after_reset["VmRSS"] if reset else before["VmHWM"]
    if len(rows) != 1:
        raise RuntimeError(f"expected one duplicate_values result, got {rows!r}")
    failed, total = rows[0]
    return {"seconds": secs, "duplicates": failed, "rows": total, "hwm_reset": reset,
            "before": before, "after_reset": after_reset, "after": after,
            "peak_mib": after["VmHWM"], "growth_mib": after["VmHWM"] - base, "sql": sql}


WORKERS = {"info": worker_info, "speed": worker_speed, "mem": worker_mem}


def run_worker(kind: str, spec: dict, timeout: float, log=None) -> dict:
    return benchlib.run_worker(Path(__file__), kind, spec, timeout, log)


def run_worker_main(kind: str, spec_json: str) -> int:
    return benchlib.run_worker_main(WORKERS, kind, spec_json)


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


def speed_cases(contract: str) -> list[dict]:
    """(section, slug, label, kind, sql)."""
    c = sql_str(contract)
    dw = "COPY (SELECT t FROM tbl t) TO {target} " + f"(FORMAT dw_staging, SOURCE {sql_str(SOURCE)}"
    return [
        {"section": "check", "slug": "fused_sql", "kind": "query",
         "label": "fused SQL, six checks in one SELECT (reference)", "sql": fused_sql()},
        {"section": "check", "slug": "contract_check", "kind": "query",
         "label": "contract_check(t, contract), unnest",
         "sql": f"SELECT unnest(contract_check(t, {c}), recursive := true) FROM tbl t"},
        {"section": "filter", "slug": "plain_filter", "kind": "query",
         "label": "plain SQL WHERE (reference)", "sql": plain_filter_sql()},
        {"section": "filter", "slug": "contract_violations", "kind": "query",
         "label": "WHERE len(contract_violations(t, contract)) = 0",
         "sql": f"SELECT count(*) FROM tbl t WHERE len(contract_violations(t, {c})) = 0"},
        {"section": "dw_staging", "slug": "dw_none", "kind": "lake",
         "label": "no contract (reference)", "sql": dw + ")"},
        {"section": "dw_staging", "slug": "dw_warn", "kind": "lake",
         "label": "CONTRACT, ON_VIOLATION 'warn'",
         "sql": dw + f", CONTRACT {c}, ON_VIOLATION 'warn')"},
        {"section": "dw_staging", "slug": "dw_quarantine", "kind": "lake",
         "label": "CONTRACT, ON_VIOLATION 'quarantine'",
         "sql": dw + f", CONTRACT {c}, ON_VIOLATION 'quarantine')"},
    ]


def compare_check(fused: dict, results: list[dict]) -> list[str]:
    """Problems where contract_check disagrees with the fused SQL (empty: they agree)."""
    problems = []
    by_key: dict[tuple, list[dict]] = {}
    for r in results:
        by_key.setdefault((r.get("kind"), r.get("column")), []).append(r)
    for r in results:
        if r.get("kind") == "schema" and r.get("status") != "pass":
            problems.append(f"schema check {r.get('check_id')}: {r.get('status')} "
                            f"({r.get('message')})")
        if r.get("total_rows") != fused["rows"]:
            problems.append(f"{r.get('check_id')}: total_rows {r.get('total_rows')}, "
                            f"expected {fused['rows']}")
    for col, keys in FUSED_TO_CHECKS.items():
        got = 0
        for key in keys:
            found = by_key.get(key, [])
            if len(found) != 1:
                problems.append(f"{len(found)} results of kind {key[0]} on {key[1]}, expected 1")
                continue
            got += found[0]["failed_rows"]
            want_status = "fail" if found[0]["failed_rows"] > 0 else "pass"
            if found[0].get("status") != want_status:
                problems.append(f"{found[0].get('check_id')}: status {found[0].get('status')} "
                                f"with {found[0]['failed_rows']} failed rows")
        if got != fused[col]:
            problems.append(f"{col}: contract_check {got}, fused SQL {fused[col]}")
    rc = by_key.get(("row_count", None), [])
    if len(rc) != 1:
        problems.append(f"{len(rc)} row_count results, expected 1")
    elif rc[0].get("status") != ("pass" if fused["rows"] > 0 else "fail"):
        problems.append(f"rowCount: status {rc[0].get('status')} over {fused['rows']} rows")
    checks = [r for r in results if r.get("kind") != "schema"]
    if len(checks) != 7:
        problems.append(f"{len(checks)} check results, expected 7 "
                        "(id null/unique, age min/max, email, country, rowCount)")
    return problems


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.quick = args.quick
        self.n = args.rows if args.rows is not None else (200_000 if args.quick else 1_000_000)
        self.runs = args.runs if args.runs is not None else (1 if args.quick else 9)
        scale = 2 if args.quick else 1
        self.mem_cases = [(1_000_000 // scale, 1_000 // scale), (4_000_000 // scale, 1_000 // scale),
                          (1_000_000 // scale, 1_000_000 // scale),
                          (4_000_000 // scale, 4_000_000 // scale)]
        self.work = Path(args.out).resolve().parent / "contracts"
        self.contract = self.work / "contract_bench_users.yaml"
        self.unique_contract = self.work / "contract_bench_unique.yaml"
        self.rows: list[dict] = []  # the printed table
        self.results: dict = {}
        self.failed = False
        self.ext = ""

    def row(self, section: str, case: str, seconds: float | None = None, ratio: str = "",
            cpu: str = "", mib: float | None = None, note: str = "",
            failed: bool = False) -> None:
        self.rows.append({"section": section, "case": case, "seconds": seconds, "ratio": ratio,
                          "cpu": cpu, "mib": mib, "note": note, "failed": failed})
        if failed:
            self.failed = True

    def log(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    # --- sections ------------------------------------------------------------------------

    def snapshot_extension(self) -> None:
        src = Path(self.args.extension).resolve()
        dst = self.work / "etl.duckdb_extension"
        shutil.copyfile(src, dst)
        digest = hashlib.sha256(dst.read_bytes()).hexdigest()
        self.ext = str(dst)
        self.results["extension"] = {
            "path": str(src), "snapshot": str(dst), "sha256": digest, "bytes": dst.stat().st_size,
            "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(src.stat().st_mtime))}
        self.log(f"extension {src} (sha256 {digest[:12]}, built "
                 f"{self.results['extension']['mtime']}) copied to {dst}")

    def write_contracts(self) -> None:
        self.contract.write_text(CONTRACT_YAML)
        self.unique_contract.write_text(UNIQUE_YAML)
        self.results["contracts"] = {"checks": str(self.contract),
                                     "checks_yaml": CONTRACT_YAML,
                                     "unique": str(self.unique_contract),
                                     "unique_yaml": UNIQUE_YAML}

    def quiet_check(self) -> None:
        """CPU (in cores) other processes use while this benchmark idles for 2 s."""
        b0, r0 = system_busy_s(), resource.getrusage(resource.RUSAGE_SELF)
        time.sleep(2.0)
        b1, r1 = system_busy_s(), resource.getrusage(resource.RUSAGE_SELF)
        own = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        cores = max(0.0, b1 - b0 - own) / 2.0  # seconds of CPU per 2 s of wall time
        self.results["machine"]["other_cores_at_start"] = cores
        if cores > BUSY_CORES:
            self.log(f"WARNING: other processes use {cores:.1f} cores; timings will be disturbed")

    def info(self) -> None:
        res = run_worker("info", {"extension": self.ext}, timeout=60)
        if not res.get("ok"):
            raise RuntimeError(f"cannot load the extension {self.ext}: {res.get('error')}")
        self.results["versions"] = {k: res[k] for k in ("duckdb_python", "duckdb_engine",
                                                         "duckdb_threads", "etl", "python")}

    def speed(self) -> None:
        cases = speed_cases(str(self.contract))
        spec = {"extension": self.ext, "rows": self.n, "runs": self.runs, "keep": self.args.keep,
                "dir": str(self.work / "out"),
                "cases": [{k: c[k] for k in ("slug", "kind", "sql")} for c in cases]}
        timeout = 120 + 60 * self.runs * max(1.0, self.n / 1_000_000)
        self.log(f"speed: {self.n:,} rows, {len(cases)} cases x {self.runs} runs "
                 f"(timeout {timeout:.0f} s)")
        res = run_worker("speed", spec, timeout=timeout, log=self.log)
        out: dict = {"rows": self.n, "runs": self.runs}
        self.results["speed"] = out
        if not res.get("ok"):
            self.row("speed", "all cases", note=res["error"][:200], failed=True)
            out["error"] = res["error"]
            return
        out["create_table_s"] = res["create_table_s"]
        out["source_rows"] = res["source_rows"]
        self.row("setup", f"CREATE TABLE tbl AS ... FROM range({self.n:,})", res["create_table_s"])
        by_slug = {r["slug"]: r for r in res["cases"]}

        def best(slug):
            return by_slug.get(slug, {}).get("best_s")

        # What each case is compared with (ratio), its target and its correctness check.
        reference = {"contract_check": ("fused_sql", CHECK_TARGET),
                     "contract_violations": ("plain_filter", None),
                     "dw_warn": ("dw_none", STAGING_TARGET),
                     "dw_quarantine": ("dw_none", STAGING_TARGET)}
        fused = None
        if "result" in by_slug.get("fused_sql", {}):
            fused = dict(zip(FUSED_COLUMNS, by_slug["fused_sql"]["result"][0]))
            out["fused_counts"] = fused
        for c in cases:
            r = by_slug.get(c["slug"])
            if r is None:
                self.row(c["section"], c["label"], note="not run", failed=True)
                continue
            entry = {"label": c["label"], "section": c["section"], **r}
            out[c["slug"]] = entry
            if "best_s" not in r:
                self.row(c["section"], c["label"], note=r.get("error", "")[:300], failed=True)
                continue
            note = f"best of {len(r['times'])}: " + ", ".join(f"{t:.3f}" for t in r["times"])
            problems: list[str] = []
            ratio = ""
            ref, target = reference.get(c["slug"], (None, None))
            if ref and best(ref):
                entry["ratio"] = r["best_s"] / best(ref)
                entry["median_ratio"] = r["median_s"] / by_slug[ref]["median_s"]
                ratio = f"{entry['ratio']:.2f}x"
                note += f"; median ratio {entry['median_ratio']:.2f}x"
                if target:
                    entry["target"] = target
                    entry["meets_target"] = entry["ratio"] <= target
                    note += f"; target <= {target}x: {'met' if entry['meets_target'] else 'MISSED'}"
            slug = c["slug"]
            if slug == "fused_sql" and fused:
                note += "; failed " + ", ".join(f"{k} {fused[k]:,}" for k in FUSED_COLUMNS)
                planted = [k for k in FUSED_COLUMNS[:-1] if fused[k] == 0]
                if planted:
                    note += f"; (no failing rows for {', '.join(planted)} at this size)"
            if slug == "contract_check":
                results = [dict(zip(r["columns"], row)) for row in r["result"]]
                entry["checks"] = results
                if fused is None:
                    problems.append("no fused SQL result to compare with")
                else:
                    problems += compare_check(fused, results)
                    if not problems:
                        note += f"; agrees with fused SQL ({len(results)} results)"
            if slug in ("plain_filter", "contract_violations"):
                entry["passing_rows"] = r["result"][0][0]
                note += f"; {entry['passing_rows']:,} rows pass"
            if slug == "contract_violations" and "result" in by_slug.get("plain_filter", {}):
                want = by_slug["plain_filter"]["result"][0][0]
                if entry["passing_rows"] != want:
                    problems.append(f"{entry['passing_rows']} rows pass, plain SQL {want}")
            lake = r.get("lake")
            if lake:
                staged = lake["rows_staged_glob"]
                note += (f"; staged {staged:,} rows ({lake['rows_all_files']:,} in all "
                         f"{lake['file_count']} Parquet files)")
                if slug in ("dw_none", "dw_warn") and staged != self.n:
                    problems.append(f"{staged} rows staged, expected {self.n} "
                                    f"(files: {', '.join(lake['files'][:5])})")
                if slug == "dw_quarantine":
                    note += f"; files: {', '.join(lake['files'][:4])}"
            if r["other_cores_best"] > BUSY_CORES:
                note += f"; DISTURBED: other processes used {r['other_cores_best']:.1f} cores"
            if problems:
                entry["problems"] = problems
                note += "; DISAGREES: " + "; ".join(problems)[:400]
            self.row(c["section"], c["label"], r["best_s"], ratio, f"{r['cpu_s']:.2f}",
                     lake["bytes"] / 2**20 if lake else None, note, failed=bool(problems))

    def memory(self) -> None:
        out: dict = {"cases": []}
        for n, d in self.mem_cases:
            per = {"rows": n, "distinct": d}
            for kind, label in (("contract", "contract_check unique"),
                                ("sql", "count(k) - count(DISTINCT k) (reference)")):
                name = f"{label}, N {n:,}, D {d:,}"
                spec = {"extension": self.ext, "rows": n, "distinct": d, "kind": kind,
                        "contract": str(self.unique_contract)}
                res = run_worker("mem", spec, timeout=60 + 60 * max(1.0, n / 1_000_000))
                if not res.get("ok"):
                    self.row("memory", name, note=res["error"][:300], failed=True)
                    per[kind] = {"error": res["error"]}
                    self.log(f"memory / {name}: FAILED {res['error'][:200]}")
                    continue
                ok = res["duplicates"] == n - d and res["rows"] == n
                note = (f"RSS before {res['after_reset']['VmRSS']:.0f} MiB, peak "
                        f"{res['peak_mib']:.0f} MiB, growth {res['growth_mib']:+.1f} MiB")
                if d >= 100_000:  # below, fixed overheads dominate the per-key figure
                    note += f" ({res['growth_mib'] * 2**20 / d:.0f} B per distinct key)"
                if not res["hwm_reset"]:
                    note += "; (VmHWM not resettable: growth vs the peak before the query)"
                if not ok:
                    note += (f"; WRONG RESULT: {res['duplicates']} duplicates over {res['rows']} "
                             f"rows, expected {n - d} over {n}")
                self.row("memory", name, res["seconds"], mib=res["growth_mib"], note=note,
                         failed=not ok)
                per[kind] = {k: res[k] for k in ("seconds", "duplicates", "rows", "hwm_reset",
                                                 "before", "after_reset", "after", "peak_mib",
                                                 "growth_mib", "sql")}
                self.log(f"memory / {name}: {res['seconds']:.2f} s, {note}")
            out["cases"].append(per)

        def growth(n, d):
            for c in out["cases"]:
                if c["rows"] == n and c["distinct"] == d:
                    return c.get("contract", {}).get("growth_mib")
            return None

        (n1, d_small), (n4, _), (_, d1), (_, d4) = self.mem_cases
        same_d = (growth(n1, d_small), growth(n4, d_small))
        same_ratio = (growth(n1, d1), growth(n4, d4))
        summary = {}
        if None not in same_d:
            summary["fixed_d_growth_mib"] = {str(n1): same_d[0], str(n4): same_d[1]}
            self.row("memory", f"contract_check: D {d_small:,}, N {n1:,} -> {n4:,}",
                     note=f"growth {same_d[0]:+.1f} -> {same_d[1]:+.1f} MiB "
                          f"({same_d[1] - same_d[0]:+.1f} MiB for {n4 // n1}x the rows)")
        if None not in same_ratio:
            summary["d_equals_n_growth_mib"] = {str(d1): same_ratio[0], str(d4): same_ratio[1]}
            factor = same_ratio[1] / same_ratio[0] if same_ratio[0] > 0 else float("nan")
            self.row("memory", f"contract_check: D = N, {d1:,} -> {d4:,}",
                     note=f"growth {same_ratio[0]:+.1f} -> {same_ratio[1]:+.1f} MiB "
                          f"({factor:.1f}x for {d4 // d1}x the distinct keys)")
        out["summary"] = summary
        self.results["memory"] = out

    # --- output --------------------------------------------------------------------------

    def print_table(self) -> None:
        m, v = self.results["machine"], self.results.get("versions", {})
        print()
        print(f"machine: nproc {m['nproc']}, {m['cpu_model']}, {m['mem_gib']} GiB, "
              f"other processes at start {m.get('other_cores_at_start', 0):.1f} cores, "
              f"load avg start {'/'.join(f'{x:.2f}' for x in m['loadavg_start'])} "
              f"end {'/'.join(f'{x:.2f}' for x in m.get('loadavg_end', []))}")
        print(f"versions: duckdb {v.get('duckdb_python')} (engine {v.get('duckdb_engine')}, "
              f"threads {v.get('duckdb_threads')}), etl {json.dumps(v.get('etl'))}, "
              f"python {v.get('python')}")
        print(f"mode: {'quick' if self.quick else 'full'}; {self.n:,} rows; best of {self.runs}; "
              f"ratio = case / its reference (contract_check: fused SQL, target <= {CHECK_TARGET}x;"
              f" dw_staging: no contract, target <= {STAGING_TARGET}x); cpu = process CPU s of "
              f"the best run; MiB = staged bytes (dw_staging) or VmHWM growth (memory)")
        print("issue's reference (1,000,000 rows, another machine): fused SQL ~0.3 s, "
              "Soda Core ~0.8 s, datacontract-cli ~1.7 s")
        headers = ["section", "case", "seconds", "ratio", "cpu s", "MiB", "note"]
        table = []
        for r in self.rows:
            table.append([r["section"], r["case"],
                          "-" if r["seconds"] is None else f"{r['seconds']:.3f}",
                          r["ratio"] or "-", r["cpu"] or "-",
                          "-" if r["mib"] is None else f"{r['mib']:.1f}",
                          ("FAIL: " if r["failed"] else "") + r["note"]])
        widths = [max(len(h), *(len(row[i]) for row in table)) if table else len(h)
                  for i, h in enumerate(headers)]
        widths[-1] = len(headers[-1])
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
        print(line)
        print("-" * max(len(line), 100))
        for row in table:
            cells = [c.ljust(w) if i in (0, 1, 6) else c.rjust(w)
                     for i, (c, w) in enumerate(zip(row, widths))]
            print("  ".join(cells).rstrip())
        print()

    def run(self) -> int:
        remove(self.work / "out")
        self.work.mkdir(parents=True, exist_ok=True)
        self.results["machine"] = machine_info()
        self.results["mode"] = "quick" if self.quick else "full"
        self.results["rows"] = self.n
        self.results["columns"] = columns(self.n)
        self.results["issue_reference_s"] = ISSUE_REFERENCE_S
        self.results["targets"] = {"contract_check_vs_fused_sql": CHECK_TARGET,
                                   "dw_staging_contract_vs_none": STAGING_TARGET}
        started = time.monotonic()
        try:
            self.snapshot_extension()
            self.write_contracts()
            self.quiet_check()
            self.info()
            self.speed()
            self.memory()
        finally:
            if not self.args.keep:
                remove(self.work / "out")
        self.results["machine"]["loadavg_end"] = list(os.getloadavg())
        self.results["total_seconds"] = time.monotonic() - started
        self.results["table"] = self.rows
        self.results["failed"] = self.failed
        out = Path(self.args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.results, indent=2) + "\n")
        self.print_table()
        print(f"total {self.results['total_seconds']:.0f} s; results written to {out}")
        return 1 if self.failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None,
                        help="rows of the benchmark table (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=None, help="runs per speed case, interleaved (default 9)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 200,000 rows, 1 run per case, memory sizes halved "
                             "(unless --rows/--runs)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="JSON results file")
    parser.add_argument("--extension", default=str(DEFAULT_EXTENSION),
                        help="etl.duckdb_extension to load")
    parser.add_argument("--keep", action="store_true", help="keep the staged dw_staging lakes")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return run_worker_main(args.worker, args.spec)
    if not Path(args.extension).is_file():
        print(f"extension not found: {args.extension} (build it first)", file=sys.stderr)
        return 2
    if (args.rows is not None and args.rows < 1) or (args.runs is not None and args.runs < 1):
        print("--rows and --runs must be >= 1", file=sys.stderr)
        return 2

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    try:
        return Bench(args).run()
    except KeyboardInterrupt as exc:
        print(f"interrupted ({exc})", file=sys.stderr)
        return 130
    except (RuntimeError, OSError) as exc:
        print(f"benchmark setup failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
