#!/usr/bin/env python3
"""bench/compare.py - two server builds in the steady-chat scenario.

    python3 bench/compare.py --bin . --baseline /tmp/old/rpcchat

Runs make bench's steady chat (bench/run.py: 100 users, the same mix) at
one concurrency against both servers, the runs interleaved (baseline,
new, baseline, new, ...) so the machine's background load hits both
alike, and prints the median calls/s, p99 and server CPU per call of each
and their ratio.  Both servers are started on port 0 and stopped by PID.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=".")
    ap.add_argument("--baseline", required=True, help="the other rpcchat")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    r = run.Runner(args)
    targets = [run.Target("baseline", [args.baseline, "0"]),
               run.Target("new", [r.server, "0"])]
    try:
        out = run.steady(r, targets, [args.concurrency], args.repeat)
    finally:
        for t in targets:
            t.stop()
    med = {name: rows[0][1] for name, rows in out.items()}
    print("| build | calls/s (median) | runs | p99 ms | server CPU µs/call |")
    print("|---|---|---|---|---|")
    for name in ("baseline", "new"):
        d = med[name]
        print("| %s | %.0f | %s | %.2f | %.1f |" % (
            name, d["run"]["calls_per_sec"],
            " ".join("%.0f" % x for x in d["rates"]),
            d["run"]["latency_ms"]["p99"], d["server_us_per_call"]))
    b, n = med["baseline"], med["new"]
    print("\nnew ÷ baseline: calls/s %.3f×, p99 %.3f×, server CPU per call "
          "%.3f×" % (n["run"]["calls_per_sec"] / b["run"]["calls_per_sec"],
                     n["run"]["latency_ms"]["p99"] /
                     b["run"]["latency_ms"]["p99"],
                     n["server_us_per_call"] / b["server_us_per_call"]))
    for f in r.failures:
        print("error: " + f, file=sys.stderr)
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
