#!/usr/bin/env python3
"""bench/run.py - every benchmark scenario, in one go.

Runs rpcchat-bench against the freshly built server and against the
stateless responder (rpcchat-bench --responder), reads the servers' CPU
time and peak RSS from /proc, and writes the report: to
build/BENCHMARKS.md (make bench), or over the committed
docs/BENCHMARKS.md when asked (make bench-update).  The report's last
sections, measured by other scripts, are copied from the committed one.

    python3 bench/run.py --bin . [--out FILE] [--only SCENARIO...]

Everything is bounded: every server is started on port 0 and stopped by
its PID, every bench run has a call count or a duration and a timeout.
Nothing here changes the machine's settings (no sysctl): the ones that
matter are recorded in the report instead.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

# The tests' RESP client reads Redis's replies (INFO) for the store scenario.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "e2e"))
import lib  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
STEADY_MIX = "check=90,say=5,tell=4,list=1"
BIGROOM_MIX = "check=95,say=5"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Target:
    """A server process on port 0: the real one or the responder."""

    def __init__(self, name, argv):
        self.name = name
        self.argv = argv
        self.errf = tempfile.TemporaryFile(mode="w+b")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=self.errf)
        self.port = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.errf.seek(0)
            m = re.search(rb"Listening on :(\d+)", self.errf.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.port is None:
            self.stop()
            self.errf.seek(0)
            raise RuntimeError("%s did not start: %s" % (
                " ".join(argv), self.errf.read()[-500:].decode(errors="replace")))

    def cpu(self):
        """(utime, stime) of the process, in seconds."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK

    def status(self, key):
        """A /proc/PID/status field in KiB (VmHWM, VmRSS)."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.errf.close()


class Runner:
    def __init__(self, args):
        self.bin = args.bin
        self.bench = os.path.join(args.bin, "rpcchat-bench")
        self.server = os.path.join(args.bin, "rpcchat")
        self.duration = args.duration
        self.threads = args.threads
        self.failures = []

    def responder(self):
        return Target("responder", [self.bench, "--responder", "0"])

    def rpcchat(self, *opts):
        return Target("rpcchat", [self.server] + list(opts) + ["0"])

    def argv(self, target, *opts):
        return [self.bench, "--json", "-q", "-p", str(target.port),
                "-t", str(self.threads)] + [str(o) for o in opts]

    def run(self, target, *opts, timeout=120):
        """One rpcchat-bench run against target; its JSON as a dict."""
        return self.run_parallel([target], *opts, timeout=timeout)[0]

    def run_parallel(self, targets, *opts, timeout=120):
        """The same rpcchat-bench run against each target at once."""
        t0 = time.monotonic()
        procs = [(self.argv(t, *opts), subprocess.Popen(
            self.argv(t, *opts), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)) for t in targets]
        out = []
        for (argv, p), target in zip(procs, targets):
            try:
                so, se = p.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                so, se = p.communicate()
            out.append(self._parse(target, argv, p.returncode, so, se, opts,
                                   time.monotonic() - t0))
        return out

    def _parse(self, target, argv, rc, stdout, stderr, opts, wall):
        try:
            d = json.loads(stdout)
        except ValueError:
            raise RuntimeError("rpcchat-bench %s: exit %s, %s" % (
                " ".join(argv[1:]), rc,
                stderr.decode(errors="replace")[-500:]))
        d["wall"] = wall
        if d.get("failed"):
            self.failures.append("%s: %s: %s" % (
                target.name, " ".join(str(o) for o in opts), errors_of(d)))
        return d

    def measured(self, target, *opts, **kw):
        """A run with the target's CPU time around it."""
        c0 = target.cpu()
        d = self.run(target, *opts, **kw)
        c1 = target.cpu()
        r = d["run"]
        calls = r["ok"] + r["errors"]
        user, sys_ = c1[0] - c0[0], c1[1] - c0[1]
        d["server_cpu_s"] = user + sys_
        d["server_us_per_call"] = (user + sys_) * 1e6 / calls if calls else 0
        d["server_user_us_per_call"] = user * 1e6 / calls if calls else 0
        d["hwm_kib"] = target.status("VmHWM")
        return d


def errors_of(d):
    out = []
    for phase in ("register", "run", "collect"):
        if phase not in d:
            continue
        for k, v in d[phase]["error_kinds"].items():
            if v:
                out.append("%s %s %d (%s)" % (phase, k, v,
                           d[phase]["error_samples"].get(k, "")))
    c = d.get("collected")
    if c and (c["misordered_or_duplicate"] or c["users_not_as_expected"]):
        out.append("collect: %d misordered, %d users not as expected" % (
            c["misordered_or_duplicate"], c["users_not_as_expected"]))
    return "; ".join(out) or "?"


