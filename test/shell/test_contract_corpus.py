"""One corpus of contracts x datasets, run through all three contract surfaces: the same data
must give the same verdicts through `contract_check`, `contract_violations` and
`COPY ... (FORMAT dw_staging, CONTRACT ..., ON_VIOLATION ...)`.

The contracts live in test/data/contracts/corpus/. Each is restated here, independently of the
extension's parser and engine, as a small Python reference model (CONTRACTS): the expected
verdicts and row violations are computed from it in plain Python, so a rule the engine gets
wrong (NULL counted as a range violation, NaN let through, bytes counted instead of characters,
...) shows up as a disagreement with the reference, not only as a disagreement between surfaces.

Semantics asserted (docs/contracts.md): a NULL is never a range, length, pattern or
accepted-values violation, only a required/nullValues one (and a missingValues one when NULL is
a listed marker); NULLs never duplicate each other; NaN is outside every range; an empty string
is a value like any other; lengths count characters; duplicates are the rows beyond the first
occurrence of a key, counted across all threads.

dw_staging (the audit's `contract`, `quarantined_rows`, `quarantine_file`, `checks`; the
quarantine folder `<lake>/_etl/quarantine/<protocol>/<source>/load_date=*/`):
- warn: everything published; the audit carries the same verdicts as contract_check;
- block: the COPY fails iff some check has status 'fail', naming the failing checks, and
  nothing is published; the failure record carries every verdict;
- quarantine: rows violating an error-severity row-level check, plus rows beyond the first
  occurrence of an error-severity duplicate key, go to the quarantine; the rest are published.
  A failing check about the whole load (row count) cannot be pinned to rows and blocks.
Warning-severity checks never block nor quarantine.
"""

import glob
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import duckdb
import pytest

from conftest import ROOT

CORPUS = ROOT / "test" / "data" / "contracts" / "corpus"
SOURCE = "src"
ROW_LEVEL_KINDS = {
    "null_values", "missing_values", "minimum", "maximum", "min_length", "max_length",
    "pattern", "valid_values",
}

# ---------------------------------------------------------------------------------------------
# The reference model: each corpus contract restated as plain Python predicates.
# ---------------------------------------------------------------------------------------------


def is_nan(v):
    return isinstance(v, float) and math.isnan(v)


def is_null(v):
    return v is None


def below(bound, exclusive=False):
    """minimum / ge / gt: NULL never fails, NaN always does."""
    return lambda v: v is not None and (is_nan(v) or (v <= bound if exclusive else v < bound))


def above(bound, exclusive=False):
    """maximum / le / lt: NULL never fails, NaN always does."""
    return lambda v: v is not None and (is_nan(v) or (v >= bound if exclusive else v > bound))


def shorter_than(n):
    """minLength, in characters (code points), not bytes."""
    return lambda v: v is not None and len(v) < n


def longer_than(n):
    return lambda v: v is not None and len(v) > n


def not_letters_only(v):
    """pattern '^\\p{L}+$' (Python's str.isalpha is the Unicode L* categories)."""
    return v is not None and not (len(v) > 0 and all(ch.isalpha() for ch in v))


def not_matching(pattern):
    rx = re.compile(pattern)  # \d is Unicode-aware here as in Rust's regex
    return lambda v: v is not None and rx.search(v) is None


def not_in(values):
    return lambda v: v is not None and v not in values


def among(markers):
    """missingValues: the markers may include NULL."""
    return lambda v: any((v is None and m is None) or (v is not None and v == m) for m in markers)


def none_fail(failed, total):
    return failed == 0


def percent_below(limit):
    return lambda failed, total: (failed * 100 / total if total else 0.0) < limit


def percent_at_most(limit):
    return lambda failed, total: (failed * 100 / total if total else 0.0) <= limit


@dataclass(frozen=True)
class Ref:
    id: str
    kind: str
    column: str | None
    fails: Callable | None = None  # row-level: column value -> violates?
    key: tuple = ()  # duplicate_values: the key columns
    severity: str = "error"
    ok: Callable = none_fail  # (failed rows, total rows) -> passes?
    bound: bool = True  # False: the check reads a column the data lacks


@dataclass(frozen=True)
class RefContract:
    file: str
    checks: list
    schema: list = field(default_factory=list)  # (check id, column) of failing schema checks

    @property
    def path(self):
        return str(CORPUS / self.file)

    def by_id(self, check_id):
        return next(c for c in self.checks if c.id == check_id)


