#!/usr/bin/env python3
"""bench/compare.py - two server builds side by side, as make bench runs them.

    python3 bench/compare.py --bin . --baseline /tmp/old/rpcchat

Runs make bench's steady chat (bench/run.py: 100 users, the same mix) at
one concurrency against both servers, the runs interleaved (baseline,
new; new, baseline; ...) so the machine's background load hits both
alike, and prints the median calls/s, p99 and server CPU per call of each
and their ratios, round by round as make bench compares the server with
the responder.

    python3 bench/compare.py --bin . --baseline OLD --scenario bigroom

does the same with make bench's big room, login storm or backlog, each
scenario run against each build in turn.  Every server is started on
port 0 and stopped by its PID.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


# The figures of make bench's other scenarios, each with whether lower
# is better, taken from what run.py's scenario functions return.
def room_figures(out):
    reg, d = out
    x = d["run"]
    return {"calls/s": (x["calls_per_sec"], False),
            "p99 ms": (x["latency_ms"]["p99"], True),
            "server CPU µs/call": (d["server_us_per_call"], True),
            "peak RSS KiB": (d["hwm_kib"], True)}


def storm_figures(d):
    return {"seconds": (d["run"]["seconds"], True),
            "peak RSS KiB": (d["hwm_kib"], True)}


def backlog_figures(b):
    return {"peak RSS KiB": (b["final_hwm"], True),
            "collect seconds": (b["collect"]["collect"]["seconds"], True),
            "Says collected": (b["collect"]["collected"]["says"], False)}


SCENARIOS = {
    "bigroom": (lambda r, a: run.big_room(r, a.users), room_figures),
    "storm": (lambda r, a: run.login_storm(r, a.users), storm_figures),
    "backlog": (lambda r, a: run.backlog(r, a.users, a.says),
                backlog_figures),
}


def other_scenario(args, name):
    """One of make bench's single-server scenarios, each build in turn
    (alternating which goes first), every figure the median of the
    rounds and compared round by round."""
    scenario, figures = SCENARIOS[name]
    new = run.Runner(args)
    base = run.Runner(args)
    base.server = args.baseline
    rounds = {"baseline": [], "new": []}
    for i in range(args.repeat):
        pair = [("baseline", base), ("new", new)]
        for who, r in (pair if i % 2 == 0 else pair[::-1]):
            rounds[who].append(figures(scenario(r, args)))
    print("%s, %d rounds:\n" % (name, args.repeat))
    print("| figure | baseline | new | new ÷ baseline (paired) | worse |")
    print("|---|---|---|---|---|")
    for f, (_, lower_better) in rounds["new"][0].items():
        b = [x[f][0] for x in rounds["baseline"]]
        n = [x[f][0] for x in rounds["new"]]
        q = run.median([y / x for x, y in zip(b, n) if x])
        worse = q - 1 if lower_better else 1 - q
        print("| %s | %s | %s | %.3f× | %s |" % (
            f, fmt(run.median(b)), fmt(run.median(n)), q,
            "%.1f%%" % (100 * worse) if worse > 0 else "no"))
    failures = new.failures + base.failures
    for f in failures:
        print("error: " + f, file=sys.stderr)
    return 1 if failures else 0


def fmt(v):
    return "%.0f" % v if v >= 100 else "%.2f" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=".")
    ap.add_argument("--baseline", required=True, help="the other rpcchat")
    ap.add_argument("--scenario", default="steady",
                    choices=["steady"] + sorted(SCENARIOS))
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--says", type=int, default=100)
    args = ap.parse_args()
    if args.scenario != "steady":
        return other_scenario(args, args.scenario)
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
    print("\nnew ÷ baseline, the median of the rounds' ratios (in brackets, "
          "of the medians):")
    for what, key, mb, mn in (
            ("calls/s", "rates", b["run"]["calls_per_sec"],
             n["run"]["calls_per_sec"]),
            ("p99", "p99s", b["run"]["latency_ms"]["p99"],
             n["run"]["latency_ms"]["p99"]),
            ("server CPU per call", "cpus", b["server_us_per_call"],
             n["server_us_per_call"])):
        print("  %s %.3f× (%.3f×)" % (what, run.paired(n, b, key), mn / mb))
    for f in r.failures:
        print("error: " + f, file=sys.stderr)
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
