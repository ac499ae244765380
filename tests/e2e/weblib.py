"""
weblib.py - what the web front end's tests share (PROTOCOL.md §9): the front
end as a process, a WebSocket client written from RFC 6455 alone (a
second implementation that checks ours, like lib.py's RPC helpers), and
a real browser: Debian's chromium driven through playwright-core by
tests/web/browser.mjs.

A missing chromium or node_modules fails the test with one line naming
`make deps`; it is never a silent skip.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading

import lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WEB_PAGE = r"Web page at :(\d+)"


def need_browser():
    """Fails, in one line, when what a browser test needs is missing."""
    missing = []
    if shutil.which("node") is None:
        missing.append("node")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(CHROMIUM)
    if not os.path.isdir(os.path.join(ROOT, "node_modules",
                                      "playwright-core")):
        missing.append("node_modules/playwright-core")
    if missing:
        raise AssertionError("the browser tests need %s: run `make deps`"
                             % ", ".join(missing))


class Front:
    """rpcchat --web 127.0.0.1:0 [ARGS] TARGET: a front end for TARGET."""

    def __init__(self, ctx, target, *args, start_timeout=10.0):
        self.cmd = lib.wrapper() + [ctx.rpcchat, "--web", "127.0.0.1:0"] + \
            [str(a) for a in args] + [target]
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self._err = lib._LineReader(self.proc.stderr, "front-stderr")
        _, m = self._err.wait(WEB_PAGE, start_timeout)
        if not m:
            self.proc.kill()
            raise AssertionError("%s did not log %r; its stderr:\n%s"
                                 % (" ".join(self.cmd), WEB_PAGE,
                                    "\n".join(self.log[-20:])))
        self.port = int(m.group(1))
        self.url = "http://127.0.0.1:%d/" % self.port

    @property
    def log(self):
        return self._err.snapshot()

    def wait_log(self, regex, timeout=5.0):
        _, m = self._err.wait(regex, timeout)
        if not m:
            raise AssertionError("front end: no log line matching %r; log:\n%s"
                                 % (regex, "\n".join(self.log[-20:])))
        return m

    def stop(self, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(lib.scaled(timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("the front end did not stop within %ss"
                                 % timeout)
        assert rc == 0, "the front end exited %d; log:\n%s" % (
            rc, "\n".join(self.log[-20:]))

    def __enter__(self):
        return self

    def __exit__(self, exc, *rest):
        if exc is None:
            self.stop()
        elif self.proc.poll() is None:
            self.proc.kill()
        return False


def page_port(server):
    """The page's port of a server started with --web."""
    return int(server.wait_log(WEB_PAGE, 10).group(1))


# -- a WebSocket client (RFC 6455), for what a browser will not send ------

class WS:
    def __init__(self, port, origin="same", path="/ws", host=None,
                 timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=lib.scaled(timeout))
        host = host or "127.0.0.1:%d" % port
        if origin == "same":
            origin = "http://" + host
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: " + host,
                 "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        if origin is not None:
            lines.append("Origin: " + origin)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            b = self.sock.recv(4096)
            if not b:
                break
            head += b
        head, _, self.buf = head.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1]) if head else 0
        self.headers = head.decode("latin-1")
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1(
                (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
            ).digest()).decode()
            assert re.search(r"(?im)^Sec-WebSocket-Accept: %s\r?$"
                             % re.escape(want), self.headers), self.headers

    def send_frame(self, opcode, payload, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def send(self, text):
        self.send_frame(1, text.encode() if isinstance(text, str) else text)

    def _read(self, n):
        while len(self.buf) < n:
            b = self.sock.recv(65536)
            if not b:
                raise EOFError("the front end closed the WebSocket")
            self.buf += b
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        """(opcode, payload) of the next frame."""
        b0, b1 = self._read(2)
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack(">H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8))[0]
        return b0 & 0x0f, self._read(n)

    def recv(self):
        """The next JSON message; ('close', code) for a close frame."""
        while True:
            op, payload = self.frame()
            if op == 1:
                return json.loads(payload)
            if op == 8:
                code = struct.unpack(">H", payload[:2])[0] if payload else 0
                return ("close", code)

    def until(self, pred, what, limit=500):
        for _ in range(limit):
            m = self.recv()
            if isinstance(m, tuple):
                raise AssertionError("closed (%d) waiting for %s" % (m[1],
                                                                     what))
            if pred(m):
                return m
        raise AssertionError("no %s in %d messages" % (what, limit))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def login(port, name, **kw):
    """A WebSocket logged in as name; returns it and the session message."""
    ws = WS(port, **kw)
    assert ws.status == 101, ws.headers
    ws.send("login " + name)
    m = ws.until(lambda m: m["t"] in ("session", "refused"), "a session")
    assert m["t"] == "session", m
    return ws, m


# -- a real browser -------------------------------------------------------

class Browser:
    """Chromium, through tests/web/browser.mjs; tabs are named by id."""

    def __init__(self):
        need_browser()
        self.proc = subprocess.Popen(
            ["node", os.path.join(ROOT, "tests", "web", "browser.mjs")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=ROOT,
            env=dict(os.environ, CHROMIUM=CHROMIUM))
        self._err = lib._LineReader(self.proc.stderr, "browser-stderr")
        self.lock = threading.Lock()
        hello = self._answer(60)
        assert hello.get("ready"), hello
        print("browser: Chromium %s, playwright-core %s"
              % (hello["chromium"], hello["playwright"]), flush=True)

    def _answer(self, timeout):
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("the browser driver died:\n%s"
                                 % "\n".join(self._err.snapshot()[-20:]))
        return json.loads(line)

    def do(self, op, tab=None, **kw):
        kw["op"] = op
        if tab is not None:
            kw["id"] = tab
        self.proc.stdin.write((json.dumps(kw) + "\n").encode())
        self.proc.stdin.flush()
        a = self._answer(60)
        if not a.get("ok"):
            raise AssertionError("browser %s %s: %s" % (op, tab,
                                                        a.get("error")))
        return a

    def open(self, tab, url, **kw):
        self.do("open", tab, url=url, **kw)

    def login(self, tab, name):
        self.do("login", tab, name=name)
        self.wait_js(tab, "!document.getElementById('chat').hidden")

    def type(self, tab, text):
        self.do("type", tab, text=text)

    def wait(self, tab, text, seconds=10):
        self.do("wait", tab, text=text, ms=int(lib.scaled(seconds) * 1000))

    def wait_js(self, tab, js, seconds=10):
        self.do("waitjs", tab, js=js, ms=int(lib.scaled(seconds) * 1000))

    def eval(self, tab, js):
        return self.do("eval", tab, js=js)["value"]

    def lines(self, tab):
        return self.eval(tab, "[...document.querySelectorAll('#log li')]"
                         ".map(li => li.querySelector('.text').textContent)")

    def users(self, tab):
        return self.eval(tab, "[...document.querySelectorAll('#users "
                         "button')].map(b => b.textContent)")

    def seen(self, tab):
        return self.do("seen", tab)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'{"op":"quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(lib.scaled(20))
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
