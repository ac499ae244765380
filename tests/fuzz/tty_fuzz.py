#!/usr/bin/env python3
"""
tty_fuzz.py - the client at a real terminal, driven at random.

Starts a server (--allow-shutdown none, so no typed "shutdown" ends the
run), then runs the client again and again, each time as the one process
on a pseudo-terminal of its own, and sends it random input: keys, words,
commands, control keys, escape sequences, invalid UTF-8, pastes of up to
two megabytes, Tab, Ctrl-R searches, terminal resizes (TIOCSWINSZ, which
sends SIGWINCH), while other users talk to it through the server.  Each
run (an episode) ends with Ctrl-C twice: the client must leave within a
few seconds, with status 0 or 1, and leave no user behind.

A failure is: any other status (a signal, the sanitizers' and valgrind's
99), a sanitizer or valgrind report on the terminal, a client that stops
reading its terminal or does not leave.  It prints the seed and the
episode, the input sent (most recent last) and the end of what the
client wrote, and how to replay it:

    tests/fuzz/tty_fuzz.py --bin build/sanitize --seconds 60
    tests/fuzz/tty_fuzz.py --bin . --valgrind --seconds 20
    tests/fuzz/tty_fuzz.py --bin build/sanitize --seed 123 --episode 4

Every wait is bounded and the run stops by itself.  Network traffic goes
to 127.0.0.1 only.
"""

import argparse
import collections
import fcntl
import os
import pty
import random
import re
import select
import shutil
import signal
import struct
import sys
import tempfile
import termios
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import lib  # noqa: E402
from lib import LIST, QUIT, REGISTER, SAY, TELL  # noqa: E402

# Bytes never sent: they stop the client as a terminal would (^Z, ^\\ and
# ^S/^Q flow control), which is no finding.  ^C is sent on purpose only.
BANNED = {0x03, 0x11, 0x13, 0x1a, 0x1c}
# What a sanitizer or valgrind writes when it finds something.
REPORTS = re.compile(rb"ERROR: AddressSanitizer|ERROR: LeakSanitizer|"
                     rb"runtime error:|==\d+== (Invalid|Conditional|"
                     rb"Syscall param|Mismatched|Source and destination)")
ESCAPES = [b"\x1b[A", b"\x1b[B", b"\x1b[C", b"\x1b[D", b"\x1b[H", b"\x1b[F",
           b"\x1b[1~", b"\x1b[4~", b"\x1b[3~", b"\x1b[2~", b"\x1b[5~",
           b"\x1b[6~", b"\x1bOA", b"\x1bOD", b"\x1b[1;5C", b"\x1b[1;5D",
           b"\x1bb", b"\x1bf", b"\x1bd", b"\x1b\x7f", b"\x1b", b"\x1b[",
           b"\x1b[99;99H", b"\x1b]0;title\x07", b"\x1b[200~", b"\x1b[201~",
           b"\x1bx", b"\x1b[M !!"]
WORDS = ["say", "tell", "list", "help", "quit", "shutdown", "bob", "carol",
         "tell bob", "tell carol", "say hi", "tell nobody", "\u00e9t\u00e9",
         "\u4e00\u4e8c\u4e09", "\U0001f600", "e\u0301", "\u202e", "a" * 30]


VERBOSE = False


class Failure(Exception):
    pass


def clean(data):
    return bytes(b for b in data if b not in BANNED)


