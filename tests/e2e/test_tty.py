"""
The client at a real terminal (PROTOCOL.md §5.4), driven through tmux:
typing while messages arrive, history, completion, Ctrl-C, Ctrl-D, signals,
a server restarted under a running client.

Each test starts its own tmux server on a private socket (-L) with the
client as the only pane, types with send-keys and reads the screen with
capture-pane.  Every wait polls the screen until a condition holds, with a
deadline; nothing sleeps its way to a pass.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import lib
from lib import LIST, REGISTER, SAY, ok

_count = [0]

# tmux reports a pane's exit status only once it has reaped the process,
# and now and then it leaves it a zombie: a small parent records the
# status instead.  It ignores SIGINT, which Ctrl-C sends to the whole
# foreground group, and gives the client the default back.
_PARENT = r"""
import os, signal, subprocess, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
out = sys.argv[1]
p = subprocess.Popen(sys.argv[2:], preexec_fn=lambda:
                     signal.signal(signal.SIGINT, signal.SIG_DFL))
with open(out + ".pid.tmp", "w") as f:
    f.write(str(p.pid))
os.rename(out + ".pid.tmp", out + ".pid")
rc = p.wait()
with open(out + ".tmp", "w") as f:
    f.write(str(rc))
os.rename(out + ".tmp", out)
"""


def _running(pid):
    """Whether pid is a client still running (not gone, not a zombie)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            if b"rpcchat" not in f.read():
                return False
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _stop_stray(pid):
    """A client that outlived its pane's hangup is killed: under
    AddressSanitizer, the leak check at exit was once seen spinning for
    minutes on a terminal that had gone, a CPU lost to the runs after."""
    try:
        lib.wait_until(lambda: not _running(pid), timeout=10,
                       what="the client to exit on hangup")
    except AssertionError:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Tty:
    """rpcchat ARGS :PORT USER as the one pane of a private tmux server."""

    def __init__(self, ctx, port, user, *args, cols=120, rows=30,
                 home=None, timestamps=False, term=None):
        if shutil.which("tmux") is None:
            lib.skip("tmux is not installed")
        _count[0] += 1
        self.user = user
        self.sock = "rpcchat-tty-%d-%d" % (os.getpid(), _count[0])
        self.tmp = tempfile.mkdtemp(prefix="rpcchat-tty-")
        self.home = home or os.path.join(self.tmp, "home")
        os.makedirs(self.home, exist_ok=True)
        conf = os.path.join(self.tmp, "tmux.conf")
        with open(conf, "w") as f:
            # Keep the pane after the client exits, to read the screen.
            f.write("set -g remain-on-exit on\n"
                    "set -g status off\n"
                    "set -g history-limit 10000\n")
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        env.pop("TMUX", None)
        env["HOME"] = self.home
        env["XDG_STATE_HOME"] = os.path.join(self.home, "state")
        env["LANG"] = "C.UTF-8"
        env["LC_ALL"] = "C.UTF-8"
        env.setdefault("TERM", "xterm")
        self.env = env
        # Rows are matched exactly: the times are asked for where wanted.
        stamps = [] if timestamps else ["--no-timestamps"]
        # tmux gives the pane its own TERM; env sets another.
        term = ["env", "TERM=" + term] if term else []
        self.cmd = term + lib.wrapper() + \
            [ctx.rpcchat, "--wire", ctx.wire] + stamps + \
            [str(a) for a in args] + [":%d" % port, user]
        self.status_path = os.path.join(self.tmp, "status")
        self.tmux("-f", conf, "new-session", "-d", "-s", "rpcchat",
                  "-x", str(cols),
                  "-y", str(rows), sys.executable, "-c", _PARENT,
                  self.status_path, *self.cmd)

    def tmux(self, *args):
        p = subprocess.run(["tmux", "-L", self.sock] + list(args),
                           env=self.env, capture_output=True,
                           timeout=lib.scaled(10))
        if p.returncode != 0:
            raise AssertionError("tmux %s failed: %s"
                                 % (" ".join(args), p.stderr.decode()))
        return p.stdout.decode("utf-8", "replace")

    def screen(self):
        """The visible rows, trailing blanks removed."""
        return [l.rstrip() for l in
                self.tmux("capture-pane", "-t", "rpcchat", "-p").split("\n")]

    def rows(self):
        """Every row tmux still has, the history scrolled off included."""
        return [l.rstrip() for l in
                self.tmux("capture-pane", "-t", "rpcchat", "-p", "-S",
                          "-").split("\n")]

    def raw_screen(self):
        """The visible rows with their colour escapes (capture-pane -e)."""
        return self.tmux("capture-pane", "-t", "rpcchat", "-p", "-e")

    def cursor(self):
        x, y = self.tmux("display", "-t", "rpcchat", "-p",
                         "#{cursor_x} #{cursor_y}").split()
        return int(x), int(y)

    def dead(self):
        """None while the client runs, else its exit status (-N: signal N)."""
        try:
            with open(self.status_path) as f:
                return int(f.read())
        except FileNotFoundError:
            return None

    def pid(self):
        path = self.status_path + ".pid"
        self.wait(lambda: os.path.exists(path), "the client's pid")
        with open(path) as f:
            return int(f.read())

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "rpcchat", *keys)

    def type(self, text):
        self.tmux("send-keys", "-t", "rpcchat", "-l", text)

    def show(self):
        return "\n".join("    |" + l for l in self.screen())

    def wait(self, predicate, what, timeout=5.0):
        try:
            return lib.wait_until(predicate, timeout, what)
        except AssertionError as e:
            raise AssertionError("%s; the screen:\n%s" % (e, self.show()))

    def wait_text(self, regex, timeout=5.0):
        """The index of the first row matching regex, once one does."""
        pat = re.compile(regex)

        def find():
            for i, l in enumerate(self.screen()):
                if pat.search(l):
                    return i + 1
            return None
        return self.wait(find, "a row matching %r" % regex, timeout) - 1

    def input_row(self):
        """The row the cursor is on and its text."""
        _, y = self.cursor()
        return y, self.screen()[y]

    def wait_input(self, text, timeout=5.0):
        """Waits until the cursor's row is the prompt followed by text."""
        want = ("%s> %s" % (self.user, text)).rstrip()
        self.wait(lambda: self.input_row()[1] == want,
                  "the input row to read %r" % want, timeout)

    def wait_exit(self, timeout=10.0):
        self.wait(lambda: self.dead() is not None, "the client to exit",
                  timeout)
        return self.dead()

    def close(self):
        path = self.status_path + ".pid"
        pid = None
        if os.path.exists(path):
            with open(path) as f:
                pid = int(f.read())
        try:
            subprocess.run(["tmux", "-L", self.sock, "kill-server"],
                           env=self.env, capture_output=True,
                           timeout=lib.scaled(10))
        finally:
            if pid:
                _stop_stray(pid)
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def start(ctx, srv, user, *args, **kw):
    t = Tty(ctx, srv.port, user, *args, **kw)
    try:
        t.wait_text(r"^Welcome, %s, contacting server at " % user)
        t.wait_input("")
        # The prompt comes at once; the user list once Register is done.
        t.wait_text(r"^(\d+ users? logged in: |No users logged in)")
    except BaseException:
        t.close()
        raise
    return t


