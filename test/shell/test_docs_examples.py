"""Every ```sql block in docs/*.md runs against the built extension (blocks fenced as
```sql no-run are skipped: they need services that cannot run here; blocks fenced as
```sql fails must fail, they show an error). Examples that call a REST
API use http://127.0.0.1:8765, replaced by the mock server started here."""

import re
import shutil

import duckdb
import pytest

from conftest import ROOT

BLOCK = re.compile(r"^```sql([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
DOC_URL = "http://127.0.0.1:8765"


def examples():
    for page in sorted((ROOT / "docs").glob("*.md")):
        for n, match in enumerate(BLOCK.finditer(page.read_text())):
            if "no-run" not in match.group(1):
                fails = "fails" in match.group(1)
                yield pytest.param(match.group(2), fails, id=f"{page.name}#{n + 1}")


@pytest.mark.parametrize("sql,fails", list(examples()))
def test_docs_example_runs(sql, fails, extension, mock_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Contract examples read contracts/<name>.yaml: the test contracts.
    shutil.copytree(ROOT / "test" / "data" / "contracts", tmp_path / "contracts")
    monkeypatch.setenv("API_TOKEN", "secret-token-456")
    monkeypatch.setenv("OAUTH_CLIENT_SECRET", "client-secret-789")
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{extension}'")
    if fails:
        with pytest.raises(duckdb.Error):
            con.execute(sql.replace(DOC_URL, mock_url))
        return
    con.execute(sql.replace(DOC_URL, mock_url))
    con.fetchall()


def test_docs_have_runnable_examples():
    assert len(list(examples())) >= 10


def test_dw_staging_page_documents_every_option():
    page = (ROOT / "docs" / "dw_staging.md").read_text()
    source = (ROOT / "src" / "staging" / "load.rs").read_text()
    table = source[source.index("pub const OPTIONS") :]
    table = table[: table.index("];")]
    names = re.findall(r'OptionSpec::new\(\s*"(\w+)"', table)
    assert len(names) >= 10
    missing = [n for n in names if f"| `{n}` |" not in page]
    assert not missing, f"docs/dw_staging.md does not document {missing}"


def test_rest_scan_page_documents_every_option():
    page = (ROOT / "docs" / "rest_scan.md").read_text()
    source = (ROOT / "src" / "rest" / "config.rs").read_text()
    table = source[source.index("pub const OPTIONS") :]
    table = table[: table.index("];")]
    names = re.findall(r'S::new\(\s*"(\w+)"', table)
    assert len(names) > 40
    missing = [n for n in names if f"| `{n}` |" not in page]
    assert not missing, f"docs/rest_scan.md does not document {missing}"
