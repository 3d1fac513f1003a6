"""Shared plumbing of the benchmark scripts (bench_dw_staging.py, bench_contracts.py): worker
processes with timeouts (killed with their process group), RESULT/PROGRESS lines, machine and
version facts, /proc memory and CPU readings."""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

def sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect_with_extension(extension: str):
    import duckdb
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute("SET enable_progress_bar = false")
    con.execute(f"LOAD {sql_str(extension)}")
    return con


def emit(result: dict) -> None:
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


def progress(text: str) -> None:
    sys.stdout.write("PROGRESS " + text + "\n")
    sys.stdout.flush()


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def proc_status() -> dict:
    """VmRSS / VmHWM of this process, MiB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024.0  # kB
    out["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB
    return out


def system_busy_s() -> float:
    """CPU seconds all processes on this machine have used since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def worker_info(spec: dict) -> dict:
    import duckdb
    con = connect_with_extension(spec["extension"])
    return {"duckdb_python": duckdb.__version__,
            "duckdb_engine": con.execute("SELECT version()").fetchone()[0],
            "duckdb_threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
            "etl": con.execute("SELECT etl_version()").fetchone()[0],
            "python": platform.python_version()}


def tail(text: str, lines: int = 5) -> str:
    return " | ".join((text or "").strip().splitlines()[-lines:])


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def run_worker(script: Path, kind: str, spec: dict, timeout: float, log=None) -> dict:
    """Run `script --worker KIND --spec JSON` in its own process group (killed when it overruns `timeout`); PROGRESS lines
    are passed to `log` as they arrive."""
    cmd = [sys.executable, str(Path(script).resolve()), "--worker", kind, "--spec",
           json.dumps(spec)]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=str(REPO))
    lines: list[str] = []
    errs: list[str] = []

    def read_out() -> None:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("PROGRESS ") and log:
                log(f"{kind}: {line[len('PROGRESS '):]}")
            lines.append(line)

    readers = [threading.Thread(target=read_out, daemon=True),
               threading.Thread(target=lambda: errs.extend(proc.stderr), daemon=True)]
    for r in readers:
        r.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        return {"ok": False, "error": f"timeout after {timeout:.0f} s (killed)",
                "wall": time.monotonic() - t0}
    except BaseException:
        kill_group(proc)
        raise
    finally:
        for r in readers:
            r.join(timeout=10)
    result = None
    for line in reversed(lines):
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            break
    if result is None:
        result = {"ok": False, "error": f"worker exit {proc.returncode} without a result: "
                                        f"{tail(''.join(errs))}"}
    result["wall"] = time.monotonic() - t0
    return result


def run_worker_main(workers: dict, kind: str, spec_json: str) -> int:
    try:
        emit({"ok": True, **workers[kind](json.loads(spec_json))})
        return 0
    except Exception as exc:  # reported to the parent as a failed case
        emit({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:2000]})
        return 1


def machine_info() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gib = None
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_count": os.cpu_count(), "cpu_model": model,
            "mem_gib": round(mem_gib, 1) if mem_gib else None, "kernel": platform.release(),
            "loadavg_start": list(os.getloadavg())}
