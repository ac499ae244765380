"""
test_budget.py - the limits of PROTOCOL.md §4.4 over real sockets, played as
an attacker would: a flood by count loses only the flooder's own messages;
floods of maximum-size Tells and Says, and the patterns of sizes that
fragment a heap, keep the server's resident memory under README's formula,
while ordinary users keep chatting and lose nothing of their own.
"""

import os
import random
import selectors
import socket
import subprocess
import threading
import time

import lib
from lib import REGISTER, CHECK_MESSAGES, TELL, SAY, LIST, TEXT_MAX, ok

MiB = 1 << 20


def rss_bound(max_memory, max_connections):
    """README's formula: 1.25 x --max-memory + 12 MiB + 264 KiB a
    connection."""
    return int(1.25 * max_memory) + 12 * MiB + 264 * 1024 * max_connections


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def sanitized(path):
    """ASan keeps freed memory in quarantine: RSS says nothing there."""
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


ANSWERED = b"\x00\x02\x00\x00"      # a response of just an empty error


def blast(port, frames, deadline=None, window=32):
    """
    Sends each request frame on its own connection, `window` at a time,
    until they are all answered or the deadline passes; returns how many
    were answered with an empty error.  Much faster than one call at a
    time, and bounded: every socket waits at most 10 s.
    """
    sel = selectors.DefaultSelector()
    frames = iter(frames)
    inflight = good = 0
    more = True
    while True:
        while more and inflight < window and (
                deadline is None or time.monotonic() < deadline):
            frame = next(frames, None)
            if frame is None:
                more = False
                break
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            sel.register(s, selectors.EVENT_WRITE,
                         [frame, b"", time.monotonic() + lib.scaled(10)])
            inflight += 1
        if inflight == 0:
            break
        now = time.monotonic()
        for key, ev in sel.select(timeout=1):
            s, st = key.fileobj, key.data
            try:
                if ev & selectors.EVENT_WRITE:
                    st[0] = st[0][s.send(st[0]):]
                    if not st[0]:
                        sel.modify(s, selectors.EVENT_READ, st)
                    continue
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:     # refused beyond --max-connections
                data = b""
                st[1] = None
            if data:
                st[1] += data
                continue
            sel.unregister(s)
            s.close()
            inflight -= 1
            good += st[1] == ANSWERED
        for key in list(sel.get_map().values()):
            if key.data[2] < now:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                inflight -= 1
    sel.close()
    return good


def tell(user, target, size):
    body = b"m" * max(0, min(size, TEXT_MAX - len(user) - len(" tells you ")))
    return lib.frame(lib.request(TELL, user, target, body))


def say(user, size):
    body = b"m" * max(0, min(size, TEXT_MAX - len(user) - len(" says ")))
    return lib.frame(lib.request(SAY, user, body))


