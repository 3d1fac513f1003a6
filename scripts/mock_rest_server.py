#!/usr/bin/env python3
"""Deterministic local mock REST API for the `rest_scan` SQL tests and benchmarks.

Standard library only (Python 3.11). Binds 127.0.0.1 only, speaks HTTP/1.1 with keep-alive and
always sends Content-Length. Responses are JSON (Content-Type: application/json) unless noted.

Run it
------
    python scripts/mock_rest_server.py [--port 0] [--records 200000] [--token-ttl 3600]
                                       [--max-lifetime 3600] [--prewarm] [--verbose]

On start it prints exactly one line, ``LISTENING http://127.0.0.1:<port>``, to stdout and
flushes. It exits with status 0 on SIGTERM/SIGINT, or by itself after --max-lifetime seconds.
--prewarm renders the default dataset's records before printing the LISTENING line (by default
they are rendered lazily, on first use). From Python (pytest fixtures):

    server, base_url = start_server(port=0, records=200000, token_ttl=3600)
    ...
    server.shutdown(); server.server_close()

Dataset
-------
Records have ids 1..N, N = --records (default 200000), or the query parameter ``n`` of the
request (0..2000000). Record k is always the same bytes, compact JSON of ~220 bytes
(~221 bytes on average over ids 1..200000, ~44 MB in all; short ids give shorter records):

    {"id":k,"name":"user_k","email":"user_k@example.com","score":13.75,"active":false,
     "created_at":"2026-01-01T00:00:00Z" + k seconds,
     "address":{"city":"Porto","zip":"89932","geo":{"lat":41.36,"lon":-8.63}},
     "tags":["beta"]}

score always has a non-zero fraction (0.01..99.99); city is one of Oslo, Lyon, Porto, Delft,
Turku, Gent, Bern, Riga; zip is 5 digits; tags holds 1 or 2 of eu, us, vip, new, pro, beta,
trial, ops. ``render_record(k)`` returns the bytes of record k.

Common query parameters (every endpoint)
----------------------------------------
    latency_ms=<int 0..60000>  sleep that long before responding
    n=<int 0..2000000>         dataset size for this request
Page sizes (limit, per_page) must be >= 1 and are clamped to 10000 (the response reports the
clamped value). A value that is not an integer or out of range gives
400 {"error":"bad parameter <name>"}. Unknown query parameters are ignored. Flags (omit_total,
null_total, retry_after_date) are true for 1/true/yes/on. A trailing "/" on a path is ignored.

Endpoints ("records a..b" = the JSON objects of ids a..b, clipped to 1..n)
---------------------------------------------------------------------------
GET /offset/users?offset=O&limit=L          (offset 0, limit 100 by default)
    {"data":[records O+1..O+L],"total":N,"offset":O,"limit":L}
    omit_total=1 drops "total"; null_total=1 sends "total":null. Offset past the end -> "data":[].
    has_more=1 adds "has_more":<O+L < N>; empty_at=<O> makes the page at offset O empty (its
    total and has_more unchanged: an inconsistent API).
GET /page/users?page=P&per_page=S           (1-based page, default 1; per_page default 100)
    {"items":[...],"page":P,"per_page":S,"total_pages":T,"total":N}   T = ceil(N/S)
    omit_total=1 drops "total" and "total_pages"; null_total=1 sets both to null.
    A page past the end -> "items":[]. empty_page=<P> makes page P empty (totals unchanged).
GET /cursor/users?cursor=C&limit=L          (no cursor, or cursor=, = start)
    {"results":[...],"next_cursor":"<opaque>"|null,"has_more":bool}
    The cursor is unpadded base64url of "offset:<next offset>"; null/false on the last page
    (the page that reaches N). An undecodable cursor -> 400 bad parameter cursor.
    blank_at=<O>: the page whose next offset is O sends "next_cursor":"" (has_more stays true);
    empty_at=<O>: the page at offset O is empty, with a cursor that asks for it again (then it
    is served), as Slack may return empty pages mid-list;
    cursor_field=<name> names the cursor field otherwise; omit_has_more=1 drops "has_more".
GET /starting_after/users?starting_after=<id>&limit=L     (Stripe style; no parameter = start)
    {"data":[records id+1..id+L],"has_more":bool}
GET /link/users?page=P&per_page=S
    {"data":[...],"links":{"next":"<absolute URL>"|null}}
GET /next/users?page=P&per_page=S
    {"data":[...],"next":"<absolute URL>"|null}
GET /odata/users?page=P&per_page=S
    {"value":[...],"@odata.nextLink":"<absolute URL>"}     (the key is absent on the last page)
    The next URL is http://127.0.0.1:<port><same path>?<the request's query parameters in
    their order, incl. n and latency_ms, with page replaced by P+1 (appended if absent)>.
    It is null/absent on the page that reaches N and past the end.
GET /header_link/users?page=P&per_page=S
    bare JSON array of the records; header
    Link: <next URL>; rel="next", <last URL>; rel="last"   (rel="next" omitted on the last
    page and past the end; last = ceil(N/S), at least 1)
GET /single/users     bare JSON array of all n records
GET /ndjson/users     all n records, one per line, each line ending in "\\n";
                      Content-Type: application/x-ndjson
POST /post/users      JSON body {"offset":O,"limit":L,...} (both optional: 0 and 100; ints or
                      digit strings; an empty body means {})
    {"data":[records O+1..O+L],"total":N,"echo":<the parsed body>}
    Body not JSON or not an object -> 400 {"error":"invalid JSON body"};
    bad offset/limit -> 400 {"error":"bad parameter offset"} / limit.
ANY /echo             (any method, any query)
    {"data":[{"method":"GET","path":"/echo","query":{name:value},"headers":{lowercased name:
    value},"body":"<request body as text>"}]}
    A query name given several times maps to the list of its values; headers given several
    times are joined with ", "; "body" is present only when the request had a body.

Auth (each paginates exactly like /offset/users once authorised):
GET /auth/api_key_header/users    needs header X-API-Key: secret-key-123
GET /auth/api_key_query/users     needs query api_key=secret-key-123
GET /auth/bearer/users            needs Authorization: Bearer secret-token-456
GET /auth/basic/users             needs HTTP Basic auth alice / s3cret-pw
    Missing or wrong credentials -> 401 {"error":"unauthorized"} (the presented credential is
    never echoed); bearer adds WWW-Authenticate: Bearer realm="mock", basic adds
    WWW-Authenticate: Basic realm="mock".
POST /oauth/token[?ttl=<seconds>]
    form body (application/x-www-form-urlencoded; a JSON object body is accepted too)
    grant_type=client_credentials&client_id=etl-client&client_secret=client-secret-789[&scope=..]
    or the client id/secret as HTTP Basic credentials (Authorization header wins).
    -> {"access_token":"tok-<counter>","token_type":"Bearer","expires_in":<ttl>[,"scope":"..."]}
    with Cache-Control: no-store. The counter starts at 1 (and again after /_reset); ttl
    defaults to --token-ttl, ?ttl= overrides it for this token (0 = already expired).
    Wrong/missing client credentials -> 401 {"error":"invalid_client"};
    grant_type other than client_credentials -> 400 {"error":"unsupported_grant_type"}.
GET /auth/oauth2/users[?revoke_after=<k>]
    needs Authorization: Bearer tok-<k> for an issued, unexpired, unrevoked token. No bearer
    token -> 401 {"error":"unauthorized"} + WWW-Authenticate: Bearer realm="mock"; an unknown,
    expired or revoked token -> 401 {"error":"unauthorized"} +
    WWW-Authenticate: Bearer error="invalid_token". With revoke_after=k a token that was
    already accepted k times is revoked for good and rejected (so uses 1..k pass, k+1 fails).

Faults:
GET /faults/users?offset=O&limit=L&key=K&fail_times=F&status=S&retry_after=R&retry_after_date=1
    For each distinct (K, O) the first F requests (default F=1, K="") fail with status S
    (400..599, default 503) and body {"error":"injected"}; retry_after=R adds the header
    Retry-After: R (seconds), or with retry_after_date=1 an HTTP-date R seconds in the future.
    Afterwards it answers like /offset/users. fail_times=1000000 fails for good. The counters
    live in memory (thread-safe) until /_reset.
GET /malformed/users  200, Content-Type: application/json, body {"data":[{"id":1,"na  (truncated)
GET /html             200, Content-Type: text/html; charset=utf-8, an HTML page
GET /loop/cursor      {"results":[record 1],"next_cursor":"same","has_more":true}, whatever cursor
GET /loop/link?page=P {"data":[record P (P <= 2000000)],"links":{"next":"<base>/loop/link?page=2..."}}; the next
                      URL keeps the other query params, so every page >= 2 repeats its own URL.
GET /shapes/<api>/...  the pagination envelopes of public APIs as their docs describe them
    (records 1..n as above; each page size parameter is capped like the API caps it):
    github/repos?page&per_page          bare array + Link: rel="prev"/"next"/"last"/"first"
    github/search?page&per_page&cap=C   {"total_count":n,"incomplete_results":false,"items"};
                                        serves only the first C records (GitHub stops at 1000)
    stripe/customers?limit&starting_after=<id>   {"object":"list","url","has_more","data"}
    graph/users?$top&$skiptoken         {"@odata.context","value","@odata.nextLink"} (absent at end)
    salesforce/query?q[&batch=10]       {"totalSize","done","nextRecordsUrl":"/shapes/salesforce/
                                        query/01gMOCK-<offset>-<batch>-<n>","records"} (records
                                        carry "attributes"; nextRecordsUrl only while done false)
    hubspot/contacts?limit&after        {"results","paging":{"next":{"after","link":"?after=.."}}}
                                        ("paging" absent on the last page)
    zendesk/tickets.json?page&per_page  {"tickets","next_page","previous_page","count":n}
    zendesk/users.json?page[size]&page[after]   {"users","meta":{"has_more","after_cursor",
                                        "before_cursor"},"links":{"next","prev"}}: links.next is
                                        given on the last page too, only meta.has_more is false
    shopify/products.json?limit&page_info       {"products"} + Link: rel="previous"/"next"
                                        (page_info links carry only limit and page_info)
    jsonapi/articles?page[number]&page[size][&link_objects=1]   {"data":[{"type","id",
                                        "attributes"}],"links":{self,first,prev,next,last},
                                        "meta":{"total"}}; next null at the end; link_objects=1
                                        sends links as {"href": ...}
    notion/users?page_size&start_cursor {"object":"list","results","next_cursor","has_more",..}
    jira/search?startAt&maxResults      {"startAt","maxResults" (capped at 50),"total","isLast",
                                        "values"}
    confluence/content?start&limit      {"results","start","limit","size","_links":{"base","context",
                                        "self","next":"/shapes/confluence/content?..."}} (limit
                                        capped at 25; no next at the end)
    twitter/tweets?max_results&pagination_token  {"data","meta":{"result_count","next_token"}}
    twitch/streams?first&after          {"data","pagination":{"cursor"}} ({} at the end)
    gcal/events?maxResults&pageToken[&echo=1]   {"kind","nextPageToken" | "nextSyncToken" (last
                                        page),"items"}; echo=1 adds {"query":{"updated_after"}}
    drf/items?limit&offset              {"count":n,"next","previous","results"} (DRF)
    feed/events?cursor[&more=1][&flags=s]  records 1..n on the first page, then empty pages,
                                        each with a fresh next_cursor (cursor <= 1000);
                                        more=1: "has_more":true; flags=s: "hasMore":"true"
ANY /status/<code>    status <code> (200..599) with body {"error":"status <code>"}; 204 and 304
                      have an empty body. Another code -> 400 {"error":"bad parameter code"}.
GET /fixture/<name>   the file test/data/rest/<name> (names of letters, digits, '_', '-', '.'
                      only), Content-Type from its extension (.json, .ndjson, else text/plain);
                      unknown name -> 404. For records of hand-written shapes (mixed types,
                      late fields, unicode) that the generated dataset does not have.
GET /_stats           {"requests":<total>,"by_path":{path:count},"token_requests":<k>}
                      (/_stats and /_reset are not counted; token_requests counts every
                      POST /oauth/token, accepted or not)
POST /_reset          resets fault counters, stats, tokens and the token counter -> {"ok":true}
Unknown path -> 404 {"error":"not found"}; a known path with another method ->
405 {"error":"method not allowed"} + Allow header; a handler exception ->
500 {"error":"internal error"} (the server keeps running, traceback on stderr).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime
import hmac
import json
import re
import signal
import sys
import threading
import time
import traceback
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import TCPServer
from urllib.parse import parse_qsl, urlencode

HOST = "127.0.0.1"
DEFAULT_RECORDS = 200_000
MAX_RECORDS = 2_000_000
MAX_PAGE_SIZE = 10_000
MAX_LATENCY_MS = 60_000
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_LIFETIME_CAP = 7 * 24 * 3600
PAGE_CACHE_BYTES = 768 * 1024 * 1024

API_KEY = "secret-key-123"
BEARER_TOKEN = "secret-token-456"
BASIC_USER = "alice"
BASIC_PASSWORD = "s3cret-pw"
CLIENT_ID = "etl-client"
CLIENT_SECRET = "client-secret-789"

JSON_CT = "application/json"
NDJSON_CT = "application/x-ndjson"
HTML_CT = "text/html; charset=utf-8"

# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------

_CITIES = (("Oslo", 5991, 1075), ("Lyon", 4576, 484), ("Porto", 4116, -861), ("Delft", 5201, 436),
           ("Turku", 6045, 2227), ("Gent", 5105, 372), ("Bern", 4695, 745), ("Riga", 5695, 2411))
_TAGS = ("eu", "us", "vip", "new", "pro", "beta", "trial", "ops")
# Pre-rendered fragments (floats via repr, exactly what json.dumps writes).
_CITY = [f'"address":{{"city":"{c}","zip":"' for c, _, _ in _CITIES]
_GEO = [[[f'"geo":{{"lat":{(lat + i - 20) / 100!r},"lon":{(lon + j - 20) / 100!r}}}}}'
          for j in range(41)] for i in range(41)] for _, lat, lon in _CITIES]
_SCORE = [f'"score":{((v // 9) * 10 + 1 + v % 9) / 100!r},' for v in range(9000)]
_TAGSETS = ['"tags":[' + ",".join(f'"{_TAGS[(f + 3 * i) & 7]}"' for i in range(c)) + "]}"
            for c in (1, 2) for f in range(8)]
_ACTIVE = ('"active":false,"created_at":"', '"active":true,"created_at":"')
_BASE_ORDINAL = datetime.date(2026, 1, 1).toordinal()
_DAYS: dict[int, str] = {}
_TWO = [f"{i:02d}" for i in range(100)]


def render_record(k: int) -> bytes:
    """The compact JSON bytes of record k (deterministic: same k, same bytes)."""
    h = (k * 0x9E3779B1) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 0x85EBCA77) & 0xFFFFFFFF
    h ^= h >> 13
    g = (h * 0xC2B2AE3D) & 0xFFFFFFFF
    g ^= g >> 16
    c = h & 7
    day, sec = divmod(k, 86400)
    hour, sec = divmod(sec, 3600)
    minute, sec = divmod(sec, 60)
    date = _DAYS.get(day)
    if date is None:
        date = _DAYS[day] = datetime.date.fromordinal(_BASE_ORDINAL + day).isoformat() + "T"
    ks = str(k)
    return "".join((
        '{"id":', ks, ',"name":"user_', ks, '","email":"user_', ks, '@example.com",',
        _SCORE[(g >> 3) % 9000], _ACTIVE[(h >> 22) & 1],
        date, _TWO[hour], ":", _TWO[minute], ":", _TWO[sec], 'Z",',
        _CITY[c], str(10000 + (h >> 9) % 90000), '",', _GEO[c][g % 41][(g >> 17) % 41], ",",
        _TAGSETS[(g >> 23) & 15],
    )).encode()


# --------------------------------------------------------------------------------------------
# Requests and responses
# --------------------------------------------------------------------------------------------


class BadParam(Exception):
    """A query/body parameter that is not acceptable -> 400 {"error":"bad parameter <name>"}."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class Request:
    __slots__ = ("method", "path", "raw_path", "items", "params", "headers", "body")

    def __init__(self, method, path, raw_path, items, headers, body):
        self.method = method
        self.path = path
        self.raw_path = raw_path
        self.items = items  # list of (name, value) in order
        self.params = dict(items)  # last value wins
        self.headers = headers
        self.body = body


