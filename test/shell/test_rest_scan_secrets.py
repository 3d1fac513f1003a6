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


# --- Credentials stay on the start URL's origin [K1], redirects are refused, not retried [U11],
# and servers that echo credentials back in every form never get them into a message [K2-K6].
# Two real servers on 127.0.0.1, on different ports, record every request they receive.

import base64
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ECHO = {
    "bearer": "TOPSECRET-echo-bearer-7001",
    "password": "TOPSECRET-echo-pw-7002",
    "api_key": "TOPSECRET/echo+key \"7003\"",
    "header": "TOPSECRET-echo-header-7004",
    "client_secret": "TOPSECRET-echo-client-7005",
    "access_token": "TOPSECRET-echo-access-7006",
    "url_password": "TOPSECRET-echo-urlpw-7007",
}


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), RecordingHandler)
        self.requests = []  # (path, {header: value})
        self.lock = threading.Lock()
        self.other = None  # base URL of the other server
        self.port = self.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"

    def count(self, prefix):
        with self.lock:
            return sum(1 for path, _ in self.requests if path.startswith(prefix))


class RecordingHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.do_GET()

    def do_GET(self):
        srv = self.server
        with srv.lock:
            srv.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        path, _, query = self.path.partition("?")
        auth = self.headers.get("Authorization", "")
        if path == "/token":
            return self.reply(200, json.dumps({"access_token": ECHO["access_token"], "expires_in": 3600}))
        if path == "/json_next":  # a next link to the other server
            return self.reply(200, json.dumps({"data": [{"id": 1}], "next": f"{srv.other}/landing"}))
        if path == "/json_next_localhost":  # the same server under another name
            return self.reply(200, json.dumps({"data": [{"id": 1}], "next": f"http://localhost:{srv.port}/landing"}))
        if path == "/link_next":
            return self.reply(200, json.dumps([{"id": 1}]), headers=[("Link", f'<{srv.other}/landing>; rel="next"')])
        if path == "/redirect":
            return self.reply(302, "", headers=[("Location", f"{srv.other}/landing")])
        if path == "/loop":
            return self.reply(302, "", headers=[("Location", "/loop")])
        if path == "/landing":
            return self.reply(200, json.dumps({"data": [{"id": 2}]}))
        if path == "/bad_location":  # a redirect to something that is not a URL
            return self.reply(302, "", headers=[("Location", "http://[::1/x?token=k9")])
        if path == "/loop_next":  # a next link back to the same URL, with our query
            return self.reply(200, json.dumps({"data": [{"id": 1}], "next": f"{srv.base}{self.path}"}))
        if path == "/next_with_header":  # a next link elsewhere that quotes our X-Auth header
            return self.reply(200, json.dumps({"data": [{"id": 1}], "next": f"{srv.other}/landing/{self.headers.get('X-Auth', '')}"}))
        if path == "/token_redirect":  # a token endpoint that moved to the other server
            return self.reply(307, "", headers=[("Location", f"{srv.other}/token")])
        if path == "/v2_missing":  # an error body quoting a plain header's value
            return self.reply(404, json.dumps({"error": "no such path in API version 2 (application/json)"}))
        if path == "/not_json_ctype":  # not JSON, though it says so
            return self.reply(200, "oops", ctype="application/json")
        # The echo endpoints answer 401 and repeat what they received, in the form they name.
        received = {
            "auth": auth,
            "x_auth": self.headers.get("X-Auth", ""),
            "x_api_key": self.headers.get("X-API-Key", ""),
            "query": query,
            "query_decoded": urllib.parse.unquote_plus(query),
        }
        if path == "/echo/padded":  # the credential straddles the 200-character cut
            return self.reply(401, "x" * 170 + " you sent: " + auth + " " + received["x_auth"])
        if path == "/echo/json":  # JSON-escaped (json.dumps escapes quotes and backslashes)
            return self.reply(401, json.dumps({"error": "bad credentials", "received": received}))
        if path == "/echo/json_slash":  # JSON with escaped slashes, as PHP writes it
            return self.reply(401, json.dumps({"received": received}).replace("/", "\\/"))
        if path == "/echo/raw_query":  # the query string as it arrived (percent-encoded)
            return self.reply(401, f"invalid request {self.path}", ctype="text/plain")
        if path == "/echo/not_json":  # a 200 that is not JSON, starting with the credentials
            return self.reply(200, f"{received['query_decoded']} {auth} {received['x_auth']} <html>", ctype="text/html")
        # Other encodings: Python's quote() (keeps `/` and `~`), JSON with \uXXXX escapes,
        # HTML character references.
        if path == "/echo/quote":
            return self.reply(401, "bad: " + urllib.parse.quote(f"{received['query_decoded']} {received['x_auth']}"))
        if path == "/echo/json_ascii":
            return self.reply(401, json.dumps({"received": received}, ensure_ascii=True))
        if path == "/echo/html":
            text = f"{received['query_decoded']} {received['x_auth']} {auth}"
            return self.reply(401, text.encode("ascii", "xmlcharrefreplace"), ctype="text/html")
        if path == "/echo/cookie_not_json":  # a 200 that is not JSON, starting with a long cookie
            return self.reply(200, f"{self.headers.get('Cookie', '')} <html>", ctype="text/html")
        return self.reply(404, json.dumps({"error": "no such path"}))


