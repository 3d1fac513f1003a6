"""Hostile contract files through every contract surface (review items C3, H2, H3).

Each surface (contract_check, contract_violations, contract_diff, dw_staging CONTRACT) is given
/dev/zero, a FIFO nobody writes to, a file over the 16 MiB limit, deeply nested YAML and an
alias bomb. Every one must fail at once with a message that says what the file is; before,
/dev/zero read until memory was gone, a FIFO blocked forever and 750 KB of '[' took 75 s.
Each probe runs in its own process with a timeout, so a regression fails instead of hanging.
"""

import json
import os
import subprocess
import sys
import time

import pytest

SURFACES = {
    "contract_check": "SELECT contract_check(t, '{path}') FROM (SELECT 1 AS id) t",
    "contract_violations": "SELECT contract_violations(t, '{path}') FROM (SELECT 1 AS id) t",
    "contract_diff_old": "SELECT * FROM contract_diff('{path}', '{good}')",
    "contract_diff_new": "SELECT * FROM contract_diff('{good}', '{path}')",
    "dw_staging": "COPY (SELECT t FROM (SELECT 1 AS id) t) TO '{lake}' "
    "(FORMAT dw_staging, SOURCE 's', CONTRACT '{path}')",
}

PROBE = r"""
import json, sys, time, duckdb
ext, cases = sys.argv[1], json.loads(sys.argv[2])
con = duckdb.connect(":memory:", config={"allow_unsigned_extensions": "true"})
con.execute(f"LOAD '{ext}'")
out = {}
for name, sql in cases.items():
    start = time.monotonic()
    try:
        con.execute(sql).fetchall()
        out[name] = ["ok", "", time.monotonic() - start]
    except Exception as e:
        out[name] = ["error", str(e), time.monotonic() - start]
print(json.dumps(out))
"""


def probe(extension, cases, timeout=120):
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(extension), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("contract_files")
    good = d / "good.yaml"
    good.write_text("columns:\n  id: {dtype: int}\n")
    fifo = d / "pipe.yaml"
    os.mkfifo(fifo)
    big = d / "big.yaml"
    with open(big, "w") as f:
        f.write("columns:\n")
        line = "  # " + "x" * 1000 + "\n"
        while f.tell() <= 16 * 1024 * 1024:
            f.write(line)
    nested = d / "nested.yaml"
    nested.write_text("columns: " + "[" * 750_000 + "\n")
    laughs = d / "laughs.yaml"
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    names = "abcdefghi"
    for prev, cur in zip(names, names[1:]):
        text += f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]\n"
    text += "columns:\n  id: {dtype: int}\n"
    laughs.write_text(text)
    # Padded: serde_yaml_ng's own guard (100 alias uses per event) is far away, the value budget
    # stops the expansion.
    padded = d / "laughs_padded.yaml"
    padded.write_text("pad: [" + "1, " * 200_000 + "]\n" + text)
    return {
        "dir": d,
        "good": good,
        "/dev/zero": "/dev/zero",
        "fifo": fifo,
        "big": big,
        "nested": nested,
        "laughs": laughs,
        "laughs_padded": padded,
    }


EXPECTED = {
    "/dev/zero": "it is a character device, not a regular file",
    "fifo": "it is a FIFO (named pipe), not a regular file",
    "big": "the file is larger than 16 MiB, the most that is read",
    "nested": "lists and mappings nest more than 64 deep",
    "laughs": "aliases included",
    "laughs_padded": "more than 500000 values (aliases included)",
}


@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_hostile_contract_files_fail_at_once_naming_what_the_file_is(extension, files, surface):
    cases = {}
    for kind in EXPECTED:
        cases[kind] = SURFACES[surface].format(
            path=files[kind], good=files["good"], lake=files["dir"] / f"lake_{surface}_{kind.strip('/')}"
        )
    start = time.monotonic()
    results = probe(extension, cases)
    assert time.monotonic() - start < 100
    for kind, expected in EXPECTED.items():
        status, message, seconds = results[kind]
        assert status == "error", (kind, results[kind])
        assert expected in message, (kind, message)
        assert "contract" in message, (kind, message)
        assert seconds < 20, (kind, seconds)
    if surface == "dw_staging":
        # Refused at bind: no lake folder was created or written.
        for kind in EXPECTED:
            lake = files["dir"] / f"lake_{surface}_{kind.strip('/')}"
            assert not lake.exists() or not any(lake.rglob("*.parquet")), kind
