"""etl_dbt_sources' external_location, read back as dbt and dbt-duckdb read it (YAML, then
dbt's Jinja rendering of schema YAML strings, then str.format_map with the table name), reads
the staged rows of a lake whose path holds glob characters, quotes and braces (D2 item 8, U10):
read_parquet took `[1]` as a pattern and read a neighbour's files; `{{x}}` was a Jinja
expression."""

import json
import shutil
import subprocess

import duckdb
import pytest

NAMES = ["gl[1]ob", "st*ar", "qu?es", "o'brien {x}", "j{{a}}{%b%}{#c#}"]


def jinja_render(text):
    """Renders like dbt (Jinja 2, default delimiters): in-process if jinja2 is installed, else
    with a system python3 that has it."""
    try:
        import jinja2
        return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(text).render()
    except ImportError:
        pass
    python = shutil.which("python3")
    code = ("import jinja2,sys; sys.stdout.write(jinja2.Environment(undefined=jinja2.StrictUndefined)"
            ".from_string(sys.stdin.read()).render())")
    if python is None or subprocess.run([python, "-c", "import jinja2"], capture_output=True).returncode:
        pytest.skip("no jinja2 to render as dbt does")
    return subprocess.run([python, "-c", code], input=text, capture_output=True, text=True,
                          check=True, timeout=60).stdout


def test_external_location_reads_the_lake_whatever_its_folder_name(extension, tmp_path):
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{extension}'")
    for name in NAMES:
        lake = str(tmp_path / name / "lake")
        sql_lake = lake.replace("'", "''")
        con.execute(f"COPY (SELECT {{'id': i}} AS t FROM range(7) t(i)) TO '{sql_lake}' "
                    "(FORMAT dw_staging, SOURCE 'users', PROTOCOL 'rest')")
        # A decoy beside it that a glob reading of the path would also match.
        decoy = str(tmp_path / name.replace("[1]", "1").replace("*", "XX").replace("?", "Q") / "lake")
        if decoy != lake:
            con.execute(f"COPY (SELECT {{'id': i}} AS t FROM range(100) t(i)) TO '{decoy.replace(chr(39), chr(39) * 2)}' "
                        "(FORMAT dw_staging, SOURCE 'users', PROTOCOL 'rest')")
        yml = con.execute(f"SELECT sources_yml FROM etl_dbt_sources('{sql_lake}')").fetchall()[0][0]
        line = next(l for l in yml.splitlines() if "external_location:" in l)
        # The YAML double-quoted string uses only JSON's escapes.
        location = json.loads(line.split("external_location:", 1)[1].strip())
        query = jinja_render(location).format_map({"name": "users"})
        assert con.execute(f"SELECT count(*) FROM {query}").fetchall() == [(7,)], (name, query)
    con.close()
