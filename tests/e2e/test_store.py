"""
The Redis store (PROTOCOL.md §7): the same answers as the memory store, several
front ends on one chat, and what happens when a front end or Redis dies.
Each test starts its own redis-server (lib.Redis) and skips without one.
"""

import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time

import lib
from lib import (REGISTER, LIST, CHECK_MESSAGES, TELL, SAY, QUIT, Redis,
                 Server, ok, wait_until)

UNAVAILABLE = "store unavailable"


# -- the differential test --------------------------------------------------

NAMES = ["alice", "bob", "carol", "dave", "eve", "Zoë", "x" * 20, "b0b"]
BAD_NAMES = ["", "x" * 21, "bad name", "a\x00b"]


# A Tell or Say with its message cut so that the request fits one frame.
def tell_in_a_frame(name, target, msg):
    room = 65535 - 8 - len(name.encode()) - len(target.encode())
    return lib.request(TELL, name, target, msg[:room])


def say_in_a_frame(name, msg):
    return lib.request(SAY, name, msg[:65535 - 6 - len(name.encode())])


def random_call(rng):
    """One request message: mostly valid, with the limits' edges."""
    name = rng.choice(NAMES) if rng.random() < 0.93 else rng.choice(BAD_NAMES)
    kind = rng.random()
    if kind < 0.12:
        return lib.request(REGISTER, name)
    if kind < 0.17:
        return lib.request(LIST)
    if kind < 0.40:
        return lib.request(CHECK_MESSAGES, name)
    size = rng.choice([1, 5, 20, 1000, 20000, 30000,
                       lib.TEXT_MAX - 20 - 11, lib.TEXT_MAX - 5, 65535])
    msg = bytes([rng.randrange(32, 127)]) * size
    if kind < 0.65:
        r = rng.random()
        target = (rng.choice(NAMES) if r < 0.7 else
                  "nobody" if r < 0.85 else "t" * 65000)
        return tell_in_a_frame(name, target, msg)
    if kind < 0.95:
        return say_in_a_frame(name, msg)
    return lib.request(QUIT, name)


def budget_call(rng):
    """Mostly large Says and Tells from several senders, few readers: the
    byte budget (PROTOCOL.md §4.4) evicts, lingering accounts come and go."""
    name = rng.choice(NAMES)
    kind = rng.random()
    # Rare Registers: each empties the user's queue (and its drop count).
    if kind < 0.025:
        return lib.request(REGISTER, name)
    if kind < 0.035:
        return lib.request(LIST)
    if kind < 0.12:
        return lib.request(CHECK_MESSAGES, name)
    if kind < 0.13:
        return lib.request(QUIT, name)
    size = rng.choice([1, 100, 50000, 60000, 60000, 65000])
    msg = bytes([rng.randrange(32, 127)]) * size
    if kind < 0.55:
        target = rng.choice(NAMES) if rng.random() < 0.9 else "nobody"
        return tell_in_a_frame(name, target, msg)
    return say_in_a_frame(name, msg)


def differential(ctx, redis, opts, calls, seed, ncalls, first=()):
    """Sends the same calls (first, then ncalls random ones) to both
    stores; returns the responses."""
    # A fresh chat in Redis for each configuration.
    redis.call("FLUSHALL")
    answers = []
    with Server(ctx, "--store", "memory", *opts) as mem, \
            Server(ctx, "--store", redis.url, *opts) as red:
        rng = random.Random(seed)
        reqs = list(first) + [calls(rng) for _ in range(ncalls)]
        ncalls += len(first)
        # Then every user reads what is left (one large message a call),
        # until the same short answer comes twice.
        for name in NAMES:
            reqs += [lib.request(CHECK_MESSAGES, name)] * 100
        prev = None
        for i, req in enumerate(reqs):
            if i >= ncalls and req == prev[0] and len(prev[1]) < 80 and \
                    prev[1] == answers[-2]:
                continue
            a = mem.raw(lib.frame(req))
            b = red.raw(lib.frame(req))
            assert a == b, (
                "config %s, call %d (%r...): memory answered %r..., "
                "redis %r..." % (opts, i, req[:40], a[:80], b[:80]))
            answers.append(a)
            prev = (req, a)
    return answers


def test_differential_memory_and_redis(ctx):
    """The same random calls give byte-identical responses in both stores."""
    configs = [["--queue-limit", "3", "--max-users", "4"],
               ["--queue-limit", "40"],
               ["--max-memory", "4M"],
               []]
    with Redis() as redis:
        for n, opts in enumerate(configs):
            differential(ctx, redis, opts, random_call, 1500 + n, 400)


