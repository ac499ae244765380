"""
The Redis store's availability (PROTOCOL.md §7): a master, two replicas
and three Sentinels of the test's own, on free loopback ports in a
temporary directory; front ends that follow the master across a failover
(--store redis-sentinel://), never hang on a Redis that does not answer,
and log an outage in two lines.

Run as a script, it measures what a failover loses, with and without
--store-sync (README, "What is lost when something fails"):

    python3 tests/e2e/test_failover.py measure [ROUNDS]
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import lib
from lib import (REGISTER, LIST, CHECK_MESSAGES, SAY, Server, ok, wait_until)
from test_store import says

UNAVAILABLE = "store unavailable"
MASTER = "mymaster"
# Low, so that a failover takes seconds (README states what they cost).
DOWN_AFTER_MS = 500
FAILOVER_TIMEOUT_MS = 3000


class Node(lib.Redis):
    """A redis-server (or, with sentinel=, a Sentinel) of the test's own,
    in a directory it shares with the others of its cluster."""

    def __init__(self, dirname, name, args=(), sentinel=None):
        # Not lib.Redis's: its command line and directory are its own.
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            lib.skip("redis-server is not installed (make deps installs it)")
        self.dir = dirname
        self.name = name
        self.args = list(args)
        self.sentinel = sentinel      # the master's port, for a Sentinel
        self.port = lib.free_port()
        self.proc = None
        lib._redises.append(self)
        self.start()

    def start(self, timeout=10.0):
        log = os.path.join(self.dir, self.name + ".log")
        if self.sentinel is None:
            cmd = [self.binary, "--port", str(self.port),
                   "--bind", "127.0.0.1", "--dir", self.dir,
                   "--dbfilename", self.name + ".rdb", "--save", "",
                   "--appendonly", "no", "--daemonize", "no",
                   "--maxmemory-policy", "noeviction",
                   "--repl-diskless-sync-delay", "0",
                   "--logfile", log] + self.args
        else:
            conf = os.path.join(self.dir, self.name + ".conf")
            if not os.path.exists(conf):
                with open(conf, "w") as f:
                    f.write("port %d\nbind 127.0.0.1\ndaemonize no\n"
                            "dir %s\nlogfile %s\n"
                            "sentinel monitor %s 127.0.0.1 %d 2\n"
                            "sentinel down-after-milliseconds %s %d\n"
                            "sentinel failover-timeout %s %d\n"
                            "sentinel parallel-syncs %s 2\n"
                            % (self.port, self.dir, log, MASTER,
                               self.sentinel, MASTER, DOWN_AFTER_MS,
                               MASTER, FAILOVER_TIMEOUT_MS, MASTER))
            cmd = [self.binary, conf, "--sentinel"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_until(lambda: self.proc.poll() is not None or self._pings(),
                   timeout=timeout, what="%s to answer PING" % self.name)
        assert self.proc.poll() is None, "%s exited" % self.name

    def _pings(self):
        try:
            return self.call("PING") == "PONG"
        except (OSError, ConnectionError):
            return False

    def info(self, section):
        text = self.call("INFO", section).decode()
        return dict(l.split(":", 1) for l in text.splitlines() if ":" in l)

    def close(self):
        self.kill()     # the cluster removes the directory


class Cluster:
    """A master, two replicas, three Sentinels watching them."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rpcchat-failover-")
        self.master = Node(self.dir, "master")
        self.replicas = [Node(self.dir, "replica%d" % i,
                              ["--replicaof", "127.0.0.1",
                               str(self.master.port)]) for i in (1, 2)]
        self.nodes = [self.master] + self.replicas
        wait_until(lambda: all(r.info("replication").get(
            "master_link_status") == "up" for r in self.replicas),
            timeout=15, what="the replicas to sync")
        self.sentinels = [Node(self.dir, "sentinel%d" % i,
                               sentinel=self.master.port) for i in (1, 2, 3)]
        # Each Sentinel knows both replicas and the two other Sentinels.
        wait_until(lambda: all(self._knows_all(s) for s in self.sentinels),
                   timeout=20, what="the Sentinels to find each other")

    @staticmethod
    def _knows_all(s):
        try:
            return len(s.call("SENTINEL", "REPLICAS", MASTER)) == 2 and \
                len(s.call("SENTINEL", "SENTINELS", MASTER)) == 2
        except (OSError, ConnectionError):
            return False

    @property
    def url(self):
        return "redis-sentinel://%s#%s" % (
            ",".join("127.0.0.1:%d" % s.port for s in self.sentinels),
            MASTER)

    def master_port(self):
        """The master's port, as the first Sentinel that answers says."""
        for s in self.sentinels:
            try:
                return int(s.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                  MASTER)[1])
            except (OSError, ConnectionError, TypeError):
                continue
        return None

    def node(self, port):
        return next(n for n in self.nodes if n.port == port)

    def close(self):
        for n in self.sentinels + self.nodes:
            n.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def serving(srv):
    try:
        return srv.call(LIST, timeout=5)[1] == ""
    except (OSError, AssertionError):
        return False


