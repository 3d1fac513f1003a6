"""Secrets given to rest_scan (tokens, passwords, client secrets, API keys) never appear in an
error message of ours or in the shell's output. (DuckDB itself quotes the failing SQL after an
error, "LINE 1: SELECT ...", so a secret typed into the SQL can show there: that part is cut off
before checking, and the docs say to pass secrets with *_env options.)"""

import os
import re
import subprocess

import duckdb
import pytest

SECRETS = {
    "bearer": "TOPSECRET-bearer-1111",
    "api_key": "TOPSECRET-apikey-2222",
    "password": "TOPSECRET-password-3333",
    "client_secret": "TOPSECRET-client-4444",
    "header": "TOPSECRET-header-5555",
    "param": "TOPSECRET-param-6666",
}


@pytest.fixture()
def base_url(mock_url):
    return mock_url


def failing_scans(base):
    s = SECRETS
    return [
        ("wrong bearer token", f"SELECT * FROM rest_scan('{base}/auth/bearer/users', auth := 'bearer', token := '{s['bearer']}')"),
        (
            "wrong api key in the query",
            f"SELECT * FROM rest_scan('{base}/auth/api_key_query/users', auth := 'api_key', api_key := '{s['api_key']}', "
            "api_key_location := 'query', api_key_name := 'api_key')",
        ),
        (
            "wrong api key in a header",
            f"SELECT * FROM rest_scan('{base}/auth/api_key_header/users', auth := 'api_key', api_key := '{s['api_key']}')",
        ),
        (
            "wrong basic password",
            f"SELECT * FROM rest_scan('{base}/auth/basic/users', auth := 'basic', username := 'alice', password := '{s['password']}')",
        ),
        (
            "wrong oauth2 client secret",
            f"SELECT * FROM rest_scan('{base}/auth/oauth2/users', auth := 'oauth2', token_url := '{base}/oauth/token', "
            f"client_id := 'etl-client', client_secret := '{s['client_secret']}')",
        ),
        (
            "authorization header on a 404",
            f"SELECT * FROM rest_scan('{base}/status/404', headers := {{'Authorization': 'Bearer {s['header']}'}})",
        ),
        (
            "access_token parameter on a permanent 500",
            f"SELECT * FROM rest_scan('{base}/status/500', params := {{'access_token': '{s['param']}'}}, max_attempts := 2, "
            "retry_base_delay := 0.01)",
        ),
        (
            "api key in the query, connection refused",
            f"SELECT * FROM rest_scan('http://127.0.0.1:9/users', auth := 'api_key', api_key := '{s['api_key']}', "
            "api_key_location := 'query', max_attempts := 1)",
        ),
        (
            "api key in the query, malformed body",
            f"SELECT * FROM rest_scan('{base}/malformed/users', auth := 'api_key', api_key := '{s['api_key']}', "
            "api_key_location := 'query')",
        ),
        (
            "api key in the query, missing data_selector path",
            f"SELECT * FROM rest_scan('{base}/offset/users', data_selector := '$.nope', auth := 'api_key', "
            f"api_key := '{s['api_key']}', api_key_location := 'query')",
        ),
        (
            "ill-typed member of a params map holding a key",
            f"SELECT * FROM rest_scan('{base}/single/users', params := {{'api_key': '{s['api_key']}', 'ids': [1, 2]}})",
        ),
        (
            "credentials in a URL with a bad scheme",
            f"SELECT * FROM rest_scan('htps://u:{s['password']}@h/x?api_key={s['api_key']}')",
        ),
        (
            "token given with the wrong type",
            "SELECT * FROM rest_scan('http://127.0.0.1:9/x', auth := 'bearer', token := 98765432101234)",
        ),
    ]


def ours(text):
    """The errors without DuckDB's quotation of the SQL text (a "LINE n: ..." line and the
    caret line under it)."""
    return re.sub(r"^LINE \d+:.*\n(?:[ \t]*\^+[ \t]*\n?)?", "", text, flags=re.MULTILINE)


def assert_no_secret(text):
    text = ours(text)
    for name, value in SECRETS.items():
        assert value not in text, f"{name} secret leaked: {text}"
    assert "98765432101234" not in text, text


@pytest.mark.parametrize("case", range(13))
def test_failing_scan_errors_never_contain_secrets(con, base_url, case):
    name, sql = failing_scans(base_url)[case]
    with pytest.raises(duckdb.Error) as err:
        con.execute(sql).fetchall()
    message = str(err.value)
    assert "rest_scan" in message, (name, message)
    assert_no_secret(message)


def test_redacted_url_still_shows_where_the_request_went(con, base_url):
    sql = failing_scans(base_url)[1][1]
    with pytest.raises(duckdb.Error) as err:
        con.execute(sql).fetchall()
    assert f"{base_url}/auth/api_key_query/users?offset" not in str(err.value)  # auto paginator: no offset
    assert "/auth/api_key_query/users?api_key=***" in str(err.value)


def test_shell_output_never_contains_secrets(duckdb_cli, extension, base_url):
    script = f"LOAD '{extension}';\n" + ";\n".join(sql for _, sql in failing_scans(base_url)) + ";\n"
    result = subprocess.run(
        [str(duckdb_cli), "-unsigned"],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RUST_BACKTRACE": "1"},
    )
    assert result.returncode != 0
    assert result.stderr.count("rest_scan") >= 12, result.stderr
    assert_no_secret(result.stdout + result.stderr)