CONTRACTS = {
    "people_odcs": RefContract("people_odcs.yaml", [
        Ref("id.null_values", "null_values", "id", is_null),
        Ref("id.duplicate_values", "duplicate_values", "id", key=("id",)),
        Ref("name.min_length", "min_length", "name", shorter_than(2)),
        Ref("name.max_length", "max_length", "name", longer_than(5)),
        Ref("name.pattern", "pattern", "name", not_letters_only),
        Ref("code.nullValues", "null_values", "code", is_null),
        Ref("code.invalidValues", "pattern", "code", not_matching(r"^[A-Z]{2}-\d+$")),
        Ref("score.minimum", "minimum", "score", below(0)),
        Ref("score.maximum", "maximum", "score", above(100, exclusive=True)),
        Ref("age.minimum", "minimum", "age", below(0, exclusive=True)),
        Ref("age.maximum", "maximum", "age", above(150)),
        Ref("country.invalidValues", "valid_values", "country", not_in({"NO", "SE", "DK", "ÅL"}),
            ok=percent_below(25)),
        Ref("note.missingValues", "missing_values", "note", among([None, ""]), severity="warning"),
        Ref("rowCount", "row_count", None, ok=lambda failed, total: total > 0),
        Ref("duplicateValues", "duplicate_values", None, key=("name", "country"), severity="warning"),
    ]),
    "people_simple": RefContract("people_simple.yaml", [
        Ref("id.null_values", "null_values", "id", is_null),
        Ref("id.duplicate_values", "duplicate_values", "id", key=("id",)),
        Ref("name.pattern", "pattern", "name", not_letters_only),
        Ref("code.null_values", "null_values", "code", is_null),
        Ref("code.pattern", "pattern", "code", not_matching(r"^[A-Z]{2}-\d+$")),
        Ref("score.minimum", "minimum", "score", below(0)),
        Ref("score.maximum", "maximum", "score", above(100, exclusive=True)),
        Ref("age.minimum", "minimum", "age", below(0, exclusive=True)),
        Ref("age.maximum", "maximum", "age", above(150)),
        Ref("country.valid_values", "valid_values", "country", not_in({"NO", "SE", "DK", "ÅL"})),
    ]),
    "labels_odcs": RefContract("labels_odcs.yaml", [
        Ref("id.null_values", "null_values", "id", is_null),
        Ref("id.duplicate_values", "duplicate_values", "id", key=("id",)),
        Ref("name.min_length", "min_length", "name", shorter_than(1)),
        Ref("name.max_length", "max_length", "name", longer_than(3)),
        Ref("code_present", "missing_values", "code", among([None, "", "N/A"])),
        Ref("score.minimum", "minimum", "score", below(0, exclusive=True)),
        Ref("score.maximum", "maximum", "score", above(1000, exclusive=True)),
        Ref("age.nullValues", "null_values", "age", is_null, severity="warning"),
        Ref("country.invalidValues", "pattern", "country", not_matching("^[A-ZÅÄÖ]{2}$")),
        Ref("note.missingValues", "missing_values", "note", among([None, ""]), ok=percent_at_most(20)),
        Ref("name_country_unique", "duplicate_values", None, key=("name", "country")),
        Ref("rowCount", "row_count", None, ok=lambda failed, total: total >= 1),
    ]),
    "strict_mismatch_simple": RefContract("strict_mismatch_simple.yaml", [
        Ref("id.duplicate_values", "duplicate_values", "id", key=("id",)),
        Ref("id.valid_values", "valid_values", "id", not_in({1, 2, 3, 4, 5})),
        Ref("score.minimum", "minimum", "score", below(0)),
        Ref("ghost.null_values", "null_values", "ghost", is_null, bound=False),
    ], schema=[
        ("score.type", "score"), ("ghost.present", "ghost"),
        # strict: the corpus tables' undeclared columns, in table order
        ("rid.extra", "rid"), ("name.extra", "name"), ("code.extra", "code"),
        ("age.extra", "age"), ("country.extra", "country"), ("note.extra", "note"),
    ]),
}

def status_for(ref, failed, total):
    if ref.bound and ref.ok(failed, total):
        return "pass"
    return "fail" if ref.severity == "error" else "warn"


def duplicate_rids(rows, key):
    """Rows (by rid, input order) beyond the first occurrence of their key; NULL never
    duplicates."""
    seen, out = set(), []
    for r in rows:
        k = tuple(r[c] for c in key)
        if any(v is None for v in k):
            continue
        if k in seen:
            out.append(r["rid"])
        else:
            seen.add(k)
    return out


def reference_violations(contract, row):
    return [c.id for c in contract.checks if c.fails is not None and c.bound and c.fails(row[c.column])]


def reference_verdicts(contract, rows):
    """(check_id, kind, column, severity, status, failed_rows, total_rows): schema checks first,
    then every check in contract order."""
    total = len(rows)
    out = [(cid, "schema", col, "error", "fail", 0, 0) for cid, col in contract.schema]
    for c in contract.checks:
        if not c.bound:
            failed = 0
        elif c.kind == "row_count":
            failed = 0
        elif c.kind == "duplicate_values":
            failed = len(duplicate_rids(rows, c.key))
        else:
            failed = sum(1 for r in rows if c.fails(r[c.column]))
        out.append((c.id, c.kind, c.column, c.severity, status_for(c, failed, total), failed, total))
    return out


# ---------------------------------------------------------------------------------------------
# The datasets: every corpus table has the same columns; `rid` identifies a row across surfaces
# and is not in the (non-strict) contracts.
# ---------------------------------------------------------------------------------------------

COLUMNS = "rid INTEGER, id BIGINT, name VARCHAR, code VARCHAR, score DOUBLE, age INTEGER, country VARCHAR, note VARCHAR"

