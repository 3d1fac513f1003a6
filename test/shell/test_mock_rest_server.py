"""Tests of scripts/mock_rest_server.py itself: the fixture server the rest_scan tests rely on."""

from __future__ import annotations

import base64
import http.client
import json
import signal
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import mock_rest_server as mock  # noqa: E402

N = 25
PAGE = 10
ALL_IDS = list(range(1, N + 1))


@pytest.fixture(scope="module")
def server():
    srv, base_url = mock.start_server(port=0, records=1000, token_ttl=3600)
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def base_url(server) -> str:
    return server.base_url


class Resp:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def call(base_url: str, target: str, method: str = "GET", headers: dict | None = None,
         body: bytes | None = None, conn: http.client.HTTPConnection | None = None) -> Resp:
    """One request; `target` is a path+query or an absolute URL on the same server."""
    parts = urlsplit(target)
    if parts.scheme:
        assert f"{parts.scheme}://{parts.netloc}" == base_url, target
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    own = conn is None
    if own:
        url = urlsplit(base_url)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Resp(resp.status, resp.headers, resp.read())
    finally:
        if own:
            conn.close()


def ids(records: list) -> list[int]:
    return [r["id"] for r in records]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- pagination styles -------------------------------------------------------------------


def test_offset_pages_have_short_last_page_then_empty(base_url):
    pages = [call(base_url, f"/offset/users?n={N}&offset={o}&limit={PAGE}").json()
             for o in (0, 10, 20, 30)]
    assert [ids(p["data"]) for p in pages] == [ALL_IDS[0:10], ALL_IDS[10:20], ALL_IDS[20:25], []]
    assert all(p["total"] == N and p["limit"] == PAGE for p in pages)
    assert [p["offset"] for p in pages] == [0, 10, 20, 30]


def test_offset_total_can_be_omitted_or_null(base_url):
    omitted = call(base_url, f"/offset/users?n={N}&limit=5&omit_total=1").json()
    null = call(base_url, f"/offset/users?n={N}&limit=5&null_total=1").json()
    assert "total" not in omitted and ids(omitted["data"]) == [1, 2, 3, 4, 5]
    assert null["total"] is None


def test_offset_defaults_and_limit_clamped_to_10000(base_url):
    default = call(base_url, "/offset/users").json()
    assert ids(default["data"]) == list(range(1, 101)) and default["total"] == 1000
    clamped = call(base_url, "/offset/users?n=20000&limit=50000").json()
    assert clamped["limit"] == 10000 and len(clamped["data"]) == 10000


def test_page_number_pages_report_total_pages_and_past_end_is_empty(base_url):
    pages = [call(base_url, f"/page/users?n={N}&page={p}&per_page={PAGE}").json() for p in (1, 2, 3, 4)]
    assert [ids(p["items"]) for p in pages] == [ALL_IDS[0:10], ALL_IDS[10:20], ALL_IDS[20:25], []]
    assert all(p["total_pages"] == 3 and p["total"] == N and p["per_page"] == PAGE for p in pages)
    assert [p["page"] for p in pages] == [1, 2, 3, 4]
    omitted = call(base_url, f"/page/users?n={N}&per_page={PAGE}&omit_total=1").json()
    assert "total" not in omitted and "total_pages" not in omitted