# A response is a tuple (status, body bytes, content type, ((header, value), ...)).
def _dumps(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def json_response(obj, status: int = 200, headers=()) -> tuple:
    return (status, _dumps(obj), JSON_CT, tuple(headers))


def error_response(status: int, message: str, headers=()) -> tuple:
    return json_response({"error": message}, status, headers)


_INT_RE = re.compile(r"-?[0-9]{1,12}")
_TRUE = frozenset(("1", "true", "yes", "on"))


def int_param(params: dict, name: str, default: int, lo: int, hi: int | None = None,
              clamp: int | None = None) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    raw = raw.strip()
    if not _INT_RE.fullmatch(raw):
        raise BadParam(name)
    value = int(raw)
    if value < lo or (hi is not None and value > hi):
        raise BadParam(name)
    if clamp is not None and value > clamp:
        value = clamp
    return value


def flag(params: dict, name: str) -> bool:
    return params.get(name, "").strip().lower() in _TRUE


def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# --------------------------------------------------------------------------------------------
# The application (routing, state, caches)
# --------------------------------------------------------------------------------------------

# path -> (allowed methods, handler method name)
ROUTES = {
    "/offset/users": (("GET",), "ep_offset"),
    "/page/users": (("GET",), "ep_page"),
    "/cursor/users": (("GET",), "ep_cursor"),
    "/starting_after/users": (("GET",), "ep_starting_after"),
    "/link/users": (("GET",), "ep_link"),
    "/next/users": (("GET",), "ep_link"),
    "/odata/users": (("GET",), "ep_link"),
    "/header_link/users": (("GET",), "ep_header_link"),
    "/single/users": (("GET",), "ep_single"),
    "/ndjson/users": (("GET",), "ep_ndjson"),
    "/post/users": (("POST",), "ep_post"),
    "/echo": (None, "ep_echo"),
    "/auth/api_key_header/users": (("GET",), "ep_auth_api_key_header"),
    "/auth/api_key_query/users": (("GET",), "ep_auth_api_key_query"),
    "/auth/bearer/users": (("GET",), "ep_auth_bearer"),
    "/auth/basic/users": (("GET",), "ep_auth_basic"),
    "/auth/oauth2/users": (("GET",), "ep_auth_oauth2"),
    "/oauth/token": (("POST",), "ep_oauth_token"),
    "/faults/users": (("GET",), "ep_faults"),
    "/malformed/users": (("GET",), "ep_malformed"),
    "/html": (("GET",), "ep_html"),
    "/loop/cursor": (("GET",), "ep_loop_cursor"),
    "/loop/link": (("GET",), "ep_loop_link"),
    "/_stats": (("GET",), "ep_stats"),
    "/_reset": (("POST",), "ep_reset"),
}
UNCOUNTED = frozenset(("/_stats", "/_reset"))

_HTML = (b"<!DOCTYPE html>\n<html><head><title>Not JSON</title></head>\n"
         b"<body><h1>This is an HTML page</h1><p>Not the JSON you asked for.</p></body></html>\n")
_MALFORMED = b'{"data":[{"id":1,"na'
FIXTURE_DIR = Path(__file__).resolve().parent.parent / "test" / "data" / "rest"
_FIXTURE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class _Token:
    __slots__ = ("expires", "uses", "revoked")

    def __init__(self, expires: float):
        self.expires = expires
        self.uses = 0
        self.revoked = False


class MockApp:
    def __init__(self, records: int = DEFAULT_RECORDS, token_ttl: int = 3600):
        if not 0 <= records <= MAX_RECORDS:
            raise ValueError(f"records must be in 0..{MAX_RECORDS}")
        self.records = records
        self.token_ttl = token_ttl
        self.base_url = f"http://{HOST}"
        self._lock = threading.Lock()
        self._recs: list = [None]  # index k -> bytes of record k (index 0 unused)
        self._pages: dict = {}
        self._page_bytes = 0
        self.reset()

    # --- state ---------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.by_path: dict[str, int] = {}
            self.token_requests = 0
            self.tokens: dict[str, _Token] = {}
            self.token_counter = 0
            self.fault_counts: dict[tuple, int] = {}

    def count(self, path: str) -> None:
        if path in UNCOUNTED:
            return
        with self._lock:
            self.requests += 1
            self.by_path[path] = self.by_path.get(path, 0) + 1

    # --- record and page caches ----------------------------------------------------------

    def records_slice(self, first: int, last: int) -> list:
        """Cached bytes of records first..last (inclusive); [] when last < first."""
        if last < first:
            return []
        recs = self._recs
        if len(recs) <= last:
            with self._lock:
                if len(recs) <= last:
                    recs.extend([None] * (last + 1 - len(recs)))
        chunk = recs[first:last + 1]
        if None in chunk:
            for i, r in enumerate(chunk):
                if r is None:
                    chunk[i] = recs[first + i] = render_record(first + i)
        return chunk

    def prewarm(self, n: int | None = None) -> None:
        n = self.records if n is None else n
        for start in range(1, n + 1, 10_000):
            self.records_slice(start, min(start + 9_999, n))

    def cached(self, key, build):
        hit = self._pages.get(key)
        if hit is not None:
            return hit
        value = build()
        with self._lock:
            if self._page_bytes + len(value[1]) > PAGE_CACHE_BYTES:
                self._pages.clear()
                self._page_bytes = 0
            if key not in self._pages:
                self._pages[key] = value
                self._page_bytes += len(value[1])
        return value

    # --- parameter helpers ---------------------------------------------------------------

    def n_param(self, req: Request) -> int:
        return int_param(req.params, "n", self.records, 0, MAX_RECORDS)

    def _offset_args(self, req: Request):
        p = req.params
        return (self.n_param(req), int_param(p, "offset", 0, 0, 10**12),
                int_param(p, "limit", 100, 1, None, MAX_PAGE_SIZE))

    def _page_args(self, req: Request):
        p = req.params
        return (self.n_param(req), int_param(p, "page", 1, 1, 10**12),
                int_param(p, "per_page", 100, 1, None, MAX_PAGE_SIZE))

    def next_url(self, req: Request, path: str, page: int) -> str:
        items, replaced = [], False
        for name, value in req.items:
            if name == "page":
                if replaced:
                    continue
                value, replaced = str(page), True
            items.append((name, value))
        if not replaced:
            items.append(("page", str(page)))
        return f"{self.base_url}{path}?{urlencode(items)}"

    # --- pagination bodies ---------------------------------------------------------------

    def offset_page(self, n: int, offset: int, limit: int, omit_total=False, null_total=False,
                    empty=False, has_more=False):
        def build():
            data = b"" if empty else b",".join(self.records_slice(offset + 1, min(offset + limit, n)))
            total = b"" if omit_total else (b',"total":null' if null_total else b',"total":%d' % n)
            more = (b',"has_more":%s' % (b"true" if offset + limit < n else b"false")) if has_more else b""
            body = b'{"data":[%s]%s%s,"offset":%d,"limit":%d}' % (data, total, more, offset, limit)
            return (200, body, JSON_CT, ())
        return self.cached(("offset", n, offset, limit, omit_total, null_total, empty, has_more), build)

    def ep_offset(self, req: Request):
        n, offset, limit = self._offset_args(req)
        empty = offset == int_param(req.params, "empty_at", -1, 0, 10**12)
        return self.offset_page(n, offset, limit, flag(req.params, "omit_total"),
                                flag(req.params, "null_total"), empty, flag(req.params, "has_more"))

    def ep_page(self, req: Request):
        n, page, per_page = self._page_args(req)
        omit, null = flag(req.params, "omit_total"), flag(req.params, "null_total")
        empty = page == int_param(req.params, "empty_page", -1, 1, 10**12)

        def build():
            first = (page - 1) * per_page + 1
            data = b"" if empty else b",".join(self.records_slice(first, min(first + per_page - 1, n)))
            if omit:
                tail = b""
            elif null:
                tail = b',"total_pages":null,"total":null'
            else:
                tail = b',"total_pages":%d,"total":%d' % (-(-n // per_page), n)
            body = b'{"items":[%s],"page":%d,"per_page":%d%s}' % (data, page, per_page, tail)
            return (200, body, JSON_CT, ())
        return self.cached(("page", n, page, per_page, omit, null, empty), build)

    def ep_cursor(self, req: Request):
        n = self.n_param(req)
        limit = int_param(req.params, "limit", 100, 1, None, MAX_PAGE_SIZE)
        cursor = req.params.get("cursor", "").strip()
        offset, again = 0, False
        if cursor:
            try:
                raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            except (binascii.Error, ValueError):
                raise BadParam("cursor") from None
            m = re.fullmatch(r"offset:([0-9]{1,12})(:again)?", raw)
            if not m:
                raise BadParam("cursor")
            offset = int(m.group(1))
            again = m.group(2) is not None

        blank_at = int_param(req.params, "blank_at", -1, 0, 10**12)
        key = req.params.get("cursor_field", "next_cursor")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,40}", key):
            raise BadParam("cursor_field")
        has_more = not flag(req.params, "omit_has_more")
        if offset == int_param(req.params, "empty_at", -1, 0, 10**12) and not again:
            # An empty page whose cursor asks for the same records again (Slack does this).
            tail = b',"has_more":true' if has_more else b""
            body = b'{"results":[],"%s":"%s"%s}' % (key.encode(), _b64url(f"offset:{offset}:again").encode(), tail)
            return (200, body, JSON_CT, ())

        def build():
            data = b",".join(self.records_slice(offset + 1, min(offset + limit, n)))
            end = offset + limit
            cursor = _b64url(f"offset:{end}") if end != blank_at else ""
            tail = b'"%s"' % cursor.encode() if end < n else b"null"
            if has_more:
                tail += b',"has_more":%s' % (b"true" if end < n else b"false")
            body = b'{"results":[%s],"%s":%s}' % (data, key.encode(), tail)
            return (200, body, JSON_CT, ())
        return self.cached(("cursor", n, offset, limit, blank_at, key, has_more), build)

    def ep_starting_after(self, req: Request):
        n = self.n_param(req)
        limit = int_param(req.params, "limit", 100, 1, None, MAX_PAGE_SIZE)
        after = int_param(req.params, "starting_after", 0, 0, 10**12)

        def build():
            data = b",".join(self.records_slice(after + 1, min(after + limit, n)))
            more = b"true" if after + limit < n else b"false"
            return (200, b'{"data":[%s],"has_more":%s}' % (data, more), JSON_CT, ())
        return self.cached(("starting_after", n, after, limit), build)

    def ep_link(self, req: Request):
        n, page, per_page = self._page_args(req)
        path = req.path
        key = ("link", path, n, page, per_page, tuple(i for i in req.items if i[0] != "page"))

        def build():
            first = (page - 1) * per_page + 1
            data = b",".join(self.records_slice(first, min(first + per_page - 1, n)))
            nxt = self.next_url(req, path, page + 1) if page * per_page < n else None
            if path == "/link/users":
                body = b'{"data":[%s],"links":{"next":%s}}' % (data, _dumps(nxt))
            elif path == "/next/users":
                body = b'{"data":[%s],"next":%s}' % (data, _dumps(nxt))
            else:
                link = b',"@odata.nextLink":%s' % _dumps(nxt) if nxt else b""
                body = b'{"value":[%s]%s}' % (data, link)
            return (200, body, JSON_CT, ())
        return self.cached(key, build)

    def ep_header_link(self, req: Request):
        n, page, per_page = self._page_args(req)
        path = req.path
        key = ("header_link", n, page, per_page, tuple(i for i in req.items if i[0] != "page"))

        def build():
            first = (page - 1) * per_page + 1
            data = b",".join(self.records_slice(first, min(first + per_page - 1, n)))
            last = max(1, -(-n // per_page))
            links = []
            if page * per_page < n:
                links.append(f'<{self.next_url(req, path, page + 1)}>; rel="next"')
            links.append(f'<{self.next_url(req, path, last)}>; rel="last"')
            return (200, b"[%s]" % data, JSON_CT, (("Link", ", ".join(links)),))
        return self.cached(key, build)

    def ep_single(self, req: Request):
        n = self.n_param(req)
        return self.cached(("single", n), lambda: (
            200, b"[%s]" % b",".join(self.records_slice(1, n)), JSON_CT, ()))

    def ep_ndjson(self, req: Request):
        n = self.n_param(req)

        def build():
            recs = self.records_slice(1, n)
            return (200, b"\n".join(recs) + b"\n" if recs else b"", NDJSON_CT, ())
        return self.cached(("ndjson", n), build)

    def ep_post(self, req: Request):
        n = self.n_param(req)
        if req.body.strip():
            try:
                body = json.loads(req.body)
            except (ValueError, UnicodeDecodeError):
                return error_response(400, "invalid JSON body")
            if not isinstance(body, dict):
                return error_response(400, "invalid JSON body")
        else:
            body = {}

        def body_int(name, default, lo):
            value = body.get(name, default)
            if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise BadParam(name)
            return value
        offset = body_int("offset", 0, 0)
        limit = min(body_int("limit", 100, 1), MAX_PAGE_SIZE)
        data = b",".join(self.records_slice(offset + 1, min(offset + limit, n)))
        out = b'{"data":[%s],"total":%d,"echo":%s}' % (data, n, _dumps(body))
        return (200, out, JSON_CT, ())

    def ep_echo(self, req: Request):
        query: dict = {}
        for name, value in req.items:
            if name in query:
                prev = query[name]
                query[name] = prev + [value] if isinstance(prev, list) else [prev, value]
            else:
                query[name] = value
        headers: dict = {}
        for name, value in req.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        entry = {"method": req.method, "path": req.raw_path, "query": query, "headers": headers}
        if req.body:
            entry["body"] = req.body.decode("utf-8", "replace")
        return json_response({"data": [entry]})

    # --- auth ----------------------------------------------------------------------------

    @staticmethod
    def _same(presented: str | None, expected: str) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())

    @staticmethod
    def _bearer(req: Request) -> str | None:
        value = req.headers.get("Authorization", "")
        scheme, _, token = value.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    @staticmethod
    def _basic(req: Request):
        value = req.headers.get("Authorization", "")
        scheme, _, encoded = value.strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, ValueError):
            return None
        return (user, password) if sep else None

    def _authorised_offset(self, req: Request, ok: bool, challenge: str | None = None):
        if not ok:
            headers = (("WWW-Authenticate", challenge),) if challenge else ()
            return error_response(401, "unauthorized", headers)
        return self.ep_offset(req)

    def ep_auth_api_key_header(self, req: Request):
        return self._authorised_offset(req, self._same(req.headers.get("X-API-Key"), API_KEY))

    def ep_auth_api_key_query(self, req: Request):
        return self._authorised_offset(req, self._same(req.params.get("api_key"), API_KEY))

    def ep_auth_bearer(self, req: Request):
        return self._authorised_offset(req, self._same(self._bearer(req), BEARER_TOKEN),
                                       'Bearer realm="mock"')

    def ep_auth_basic(self, req: Request):
        creds = self._basic(req)
        ok = creds is not None and self._same(creds[0], BASIC_USER) & self._same(creds[1], BASIC_PASSWORD)
        return self._authorised_offset(req, ok, 'Basic realm="mock"')

    def ep_oauth_token(self, req: Request):
        with self._lock:
            self.token_requests += 1
        ttl = int_param(req.params, "ttl", self.token_ttl, 0, 10**9)
        ctype = req.headers.get("Content-Type", "").lower()
        form: dict = {}
        try:
            if ctype.startswith("application/json"):
                parsed = json.loads(req.body) if req.body.strip() else {}
                if not isinstance(parsed, dict):
                    return error_response(400, "invalid_request")
                form = {str(k): str(v) for k, v in parsed.items()}
            else:
                form = dict(parse_qsl(req.body.decode("utf-8"), keep_blank_values=True))
        except (ValueError, UnicodeDecodeError):
            return error_response(400, "invalid_request")
        creds = self._basic(req)
        if creds is None:
            creds = (form.get("client_id"), form.get("client_secret"))
        if not (self._same(creds[0], CLIENT_ID) & self._same(creds[1], CLIENT_SECRET)):
            return error_response(401, "invalid_client")
        if form.get("grant_type") != "client_credentials":
            return error_response(400, "unsupported_grant_type")
        with self._lock:
            self.token_counter += 1
            token = f"tok-{self.token_counter}"
            self.tokens[token] = _Token(time.monotonic() + ttl)
        out = {"access_token": token, "token_type": "Bearer", "expires_in": ttl}
        if form.get("scope"):
            out["scope"] = form["scope"]
        return json_response(out, 200, (("Cache-Control", "no-store"),))

    def ep_auth_oauth2(self, req: Request):
        revoke_after = int_param(req.params, "revoke_after", -1, 0, 10**9)
        token = self._bearer(req)
        if token is None:
            return error_response(401, "unauthorized", (("WWW-Authenticate", 'Bearer realm="mock"'),))
        now = time.monotonic()
        with self._lock:
            entry = self.tokens.get(token)
            ok = entry is not None and not entry.revoked and now < entry.expires
            if ok and revoke_after >= 0 and entry.uses >= revoke_after:
                entry.revoked = True
                ok = False
            if ok:
                entry.uses += 1
        if not ok:
            return error_response(401, "unauthorized",
                                  (("WWW-Authenticate", 'Bearer error="invalid_token"'),))
        return self.ep_offset(req)

    # --- faults and oddities -------------------------------------------------------------

    def ep_faults(self, req: Request):
        p = req.params
        n, offset, limit = self._offset_args(req)
        fail_times = int_param(p, "fail_times", 1, 0, 10**9)
        status = int_param(p, "status", 503, 400, 599)
        retry_after = int_param(p, "retry_after", -1, 0, 10**7)
        key = (p.get("key", ""), offset)
        with self._lock:
            seen = self.fault_counts.get(key, 0)
            fail = seen < fail_times
            if fail:
                self.fault_counts[key] = seen + 1
        if fail:
            headers = ()
            if retry_after >= 0:
                value = (formatdate(time.time() + retry_after, usegmt=True)
                         if flag(p, "retry_after_date") else str(retry_after))
                headers = (("Retry-After", value),)
            return error_response(status, "injected", headers)
        return self.offset_page(n, offset, limit, flag(p, "omit_total"), flag(p, "null_total"))

    def ep_malformed(self, req: Request):
        return (200, _MALFORMED, JSON_CT, ())

    def ep_html(self, req: Request):
        return (200, _HTML, HTML_CT, ())

    def ep_fixture(self, req: Request, name: str):
        if not _FIXTURE_NAME.fullmatch(name):
            return error_response(404, "not found")
        path = FIXTURE_DIR / name
        if not path.is_file():
            return error_response(404, "not found")
        if name.endswith(".json"):
            ctype = JSON_CT
        elif name.endswith(".ndjson"):
            ctype = "application/x-ndjson"
        else:
            ctype = "text/plain; charset=utf-8"
        return (200, path.read_bytes(), ctype, ())

    def ep_loop_cursor(self, req: Request):
        rec = self.records_slice(1, 1)[0]
        return (200, b'{"results":[%s],"next_cursor":"same","has_more":true}' % rec, JSON_CT, ())

    def ep_loop_link(self, req: Request):
        page = int_param(req.params, "page", 1, 1, MAX_RECORDS)
        rec = self.records_slice(page, page)[0]
        nxt = self.next_url(req, req.path, 2)
        return (200, b'{"data":[%s],"links":{"next":%s}}' % (rec, _dumps(nxt)), JSON_CT, ())

    def ep_status(self, req: Request, code_text: str):
        if not re.fullmatch(r"[0-9]{3}", code_text) or not 200 <= int(code_text) <= 599:
            raise BadParam("code")
        code = int(code_text)
        if code in (204, 304):
            return (code, b"", JSON_CT, ())
        return error_response(code, f"status {code}")

    # --- shapes of public APIs (pagination envelopes as their docs describe them) --------

    def _slice(self, n: int, offset: int, size: int) -> list:
        """Records offset+1..offset+size, clipped to 1..n."""
        return self.records_slice(offset + 1, min(offset + size, n))

    def _url(self, path: str, items) -> str:
        return f"{self.base_url}/shapes/{path}?{urlencode(items)}"

    def _replace(self, req: Request, **values) -> list:
        """The request's query items with some replaced (appended when absent)."""
        items, done = [], set()
        for name, value in req.items:
            if name in values:
                if name in done:
                    continue
                value = str(values[name])
                done.add(name)
            items.append((name, value))
        items.extend((k, str(v)) for k, v in values.items() if k not in done)
        return items

    @staticmethod
    def _token(offset: int, n: int) -> str:
        return _b64url(f"o:{offset}:{n}")

    @staticmethod
    def _untoken(token: str, name: str):
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        except (binascii.Error, ValueError):
            raise BadParam(name) from None
        m = re.fullmatch(r"o:([0-9]{1,12}):([0-9]{1,8})", raw)
        if not m:
            raise BadParam(name)
        return int(m.group(1)), min(int(m.group(2)), MAX_RECORDS)

    def ep_shape(self, req: Request, shape: str):
        p = req.params
        n = self.n_param(req)
        if shape in ("github/repos", "github/search"):
            # GitHub: page/per_page (max 100); Link: rel="prev", "next", "last", "first".
            # search: {"total_count", "incomplete_results", "items"}; serves at most `cap`
            # results (GitHub search stops at 1000) while total_count says n.
            page = int_param(p, "page", 1, 1, 10**9)
            per_page = int_param(p, "per_page", 30, 1, None, 100)
            served = min(n, int_param(p, "cap", n, 0, MAX_RECORDS))
            offset = (page - 1) * per_page
            data = b",".join(self._slice(served, offset, per_page))
            last = max(1, -(-served // per_page))
            links = []
            if page > 1:
                links.append(f'<{self.next_url(req, req.path, page - 1)}>; rel="prev"')
            if page < last:
                links.append(f'<{self.next_url(req, req.path, page + 1)}>; rel="next"')
                links.append(f'<{self.next_url(req, req.path, last)}>; rel="last"')
            if page > 1:
                links.append(f'<{self.next_url(req, req.path, 1)}>; rel="first"')
            headers = (("Link", ", ".join(links)),) if links else ()
            if shape == "github/repos":
                return (200, b"[%s]" % data, JSON_CT, headers)
            body = b'{"total_count":%d,"incomplete_results":false,"items":[%s]}' % (n, data)
            return (200, body, JSON_CT, headers)
        if shape == "stripe/customers":
            # Stripe: limit (1..100, default 10), starting_after=<id of the last object>.
            limit = int_param(p, "limit", 10, 1, 100)
            after = int_param(p, "starting_after", 0, 0, 10**12)
            data = b",".join(self._slice(n, after, limit))
            more = b"true" if after + limit < n else b"false"
            body = b'{"object":"list","url":"/v1/customers","has_more":%s,"data":[%s]}' % (more, data)
            return (200, body, JSON_CT, ())
        if shape == "graph/users":
            # Microsoft Graph / OData v4: $top, opaque $skiptoken in @odata.nextLink (absent on
            # the last page).
            top = int_param(p, "$top", 100, 1, 999)
            offset = self._untoken(p["$skiptoken"], "$skiptoken")[0] if "$skiptoken" in p else 0
            data = b",".join(self._slice(n, offset, top))
            nxt = b""
            if offset + top < n:
                url = self._url(shape, self._replace(req, **{"$skiptoken": self._token(offset + top, n)}))
                nxt = b',"@odata.nextLink":%s' % _dumps(url)
            ctx = b'"https://graph.microsoft.com/v1.0/$metadata#users"'
            return (200, b'{"@odata.context":%s,"value":[%s]%s}' % (ctx, data, nxt), JSON_CT, ())
        if shape == "salesforce/query" or shape.startswith("salesforce/query/"):
            # Salesforce: totalSize, done, nextRecordsUrl (a path; requests to it carry no
            # parameters) while done is false; records carry "attributes".
            batch = int_param(p, "batch", 10, 1, 2000)
            offset = 0
            if shape != "salesforce/query":
                m = re.fullmatch(r"salesforce/query/01gMOCK-([0-9]{1,12})-([0-9]{1,4})-([0-9]{1,8})", shape)
                if not m:
                    return error_response(404, "not found")
                offset, batch, n = int(m.group(1)), int(m.group(2)), min(int(m.group(3)), MAX_RECORDS)
            recs = [b'{"attributes":{"type":"Contact","url":"/services/data/v60.0/sobjects/Contact/%d"},%s'
                    % (offset + i + 1, r[1:]) for i, r in enumerate(self._slice(n, offset, batch))]
            done = offset + batch >= n
            nxt = b"" if done else b',"nextRecordsUrl":"/shapes/salesforce/query/01gMOCK-%d-%d-%d"' % (
                offset + batch, batch, n)
            body = b'{"totalSize":%d,"done":%s%s,"records":[%s]}' % (
                n, b"true" if done else b"false", nxt, b",".join(recs))
            return (200, body, JSON_CT, ())
        if shape == "hubspot/contacts":
            # HubSpot CRM v3: limit (max 100, default 10), after=<cursor>; paging.next.after and
            # paging.next.link ("?after=..." only); no "paging" on the last page.
            limit = int_param(p, "limit", 10, 1, 100)
            after = int_param(p, "after", 0, 0, 10**12)
            data = b",".join(self._slice(n, after, limit))
            paging = b""
            if after + limit < n:
                nxt = after + limit
                paging = b',"paging":{"next":{"after":"%d","link":"?after=%d"}}' % (nxt, nxt)
            return (200, b'{"results":[%s]%s}' % (data, paging), JSON_CT, ())
        if shape == "zendesk/tickets.json":
            # Zendesk offset pagination: page/per_page (max 100); next_page/previous_page URLs or
            # null; count = all records.
            page = int_param(p, "page", 1, 1, 10**9)
            per_page = int_param(p, "per_page", 100, 1, None, 100)
            data = b",".join(self._slice(n, (page - 1) * per_page, per_page))
            nxt = self._url(shape, self._replace(req, page=page + 1)) if page * per_page < n else None
            prev = self._url(shape, self._replace(req, page=page - 1)) if page > 1 else None
            body = b'{"tickets":[%s],"next_page":%s,"previous_page":%s,"count":%d}' % (
                data, _dumps(nxt), _dumps(prev), n)
            return (200, body, JSON_CT, ())
        if shape == "zendesk/users.json":
            # Zendesk cursor pagination: page[size] (max 100), page[after]; meta.has_more,
            # meta.after_cursor, links.next. links.next is given on the last page too: only
            # meta.has_more = false says it is the last.
            size = int_param(p, "page[size]", 100, 1, 100)
            offset = self._untoken(p["page[after]"], "page[after]")[0] if p.get("page[after]") else 0
            recs = self._slice(n, offset, size)
            more = offset + size < n
            after = self._token(offset + len(recs), n) if recs else None
            body = {"meta": {"has_more": more, "after_cursor": after,
                             "before_cursor": self._token(offset, n) if recs else None},
                    "links": {"next": self._url(shape, self._replace(req, **{"page[after]": after}))
                              if after else None, "prev": None}}
            out = b'{"users":[%s],%s' % (b",".join(recs), _dumps(body)[1:])
            return (200, out, JSON_CT, ())
        if shape == "shopify/products.json":
            # Shopify REST: limit (max 250, default 50), page_info in the Link header
            # (rel="previous" / rel="next"); page_info URLs carry only limit and page_info.
            limit = int_param(p, "limit", 50, 1, 250)
            offset = 0
            if "page_info" in p:
                offset, n = self._untoken(p["page_info"], "page_info")
            data = b",".join(self._slice(n, offset, limit))
            links = []
            if offset > 0:
                prev = self._url(shape, [("limit", limit), ("page_info", self._token(max(0, offset - limit), n))])
                links.append(f'<{prev}>; rel="previous"')
            if offset + limit < n:
                nxt = self._url(shape, [("limit", limit), ("page_info", self._token(offset + limit, n))])
                links.append(f'<{nxt}>; rel="next"')
            headers = (("Link", ", ".join(links)),) if links else ()
            return (200, b'{"products":[%s]}' % data, JSON_CT, headers)
        if shape == "jsonapi/articles":
            # JSON:API: page[number] / page[size]; top-level links self/first/prev/next/last,
            # next null on the last page; link_objects=1 sends links as {"href": ...}.
            number = int_param(p, "page[number]", 1, 1, 10**9)
            size = int_param(p, "page[size]", 10, 1, 100)
            recs = self._slice(n, (number - 1) * size, size)
            data = b",".join(b'{"type":"articles","id":"%d","attributes":%s}' % (
                (number - 1) * size + i + 1, r) for i, r in enumerate(recs))
            last = max(1, -(-n // size))

            def link(k):
                if k is None:
                    return None
                url = self._url(shape, self._replace(req, **{"page[number]": k}))
                return {"href": url} if flag(p, "link_objects") else url
            links = {"self": link(number), "first": link(1), "prev": link(number - 1 if number > 1 else None),
                     "next": link(number + 1 if number < last else None), "last": link(last)}
            body = b'{"data":[%s],"links":%s,"meta":{"total":%d}}' % (data, _dumps(links), n)
            return (200, body, JSON_CT, ())
        if shape == "notion/users":
            # Notion: page_size (max 100), start_cursor; next_cursor (null at the end), has_more.
            size = int_param(p, "page_size", 100, 1, 100)
            offset = self._untoken(p["start_cursor"], "start_cursor")[0] if p.get("start_cursor") else 0
            data = b",".join(self._slice(n, offset, size))
            more = offset + size < n
            nxt = _dumps(self._token(offset + size, n)) if more else b"null"
            body = b'{"object":"list","results":[%s],"next_cursor":%s,"has_more":%s,"type":"user","user":{}}' % (
                data, nxt, b"true" if more else b"false")
            return (200, body, JSON_CT, ())
        if shape == "jira/search":
            # Jira: startAt / maxResults (capped at 50 like Jira Cloud); total, isLast, values.
            start = int_param(p, "startAt", 0, 0, 10**12)
            asked = int_param(p, "maxResults", 50, 1, 10**6)
            size = min(asked, 50)
            data = b",".join(self._slice(n, start, size))
            body = b'{"startAt":%d,"maxResults":%d,"total":%d,"isLast":%s,"values":[%s]}' % (
                start, size, n, b"true" if start + size >= n else b"false", data)
            return (200, body, JSON_CT, ())
        if shape == "confluence/content":
            # Confluence: start / limit (max 25 here); _links.next is a path string (absent at
            # the end), under _links.base / _links.context.
            start = int_param(p, "start", 0, 0, 10**12)
            limit = int_param(p, "limit", 25, 1, None, 25)
            recs = self._slice(n, start, limit)
            links = {"base": self.base_url, "context": "", "self": "/shapes/confluence/content"}
            if start + limit < n:
                links["next"] = "/shapes/confluence/content?" + urlencode(self._replace(req, start=start + limit, limit=limit))
            body = b'{"results":[%s],"start":%d,"limit":%d,"size":%d,"_links":%s}' % (
                b",".join(recs), start, limit, len(recs), _dumps(links))
            return (200, body, JSON_CT, ())
        if shape == "twitter/tweets":
            # Twitter/X API v2: max_results (10..100), pagination_token; meta.next_token absent
            # on the last page.
            size = int_param(p, "max_results", 10, 1, None, 100)
            offset = self._untoken(p["pagination_token"], "pagination_token")[0] if p.get("pagination_token") else 0
            recs = self._slice(n, offset, size)
            meta = {"result_count": len(recs)}
            if offset + size < n:
                meta["next_token"] = self._token(offset + size, n)
            return (200, b'{"data":[%s],"meta":%s}' % (b",".join(recs), _dumps(meta)), JSON_CT, ())
        if shape == "twitch/streams":
            # Twitch Helix: first (max 100, default 20), after; pagination.cursor, {} at the end.
            size = int_param(p, "first", 20, 1, None, 100)
            offset = self._untoken(p["after"], "after")[0] if p.get("after") else 0
            recs = self._slice(n, offset, size)
            pag = {"cursor": self._token(offset + size, n)} if offset + size < n else {}
            return (200, b'{"data":[%s],"pagination":%s}' % (b",".join(recs), _dumps(pag)), JSON_CT, ())
        if shape == "gcal/events":
            # Google Calendar: maxResults (default 250), pageToken; nextPageToken while more,
            # nextSyncToken on the last page; echo=1 adds an echoed filter
            # {"query":{"updated_after":"2024-01-01"}}.
            size = int_param(p, "maxResults", 250, 1, None, 2500)
            offset = self._untoken(p["pageToken"], "pageToken")[0] if p.get("pageToken") else 0
            recs = self._slice(n, offset, size)
            head = {"kind": "calendar#events", "summary": "mock"}
            if flag(p, "echo"):
                head["query"] = {"updated_after": "2024-01-01"}
            if offset + size < n:
                head["nextPageToken"] = self._token(offset + size, n)
            else:
                head["nextSyncToken"] = "CPDAlvWDx70CEPDAlvWDx70CGAU="
            return (200, b'%s,"items":[%s]}' % (_dumps(head)[:-1], b",".join(recs)), JSON_CT, ())
        if shape == "drf/items":
            # Django REST framework LimitOffsetPagination: limit / offset; count, next, previous
            # (URLs or null), results.
            limit = int_param(p, "limit", 10, 1, None, 100)
            offset = int_param(p, "offset", 0, 0, 10**12)
            recs = self._slice(n, offset, limit)
            nxt = self._url(shape, self._replace(req, offset=offset + limit)) if offset + limit < n else None
            prev = self._url(shape, self._replace(req, offset=max(0, offset - limit))) if offset > 0 else None
            body = b'{"count":%d,"next":%s,"previous":%s,"results":[%s]}' % (
                n, _dumps(nxt), _dumps(prev), b",".join(recs))
            return (200, body, JSON_CT, ())
        if shape == "feed/events":
            # A feed: the first page holds records 1..n, every later page is empty with a fresh
            # next_cursor (cursor=<k>, at most 1000); more=1 adds "has_more":true everywhere,
            # flags=s sends "hasMore" as the string "true".
            k = int_param(p, "cursor", 0, 0, 1000)
            recs = self._slice(n, 0, n) if k == 0 else []
            body = {"next_cursor": str(k + 1)}
            if flag(p, "more"):
                body["has_more"] = True
            if p.get("flags") == "s":
                body["hasMore"] = "true"
            return (200, b'{"data":[%s],%s' % (b",".join(recs), _dumps(body)[1:]), JSON_CT, ())
        return error_response(404, "not found")

    def ep_stats(self, req: Request):
        with self._lock:
            out = {"requests": self.requests, "by_path": dict(self.by_path),
                   "token_requests": self.token_requests}
        return json_response(out)

    def ep_reset(self, req: Request):
        self.reset()
        return json_response({"ok": True})

    # --- dispatch ------------------------------------------------------------------------

    def dispatch(self, req: Request):
        route = ROUTES.get(req.path)
        if route is None:
            if req.path.startswith("/status/"):
                return self.ep_status(req, req.path[len("/status/"):])
            if req.path.startswith("/fixture/") and req.method == "GET":
                return self.ep_fixture(req, req.path[len("/fixture/"):])
            if req.path.startswith("/shapes/") and req.method == "GET":
                return self.ep_shape(req, req.path[len("/shapes/"):])
            return error_response(404, "not found")
        methods, name = route
        if methods is not None and req.method not in methods:
            return error_response(405, "method not allowed", (("Allow", ", ".join(methods)),))
        return getattr(self, name)(req)


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------

_REASONS = {s.value: s.phrase for s in HTTPStatus}


class _ClientError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class MockHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-rest/1"
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections are closed after this many seconds

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        if getattr(self.server, "verbose", False):
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(65537).split(b";", 1)[0].strip()
                try:
                    size = int(line, 16)
                except ValueError:
                    raise _ClientError(400, "bad chunked body") from None
                if size == 0:
                    while self.rfile.readline(65537).strip():
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise _ClientError(413, "body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            raise _ClientError(400, "bad Content-Length") from None
        if size < 0:
            raise _ClientError(400, "bad Content-Length")
        if size > MAX_BODY_BYTES:
            raise _ClientError(413, "body too large")
        return self.rfile.read(size) if size else b""

    def _write(self, status: int, body: bytes, ctype: str, headers=()) -> None:
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
                f"Server: {self.server_version}\r\n"
                f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"]
        for name, value in headers:
            head.append(f"{name}: {value}\r\n")
        if self.close_connection:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        self.wfile.write("".join(head).encode("latin-1") + body)

    def _handle(self) -> None:
        app: MockApp = self.server.app
        method = self.command
        status = 500
        try:
            try:
                body = self._read_body()
            except _ClientError as exc:
                self.close_connection = True
                status = exc.status
                self._write(status, _dumps({"error": exc.message}), JSON_CT)
                return
            raw_path, _, query = self.path.partition("?")
            if raw_path.startswith(("http://", "https://")):  # absolute-form request target
                raw_path = "/" + raw_path.split("://", 1)[1].partition("/")[2]
            path = raw_path.rstrip("/") or "/"
            app.count(path)
            try:
                items = parse_qsl(query, keep_blank_values=True)
                req = Request(method, path, raw_path, items, self.headers, body)
                latency = int_param(req.params, "latency_ms", 0, 0, MAX_LATENCY_MS)
                if latency:
                    time.sleep(latency / 1000)
                resp = app.dispatch(req)
            except BadParam as exc:
                resp = error_response(400, f"bad parameter {exc.name}")
            except Exception:  # noqa: BLE001 - any handler bug must become a 500, not a dead server
                traceback.print_exc(file=sys.stderr)
                resp = error_response(500, "internal error")
            status = resp[0]
            self._write(*resp)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        finally:
            if getattr(self.server, "verbose", False):
                self.log_message('"%s" %s', self.requestline, status)


class MockRestServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, port: int = 0, app: MockApp | None = None, verbose: bool = False):
        self.app = app if app is not None else MockApp()
        self.verbose = verbose
        super().__init__((HOST, port), MockHandler)
        self.base_url = f"http://{HOST}:{self.server_address[1]}"
        self.app.base_url = self.base_url

    def server_bind(self):
        # HTTPServer.server_bind would do a reverse DNS lookup (socket.getfqdn); not needed.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def start_server(port: int = 0, records: int = DEFAULT_RECORDS, token_ttl: int = 3600,
                 verbose: bool = False):
    """Start the server in a daemon thread; returns (server, base_url).

    Stop it with server.shutdown(); server.server_close(). server.app is the MockApp (state).
    """
    server = MockRestServer(port, MockApp(records, token_ttl), verbose)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="mock-rest-server", daemon=True)
    thread.start()
    server.thread = thread
    return server, server.base_url


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Deterministic mock REST API (see module docstring).")
    parser.add_argument("--host", default=HOST, choices=[HOST], help="always 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = ephemeral (default)")
    parser.add_argument("--records", type=int, default=DEFAULT_RECORDS,
                        help=f"default dataset size (0..{MAX_RECORDS}, default {DEFAULT_RECORDS})")
    parser.add_argument("--token-ttl", type=int, default=3600, help="OAuth2 token lifetime, seconds")
    parser.add_argument("--max-lifetime", type=_positive_int, default=3600,
                        help=f"exit after this many seconds (default 3600, at most {MAX_LIFETIME_CAP})")
    parser.add_argument("--prewarm", action="store_true",
                        help="render all records before printing LISTENING")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    if not 0 <= args.records <= MAX_RECORDS:
        parser.error(f"--records must be in 0..{MAX_RECORDS}")
    if args.token_ttl < 0:
        parser.error("--token-ttl must be >= 0")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be in 0..65535")
    lifetime = min(args.max_lifetime, MAX_LIFETIME_CAP)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    app = MockApp(args.records, args.token_ttl)
    if args.prewarm:
        app.prewarm()
    server = MockRestServer(args.port, app, args.verbose)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="mock-rest-server", daemon=True)
    thread.start()
    try:
        print(f"LISTENING {server.base_url}", flush=True)
    except (BrokenPipeError, OSError):
        pass
    deadline = time.monotonic() + lifetime
    # Poll rather than block in Event.wait: a signal handler must never need a lock the
    # main thread is holding.
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(0.1, remaining))
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