def logged_in(srv):
    return ok(srv.call(LIST))


def messages(srv, user):
    return srv.drain(user)


def bob_hears(srv, text, what):
    """Waits until bob's queue has text (what is gone from it is gone)."""
    lib.wait_until(lambda: text in messages(srv, "bob"), 5, what)


@lib.both_wires
def test_message_arrives_while_typing(ctx):
    with lib.Server(ctx) as srv, start(ctx, srv, "alice") as t:
        ok(srv.call(REGISTER, "bob"))
        t.type("say hello wor")
        t.wait_input("say hello wor")
        ok(srv.call(SAY, "bob", "incoming one"))
        row = t.wait_text(r"^bob says incoming one$")
        # Above the input line, which is intact, cursor after "wor".
        t.wait_input("say hello wor")
        x, y = t.cursor()
        assert y > row, t.show()
        assert x == len("alice> say hello wor"), (x, t.show())

        # With the cursor inside the line, it comes back to the same place.
        t.keys("Left", "Left", "Left")
        t.wait(lambda: t.cursor()[0] == len("alice> say hello "),
               "the cursor to move left")
        ok(srv.call(SAY, "bob", "incoming two"))
        row2 = t.wait_text(r"^bob says incoming two$")
        t.wait_input("say hello wor")
        x, y = t.cursor()
        assert y > row2 and x == len("alice> say hello "), (x, y, t.show())

        # Enter sends the whole line.
        messages(srv, "bob")
        t.keys("Enter")
        lib.wait_until(lambda: "alice says hello wor" in
                       messages(srv, "bob"), 5, "bob to get alice's say")
        t.wait_text(r"^alice says hello wor$")
        t.wait_input("")


