"""rest_scan's waits, cancellation and page memory against a misbehaving 127.0.0.1 server
([H1], [U1], [C2] of the adversarial review).

What the C API v1 allows (docs/design.md): DuckDB checks the interrupt flag only between calls
into our scan function, and destroys our state (which cancels every task) once a call returns.
So an interrupt is seen within about a second while pages flow, and a stalled server holds the
query at most as long as its page's documented time budget (timeout x attempts + capped sleeps).
Every test bounds its own waits; the server's handlers never block longer than STALL_LIMIT."""

import gzip
import json
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import duckdb
import pytest

STALL_LIMIT = 30.0  # no handler ever sleeps longer than this


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.requests = []  # (monotonic time, path)
        self.stop = threading.Event()
        self.bomb = None

    def count(self, prefix=""):
        with self.lock:
            return sum(1 for _, p in self.requests if p.startswith(prefix))


def gzip_bomb(inflated: int) -> bytes:
    """A gzip body of `inflated` bytes (`[`, spaces, `]`: valid JSON), a few hundred KB on the wire."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b" " * (1 << 20)
    parts = [z.compress(b"[")]
    for _ in range(inflated // len(chunk)):
        parts.append(z.compress(chunk))
    parts.append(z.compress(b"]"))
    parts.append(z.flush())
    return b"".join(parts)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, obj, status=200, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        server = self.server
        with server.lock:
            server.requests.append((time.monotonic(), url.path))
        if url.path == "/slow":
            # Endless offset pages of 10 records, each answered after `delay` seconds.
            server.stop.wait(float(q.get("delay", "0.2")))
            offset = int(q.get("offset", "0"))
            rows = [{"id": offset + i} for i in range(10)]
            self.send_json({"data": rows, "total": 10**9})
        elif url.path == "/stall_after_first":
            # The first page answers; every later page stalls (until the test ends).
            if int(q.get("offset", "0")) > 0:
                server.stop.wait(STALL_LIMIT)
            self.send_json({"data": [{"id": 1}] * 10, "total": 10**9})
        elif url.path == "/stall":
            server.stop.wait(STALL_LIMIT)
            self.send_json({"data": []})
        elif url.path == "/retry_after":
            self.send_json({"error": "slow down"}, status=429, headers=[("Retry-After", q.get("s", "300"))])
        elif url.path in ("/bomb", "/bomb_later", "/bomb_404"):
            if url.path == "/bomb_later" and int(q.get("offset", "0")) == 0:
                # The sample page is small; every later page (fetched during the scan,
                # `concurrency` at a time) is the bomb.
                return self.send_json({"data": [{"id": i} for i in range(10)], "total": 10**9})
            body = server.bomb
            self.send_response(404 if url.path == "/bomb_404" else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif url.path == "/small":
            self.send_json({"data": [{"id": i} for i in range(int(q.get("n", "10")))]})
        else:
            self.send_json({"error": "not found"}, status=404)


@pytest.fixture()
def server():
    s = Server()
    t = threading.Thread(target=s.serve_forever, daemon=True)
    t.start()
    yield s, f"http://127.0.0.1:{s.server_address[1]}"
    s.stop.set()
    s.shutdown()
    s.server_close()


def run_interrupted(con, sql, after):
    """Runs `sql`, interrupting it `after` seconds in; returns (exception, seconds after the interrupt)."""
    fired = []

    def interrupt():
        fired.append(time.monotonic())
        con.interrupt()

    timer = threading.Timer(after, interrupt)
    timer.start()
    try:
        con.execute(sql).fetchall()
        error = None
    except Exception as e:  # noqa: BLE001 - the test inspects it
        error = e
    ended = time.monotonic()
    timer.cancel()
    assert fired, f"the query ended before the interrupt ({error})"
    return error, ended - fired[0]


def open_client_sockets(server):
    """ESTABLISHED TCP connections of this host whose remote end is the test server."""
    port = server.server_address[1]
    lines = open("/proc/net/tcp").read().splitlines()[1:]
    return sum(1 for f in (line.split() for line in lines) if int(f[2].split(":")[1], 16) == port and f[3] == "01")


def requests_after(server, prefix, settle=1.0, watch=2.0):
    """Requests to `prefix` that start more than `settle` s from now, within `watch` s."""
    time.sleep(settle)
    before = server.count(prefix)
    time.sleep(watch)
    return server.count(prefix) - before


@pytest.mark.parametrize("concurrency", [1, 4])
def test_interrupt_while_pages_flow_ends_the_query_within_a_second_and_stops_every_request(server, con, concurrency):
    srv, base = server
    sql = (
        f"SELECT count(*) FROM rest_scan('{base}/slow', paginator := 'offset', page_size := 10, "
        f"sample_size := 10, concurrency := {concurrency}, params := {{'delay': '0.2'}})"
    )
    error, late = run_interrupted(con, sql, after=1.5)
    assert isinstance(error, duckdb.InterruptException), repr(error)
    # pages arrive every 0.2 s; the bound leaves room for a loaded machine
    assert late < 2.5, f"the interrupt took {late:.1f} s to end the query"
    assert requests_after(srv, "/slow") == 0, "requests went on after the query was cancelled"
    assert open_client_sockets(srv) == 0, "connections to the server stayed open after the cancel"


def test_rows_that_are_ready_are_returned_without_waiting_for_a_stalled_next_page(server, con):
    # The first page's 10 rows satisfy the LIMIT: the scan hands them over at once (it never
    # waits to fill a 2,048-row chunk), so the stalled second page costs nothing and is cancelled.
    srv, base = server
    start = time.monotonic()
    rows = con.execute(
        f"SELECT id FROM rest_scan('{base}/stall_after_first', paginator := 'offset', page_size := 10, "
        "sample_size := 10, concurrency := 2, timeout := 20) LIMIT 10"
    ).fetchall()
    assert len(rows) == 10
    assert time.monotonic() - start < 5, "the scan waited for the stalled page"
    assert requests_after(srv, "/stall_after_first", settle=0.5) == 0


def test_interrupt_during_a_stalled_page_ends_within_the_pages_time_budget_and_leaves_nothing_running(server, con):
    # C API v1 cannot wake a scan call blocked on a silent server: the query ends when the page's
    # budget (timeout x max_attempts + backoff) is spent, with that page's error, and then no
    # request is made any more.
    srv, base = server
    sql = (
        f"SELECT count(*) FROM rest_scan('{base}/stall_after_first', paginator := 'offset', page_size := 10, "
        "sample_size := 10, concurrency := 4, timeout := 1, max_attempts := 2, retry_base_delay := 0.1, "
        "retry_max_delay := 0.1)"
    )
    error, late = run_interrupted(con, sql, after=0.5)
    assert error is not None
    assert late < 5, f"a stalled page held the query {late:.1f} s after the interrupt (budget: 2 x 1 s + 0.1 s)"
    assert "timed out" in str(error) or isinstance(error, duckdb.InterruptException), str(error)
    assert requests_after(srv, "/stall_after_first", settle=0.5) == 0


def test_retry_after_beyond_the_cap_fails_at_once_naming_the_wait_the_cap_and_the_option(server, con):
    srv, base = server
    start = time.monotonic()
    with pytest.raises(duckdb.Error) as err:
        con.execute(f"SELECT * FROM rest_scan('{base}/retry_after', params := {{'s': '300'}})").fetchall()
    assert time.monotonic() - start < 5
    text = str(err.value)
    assert "Retry-After" in text and "300 s" in text, text
    assert "60 s" in text and "max_retry_after" in text, text
    assert srv.count("/retry_after") == 1


def test_retry_after_within_a_raised_cap_is_waited_then_retried(server, con):
    srv, base = server
    start = time.monotonic()
    with pytest.raises(duckdb.Error) as err:
        con.execute(
            f"SELECT * FROM rest_scan('{base}/retry_after', params := {{'s': '1'}}, max_attempts := 2, "
            "max_retry_after := 2)"
        ).fetchall()
    assert 0.9 < time.monotonic() - start < 10
    assert "gave up after 2 attempts" in str(err.value), str(err.value)
    assert srv.count("/retry_after") == 2


PEAK_SCRIPT = textwrap.dedent(
    """
    import sys, duckdb
    def hwm():
        for line in open('/proc/self/status'):
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    con = duckdb.connect(config={'allow_unsigned_extensions': 'true'})
    con.execute(f"LOAD '{sys.argv[1]}'")
    con.execute(f"SELECT * FROM rest_scan('{sys.argv[2]}/small')").fetchall()
    before = hwm()
    try:
        con.execute(f"SELECT * FROM rest_scan('{sys.argv[2]}/{sys.argv[3]}' {sys.argv[4]})").fetchall()
        print('NO ERROR')
    except duckdb.Error as e:
        print('ERROR', str(e).splitlines()[0])
    print('GROWTH', hwm() - before)
    """
)

INFLATED = 512 << 20


def bomb_peak(extension, base, path, options=""):
    out = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(extension), base, path, options],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.strip().splitlines())
    return lines, int(lines["GROWTH"])


@pytest.mark.parametrize(
    "path, options, limit",
    [
        # at bind (the sample page), with a small limit and with the default (32 MiB)
        ("bomb", ", max_page_bytes := 1048576", 1 << 20),
        ("bomb", "", 32 << 20),
        # during the scan, 8 bombs in flight at once: the bound is concurrency x max_page_bytes
        ("bomb_later", ", paginator := 'offset', page_size := 10, sample_size := 10, concurrency := 8, "
         "max_page_bytes := 4194304", 4 << 20),
    ],
)
def test_a_gzip_body_inflating_past_max_page_bytes_fails_while_read_and_memory_stays_bounded(
    server, extension, path, options, limit
):
    srv, base = server
    srv.bomb = gzip_bomb(INFLATED)
    assert len(srv.bomb) < 2 << 20
    lines, growth = bomb_peak(extension, base, path, options)
    assert "ERROR" in lines, lines
    error = lines["ERROR"]
    assert "max_page_bytes" in error and f"({limit} bytes)" in error and f"/{path}" in error, error
    in_flight = 8 if path == "bomb_later" else 1
    bound = in_flight * limit + (48 << 20)
    assert growth < bound, (
        f"peak RSS grew by {growth >> 20} MiB for a {INFLATED >> 20} MiB inflation (bound {bound >> 20} MiB)"
    )


def test_an_error_body_inflating_hugely_is_read_only_for_its_quoted_start(server, extension):
    srv, base = server
    srv.bomb = gzip_bomb(INFLATED)
    lines, growth = bomb_peak(extension, base, "bomb_404")
    assert "HTTP 404 Not Found from" in lines.get("ERROR", ""), lines
    assert growth < 48 << 20, f"peak RSS grew by {growth >> 20} MiB for an error body"


def test_a_normal_gzip_page_reads_as_before(server, con):
    srv, base = server
    rows = [{"id": i, "name": "x" * 50} for i in range(2000)]
    srv.bomb = gzip.compress(json.dumps(rows).encode())
    got = con.execute(f"SELECT count(*), sum(id) FROM rest_scan('{base}/bomb')").fetchone()
    assert got == (2000, sum(range(2000)))