def steady(r, targets, concs, repeat):
    """Every point on every target, interleaved so that a change in the
    machine's background load hits both alike: the targets take turns,
    in the opposite order every other round (A B, B A, A B, ...), so that
    a load that grows or fades during the run favours neither.  The table
    shows the median of the repeats of each figure; paired() compares
    targets round by round."""
    runs = {}
    for t in targets:
        r.run(t, "--register-only", "-u", 100, "-c", 16)
    for i in range(repeat):
        for c in concs:
            for t in (targets if i % 2 == 0 else targets[::-1]):
                d = r.measured(t, "--no-register", "-u", 100, "-c", c,
                               "-d", r.duration, "--mix", STEADY_MIX)
                log("  %s c=%d: %.0f calls/s p99 %.2f ms, %.1f us/call" % (
                    t.name, c, d["run"]["calls_per_sec"],
                    d["run"]["latency_ms"]["p99"], d["server_us_per_call"]))
                runs.setdefault((t.name, c), []).append(d)
    out = {}
    for t in targets:
        rows = []
        for c in concs:
            rows.append((c, median_run(runs[(t.name, c)])))
        out[t.name] = rows
    return out


def median_run(ds):
    """One run made of the medians of each figure over the repeats."""
    def med(f):
        return median([f(d) for d in ds])

    d = json.loads(json.dumps(ds[0]))
    x = d["run"]
    x["calls_per_sec"] = med(lambda d: d["run"]["calls_per_sec"])
    for k in x["latency_ms"]:
        x["latency_ms"][k] = med(lambda d: d["run"]["latency_ms"][k])
    x["client_cpu_us_per_call"] = med(
        lambda d: d["run"]["client_cpu_us_per_call"])
    x["errors"] = sum(d["run"]["errors"] for d in ds)
    d["server_us_per_call"] = med(lambda d: d["server_us_per_call"])
    d["server_user_us_per_call"] = med(lambda d: d["server_user_us_per_call"])
    d["hwm_kib"] = max(d["hwm_kib"] for d in ds)
    d["rates"] = [d["run"]["calls_per_sec"] for d in ds]
    d["p99s"] = [d["run"]["latency_ms"]["p99"] for d in ds]
    d["cpus"] = [d["server_us_per_call"] for d in ds]
    return d


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def paired(a, b, key):
    """The median over the rounds of a's figure over b's in the same
    round (key: "rates", "p99s" or "cpus" of two median_run results).
    Runs next to each other in time saw the same machine, so their ratio
    is free of the drift that moves both; the median drops the odd round
    that a burst of other work hit on one side only."""
    return median([x / y for x, y in zip(a[key], b[key]) if y])


def say_cost(r, users, says, rounds=3):
    """Server CPU per Say with 100 and with `users` users logged in: two
    servers side by side, taking turns (in alternating order), the median
    of the rounds."""
    small = r.rpcchat("--idle-timeout", "0", "--queue-limit", "100")
    large = r.rpcchat("--idle-timeout", "0", "--queue-limit", "100")
    runs = {100: [], users: []}
    try:
        r.run(small, "--register-only", "-u", 100, "-c", 64)
        r.run(large, "--register-only", "-u", users, "-c", 64)
        # As many connections to each, so that both start with as many
        # in TIME_WAIT: a SYN that lands on one costs the server's
        # kernel more, which is not what this compares.
        if users > 100:
            r.run(small, "--no-register", "-u", 100, "-c", 64,
                  "-n", users - 100, "--mix", "list=1")
        pair = [(100, small), (users, large)]
        for i in range(rounds):
            for n, t in (pair if i % 2 == 0 else pair[::-1]):
                d = r.measured(t, "--no-register", "-u", n, "-c", 16,
                               "-n", says, "--mix", "say=1")
                log("  Say with %d users: %.1f us" % (
                    n, d["server_us_per_call"]))
                runs[n].append(d)
    finally:
        small.stop()
        large.stop()
    return median_run(runs[100]), median_run(runs[users])


def big_room(r, users):
    t = r.rpcchat("--idle-timeout", "0")
    try:
        reg = r.run(t, "--register-only", "-u", users, "-c", 64)
        # Drain the login notices so the run measures the room, not the
        # storm that filled it.
        r.run(t, "--collect", "-u", users, "-c", 16, timeout=300)
        d = r.measured(t, "--no-register", "-u", users, "-c", 64,
                       "-d", r.duration, "--mix", BIGROOM_MIX)
    finally:
        t.stop()
    log("  big room: %.0f calls/s" % d["run"]["calls_per_sec"])
    return reg, d


def login_storm(r, users):
    t = r.rpcchat()
    try:
        d = r.run(t, "--register-only", "-u", users, "-c", 64)
        d["hwm_kib"] = t.status("VmHWM")
        d["rss_kib"] = t.status("VmRSS")
    finally:
        t.stop()
    log("  login storm: %.2f s, %d KiB" % (d["run"]["seconds"], d["hwm_kib"]))
    return d


def backlog(r, users, says):
    t = r.rpcchat("--idle-timeout", "0")
    out = {}
    try:
        r.run(t, "--register-only", "-u", users, "-c", 64)
        out["after_register_hwm"] = t.status("VmHWM")
        t0 = time.monotonic()
        drain = r.run(t, "--collect", "-u", users, "-c", 16, timeout=300)
        out["drain"] = drain
        out["drain_wall"] = time.monotonic() - t0
        out["before_rss"] = t.status("VmRSS")
        s = r.run(t, "--no-register", "-u", users, "-c", 1, "-n", says,
                  "--mix", "say=1")
        out["says"] = s
        out["after_says_rss"] = t.status("VmRSS")
        out["hwm"] = t.status("VmHWM")
        nonce = s["nonce"]
        out["collect"] = r.run(t, "--collect", "-u", users, "-c", 16,
                               "--nonce", nonce, "--expect-says", says,
                               timeout=300)
        out["again"] = r.run(t, "--collect", "-u", users, "-c", 16,
                             "--nonce", nonce, "--expect-says", 0,
                             timeout=300)
        out["final_hwm"] = t.status("VmHWM")
    finally:
        t.stop()
    log("  backlog: peak %d KiB" % out["hwm"])
    return out