def test_long_line_survives_messages_and_resize(ctx):
    long = "say " + "".join(chr(97 + i % 26) for i in range(150))
    with lib.Server(ctx) as srv, start(ctx, srv, "alice", cols=60) as t:
        ok(srv.call(REGISTER, "bob"))
        t.type(long)
        t.keys("C-a")
        for _ in range(5):
            t.keys("Right")
        t.wait(lambda: t.cursor()[0] == len("alice> say ") + 1,
               "the cursor near the start")
        _, y0 = t.cursor()
        ok(srv.call(SAY, "bob", "while a long line waits"))
        row = t.wait_text(r"^bob says while a long line waits$")
        shown = "alice> " + long

        def intact():
            s = t.screen()
            rows = [shown[i:i + 60] for i in range(0, len(shown), 60)]
            return s[row + 1:row + 1 + len(rows)] == rows
        t.wait(intact, "the long line drawn again below the message")
        x, y = t.cursor()
        assert (x, y) == (len("alice> say ") + 1, row + 1), (x, y, t.show())

        t.tmux("resize-window", "-t", "rpcchat", "-x", "40")
        t.keys("C-e")
        t.wait(lambda: t.cursor()[0] == len(shown) % 40,
               "the cursor at the end after a resize")
        ok(srv.call(SAY, "bob", "after the resize"))
        row = t.wait_text(r"^bob says after the resize$")
        t.wait(lambda: "".join(t.screen()[row + 1:]).startswith(shown),
               "the line drawn again at the new width")
        t.keys("Enter")
        t.wait_text(r"^alice says abcdefghij")


def test_emptied_line_then_message(ctx):
    # libedit does not report a line emptied by a key (Ctrl-U): the client
    # must not take the old, long line for the one on the screen.
    with lib.Server(ctx) as srv, start(ctx, srv, "alice", cols=60) as t:
        ok(srv.call(REGISTER, "bob"))
        ok(srv.call(SAY, "bob", "first"))
        first = t.wait_text(r"^bob says first$")
        t.type("say " + "x" * 150)
        t.wait(lambda: t.cursor()[1] == first + 3, "a line of three rows")
        t.keys("C-u")
        t.wait_input("")
        ok(srv.call(SAY, "bob", "second"))
        second = t.wait_text(r"^bob says second$")
        assert second == first + 1, t.show()
        t.wait_input("")
        assert t.cursor() == (len("alice> "), second + 1), t.show()
        t.keys("BSpace")
        ok(srv.call(SAY, "bob", "third"))
        assert t.wait_text(r"^bob says third$") == second + 1, t.show()
        t.wait_input("")


def test_up_recalls_history_kept_across_runs(ctx):
    with lib.Server(ctx) as srv:
        home = tempfile.mkdtemp(prefix="rpcchat-home-")
        try:
            with start(ctx, srv, "alice", home=home) as t:
                t.type("say first line")
                t.keys("Enter")
                t.wait_text(r"^alice says first line$")
                t.wait_input("")
                t.keys("Up")
                t.wait_input("say first line")
                t.keys("C-u")
                t.wait_input("")
                t.keys("C-d")
                assert t.wait_exit() == 0
            path = os.path.join(home, "state", "rpcchat", "history")
            assert os.path.exists(path), os.listdir(home)
            # A new run starts with the old lines.
            with start(ctx, srv, "alice", home=home) as t:
                t.keys("Up")
                t.wait_input("say first line")
                t.keys("C-u", "C-d")
                assert t.wait_exit() == 0
            # --no-history neither reads nor writes it.
            before = open(path, "rb").read()
            with start(ctx, srv, "alice", "--no-history", home=home) as t:
                # Up finds nothing: the typed text stands alone.
                t.keys("Up")
                t.type("say second")
                t.wait_input("say second")
                t.keys("Enter")
                t.wait_text(r"^alice says second$")
                t.keys("C-d")
                assert t.wait_exit() == 0
            assert open(path, "rb").read() == before
        finally:
            shutil.rmtree(home, ignore_errors=True)