def differential_drops(ctx, redis, configs, calls, seed, ncalls):
    """The differential test from every name logged in, once per
    configuration; messages must really have been dropped or evicted:
    readers were told."""
    for n, opts in enumerate(configs):
        answers = differential(
            ctx, redis, opts, calls, seed + n, ncalls,
            [lib.request(REGISTER, name) for name in NAMES])
        assert any(b"messages were dropped" in a for a in answers), opts


def test_differential_byte_budget(ctx):
    """Under the smallest budget both stores evict the same messages."""
    configs = [["--max-memory", "4M"],
               ["--max-memory", "4M", "--queue-limit", "40"],
               ["--max-memory", "5M", "--max-users", "6"]]
    with Redis() as redis:
        differential_drops(ctx, redis, configs, budget_call, 2500, 600)


def count_call(rng):
    """Floods by count (PROTOCOL.md §4.4): short Says and Tells, most from
    one name, a few readers; queues and the log drop by the sender-fair
    rule, ties included, while accounts come and go."""
    name = NAMES[0] if rng.random() < 0.5 else rng.choice(NAMES)
    kind = rng.random()
    if kind < 0.04:
        return lib.request(REGISTER, rng.choice(NAMES))
    if kind < 0.06:
        return lib.request(QUIT, rng.choice(NAMES))
    if kind < 0.07:
        return lib.request(LIST)
    if kind < 0.17:
        return lib.request(CHECK_MESSAGES, rng.choice(NAMES))
    size = rng.choice([0, 1, 2, 3, 1000]) if rng.random() < 0.97 else \
        rng.choice([30000, 60000])
    msg = bytes([rng.randrange(32, 127)]) * size
    if kind < 0.55:
        target = rng.choice(NAMES) if rng.random() < 0.9 else "nobody"
        return tell_in_a_frame(name, target, msg)
    return say_in_a_frame(name, msg)


def test_differential_count_floods(ctx):
    """Floods by count drop the same messages in both stores."""
    configs = [["--queue-limit", "3"],
               ["--queue-limit", "8", "--max-users", "6"],
               ["--queue-limit", "2", "--max-memory", "4M"],
               ["--queue-limit", "40", "--max-memory", "4M"]]
    with Redis() as redis:
        differential_drops(ctx, redis, configs, count_call, 3500, 700)
        # One name's flood of 300 Says, then of 300 Tells, past a limit
        # of 100: the others' messages before it all arrive.
        first = [lib.request(REGISTER, name) for name in NAMES]
        first += [lib.request(SAY, "bob", "before"),
                  lib.request(TELL, "carol", "dave", "psst")]
        first += [lib.request(SAY, "alice", str(i)) for i in range(300)]
        first += [lib.request(TELL, "alice", "dave", str(i))
                  for i in range(300)]
        answers = differential(ctx, redis, ["--queue-limit", "100"],
                               count_call, 3600, 0, first)
        got = b"".join(answers)
        assert b"bob says before" in got and b"carol tells you psst" in got


# -- batches ----------------------------------------------------------------

LUA = os.path.join(lib.ROOT, "src", "store_redis.lua")
BATCH_NAMES = [b"al", b"bo", b"cy", b"di", b"ed", b"fa"]


def batch_call(rng):
    """One call of an rpcchat_batch as store_redis.c sends it, its type
    then its arguments, among few users so that they meet in a batch."""
    name = rng.choice(BATCH_NAMES)
    kind = rng.random()
    if kind < 0.08:
        return [b"R", name]
    if kind < 0.55:
        return [b"C", name]
    if kind < 0.60:
        return [b"Q", name]
    text = bytes([rng.randrange(97, 123)]) * rng.choice(
        [0, 1, 5, 40, 300, 3000, 20000, 60000])
    if kind < 0.85:
        return [b"S", name, text, b"0"]
    target = rng.choice(BATCH_NAMES + [b""])
    return [b"T", name, target, text if target else b"",
            b"*** No such user: " + target, b"0"]


