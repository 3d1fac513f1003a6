#!/usr/bin/env python3
"""Runs a command with the mock REST server up: starts scripts/mock_rest_server.py on an
ephemeral 127.0.0.1 port, exports its URL as ETL_API_URL and ETL_MOCK_URL, runs the command
(its stdin is passed through), stops the server, and exits with the command's status.

    with_mock_server.py [--records N] -- command args...

`MockServerProcess` is the same thing for Python callers (the SQL test runner).
"""

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "mock_rest_server.py"


class MockServerProcess:
    """The mock REST server as a subprocess, bounded in time (--max-lifetime)."""

    def __init__(self, records: int = 200000, lifetime: int = 1800):
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--port", "0", "--records", str(records), "--max-lifetime", str(lifetime)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline and not line.startswith("LISTENING "):
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                break
        if not line.startswith("LISTENING "):
            self.stop()
            raise RuntimeError(f"the mock server did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line.split(" ", 1)[1].strip()

    def reset(self):
        req = urllib.request.Request(self.url + "/_reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200000)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --")
    try:
        server = MockServerProcess(records=args.records)
    except RuntimeError as e:
        print(f"with_mock_server: {e}", file=sys.stderr)
        return 1
    with server:
        env = {**os.environ, "ETL_API_URL": server.url, "ETL_MOCK_URL": server.url}
        return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