@lib.both_wires
def test_tab_completes_commands_and_users(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        ok(srv.call(REGISTER, "bob"))
        with start(ctx, srv, "carol") as t:
            t.type("tell al")
            t.keys("Tab")
            t.wait_input("tell alice ")
            assert t.cursor()[0] == len("carol> tell alice "), t.show()
            t.type("psst")
            t.keys("Enter")
            lib.wait_until(lambda: "carol tells you psst" in
                           messages(srv, "alice"), 5, "alice to get it")

            # A user who arrives later is offered too (the list is
            # refreshed when it is older than a few seconds).
            ok(srv.call(REGISTER, "dave"))
            t.wait_input("")

            def completes():
                t.keys("C-u")
                t.type("tell da")
                t.keys("Tab")
                try:
                    t.wait_input("tell dave ", timeout=1)
                    return True
                except AssertionError:
                    return False
            t.wait(completes, "dave to be completed", timeout=10)

            t.keys("C-u")
            t.type("shu")
            t.keys("Tab")
            t.wait_input("shutdown ")
            t.keys("C-u")
            t.type("li")
            t.keys("Tab")
            t.wait_input("list ")


@lib.both_wires
def test_ctrl_d_logs_out(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "watcher"))
        with start(ctx, srv, "alice") as t:
            assert "alice" in logged_in(srv)
            messages(srv, "watcher")
            t.keys("C-d")
            assert t.wait_exit() == 0
            srv.wait_log(r"\*\*\* alice has logged out$")
            assert "alice" not in logged_in(srv)
            assert "*** alice has logged out" in messages(srv, "watcher")


def test_ctrl_c_clears_then_logs_out(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "watcher"))
        with start(ctx, srv, "alice") as t:
            t.type("say never sent")
            t.wait_input("say never sent")
            t.keys("C-c")
            # The line is dropped (shown cut, like a shell) and we stay.
            t.wait_text(r"^alice> say never sent\^C$")
            t.wait_input("")
            assert t.dead() is None
            assert "alice" in logged_in(srv)
            t.keys("C-c")
            assert t.wait_exit() == 0
            srv.wait_log(r"\*\*\* alice has logged out$")
            msgs = messages(srv, "watcher")
            assert "*** alice has logged out" in msgs
            assert not any("never sent" in m for m in msgs), msgs


def test_sigterm_and_sighup_log_out(ctx):
    with lib.Server(ctx) as srv:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with start(ctx, srv, "alice") as t:
                assert "alice" in logged_in(srv)
                mark = srv.log_mark()
                os.kill(t.pid(), sig)
                assert t.wait_exit() == 128 + sig
                srv.wait_log(r"\*\*\* alice has logged out$", since=mark)
                assert "alice" not in logged_in(srv)


def test_hostile_text_is_shown_escaped(ctx):
    with lib.Server(ctx) as srv, start(ctx, srv, "alice") as t:
        ok(srv.call(REGISTER, "bob"))
        ok(srv.call(SAY, "bob", "\x1b[2J\x1b[Hgotcha\rX\x07"))
        t.wait_text(r"^bob says \^\[\[2J\^\[\[Hgotcha\^MX\^G$")
        # Nothing was cleared: the welcome is still there.
        assert any(l.startswith("Welcome, alice") for l in t.screen())
        t.wait_input("")


@lib.timeout(120)
def test_server_restart_under_running_client(ctx):
    srv = lib.Server(ctx)
    port = srv.port
    try:
        with start(ctx, srv, "alice") as t:
            srv.stop()
            t.wait_text(r"^\*\*\* cannot reach the server: .*; retrying$",
                        timeout=10)
            srv = lib.Server(ctx, port=port)
            t.wait_text(r"^\*\*\* the server at localhost:%d is back; "
                        r"logged in again as alice$" % port, timeout=20)
            assert sum(1 for l in t.screen()
                       if "cannot reach" in l) == 1, t.show()
            assert "alice" in logged_in(srv)
            ok(srv.call(REGISTER, "bob"))
            ok(srv.call(SAY, "bob", "welcome back"))
            t.wait_text(r"^bob says welcome back$")
            t.type("say thanks")
            t.keys("Enter")
            lib.wait_until(lambda: "alice says thanks" in
                           messages(srv, "bob"), 5, "bob to hear alice")
            t.keys("C-d")
            assert t.wait_exit() == 0
        srv.wait_log(r"\*\*\* alice has logged out$")
    finally:
        if srv.running():
            srv.stop()