def store_lines(srv):
    return [l for l in srv.log if " store: " in l]


# -- following the master ---------------------------------------------------

def test_sentinel_url_finds_the_master(ctx):
    with Cluster() as c, Server(ctx, "--store", c.url) as srv:
        srv.wait_log(r"store: redis master mymaster through Sentinel at "
                     r"127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+$")
        wait_until(lambda: serving(srv), timeout=10,
                   what="the front end to serve")
        ok(srv.call(REGISTER, "alice"))
        # It is the master that holds the chat, and the replicas copy it.
        assert c.master.call("ZRANGE", "{rpcchat}:users", 0, -1) == \
            [b"alice"]
        # Started against a chat that was there: no outage to tell.
        assert not srv.has_log(r"unavailable")


def test_manual_failover_is_followed(ctx):
    """SENTINEL FAILOVER: the old master turns replica (READONLY), Sentinel
    names the new one; the front end moves by itself."""
    with Cluster() as c, Server(ctx, "--store", c.url) as srv:
        wait_until(lambda: serving(srv), timeout=10,
                   what="the front end to serve")
        ok(srv.call(REGISTER, "alice"))
        ok(srv.call(REGISTER, "bob"))
        ok(srv.call(SAY, "alice", "before"))
        old = c.master_port()
        assert c.sentinels[0].call("SENTINEL", "FAILOVER", MASTER) == "OK"
        wait_until(lambda: c.master_port() not in (None, old), timeout=30,
                   what="Sentinel to promote a replica")

        def said(text):
            try:
                return srv.call(SAY, "alice", text, timeout=5) == (None, "")
            except (OSError, AssertionError):
                return False
        wait_until(lambda: said("after"), timeout=30,
                   what="a Say through the new master")
        assert ok(srv.call(CHECK_MESSAGES, "bob")) in (
            ["alice says before", "alice says after"],
            # A Say that failed during the move may have been applied.
            ["alice says before", "alice says after", "alice says after"])
        assert c.node(c.master_port()).info("replication")["role"] == \
            "master"


@lib.slow
@lib.timeout(180)
def test_kill_master_under_load_store_sync(ctx):
    """kill -9 of the master under load, --store-sync 1: service resumes,
    and every acknowledged Say reaches every user once, in order."""
    with Cluster() as c:
        result = failover_under_load(ctx, c, sync=1)
    # README states it: DOWN_AFTER_MS plus a few seconds of election and
    # promotion; the bound here only catches a front end that never moves.
    assert result["resumed_s"] < lib.scaled(30), result
    assert result["lost"] == 0, result
    assert result["twice"] == 0, result
    assert result["out_of_order"] == 0, result


