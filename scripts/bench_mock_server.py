#!/usr/bin/env python3
"""Measure the ceiling of scripts/mock_rest_server.py, so REST benchmarks know it is not the bottleneck.

Starts the server as a subprocess (--records 200000) and fetches, with stdlib http.client over
keep-alive connections (one per worker thread):
  * all 200 pages of /offset/users?limit=1000 (200,000 records): the cold first pass (records
    rendered on demand), then warm passes (page bodies cached) over 1, 4 and 8 connections;
  * 2000 pages of /offset/users?limit=100&latency_ms=20 over 8 and 16 connections (the ideal
    time is 2000 * 20 ms / connections).
The client checks status 200 and counts records in every body. Prints a table and exits 0; the
whole run is bounded (about a minute; hard deadline 150 s) and the server is always stopped.

    python scripts/bench_mock_server.py [--records 200000]
"""

from __future__ import annotations

import argparse
import http.client
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

SERVER = Path(__file__).resolve().parent / "mock_rest_server.py"
DEADLINE_S = 150


def fetch_all(host: str, port: int, paths: list[str], connections: int) -> tuple[float, int, int]:
    """Fetch every path over `connections` keep-alive connections; returns (seconds, bytes, records)."""
    lock = threading.Lock()
    state = {"next": 0, "bytes": 0, "records": 0}
    errors: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        nbytes = nrecords = 0
        try:
            while True:
                with lock:
                    i = state["next"]
                    state["next"] = i + 1
                if i >= len(paths) or errors:
                    break
                conn.request("GET", paths[i])
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    errors.append(f"{paths[i]} -> {resp.status}")
                    break
                nbytes += len(body)
                nrecords += body.count(b'{"id":')
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()
            with lock:
                state["bytes"] += nbytes
                state["records"] += nrecords

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=DEADLINE_S)
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError("; ".join(errors[:3]))
    return elapsed, state["bytes"], state["records"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    n = args.records

    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--records", str(n), "--max-lifetime", str(DEADLINE_S + 30)],
        stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"server did not start: {line!r}")
        url = urlsplit(line.split(" ", 1)[1])
        host, port = url.hostname, url.port
        print(f"mock server {line.split(' ', 1)[1]}, {n} records; cores: "
              f"{len(__import__('os').sched_getaffinity(0))}; client: http.client threads\n")

        big = [f"/offset/users?offset={o}&limit=1000" for o in range(0, n, 1000)]
        slow = [f"/offset/users?offset={(i * 100) % n}&limit=100&latency_ms=20" for i in range(2000)]
        runs = [
            ("cold (1st pass)", big, 1),
            ("warm", big, 1),
            ("warm", big, 4),
            ("warm", big, 8),
            ("latency 20ms", slow, 8),
            ("latency 20ms", slow, 16),
        ]
        header = (f"{'pass':<16} {'conns':>5} {'pages':>6} {'seconds':>8} {'MB/s':>8} "
                  f"{'records/s':>10} {'pages/s':>8}")
        print(header)
        print("-" * len(header))
        for name, paths, conns in runs:
            seconds, nbytes, nrecords = fetch_all(host, port, paths, conns)
            expected = sum(min(int(p.split("limit=")[1].split("&")[0]),
                               n - int(p.split("offset=")[1].split("&")[0])) for p in paths)
            if nrecords != expected:
                raise RuntimeError(f"{name}: got {nrecords} records, expected {expected}")
            extra = ""
            if paths is big and conns == 1 and name.startswith("cold"):
                big_mb = nbytes / 1e6
            if "latency" in name:
                extra = f"  (ideal {len(paths) * 0.020 / conns:.2f} s)"
            print(f"{name:<16} {conns:>5} {len(paths):>6} {seconds:>8.3f} "
                  f"{nbytes / 1e6 / seconds:>8.1f} {nrecords / seconds:>10,.0f} "
                  f"{len(paths) / seconds:>8,.0f}{extra}", flush=True)
        print(f"\nbody bytes per full pass of {len(big)} pages: {big_mb:.1f} MB "
              f"({big_mb * 1e6 / n:.0f} bytes/record incl. envelope)")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
