#!/usr/bin/env python3
"""bench/flood.py - the flood of tests/e2e/test_budget.py, with its memory
over time.

    python3 bench/flood.py --bin . [--seconds 20] [--max-memory 32M]

Six threads send maximum-size Tells and Says from three names at four
users who never poll and at two who chat (say, tell, list every 0.1 s),
against `rpcchat --max-memory M --max-connections 64`; prints the
server's VmRSS every half second, then VmHWM, README's bound, the flood
calls made and the slowest ordinary call.  Bounded: it stops after
--seconds.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import lib  # noqa: E402
import test_budget  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=".")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--max-memory", default="32M")
    args = ap.parse_args()
    mm = args.max_memory
    size = int(mm[:-1]) << {"K": 10, "M": 20, "G": 30}[mm[-1]] \
        if mm[-1] in "KMG" else int(mm)
    ctx = lib.Ctx(args.bin)
    print("| s | VmRSS MiB |\n|---|---|")
    r = test_budget.flood_and_chat(
        ctx, args.seconds, mm, 64, flooders=6,
        on_sample=lambda s: print("| %.1f | %.1f |" % (s[0], s[1] / 1024),
                                  flush=True))
    print("\nVmHWM %.1f MiB; bound 1.25 x %s + 8 MiB + 264 KiB x 64 = %.1f "
          "MiB; %d flood calls (%.0f MiB sent); %d ordinary calls, the "
          "slowest %.3f s" % (
              r["hwm_kb"] / 1024, mm,
              test_budget.rss_bound(size, 64) / 2**20, r["sent"],
              r["sent"] * lib.TEXT_MAX / 2**20, r["chat_calls"],
              r["latency_max"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