def failover_under_load(ctx, c, sync, cut_off=False):
    """Two front ends, Says through each and a poller; kill -9 of the
    master once both have acknowledged 50.  With cut_off the replicas
    lose the master 1 s before (stopped, their links closed): the one
    promoted lacks what the master acknowledged meanwhile.  Returns what
    was lost or delivered twice."""
    opts = ["--store", c.url, "--store-sync", str(sync)]
    senders, readers = ["ann", "ben"], ["cat", "dan"]
    with Server(ctx, *opts) as a, Server(ctx, *opts) as b:
        for srv in (a, b):
            wait_until(lambda: serving(srv), timeout=10,
                       what="the front ends to serve")
        for u in senders + readers:
            ok(a.call(REGISTER, u))
        stop = threading.Event()
        acked = {"ann": [], "ben": []}
        times = {"ann": {}, "ben": {}}
        polled, poll_failed = [], []
        threads = [threading.Thread(target=say_loop, args=(
            srv.port, u, stop, acked[u], times[u])) for srv, u in
            ((a, "ann"), (b, "ben"))]
        threads.append(threading.Thread(target=poll, args=(
            (a.port, b.port), "cat", stop, polled, poll_failed)))
        for t in threads:
            t.start()
        try:
            wait_until(lambda: min(map(len, acked.values())) >= 50,
                       timeout=30, what="Says through both front ends")
            master = c.node(c.master_port())
            others = [r for r in c.nodes if r is not master]
            if cut_off:
                for r in others:
                    os.kill(r.proc.pid, signal.SIGSTOP)
                master.call("CLIENT", "KILL", "TYPE", "replica")
                time.sleep(1)   # what the master acknowledges meanwhile
            n = {u: len(v) for u, v in acked.items()}
            killed = time.monotonic()
            master.kill()
            if cut_off:
                for r in others:
                    os.kill(r.proc.pid, signal.SIGCONT)
            wait_until(lambda: all(times[u][acked[u][-1]][0] > killed
                                   for u in n), timeout=60,
                       what="Says sent after the kill acknowledged")
            # When the first Say each sender sent after the kill was
            # acknowledged: the slower of the two front ends.
            resumed = max(min(done for sent, done in list(times[u].values())
                              if sent > killed and done is not None)
                          for u in n) - killed
            n = {u: len(v) for u, v in acked.items()}
            wait_until(lambda: all(len(acked[u]) >= n[u] + 20 for u in n),
                       timeout=30, what="Says after the failover")
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        got = {u: a.drain(u) for u in senders + readers}
        got["cat"] = polled + got["cat"]
        lost, twice, disorder = set(), 0, 0
        for u, msgs in got.items():
            for sender, ack in acked.items():
                seen = says(msgs, sender)
                twice += len(seen) - len(set(seen))
                disorder += sum(1 for x, y in zip(seen, seen[1:]) if x > y)
                missing = set(ack) - set(seen)
                if u == "cat" and poll_failed:
                    # A poll that failed at the kill may have taken them.
                    missing = {m for m in missing if m >= n[sender]}
                lost |= {(sender, m) for m in missing}
        return {"resumed_s": round(resumed, 2), "lost": len(lost),
                "twice": twice, "out_of_order": disorder,
                "acked": sum(map(len, acked.values())),
                "log": a.log}


def say_loop(port, sender, stop, acked, times):
    """Says numbered 0, 1, ... until stop; records those acknowledged, and
    when each was sent and acknowledged."""
    i = 0
    while not stop.is_set():
        sent = time.monotonic()
        times[i] = (sent, None)
        try:
            if lib.call(port, SAY, sender, str(i), timeout=5) == (None, ""):
                times[i] = (sent, time.monotonic())
                acked.append(i)
        except (OSError, AssertionError):
            time.sleep(0.01)
        i += 1


def poll(ports, user, stop, got, failed):
    """CheckMessages through each front end in turn, until stop."""
    i = 0
    while not stop.is_set():
        try:
            items, err = lib.call(ports[i % len(ports)], CHECK_MESSAGES, user,
                                  timeout=5)
            if err:
                failed.append(err)
            else:
                got.extend(items)
        except (OSError, AssertionError) as e:
            failed.append(str(e))
            time.sleep(0.01)
        i += 1


# -- never a hang -----------------------------------------------------------

def test_frozen_redis_at_start(ctx):
    """A Redis that accepts connections but never answers: the front end
    listens, answers 'store unavailable' within the deadline, and stops
    on SIGTERM at once."""
    with lib.Redis() as redis:
        os.kill(redis.proc.pid, signal.SIGSTOP)
        try:
            srv = Server(ctx, "--store", redis.url)
            # Listening first, the store second, whatever Redis does.
            srv.wait_log(r"store: redis at 127\.0\.0\.1:%d$" % redis.port)
            assert "Listening on" in srv.log[0], srv.log
            start = time.monotonic()
            assert srv.call(REGISTER, "alice") == (None, UNAVAILABLE)
            assert srv.call(LIST) == ([], UNAVAILABLE)
            assert time.monotonic() - start < lib.scaled(3)
            start = time.monotonic()
            assert srv.stop(signal.SIGTERM) == 0
            assert time.monotonic() - start < lib.scaled(1)
        finally:
            os.kill(redis.proc.pid, signal.SIGCONT)


def test_frozen_redis_wakes_with_other_limits(ctx):
    """The front end that waited for a frozen Redis finds other limits
    there when it wakes: it says which, and exits 1."""
    with lib.Redis() as redis:
        with Server(ctx, "--store", redis.url, "--queue-limit", "50") as a:
            wait_until(lambda: serving(a), what="the first front end")
        os.kill(redis.proc.pid, signal.SIGSTOP)
        try:
            srv = Server(ctx, "--store", redis.url, "--queue-limit", "60")
            srv.wait_log(r"unavailable \(no answer within 2000 ms\)",
                         timeout=10)
        finally:
            os.kill(redis.proc.pid, signal.SIGCONT)
        assert srv.wait(timeout=15, what="exit when Redis wakes") == 1
        assert srv.has_log(r"queue limit is 50 in the store, 60 here; "
                           r"exiting$"), srv.log


# -- outages, told once -----------------------------------------------------