def test_cursor_pages_end_with_null_cursor_and_has_more_false(base_url):
    seen, cursor, pages = [], None, []
    while True:
        target = f"/cursor/users?n={N}&limit={PAGE}" + (f"&cursor={cursor}" if cursor else "")
        page = call(base_url, target).json()
        pages.append(page)
        seen += ids(page["results"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 10
    assert seen == ALL_IDS
    assert [len(p["results"]) for p in pages] == [10, 10, 5]
    assert [p["has_more"] for p in pages] == [True, True, False]


def test_cursor_that_is_not_ours_is_a_bad_parameter(base_url):
    resp = call(base_url, "/cursor/users?cursor=not-a-cursor!")
    assert resp.status == 400 and resp.json() == {"error": "bad parameter cursor"}


def test_starting_after_pages_follow_last_id_until_has_more_false(base_url):
    seen, after, pages = [], None, []
    while True:
        target = f"/starting_after/users?n={N}&limit={PAGE}" + (f"&starting_after={after}" if after else "")
        page = call(base_url, target).json()
        pages.append(page)
        seen += ids(page["data"])
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    assert seen == ALL_IDS and [len(p["data"]) for p in pages] == [10, 10, 5]
    assert call(base_url, f"/starting_after/users?n={N}&starting_after=25").json() == \
        {"data": [], "has_more": False}


@pytest.mark.parametrize("path, items_key, next_of", [
    ("/link/users", "data", lambda body: body["links"]["next"]),
    ("/next/users", "data", lambda body: body["next"]),
    ("/odata/users", "value", lambda body: body.get("@odata.nextLink")),
])
def test_next_url_styles_keep_params_and_stop_at_end(base_url, path, items_key, next_of):
    target = f"{path}?n={N}&per_page={PAGE}&latency_ms=1"
    seen, urls, last_body = [], [], None
    while target:
        last_body = call(base_url, target).json()
        seen += ids(last_body[items_key])
        target = next_of(last_body)
        if target:
            urls.append(target)
        assert len(urls) < 10
    assert seen == ALL_IDS
    assert len(urls) == 2
    for page, url in zip((2, 3), urls):
        assert url.startswith(base_url + path + "?")
        assert dict(parse_qsl(urlsplit(url).query)) == {
            "n": str(N), "per_page": str(PAGE), "latency_ms": "1", "page": str(page)}
    if path == "/odata/users":
        assert "@odata.nextLink" not in last_body
    else:
        assert next_of(last_body) is None


def test_header_link_has_next_and_last_but_no_next_on_last_page(base_url):
    first = call(base_url, f"/header_link/users?n={N}&per_page={PAGE}")
    last = call(base_url, f"/header_link/users?n={N}&per_page={PAGE}&page=3")
    assert ids(first.json()) == ALL_IDS[:10] and ids(last.json()) == ALL_IDS[20:]
    assert first.headers["Link"] == (
        f'<{base_url}/header_link/users?n={N}&per_page={PAGE}&page=2>; rel="next", '
        f'<{base_url}/header_link/users?n={N}&per_page={PAGE}&page=3>; rel="last"')
    assert 'rel="next"' not in last.headers["Link"] and 'rel="last"' in last.headers["Link"]


def test_single_is_a_bare_array_and_ndjson_is_one_record_per_line(base_url):
    single = call(base_url, f"/single/users?n={N}")
    ndjson = call(base_url, f"/ndjson/users?n={N}")
    assert ids(single.json()) == ALL_IDS
    assert ndjson.headers["Content-Type"] == "application/x-ndjson"
    lines = ndjson.body.decode().split("\n")
    assert lines[-1] == "" and [json.loads(x) for x in lines[:-1]] == single.json()


def test_post_pagination_reads_the_json_body_and_echoes_it(base_url):
    req = {"offset": 20, "limit": 10, "filter": {"x": [1, 2]}}
    body = call(base_url, f"/post/users?n={N}", "POST", {"Content-Type": "application/json"},
                json.dumps(req).encode()).json()
    assert ids(body["data"]) == ALL_IDS[20:] and body["total"] == N and body["echo"] == req
    bad = call(base_url, "/post/users", "POST", {"Content-Type": "application/json"}, b'{"offset":')
    assert bad.status == 400 and bad.json() == {"error": "invalid JSON body"}


def test_echo_reports_method_path_query_and_lowercased_headers(base_url):
    entry = call(base_url, "/echo?a=1&b=two", headers={"X-Custom-Header": "v1"}).json()["data"][0]
    assert entry["method"] == "GET" and entry["path"] == "/echo"
    assert entry["query"] == {"a": "1", "b": "two"}
    assert entry["headers"]["x-custom-header"] == "v1"


# --- auth --------------------------------------------------------------------------------

AUTH_CASES = {
    "api_key_header": ({"X-API-Key": "secret-key-123"}, "", {"X-API-Key": "wrong-key"}, ""),
    "api_key_query": ({}, "&api_key=secret-key-123", {}, "&api_key=wrong-key"),
    "bearer": ({"Authorization": "Bearer secret-token-456"}, "",
               {"Authorization": "Bearer wrong-token"}, ""),
    "basic": ({"Authorization": basic("alice", "s3cret-pw")}, "",
              {"Authorization": basic("alice", "wrong-pw")}, ""),
}


@pytest.mark.parametrize("kind", sorted(AUTH_CASES))
def test_auth_endpoint_accepts_right_and_rejects_wrong_or_missing_credentials(base_url, kind):
    good_headers, good_query, bad_headers, bad_query = AUTH_CASES[kind]
    path = f"/auth/{kind}/users?n={N}&limit={PAGE}"
    ok = call(base_url, path + good_query, headers=good_headers)
    assert ok.status == 200 and ids(ok.json()["data"]) == ALL_IDS[:10]
    for headers, query in ((bad_headers, bad_query), ({}, "")):
        denied = call(base_url, path + query, headers=headers)
        assert denied.status == 401 and denied.json() == {"error": "unauthorized"}
        assert b"wrong" not in denied.body


def token(base_url: str, query: str = "", form: str | None = None, headers: dict | None = None) -> Resp:
    if form is None:
        form = "grant_type=client_credentials&client_id=etl-client&client_secret=client-secret-789"
    hdrs = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    return call(base_url, "/oauth/token" + query, "POST", hdrs, form.encode())


def test_oauth_token_endpoint_checks_client_credentials_in_form_or_basic(base_url):
    issued = token(base_url).json()
    assert issued["token_type"] == "Bearer" and issued["expires_in"] == 3600
    assert issued["access_token"].startswith("tok-")
    via_basic = token(base_url, form="grant_type=client_credentials",
                      headers={"Authorization": basic("etl-client", "client-secret-789")})
    assert via_basic.status == 200 and via_basic.json()["access_token"] != issued["access_token"]
    wrong = token(base_url, form="grant_type=client_credentials&client_id=etl-client&client_secret=nope")
    assert wrong.status == 401 and wrong.json() == {"error": "invalid_client"}


def test_oauth_token_is_accepted_until_its_ttl_expires(base_url):
    issued = token(base_url, "?ttl=1").json()
    assert issued["expires_in"] == 1
    auth = {"Authorization": f"Bearer {issued['access_token']}"}
    ok = call(base_url, f"/auth/oauth2/users?n={N}&limit={PAGE}", headers=auth)
    assert ok.status == 200 and ids(ok.json()["data"]) == ALL_IDS[:10]
    time.sleep(1.2)
    expired = call(base_url, f"/auth/oauth2/users?n={N}", headers=auth)
    assert expired.status == 401
    assert expired.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    unknown = call(base_url, "/auth/oauth2/users", headers={"Authorization": "Bearer tok-999999"})
    assert unknown.status == 401 and unknown.json() == {"error": "unauthorized"}


def test_oauth_token_is_revoked_after_revoke_after_uses(base_url):
    auth = {"Authorization": f"Bearer {token(base_url).json()['access_token']}"}
    statuses = [call(base_url, f"/auth/oauth2/users?n={N}&revoke_after=2", headers=auth).status
                for _ in range(3)]
    assert statuses == [200, 200, 401]
    assert call(base_url, f"/auth/oauth2/users?n={N}", headers=auth).status == 401  # for good
    fresh = {"Authorization": f"Bearer {token(base_url).json()['access_token']}"}
    assert call(base_url, f"/auth/oauth2/users?n={N}&revoke_after=2", headers=fresh).status == 200


# --- faults and oddities -----------------------------------------------------------------


def test_faults_fail_f_times_with_retry_after_then_succeed_per_key_and_offset(base_url):
    target = f"/faults/users?n={N}&offset=10&limit={PAGE}&key=t1&fail_times=2&status=429&retry_after=3"
    first, second, third = (call(base_url, target) for _ in range(3))
    for failed in (first, second):
        assert failed.status == 429 and failed.json() == {"error": "injected"}
        assert failed.headers["Retry-After"] == "3"
    assert third.status == 200 and ids(third.json()["data"]) == ALL_IDS[10:20]
    other_offset = call(base_url, target.replace("offset=10", "offset=20"))
    assert other_offset.status == 429  # counters are per (key, offset)


def test_faults_retry_after_can_be_an_http_date_in_the_future(base_url):
    resp = call(base_url, "/faults/users?key=t2&fail_times=1&retry_after=30&retry_after_date=1")
    assert resp.status == 503
    delay = parsedate_to_datetime(resp.headers["Retry-After"]).timestamp() - time.time()
    assert 25 <= delay <= 31


def test_faults_with_huge_fail_times_fail_for_good(base_url):
    target = "/faults/users?key=t3&fail_times=1000000&status=500"
    assert [call(base_url, target).status for _ in range(4)] == [500] * 4


def test_malformed_is_truncated_json_and_html_is_html(base_url):
    malformed = call(base_url, "/malformed/users")
    assert malformed.status == 200 and malformed.headers["Content-Type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        malformed.json()
    html = call(base_url, "/html")
    assert html.status == 200 and html.headers["Content-Type"].startswith("text/html")
    assert html.body.lstrip().startswith(b"<!DOCTYPE html>")


def test_loop_cursor_always_returns_the_same_cursor(base_url):
    first = call(base_url, "/loop/cursor").json()
    again = call(base_url, f"/loop/cursor?cursor={first['next_cursor']}").json()
    assert first["next_cursor"] == again["next_cursor"] == "same"
    assert len(first["results"]) == 1


def test_loop_link_repeats_the_same_next_url_from_page_two_on(base_url):
    first = call(base_url, "/loop/link").json()
    second_url = first["links"]["next"]
    assert second_url == f"{base_url}/loop/link?page=2"
    second = call(base_url, second_url).json()
    third = call(base_url, second["links"]["next"]).json()
    assert second["links"]["next"] == third["links"]["next"] == second_url
    assert len(first["data"]) == len(second["data"]) == 1


def test_status_endpoint_and_unknown_path_and_bad_parameter(base_url):
    teapot = call(base_url, "/status/418")
    assert teapot.status == 418 and teapot.json() == {"error": "status 418"}
    missing = call(base_url, "/no/such/path")
    assert missing.status == 404 and missing.json() == {"error": "not found"}
    bad = call(base_url, "/offset/users?limit=abc")
    assert bad.status == 400 and bad.json() == {"error": "bad parameter limit"}


def test_handler_exception_gives_500_and_the_server_keeps_serving(server, base_url, monkeypatch):
    def boom(req):
        raise RuntimeError("handler bug")
    monkeypatch.setattr(server.app, "ep_html", boom)
    resp = call(base_url, "/html")
    assert resp.status == 500 and resp.json() == {"error": "internal error"}
    monkeypatch.undo()
    assert call(base_url, "/html").status == 200


def test_latency_ms_delays_the_response(base_url):
    start = time.monotonic()
    assert call(base_url, f"/offset/users?n={N}&latency_ms=200").status == 200
    assert time.monotonic() - start >= 0.2


def test_keep_alive_serves_many_requests_on_one_connection_with_content_length(base_url):
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        for offset in (0, 10, 20, 0):
            resp = call(base_url, f"/offset/users?n={N}&offset={offset}&limit={PAGE}", conn=conn)
            assert resp.status == 200 and int(resp.headers["Content-Length"]) == len(resp.body)
            assert resp.headers.get("Connection", "").lower() != "close"
        assert call(base_url, "/nope", conn=conn).status == 404
        assert call(base_url, f"/offset/users?n={N}", conn=conn).status == 200
    finally:
        conn.close()


def test_stats_count_requests_per_path_and_reset_clears_them():
    srv, url = mock.start_server(port=0, records=100)
    try:
        call(url, "/offset/users")
        call(url, "/offset/users?offset=10")
        call(url, "/page/users")
        token(url)
        assert call(url, "/_stats").json() == {
            "requests": 4, "by_path": {"/offset/users": 2, "/page/users": 1, "/oauth/token": 1},
            "token_requests": 1}
        fault = "/faults/users?key=r&fail_times=1"
        assert call(url, fault).status == 503 and call(url, fault).status == 200
        assert call(url, "/_reset", "POST").json() == {"ok": True}
        assert call(url, "/_stats").json() == {"requests": 0, "by_path": {}, "token_requests": 0}
        assert call(url, fault).status == 503  # fault counters were reset too
        assert token(url).json()["access_token"] == "tok-1"  # and the token counter
    finally:
        srv.shutdown()
        srv.server_close()


# --- binding, CLI, data ------------------------------------------------------------------


def test_server_binds_127_0_0_1_only(server, base_url):
    assert server.server_address[0] == "127.0.0.1"
    assert base_url.startswith("http://127.0.0.1:")
    rejected = subprocess.run([sys.executable, str(SCRIPTS / "mock_rest_server.py"), "--host", "0.0.0.0"],
                              capture_output=True, text=True, timeout=10)
    assert rejected.returncode != 0 and "invalid choice" in rejected.stderr


def test_cli_prints_listening_line_serves_and_exits_cleanly_on_sigterm():
    proc = subprocess.Popen([sys.executable, str(SCRIPTS / "mock_rest_server.py"), "--records", "50",
                             "--max-lifetime", "30"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("LISTENING http://127.0.0.1:") and line.endswith("\n")
        url = line.split()[1]
        assert call(url, "/offset/users").json()["total"] == 50
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert proc.stdout.read() == ""  # exactly one line on stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_exits_by_itself_after_max_lifetime():
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(SCRIPTS / "mock_rest_server.py"), "--max-lifetime", "1"],
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0 and proc.stdout.startswith("LISTENING ")
    assert time.monotonic() - start < 5


def test_records_are_deterministic_compact_json_of_about_210_bytes(base_url):
    sample = [mock.render_record(k) for k in range(1, 200_001, 37)]
    assert sample == [mock.render_record(k) for k in range(1, 200_001, 37)]
    average = sum(map(len, sample)) / len(sample)
    assert 180 <= average <= 240, average
    for raw in sample[:500]:
        assert json.dumps(json.loads(raw), separators=(",", ":")).encode() == raw
    rec = json.loads(mock.render_record(3661))
    assert rec["id"] == 3661 and rec["name"] == "user_3661" and rec["email"] == "user_3661@example.com"
    assert rec["created_at"] == "2026-01-01T01:01:01Z"
    assert isinstance(rec["score"], float) and rec["score"] != int(rec["score"])
    assert isinstance(rec["active"], bool) and 1 <= len(rec["tags"]) <= 3
    assert set(rec["address"]) == {"city", "zip", "geo"} and len(rec["address"]["zip"]) == 5
    assert set(rec["address"]["geo"]) == {"lat", "lon"}
    served = call(base_url, "/single/users?n=300").body
    assert served == b"[" + b",".join(mock.render_record(k) for k in range(1, 301)) + b"]"


# --- misbehaving pages and API shapes (rest_scan's L2 / L6 tests) -------------------------


def test_empty_pages_in_the_middle_keep_their_totals(base_url):
    page = call(base_url, f"/offset/users?n={N}&offset=10&limit={PAGE}&empty_at=10&has_more=1").json()
    assert page["data"] == [] and page["total"] == N and page["has_more"] is True
    assert ids(call(base_url, f"/offset/users?n={N}&offset=20&limit={PAGE}&empty_at=10").json()["data"]) == ALL_IDS[20:]
    page = call(base_url, f"/page/users?n={N}&page=2&per_page={PAGE}&empty_page=2").json()
    assert page["items"] == [] and page["total_pages"] == 3


def test_cursor_can_be_blank_renamed_or_come_without_has_more(base_url):
    page = call(base_url, f"/cursor/users?n={N}&limit={PAGE}&blank_at=10").json()
    assert page["next_cursor"] == "" and page["has_more"] is True
    page = call(base_url, f"/cursor/users?n={N}&limit={PAGE}&cursor_field=zz&omit_has_more=1").json()
    assert set(page) == {"results", "zz"} and page["zz"]
    assert call(base_url, "/cursor/users?cursor_field=a-b").status == 400
    first = call(base_url, f"/cursor/users?n={N}&limit={PAGE}&empty_at=0").json()
    assert first["results"] == [] and first["has_more"] is True
    again = call(base_url, f"/cursor/users?n={N}&limit={PAGE}&empty_at=0&cursor={first['next_cursor']}").json()
    assert ids(again["results"]) == ALL_IDS[:10]


def _follow_shape(base_url, target, step):
    """Pages through a shape with its own documented rule; returns the ids read."""
    seen = []
    for _ in range(20):
        resp = call(base_url, target)
        assert resp.status == 200, resp.body
        records, target = step(resp)
        seen += ids(records)
        if target is None:
            return seen
    raise AssertionError("too many pages")


def _link_next(resp):
    for part in resp.headers.get("Link", "").split(", "):
        url, _, rel = part.partition(">; ")
        if rel == 'rel="next"':
            return url.lstrip("<")
    return None


SHAPES = {
    "github/repos?per_page=10": lambda r: (r.json(), _link_next(r)),
    "shopify/products.json?limit=10": lambda r: (r.json()["products"], _link_next(r)),
    "graph/users?%24top=10": lambda r: (r.json()["value"], r.json().get("@odata.nextLink")),
    "salesforce/query?q=x": lambda r: (r.json()["records"], None if r.json()["done"] else r.json()["nextRecordsUrl"]),
    "zendesk/tickets.json?per_page=10": lambda r: (r.json()["tickets"], r.json()["next_page"]),
    "zendesk/users.json?page%5Bsize%5D=10": lambda r: (
        r.json()["users"], r.json()["links"]["next"] if r.json()["meta"]["has_more"] else None),
    "jsonapi/articles?page%5Bsize%5D=10": lambda r: (
        [{"id": int(d["id"])} for d in r.json()["data"]], r.json()["links"]["next"]),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_api_shapes_page_through_every_record_by_their_own_rule(base_url, shape):
    assert _follow_shape(base_url, f"/shapes/{shape}&n={N}", SHAPES[shape]) == ALL_IDS


def test_api_shapes_with_cursors_and_offsets(base_url):
    # HubSpot: paging.next.after, no paging on the last page
    seen, after = [], None
    while True:
        page = call(base_url, f"/shapes/hubspot/contacts?n={N}&limit=10" + (f"&after={after}" if after else "")).json()
        seen += ids(page["results"])
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
        assert page["paging"]["next"]["link"] == f"?after={after}"
    assert seen == ALL_IDS
    # Stripe and Notion: has_more
    first = call(base_url, f"/shapes/stripe/customers?n={N}&limit=10").json()
    assert first["object"] == "list" and first["has_more"] is True and ids(first["data"]) == ALL_IDS[:10]
    page = call(base_url, f"/shapes/notion/users?n={N}&page_size=10").json()
    last = call(base_url, f"/shapes/notion/users?n={N}&page_size=20&start_cursor={page['next_cursor']}").json()
    assert ids(last["results"]) == ALL_IDS[10:] and last["has_more"] is False and last["next_cursor"] is None
    # Jira caps maxResults at 50; GitHub search serves `cap` results of its total_count
    jira = call(base_url, "/shapes/jira/search?n=120&maxResults=100").json()
    assert (jira["maxResults"], jira["total"], jira["isLast"], len(jira["values"])) == (50, 120, False, 50)
    search = call(base_url, "/shapes/github/search?n=30&cap=20&per_page=10&page=2")
    assert search.json()["total_count"] == 30 and _link_next(search) is None
    assert call(base_url, "/shapes/nope").status == 404