# -- timestamps, colour, history, Ctrl-R -----------------------------------

def test_timestamps_by_default_at_a_terminal(ctx):
    with lib.Server(ctx) as srv, \
            start(ctx, srv, "alice", timestamps=True) as t:
        ok(srv.call(REGISTER, "bob"))
        ok(srv.call(SAY, "bob", "what time is it"))
        t.wait_text(r"^\d\d:\d\d \*\*\* bob has logged in$")
        t.wait_text(r"^\d\d:\d\d bob says what time is it$")
        # The client's own lines have none.
        assert any(l.startswith("Welcome, alice") for l in t.screen())
        t.wait_input("")
    # --no-timestamps (what start() passes by default) turns them off.
    with lib.Server(ctx) as srv, start(ctx, srv, "alice") as t:
        ok(srv.call(REGISTER, "bob"))
        ok(srv.call(SAY, "bob", "no time"))
        t.wait_text(r"^bob says no time$")


def test_no_colour_with_term_dumb(ctx):
    for term, coloured in [("xterm", True), ("dumb", False)]:
        with lib.Server(ctx) as srv, \
                start(ctx, srv, "alice", term=term) as t:
            ok(srv.call(REGISTER, "bob"))
            ok(srv.call(SAY, "bob", "in colour?"))
            t.wait_text(r"\*\*\* bob has logged in$")
            t.wait_text(r"bob says in colour\?$")
            raw = t.raw_screen()
            assert ("\x1b[" in raw) == coloured, (term, raw)


def test_history_shared_by_clients_at_once(ctx):
    """Two clients of one person, one history file: neither erases the
    other's lines."""
    home = tempfile.mkdtemp(prefix="rpcchat-home-")
    try:
        with lib.Server(ctx) as srv, \
                start(ctx, srv, "alice", home=home) as a, \
                start(ctx, srv, "bob", home=home) as b:
            for t, line in [(a, "say from alice one"), (b, "say from bob"),
                            (a, "say from alice two")]:
                t.type(line)
                t.keys("Enter")
                t.wait_text(r"^%s says %s$" % (t.user, line[4:]))
                t.wait_input("")
            a.keys("C-d")
            b.keys("C-d")
            assert a.wait_exit() == 0 and b.wait_exit() == 0
            with start(ctx, srv, "carol", home=home) as c:
                for want in ["say from alice two", "say from bob",
                             "say from alice one"]:
                    c.keys("Up")
                    c.wait_input(want)
                c.keys("C-u", "C-d")
                assert c.wait_exit() == 0
    finally:
        shutil.rmtree(home, ignore_errors=True)


def said(t, *lines):
    """Types each "say" line and waits for it to come back."""
    for line in lines:
        t.type(line)
        t.keys("Enter")
        t.wait_text(r"^%s says %s$" % (t.user, line[4:]))
        t.wait_input("")


def test_ctrl_r_then_one_enter_runs_the_line(ctx):
    """As in bash: Enter in a reverse search runs the line found."""
    with lib.Server(ctx) as srv, start(ctx, srv, "alice") as t:
        said(t, "say needle in a haystack", "say something else")
        ok(srv.call(REGISTER, "bob"))
        t.keys("C-r")
        t.type("needle")
        t.wait(lambda: "say needle in a haystack" in t.input_row()[1],
               "the search to find the line")
        t.keys("Enter")
        # One Enter: the line ran...
        lib.wait_until(lambda: "alice says needle in a haystack" in
                       messages(srv, "bob"), 5, "the found line to run")
        t.wait_input("")
        # ... and left no empty prompt above the new one.
        y, _ = t.input_row()
        assert t.screen()[y - 1] != "alice>", t.show()
        assert sum(1 for l in t.screen() if l == "alice>") == 1, t.show()
        t.keys("C-d")
        assert t.wait_exit() == 0


# -- pastes, failed tells, completion, stamped notices ----------------------