class BenchRedis:
    """A redis-server of the bench's own on loopback and a free port, as
    deployed: an append-only file (fsync every second) in a directory of
    its own.  replica_of: the master whose replica this one is."""

    def __init__(self, replica_of=None):
        self.dir = tempfile.mkdtemp(prefix="rpcchat-bench-redis-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        argv = ["redis-server", "--port", str(self.port), "--bind",
                "127.0.0.1", "--dir", self.dir, "--save", "",
                "--appendonly", "yes", "--appendfsync", "everysec",
                "--maxmemory-policy", "noeviction", "--logfile",
                os.path.join(self.dir, "redis.log")]
        if replica_of:
            argv += ["--replicaof", "127.0.0.1", str(replica_of.port)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.info("replication").get("master_link_status", "up") \
                    == "up" and self.info("persistence").get(
                    "aof_rewrite_in_progress", "1") == "0":
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def info(self, section):
        """INFO section as a dict; {} while Redis does not answer."""
        try:
            text = lib.Redis.call_on(self.port, "INFO", section, timeout=1)
        except OSError:
            return {}
        if not isinstance(text, bytes):     # an error, such as LOADING
            return {}
        return dict(line.split(":", 1) for line in
                    text.decode(errors="replace").split("\r\n")
                    if ":" in line)

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def call(self, *args):
        return lib.Redis.call_on(self.port, *args, timeout=10)

    cpu = Target.cpu

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


# Each row: its name, its front ends and how many of them take the load.
# The floor is the yardstick of the Redis rows: a front end on a Redis
# of its own that runs bench/redis_floor.lua, the commands any store of
# the chat needs and none of its rules.
STORE_ROWS = (("memory", "memory", 1), ("redis, 1 front end", "redis", 1),
              ("redis, 2 front ends", "redis", 2),
              ("redis floor, 1 front end", "floor", 1))
FLOOR_LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "redis_floor.lua")


def store_column(r, conc, repeat):
    """Steady chat at conc in flight on the memory store, one front end
    + Redis, two front ends + Redis (each given half the calls), one
    front end + the floor, the four interleaved in every round so that a
    burst of other work falls on all of them; CPU per call of the front
    ends, of the Redis master and of its replica, each from /proc.  The
    ratios to the memory store are taken within a round, then their
    median."""
    if shutil.which("redis-server") is None:
        return None
    redises = {}        # a master and its replica, by their front ends
    targets = {}
    try:
        for key in ("redis", "floor"):
            master = BenchRedis()
            redises[key] = (master,)
            redises[key] = (master, BenchRedis(replica_of=master))
        redis, floor = redises["redis"][0], redises["floor"][0]
        targets["memory"] = [r.rpcchat()]
        targets["redis"] = [r.rpcchat("--store", redis.url)
                            for _ in range(2)]
        targets["floor"] = [r.rpcchat("--store", floor.url)]
        for t in targets.values():
            r.run(t[0], "--register-only", "-u", 100, "-c", 16)
        with open(FLOOR_LUA, "rb") as f:
            got = floor.call("FUNCTION", "LOAD", "REPLACE", f.read())
        if isinstance(got, lib.RedisError):
            raise RuntimeError("%s: %s" % (FLOOR_LUA, got))
        rounds = []
        for _ in range(repeat):
            rnd = {}
            for name, key, nfe in STORE_ROWS:
                fes = targets[key][:nfe]
                red, rep = redises.get(key, redises["redis"])
                c0 = [t.cpu() for t in fes]
                r0, p0 = red.cpu(), rep.cpu()
                ds = r.run_parallel(fes, "--no-register", "-u", 100, "-c",
                                    conc // nfe, "-d", r.duration, "--mix",
                                    STEADY_MIX)
                c1 = [t.cpu() for t in fes]
                r1, p1 = red.cpu(), rep.cpu()
                if key == "floor" and \
                        floor.call("FCALL", "rpcchat_floor", "0") != 1:
                    raise RuntimeError("the front end loaded its functions "
                                       "over the floor's: no floor measured")
                calls = sum(d["run"]["ok"] + d["run"]["errors"] for d in ds)
                per = 1e6 / calls if calls else 0
                run = {
                    "calls_per_sec": sum(d["run"]["calls_per_sec"]
                                         for d in ds),
                    "p99": max(d["run"]["latency_ms"]["p99"] for d in ds),
                    "fe_us": per * sum(sum(b) - sum(a)
                                       for a, b in zip(c0, c1)),
                    "redis_us": per * (sum(r1) - sum(r0)),
                    "replica_us": per * (sum(p1) - sum(p0)),
                    "errors": sum(d["run"]["errors"] for d in ds),
                }
                if name == "memory":
                    run["redis_us"] = run["replica_us"] = 0
                log("  %s: %.0f calls/s p99 %.2f ms, front end %.1f us/call, "
                    "redis %.1f, replica %.1f us/call" % (
                        name, run["calls_per_sec"], run["p99"],
                        run["fe_us"], run["redis_us"], run["replica_us"]))
                rnd[name] = run
            rounds.append(rnd)
    finally:
        for ts in targets.values():
            for t in ts:
                t.stop()
        for pair in redises.values():
            for x in reversed(pair):
                x.stop()
    rows = []
    for name, _, _ in STORE_ROWS:
        runs = sorted((rnd[name] for rnd in rounds),
                      key=lambda x: x["calls_per_sec"])
        med = {k: statistics.median(x[k] for x in runs)
               for k in ("calls_per_sec", "p99", "fe_us", "redis_us",
                         "replica_us")}
        med["errors"] = sum(x["errors"] for x in runs)
        med["rates"] = [x["calls_per_sec"] for x in runs]
        rows.append((name, med))

    def ratio_of(key, name):
        return statistics.median(rnd[name][key] / rnd["memory"]["fe_us"]
                                 for rnd in rounds
                                 if rnd["memory"]["fe_us"])
    ratios = {
        "redis": ratio_of("redis_us", "redis, 1 front end"),
        "fe": ratio_of("fe_us", "redis, 1 front end"),
        "floor": ratio_of("redis_us", "redis floor, 1 front end"),
    }
    return {"rows": rows, "ratios": ratios, "rounds": len(rounds)}