DATASETS = {
    # Passes every rule of the non-strict contracts.
    "all_valid": """
        (1, 1, 'Åse', 'NO-1', 0.5, 1, 'NO', 'hi'),
        (2, 2, 'Zoë', 'SE-22', 99.5, 150, 'SE', 'x'),
        (3, 3, '李小龍', 'DK-3', 50.0, 40, 'DK', 'ok'),
        (4, 4, 'Bo', 'AB-0', 1e-9, 18, 'ÅL', 'n')""",
    # One NULL per column, an all-NULL row, NULL ids and NULL tuple parts twice.
    "nulls": """
        (1, NULL, 'Aa', 'NO-1', 1.0, 1, 'NO', 'x'),
        (2, 2, NULL, 'NO-2', 1.0, 1, 'NO', 'x'),
        (3, 3, 'Ab', NULL, 1.0, 1, 'NO', 'x'),
        (4, 4, 'Ac', 'NO-4', NULL, 1, 'NO', 'x'),
        (5, 5, 'Ad', 'NO-5', 1.0, NULL, 'NO', 'x'),
        (6, 6, 'Ae', 'NO-6', 1.0, 1, NULL, 'x'),
        (7, 7, 'Af', 'NO-7', 1.0, 1, 'NO', NULL),
        (8, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (9, NULL, 'Ag', 'NO-9', 2.0, 2, 'SE', 'y'),
        (10, 10, NULL, 'NO-10', 1.0, 1, 'NO', 'x')""",
    # NaN, ±inf, signed zero, subnormals and the bounds themselves.
    "nan_inf": """
        (1, 1, 'Aa', 'NO-1', 'NaN', 1, 'NO', 'x'),
        (2, 2, 'Ab', 'NO-2', 'inf', 1, 'NO', 'x'),
        (3, 3, 'Ac', 'NO-3', '-inf', 1, 'NO', 'x'),
        (4, 4, 'Ad', 'NO-4', 0.0, 1, 'NO', 'x'),
        (5, 5, 'Ae', 'NO-5', '-0.0', 1, 'NO', 'x'),
        (6, 6, 'Af', 'NO-6', 100.0, 150, 'NO', 'x'),
        (7, 7, 'Ag', 'NO-7', 99.99999999999999, 151, 'NO', 'x'),
        (8, 8, 'Ah', 'NO-8', -1e-300, 0, 'NO', 'x'),
        (9, 9, 'Ai', 'NO-9', 999.9999, -2147483648, 'NO', 'x'),
        (10, 10, 'Aj', 'NO-10', 1000.0, 2147483647, 'NO', 'x'),
        (11, 11, 'Ak', 'NO-11', 1e-320, 1, 'NO', 'x')""",
    # Empty strings (and a blank, and 'N/A') in every text column; ('', '') twice.
    "empty_strings": """
        (1, 1, '', 'NO-1', 1.0, 1, 'NO', 'x'),
        (2, 2, 'Bo', '', 1.0, 1, 'NO', 'x'),
        (3, 3, 'Li', 'NO-3', 1.0, 1, '', 'x'),
        (4, 4, 'Ab', 'NO-4', 1.0, 1, 'SE', ''),
        (5, 5, ' ', ' ', 1.0, 1, ' ', ' '),
        (6, 6, 'Cd', 'N/A', 1.0, 1, 'DK', 'N/A'),
        (7, 7, '', '', 1.0, 1, '', ''),
        (8, 8, '', 'NO-8', 1.0, 1, '', 'y')""",
    # Multi-byte letters of several scripts (lengths in characters), non-letters, non-ASCII
    # digits, case-sensitive accepted values.
    "unicode": """
        (1, 1, 'Åse', 'NO-1', 1.0, 1, 'ÅL', '∅'),
        (2, 2, 'Jürgen', 'NO-2', 1.0, 1, 'Ål', 'x'),
        (3, 3, '李小龍', 'AB-١٢', 1.0, 1, 'ÖÄ', 'x'),
        (4, 4, '😀', 'ÅB-1', 1.0, 1, 'NO', 'x'),
        (5, 5, 'éé', 'NO-5', 1.0, 1, 'SE', 'x'),
        (6, 6, 'ééééé', 'NO-6', 1.0, 1, 'DK', 'x'),
        (7, 7, 'Ñandú', 'NO-7', 1.0, 1, 'NO', 'x'),
        (8, 8, 'Ñandúes', 'NO-8', 1.0, 1, 'SE', 'x'),
        (9, 9, 'x', 'NO-9', 1.0, 1, 'DK', 'x'),
        (10, 10, 'Straße', 'NO-10', 1.0, 1, 'NO', 'x'),
        (11, 11, 'ΑΒΓ', 'NO-11', 1.0, 1, 'SE', 'x'),
        (12, 12, 'a1', 'NO-12', 1.0, 1, 'DK', 'x'),
        (13, 13, 'ǅe', 'NO-13', 1.0, 1, 'NO', 'x'),
        (14, 14, '𝒜𝒷', 'NO-14', 1.0, 1, 'ÅL', 'x'),
        (15, 15, 'Ab', 'NO-15', 1.0, 1, 'ÅL', 'x')""",
    # Duplicate ids (one first occurrence also violates a range), duplicate tuples, NULL keys.
    "duplicates": """
        (1, 1, 'Bo', 'NO-1', 1.0, 1, 'NO', 'x'),
        (2, 1, 'Bo', 'NO-2', 1.0, 1, 'NO', 'x'),
        (3, 1, 'Bo', 'NO-3', 1.0, 1, 'NO', 'x'),
        (4, 2, 'Li', 'NO-4', -1.0, 1, 'SE', 'x'),
        (5, 2, 'Li', 'NO-5', 1.0, 1, 'DK', 'x'),
        (6, 3, 'Bo', 'NO-6', 1.0, 1, 'SE', 'x'),
        (7, NULL, 'Ab', 'NO-7', 1.0, 1, 'NO', 'x'),
        (8, NULL, 'Ab', 'NO-8', 1.0, 1, 'NO', 'x'),
        (9, 4, NULL, 'NO-9', 1.0, 1, 'NO', 'x'),
        (10, 5, NULL, 'NO-10', 1.0, 1, 'NO', 'x')""",
}

