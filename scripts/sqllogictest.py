#!/usr/bin/env python3
"""A small, strict sqllogictest runner for the etl extension.

Runs test/sql/**/*.test files against the pinned PyPI `duckdb` with the built extension. Each
file gets a fresh in-memory database (unsigned extensions allowed) and its own __TEST_DIR__.

Supported records (the subset of DuckDB's format our tests use):

    # name: / # description: / # group:   comments (any line starting with #)
    require etl                   load the extension under test (before it, etl is absent)
    require <extension>           LOAD a DuckDB extension; skip the file if it is not available
    require-env VAR [VALUE]       skip the file unless VAR is set (and equals VALUE);
                                  ${VAR} in later SQL is replaced by its value
    statement ok                  the SQL must succeed
    statement error               the SQL must fail; the lines after ---- are a substring the
                                  error message must contain (mandatory: errors are part of
                                  the product, so every expected error names its message)
    query <types> [nosort|rowsort|valuesort]
                                  the SQL's rows must equal the lines after ----, values
                                  separated by tabs; NULL for NULL, (empty) for ''
    mode skip / mode unskip       skip the records between them

Strictness, unlike the upstream runner: no error is ever ignored (the upstream runner silently
skips errors mentioning HTTP), a `statement error` must name its message, the number of result
columns must match the declared types, and an unknown record type fails the file.

With --mock-server, the runner starts scripts/mock_rest_server.py on 127.0.0.1 (an ephemeral
port), exports its base URL as ETL_MOCK_URL (tests say `require-env ETL_MOCK_URL` and use
`${ETL_MOCK_URL}/offset/users`), resets its state before each file and stops it at the end.

Prints one line per file and ends with `sqllogictest: N passed, N failed, N skipped`; exits 1
on any failure.
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import os
import re
import shutil
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import duckdb


class SkipFile(Exception):
    pass


class TestFailure(Exception):
    pass


@dataclass
class Record:
    kind: str  # statement_ok, statement_error, query, require, require_env, mode
    line: int
    args: list[str] = field(default_factory=list)
    sql: str = ""
    expected: list[str] = field(default_factory=list)


def parse(path: Path) -> list[Record]:
    lines = path.read_text(encoding="utf-8").split("\n")
    records: list[Record] = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i + 1
        words = stripped.split()
        head = words[0]
        if head == "require":
            records.append(Record("require", start, words[1:]))
            i += 1
            continue
        if head == "require-env":
            records.append(Record("require_env", start, words[1:]))
            i += 1
            continue
        if head == "mode":
            records.append(Record("mode", start, words[1:]))
            i += 1
            continue
        if head in ("statement", "query"):
            if head == "statement":
                if len(words) != 2 or words[1] not in ("ok", "error"):
                    raise TestFailure(f"line {start}: expected 'statement ok' or 'statement error', got '{stripped}'")
                kind = "statement_" + words[1]
            else:
                if len(words) < 2:
                    raise TestFailure(f"line {start}: 'query' needs column types, e.g. 'query IT'")
                kind = "query"
            i += 1
            sql_lines = []
            while i < len(lines) and lines[i].strip() and lines[i].strip() != "----":
                sql_lines.append(lines[i])
                i += 1
            expected = []
            if i < len(lines) and lines[i].strip() == "----":
                i += 1
                while i < len(lines) and lines[i].strip():
                    expected.append(lines[i])
                    i += 1
            if not sql_lines:
                raise TestFailure(f"line {start}: {head} record has no SQL")
            records.append(Record(kind, start, words[1:], "\n".join(sql_lines), expected))
            continue
        raise TestFailure(f"line {start}: unknown record type '{head}'")
    return records


def render(value) -> str:
    """A value as DuckDB's shell prints it, for the common types."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value != "" else "(empty)"
    if isinstance(value, (datetime.datetime, datetime.time)):
        text = value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
        # DuckDB drops trailing zeros of fractional seconds: 10:00:00.5, not 10:00:00.500000
        head, dot, rest = text.partition(".")
        if dot:
            digits = "".join(c for c in rest if c.isdigit())
            tail = rest[len(digits):]
            digits = digits.rstrip("0")
            text = head + ("." + digits if digits else "") + tail
        return text
    return str(value)