@pytest.fixture()
def servers():
    a, b = Recorder(), Recorder()
    a.other, b.other = b.base, a.base
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (a, b)]
    for t in threads:
        t.start()
    yield a, b
    for s in (a, b):
        s.shutdown()
        s.server_close()


def credential_options(a_base):
    e = ECHO
    return {
        "bearer": f"auth := 'bearer', token := '{e['bearer']}'",
        "basic": f"auth := 'basic', username := 'alice', password := '{e['password']}'",
        "api key in the query": f"auth := 'api_key', api_key := '{e['api_key']}', api_key_location := 'query', api_key_name := 'key'",
        "api key in a header": f"auth := 'api_key', api_key := '{e['api_key']}'",
        "oauth2": f"auth := 'oauth2', token_url := '{a_base}/token', client_id := 'etl', client_secret := '{e['client_secret']}'",
        "custom header": f"headers := {{'X-Auth': '{e['header']}'}}",
        "short custom header": "headers := {'X-Auth': 'k9'}",
    }


def error_of(con, sql):
    with pytest.raises(duckdb.Error) as err:
        con.execute(sql).fetchall()
    return ours(str(err.value))


def assert_no_echo_secret(text):
    assert "TOPSECRET" not in text, text  # no secret, and no secret's prefix
    encoded = [
        base64.b64encode(f"alice:{ECHO['password']}".encode()).decode()[:12],
        urllib.parse.quote(ECHO["api_key"], safe="")[:12],
        urllib.parse.quote_plus(ECHO["api_key"])[:12],
    ]
    for form in encoded:
        assert form not in text, (form, text)


@pytest.mark.parametrize("kind", list(credential_options("x")))
@pytest.mark.parametrize("endpoint", ["json_next", "link_next", "json_next_localhost"])
def test_next_links_to_another_origin_are_refused_and_get_no_credentials(con, servers, kind, endpoint):
    a, b = servers
    options = credential_options(a.base)[kind]
    message = error_of(con, f"SELECT * FROM rest_scan('{a.base}/{endpoint}', {options}, max_attempts := 3)")
    target = f"localhost:{a.port}" if endpoint == "json_next_localhost" else f"127.0.0.1:{b.port}"
    assert "another origin" in message, message
    assert f"allowed_hosts := ['{target}']" in message, message
    assert_no_echo_secret(message)
    assert b.count("/") == 0, b.requests
    assert a.count("/landing") == 0, a.requests  # localhost is another origin than 127.0.0.1
    assert a.count(f"/{endpoint}") == 1, "a refused link is not retried"


def test_allowed_hosts_lets_next_links_reach_that_origin_with_the_credentials(con, servers):
    a, b = servers
    rows = con.execute(
        f"SELECT id FROM rest_scan('{a.base}/json_next', headers := {{'X-Auth': '{ECHO['header']}'}}, "
        f"allowed_hosts := ['127.0.0.1:{b.port}'])"
    ).fetchall()
    assert rows == [(1,), (2,)]
    assert b.requests[0][1].get("x-auth") == ECHO["header"]