# 5000 rows mixing every case, across DuckDB vector boundaries (2048 rows).
GENERATED = f"""
CREATE TABLE generated ({COLUMNS});
INSERT INTO generated SELECT
  i,
  CASE WHEN i % 97 = 0 THEN NULL WHEN i % 17 = 0 THEN i - 17 ELSE i END,
  CASE i % 13 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN 'Åse' WHEN 3 THEN '李小龍' WHEN 4 THEN '😀'
              WHEN 5 THEN 'ééééé' WHEN 6 THEN 'Ñandúes' WHEN 7 THEN 'a1' ELSE 'Bo' END,
  CASE i % 11 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN 'N/A' WHEN 3 THEN 'ÅB-' || i ELSE 'NO-' || i END,
  (CASE i % 19 WHEN 0 THEN NULL WHEN 1 THEN 'NaN'::DOUBLE WHEN 2 THEN 'inf'::DOUBLE
               WHEN 3 THEN '-inf'::DOUBLE WHEN 4 THEN 0.0 WHEN 5 THEN 100.0 WHEN 6 THEN -0.5
               ELSE (i % 1000) / 10.0 END)::DOUBLE,
  CASE i % 23 WHEN 0 THEN NULL WHEN 1 THEN 0 WHEN 2 THEN 151 ELSE (i % 150) + 1 END,
  CASE i % 9 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN 'US' WHEN 3 THEN 'ÅL' WHEN 4 THEN 'SE' ELSE 'NO' END,
  CASE i % 29 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'n' || i END
FROM range(5000) t(i);
"""

DATASET_NAMES = list(DATASETS) + ["generated", "empty"]
PAIRS = [pytest.param(c, d, id=f"{c}-{d}") for c in CONTRACTS for d in DATASET_NAMES]
# Not the contract whose schema never matches: under quarantine a schema violation sets the
# whole load aside (src/staging/enforce.rs), which is not row-level quarantine.
QUARANTINE_PAIRS = [p for p in PAIRS if p.values[0] != "strict_mismatch_simple"]