def batch_answers(calls, data):
    """The answers of calls, joined as rpcchat_batch answers them
    (store_redis.h): a status each, and a CheckMessages's strings, without
    the header before each, which says only where the function found it."""
    out, i = [], 0
    for call in calls:
        status = data[i]
        i += 1
        if call[0] != b"C" or status not in (0, 5):
            out.append((status,))
            continue
        n, head = int.from_bytes(data[i:i + 2], "big"), data[i + 2]
        i += 3
        strings = []
        for _ in range(n):
            i += head
            size = int.from_bytes(data[i:i + 2], "big")
            strings.append(data[i + 2:i + 2 + size])
            i += 2 + size
        out.append((status, strings))
    assert i == len(data), "answers of %d bytes, %d read" % (len(data), i)
    return out


def test_batches_answer_as_calls_alone(ctx):
    """Each call of an rpcchat_batch answers as if it had run alone: random
    batches (a user's calls meeting in one, Says between its reads, drops
    and evictions) in one Redis, the same calls one FCALL each in another."""
    with open(LUA, "rb") as f:
        lua = f.read()
    # queue limit, max users, max memory: counts, then bytes, evict.
    configs = [(3, 0, 100 << 20), (40, 0, 100 << 20), (10, 4, 60000),
               (8, 0, 2000), (100000, 0, 100 << 20)]
    with Redis() as batched, Redis() as alone:
        for n, (ql, users, mem) in enumerate(configs):
            rng = random.Random(4500 + n)
            for r in (batched, alone):
                r.call("FLUSHALL")
                r.call("FUNCTION", "LOAD", "REPLACE", lua)
                assert r.call("FCALL", "rpcchat_config", "0", str(ql), "0",
                              str(users), str(mem)) == b"OK"
            for b in range(120):
                calls = [batch_call(rng) for _ in range(rng.choice(
                    [1, 2, 3, 5, 10, 30, 60]))]
                if rng.random() < 0.3:
                    calls = [[b"R", m] for m in BATCH_NAMES
                             if rng.random() < 0.5] + calls
                if rng.random() < 0.3:
                    calls += [[b"C", m] for m in BATCH_NAMES]
                got = batched.call("FCALL", "rpcchat_batch", "0",
                                   *[a for c in calls for a in c])
                want = [alone.call("FCALL", "rpcchat_batch", "0", *c)
                        for c in calls]
                assert not any(isinstance(a, lib.RedisError)
                               for a in [got] + want), (got, want)
                assert batch_answers(calls, b"".join(got)) == \
                    batch_answers(calls, b"".join(b"".join(a) for a in want)), \
                    "config %d, batch %d: %r" % (n, b, [c[:2] for c in calls])
                if rng.random() < 0.05:
                    for r in (batched, alone):
                        r.call("FCALL", "rpcchat_tidy", "0")


# -- several front ends -----------------------------------------------------

def test_two_front_ends_one_chat(ctx):
    with Redis() as redis, \
            Server(ctx, "--store", redis.url) as a, \
            Server(ctx, "--store", redis.url) as b:
        ok(a.call(REGISTER, "alice"))
        ok(b.call(REGISTER, "bob"))
        assert ok(a.call(LIST)) == ["alice", "bob"]
        assert ok(b.call(LIST)) == ["alice", "bob"]
        ok(a.call(TELL, "alice", "bob", "psst"))
        ok(b.call(SAY, "bob", "hello all"))
        assert ok(a.call(CHECK_MESSAGES, "bob")) == [
            "alice tells you psst", "bob says hello all"]
        assert ok(b.call(CHECK_MESSAGES, "alice")) == [
            "*** bob has logged in", "bob says hello all"]
        ok(b.call(QUIT, "alice"))
        assert ok(a.call(LIST)) == ["bob"]
        a.wait_log(r"\*\*\* alice has logged in")
        b.wait_log(r"\*\*\* alice has logged out")


