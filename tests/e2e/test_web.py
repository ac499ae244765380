"""
The chat in a real browser (PROTOCOL.md §9): headless Chromium, through
playwright-core, on the page of `rpcchat --web`, chatting with the
terminal client and with other tabs; hostile text from a scripted server
shown as text and nothing else; a reload resuming the session; a closed
tab logged out after the grace period and not before; a server that
restarts under the page; a server of the 2023 generation.

The screenshot of two people chatting goes to build/web-chat.png; with
RPCCHAT_UPDATE_SCREENSHOT=1 it is copied to docs/web-chat.png too.
Under valgrind only the first two run (the others are marked slow): the
front end's paths they share are covered, at a few minutes' cost.
"""

import contextlib
import os
import re
import shutil
import time

import lib
import weblib
from lib import LIST, REGISTER, SAY, TELL, ok
from weblib import Browser, Front

from fakeserver import FakeServer

GRACE = 5.0     # WEB_GRACE_MS


def users_on(port, wire="framed"):
    return ok(lib.call(port, LIST, wire=wire))


@contextlib.contextmanager
def chat(ctx, tab="a", name="alice", width=None):
    """Our server, a front end for it, and a tab logged in as name."""
    with lib.Server(ctx) as srv, \
            Front(ctx, "127.0.0.1:%d" % srv.port) as front, Browser() as b:
        b.open(tab, front.url, **({"width": width} if width else {}))
        if name is not None:
            b.login(tab, name)
        yield srv, front, b


@lib.timeout(120)
def test_web_three_people_chat(ctx):
    """Two tabs and a terminal client, every direction, a /tell each way."""
    with chat(ctx) as (srv, front, b):
        b.open("b", front.url)
        b.login("b", "bob")
        carol = lib.Client(ctx, srv.port, "carol")
        carol.expect(r"users? logged in")
        b.wait("a", "carol has logged in")
        b.type("a", "hello from the browser")
        b.wait("b", "alice says hello from the browser")
        carol.expect(r"^alice says hello from the browser$")
        carol.send("say hello from the terminal")
        b.wait("a", "carol says hello from the terminal")
        b.wait("b", "carol says hello from the terminal")
        b.type("b", "/tell alice psst, alice")
        b.wait("a", "bob tells you psst, alice")
        carol.send("tell bob only for bob")
        b.wait("b", "carol tells you only for bob")
        b.type("a", "/msg carol only for carol")
        carol.expect(r"^alice tells you only for carol$")
        assert "only for bob" not in " ".join(b.lines("a"))
        # A private line is marked, a notice styled apart.
        kinds = b.eval("a", "[...document.querySelectorAll('#log li')]"
                       ".map(li => li.className + ':' + "
                       "li.querySelector('.text').textContent)")
        assert "private:bob tells you psst, alice" in kinds, kinds
        assert "notice:*** carol has logged in" in kinds, kinds
        # The users list, from List and the notices; a click starts a tell.
        b.wait_js("a", "document.querySelectorAll('#users button').length "
                  "== 3")
        assert b.users("a") == ["alice", "bob", "carol"], b.users("a")
        b.do("click", "a", selector="#users button >> text=carol")
        assert b.eval("a", "document.querySelector('input[name=line]')"
                      ".value") == "/tell carol "
        assert b.eval("a", "document.activeElement.name") == "line"
        b.type("a", "/list")
        b.wait("a", "3 users logged in: alice, bob, carol")
        b.type("a", "/help")
        b.wait("a", "/tell USER TEXT")
        b.type("a", "/shutdown")
        b.wait("a", "unknown command: /shutdown")
        assert srv.running()
        b.do("shot", "b", path=os.path.join(weblib.ROOT, "build",
                                             "web-chat.png"))
        if os.environ.get("RPCCHAT_UPDATE_SCREENSHOT") == "1":
            shutil.copy(os.path.join(weblib.ROOT, "build", "web-chat.png"),
                        os.path.join(weblib.ROOT, "docs", "web-chat.png"))
        # Each line is isolated, and every time is HH:MM.
        assert b.eval("a", "[...document.querySelectorAll('#log li .text')]"
                      ".every(e => e.dir === 'auto')")
        assert b.eval("a", "[...document.querySelectorAll('#log time')]"
                      ".every(t => /^\\d\\d:\\d\\d$/.test(t.textContent))")
        b.type("a", "/quit")
        b.wait_js("a", "!document.getElementById('login').hidden")
        lib.wait_until(lambda: "alice" not in users_on(srv.port), 10,
                       "alice logged out by /quit")
        carol.send("quit")
        carol.wait()
        for tab in ("a", "b"):
            seen = b.seen(tab)
            assert seen["dialogs"] == [] and seen["errors"] == [], seen