@pytest.mark.parametrize("kind", list(credential_options("x")))
def test_redirects_to_another_origin_are_refused_once_and_forward_nothing(con, servers, kind):
    a, b = servers
    options = credential_options(a.base)[kind]
    message = error_of(con, f"SELECT * FROM rest_scan('{a.base}/redirect', {options}, max_attempts := 4, retry_base_delay := 0.01)")
    assert f"redirected to http://127.0.0.1:{b.port}" in message, message
    assert f"allowed_hosts := ['127.0.0.1:{b.port}']" in message, message
    assert "gave up" not in message, message
    assert_no_echo_secret(message)
    assert b.count("/") == 0, b.requests
    assert a.count("/redirect") == 1, "a refused redirect is not retried"


def test_a_redirect_loop_fails_at_once_without_retries(con, servers):
    a, _ = servers
    message = error_of(con, f"SELECT * FROM rest_scan('{a.base}/loop', max_attempts := 5, retry_base_delay := 0.01)")
    assert "more than 10 redirects" in message, message
    assert a.count("/loop") == 11, a.count("/loop")


ECHO_ENDPOINTS = ["padded", "json", "json_slash", "raw_query", "not_json"]


@pytest.mark.parametrize("kind", list(credential_options("x")))
@pytest.mark.parametrize("endpoint", ECHO_ENDPOINTS)
def test_credentials_echoed_by_the_server_in_any_form_never_show(con, servers, kind, endpoint):
    a, _ = servers
    options = credential_options(a.base)[kind]
    message = error_of(con, f"SELECT * FROM rest_scan('{a.base}/echo/{endpoint}', {options}, max_attempts := 1)")
    assert "rest_scan" in message, message
    assert_no_echo_secret(message)
    if kind == "short custom header" and endpoint != "raw_query":
        assert "k9" not in message.split("rest_scan", 1)[1], message
        assert "not shown: it contains a credential" in message, message


def test_basic_credentials_in_the_url_are_scrubbed_in_every_form(con, servers):
    a, _ = servers
    for endpoint in ECHO_ENDPOINTS:
        message = error_of(
            con, f"SELECT * FROM rest_scan('http://bob:{ECHO['url_password']}@127.0.0.1:{a.port}/echo/{endpoint}', max_attempts := 1)"
        )
        assert "TOPSECRET" not in message, message
        assert base64.b64encode(f"bob:{ECHO['url_password']}".encode()).decode()[:12] not in message, message


def test_unrecognised_credential_params_are_hidden(con, servers):
    a, _ = servers
    for value in ["s3ss", "TOPSECRET-session-7008"]:
        message = error_of(
            con, f"SELECT * FROM rest_scan('{a.base}/echo/json', params := {{'sessionid': '{value}', 'n': 5}}, max_attempts := 1)"
        )
        assert value not in message, message
        assert "sessionid=***&n=5" in message, message