def test_front_end_with_other_limits_refuses_to_start(ctx):
    with Redis() as redis, Server(ctx, "--store", redis.url,
                                  "--queue-limit", "50"):
        status, out, err = lib.run_cli(ctx, "--store", redis.url,
                                       "--queue-limit", "60", "0")
        assert status != 0
        assert re.search(r"queue limit is 50 in the store, 60 here", err), err
    # The byte budget as well (PROTOCOL.md §4.4), in bytes.
    with Redis() as redis, Server(ctx, "--store", redis.url,
                                  "--max-memory", "4M"):
        status, out, err = lib.run_cli(ctx, "--store", redis.url,
                                       "--max-memory", "5M", "0")
        assert status != 0
        assert re.search(r"max memory is 4194304 in the store, 5242880 here",
                         err), err
    # A chat kept in an earlier layout of the keys, by front ends that
    # said none or said theirs: not served with these functions.
    for said, fmt in (((), "1"), (("format", "2"), "2")):
        with Redis() as redis:
            redis.call("HSET", "{rpcchat}:cfg", "queue_limit", "10000",
                       "idle_ms", "300000", "max_users", "0", "max_memory",
                       str(256 << 20), *said)
            status, out, err = lib.run_cli(ctx, "--store", redis.url, "0")
            assert status != 0
            assert "the keys' format is %s in the store, 5 here" % fmt \
                in err, err
    # The layouts before acctz and logz held their pad (a chat record
    # whose first byte is 3: its tally sets would be listpacks again) and
    # before the users' records were one hash (4).
    for fmt in "34":
        with Redis() as redis:
            redis.call("SET", "{rpcchat}:chat", fmt + "\0" * 88)
            status, out, err = lib.run_cli(ctx, "--store", redis.url, "0")
            assert status != 0
            assert "the keys' format is %s in the store, 5 here" % fmt \
                in err, err


def test_idle_users_logged_out_once_across_front_ends(ctx):
    with Redis() as redis, \
            Server(ctx, "--store", redis.url, "--idle-timeout", "2") as a, \
            Server(ctx, "--store", redis.url, "--idle-timeout", "2") as b:
        ok(a.call(REGISTER, "sleepy"))
        ok(b.call(REGISTER, "awake"))
        deadline = time.monotonic() + lib.scaled(20)
        seen = []
        while time.monotonic() < deadline:
            seen += ok(b.call(CHECK_MESSAGES, "awake"))
            if "*** sleepy has logged out" in seen:
                break
            time.sleep(0.2)
        assert seen.count("*** sleepy has logged out") == 1, seen

        def logs():
            return [l for s in (a, b) for l in s.log
                    if re.search(r"sleepy has logged out \(idle", l)]
        # The log line may still be on its way from the front end's stderr.
        wait_until(logs, timeout=5, what="the logout in a front end's log")
        assert ok(a.call(LIST)) == ["awake"]
        # Logged out once: one log line, by whichever front end did it.
        assert len(logs()) == 1, logs()


def aof_size(redis):
    d = os.path.join(redis.dir, "appendonlydir")
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def redis_ms(redis):
    sec, usec = redis.call("TIME")
    return int(sec) * 1000 + int(usec) // 1000


def test_empty_polls_write_nothing(ctx):
    """A CheckMessages that finds nothing writes nothing until the user's
    idle clock is a step old (a tenth of the timeout, at most 5 s): the
    append-only file, which every replica copies, does not grow."""
    step = 5000
    with Redis(aof=True) as redis, \
            Server(ctx, "--store", redis.url, "--idle-timeout", "3600") as srv:
        for name in ("alice", "bob"):
            ok(srv.call(REGISTER, name))
        for name in ("alice", "bob"):
            ok(srv.call(CHECK_MESSAGES, name))
        # Once both have read the login notice, the periodic tidying frees
        # it and has nothing more to write (the log keeps only its pad).
        wait_until(lambda: redis.call("ZCARD", "{rpcchat}:log") == 1,
                   timeout=10, what="the notice read by all to be freed")
        moved = min(int(float(redis.call("ZSCORE", "{rpcchat}:idle", n)))
                    for n in ("alice", "bob"))
        before = aof_size(redis)
        for _ in range(100):
            for name in ("alice", "bob"):
                assert ok(srv.call(CHECK_MESSAGES, name)) == []
        if redis_ms(redis) >= moved + step:
            lib.skip("200 polls took longer than the idle clock's step here")
        assert aof_size(redis) == before
        # Coarse, not stopped: a step later a poll moves the clock again.
        after = aof_size(redis)
        wait_until(lambda: ok(srv.call(CHECK_MESSAGES, "alice")) == [] and
                   aof_size(redis) > after, timeout=15, interval=0.2,
                   what="a poll a step later to write the idle clock")


# -- failures -----------------------------------------------------------------