HOSTILE_NAMES = ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>",
                 "javascript:alert(3)"]
HOSTILE_TEXTS = ["<script>alert(4)</script>",
                 "<img src=x onerror=alert(5)>",
                 '<a href="javascript:alert(6)">click</a>',
                 "javascript:alert(7)",
                 "abc\u202edcba\u2066x\u2069 end",
                 "<style>body{display:none}</style><iframe src=/></iframe>"]


@lib.timeout(120)
def test_web_hostile_text_stays_text(ctx):
    """Names and messages full of markup, bidi overrides and 65 KB."""
    with FakeServer(users=()) as fake, Front(ctx, "127.0.0.1:%d" % fake.port) as front, \
            Browser() as b:
        for n in HOSTILE_NAMES:
            fake.login(n)
        b.open("a", front.url)
        b.login("a", "victim")
        for n in HOSTILE_NAMES:
            for t in HOSTILE_TEXTS:
                ok(lib.call(fake.port, SAY, n, t))
        ok(lib.call(fake.port, TELL, HOSTILE_NAMES[1], "victim",
                    "<b>bold</b>"))
        b.wait("a", HOSTILE_NAMES[1] + " tells you <b>bold</b>", 20)
        # 65 KB alone: the scripted server would not split a response.
        big = "x" * (lib.TEXT_MAX - len(" says ") - len(HOSTILE_NAMES[0]))
        ok(lib.call(fake.port, SAY, HOSTILE_NAMES[0], big))
        b.wait_js("a", "[...document.querySelectorAll('#log .text')].some("
                  "e => e.textContent.length > 65000)", 20)
        lines = b.lines("a")
        for n in HOSTILE_NAMES:
            assert "%s says <script>alert(4)</script>" % n in lines, lines
        assert any(l.endswith(big) for l in lines)
        # Bidi controls shown as the terminal shows them (PROTOCOL.md §5.4).
        assert any("abc<U+202E>dcba<U+2066>x<U+2069> end" in l
                   for l in lines), lines
        assert not any("\u202e" in l for l in lines)
        for n in HOSTILE_NAMES:
            assert n in b.users("a"), b.users("a")
        # No element or attribute came from the text.
        tags = b.eval("a", "[...document.querySelectorAll('#log *, #users *')]"
                      ".map(e => e.tagName.toLowerCase())")
        assert set(tags) <= {"li", "time", "span", "button"}, set(tags)
        assert b.eval("a", "document.querySelectorAll('script').length") == 1
        assert b.eval("a", "[...document.querySelectorAll('#log *')].every("
                      "e => [...e.attributes].every(a => ['class', 'dir', "
                      "'datetime'].includes(a.name)))")
        seen = b.seen("a")
        assert seen["dialogs"] == [], seen["dialogs"]
        own = re.compile(r"^(http|ws)://127\.0\.0\.1:%d/" % front.port)
        assert all(own.match(u) for u in seen["requests"]), seen["requests"]
        assert seen["errors"] == [], seen["errors"]


@lib.slow
@lib.timeout(90)
def test_web_reload_resumes_the_session(ctx):
    """A reload keeps the session and shows what arrived meanwhile."""
    with chat(ctx) as (srv, front, b):
        b.type("a", "before the reload")
        b.wait("a", "alice says before the reload")
        mark = len(srv.log)
        b.do("reload", "a")
        ok(lib.call(srv.port, REGISTER, "dave"))
        ok(lib.call(srv.port, SAY, "dave", "while you were away"))
        b.wait("a", "dave says while you were away")
        b.wait("a", "alice says before the reload")
        assert b.eval("a", "!document.getElementById('chat').hidden")
        assert not any("alice has logged out" in l
                       for l in srv.log[mark:]), srv.log[mark:]
        assert not any("alice has logged in" in l
                       for l in srv.log[mark:]), srv.log[mark:]
        b.type("a", "after the reload")
        b.wait("a", "alice says after the reload")


@lib.slow
@lib.timeout(90)
def test_web_closed_tab_logs_out_after_grace(ctx):
    """Closing the tab logs the user out after the grace period, not before."""
    with chat(ctx) as (srv, front, b):
        lib.wait_until(lambda: "alice" in users_on(srv.port), 10,
                       "alice logged in")
        closed = time.monotonic()
        b.do("close", "a")
        # Still there for most of the grace period...
        while time.monotonic() - closed < GRACE - 2:
            assert "alice" in users_on(srv.port), \
                "logged out %.1fs after the tab closed" % (
                    time.monotonic() - closed)
            time.sleep(0.2)
        # ...and gone soon after it.
        lib.wait_until(lambda: "alice" not in users_on(srv.port), GRACE + 5,
                       "alice logged out after the grace period")
        assert time.monotonic() - closed >= GRACE - 0.5


