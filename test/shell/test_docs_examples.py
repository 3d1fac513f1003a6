"""Every ```sql block in docs/*.md runs against the built extension (blocks fenced as
```sql no-run are skipped: they need services that cannot run here)."""

import re

import duckdb
import pytest

from conftest import ROOT

BLOCK = re.compile(r"^```sql([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def examples():
    for page in sorted((ROOT / "docs").glob("*.md")):
        for n, match in enumerate(BLOCK.finditer(page.read_text())):
            if "no-run" not in match.group(1):
                yield pytest.param(match.group(2), id=f"{page.name}#{n + 1}")


@pytest.mark.parametrize("sql", list(examples()))
def test_docs_example_runs(sql, extension, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{extension}'")
    con.execute(sql)
    con.fetchall()


def test_docs_have_runnable_examples():
    assert len(list(examples())) >= 2