def test_redis_restart_keeps_acknowledged_messages(ctx):
    with Redis(aof=True) as redis, Server(ctx, "--store", redis.url) as srv:
        ok(srv.call(REGISTER, "alice"))
        ok(srv.call(REGISTER, "bob"))
        ok(srv.call(SAY, "alice", "before the outage"))
        redis.stop()
        assert srv.call(SAY, "alice", "during") == (None, UNAVAILABLE)
        assert srv.call(CHECK_MESSAGES, "bob") == ([], UNAVAILABLE)
        assert srv.call(LIST) == ([], UNAVAILABLE)
        srv.wait_log(r"store: redis at .* unavailable")
        redis.start()
        wait_until(lambda: srv.call(LIST)[1] == "", timeout=15,
                   what="the front end to serve again")
        srv.wait_log(r"store: redis at .* is back")
        assert ok(srv.call(CHECK_MESSAGES, "bob")) == [
            "alice says before the outage"]
        ok(srv.call(SAY, "bob", "after"))
        assert ok(srv.call(CHECK_MESSAGES, "alice")) == [
            "*** bob has logged in", "alice says before the outage",
            "bob says after"]
        # The outage was logged once, however many calls failed.
        assert len([l for l in srv.log if "unavailable (" in l]) == 1


def test_redis_emptied_comes_back(ctx):
    """A Redis that returns empty gets the functions and limits again."""
    with Redis() as redis, Server(ctx, "--store", redis.url) as srv:
        ok(srv.call(REGISTER, "alice"))
        redis.kill()
        redis.start()
        wait_until(lambda: srv.call(LIST)[1] == "", timeout=15,
                   what="the front end to serve again")
        assert ok(srv.call(LIST)) == []
        assert srv.call(CHECK_MESSAGES, "alice") == (
            ["*** You are not logged in, alice"], "")


def test_functions_or_configuration_lost_are_restored(ctx):
    """FUNCTION FLUSH (found by asking FUNCTION LIST, as "ERR Function not
    found" has no code of its own) and FLUSHALL (NOCONFIG): the front end
    loads what is missing and serves again, by itself."""
    with Redis() as redis, Server(ctx, "--store", redis.url) as srv:
        ok(srv.call(REGISTER, "alice"))
        for lose in (("FUNCTION", "FLUSH"), ("FLUSHALL",)):
            assert redis.call(*lose) == "OK"
            assert srv.call(REGISTER, "bob") == (None, UNAVAILABLE)
            wait_until(lambda: srv.call(REGISTER, "bob")[1] == "",
                       timeout=15, what="the front end to serve again")
        assert redis.call("FUNCTION", "LIST", "LIBRARYNAME", "rpcchat")
        assert ok(srv.call(LIST)) == ["bob"]
        assert len([l for l in srv.log if " is back; " in l]) == 2


def test_store_url_forms(ctx):
    """A host name is looked up (off the loop); the store is named in the
    log's second line; bad URLs and options are usage errors."""
    with Redis() as redis, \
            Server(ctx, "--store", "redis://localhost:%d" % redis.port) as srv:
        srv.wait_log(r"store: redis at localhost:%d$" % redis.port)
        wait_until(lambda: srv.call(LIST)[1] == "", timeout=10,
                   what="the front end to serve")
        ok(srv.call(REGISTER, "alice"))
    with Server(ctx) as srv:
        srv.wait_log(r"store: memory$")
    for args, why in (
            (["--store", "redis://h:0"], r"port is not a number"),
            (["--store", "redis-sentinel://h"], r"#MASTER is missing"),
            (["--store", "redis:/h"], r"is not memory, redis://"),
            (["--store-sync", "1"], r"--store-sync needs a Redis --store"),
            (["--store-sync", "-1", "--store", "redis://h"],
             r"--store-sync: '-1' is not a number")):
        status, out, err = lib.run_cli(ctx, *args, "0")
        assert status == 2, (args, err)
        assert re.search(why, err), (args, err)


def test_front_end_started_while_redis_is_down(ctx):
    with Redis() as redis:
        redis.stop()
        with Server(ctx, "--store", redis.url) as srv:
            srv.wait_log(r"store: redis at .* unavailable")
            assert srv.call(REGISTER, "alice") == (None, UNAVAILABLE)
            redis.start()
            wait_until(lambda: srv.call(REGISTER, "alice")[1] == "",
                       timeout=15, what="the front end to connect")
            assert ok(srv.call(LIST)) == ["alice"]


def test_call_past_its_deadline_fails(ctx):
    """A Redis that stops answering: 'store unavailable', not a hang."""
    with Redis() as redis, Server(ctx, "--store", redis.url) as srv:
        ok(srv.call(REGISTER, "alice"))
        os.kill(redis.proc.pid, signal.SIGSTOP)
        try:
            start = time.monotonic()
            assert srv.call(SAY, "alice", "hello?") == (None, UNAVAILABLE)
            assert time.monotonic() - start < lib.scaled(10)
        finally:
            os.kill(redis.proc.pid, signal.SIGCONT)
        wait_until(lambda: srv.call(LIST)[1] == "", timeout=15,
                   what="the front end to serve again")
        # Never retried: the Say was applied once, or not at all.
        got = ok(srv.call(CHECK_MESSAGES, "alice"))
        assert got in ([], ["alice says hello?"]), got