def proc_stat():
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def machine_share(a, b):
    """How the machine's CPU time went between two /proc/stat readings."""
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq",
             "steal")
    d = [y - x for x, y in zip(a, b)]
    tot = sum(d) or 1
    return {n: 100.0 * v / tot for n, v in zip(names, d)}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def sysctl(name):
    try:
        with open("/proc/sys/" + name.replace(".", "/")) as f:
            return " ".join(f.read().split())
    except OSError:
        return "?"


def mib(kib):
    return "%.1f MiB" % (kib / 1024)


def ratio(a, b):
    return "%.2f×" % (a / b) if b else "–"


def target_rows(res, args):
    """The targets against this run: (name, goal, measured, met)."""
    rows = []
    st = res.get("steady", {})
    resp, srv = dict(st.get("responder", [])), dict(st.get("rpcchat", []))
    if 64 in resp and 64 in srv:
        a, b = srv[64], resp[64]
        q = paired(a, b, "rates")
        rows.append(("steady chat, 64 in flight: calls/s", "≥ 0.95× responder",
                     "%.2f×" % q, q >= 0.95))
        q = paired(a, b, "p99s")
        rows.append(("steady chat, 64 in flight: p99", "≤ 1.2× responder",
                     "%.2f×" % q, q <= 1.2))
        q = paired(a, b, "cpus")
        rows.append(("steady chat, 64 in flight: server CPU per call",
                     "≤ 1.3× responder", "%.2f×" % q, q <= 1.3))
    if "saycost" in res:
        small, large = res["saycost"]
        q = large["server_us_per_call"] / small["server_us_per_call"]
        rows.append(("big room: cost of a Say, %d vs 100 users" % args.users,
                     "the same within noise (≤ 1.2×)", "%.2f× (%.1f vs %.1f µs)"
                     % (q, large["server_us_per_call"],
                        small["server_us_per_call"]), q <= 1.2))
    if "storm" in res:
        d = res["storm"]
        rows.append(("login storm, %d users: time" % args.users, "< 2 s",
                     "%.2f s" % d["run"]["seconds"], d["run"]["seconds"] < 2
                     and d["run"]["errors"] == 0))
        rows.append(("login storm: peak RSS", "< 64 MiB", mib(d["hwm_kib"]),
                     d["hwm_kib"] < 64 * 1024))
    if "backlog" in res:
        b = res["backlog"]
        c, again = b["collect"]["collected"], b["again"]["collected"]
        rows.append(("backlog: peak RSS", "< 32 MiB", mib(b["final_hwm"]),
                     b["final_hwm"] < 32 * 1024))
        exact = (c["says"] == args.users * args.says
                 and c["users_not_as_expected"] == 0
                 and c["misordered_or_duplicate"] == 0 and again["says"] == 0)
        rows.append(("backlog: every Say collected once, in order",
                     "%d × %d" % (args.users, args.says),
                     "%d, %d misordered, %d on a second pass" % (
                         c["says"], c["misordered_or_duplicate"],
                         again["says"]), exact))
    return rows


# The protocol's own ceiling on users: one List response is one frame of
# at most 65,535 bytes (PROTOCOL.md §2.2): an empty error string and a count (4
# bytes), then each name as a u16 length and its bytes.  Names are 1 to 20
# bytes of letters and digits; there are only 62 names of one byte, so
# every other name costs at least 4 bytes.
FRAME_MAX = 65535
LIST_OVERHEAD = 4
LIST_CEILING = 62 + (FRAME_MAX - LIST_OVERHEAD - 62 * 3) // 4
LIST_CEILING_20 = (FRAME_MAX - LIST_OVERHEAD) // 22