class Terminal:
    """The client as the one process on a pseudo-terminal of its own."""

    def __init__(self, cmd, env, rows, cols):
        pid, fd = pty.fork()
        if pid == 0:
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ,
                            struct.pack("HHHH", rows, cols, 0, 0))
                os.execve(cmd[0], cmd, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)
        self.out = collections.deque(maxlen=256)     # chunks, the last ones
        self.report = None
        self.status = None
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        """Reads all it writes, so it never blocks on its terminal."""
        tail = b""
        while True:
            try:
                r, _, _ = select.select([self.fd], [], [], 0.2)
            except (OSError, ValueError):
                break
            if not r:
                if self.exited() and self.status is not None:
                    break
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                break
            if not chunk:
                break
            self.out.append(chunk)
            m = REPORTS.search(tail + chunk)
            if m and self.report is None:
                self.report = m.group(0).decode("latin-1")
            tail = chunk[-64:]
        self.closed.set()

    def exited(self):
        if self.status is None:
            try:
                pid, st = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return True
            if pid == self.pid:
                self.status = (os.WEXITSTATUS(st) if os.WIFEXITED(st)
                               else -os.WTERMSIG(st))
        return self.status is not None

    def write(self, data, stall):
        """Sends data; a client alive that reads none of it for stall
        seconds has stopped reading its terminal."""
        view = memoryview(data)
        last = time.monotonic()
        while view:
            if self.exited():
                return False
            _, w, _ = select.select([], [self.fd], [], 0.05)
            if w:
                try:
                    n = os.write(self.fd, view[:65536])
                except BlockingIOError:
                    n = 0
                except OSError:
                    return False
                if n:
                    view = view[n:]
                    last = time.monotonic()
                    continue
            if time.monotonic() - last > stall:
                raise Failure("the client read none of its input for %.0f s"
                              % stall)
        return True

    def started(self):
        """Whether it has said its welcome: its signals are its own."""
        return b"Welcome" in b"".join(self.out)[:4096] or \
            any(b"Welcome" in c for c in list(self.out)[:4])

    def resize(self, rows, cols):
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ,
                    struct.pack("HHHH", rows, cols, 0, 0))

    def wait(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.exited():
                return self.status
            time.sleep(0.02)
        return None

    def kill(self):
        if not self.exited():
            os.kill(self.pid, signal.SIGKILL)
            self.wait(10)

    def close(self):
        self.kill()
        self.closed.wait(5)
        try:
            os.close(self.fd)
        except OSError:
            pass

    def tail(self, n=3000):
        return b"".join(self.out)[-n:]


class Chatter(threading.Thread):
    """bob and carol come and go and talk to the user under test."""

    def __init__(self, port, rng, user):
        super().__init__(daemon=True)
        self.port, self.rng, self.user = port, rng, user
        self.stop = threading.Event()

    def run(self):
        texts = ["hi", "\x1b[2J\x1b[Hclear?", "\u202eevil", "x" * 5000,
                 "\u4e00" * 300, "\xff\xfe", "*** fake notice", "a\tb\r\nc"]
        while not self.stop.wait(self.rng.uniform(0.05, 0.4)):
            who = self.rng.choice(["bob", "carol"])
            what = self.rng.random()
            try:
                if what < 0.15:
                    lib.call(self.port, REGISTER, who, timeout=5)
                elif what < 0.25:
                    lib.call(self.port, QUIT, who, timeout=5)
                elif what < 0.6:
                    lib.call(self.port, SAY, who, self.rng.choice(texts),
                             timeout=5)
                elif what < 0.9:
                    lib.call(self.port, TELL, who, self.user,
                             self.rng.choice(texts), timeout=5)
                else:
                    for u in ("bob", "carol"):
                        lib.call(self.port, lib.CHECK_MESSAGES, u, timeout=5)
            except (OSError, AssertionError):
                pass


def random_text(rng, n, junk_max=1 << 30):
    """Text, or any bytes but line ends: one line either way.  Junk goes
    through the line editor a key at a time (16 KiB at most a line), which
    valgrind makes slow: junk_max bounds it."""
    if rng.random() < 0.7 or n > junk_max:
        pool = "abcdefghijklmnopqrstuvwxyz ABC 0123456789.,!?\u00e9\u4e00"
        return "".join(rng.choice(pool) for _ in range(n)).encode()
    return bytes(b for b in rng.randbytes(n) if b not in BANNED and
                 b not in (0x0a, 0x0d))


def paste_size(rng, scale):
    # Under valgrind the client works 20 to 100 times slower: no MB.
    r = rng.random() * (1 if scale == 1 else 0.9)
    if r < 0.5:
        return rng.randrange(1, 1500)
    if r < 0.8:
        return rng.randrange(1500, 9000)
    if r < 0.93:
        return rng.randrange(60000, 72000)
    return rng.randrange(1 << 20, 2 << 20)


def action(rng, term, log, stall, scale):
    """One random thing done to the terminal."""
    r = rng.random()
    if r < 0.25:
        data = "".join(rng.choice(WORDS) + rng.choice(["", " ", "  "])
                       for _ in range(rng.randrange(1, 4))).encode()
    elif r < 0.35:
        data = b"\r"
    elif r < 0.45:
        data = bytes([rng.choice([b for b in range(32) if b not in BANNED]
                                 + [0x7f])])
    elif r < 0.55:
        data = rng.choice(ESCAPES)
    elif r < 0.60:
        data = bytes(rng.randrange(0x80, 0x100)
                     for _ in range(rng.randrange(1, 8)))
    elif r < 0.68:
        n = paste_size(rng, scale)
        head = rng.choice([b"say ", b"tell bob ", b"", b"tell "])
        data = head + random_text(rng, n, 20000 if scale == 1 else 2000)
        if rng.random() < 0.3:
            # A few lines in one paste, as a terminal sends them.
            step = max(1, len(data) // rng.randrange(2, 30))
            data = b"\r".join(data[i:i + step]
                              for i in range(0, len(data), step))
        if rng.random() < 0.6:
            data += b"\r"
    elif r < 0.74:
        data = b"\t" * rng.randrange(1, 3)
    elif r < 0.79:
        data = b"\x12" + random_text(rng, rng.randrange(0, 6))
    elif r < 0.85:
        rows, cols = rng.randrange(0, 120), rng.randrange(0, 300)
        log.append("resize %dx%d" % (cols, rows))
        term.resize(rows, cols)
        return
    elif r < 0.87:
        if not term.started():
            return      # before its handlers, SIGINT simply kills it
        log.append("^C")
        data = b"\x03"
    elif r < 0.97:
        delay = rng.uniform(0, 0.3)
        log.append("pause %.2f" % delay)
        time.sleep(delay)
        return
    else:
        data = rng.choice([b"\x04", b"quit\r", b"say bye\r\x04"])
    log.append(repr(data[:80]) + (" (+%d bytes)" % (len(data) - 80)
                                  if len(data) > 80 else ""))
    t0 = time.monotonic()
    term.write(data, stall)
    if VERBOSE and time.monotonic() - t0 > 1:
        print("tty_fuzz:   %.1f s to send %s" % (time.monotonic() - t0,
                                                  log[-1]), flush=True)


def episode(args, srv, seed, k, scale, home):
    rng = random.Random("%d:%d" % (seed, k))
    user = "fz%d" % k
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "XDG_STATE_HOME": os.path.join(home, "state"),
           "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "TERM": rng.choice(["xterm", "xterm-256color", "vt100", "dumb"]),
           "ASAN_OPTIONS": "exitcode=99:abort_on_error=0",
           "UBSAN_OPTIONS": "exitcode=99:print_stacktrace=1",
           "LSAN_OPTIONS": "exitcode=99"}
    if rng.random() < 0.3:
        env["NO_COLOR"] = "1"
    cmd = [os.path.join(args.bin, "rpcchat")]
    if args.valgrind:
        cmd = [shutil.which("valgrind"), "--quiet", "--error-exitcode=99",
               "--leak-check=full", "--errors-for-leak-kinds=definite"] + cmd
    opts = [o for o in ["--no-history", "--timestamps", "--no-color"]
            if rng.random() < 0.3]
    cmd += opts + ["127.0.0.1:%d" % srv.port, user]
    log = ["start %s %s" % (" ".join(opts), env["TERM"])]
    term = Terminal(cmd, env, rng.randrange(2, 60), rng.randrange(10, 200))
    chat = Chatter(srv.port, random.Random("%d:%d:chat" % (seed, k)), user)
    chat.start()
    stall = 15 * scale
    try:
        # Let it start, mostly; typing at once is worth trying too.
        if rng.random() < 0.8:
            time.sleep(rng.uniform(0.1, 0.6) * scale)
        end = time.monotonic() + rng.uniform(1, args.episode_seconds)
        # Under valgrind, input queues up faster than it is worked off.
        actions = 10 ** 9 if scale == 1 else 25
        while time.monotonic() < end and not term.exited() and actions:
            actions -= 1
            action(rng, term, log, stall, scale)
            if term.report:
                break
        # Done: Ctrl-C twice must see it out, whatever state it is in.
        deadline = time.monotonic() + 10 * scale
        while not term.started() and not term.exited() and \
                time.monotonic() < deadline:
            time.sleep(0.02)
        for _ in range(2):
            if term.exited() or term.report:
                break
            log.append("end: ^C")
            term.write(b"\x03", stall)
            term.wait(1.5 * scale)
        status = term.wait(8 * scale)
        time.sleep(0.1)
        if term.report:
            raise Failure("a report on the terminal: %s" % term.report)
        if status is None:
            raise Failure("the client did not leave after Ctrl-C twice")
        if status not in (0, 1):
            raise Failure("the client exited with status %d" % status)
        chat.stop.set()
        chat.join(10)
        users = lib.ok(lib.call(srv.port, LIST, timeout=10))
        if user in users:
            raise Failure("%s is still logged in after the client left"
                          % user)
    except Failure as e:
        print("tty_fuzz: FAILED: seed %d, episode %d: %s" % (seed, k, e))
        print("tty_fuzz: input, last 60 of %d:" % len(log))
        for line in log[-60:]:
            print("    " + line)
        print("tty_fuzz: what the client wrote, the end:")
        for line in term.tail().decode("utf-8", "replace").splitlines()[-40:]:
            print("    | " + line)
        print("tty_fuzz: replay with: %s --bin %s%s --seed %d --episode %d"
              % (sys.argv[0], args.bin, " --valgrind" if args.valgrind
                 else "", seed, k))
        return False
    finally:
        chat.stop.set()
        term.close()
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="directory of rpcchat")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--episode", type=int, default=None,
                    help="run only this episode of the seed")
    ap.add_argument("--episode-seconds", type=float, default=6)
    ap.add_argument("--valgrind", action="store_true",
                    help="the client under valgrind memcheck")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="a line for every episode, the input as it goes")
    args = ap.parse_args()
    global VERBOSE
    VERBOSE = args.verbose
    if args.valgrind and shutil.which("valgrind") is None:
        sys.exit("tty_fuzz: valgrind is not installed")
    seed = args.seed if args.seed is not None else \
        int.from_bytes(os.urandom(4), "big")
    scale = 10 if args.valgrind else 1
    print("tty_fuzz: seed %d%s, %.0f s" % (seed, " (valgrind)" if
                                           args.valgrind else "",
                                           args.seconds), flush=True)
    ctx = lib.Ctx(args.bin)
    home = tempfile.mkdtemp(prefix="rpcchat-ttyfuzz-")
    ok = True
    episodes = 0
    try:
        os.environ.pop("RPCCHAT_WRAPPER", None)
        with lib.Server(ctx, "--allow-shutdown", "none") as srv:
            deadline = time.monotonic() + args.seconds
            k = args.episode if args.episode is not None else 0
            while ok:
                t0 = time.monotonic()
                ok = episode(args, srv, seed, k, scale, home)
                if args.verbose:
                    print("tty_fuzz: episode %d, %.1f s" %
                          (k, time.monotonic() - t0), flush=True)
                episodes += 1
                k += 1
                if args.episode is not None or time.monotonic() > deadline:
                    break
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print("tty_fuzz: %d episode%s, %s" % (episodes, "" if episodes == 1
                                           else "s",
                                           "no finding" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