@lib.slow
@lib.timeout(120)
def test_web_server_restart_recovered(ctx):
    """The server goes away and comes back: said once each, chat goes on."""
    srv = lib.Server(ctx)
    port = srv.port
    with Front(ctx, "127.0.0.1:%d" % port) as front, Browser() as b:
        b.open("a", front.url)
        b.login("a", "alice")
        srv.stop()
        b.wait("a", "cannot reach the server", 15)
        srv = lib.Server(ctx, port=port)
        b.wait("a", "is back; logged in again as alice", 30)
        lines = b.lines("a")
        assert sum("cannot reach" in l for l in lines) == 1, lines
        ok(lib.call(port, REGISTER, "bob"))
        ok(lib.call(port, SAY, "bob", "welcome back"))
        b.wait("a", "bob says welcome back")
        b.type("a", "glad to be back")
        lib.wait_until(lambda: any("alice says glad to be back" in m for m in
                                   lib.drain(port, "bob")), 10, "bob hears")
    srv.stop()


@lib.slow
@lib.timeout(120)
def test_web_server_mode_and_its_restart(ctx):
    """rpcchat PORT --web: the page of the server itself, restarted under it."""
    srv = lib.Server(ctx, "--web", "127.0.0.1:0")
    wport = weblib.page_port(srv)
    port = srv.port
    url = "http://127.0.0.1:%d/" % wport
    with Browser() as b:
        b.open("a", url)
        b.login("a", "alice")
        carol = lib.Client(ctx, port, "carol")
        carol.expect(r"users? logged in")
        b.type("a", "hi carol")
        carol.expect(r"^alice says hi carol$")
        carol.send("quit")
        carol.wait()
        srv.stop()
        b.wait("a", "lost the connection to the chat", 15)
        srv = lib.Server(ctx, "--web", "127.0.0.1:%d" % wport, port=port)
        b.wait("a", "connected again; logged in again as alice", 30)
        b.type("a", "still here")
        b.wait("a", "alice says still here")
    srv.stop()


@lib.slow
@lib.timeout(90)
def test_web_finds_a_2023_server(ctx):
    """The scripted 2023-generation server: the generation found by itself."""
    with FakeServer(wire="unframed", gen2023=True, users=()) as fake, \
            Front(ctx, "127.0.0.1:%d" % fake.port) as front, Browser() as b:
        fake.login("bob")
        b.open("a", front.url)
        b.login("a", "alice")
        b.wait("a", "older, unframed generation")
        b.type("a", "hello 2023")
        lib.wait_until(lambda: ("bob", "alice says hello 2023") in
                       fake.delivered or "alice says hello 2023" in
                       fake.queues.get("bob", []), 10, "bob's queue")
        ok(lib.call(fake.port, SAY, "bob", "hello from 2023",
                    wire="unframed"))
        b.wait("a", "bob says hello from 2023")


@lib.slow
@lib.timeout(60)
def test_web_name_checked_before_sending(ctx):
    """The page explains a bad name itself; the server's refusal too."""
    with chat(ctx, name=None, width=360) as (srv, front, b):
        b.do("login", "a", name="no spaces")
        b.wait_js("a", "document.getElementById('login-why').textContent"
                  ".includes('neither a letter nor a digit')")
        b.do("login", "a", name="abcdefghijklmnopqrstu")
        b.wait_js("a", "document.getElementById('login-why').textContent"
                  ".includes('at most 20')")
        ok(lib.call(srv.port, REGISTER, "taken"))
        b.do("login", "a", name="taken")
        b.wait_js("a", "document.getElementById('login-why').textContent"
                  ".includes('someone is logged in as taken')")
        # With the keyboard alone, at a phone's width.
        b.eval("a", "document.querySelector('input[name=user]').value = '',"
               " document.querySelector('input[name=user]').focus(), 0")
        b.eval("a", "document.querySelector('input[name=user]').value = "
               "'phone', 0")
        b.do("key", "a", key="Enter")
        b.wait_js("a", "!document.getElementById('chat').hidden")
        assert b.eval("a", "document.activeElement.name") == "line"
        assert b.eval("a", "document.documentElement.scrollWidth <= 360")
        b.do("key", "a", key="h")
        b.do("key", "a", key="i")
        b.do("key", "a", key="Enter")
        b.wait("a", "phone says hi")
