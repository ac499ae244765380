"""
The web front end against what a browser would never send (PROTOCOL.md §9):
a WebSocket from a foreign origin, broken handshakes, oversized and
binary messages, more sessions than allowed, a slow HTTP client, and
--max-connections counting WebSockets; plus the security headers of every
response.  A WebSocket client written from RFC 6455 (weblib.WS), no
browser.
"""

import re
import socket
import time
import urllib.error
import urllib.request

import lib
import weblib
from lib import LIST, ok
from weblib import WS, Front, login


def get(port, path="/", method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=lib.scaled(10)) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_web_headers_and_paths(ctx):
    with lib.Server(ctx, "--web", "127.0.0.1:0") as srv:
        port = weblib.page_port(srv)
        for path, kind in [("/", "text/html"), ("/chat.js", "text/javascript"),
                           ("/chat.css", "text/css")]:
            status, h, body = get(port, path)
            assert status == 200 and h["Content-Type"].startswith(kind), h
            csp = h["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in csp, csp
            assert "script-src 'self'" in csp and "unsafe" not in csp, csp
            assert h["X-Content-Type-Options"] == "nosniff", h
        _, _, page = get(port, "/")
        # No inline script or style: the CSP would refuse it anyway.
        assert b"<script>" not in page and b"style=" not in page
        assert b"<style" not in page and b" on" not in page.lower()
        assert get(port, "/nothing")[0] == 404
        assert get(port, "/", "POST")[0] == 405
        assert get(port, "/ws")[0] == 400


def test_web_foreign_origin_refused(ctx):
    with lib.Server(ctx, "--web", "127.0.0.1:0", "--web-origin",
                    "https://chat.example") as srv:
        port = weblib.page_port(srv)
        for origin in ["http://evil.example", None, "null",
                       "http://127.0.0.1:1"]:
            ws = WS(port, origin=origin)
            assert ws.status == 403, (origin, ws.headers)
            ws.close()
        srv.wait_log(r"web: refused a WebSocket from 127\.0\.0\.1:\d+: "
                     r"http://evil\.example")
        for origin in ["same", "https://chat.example"]:
            ws = WS(port, origin=origin)
            assert ws.status == 101, (origin, ws.headers)
            ws.close()


def test_web_bad_messages_close_the_socket(ctx):
    with lib.Server(ctx, "--web", "127.0.0.1:0") as srv:
        port = weblib.page_port(srv)
        ws = WS(port)
        ws.send("x" * 70000)
        assert ws.recv() == ("close", 1009)
        ws = WS(port)
        ws.send_frame(2, b"\x00\x01")
        assert ws.recv() == ("close", 1003)
        ws = WS(port)
        ws.send("hello?")
        assert ws.recv() == ("close", 1008)
        ws = WS(port)
        ws.send("resume " + "0" * 32 + " 0")
        assert ws.recv() == {"t": "expired"}
        ws.send("login no such name")
        m = ws.recv()
        assert m["t"] == "refused" and "neither a letter" in m["why"], m
        # Logins and resumes without end: each looks at every session.
        for _ in range(20):
            ws.send("resume " + "1" * 32 + " 0")
        for _ in range(30):
            m = ws.recv()
            if isinstance(m, tuple):
                break
        assert m == ("close", 1008), m
        # A whole Say still fits in one message.
        ws2, _ = login(port, "big")
        ws2.send("line " + "y" * (lib.TEXT_MAX - len("big says ")))
        ws2.until(lambda m: m["t"] == "line" and m["text"].startswith(
            "big says yyy") and len(m["text"]) == lib.TEXT_MAX, "the Say")
        assert srv.running()


def test_web_session_limits(ctx):
    with lib.Server(ctx, "--web", "127.0.0.1:0", "--web-max-sessions", "2",
                    "--web-max-per-address", "2") as srv:
        port = weblib.page_port(srv)
        a, _ = login(port, "one")
        b, _ = login(port, "two")
        ws = WS(port)
        ws.send("login three")
        m = ws.until(lambda m: m["t"] == "refused", "a refusal")
        assert "--web-max-sessions" in m["why"], m
    with lib.Server(ctx, "--web", "127.0.0.1:0",
                    "--web-max-per-address", "1") as srv:
        port = weblib.page_port(srv)
        a, _ = login(port, "one")
        ws = WS(port)
        ws.send("login two")
        m = ws.until(lambda m: m["t"] == "refused", "a refusal")
        assert "--web-max-per-address" in m["why"], m


def test_web_slow_http_client_cut_off(ctx):
    with lib.Server(ctx, "--web", "127.0.0.1:0", "--read-timeout", "1") as srv:
        port = weblib.page_port(srv)
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(lib.scaled(10))
        start = time.monotonic()
        # A byte now and then: idle never, complete never.
        for _ in range(40):
            try:
                s.sendall(b"G")
                time.sleep(0.1)
            except OSError:
                break
        try:
            data = s.recv(100)
        except OSError:
            data = b""
        assert data == b"" or data.startswith(b"HTTP/1.1 4"), data
        assert time.monotonic() - start < lib.scaled(8)
        s.close()


def test_web_max_connections_counts_websockets(ctx):
    with lib.Server(ctx, "--web", "127.0.0.1:0", "--max-connections",
                    "3") as srv:
        port = weblib.page_port(srv)
        socks = [WS(port) for _ in range(3)]
        assert all(w.status == 101 for w in socks)
        try:
            lib.call(srv.port, LIST, timeout=3)
            refused = False
        except (lib.ProtocolError, OSError):
            refused = True
        assert refused, "an RPC connection beyond --max-connections"
        for w in socks:
            w.close()
        lib.wait_until(lambda: _lists(srv.port), 10, "room again")


def _lists(port):
    try:
        ok(lib.call(port, LIST, timeout=3))
        return True
    except (lib.ProtocolError, OSError):
        return False


def test_web_front_end_logs_out_on_sigterm(ctx):
    with lib.Server(ctx) as srv:
        front = Front(ctx, "127.0.0.1:%d" % srv.port)
        ws, _ = login(front.port, "alice")
        lib.wait_until(lambda: "alice" in ok(lib.call(srv.port, LIST)), 10,
                       "alice in")
        front.stop()
        assert "alice" not in ok(lib.call(srv.port, LIST))
        ws.close()


@lib.timeout(90)
def test_bench_web_mode(ctx):
    """rpcchat-bench --web-sessions: tabs logged in, measured, all shown."""
    import subprocess
    with lib.Server(ctx) as srv, \
            Front(ctx, "127.0.0.1:%d" % srv.port, "--web-max-per-address",
                  "40") as front:
        p = subprocess.run([ctx.bench, "--web-sessions", "20", "--web-pid",
                            str(front.proc.pid), "-d", "1",
                            "127.0.0.1:%d" % front.port],
                           capture_output=True, timeout=lib.scaled(60))
        out = p.stdout.decode()
        assert p.returncode == 0, out + p.stderr.decode()
        assert "web sessions: 20 live of 20 (0 failed)" in out, out
        assert re.search(r"memory: [\d.]+ KiB a session", out), out
        assert re.search(r"cpu polling: [\d.]+ us", out), out
        m = re.search(r"(\d+) Says, (\d+) lines shown", out)
        assert m and int(m.group(2)) == 20 * int(m.group(1)), out


def test_web_usage_errors(ctx):
    import subprocess
    for args, says in [
            (["--web", ":0", "--no-color", "127.0.0.1:1"],
             "--no-color is an option of the terminal client"),
            (["--web-origin", "x", "3410"], "--web-origin needs --web"),
            (["--web", ":0", "127.0.0.1:1", "bob"], "--web serves a page"),
            (["--web", ":0", "--web-session-bytes", "1K", "127.0.0.1:1"],
             "at least 128K")]:
        p = subprocess.run([ctx.rpcchat] + args, capture_output=True,
                           timeout=lib.scaled(10))
        assert p.returncode == 2, (args, p.returncode)
        assert says in p.stderr.decode(), (args, p.stderr)


def test_web_unreachable_target_refuses_login(ctx):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with Front(ctx, "127.0.0.1:%d" % port) as front:
        ws = WS(front.port)
        ws.send("login alice")
        m = ws.until(lambda m: m["t"] == "refused", "a refusal")
        assert "cannot reach the server at 127.0.0.1:%d" % port in m["why"] \
            or "did not answer a List" in m["why"], m
        ws.close()


def test_web_oversized_headers_refused(ctx):
    with lib.Server(ctx, "--web", "127.0.0.1:0") as srv:
        port = weblib.page_port(srv)
        s = socket.create_connection(("127.0.0.1", port),
                                     timeout=lib.scaled(10))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nCookie: " + b"c" * 20000 +
                  b"\r\n\r\n")
        got = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
        except OSError:
            pass
        s.close()
        assert got == b"" or got.split(b" ")[1] in (b"400", b"413", b"431"), \
            got[:100]
        assert get(port, "/")[0] == 200