def test_outage_logged_in_two_lines(ctx):
    """However many calls fail, an outage is two lines: when it starts,
    and when it ends with the count; no line per call."""
    with lib.Redis() as redis, Server(ctx, "--store", redis.url) as srv:
        wait_until(lambda: serving(srv), what="the front end to serve")
        ok(srv.call(REGISTER, "alice"))
        redis.stop()
        failed = 0
        for _ in range(30):
            assert srv.call(CHECK_MESSAGES, "alice") == ([], UNAVAILABLE)
            failed += 1
        redis.start()
        wait_until(lambda: serving(srv), timeout=15,
                   what="the front end to serve again")
        m = srv.wait_log(r"store: redis at \S+ is back; (\d+) calls? failed "
                         r"meanwhile$")
        # Ours, and the Lists that found it still down.
        assert int(m.group(1)) >= failed
        lines = store_lines(srv)
        assert len(lines) == 3, lines   # the store's name, start, end
        assert re.search(r"unavailable \(.*\); calls fail until it is back$",
                         lines[1]), lines
        assert not srv.has_log(r"rejected"), srv.log


def test_redis_refusing_writes_is_an_outage(ctx):
    """min-replicas-to-write unmet: every write refused (NOREPLICAS) is
    one outage, over when a write goes through again."""
    with lib.Redis() as redis, Server(ctx, "--store", redis.url) as srv:
        wait_until(lambda: serving(srv), what="the front end to serve")
        ok(srv.call(REGISTER, "alice"))
        redis.call("CONFIG", "SET", "min-replicas-to-write", "1")
        for _ in range(10):
            assert srv.call(CHECK_MESSAGES, "alice") == ([], UNAVAILABLE)
            assert srv.call(LIST) == (["alice"], "")
        redis.call("CONFIG", "SET", "min-replicas-to-write", "0")
        ok(srv.call(CHECK_MESSAGES, "alice"))
        srv.wait_log(r"store: redis at \S+ is back; 10 calls failed "
                     r"meanwhile$")
        lines = store_lines(srv)
        assert len(lines) == 3, lines
        assert "unavailable (NOREPLICAS " in lines[1], lines


def test_store_sync_without_replicas(ctx):
    """--store-sync 1 and no replica: changes fail within the deadline,
    List still answers, and the outage ends once a replica is there."""
    with Cluster() as c:
        for r in c.replicas:
            r.call("REPLICAOF", "NO", "ONE")
        with Server(ctx, "--store", c.url, "--store-sync", "1") as srv:
            wait_until(lambda: serving(srv), timeout=10,
                       what="the front end to serve")
            start = time.monotonic()
            assert srv.call(REGISTER, "alice") == (None, UNAVAILABLE)
            assert time.monotonic() - start < lib.scaled(3)
            srv.wait_log(r"unavailable \((0 of 1 replicas|no replica) "
                         r"confirmed a change in time\)")
            # Known short: the next change fails at once, not applied.
            start = time.monotonic()
            assert srv.call(REGISTER, "bob") == (None, UNAVAILABLE)
            assert time.monotonic() - start < lib.scaled(1)
            assert srv.call(LIST)[1] == ""
            assert b"bob" not in c.master.call("ZRANGE", "{rpcchat}:users",
                                               0, -1)
            c.replicas[0].call("REPLICAOF", "127.0.0.1",
                               str(c.master.port))
            srv.wait_log(r"store: redis master mymaster is back at "
                         r"127\.0\.0\.1:\d+; \d+ calls? failed meanwhile$",
                         timeout=20)
            ok(srv.call(REGISTER, "bob"))


# -- measuring ----------------------------------------------------------------

def measure(rounds):
    """What a failover loses, with and without --store-sync."""
    ctx = lib.Ctx(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "..", ".."))
    print("| failure | --store-sync | rounds | Says acknowledged | of them "
          "lost | deliveries twice | resumed after (s, each round) |")
    print("|---|---|---|---|---|---|---|")
    for cut_off in (False, True):
        for sync in (0, 1):
            res = []
            for _ in range(rounds):
                with Cluster() as c:
                    res.append(failover_under_load(ctx, c, sync, cut_off))
            print("| kill -9 of the master%s | %d | %d | %d | %d | %d | %s |"
                  % (" 1 s after its replicas were cut off" if cut_off
                     else "", sync, rounds,
                     sum(r["acked"] for r in res),
                     sum(r["lost"] for r in res),
                     sum(r["twice"] for r in res),
                     ", ".join("%.1f" % r["resumed_s"] for r in res)),
                  flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "measure":
        sys.exit(__doc__)
    try:
        measure(int(sys.argv[2]) if len(sys.argv) > 2 else 3)
    finally:
        lib.kill_everything()