def sort_rows(rows: list[list[str]], mode: str) -> list[list[str]]:
    if mode == "rowsort":
        return sorted(rows)
    if mode == "valuesort":
        values = sorted(v for row in rows for v in row)
        return [[v] for v in values]
    return rows


class FileRunner:
    def __init__(self, path: Path, extension: Path, root: Path):
        self.path = path
        self.extension = extension
        self.root = root
        self.env: dict[str, str] = {}
        self.test_dir = Path(tempfile.mkdtemp(prefix=f"etl_{path.stem}_"))
        self.con = duckdb.connect(":memory:", config={"allow_unsigned_extensions": "true"})
        self.records_run = 0

    def close(self):
        try:
            self.con.close()
        finally:
            shutil.rmtree(self.test_dir, ignore_errors=True)

    def substitute(self, sql: str) -> str:
        sql = sql.replace("__TEST_DIR__", str(self.test_dir))
        sql = sql.replace("__WORKING_DIRECTORY__", str(self.root))
        sql = sql.replace("__ETL_EXTENSION__", str(self.extension))

        def env(match):
            name = match.group(1)
            if name not in self.env:
                raise TestFailure(f"${{{name}}} used without 'require-env {name}'")
            return self.env[name]

        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", env, sql)

    def run(self) -> int:
        records = parse(self.path)
        skipping = False
        for rec in records:
            where = f"{self.path}:{rec.line}"
            if rec.kind == "mode":
                if rec.args == ["skip"]:
                    skipping = True
                elif rec.args == ["unskip"]:
                    skipping = False
                else:
                    raise TestFailure(f"{where}: unknown mode {' '.join(rec.args)}")
                continue
            if skipping:
                continue
            if rec.kind == "require":
                self.require(rec, where)
            elif rec.kind == "require_env":
                name = rec.args[0] if rec.args else ""
                value = os.environ.get(name)
                if value is None:
                    raise SkipFile(f"require-env {name}: not set")
                if len(rec.args) > 1 and value != rec.args[1]:
                    raise SkipFile(f"require-env {name}: is not {rec.args[1]}")
                self.env[name] = value
            elif rec.kind == "statement_ok":
                self.statement_ok(rec, where)
            elif rec.kind == "statement_error":
                self.statement_error(rec, where)
            elif rec.kind == "query":
                self.query(rec, where)
            self.records_run += 1
        return self.records_run

    def require(self, rec: Record, where: str):
        name = rec.args[0] if rec.args else ""
        if name == "etl":
            try:
                self.con.execute(f"LOAD '{self.extension}'")
            except duckdb.Error as e:
                raise TestFailure(f"{where}: loading the extension failed: {e}")
            return
        try:
            self.con.execute(f"LOAD {name}")
        except duckdb.Error as e:
            raise SkipFile(f"require {name}: {e}")

    def statement_ok(self, rec: Record, where: str):
        sql = self.substitute(rec.sql)
        try:
            self.con.execute(sql)
        except duckdb.Error as e:
            raise TestFailure(f"{where}: statement should succeed but failed\n  SQL: {sql}\n  error: {e}")
        if rec.expected:
            raise TestFailure(f"{where}: 'statement ok' takes no ---- section")

    def statement_error(self, rec: Record, where: str):
        sql = self.substitute(rec.sql)
        if not rec.expected:
            raise TestFailure(f"{where}: 'statement error' must give the expected message after ----")
        expected = self.substitute("\n".join(rec.expected)).strip()
        try:
            self.con.execute(sql)
            # Some errors surface only when results are fetched.
            self.con.fetchall()
        except duckdb.Error as e:
            message = str(e)
            if expected not in message:
                raise TestFailure(
                    f"{where}: statement failed with an unexpected message\n  SQL: {sql}\n"
                    f"  expected to contain: {expected}\n  actual: {message}"
                )
            return
        raise TestFailure(f"{where}: statement should fail but succeeded\n  SQL: {sql}")

    def fetch_as_text(self, sql: str):
        """Rows rendered by DuckDB itself (CAST to VARCHAR), so expected values read exactly as
        the duckdb shell prints them, whatever the type (TIMESTAMPTZ, STRUCT, LIST, ...)."""
        rel = self.con.sql(sql)
        if rel is None:
            return [], 0
        ncols = len(rel.columns)
        if ncols == 0:
            return [], 0
        texts = ", ".join(f"CAST(#{i + 1} AS VARCHAR)" for i in range(ncols))
        return rel.project(texts).fetchall(), ncols

    def query(self, rec: Record, where: str):
        sql = self.substitute(rec.sql)
        types = rec.args[0]
        mode = rec.args[1] if len(rec.args) > 1 else "nosort"
        if mode not in ("nosort", "rowsort", "valuesort"):
            raise TestFailure(f"{where}: unknown sort mode {mode}")
        try:
            rows, ncols = self.fetch_as_text(sql)
        except duckdb.Error as e:
            raise TestFailure(f"{where}: query failed\n  SQL: {sql}\n  error: {e}")
        if ncols != len(types):
            raise TestFailure(
                f"{where}: query returned {ncols} columns but the record declares {len(types)} ({types})\n  SQL: {sql}"
            )
        actual = sort_rows([[render(v) for v in row] for row in rows], mode)
        expected_rows = [line.split("\t") for line in (self.substitute(l) for l in rec.expected)]
        if mode == "valuesort":
            expected_rows = sort_rows(expected_rows, mode)
        elif mode == "rowsort":
            expected_rows = sorted(expected_rows)
        for n, row in enumerate(expected_rows):
            if mode != "valuesort" and len(row) != ncols:
                raise TestFailure(
                    f"{where}: expected row {n + 1} has {len(row)} tab-separated values, the query has {ncols} columns: {row!r}"
                )
        if actual != expected_rows:
            exp_text = ["\t".join(r) for r in expected_rows]
            act_text = ["\t".join(r) for r in actual]
            diff = "\n".join(
                difflib.unified_diff(exp_text, act_text, "expected", "actual", lineterm="", n=3)
            )
            raise TestFailure(f"{where}: wrong result\n  SQL: {sql}\n{diff}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--extension", required=True, type=Path)
    parser.add_argument("--mock-server", action="store_true", help="start the mock REST server")
    parser.add_argument("paths", nargs="+", type=Path, help="test files or folders")
    args = parser.parse_args()

    extension = args.extension.resolve()
    if not extension.is_file():
        print(f"sqllogictest: extension {extension} does not exist (run make release)", file=sys.stderr)
        return 2
    files: list[Path] = []
    for p in args.paths:
        files.extend(sorted(p.rglob("*.test")) if p.is_dir() else [p])
    if not files:
        print("sqllogictest: no .test files found", file=sys.stderr)
        return 2

    root = Path.cwd()
    passed = failed = skipped = records = 0
    print(f"sqllogictest: duckdb {duckdb.__version__}, extension {extension}")
    server = None
    if args.mock_server:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from with_mock_server import MockServerProcess

        server = MockServerProcess()
        os.environ["ETL_MOCK_URL"] = server.url
        print(f"sqllogictest: mock REST server at {server.url}")
    try:
        return run_files(files, extension, root, server)
    finally:
        if server is not None:
            server.stop()


def run_files(files, extension, root, server) -> int:
    passed = failed = skipped = records = 0
    for path in files:
        runner = None
        try:
            if server is not None:
                server.reset()
            runner = FileRunner(path, extension, root)
            n = runner.run()
            records += n
            passed += 1
            print(f"PASS {path} ({n} records)")
        except SkipFile as e:
            skipped += 1
            print(f"SKIP {path}: {e}")
        except TestFailure as e:
            failed += 1
            print(f"FAIL {path}\n  {e}")
        except Exception:  # a bug in the runner or an unexpected host error: never swallow it
            failed += 1
            print(f"FAIL {path}: runner error\n{traceback.format_exc()}")
        finally:
            if runner is not None:
                runner.close()
    print(f"{records} records run")
    print(f"sqllogictest: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
