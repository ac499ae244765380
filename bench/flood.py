#!/usr/bin/env python3
"""bench/flood.py - the floods and attacks of tests/e2e/test_budget.py, with
the server's memory over time.

    python3 bench/flood.py --bin . [--attack NAME] [--seconds 20]

--attack flood (the default): six threads send maximum-size Tells and
Says from three names at four users who never poll and at two who chat
(say, tell, list every 0.1 s), against `rpcchat --max-memory M
--max-connections 64`; prints the server's VmRSS every half second, then
VmHWM, README's bound, the flood calls made and the slowest ordinary call.

--attack count-flood: one name sends one-byte Says, then one-byte Tells
to bob, as fast as it can, against the default --queue-limit and
--max-memory 32M, while bob reads now and then; prints VmRSS every half
second and what bob lost (only the flooder's messages).

--attack fragmentation, small-then-big, big-then-small, random-sizes:
the patterns of sizes that fragment a heap (test_budget.py says each), at
--max-memory 32M; all of them, one after the other: --attack all (the
count flood included).

Bounded: every run stops after --seconds.
"""

import argparse
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import lib  # noqa: E402
import test_budget  # noqa: E402


def size_of(mm):
    return int(mm[:-1]) << {"K": 10, "M": 20, "G": 30}[mm[-1]] \
        if mm[-1] in "KMG" else int(mm)


def flood(ctx, args):
    mm = args.max_memory
    print("| s | VmRSS MiB |\n|---|---|")
    r = test_budget.flood_and_chat(
        ctx, args.seconds, mm, 64, flooders=6,
        on_sample=lambda s: print("| %.1f | %.1f |" % (s[0], s[1] / 1024),
                                  flush=True))
    print("\nVmHWM %.1f MiB; bound 1.25 x %s + 12 MiB + 264 KiB x 64 = %.1f "
          "MiB; %d flood calls (%.0f MiB sent); %d ordinary calls, the "
          "slowest %.3f s" % (
              r["hwm_kb"] / 1024, mm,
              test_budget.rss_bound(size_of(mm), 64) / 2**20, r["sent"],
              r["sent"] * lib.TEXT_MAX / 2**20, r["chat_calls"],
              r["latency_max"]))


def attack(ctx, name, seconds):
    print("%s:\n\n| s | VmRSS MiB |\n|---|---|" % name)
    r = test_budget.run_attack(
        ctx, name, seconds,
        on_sample=lambda _, s: print("| %.1f | %.1f |" % (s[0], s[1] / 1024),
                                     flush=True))
    bound = test_budget.rss_bound(test_budget.ATTACK_MEMORY,
                                  test_budget.ATTACK_CONNECTIONS)
    print("\n%s: VmHWM %.1f MiB; bound 1.25 x 32M + 12 MiB + 264 KiB x 64 = "
          "%.1f MiB\n" % (name, r["hwm_kb"] / 1024, bound / 2**20))


def count_flood(ctx, seconds):
    """The count flood of test_budget.py, for `seconds`: each round
    sends 12,000 one-byte Says or Tells from "flood", then bob reads
    everything; alice's message sent first in each round must come
    through."""
    print("count-flood:\n\n| s | VmRSS MiB |\n|---|---|")
    with lib.Server(ctx, "--max-memory", "32M", "--idle-timeout", 0) as srv:
        for u in ["bob", "alice", "flood"]:
            lib.ok(srv.call(lib.REGISTER, u))
        srv.drain("bob")
        stop = threading.Event()
        start = time.monotonic()

        def sample():
            while not stop.wait(0.5):
                print("| %.1f | %.1f |" % (
                    time.monotonic() - start,
                    test_budget.status_kb(srv.pid, "VmRSS") / 1024),
                    flush=True)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        rounds = sent = lost_alice = 0
        deadline = start + seconds
        while time.monotonic() < deadline:
            tell = rounds % 2
            if tell:
                lib.ok(srv.call(lib.TELL, "alice", "bob", "psst"))
                frame = test_budget.tell("flood", "bob", 1)
            else:
                lib.ok(srv.call(lib.SAY, "alice", "hello"))
                frame = test_budget.say("flood", 1)
            sent += test_budget.blast(srv.port, [frame] * 12000, deadline)
            got = srv.drain("bob")
            want = "alice tells you psst" if tell else "alice says hello"
            lost_alice += want not in got
            rounds += 1
        stop.set()
        sampler.join(10)
        hwm = test_budget.status_kb(srv.pid, "VmHWM")
    print("\ncount-flood: VmHWM %.1f MiB; %d rounds, %d flood calls; "
          "rounds where alice's message was lost: %d\n" % (
              hwm / 1024, rounds, sent, lost_alice))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=".")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--max-memory", default="32M",
                    help="for --attack flood")
    ap.add_argument("--attack", default="flood",
                    choices=["flood", "count-flood", "all"] +
                    list(test_budget.ATTACKS))
    args = ap.parse_args()
    ctx = lib.Ctx(args.bin)
    if args.attack == "flood":
        flood(ctx, args)
    elif args.attack == "count-flood":
        count_flood(ctx, args.seconds)
    elif args.attack == "all":
        count_flood(ctx, args.seconds)
        for name in test_budget.ATTACKS:
            attack(ctx, name, args.seconds)
    else:
        attack(ctx, args.attack, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