def test_failed_tell_stays_on_screen(ctx):
    """At a terminal the notice stays where messages go; the tell still
    counts as failed (PROTOCOL.md §5.4)."""
    with lib.Server(ctx) as srv, start(ctx, srv, "alice") as t:
        t.type("tell nobody hello")
        t.keys("Enter")
        t.wait_text(r"^\*\*\* No such user: nobody$")
        t.wait_input("")
        t.keys("C-d")
        assert t.wait_exit() == 1


def test_tab_knows_announced_users_at_once(ctx):
    """A login or logout notice on screen changes what Tab offers at once,
    at the first Tab, with no List in between."""
    with lib.Server(ctx) as srv, start(ctx, srv, "alice") as t:
        ok(srv.call(REGISTER, "bob"))
        t.wait_text(r"^\*\*\* bob has logged in$")
        t.type("tell b")
        t.keys("Tab")
        t.wait_input("tell bob ")
        t.keys("C-u")
        ok(srv.call(REGISTER, "bobby"))
        t.wait_text(r"^\*\*\* bobby has logged in$")
        # As far as both go, then both shown above the line.
        t.type("tell b")
        t.keys("Tab")
        t.wait_input("tell bob")
        t.keys("Tab")
        t.wait_text(r"^bob  bobby$")
        t.wait_input("tell bob")
        t.keys("C-u")
        # Names that share the first byte of a character: the shared
        # part stops before it, and the next Tab lists them.
        t.keys("C-u")
        ok(srv.call(REGISTER, "Jos\u00e9"))
        ok(srv.call(REGISTER, "Jos\u00f6"))
        t.wait_text(r"^\*\*\* Jos\u00f6 has logged in$")
        t.type("tell J")
        t.keys("Tab")
        t.wait_input("tell Jos")
        t.keys("Tab")
        t.wait_text("^Jos\u00e9  Jos\u00f6$")
        t.keys("C-u")
        ok(srv.call(lib.QUIT, "bob"))
        ok(srv.call(lib.QUIT, "bobby"))
        t.wait_text(r"^\*\*\* bobby has logged out$")
        # Nobody left to offer: the Tab adds nothing before the x.
        t.type("tell b")
        t.keys("Tab")
        t.type("x")
        t.wait_input("tell bx")


def pasted(n):
    """A "say" line of exactly n bytes, with 2- and 3-byte characters in
    it, so that keys are cut from the middle of characters too."""
    out, size, i = ["say "], 4, 0
    cycle = "abcdefghij\u00e9klmnop\u4e00qrstuvwxyz "
    while True:
        c = cycle[i % len(cycle)]
        if size + len(c.encode()) > n:
            break
        out.append(c)
        size += len(c.encode())
        i += 1
    out.append("x" * (n - size))
    line = "".join(out)
    assert len(line.encode()) == n
    return line


def paste(t, text):
    """What a terminal sends for a paste (tmux paste-buffer), no Enter."""
    path = os.path.join(t.tmp, "paste")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    t.tmux("load-buffer", path)
    t.tmux("paste-buffer", "-t", "rpcchat")


def rows_matching(t, regex):
    return sum(1 for l in t.rows() if re.search(regex, l))


@lib.timeout(180)
def test_long_pastes_delivered(ctx):
    """Pastes past libedit's 1 KiB and 4 KiB buffers and past what the
    editor holds arrive whole; the heap stays intact (the sanitizer and
    valgrind runs of this test watch that)."""
    with lib.Server(ctx) as srv, start(ctx, srv, "alice") as t:
        ok(srv.call(REGISTER, "bob"))
        got = []
        for n in (1025, 4097, 6000):
            line = pasted(n)
            paste(t, line)
            t.keys("Enter")
            want = "alice says " + line[4:]

            def arrived():
                got.extend(srv.drain("bob"))
                return want in got
            lib.wait_until(arrived, 20, "the %d-byte paste to arrive" % n)
            t.wait_input("")
        # The one beyond the editor is shown cut, with its size.
        assert rows_matching(t, r"^alice> say abcdefghij\u00e9.*\.\.\. "
                             r"\(6000 bytes\)$") == 1, t.rows()
        assert [m for m in got if m.startswith("alice says")] == \
            ["alice says " + pasted(n)[4:] for n in (1025, 4097, 6000)]
        t.keys("C-d")
        assert t.wait_exit() == 0