def flood_and_chat(ctx, seconds, max_memory, conns, flooders, on_sample=None):
    """
    Floods for `seconds` from `flooders` threads while alice and bob chat;
    returns (srv_status dict).  Checks everything PROTOCOL.md §4.4 promises.
    """
    targets = ["t%d" % i for i in range(4)]
    floods = ["f%d" % i for i in range(3)]
    normal = ["alice", "bob"]
    result = {}
    with lib.Server(ctx, "--max-memory", max_memory, "--max-connections",
                    conns, "--idle-timeout", 0) as srv:
        for u in targets + floods + normal:
            ok(srv.call(REGISTER, u))
        for u in normal:
            srv.drain(u)
        stop = threading.Event()
        errors = []
        sent = [0]
        lock = threading.Lock()

        def flooder(seed):
            rnd = random.Random(seed)
            while not stop.is_set():
                me = rnd.choice(floods)
                body = "x" * (TEXT_MAX - len(me) - len(" tells you "))
                try:
                    if rnd.random() < 0.5:
                        _, err = srv.call(TELL, me, rnd.choice(targets +
                                                               normal), body)
                    else:
                        body = body[:TEXT_MAX - len(me) - len(" says ")]
                        _, err = srv.call(SAY, me, body)
                except OSError as e:     # refused beyond --max-connections
                    err = None
                    time.sleep(0.01)
                if err:
                    with lock:
                        errors.append(err)
                with lock:
                    sent[0] += 1

        latencies = []
        mine = {u: [] for u in normal}       # what each said, in order
        told = {u: [] for u in normal}       # what each was told, in order

        def chatter(me, other):
            i = 0
            while not stop.is_set():
                t0 = time.monotonic()
                say = "%s-say-%d" % (me, i)
                ok(srv.call(SAY, me, say))
                mine[me].append("%s says %s" % (me, say))
                tell = "%s-tell-%d" % (me, i)
                ok(srv.call(TELL, me, other, tell))
                told[other].append("%s tells you %s" % (me, tell))
                ok(srv.call(LIST))
                latencies.append((time.monotonic() - t0) / 3)
                i += 1
                time.sleep(0.1)

        threads = [threading.Thread(target=flooder, args=(s,), daemon=True)
                   for s in range(flooders)]
        threads += [threading.Thread(target=chatter, args=p, daemon=True)
                    for p in (("alice", "bob"), ("bob", "alice"))]
        for t in threads:
            t.start()
        start = time.monotonic()
        samples = []
        while time.monotonic() - start < seconds:
            time.sleep(0.5)
            samples.append((time.monotonic() - start,
                            status_kb(srv.pid, "VmRSS")))
            if on_sample:
                on_sample(samples[-1])
        stop.set()
        for t in threads:
            t.join(lib.scaled(30))
            assert not t.is_alive(), "a load thread did not stop"
        assert not errors, errors[:3]
        result["hwm_kb"] = status_kb(srv.pid, "VmHWM")
        result["samples"] = samples
        result["sent"] = sent[0]
        result["latency_max"] = max(latencies)
        result["chat_calls"] = 3 * len(latencies)

        # Every one of their own messages, in order, after the backlog.
        for u in normal:
            got = srv.drain(u)
            own = [m for m in got if m.startswith("alice ") or
                   m.startswith("bob ")]
            says = [m for m in own if " says " in m]
            tells = [m for m in own if " tells you " in m]
            want_says = [m for m in (mine["alice"] + mine["bob"])]
            assert sorted(says) == sorted(want_says), \
                "%s lost Says: %r" % (u, set(want_says) - set(says))
            for who in normal:
                seq = [m for m in says if m.startswith(who + " ")]
                assert seq == mine[who], "%s: %s's Says out of order" % (
                    u, who)
            assert tells == told[u], "%s: Tells lost or out of order" % u
        result["dropped_notices"] = True
    return result


