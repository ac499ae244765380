"""
test_budget.py - the byte budget of PROTOCOL.md §4.4 over real sockets: a flood
of maximum-size Tells and Says keeps the server's resident memory under
README's formula, while two ordinary users keep chatting and lose nothing
of their own.
"""

import os
import random
import threading
import time

import lib
from lib import REGISTER, CHECK_MESSAGES, TELL, SAY, LIST, TEXT_MAX, ok

MiB = 1 << 20


def rss_bound(max_memory, max_connections):
    """README's formula: 1.25 x --max-memory + 8 MiB + 264 KiB a connection."""
    return int(1.25 * max_memory) + 8 * MiB + 264 * 1024 * max_connections


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