def capacity(w, srv):
    """What one thread carries, on paper, from the measured CPU per call."""
    best = min(d["server_us_per_call"] for d in srv.values())
    at64 = srv.get(64, min(srv.values(),
                           key=lambda d: d["server_us_per_call"]))
    us = at64["server_us_per_call"]
    if not us:
        return
    w("## One thread, on paper")
    w("")
    w("With the server's CPU per call measured above at 64 in flight, "
      "%.1f µs (the lowest at any point: %.1f µs), one thread on one core "
      "carries about **{:,.0f} calls/s**. A user who polls once a second "
      "(CheckMessages; the rest of the steady mix is a few percent on top) "
      "makes about one call a second, so that is some **{:,.0f} polling "
      "users**. (CPU per call measured on a machine busy with other work, "
      "see the load average above, is higher than on a quiet one.)".format(1e6 / us, 1e6 / us)
      % (us, best))
    w("")
    w("The protocol has a ceiling of its own: List answers every user in "
      "one frame of at most %d bytes (PROTOCOL.md §2.2), 2 bytes of length per "
      "name plus the name, so there can be at most %d users with 20-byte "
      "names and, with the shortest names possible (the 62 one-byte names, "
      "then names of 2 bytes), at most %d. The thread's capacity is %.1f× "
      "the larger figure: at the protocol's ceiling one thread is busy "
      "%.0f%% of one core, so more threads would buy a capacity the "
      "protocol cannot use." % (FRAME_MAX, LIST_CEILING_20, LIST_CEILING,
                                1e6 / us / LIST_CEILING,
                                100.0 * LIST_CEILING * us / 1e6))
    w("")

# Sections measured by other scripts (bench/flood.py, bench/chatcost)
# follow this line in the report; run.py copies them from the committed
# report (--keep-from) as they are.
KEEP_MARK = "<!-- sections below are measured by other scripts -->"


def kept_sections(path):
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        return ""
    i = old.find(KEEP_MARK)
    return "\n" + old[i:] if i >= 0 else ""