@lib.slow
@lib.timeout(150)
def test_flood_stays_within_budget(ctx):
    if sanitized(ctx.rpcchat):
        lib.skip("RSS means nothing under AddressSanitizer's quarantine")
    max_memory, conns = 32 * MiB, 64
    seconds = 5 if lib.VALGRIND else 20
    r = flood_and_chat(ctx, seconds, "32M", conns, flooders=6)
    bound = rss_bound(max_memory, conns)
    # The flood must have been one: several budgets' worth of bytes.
    assert r["sent"] * TEXT_MAX > 3 * max_memory or lib.VALGRIND, \
        "only %d flood calls: no flood" % r["sent"]
    assert r["hwm_kb"] * 1024 < bound, \
        "VmHWM %d kB over the bound %d kB" % (r["hwm_kb"], bound // 1024)
    # Generous: the machine may be busy; a stalled loop would be seconds.
    assert r["latency_max"] < lib.scaled(2.0), \
        "an ordinary call took %.2f s during the flood" % r["latency_max"]


@lib.slow
@lib.timeout(240)
def test_count_flood_loses_only_the_flooders(ctx):
    """
    12,000 one-byte Says from one name, then as many Tells, sent faster
    than a client polls, against the default --queue-limit of 10,000:
    what alice sent before the flood reaches bob, in order, and bob's drop
    notices count only the flood's messages (PROTOCOL.md §4.4).
    """
    with lib.Server(ctx, "--idle-timeout", 0) as srv:
        for u in ["bob", "alice", "flood"]:
            ok(srv.call(REGISTER, u))
        ok(srv.call(SAY, "alice", "hello bob, are you there?"))
        assert blast(srv.port, [say("flood", 1)] * 12000) == 12000
        got = srv.drain("bob")
        # The flooder's login notice and its first 2,002 Says made room.
        assert got[0] == "*** 2003 messages were dropped", got[:3]
        assert got[1:3] == ["*** alice has logged in",
                            "alice says hello bob, are you there?"], got[:3]
        assert got[3:] == ["flood says m"] * 9998
        # One user's queue, the same: the flooder's Tells go first.
        ok(srv.call(TELL, "alice", "bob", "psst"))
        assert blast(srv.port, [tell("flood", "bob", 1)] * 12000) == 12000
        got = srv.drain("bob")
        assert got[:2] == ["*** 2001 messages were dropped",
                           "alice tells you psst"], got[:3]
        assert got[2:] == ["flood tells you m"] * 9999


# -- the patterns of sizes that fragment a heap ------------------------------

ATTACK_SECONDS = 20
ATTACK_MEMORY = 32 * MiB
ATTACK_CONNECTIONS = 64
# The byte budget does the work: a queue may take the whole budget.
ATTACK_OPTIONS = ["--max-memory", "32M", "--max-connections",
                  ATTACK_CONNECTIONS, "--queue-limit", "10000000",
                  "--idle-timeout", "0"]


def budget_of(size):
    """How many messages of this size fill the budget."""
    return ATTACK_MEMORY // (size + 20 + 192) + 1


def bench(ctx, srv, prefix, size, calls, deadline, concurrency):
    """rpcchat-bench: PREFIX0 tells itself `calls` messages of `size`
    bytes, stopped (by its PID) at the deadline; returns at once."""
    p = subprocess.Popen(
        [ctx.bench, "-q", "-c", str(concurrency), "-u", "1", "--prefix",
         prefix, "--mix", "tell=1", "-s", str(size), "-n", str(calls),
         ":%d" % srv.port],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop():
        try:
            p.wait(max(0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return stop


def attack_fragmentation(ctx, srv, deadline):
    """8 KB Tells each followed by a 1-byte one from another sender until
    the budget is full, then 16.5 KB Tells, each evicting two 8 KB ones
    whose places sit between small ones; again and again."""
    for u in ["r", "a", "p"]:
        ok(srv.call(REGISTER, u))
    calls = 0
    while time.monotonic() < deadline:
        fill = [f for _ in range(budget_of(8192))
                for f in (tell("a", "r", 8192), tell("p", "r", 1))]
        calls += blast(srv.port, fill, deadline)
        calls += blast(srv.port, [tell("a", "r", 16896)] *
                       budget_of(16896), deadline)
    return calls


def attack_switch(small_first):
    """Fills the budget with one extreme size, one message in 64 from a
    sender who sends little; another sender's messages of the other size
    then evict all but those, left scattered, and take their place."""
    first, then = (1, TEXT_MAX) if small_first else (TEXT_MAX, 1)

    def attack(ctx, srv, deadline):
        half = time.monotonic() + (deadline - time.monotonic()) / 2
        n = budget_of(first)
        waits = [bench(ctx, srv, "s", first, n, half, 12),
                 bench(ctx, srv, "k", first, n // 64 + 1, half, 1)]
        for wait in waits:
            wait()
        bench(ctx, srv, "t", then, 10 * budget_of(then), deadline, 12)()
        return 1
    return attack


def attack_random(ctx, srv, deadline):
    """Says and Tells of random sizes from 1 byte to 65 KB among four
    users, a few reading, evicting all the while."""
    users = ["u0", "u1", "u2", "u3"]
    for u in users:
        ok(srv.call(REGISTER, u))
    rnd = random.Random(20)
    calls = 0
    while time.monotonic() < deadline:
        batch = []
        for _ in range(200):
            me = rnd.choice(users)
            size = int(2 ** rnd.uniform(0, 16))
            r = rnd.random()
            if r < 0.05:
                batch.append(lib.frame(lib.request(CHECK_MESSAGES, me)))
            elif r < 0.5:
                batch.append(say(me, size))
            else:
                batch.append(tell(me, rnd.choice(users), size))
        calls += blast(srv.port, batch, deadline)
    return calls


ATTACKS = {
    "fragmentation": attack_fragmentation,
    "small-then-big": attack_switch(True),
    "big-then-small": attack_switch(False),
    "random-sizes": attack_random,
}


def run_attack(ctx, name, seconds, on_sample=None):
    """One attack against a server of its own for `seconds`; its VmRSS
    every half second and its VmHWM at the end."""
    result = {"name": name, "samples": []}
    with lib.Server(ctx, *ATTACK_OPTIONS) as srv:
        stop = threading.Event()

        def sample():
            start = time.monotonic()
            while not stop.wait(0.5):
                s = (time.monotonic() - start, status_kb(srv.pid, "VmRSS"))
                result["samples"].append(s)
                if on_sample:
                    on_sample(name, s)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        result["calls"] = ATTACKS[name](ctx, srv, time.monotonic() + seconds)
        stop.set()
        sampler.join(lib.scaled(10))
        ok(srv.call(LIST))      # still serving
        result["hwm_kb"] = status_kb(srv.pid, "VmHWM")
    return result


@lib.slow
@lib.timeout(240)
def test_memory_attacks_stay_within_bound(ctx):
    """
    The fragmentation pattern, size switching both ways between the
    extreme sizes, and a random mix of sizes with evictions, 20 s each,
    all at once against servers of their own at --max-memory 32M: the
    VmHWM of each stays under README's formula (PROTOCOL.md §4.4).
    """
    if sanitized(ctx.rpcchat):
        lib.skip("RSS means nothing under AddressSanitizer's quarantine")
    seconds = 5 if lib.VALGRIND else ATTACK_SECONDS
    results = {}
    errors = []

    def run(name):
        try:
            results[name] = run_attack(ctx, name, seconds)
        except BaseException as e:      # reported below, by name
            errors.append((name, e))
    threads = [threading.Thread(target=run, args=(n,)) for n in ATTACKS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(lib.scaled(180))
        assert not t.is_alive(), "an attack did not stop"
    assert not errors, errors
    bound = rss_bound(ATTACK_MEMORY, ATTACK_CONNECTIONS)
    for name, r in results.items():
        assert r["calls"] > 0, "%s made no call" % name
        assert r["hwm_kb"] * 1024 < bound, "%s: VmHWM %d kB over the " \
            "bound %d kB" % (name, r["hwm_kb"], bound // 1024)


def test_max_memory_option(ctx):
    """--max-memory SIZE: K, M, G suffixes, at least 4M, else usage, 2."""
    for bad in ["3M", "4095K", "4x", "", "M", "-4M", "99999999999999G",
                "4MB"]:
        code, out, err = lib.run_cli(ctx, "--max-memory", bad, "0")
        assert code == 2, (bad, code, err)
        assert "--max-memory" in err and "usage" in err, (bad, err)
    code, _, err = lib.run_cli(ctx, "--max-memory", "4M", ":1", "alice")
    assert code == 2 and "server option" in err, err
    for good in ["4M", "4096K", "4194304", "1G", "256m"]:
        with lib.Server(ctx, "--max-memory", good) as srv:
            ok(srv.call(REGISTER, "alice"))