def connect(extension):
    con = duckdb.connect(":memory:", config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{extension}'")
    return con


@pytest.fixture(scope="module")
def con(extension):
    con = connect(extension)
    for name, values in DATASETS.items():
        con.execute(f"CREATE TABLE {name} ({COLUMNS})")
        con.execute(f"INSERT INTO {name} VALUES {values}")
    con.execute(GENERATED)
    con.execute(f"CREATE TABLE empty ({COLUMNS})")
    yield con
    con.close()


# ---------------------------------------------------------------------------------------------
# The surfaces.
# ---------------------------------------------------------------------------------------------


def rows_of(con, table):
    cur = con.execute(f"SELECT * FROM {table} ORDER BY rid")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def contract_check(con, table, path):
    return con.execute(
        'SELECT check_id, kind, "column", severity, status, failed_rows, total_rows '
        f"FROM (SELECT unnest(contract_check(t, '{path}'), recursive := true) FROM {table} t)"
    ).fetchall()


def contract_violations(con, table, path):
    return con.execute(
        f"SELECT rid, contract_violations(t, '{path}') FROM {table} t ORDER BY rid"
    ).fetchall()


def unrunnable(contract):
    """The row-level checks of `contract` that cannot run on the corpus tables (their column is
    missing): contract_violations refuses such a contract, since every row would pass them."""
    return [r.id for r in contract.checks if not r.bound and r.kind in ROW_LEVEL_KINDS]


def assert_violations_refused(con, table, contract):
    with pytest.raises(duckdb.BinderException) as e:
        contract_violations(con, table, contract.path)
    for cid in unrunnable(contract):
        assert f"cannot check {cid}: column" in str(e.value)


def stage(con, table, path, lake, on_violation):
    con.execute(
        f"COPY (SELECT t FROM {table} t ORDER BY t.rid) TO '{lake}' "
        f"(FORMAT dw_staging, SOURCE '{SOURCE}', CONTRACT '{path}', ON_VIOLATION '{on_violation}')"
    )


def audit(con, lake):
    cur = con.execute(
        "SELECT load_id, status, rows, contract, quarantined_rows, quarantine_file, checks, error "
        f"FROM etl_audit('{lake}')"
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def audit_verdicts(record):
    return sorted(
        (c["check_id"], c["kind"], c["column"], c["severity"], c["status"], c["failed_rows"], c["total_rows"])
        for c in record["checks"] or []
    )


def published_files(lake):
    return sorted(glob.glob(str(lake / "sql" / SOURCE / "load_date=*" / "*.parquet")))


def quarantine_files(lake):
    return sorted(glob.glob(str(lake / "_etl" / "quarantine" / "sql" / SOURCE / "load_date=*" / "*.parquet")))


def read_rids(con, files, extra=""):
    if not files:
        return []
    return con.execute(f"SELECT rid{extra} FROM read_parquet({files!r}) ORDER BY rid").fetchall()


# A blocked load's error names at most this many failing checks (all are in the audit).
MAX_NAMED = 10


def strip_error_class(message):
    return re.sub(r"^[A-Za-z ]*Error: ", "", message)


def expected_verdicts(con, contract, dataset):
    """What every surface must report: contract_check's verdicts (checked against the reference
    by test_contract_check_and_violations_match_an_independent_reference); over zero rows, where
    contract_check returns NULL, the reference's."""
    if dataset == "empty":
        return reference_verdicts(contract, [])
    return contract_check(con, dataset, contract.path)


def first_diffs(got, want, n=8):
    return [(g, w) for g, w in zip(got, want) if g != w][:n]


# ---------------------------------------------------------------------------------------------
# (a) contract_check and contract_violations agree with each other.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("contract_name, dataset", PAIRS)
def test_contract_check_failed_rows_equal_rows_flagged_by_contract_violations(con, contract_name, dataset):
    contract = CONTRACTS[contract_name]
    verdicts = contract_check(con, dataset, contract.path)
    if unrunnable(contract):
        assert_violations_refused(con, dataset, contract)
        return
    flagged = Counter(cid for _, ids in contract_violations(con, dataset, contract.path) for cid in ids)
    total = len(rows_of(con, dataset))
    if total == 0:
        assert verdicts == [], "contract_check over zero rows is NULL (docs/contracts.md)"
        assert not flagged
        return
    row_level = {v[0]: v for v in verdicts if v[1] in ROW_LEVEL_KINDS}
    assert set(flagged) <= set(row_level), "contract_violations lists only row-level checks"
    problems = []
    for cid, (_, kind, _, severity, status, failed, rows) in row_level.items():
        if failed != flagged[cid]:
            problems.append(f"{cid}: contract_check {failed} failing rows, contract_violations flags {flagged[cid]}")
        if rows != total:
            problems.append(f"{cid}: total_rows {rows}, table has {total}")
        ref = contract.by_id(cid)
        if severity != ref.severity or status != status_for(ref, failed, rows):
            problems.append(f"{cid}: {severity}/{status} with {failed}/{rows} failing")
    assert problems == []


# ---------------------------------------------------------------------------------------------
# (b) Both agree with an independent reference: NULL, NaN, '', unicode semantics.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("contract_name, dataset", PAIRS)
def test_contract_check_and_violations_match_an_independent_reference(con, contract_name, dataset):
    contract = CONTRACTS[contract_name]
    rows = rows_of(con, dataset)
    if unrunnable(contract):
        assert_violations_refused(con, dataset, contract)
    else:
        got = contract_violations(con, dataset, contract.path)
        want = [(r["rid"], reference_violations(contract, r)) for r in rows]
        assert first_diffs(got, want) == [], "(got, reference) row violations"
        assert len(got) == len(want)
    verdicts = contract_check(con, dataset, contract.path)
    if rows:
        assert verdicts == reference_verdicts(contract, rows)
    else:
        assert verdicts == []


def violations_by_rid(con, dataset, contract_name):
    return dict(contract_violations(con, dataset, CONTRACTS[contract_name].path))


def failed_rows(con, dataset, contract_name, check_id):
    verdicts = contract_check(con, dataset, CONTRACTS[contract_name].path)
    return next(v[5] for v in verdicts if v[0] == check_id)


def test_null_is_a_null_violation_never_a_range_length_pattern_or_valid_values_one(con):
    people = violations_by_rid(con, "nulls", "people_odcs")
    # The all-NULL row: required id, the nullValues rule, and the warning whose markers list NULL.
    assert people[8] == ["id.null_values", "code.nullValues", "note.missingValues"]
    assert people[2] == [], "NULL name: no length or pattern violation"
    assert people[4] == [], "NULL score: no range violation"
    assert people[5] == [], "NULL age: no exclusive-minimum violation"
    assert people[6] == [], "NULL country: no accepted-values violation"
    labels = violations_by_rid(con, "nulls", "labels_odcs")
    assert labels[8] == ["id.null_values", "code_present", "age.nullValues", "note.missingValues"]
    assert labels[2] == [], "NULL name: no minLength violation"
    # The same counts in plain SQL: NULLs drop out of every comparison.
    sql = con.execute("SELECT count(*) FILTER (WHERE score < 0 OR isnan(score)), count(*) FILTER (WHERE id IS NULL) FROM nulls").fetchone()
    assert (failed_rows(con, "nulls", "people_odcs", "score.minimum"),
            failed_rows(con, "nulls", "people_odcs", "id.null_values")) == sql == (0, 3)
    # NULLs never duplicate: three NULL ids, two (NULL, 'NO') tuples.
    assert failed_rows(con, "nulls", "people_odcs", "id.duplicate_values") == 0
    assert failed_rows(con, "nulls", "labels_odcs", "name_country_unique") == 0


def test_nan_is_outside_every_range_and_infinities_violate_their_side(con):
    people = violations_by_rid(con, "nan_inf", "people_odcs")
    assert people[1] == ["score.minimum", "score.maximum"], "NaN"
    assert people[2] == ["score.maximum"], "+inf"
    assert people[3] == ["score.minimum"], "-inf"
    assert people[4] == [] and people[5] == [], "0.0 and -0.0 meet minimum 0"
    assert people[6] == ["score.maximum"], "100 hits exclusiveMaximum: true"
    assert people[7] == ["age.maximum"], "99.99999999999999 is below 100; age 151 is above 150"
    assert people[8] == ["score.minimum", "age.minimum"], "-1e-300 < 0; age 0 hits exclusiveMinimum: 0"
    labels = violations_by_rid(con, "nan_inf", "labels_odcs")
    assert labels[1] == ["score.minimum", "score.maximum"], "NaN"
    assert labels[4] == ["score.minimum"] and labels[5] == ["score.minimum"], "±0 hit an exclusive minimum 0"
    assert labels[9] == [] and labels[10] == ["score.maximum"], "999.9999 < 1000; 1000 hits exclusiveMaximum: 1000"
    assert labels[11] == [], "a subnormal is above an exclusive 0"
    # Plain SQL agrees (DuckDB orders NaN above +inf, so `score >= 100` counts it).
    assert failed_rows(con, "nan_inf", "people_odcs", "score.maximum") == con.execute(
        "SELECT count(*) FROM nan_inf WHERE score >= 100").fetchone()[0] == 5


def test_empty_string_is_a_value_and_a_missing_value_only_where_listed_as_marker(con):
    labels = violations_by_rid(con, "empty_strings", "labels_odcs")
    assert labels[2] == ["code_present"], "'' is a listed missing marker"
    assert labels[6] == ["code_present"], "'N/A' is a listed missing marker"
    assert labels[5] == ["country.invalidValues"], "a blank is not '' (only the pattern fails)"
    assert labels[1] == ["name.min_length"], "'' is shorter than minLength 1"
    assert labels[3] == ["country.invalidValues"], "'' does not match the pattern"
    assert "note.missingValues" in labels[4], "the default markers are NULL and ''"
    people = violations_by_rid(con, "empty_strings", "people_odcs")
    assert people[3] == ["country.invalidValues"], "'' is not an accepted value"
    assert people[4] == ["note.missingValues"]
    assert people[1] == ["name.min_length", "name.pattern"]
    # '' duplicates '' (unlike NULL): ('', '') twice.
    assert failed_rows(con, "empty_strings", "labels_odcs", "name_country_unique") == 1
    sql = con.execute("SELECT count(*) FILTER (WHERE code IS NULL OR code IN ('', 'N/A')) FROM empty_strings").fetchone()[0]
    assert failed_rows(con, "empty_strings", "labels_odcs", "code_present") == sql == 3


def test_lengths_count_characters_not_bytes_and_patterns_match_any_script(con):
    people = violations_by_rid(con, "unicode", "people_odcs")
    assert people[4] == ["name.min_length", "name.pattern", "code.invalidValues"], "'😀': 1 char (4 bytes), not a letter; 'ÅB' is not [A-Z]"
    assert people[6] == [], "'ééééé' is 5 characters (10 bytes): maxLength 5 holds"
    assert people[5] == [], "'éé' is 2 characters (4 bytes)"
    assert people[8] == ["name.max_length"], "'Ñandúes' is 7 characters"
    # '李小龍' is letters; 'AB-١٢' matches (\d is Unicode); 'ÖÄ' is not an accepted country: the
    # row violates the rule even though the rule's percent threshold passes for the dataset.
    assert people[3] == ["country.invalidValues"]
    assert people[13] == [] and people[14] == [], "titlecase and astral-plane letters are \\p{L}"
    assert people[12] == ["name.pattern"], "'a1' has a digit"
    labels = violations_by_rid(con, "unicode", "labels_odcs")
    assert labels[3] == [], "'李小龍' is 3 characters (9 bytes): maxLength 3 holds"
    assert labels[14] == [], "'𝒜𝒷' is 2 characters (8 bytes)"
    assert labels[2] == ["name.max_length", "country.invalidValues"], "'Jürgen' is 6; 'Ål' is not [A-ZÅÄÖ]{2}"
    by_chars, by_bytes = con.execute(
        "SELECT count(*) FILTER (WHERE length(name) > 3), count(*) FILTER (WHERE strlen(name) > 3) FROM unicode").fetchone()
    assert failed_rows(con, "unicode", "labels_odcs", "name.max_length") == by_chars
    assert by_chars != by_bytes, "the dataset tells characters from bytes"
    verdict = next(v for v in contract_check(con, "unicode", CONTRACTS["people_odcs"].path) if v[0] == "country.invalidValues")
    assert verdict[4:] == ("pass", 2, 15), "2 of 15 invalid is under the 25 percent threshold"


ODCS_TO_SIMPLE = {
    "id.null_values": "id.null_values", "name.pattern": "name.pattern",
    "code.nullValues": "code.null_values", "code.invalidValues": "code.pattern",
    "score.minimum": "score.minimum", "score.maximum": "score.maximum",
    "age.minimum": "age.minimum", "age.maximum": "age.maximum",
    "country.invalidValues": "country.valid_values",
}


@pytest.mark.parametrize("dataset", DATASET_NAMES)
def test_odcs_and_simple_formats_flag_the_same_rows_for_the_same_rules(con, dataset):
    odcs = contract_violations(con, dataset, CONTRACTS["people_odcs"].path)
    simple = contract_violations(con, dataset, CONTRACTS["people_simple"].path)
    mapped = [(rid, [ODCS_TO_SIMPLE[c] for c in ids if c in ODCS_TO_SIMPLE]) for rid, ids in odcs]
    assert first_diffs(mapped, simple) == []
    if dataset != "empty":
        dup = {v[0]: v[5] for v in contract_check(con, dataset, CONTRACTS["people_odcs"].path)}["id.duplicate_values"]
        assert dup == {v[0]: v[5] for v in contract_check(con, dataset, CONTRACTS["people_simple"].path)}["id.duplicate_values"]


# ---------------------------------------------------------------------------------------------
# (c) dw_staging warn: everything published; the audit carries contract_check's verdicts.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("contract_name, dataset", PAIRS)
def test_dw_staging_warn_publishes_every_row_and_audits_the_contract_check_verdicts(con, tmp_path, contract_name, dataset):
    contract = CONTRACTS[contract_name]
    lake = tmp_path / "lake"
    want = expected_verdicts(con, contract, dataset)
    stage(con, dataset, contract.path, lake, "warn")
    rids = [r["rid"] for r in rows_of(con, dataset)]
    assert [r[0] for r in read_rids(con, published_files(lake))] == rids
    assert quarantine_files(lake) == []
    [record] = audit(con, lake)
    assert (record["status"], record["rows"], record["contract"]) == ("success", len(rids), contract.path)
    assert record["quarantined_rows"] == 0
    assert audit_verdicts(record) == sorted(want)


# ---------------------------------------------------------------------------------------------
# (d) dw_staging quarantine: error-severity row violations and extra duplicates are set apart.
# ---------------------------------------------------------------------------------------------


def expected_quarantine(contract, rows, violations):
    """rid -> the row's own violations, for the rows to quarantine; and the rids quarantined
    (also) as duplicates."""
    errors = {c.id for c in contract.checks if c.severity == "error"}
    by_violation = {rid: ids for rid, ids in violations.items() if errors & set(ids)}
    as_duplicate = set()
    for c in contract.checks:
        if c.kind == "duplicate_values" and c.severity == "error" and c.bound:
            as_duplicate |= set(duplicate_rids(rows, c.key))
    return by_violation, as_duplicate


WHOLE_LOAD_KINDS = {"row_count", "freshness"}


@pytest.mark.parametrize("contract_name, dataset", QUARANTINE_PAIRS)
def test_dw_staging_quarantine_sets_apart_exactly_error_violations_and_extra_duplicates(con, tmp_path, contract_name, dataset):
    contract = CONTRACTS[contract_name]
    lake = tmp_path / "lake"
    rows = rows_of(con, dataset)
    violations = dict(contract_violations(con, dataset, contract.path))
    by_violation, as_duplicate = expected_quarantine(contract, rows, violations)
    want = expected_verdicts(con, contract, dataset)

    # A failing check about the whole load (row count, freshness) cannot be pinned to rows:
    # quarantine blocks on it (src/staging/enforce.rs) -- here, the empty table's rowCount.
    whole_load_failing = [v[0] for v in want if v[1] in WHOLE_LOAD_KINDS and v[4] == "fail"]
    if whole_load_failing:
        with pytest.raises(duckdb.Error) as error:
            stage(con, dataset, contract.path, lake, "quarantine")
        message = strip_error_class(str(error.value))
        assert message.startswith("dw_staging: contract"), message
        assert [cid for cid in whole_load_failing if cid not in message] == [], message
        assert glob.glob(str(lake / "**" / "*.parquet"), recursive=True) == [], "nothing published"
        [record] = audit(con, lake)
        assert record["status"] == "failure"
        assert audit_verdicts(record) == sorted(want)
        return

    stage(con, dataset, contract.path, lake, "quarantine")
    published = [r[0] for r in read_rids(con, published_files(lake))]
    qfiles = quarantine_files(lake)
    quarantined = read_rids(con, qfiles, ", _violations, _load_id")
    qrids = [r[0] for r in quarantined]
    assert sorted(published + qrids) == [r["rid"] for r in rows], "every row exactly once"
    assert not set(published) & set(qrids)
    assert sorted(qrids) == sorted(set(by_violation) | as_duplicate)

    [record] = audit(con, lake)
    assert (record["status"], record["contract"]) == ("success", contract.path)
    assert (record["rows"], record["quarantined_rows"]) == (len(published), len(qrids))
    assert audit_verdicts(record) == sorted(want), "every check is evaluated over all rows"
    if qrids:
        assert record["quarantine_file"], "the audit names the quarantine file"
        columns = [d[0] for d in con.execute(f"DESCRIBE SELECT * FROM read_parquet({qfiles!r})").fetchall()]
        assert columns[: len(rows[0])] == list(rows[0]), "the data columns first"
        assert {"_violations", "_load_id", "_loaded_at"} <= set(columns)
        assert {r[2] for r in quarantined} == {record["load_id"]}
    # _violations: the row's contract_violations; a row repeating a key may also name the
    # uniqueness checks whose key it repeats (of any severity).
    repeats = {rid: set() for rid in violations}
    for c in contract.checks:
        if c.kind == "duplicate_values" and c.bound:
            for rid in duplicate_rids(rows, c.key):
                repeats[rid].add(c.id)
    for rid, got, _ in quarantined:
        if repeats[rid]:
            assert set(violations[rid]) <= set(got) <= set(violations[rid]) | repeats[rid], rid
        else:
            assert got == violations[rid], f"rid {rid}: _violations is the row's contract_violations"
    # Warning-severity checks never quarantine: a row violating only warnings is published.
    warnings_only = [rid for rid, ids in violations.items() if ids and rid not in by_violation and rid not in as_duplicate]
    assert set(warnings_only) <= set(published)


# ---------------------------------------------------------------------------------------------
# (e) dw_staging block: fails iff a check fails, publishing nothing.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("contract_name, dataset", PAIRS)
def test_dw_staging_block_fails_iff_some_check_fails_and_then_publishes_nothing(con, tmp_path, contract_name, dataset):
    contract = CONTRACTS[contract_name]
    lake = tmp_path / "lake"
    want = expected_verdicts(con, contract, dataset)
    failing = [v[0] for v in want if v[4] == "fail"]
    if not failing:
        stage(con, dataset, contract.path, lake, "block")
        [record] = audit(con, lake)
        assert record["status"] == "success"
        assert record["rows"] == len(rows_of(con, dataset))
        assert audit_verdicts(record) == sorted(want)
        return
    with pytest.raises(duckdb.Error) as error:
        stage(con, dataset, contract.path, lake, "block")
    message = strip_error_class(str(error.value))
    assert message.startswith("dw_staging: contract"), message
    assert glob.glob(str(lake / "**" / "*.parquet"), recursive=True) == [], "nothing published"
    [record] = audit(con, lake)
    assert record["status"] == "failure"
    schema_failing = [v for v in want if v[4] == "fail" and v[1] == "schema"]
    if schema_failing:
        # A blocking schema violation refuses the load before any row is read: the error and
        # the record hold the schema verdicts, with the checks that cannot run because their
        # column is missing (the row checks never ran).
        missing = {v[2] for v in want if v[1] == "schema" and v[0].endswith(".present")}
        expected = sorted(v[:6] + (0,) for v in want if v[4] == "fail" and (v[1] == "schema" or v[2] in missing))
        failing = [v[0] for v in expected]
    else:
        expected = sorted(want)
    named = [cid for cid in failing if cid in message]
    assert len(named) >= min(len(failing), MAX_NAMED), f"names the failing checks {failing}: {message}"
    assert audit_verdicts(record) == expected, "the failure record carries the verdicts"


# ---------------------------------------------------------------------------------------------
# Uniqueness across parallel threads: a million rows.
# ---------------------------------------------------------------------------------------------

EVENTS = str(CORPUS / "events_unique_odcs.yaml")
THREADS = [pytest.param(1, id="threads=1"), pytest.param(2, id="threads=2")]


@pytest.fixture(scope="module")
def big(extension):
    con = connect(extension)
    con.execute(
        "CREATE TABLE events AS SELECT i::BIGINT AS rid, "
        "CASE WHEN i % 1000 = 999 THEN NULL ELSE (hash(i) % 800000)::BIGINT END AS id, "
        "'t' || (hash(i + 12345) % 900000) AS tag FROM range(1000000) t(i)"
    )
    dups = con.execute("SELECT count(id) - count(DISTINCT id), count(tag) - count(DISTINCT tag), count(DISTINCT id) FROM events").fetchone()
    yield con, {"id.duplicate_values": dups[0], "tag.duplicateValues": dups[1], "distinct_ids": dups[2]}
    con.close()


@pytest.mark.parametrize("threads", THREADS)
def test_contract_check_counts_each_duplicate_once_across_parallel_threads(big, threads):
    con, dups = big
    con.execute(f"SET threads = {threads}")
    verdicts = {v[0]: v for v in contract_check(con, "events", EVENTS)}
    assert verdicts["id.duplicate_values"][4:] == ("fail", dups["id.duplicate_values"], 1000000)
    assert verdicts["tag.duplicateValues"][4:] == ("warn", dups["tag.duplicateValues"], 1000000)


@pytest.mark.parametrize("threads", THREADS)
def test_dw_staging_counts_and_quarantines_each_duplicate_once_across_parallel_threads(big, tmp_path, threads):
    con, dups = big
    con.execute(f"SET threads = {threads}")
    want = sorted([
        ("id.duplicate_values", "duplicate_values", "id", "error", "fail", dups["id.duplicate_values"], 1000000),
        ("tag.duplicateValues", "duplicate_values", "tag", "warning", "warn", dups["tag.duplicateValues"], 1000000),
    ])

    warn = tmp_path / "warn"
    stage(con, "events", EVENTS, warn, "warn")
    [record] = audit(con, warn)
    assert (record["status"], record["rows"]) == ("success", 1000000)
    assert audit_verdicts(record) == want

    lake = tmp_path / "quarantine"
    stage(con, "events", EVENTS, lake, "quarantine")
    published, quarantined = published_files(lake), quarantine_files(lake)
    assert con.execute(
        f"SELECT count(*), count(id) - count(DISTINCT id), count(DISTINCT id) FROM read_parquet({published!r})"
    ).fetchone() == (1000000 - dups["id.duplicate_values"], 0, dups["distinct_ids"]), \
        "published: every id once, no id lost"
    assert con.execute(f"SELECT count(*) FROM read_parquet({quarantined!r})").fetchone() == (
        dups["id.duplicate_values"],), "only the extra id duplicates; tag duplicates are a warning"
    assert con.execute(
        f"SELECT count(DISTINCT rid) FROM read_parquet({published + quarantined!r})"
    ).fetchone() == (1000000,)
    [record] = audit(con, lake)
    assert record["quarantined_rows"] == dups["id.duplicate_values"]
    assert audit_verdicts(record) == want


# ---------------------------------------------------------------------------------------------
# Uniqueness agrees with SQL's DISTINCT for every key type (values chosen where a lossy key,
# e.g. through a double or microseconds, would merge two distinct values).
# ---------------------------------------------------------------------------------------------

KEYS = str(CORPUS / "key_unique_odcs.yaml")
KEY_TYPES = {
    # type: (first value, second value); the table is v1, v2, v2, NULL, NULL
    "bigint_beyond_2^53": ("BIGINT", "4611686018427387904", "4611686018427387905"),
    "ubigint_max": ("UBIGINT", "18446744073709551614", "18446744073709551615"),
    "hugeint_beyond_2^53": ("HUGEINT", "4611686018427387904", "4611686018427387905"),
    "decimal_38_1": ("DECIMAL(38,1)", "123456789012345678901234567.1", "123456789012345678901234567.2"),
    "double_signed_zero_and_nan": ("DOUBLE", "'-0.0'", "'NaN'"),
    "varchar_unicode_and_empty": ("VARCHAR", "''", "'é'"),
    "enum": ("ENUM('a', 'b')", "'a'", "'b'"),
    "boolean": ("BOOLEAN", "false", "true"),
    "date": ("DATE", "'2020-01-01'", "'2020-01-02'"),
    "timestamptz": ("TIMESTAMPTZ", "'2020-01-01 00:00:00+00'", "'2020-01-01 00:00:00.000001+00'"),
    "timestamp_ns": ("TIMESTAMP_NS", "'2020-01-01 00:00:00.000000001'", "'2020-01-01 00:00:00.000000002'"),
    "time": ("TIME", "'12:00:00'", "'12:00:01'"),
    "uuid": ("UUID", "'00000000-0000-0000-0000-000000000001'", "'00000000-0000-0000-0000-000000000002'"),
    "blob": ("BLOB", "'\\x00'", "'\\x01'"),
    "interval": ("INTERVAL", "'1 day'", "'2 days'"),
}


@pytest.mark.parametrize("key_type", list(KEY_TYPES))
def test_duplicate_counts_equal_sql_distinct_for_every_key_type(con, key_type):
    sql_type, v1, v2 = KEY_TYPES[key_type]
    table = f"(SELECT k::{sql_type} AS k, 'x' AS s FROM (VALUES ({v1}), ({v2}), ({v2}), (NULL), (NULL)) v(k))"
    sql = con.execute(
        f"SELECT count(k) - count(DISTINCT k), "
        f"count(k) - count(DISTINCT (k, s)) FILTER (WHERE k IS NOT NULL) FROM {table}"
    ).fetchone()
    assert sql == (1, 1), "the dataset has one duplicate (NULLs never duplicate)"
    verdicts = {v[0]: v[5] for v in contract_check(con, table, KEYS)}
    assert (verdicts["k.duplicate_values"], verdicts["duplicateValues"]) == sql