def test_shell_output_of_echoing_servers_never_contains_secrets(duckdb_cli, extension, servers):
    a, b = servers
    statements = [f"LOAD '{extension}'"]
    for options in credential_options(a.base).values():
        for endpoint in ["json_next", "redirect"] + [f"echo/{e}" for e in ECHO_ENDPOINTS]:
            statements.append(f"SELECT * FROM rest_scan('{a.base}/{endpoint}', {options}, max_attempts := 1)")
    result = subprocess.run(
        [str(duckdb_cli), "-unsigned"],
        input=";\n".join(statements) + ";\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert result.stderr.count("rest_scan:") >= len(statements) - 1, result.stderr
    assert_no_echo_secret(ours(result.stdout + result.stderr))
    assert b.count("/") == 0, b.requests


def test_a_nul_in_a_header_is_refused_in_the_pinned_shell_too(duckdb_cli, extension, servers):
    """[U8] The pinned 1.5.6 shell reads VARCHAR values with their length as 2.0 does: a NUL is
    refused at bind, naming the entry, and nothing is sent."""
    a, _ = servers
    script = (
        f"LOAD '{extension}';\n"
        f"SELECT * FROM rest_scan('{a.base}/landing', headers := {{'X-Auth': 'TOPSECRET-nul' || chr(0) || 'tail'}});\n"
    )
    result = subprocess.run([str(duckdb_cli), "-unsigned"], input=script, capture_output=True, text=True, timeout=60)
    assert "option headers, entry 'X-Auth', contains a NUL character" in result.stderr, result.stderr
    assert a.count("/") == 0, a.requests


# --- Gaps in the first secrets fixes (review of K1-K6, U7, U8; helper A2).


def test_a_credential_in_the_start_urls_own_query_never_shows(con, servers):
    """[A2-1] `?api_key=...` typed into the URL is a secret, also when the server echoes the
    request line as it arrived."""
    a, _ = servers
    for url in [
        f"{a.base}/echo/raw_query?api_key=TOPSECRET_sk_live_abcdef123&n=1",
        f"{a.base}/echo/json?n=1&key=TOPSECRET-urlkey-7012",
    ]:
        message = error_of(con, f"SELECT * FROM rest_scan('{url}', max_attempts := 1)")
        assert "HTTP 401" in message, message
        assert "TOPSECRET" not in message, message


def test_the_token_request_does_not_follow_a_redirect_to_another_origin(con, servers):
    """[A2-2] The client secret is posted to token_url's origin only: a 307 from the token
    endpoint to the API's own origin is refused, the API server never sees a token request."""
    a, b = servers
    message = error_of(
        con,
        f"SELECT * FROM rest_scan('{a.base}/landing', auth := 'oauth2', token_url := '{b.base}/token_redirect', "
        f"client_id := 'etl', client_secret := '{ECHO['client_secret']}', max_attempts := 3)",
    )
    assert a.count("/token") == 0, a.requests
    assert a.count("/landing") == 0, a.requests
    assert b.count("/token_redirect") == 1, "a refused redirect is not retried"
    assert f"the token endpoint redirected to {a.base}, another origin than token_url's ({b.base})" in message, message
    assert_no_echo_secret(message)


ODD = "TOPSECRET~\u00fc/7010"  # `~` and `/` (kept by Python's quote()), a non-ASCII letter


@pytest.mark.parametrize("endpoint", ["raw_query", "quote", "json_ascii", "html", "json", "not_json"])
def test_a_secret_echoed_in_any_encoding_never_shows(con, servers, endpoint):
    """[A2-3] Each character of a secret may come back in another encoding (`~` as %7E, `/`
    kept, `\u00fc`, `&#252;`): none shows."""
    a, _ = servers
    message = error_of(
        con,
        f"SELECT * FROM rest_scan('{a.base}/echo/{endpoint}', auth := 'api_key', api_key := '{ODD}', "
        f"api_key_location := 'query', api_key_name := 'key', headers := {{'X-Auth': '{ODD}'}}, max_attempts := 1)",
    )
    assert "rest_scan" in message, message
    assert "TOPSECRET" not in message, message


def test_a_token_given_as_the_urls_user_alone_never_shows(con, servers):
    """[A2-4] `http://token@host` is sent as Basic base64("token:"): both forms are secrets."""
    a, _ = servers
    user = "TOPSECRET-urluser-7011"
    encoded = base64.b64encode(f"{user}:".encode()).decode()
    for endpoint in ECHO_ENDPOINTS + ["html"]:
        message = error_of(con, f"SELECT * FROM rest_scan('http://{user}@127.0.0.1:{a.port}/echo/{endpoint}', max_attempts := 1)")
        assert "TOPSECRET" not in message, message
        assert encoded[:12] not in message, message


def test_a_long_secret_at_the_start_of_a_non_json_body_never_shows_its_prefix(con, servers):
    """[A2-5] A 4.8 KB cookie that begins the body reaches past the first 4096 bytes: it is
    still matched whole before the 60-character preview is cut."""
    a, _ = servers
    cookie = "TOPSECRET-" + "".join(f"{n:04x}" for n in range(1200))
    message = error_of(
        con, f"SELECT * FROM rest_scan('{a.base}/echo/cookie_not_json', headers := {{'Cookie': '{cookie}'}}, max_attempts := 1)"
    )
    assert "is not valid JSON" in message, message
    assert "TOPSECRET" not in message and "0001" not in message, message
    assert 'it starts with "***' in message, message


def test_without_credentials_next_links_and_redirects_to_another_origin_are_followed(con, servers):
    """[A2-6] A scan that sends no credentials and no secret headers gives nothing away by
    following a public API from one host to another (bare host -> www., say)."""
    a, b = servers
    assert con.execute(f"SELECT id FROM rest_scan('{a.base}/json_next')").fetchall() == [(1,), (2,)]
    assert con.execute(f"SELECT id FROM rest_scan('{a.base}/redirect', headers := {{'Accept': 'application/json'}})").fetchall() == [(2,)]
    assert b.count("/landing") == 2, b.requests
    # with a credential, the same links are refused (see the tests above)
    message = error_of(con, f"SELECT * FROM rest_scan('{a.base}/json_next', headers := {{'X-Tenant': 'acme'}})")
    assert "another origin" in message, message
    assert b.count("/landing") == 2, b.requests


def test_plain_header_values_are_not_treated_as_secrets(con, servers):
    """[A2-9] `Accept` and `*-Version` headers carry no credential: an error body quoting
    their values is shown, and our own words are not masked."""
    a, _ = servers
    headers = "headers := {'Accept': 'application/json', 'X-Api-Version': '2'}"
    message = error_of(con, f"SELECT * FROM rest_scan('{a.base}/v2_missing', {headers}, max_attempts := 1)")
    assert "no such path in API version 2 (application/json)" in message, message
    message = error_of(con, f"SELECT * FROM rest_scan('{a.base}/not_json_ctype', {headers}, max_attempts := 1)")
    assert "Content-Type application/json" in message, message
    assert "***" not in message, message


def test_short_secrets_in_next_links_never_show(con, servers):
    """[A2 low] A short secret a server puts into a next link is masked in the pagination-loop
    and the other-origin messages, and a query api key under a custom name is hidden there."""
    a, b = servers
    message = error_of(
        con,
        f"SELECT * FROM rest_scan('{a.base}/loop_next', auth := 'api_key', api_key := 'k9', "
        "api_key_location := 'query', api_key_name := 'k', max_attempts := 1)",
    )
    assert "pagination loop" in message, message
    assert "k=***); stopping" in message and "k9" not in message, message
    message = error_of(con, f"SELECT * FROM rest_scan('{a.base}/next_with_header', headers := {{'X-Auth': 'k9'}}, max_attempts := 1)")
    assert "another origin" in message, message
    assert f"{b.base}/landing/***" in message and "k9" not in message, message


def test_an_untrusted_tls_certificate_fails_at_once_without_retries(con, tmp_path):
    """[A2 low] A certificate the client rejects fails the same way every time: one attempt,
    and the message says so."""
    import socket
    import ssl

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(1)
            conn.settimeout(2)
            try:
                context.wrap_socket(conn, server_side=True).close()
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        message = error_of(con, f"SELECT * FROM rest_scan('https://127.0.0.1:{port}/users', max_attempts := 4, retry_base_delay := 0.01)")
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
    assert "TLS certificate is not trusted" in message, message
    assert "gave up" not in message, message
    assert len(accepted) == 1, accepted


def test_a_redirect_to_an_unparsable_location_says_so(con, servers):
    """[A2 low] A Location that is not a URL is named (secrets hidden), not left as a bare 302."""
    a, _ = servers
    message = error_of(con, f"SELECT * FROM rest_scan('{a.base}/bad_location', headers := {{'X-Auth': 'k9'}}, max_attempts := 1)")
    assert 'HTTP 302 Found from' in message, message
    assert 'with Location "http://[::1/x?token=***", which is not a URL that can be followed' in message, message
    assert "k9" not in message, message