@lib.timeout(240)
def test_too_long_pastes_refused_as_in_a_pipe(ctx):
    """A paste too long to send is refused with the pipe's words, nothing
    is sent, and the prompt is back within a second of the refusal."""
    cases = [(66000, "message too long"),
             (1 << 20, "message too long"),
             ((1 << 20) + 5000, "input line longer than 1048576 bytes "
                                "ignored")]
    with lib.Server(ctx) as srv, start(ctx, srv, "alice") as t:
        ok(srv.call(REGISTER, "bob"))
        for i, (n, refusal) in enumerate(cases):
            line = pasted(n)
            # The same line on a pipe: the same words.
            rc, out, err = lib.run_cli(ctx, "--wire", ctx.wire,
                                       ":%d" % srv.port, "piped",
                                       stdin_data=line.encode() + b"\n",
                                       timeout=30)
            assert rc == 1 and err.splitlines() == [refusal], (rc, err)
            before = rows_matching(t, "^%s$" % refusal)
            paste(t, line)
            t.keys("Enter")
            t.wait(lambda: rows_matching(t, "^%s$" % refusal) > before,
                   "the refusal", timeout=60)
            t.wait_input("", timeout=1)
            t.type("say after %d" % i)
            t.keys("Enter")
            bob_hears(srv, "alice says after %d" % i, "the next line to run")
        for n, _ in cases:
            assert rows_matching(t, r"^alice> say abcdefghij\u00e9.*\.\.\. "
                                 r"\(%d bytes\)$" % n) == 1, n
        # Nothing of the pastes went out.
        assert not [m for m in messages(srv, "bob") if "abcdefghij" in m]
        t.keys("C-d")
        assert t.wait_exit() == 1


def test_ctrl_r_search_keeps_the_chat_going(ctx):
    """The search takes its keys in the poll loop: messages arrive while it
    waits for the next key, however long that takes."""
    with lib.Server(ctx) as srv, start(ctx, srv, "alice") as t:
        said(t, "say needle in a haystack", "say something else")
        ok(srv.call(REGISTER, "bob"))
        t.keys("C-r")
        t.wait(lambda: t.input_row()[1] == "(reverse-i-search)`':",
               "the search prompt")
        t.type("need")
        want = "(reverse-i-search)`need': say needle in a haystack"
        t.wait(lambda: t.input_row()[1] == want, "the line found")
        ok(srv.call(SAY, "bob", "while you search"))
        t.wait_text(r"^bob says while you search$")
        t.wait(lambda: t.input_row()[1] == want, "the search intact")
        t.keys("C-r")
        t.wait(lambda: t.input_row()[1].startswith(
            "(failed reverse-i-search)`need': say needle"), "no older one")
        t.keys("BSpace")
        t.wait(lambda: t.input_row()[1].startswith(
            "(reverse-i-search)`nee': say needle"), "a shorter needle")
        t.keys("C-g")
        t.wait_input("")
        # Another key ends the search and acts on the line found.
        t.keys("C-r")
        t.type("something")
        t.wait(lambda: t.input_row()[1].endswith(": say something else"),
               "the second line found")
        t.keys("End")
        t.type("!")
        t.wait_input("say something else!")
        t.keys("Enter")
        bob_hears(srv, "alice says something else!", "the edited line to run")


def test_ctrl_v_inserts_the_next_key(ctx):
    with lib.Server(ctx) as srv, start(ctx, srv, "alice") as t:
        ok(srv.call(REGISTER, "bob"))
        t.type("say a")
        t.keys("C-v")
        t.keys("Tab")
        t.type("b")
        t.keys("Enter")
        bob_hears(srv, "alice says a\tb", "the tab to be sent as it is")


def test_meta_x_is_not_libedits_command_line(ctx):
    """libedit's M-x command line read through a NULL pointer on a line
    such as a lone quote (found by tests/fuzz/tty_fuzz.py); it is not
    bound, and the client goes on."""
    with lib.Server(ctx) as srv, start(ctx, srv, "alice") as t:
        ok(srv.call(REGISTER, "bob"))
        t.keys("Escape", "x")
        t.type('"')
        t.keys("Enter")
        t.type("say still here")
        t.keys("Enter")
        bob_hears(srv, "alice says still here", "the client to go on")
        assert t.dead() is None
