#!/usr/bin/env python3
"""Benchmark `COPY ... TO '<lake>' (FORMAT dw_staging)` against DuckDB's own Parquet writer.

Run it in the benchmark venv (scripts/bench_requirements.txt: duckdb):

    build/bench-venv/bin/python scripts/bench_dw_staging.py [--rows N] [--runs R] [--quick]
        [--out build/bench/dw_staging.json] [--extension build/release/etl.duckdb_extension]

The data: --rows (default 5,000,000) rows of (id BIGINT, a DOUBLE, b DOUBLE, s VARCHAR, ts
TIMESTAMP), s short strings 'user_' || (i % 100000), a = random() (setseed 0.42), b = i / 7,
ts = 2024-01-01 + i seconds. What it measures (--quick: 200,000 rows, 1 run per case):
  1. speed, in one worker process whose in-memory database holds the data as table `tbl`
     (created once): wall time, best of --runs (default 3; every output is deleted before each
     run, outside the timing), of
       - DuckDB `COPY (SELECT * FROM tbl) TO 'x.parquet' (FORMAT parquet, COMPRESSION ...)` for
         zstd, snappy and uncompressed, and zstd with PER_THREAD_OUTPUT true (reference);
       - `COPY (SELECT t FROM tbl t) TO '<lake>' (FORMAT dw_staging, SOURCE 'bench', ...)` (one
         file per COPY) for zstd and snappy with METADATA true and false and the default THREADS,
         reported as a ratio to DuckDB's single-file time for the same codec (target <= 1.3x);
       - dw_staging zstd with THREADS 1 and 2 (encoder scaling);
       - rough profile: dw_staging uncompressed (METADATA false, THREADS default and 1), the
         COLUMNS (...) form of zstd (no STRUCT packing in the query) and zstd with
         ROW_GROUP_ROWS 1048576 (the Parquet writer's dictionary gives up after 1 MiB, which a
         122,880-row group of 8-byte values never reaches);
     each case also reports the process CPU seconds of its best run (getrusage), the CPU of the
     extension's encoder threads (named etl-parquet-N, sampled from /proc/self/task every 20 ms,
     so roughly) and the output size. Correctness, once: read_parquet over the staged lake of
     dw_staging zstd gives --rows rows and the same sum(id) as the source table; every other
     dw_staging run is checked for the row count and for exactly one Parquet file;
  2. memory: a fresh process per case that loads the extension and stages rows/5 and rows rows
     (1,000,000 and 5,000,000 by default), either from a table created from range() in that
     process or straight from `SELECT {...} FROM range(N)` (no table), and DuckDB's parquet COPY
     from range() as a reference. It reads VmRSS/VmHWM from /proc/self/status after the table is
     created, resets the high-water mark (echo 5 > /proc/self/clear_refs) and reads VmHWM again
     after the COPY: the growth during the COPY must not grow with the row count (limit 64 MiB
     between the two sizes). ru_maxrss (never reset) is recorded as well.
Prints the machine, versions and a table; writes everything as JSON to --out. The extension is
copied into the work directory (beside --out) first, so a rebuild during the run cannot mix
builds; the staged outputs are deleted at the end unless --keep.

Every worker runs in a child process with a timeout (killed with its process group when it
overruns). Exit status: 0 when every case ran and the staged data was correct, 1 when a case
failed, timed out or the staged data was wrong, 2 on setup errors. Missing the 1.3x target is
reported, not an error: these are numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import sys
import threading
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
DEFAULT_OUT = REPO / "build" / "bench" / "dw_staging.json"

RATIO_TARGET = 1.3
RSS_GROWTH_LIMIT_MIB = 64.0  # allowed difference of the COPY's RSS growth between the two sizes
SOURCE = "bench"
BUSY_CORES = 0.2  # CPU other processes may use during a timed run before it is flagged

# The benchmark table, as expressions of the range() column i.
COLUMNS = [
    ("id", "i::BIGINT"),
    ("a", "random()::DOUBLE"),
    ("b", "(i::DOUBLE / 7)"),
    ("s", "'user_' || (i % 100000)"),
    ("ts", "TIMESTAMP '2024-01-01 00:00:00' + to_seconds(i)"),
]


# --------------------------------------------------------------------------------------------
# SQL helpers (shared by parent and workers)
# --------------------------------------------------------------------------------------------


def range_select(n: int) -> str:
    cols = ", ".join(f"{expr} AS {name}" for name, expr in COLUMNS)
    return f"SELECT {cols} FROM range({n}) r(i)"


def range_struct_select(n: int) -> str:
    fields = ", ".join(f"'{name}': {expr}" for name, expr in COLUMNS)
    return f"SELECT {{{fields}}} AS t FROM range({n}) r(i)"


def dw_options(codec: str, metadata: bool = True, threads: int | None = None,
               columns: bool = False) -> str:
    opts = [f"FORMAT dw_staging, SOURCE {sql_str(SOURCE)}", f"COMPRESSION {sql_str(codec)}",
            f"METADATA {'true' if metadata else 'false'}"]
    if threads is not None:
        opts.append(f"THREADS {threads}")
    if columns:
        opts.append("COLUMNS (" + ", ".join(sql_str(n) for n, _ in COLUMNS) + ")")
    return ", ".join(opts)


def lake_glob(lake: str) -> str:
    return f"{lake}/sql/{SOURCE}/*/*.parquet"


def parquet_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(path.rglob("*.parquet")) if path.is_dir() else []


class ThreadCpu:
    """Samples the CPU ticks of every thread of this process from /proc/self/task.

    Threads that exit between two samples lose at most one interval of CPU, so the per-group
    numbers are rough; the process total comes from getrusage and is exact.
    """

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.tick = os.sysconf("SC_CLK_TCK")
        self.pid = os.getpid()
        self.base: dict[int, tuple[str, int]] = {}
        self.last: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> dict[int, tuple[str, int]]:
        out = {}
        for task in os.listdir(f"/proc/{self.pid}/task"):
            try:
                stat = Path(f"/proc/{self.pid}/task/{task}/stat").read_text()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            out[int(task)] = (comm, int(fields[11]) + int(fields[12]))  # utime + stime
        return out

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.last.update(self._sample())

    def __enter__(self):
        self.base = self._sample()
        self.last = dict(self.base)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.last.update(self._sample())

    def groups(self) -> dict:
        """CPU seconds by thread group: encoder (etl-parquet-*), sampler, other (DuckDB + main)."""
        me = threading.get_native_id() if self._thread is None else self._thread.native_id
        out = {"encoder": 0.0, "duckdb_and_main": 0.0}
        for tid, (comm, ticks) in self.last.items():
            if tid == me:
                continue
            used = (ticks - self.base.get(tid, (comm, 0))[1]) / self.tick
            key = "encoder" if comm.startswith("etl-parquet") else "duckdb_and_main"
            out[key] += used
        return out


# --------------------------------------------------------------------------------------------
# Workers: `bench_dw_staging.py --worker KIND --spec JSON`, each prints one RESULT line
# --------------------------------------------------------------------------------------------


def worker_speed(spec: dict) -> dict:
    """Create `tbl` once, then time every case spec["runs"] times (best of)."""
    n, runs, work = spec["rows"], spec["runs"], Path(spec["dir"])
    con = connect_with_extension(spec["extension"])
    con.execute("SELECT setseed(0.42)").fetchall()
    t0 = time.perf_counter()
    con.execute(f"CREATE TABLE tbl AS {range_select(n)}")
    create_s = time.perf_counter() - t0
    src_rows, src_sum = con.execute("SELECT count(*), sum(id) FROM tbl").fetchone()
    progress(f"table tbl: {src_rows:,} rows in {create_s:.2f} s")
    out = {"create_table_s": create_s, "source": {"rows": src_rows, "sum_id": int(src_sum)},
           "cases": []}
    for case in spec["cases"]:
        target = work / case["slug"]
        target_sql = str(target / "x.parquet") if case["kind"] == "parquet_file" else str(target)
        sql = case["sql"].replace("{target}", sql_str(target_sql))
        times, cpus, groups, others, error = [], [], [], [], None
        for _ in range(runs):
            remove(target)
            if case["kind"] == "parquet_file":
                target.mkdir(parents=True)
            try:
                ru0 = resource.getrusage(resource.RUSAGE_SELF)
                busy0 = system_busy_s()
                with ThreadCpu() as sampler:
                    t0 = time.perf_counter()
                    con.execute(sql)
                    secs = time.perf_counter() - t0
                busy1 = system_busy_s()
                ru1 = resource.getrusage(resource.RUSAGE_SELF)
            except Exception as exc:  # reported as a failed case
                error = f"{type(exc).__name__}: {exc}"[:1000]
                break
            times.append(secs)
            cpus.append((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime))
            groups.append(sampler.groups())
            # CPU other processes used meanwhile, in cores (> 0.2: the timing is disturbed).
            others.append(max(0.0, (busy1 - busy0) - cpus[-1]) / secs)
        res = {"slug": case["slug"], "sql": sql, "times": times}
        if error:
            res["error"] = error
            progress(f"{case['slug']}: FAILED {error[:200]}")
            out["cases"].append(res)
            continue
        best = min(range(len(times)), key=times.__getitem__)
        files = parquet_files(target)
        res.update({"best_s": times[best], "cpu_s": cpus[best], "thread_cpu_s": groups[best],
                    "cpu_s_runs": cpus, "thread_cpu_s_runs": groups,
                    "other_cores": others, "other_cores_best": others[best],
                    "files": len(files), "bytes": sum(f.stat().st_size for f in files)})
        glob = lake_glob(str(target)) if case["kind"] == "lake" else (
            str(target / "*.parquet") if case["kind"] == "parquet_dir" else str(target / "x.parquet"))
        check = "count(*), sum(id)" if case.get("verify") else "count(*), NULL"
        rows, total = con.execute(f"SELECT {check} FROM read_parquet({sql_str(glob)})").fetchone()
        res["rows"] = rows
        problems = []
        if rows != src_rows:
            problems.append(f"{rows} rows, expected {src_rows}")
        if case["kind"] == "lake" and len(files) != 1:
            problems.append(f"{len(files)} Parquet files, expected 1")
        if case.get("verify"):
            res["sum_id"] = int(total) if total is not None else None
            if res["sum_id"] != int(src_sum):
                problems.append(f"sum(id) {total}, expected {src_sum}")
            res["verified"] = not problems
        if problems:
            res["error"] = "WRONG OUTPUT: " + "; ".join(problems)
        progress(f"{case['slug']}: best {times[best]:.3f} s "
                 f"({', '.join(f'{t:.3f}' for t in times)}), cpu {cpus[best]:.2f} s, "
                 f"other processes {others[best]:.2f} cores, "
                 f"{res['bytes'] / 2**20:.1f} MiB" + (f"; {res['error']}" if problems else ""))
        out["cases"].append(res)
        if not spec.get("keep"):
            remove(target)
    return out


def worker_rss(spec: dict) -> dict:
    """Fresh process: optionally create the table, reset the RSS high-water mark, COPY."""
    n, target = spec["rows"], Path(spec["target"])
    remove(target)
    con = connect_with_extension(spec["extension"])
    loaded = proc_status()
    if spec["source"] == "table":
        con.execute(f"CREATE TABLE tbl AS {range_select(n)}")
        query = "SELECT t FROM tbl t" if spec["writer"] == "dw" else "SELECT * FROM tbl"
    else:
        query = range_struct_select(n) if spec["writer"] == "dw" else range_select(n)
    before = proc_status()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        reset = True
    except OSError:
        reset = False
    before_reset = proc_status()
    if spec["writer"] == "dw":
        sql = f"COPY ({query}) TO {sql_str(str(target))} ({dw_options('zstd')})"
        glob = lake_glob(str(target))
    else:
        target.mkdir(parents=True)
        sql = f"COPY ({query}) TO {sql_str(str(target / 'x.parquet'))} " \
              "(FORMAT parquet, COMPRESSION zstd)"
        glob = str(target / "x.parquet")
    t0 = time.perf_counter()
    con.execute(sql)
    secs = time.perf_counter() - t0
    after = proc_status()
    rows = con.execute(f"SELECT count(*) FROM read_parquet({sql_str(glob)})").fetchone()[0]
    remove(target)
    base = before_reset["VmRSS"] if reset else before["VmHWM"]
    return {"seconds": secs, "rows": rows, "hwm_reset": reset, "loaded": loaded,
            "before_copy": before, "after_reset": before_reset, "after_copy": after,
            "copy_peak_mib": after["VmHWM"], "growth_mib": after["VmHWM"] - base, "sql": sql}


WORKERS = {"info": worker_info, "speed": worker_speed, "rss": worker_rss}


def run_worker(kind: str, spec: dict, timeout: float, log=None) -> dict:
    return benchlib.run_worker(Path(__file__), kind, spec, timeout, log)


def run_worker_main(kind: str, spec_json: str) -> int:
    return benchlib.run_worker_main(WORKERS, kind, spec_json)


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


def speed_cases() -> list[dict]:
    """(section, slug, label, kind, sql, codec for the ratio, verify)."""
    src_dw = "COPY (SELECT t FROM tbl t) TO {target}"
    src_pq = "COPY (SELECT * FROM tbl) TO {target}"
    cases = []

    def pq(slug, label, codec, extra="", src=src_pq):
        cases.append({"section": "duckdb parquet", "slug": slug, "label": label,
                      "kind": "parquet_dir" if extra else "parquet_file", "codec": None,
                      "sql": f"{src} (FORMAT parquet, COMPRESSION {codec}{extra})"})

    def dw(section, slug, label, codec, metadata=True, threads=None, columns=False,
           verify=False, row_group_rows=None):
        src = "COPY (SELECT * FROM tbl) TO {target}" if columns else src_dw
        opts = dw_options(codec, metadata, threads, columns)
        if row_group_rows:
            # DuckDB keeps ROW_GROUP_SIZE for itself; the extension's option is ROW_GROUP_ROWS.
            opts += f", ROW_GROUP_ROWS {row_group_rows}"
        cases.append({"section": section, "slug": slug, "label": label, "kind": "lake",
                      "codec": codec, "verify": verify, "sql": f"{src} ({opts})"})

    pq("duckdb_zstd", "zstd, single file", "zstd")
    pq("duckdb_snappy", "snappy, single file", "snappy")
    pq("duckdb_uncompressed", "uncompressed, single file", "uncompressed")
    pq("duckdb_zstd_per_thread", "zstd, PER_THREAD_OUTPUT true", "zstd",
       ", PER_THREAD_OUTPUT true")
    # Like for like with METADATA true: DuckDB writing the same three constant columns.
    pq("duckdb_zstdmeta", "zstd, single file, + _loaded_at/_load_id/_source_file", "zstd",
       src="COPY (SELECT *, now() AS _loaded_at, '019a0000-0000-7000-8000-000000000000' AS _load_id, "
           "'sql/bench/load_date=2026-11-22/bench_20261122T000000000Z_019a0000-0000-7000-8000-"
           "000000000000.parquet' AS _source_file FROM tbl) TO {target}")
    dw("dw_staging", "dw_zstd_meta", "zstd, METADATA true", "zstd", verify=True)
    dw("dw_staging", "dw_zstd_nometa", "zstd, METADATA false", "zstd", metadata=False)
    dw("dw_staging", "dw_snappy_meta", "snappy, METADATA true", "snappy")
    dw("dw_staging", "dw_snappy_nometa", "snappy, METADATA false", "snappy", metadata=False)
    dw("dw threads", "dw_zstd_threads1", "zstd, THREADS 1", "zstd", threads=1)
    dw("dw threads", "dw_zstd_threads2", "zstd, THREADS 2", "zstd", threads=2)
    dw("dw profile", "dw_uncompressed_nometa", "uncompressed, METADATA false",
       "uncompressed", metadata=False)
    dw("dw profile", "dw_uncompressed_nometa_threads1", "uncompressed, METADATA false, THREADS 1",
       "uncompressed", metadata=False, threads=1)
    dw("dw profile", "dw_zstd_nometa_columns", "zstd, METADATA false, COLUMNS (...) form",
       "zstd", metadata=False, columns=True)
    # Larger row groups: fewer, bigger pages per column (dictionary encoding is on for text
    # columns only, see src/staging/writer.rs).
    dw("dw profile", "dw_zstd_nometa_rg1m", "zstd, METADATA false, ROW_GROUP_ROWS 1048576",
       "zstd", metadata=False, row_group_rows=1_048_576)
    return cases


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.quick = args.quick
        self.n = args.rows if args.rows is not None else (200_000 if args.quick else 5_000_000)
        self.runs = args.runs if args.runs is not None else (1 if args.quick else 3)
        self.rss_sizes = sorted({max(1, self.n // 5), self.n})
        self.work = Path(args.out).resolve().parent / "dw_staging"
        self.rows: list[dict] = []  # the printed table
        self.results: dict = {}
        self.failed = False
        self.ext = ""

    def row(self, section: str, case: str, seconds: float | None = None, ratio: str = "",
            cpu: str = "", size_mib: float | None = None, note: str = "",
            failed: bool = False) -> None:
        self.rows.append({"section": section, "case": case, "seconds": seconds, "ratio": ratio,
                          "cpu": cpu, "size_mib": size_mib, "note": note, "failed": failed})
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
        cases = speed_cases()
        spec = {"extension": self.ext, "rows": self.n, "runs": self.runs, "keep": self.args.keep,
                "dir": str(self.work / "out"),
                "cases": [{k: c[k] for k in ("slug", "kind", "sql")} | {"verify": c.get("verify")}
                          for c in cases]}
        timeout = 120 + 200 * self.runs * max(1.0, self.n / 5_000_000)
        self.log(f"speed: {self.n:,} rows, {len(cases)} cases x {self.runs} runs "
                 f"(timeout {timeout:.0f} s)")
        res = run_worker("speed", spec, timeout=timeout, log=self.log)
        out: dict = {"rows": self.n, "runs": self.runs}
        if not res.get("ok"):
            self.row("speed", "all cases", note=res["error"][:200], failed=True)
            out["error"] = res["error"]
            self.results["speed"] = out
            return
        out["create_table_s"] = res["create_table_s"]
        out["source"] = res["source"]
        self.row("setup", f"CREATE TABLE tbl AS ... FROM range({self.n:,})", res["create_table_s"],
                 note=f"sum(id) {res['source']['sum_id']:,}")
        by_slug = {r["slug"]: r for r in res["cases"]}
        duckdb_best = {c["slug"].split("_", 1)[1]: by_slug.get(c["slug"], {}).get("best_s")
                       for c in cases if c["kind"] == "parquet_file"}
        for c in cases:
            r = by_slug.get(c["slug"])
            if r is None:
                self.row(c["section"], c["label"], note="not run", failed=True)
                continue
            entry = {"label": c["label"], "section": c["section"], **r}
            if "best_s" not in r:
                self.row(c["section"], c["label"], note=r.get("error", "")[:200], failed=True)
                out[c["slug"]] = entry
                continue
            ratio = ""
            note = f"best of {len(r['times'])}: " + ", ".join(f"{t:.2f}" for t in r["times"])
            if c["codec"] and duckdb_best.get(c["codec"]):
                entry["ratio_to_duckdb"] = r["best_s"] / duckdb_best[c["codec"]]
                ratio = f"{entry['ratio_to_duckdb']:.2f}x"
                if c["section"] == "dw_staging":
                    entry["meets_target"] = entry["ratio_to_duckdb"] <= RATIO_TARGET
                    note += (f"; target <= {RATIO_TARGET}x: "
                             f"{'met' if entry['meets_target'] else 'MISSED'}")
            if c["slug"] == "dw_zstd_meta" and duckdb_best.get("zstdmeta"):
                entry["ratio_to_duckdb_same_columns"] = r["best_s"] / duckdb_best["zstdmeta"]
                note += (f"; vs DuckDB writing the same metadata columns: "
                         f"{entry['ratio_to_duckdb_same_columns']:.2f}x")
            if c["slug"] == "dw_zstd_threads2" and by_slug.get("dw_zstd_threads1", {}).get("best_s"):
                entry["speedup_vs_threads1"] = by_slug["dw_zstd_threads1"]["best_s"] / r["best_s"]
                note += f"; speedup vs THREADS 1: {entry['speedup_vs_threads1']:.2f}x"
            if c.get("verify") and "verified" in r:
                note += (f"; verified: {r['rows']:,} rows, sum(id) {r['sum_id']:,}"
                         if r["verified"] else "")
            if r["other_cores_best"] > BUSY_CORES:
                note += f"; DISTURBED: other processes used {r['other_cores_best']:.1f} cores"
            if "error" in r:
                note += f"; {r['error']}"
            groups = r["thread_cpu_s"]
            cpu = f"{r['cpu_s']:.2f}"
            if c["kind"] == "lake":
                cpu += f" (enc {groups['encoder']:.2f})"
            self.row(c["section"], c["label"], r["best_s"], ratio, cpu, r["bytes"] / 2**20, note,
                     failed="error" in r)
            out[c["slug"]] = entry
        self.results["speed"] = out

    def memory(self) -> None:
        out: dict = {"sizes": self.rss_sizes}
        kinds = [("dw", "table", "dw_staging from a table"),
                 ("dw", "range", "dw_staging from range() (no table)"),
                 ("duckdb", "range", "duckdb parquet zstd from range() (reference)")]
        for writer, source, label in kinds:
            per: dict = {}
            for n in self.rss_sizes:
                name = f"{label}, {n:,} rows"
                spec = {"extension": self.ext, "rows": n, "writer": writer, "source": source,
                        "target": str(self.work / "out" / f"rss_{writer}_{source}_{n}")}
                res = run_worker("rss", spec, timeout=60 + 60 * max(1.0, n / 1_000_000))
                if not res.get("ok"):
                    self.row("memory", name, note=res["error"][:200], failed=True)
                    per[n] = {"error": res["error"]}
                    self.log(f"memory / {name}: FAILED {res['error'][:200]}")
                    continue
                ok = res["rows"] == n
                note = (f"RSS before COPY {res['before_copy']['VmRSS']:.0f} MiB, peak during "
                        f"COPY {res['copy_peak_mib']:.0f} MiB, growth {res['growth_mib']:+.0f} "
                        f"MiB; ru_maxrss {res['after_copy']['ru_maxrss']:.0f} MiB")
                if not res["hwm_reset"]:
                    note += "; (VmHWM not resettable: growth vs the peak before the COPY)"
                if not ok:
                    note += f"; WRONG ROW COUNT {res['rows']}"
                self.row("memory", name, res["seconds"], note=note, failed=not ok)
                per[n] = {k: res[k] for k in ("seconds", "rows", "hwm_reset", "loaded",
                                              "before_copy", "after_reset", "after_copy",
                                              "copy_peak_mib", "growth_mib", "sql")}
                self.log(f"memory / {name}: {res['seconds']:.2f} s, {note}")
            key = f"{writer}_{source}"
            out[key] = per
            small, big = (per.get(s, {}) for s in (self.rss_sizes[0], self.rss_sizes[-1]))
            if len(self.rss_sizes) == 2 and "growth_mib" in small and "growth_mib" in big:
                diff = big["growth_mib"] - small["growth_mib"]
                flat = diff <= RSS_GROWTH_LIMIT_MIB
                out[f"{key}_growth_diff_mib"] = diff
                out[f"{key}_flat"] = flat
                self.row("memory", f"{label}: COPY growth {self.rss_sizes[1]:,} vs "
                                   f"{self.rss_sizes[0]:,} rows",
                         note=f"{diff:+.0f} MiB (limit {RSS_GROWTH_LIMIT_MIB:.0f}): "
                              f"{'flat' if flat else 'GROWS WITH ROWS'}",
                         failed=writer == "dw" and not flat)
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
              f"ratio = dw_staging / DuckDB single-file parquet, same codec; "
              f"cpu = process CPU s of the best run (enc = etl-parquet encoder threads)")
        headers = ["section", "case", "seconds", "ratio", "cpu s", "MiB", "note"]
        table = []
        for r in self.rows:
            table.append([r["section"], r["case"],
                          "-" if r["seconds"] is None else f"{r['seconds']:.3f}",
                          r["ratio"] or "-", r["cpu"] or "-",
                          "-" if r["size_mib"] is None else f"{r['size_mib']:.1f}",
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
        self.results["columns"] = COLUMNS
        started = time.monotonic()
        try:
            self.snapshot_extension()
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
                        help="rows of the benchmark table (default 5,000,000; memory cases use "
                             "rows/5 and rows)")
    parser.add_argument("--runs", type=int, default=None, help="runs per speed case (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 200,000 rows, 1 run per case (unless --rows/--runs)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="JSON results file")
    parser.add_argument("--extension", default=str(DEFAULT_EXTENSION),
                        help="etl.duckdb_extension to load")
    parser.add_argument("--keep", action="store_true", help="keep the written Parquet outputs")
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
    except RuntimeError as exc:
        print(f"benchmark setup failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