def report(r, res, args):
    L = []
    w = L.append
    w("# rpcchat benchmarks")
    w("")
    w("Measured by `bench/run.py` on %s." %
      datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
    w("")
    w("* CPU: %s, %d cores (`nproc`: %d); kernel %s" % (
        cpu_model(), os.cpu_count(), len(os.sched_getaffinity(0)),
        os.uname().release))
    la = os.getloadavg()
    w("* load average when the run ended: %.2f %.2f %.2f "
      "(other work on the machine shows up here)" % la)
    m = res.get("machine")
    if m:
        w("* the machine's CPU time during the %.0f s run: user %.0f%%, "
          "system %.0f%%, softirq %.0f%%, idle %.0f%%, steal %.0f%%, and "
          "%.0f%% niced processes (others' work: bench and servers run at "
          "normal priority)" % (res["wall"], m["user"], m["system"],
                                m["softirq"], m["idle"], m["steal"],
                                m["nice"]))
    w("* loopback, IPv4; `net.ipv4.ip_local_port_range` %s, "
      "`tcp_tw_reuse` %s, `tcp_max_tw_buckets` %s, `somaxconn` %s "
      "(run.py changes none of them)" % (
          sysctl("net.ipv4.ip_local_port_range"),
          sysctl("net.ipv4.tcp_tw_reuse"),
          sysctl("net.ipv4.tcp_max_tw_buckets"),
          sysctl("net.core.somaxconn")))
    w("* client: `rpcchat-bench -t %d`, %g s per point; server: "
      "`rpcchat 0` (options per scenario below)" % (r.threads, r.duration))
    w("")
    w("Client, server and responder share the same %d cores: every call "
      "costs the client a socket, a connect and a close, more kernel "
      "work than the server's accept, read, write and close, so the client "
      "needs more CPU per call than the server (hence two client threads) "
      "and calls/s is bounded by the two together. Ratios between the server and the responder are "
      "taken in the same run and are what the targets are about; absolute "
      "numbers move with whatever else the machine is doing. Per-process "
      "CPU (`/proc/PID/stat`) leaves out the loopback's softirq work, "
      "which the kernel accounts to no process; it is left out alike for "
      "the server and the responder." % os.cpu_count())
    w("")

    targets = target_rows(res, args)
    if targets:
        w("## Targets")
        w("")
        w("| target | goal | measured | met |")
        w("|---|---|---|---|")
        for name, goal, got, ok in targets:
            w("| %s | %s | %s | %s |" % (name, goal, got,
                                        "yes" if ok else "**no**"))
        w("")

    w("## Steady chat")
    w("")
    w("100 users, mix %s, %d-byte messages. Server CPU is utime+stime "
      "from `/proc/PID/stat` around the run, divided by the calls; peak RSS "
      "is `VmHWM` after the point; \"of it user\" is the part spent in the "
      "process itself (utime), the rest is the kernel's TCP work (stime). "
      "The clock ticks at %d Hz, so CPU figures are ±%.0f ms per point." % (
          STEADY_MIX, 32, CLK_TCK, 1000 / CLK_TCK))
    w("")
    w("Each point ran %d times, the targets taking turns in alternating "
      "order (responder, server; server, responder; ...); every figure is "
      "the median of the %d runs, and the ranges are the lowest and highest "
      "calls/s and p99 seen; errors are summed." % (args.repeat, args.repeat))
    w("")
    w("| in flight | target | calls/s | range | p50 ms | p99 ms | range | "
      "p99.9 ms | "
      "server CPU µs/call | of it user | client CPU µs/call | peak RSS | "
      "errors |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    resp = dict(res["steady"].get("responder", []))
    srv = dict(res["steady"].get("rpcchat", []))
    for c in args.concurrency:
        for name, rows in (("responder", resp), ("rpcchat", srv)):
            d = rows.get(c)
            if d is None:
                continue
            x = d["run"]
            w("| %d | %s | %.0f | %.0f–%.0f | %.2f | %.2f | %.2f–%.2f | "
              "%.2f | %.1f | %.1f | %.1f | %s | %d |"
              % (c, name, x["calls_per_sec"], min(d["rates"]),
                 max(d["rates"]), x["latency_ms"]["p50"],
                 x["latency_ms"]["p99"], min(d["p99s"]), max(d["p99s"]),
                 x["latency_ms"]["p99.9"],
                 d["server_us_per_call"], d["server_user_us_per_call"],
                 x["client_cpu_us_per_call"],
                 mib(d["hwm_kib"]), x["errors"]))
    w("")
    if resp and srv:
        w("Server ÷ responder, the figures the targets are about. Each is "
          "the median of the %d rounds' ratios, a round being one run of "
          "each, back to back: the machine's speed drifts by more than the "
          "targets' margins within a minute, and a round's ratio is free of "
          "that drift." % args.repeat)
        w("")
        w("| in flight | calls/s | p99 | server CPU per call |")
        w("|---|---|---|---|")
        for c in args.concurrency:
            if c in resp and c in srv:
                a, b = srv[c], resp[c]
                w("| %d | %.2f× | %.2f× | %.2f× |" % (
                    c, paired(a, b, "rates"), paired(a, b, "p99s"),
                    paired(a, b, "cpus")))
        w("")
        capacity(w, srv)

    if "bigroom" in res:
        reg, d = res["bigroom"]
        x = d["run"]
        w("## Big room")
        w("")
        w("%d users logged in (`--idle-timeout 0`), their login notices "
          "collected first, then mix %s at 64 in flight: every Say goes "
          "to every user and every CheckMessages brings back what arrived "
          "since the user's last one." % (args.users, BIGROOM_MIX))
        w("")
        w("| calls/s | p50 ms | p99 ms | server CPU µs/call | messages "
          "delivered | messages per CheckMessages | peak RSS | errors |")
        w("|---|---|---|---|---|---|---|---|")
        checks = x["by_type"].get("check", 0)
        w("| %.0f | %.2f | %.2f | %.1f | %d | %.1f | %s | %d |" % (
            x["calls_per_sec"], x["latency_ms"]["p50"],
            x["latency_ms"]["p99"], d["server_us_per_call"],
            x["messages_received"],
            x["messages_received"] / checks if checks else 0,
            mib(d["hwm_kib"]), x["errors"]))
        w("")
    if "saycost" in res:
        small, large = res["saycost"]
        w("Cost of one Say: %d Says (16 in flight, nobody polling, "
          "two servers side by side taking turns, the median of 3 rounds; "
          "`--queue-limit 100` so that a design that copies a Say into "
          "every queue stays bounded; both servers have taken as many "
          "connections before, so that their kernels hold as many in "
          "TIME_WAIT) with 100 and with %d users logged in (target: the "
          "same within noise):" % (args.says_for_cost, args.users))
        w("")
        w("| users | server CPU µs per Say | of it user | Says/s | p99 ms | "
          "errors |")
        w("|---|---|---|---|---|---|")
        for users, d in ((100, small), (args.users, large)):
            w("| %d | %.1f | %.1f | %.0f | %.2f | %d |" % (
                users, d["server_us_per_call"], d["server_user_us_per_call"],
                d["run"]["calls_per_sec"], d["run"]["latency_ms"]["p99"],
                d["run"]["errors"]))
        w("")
        w("Ratio %d users ÷ 100 users: %s. On a shared machine this ratio "
          "moves by some ±20%% from run to run; a Say copied into every "
          "queue would cost some 100 µs more per Say at %d users, several "
          "times the whole call." % (
              args.users, ratio(large["server_us_per_call"],
                                small["server_us_per_call"]), args.users))
        w("")

    if "storm" in res:
        d = res["storm"]
        x = d["run"]
        w("## Login storm")
        w("")
        w("Register %d users who never poll (default server options, 64 "
          "in flight). Every login is announced to every user already "
          "there: %d notices pending at the end (targets: under 2 s, "
          "under 64 MiB)." % (args.users, args.users * (args.users - 1) // 2))
        w("")
        w("| wall time | registrations/s | p99 ms | peak RSS | RSS at the "
          "end | errors |")
        w("|---|---|---|---|---|---|")
        w("| %.2f s | %.0f | %.2f | %s | %s | %d |" % (
            x["seconds"], x["calls_per_sec"], x["latency_ms"]["p99"],
            mib(d["hwm_kib"]), mib(d["rss_kib"]), x["errors"]))
        w("")

    if "backlog" in res:
        b = res["backlog"]
        w("## Backlog")
        w("")
        n = args.users
        dr = b["drain"]["collected"]
        w("%d users registered (`--idle-timeout 0`), their %d login "
          "notices collected (%d CheckMessages, %.1f s), then %d Says sent "
          "one at a time and not collected; then every user collects "
          "until empty, and once more (target: under 32 MiB peak)." % (
              n, dr["notices"], dr["calls"], b["drain_wall"], args.says))
        w("")
        c = b["collect"]["collected"]
        again = b["again"]["collected"]
        w("| RSS before the Says | RSS with %d Says pending | peak RSS | "
          "Says collected | per user | misordered or twice | second "
          "pass |" % args.says)
        w("|---|---|---|---|---|---|---|")
        w("| %s | %s | %s | %d (expected %d) | %d..%d | %d | %d Says |" % (
            mib(b["before_rss"]), mib(b["after_says_rss"]),
            mib(b["final_hwm"]), c["says"], n * args.says,
            c["says_min_per_user"], c["says_max_per_user"],
            c["misordered_or_duplicate"], again["says"]))
        w("")
        ok = (c["says"] == n * args.says and c["users_not_as_expected"] == 0
              and c["misordered_or_duplicate"] == 0 and again["says"] == 0)
        w("Every Say collected exactly once, in order: **%s**. Login "
          "notices collected: %d (expected %d)." % (
              "yes" if ok else "NO", dr["notices"], n * (n - 1) // 2))
        w("")

    if res.get("store"):
        st = res["store"]
        rows = st["rows"]
        w("## Stores")
        w("")
        w("Steady chat (100 users, mix %s) at %d calls in flight with the "
          "chat in memory and in Redis as deployed (`--store redis://`, an "
          "append-only file with `appendfsync everysec`, one replica "
          "attached); with two front ends each gets half the calls from "
          "its own `rpcchat-bench`. The rows run in turn in each of %d "
          "rounds. CPU per call is from `/proc/PID/stat` of the front ends "
          "(together), of the Redis master and of its replica, divided by "
          "all calls; each figure is the median of the rounds." % (
              STEADY_MIX, args.store_concurrency, st["rounds"]))
        w("")
        w("| store | calls/s | range | p99 ms | front end CPU µs/call | "
          "Redis CPU µs/call | replica CPU µs/call | errors |")
        w("|---|---|---|---|---|---|---|---|")
        for name, d in rows:
            red = name != "memory"
            w("| %s | %.0f | %.0f–%.0f | %.2f | %.1f | %s | %s | %d |" % (
                name, d["calls_per_sec"], min(d["rates"]), max(d["rates"]),
                d["p99"], d["fe_us"],
                "%.1f" % d["redis_us"] if red else "–",
                "%.1f" % d["replica_us"] if red else "–", d["errors"]))
        w("")
        w("Within each round, against the memory store's CPU per call "
          "(the median of the rounds' ratios): Redis spends **%.2f×** "
          "(the aim is at most 0.7×), and a front end with Redis **%.2f×** "
          "(at most 1.3×)." % (st["ratios"]["redis"], st["ratios"]["fe"]))
        w("")
        w("The last row is the yardstick of the others: a front end and a "
          "Redis (with its replica) of their own, the Redis running "
          "`bench/redis_floor.lua` instead of the chat's functions once "
          "the users are registered. It answers each call as the store "
          "would, with the commands no layout of the chat can do without "
          "(read the records, the chat and the log's end, one command to "
          "store each message, the readers' records written back, five "
          "broadcasts in each CheckMessages' answer) and none of the "
          "chat's rules. Its Redis spends **%.2f×** the memory store's CPU "
          "per call: what the functions spend above it is what the "
          "chat's rules cost in Redis's Lua." % st["ratios"]["floor"])
        w("")
        red = [d for name, d in rows if name.startswith("redis, ")]
        rus = max(d["redis_us"] for d in red)
        w("Where Redis becomes the limit: at %.1f µs of Redis CPU per "
          "call, one Redis core carries at most about %.0f calls/s for "
          "all front ends together; more front ends add calls/s only "
          "until then. On this %d-core machine the front ends, Redis, its "
          "replica and the load generator share the cores, so the machine "
          "is the limit first: a second front end here moves calls/s by "
          "%s. The Redis store buys durability and several front ends, "
          "not speed." % (rus, 1e6 / rus if rus else 0, os.cpu_count(),
                          ratio(red[-1]["calls_per_sec"],
                                red[0]["calls_per_sec"])))
        w("")

    if res.get("notes"):
        w("## Notes")
        w("")
        for note in res["notes"]:
            w("* " + note)
        w("")
    if r.failures:
        w("## Errors seen")
        w("")
        for f in r.failures:
            w("* " + f)
        w("")
    w("## Method")
    w("")
    w("* `rpcchat-bench` keeps N calls in flight, shared equally among its "
      "threads; each thread drives its calls with non-blocking sockets and "
      "its own epoll set. A call is: socket, connect (non-blocking), write "
      "the request at once (loopback has finished the handshake by then), "
      "one `epoll_ctl`, read the response (edge-triggered, `EPOLLRDHUP` "
      "says the server's FIN is in, so no extra read for EOF), close. Its "
      "own user-space work is about 1 µs per call: the client's CPU is "
      "the kernel's connect and handshake.")
    w("* The server closes first (the protocol's rule), so TIME_WAIT lands "
      "on the server side and the client never runs out of ephemeral ports. "
      "A response complete before the FIN arrived is closed with "
      "`SO_LINGER` 0 (counted as `closed_before_fin` in `--json`).")
    w("* Latency is from before `socket()` to the last byte of the response, "
      "in a log-linear histogram (under 1% error). Every failed call is "
      "counted by kind: refused, reset, timeout, connect, short, malformed, "
      "server error.")
    w("* The responder (`rpcchat-bench --responder PORT`) is the fastest "
      "single-threaded stateless server we know how to write for this "
      "protocol, so that any gap between it and the server is the "
      "server's own cost: the listener defers accept until the request is "
      "in (`TCP_DEFER_ACCEPT`), `accept4` without the peer address and "
      "with the flags set, a read at once (no `epoll_ctl` unless the "
      "request is incomplete), one `send` of the smallest valid response "
      "of the call's shape with `MSG_MORE` so that `close()` sends it in "
      "the FIN's segment, close: four system calls a call. It finds "
      "request boundaries with the server's own code (`src/frame.c`) and "
      "closes as the server does (a lingering close when input followed "
      "the request).")
    w("* The server does the same on the transport: `TCP_DEFER_ACCEPT` "
      "(1 s), read at once after `accept4`, the response sent with "
      "`MSG_MORE`, close; a client that sent more than its request gets a "
      "lingering close (FIN, then read and discard until its end of file, "
      "at most 1 MB and 2 s) instead of a reset. `MSG_MORE` rather than "
      "`TCP_CORK`: the same held-back segment, but as a flag on the send "
      "the call makes anyway, where the cork costs a `setsockopt` per "
      "connection. `TCP_DEFER_ACCEPT` saves most at few calls in flight, "
      "where the server would otherwise wake for the handshake, find no "
      "request, register the socket and wait again; with it a silent "
      "connection is accepted empty about 1 s after it connects (the "
      "first SYN-ACK retransmission), and the read timeout and "
      "`--max-connections` apply from then.")
    w("* The backlog and big-room scenarios collect the login notices with "
      "`--collect` (every user CheckMessages until empty); the Says carry a "
      "run number and a sequence number, so the collector checks each user "
      "got each Say once and in order.")
    w("")
    w("## Reproduce")
    w("")
    w("    make bench          # every scenario, into build/BENCHMARKS.md")
    w("    make bench-update   # the same, into docs/BENCHMARKS.md")
    w("    python3 bench/run.py --bin . --only steady --concurrency 64")
    w("    ./rpcchat-bench --responder 0 &        # the transport limit")
    w("    ./rpcchat-bench -c 64 -d 5 --mix %s :PORT" % STEADY_MIX)
    w("")
    w("`rpcchat-bench --help` lists the options; `--json` prints what "
      "this file is made from.")
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=".")
    ap.add_argument("--out", default="build/BENCHMARKS.md")
    ap.add_argument("--keep-from", default="docs/BENCHMARKS.md",
                    help="the report whose sections measured by other "
                    "scripts are copied")
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=2,
                    help="rpcchat-bench threads (2: the client needs more "
                    "CPU per call than the server)")
    ap.add_argument("--repeat", type=int, default=5,
                    help="runs per steady-chat point (the median is shown)")
    ap.add_argument("--concurrency", type=int, nargs="+",
                    default=[1, 16, 64, 256])
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--says", type=int, default=100)
    ap.add_argument("--says-for-cost", type=int, default=10000)
    ap.add_argument("--store-concurrency", type=int, default=64)
    ap.add_argument("--repeat-store", type=int, default=3)
    ap.add_argument("--only", nargs="+",
                    choices=["steady", "bigroom", "saycost", "storm",
                             "backlog", "store"])
    ap.add_argument("--json-out", help="also write the raw results here")
    args = ap.parse_args()
    r = Runner(args)
    want = set(args.only or ["steady", "bigroom", "saycost", "storm",
                             "backlog", "store"])
    res = {"steady": {}, "notes": []}
    have_server = os.access(r.server, os.X_OK)
    if not have_server:
        res["notes"].append("%s not found: server scenarios skipped" %
                            r.server)
    t_start = time.monotonic()
    stat0 = proc_stat()

    if "steady" in want:
        log("steady chat")
        targets = [r.responder()]
        try:
            if have_server:
                targets.append(r.rpcchat())
            res["steady"] = steady(r, targets, args.concurrency,
                                   args.repeat)
        finally:
            for t in targets:
                t.stop()
    if have_server and "bigroom" in want:
        log("big room")
        res["bigroom"] = big_room(r, args.users)
    if have_server and "saycost" in want:
        log("cost of a Say")
        res["saycost"] = say_cost(r, args.users, args.says_for_cost)
    if have_server and "storm" in want:
        log("login storm")
        res["storm"] = login_storm(r, args.users)
    if have_server and "backlog" in want:
        log("backlog")
        res["backlog"] = backlog(r, args.users, args.says)
    if have_server and "store" in want:
        log("stores")
        res["store"] = store_column(r, args.store_concurrency,
                                    args.repeat_store)
        if res["store"] is None:
            res["notes"].append("redis-server not found: the store "
                                "comparison was skipped")
    res["machine"] = machine_share(stat0, proc_stat())
    res["wall"] = time.monotonic() - t_start
    log("done in %.0f s" % res["wall"])

    text = report(r, res, args) + kept_sections(args.keep_from)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(res, f, indent=1, default=str)
    log("wrote %s" % args.out)
    for f in r.failures:
        log("error: " + f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
