"""etl_dbt_sources' external_location, filled as dbt-duckdb fills it (str.format_map with the
table name), reads the staged rows of a lake whose path holds glob characters, quotes and braces
(D2 item 8, U10): read_parquet took `[1]` as a pattern and found no files."""

import json

import duckdb

NAMES = ["gl[1]ob", "st*ar", "qu?es", "o'brien {x}"]


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
        query = location.format_map({"name": "users"})
        assert con.execute(f"SELECT count(*) FROM {query}").fetchall() == [(7,)], (name, query)
    con.close()