def says(messages, sender):
    """The numbers of sender's Says in a list of messages."""
    pat = re.compile(r"^%s says (\d+)$" % sender)
    return [int(m.group(1)) for m in map(pat.match, messages) if m]


def load_says(port, sender, stop, acked, seconds=90):
    """Says numbered 0, 1, ... until stop (or a deadline); records those
    acknowledged.  While the front end is down, tries again every 10 ms."""
    deadline = time.monotonic() + lib.scaled(seconds)
    i = 0
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            if lib.call(port, SAY, sender, str(i), timeout=5) == (None, ""):
                acked.append(i)
        except (OSError, AssertionError):
            time.sleep(0.01)
        i += 1


@lib.slow
@lib.timeout(120)
def test_kill_front_end_under_load(ctx):
    """kill -9 a front end mid-load: acknowledged Says arrive once, in order."""
    users = ["ann", "ben", "cat"]
    with Redis() as redis, Server(ctx, "--store", redis.url) as b:
        a = Server(ctx, "--store", redis.url)
        for u in users:
            ok(b.call(REGISTER, u))
        stop = threading.Event()
        acked_a, acked_b = [], []
        ta = threading.Thread(target=load_says,
                              args=(a.port, "ann", stop, acked_a))
        tb = threading.Thread(target=load_says,
                              args=(b.port, "ben", stop, acked_b))
        ta.start()
        tb.start()
        wait_until(lambda: len(acked_a) >= 50, timeout=30,
                   what="Says through the first front end")
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        n = len(acked_b)
        wait_until(lambda: len(acked_b) >= n + 50, timeout=30,
                   what="Says through the other front end")
        n = len(acked_a)
        with Server(ctx, "--store", redis.url, port=a.port) as a2:
            wait_until(lambda: len(acked_a) >= n + 50, timeout=30,
                       what="Says through the restarted front end")
            stop.set()
            ta.join(30)
            tb.join(30)
            for u in users:
                got = []
                while True:
                    batch = ok(a2.call(CHECK_MESSAGES, u))
                    if not batch:
                        break
                    got += batch
                for sender, acked in (("ann", acked_a), ("ben", acked_b)):
                    seen = says(got, sender)
                    assert seen == sorted(set(seen)), \
                        "%s got %s's Says out of order or twice" % (u, sender)
                    missing = set(acked) - set(seen)
                    assert not missing, "%s lost %d acknowledged Says of %s" \
                        % (u, len(missing), sender)


# -- a balancer in front --------------------------------------------------------

HAPROXY_CFG = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "..", "..", "docs", "haproxy.cfg")


@lib.slow
def test_clients_through_haproxy(ctx):
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        lib.skip("haproxy is not installed (make deps installs it)")
    with Redis() as redis, \
            Server(ctx, "--store", redis.url) as a, \
            Server(ctx, "--store", redis.url) as b:
        port = lib.free_port()
        env = dict(os.environ, RPCCHAT_LISTEN="127.0.0.1:%d" % port,
                   RPCCHAT_A="127.0.0.1:%d" % a.port,
                   RPCCHAT_B="127.0.0.1:%d" % b.port)
        proc = subprocess.Popen([haproxy, "-db", "-f", HAPROXY_CFG], env=env,
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: _answers(port), timeout=10,
                       what="haproxy to listen")
            with lib.Client(ctx, port, "alice", host="127.0.0.1") as alice, \
                    lib.Client(ctx, port, "bob", host="127.0.0.1") as bob:
                alice.expect(r"logged in")
                bob.expect(r"logged in")
                alice.send("say hello through the balancer")
                bob.expect(r"alice says hello through the balancer",
                           timeout=10)
                bob.send("tell alice and back")
                alice.expect(r"bob tells you and back", timeout=10)
            # Both front ends served some of it.
            assert any("logged in" in l for l in a.log + b.log)
        finally:
            proc.terminate()
            proc.wait(10)


def _answers(port):
    try:
        return lib.call(port, LIST, timeout=2)[1] == ""
    except (OSError, AssertionError):
        return False
