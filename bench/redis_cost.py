#!/usr/bin/env python3
"""bench/redis_cost.py - where Redis's CPU goes, in instructions per call.

    python3 bench/redis_cost.py --bin .
    python3 bench/redis_cost.py --bin . --lua OLD.lua --lua src/store_redis.lua
    python3 bench/redis_cost.py --kinds                  # by kind of call
    python3 bench/redis_cost.py --floor                  # and the floor

Records what a front end sends Redis during make bench's steady chat (100
users, the same mix, one front end, a Redis of its own, MONITOR), then
replays it twice under valgrind's callgrind against a fresh Redis: once
up to the first CheckMessages (the functions loaded, the users
registered), once whole.  The difference, divided by the calls of the
steady part, is what Redis executes per call, without timing noise and
on any machine alike; versions of store_redis.lua given with --lua are
each replayed on the same recording, so a change is measured before it
is kept; --floor replays the steady part once more with
bench/redis_floor.lua loaded after the setup, the least any store's
functions must make Redis do.  It prints the split that callgrind sees:
the function's Lua, the Redis commands it runs (redis.call), their
replies made into Lua values, and the strings Lua makes (each one
hashed, every byte of it).  --kinds
measures made-up batches of one kind of call each instead, on 100
registered users: what a CheckMessages costs when it finds nothing and
when it delivers five broadcasts, what a Say and a Tell (delivered)
cost.  Needs redis-server, redis-cli and valgrind; every process is
started on a free loopback port and stopped by its PID.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402
from run import lib  # noqa: E402

# Arguments of each call of a batch, by its type (store_redis.lua NARGS).
NARGS = {b"R": 1, b"C": 1, b"S": 3, b"T": 5, b"Q": 1}
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "a": b"\a", "b": b"\b",
           '"': b'"', "\\": b"\\"}
# What callgrind_annotate names, inclusive, and what it is.
PARTS = (("lua_pcall", "the function, all of it"),
         ("call'2", "Redis commands run by redis.call"),
         ("parseReply", "their replies made into Lua values"),
         ("lua_pushlstring", "strings made (hashed, every byte)"))


def unquote(s):
    """A MONITOR argument back to its bytes (Redis's sdscatrepr)."""
    out, i = bytearray(), 0
    while i < len(s):
        if s[i] != "\\":
            out += s[i].encode("latin-1")
            i += 1
        elif s[i + 1] == "x":
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
        else:
            out += ESCAPES[s[i + 1]]
            i += 2
    return bytes(out)


def parse_monitor(path):
    """The commands the front end sent (not those its functions ran)."""
    cmds = []
    with open(path, encoding="latin-1") as f:
        for line in f:
            if not line[:1].isdigit() or " lua]" in line:
                continue
            rest = line.partition("] ")[2]
            args = [unquote(a) for a in QUOTED.findall(rest)]
            if args:
                cmds.append(args)
    return cmds


def batch_calls(args):
    """Calls in an FCALL rpcchat_batch, and whether one is a CheckMessages."""
    if len(args) < 3 or args[0].upper() != b"FCALL" or \
            args[1] != b"rpcchat_batch":
        return 0, False
    i, n, check = 3, 0, False
    while i < len(args) and args[i] in NARGS:
        check |= args[i] == b"C"
        n += 1
        i += 1 + NARGS[args[i]]
    return n, check


def record(binpath, seconds, workdir):
    """The steady chat through one front end; the commands Redis got."""
    monitor = os.path.join(workdir, "monitor.txt")
    mon_proc = front_end = None
    with open(monitor, "w") as mon, lib.Redis() as redis:
        try:
            mon_proc = subprocess.Popen(
                ["redis-cli", "-p", str(redis.port), "monitor"], stdout=mon,
                stderr=subprocess.DEVNULL)
            # MONITOR is on once the server counts it among its clients.
            lib.wait_until(lambda: b"cmd=monitor" in redis.call(
                "CLIENT", "LIST"), what="MONITOR")
            front_end = run.Target("rpcchat", [
                os.path.join(binpath, "rpcchat"), "--store", redis.url, "0"])
            bench = os.path.join(binpath, "rpcchat-bench")
            target = "127.0.0.1:%d" % front_end.port
            subprocess.run([bench, "-q", "--register-only", "-u", "100",
                            "-c", "16", target], check=True,
                           stdout=subprocess.DEVNULL)
            subprocess.run([bench, "-q", "--no-register", "-u", "100", "-c",
                            "64", "-d", str(seconds), "--mix",
                            run.STEADY_MIX, target], check=True,
                           stdout=subprocess.DEVNULL)
        finally:
            if front_end:
                front_end.stop()
            if mon_proc:
                mon_proc.terminate()
                mon_proc.wait(10)
    return parse_monitor(monitor)


def is_load(args):
    return args[0].upper() == b"FUNCTION" and len(args) > 2 and \
        args[1].upper() == b"LOAD"


def with_lua(cmds, lua):
    """cmds with each FUNCTION LOAD loading lua instead."""
    return [a[:-1] + [lua] if is_load(a) else a for a in cmds]


def replay(cmds, workdir):
    """cmds against a fresh Redis under callgrind, each answered before
    the next; callgrind's output file."""
    port = lib.free_port()
    out = os.path.join(workdir, "callgrind.%d" % port)
    p = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
         "redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--dir", workdir, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lib.wait_until(lambda: ping(port), timeout=60,
                       what="redis-server under callgrind")
        with socket.create_connection(("127.0.0.1", port)) as c:
            f = c.makefile("rb")
            for args in cmds:
                c.sendall(lib.resp_encode(*args))
                reply = lib.resp_read(f)
                if isinstance(reply, lib.RedisError):
                    raise RuntimeError("%s: %s" % (args[:2], reply))
            c.sendall(lib.resp_encode("SHUTDOWN", "NOSAVE"))
            f.read()
        p.wait(120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return out


def ping(port):
    try:
        return lib.Redis.call_on(port, "PING", timeout=1) == "PONG"
    except OSError:
        return False


def fcall(calls):
    return [b"FCALL", b"rpcchat_batch", b"0"] + [a for c in calls for a in c]


def kinds(lua, workdir):
    """Instructions per call of batches of one kind each, as the
    difference between two replays (one with the batches, one without),
    so that the setup's cost cancels out."""
    users = [b"user%03d" % i for i in range(100)]
    text = b"x" * 32
    setup = [[b"FUNCTION", b"LOAD", b"REPLACE", lua],
             [b"FCALL", b"rpcchat_config", b"0", b"10000", b"300000", b"0",
              b"268435456"]]
    setup += [fcall([b"R", u] for u in users[i:i + 50]) for i in (0, 50)]
    checks = [fcall([b"C", u] for u in users[i:i + 50]) for i in (0, 50)]
    setup += checks * 2
    rounds = 20

    def says(k):
        return fcall([b"S", u, text, b"0"] for u in users[50:50 + k])
    tells = fcall([b"T", u, t, text, b"*** no such user", b"0"]
                  for u, t in zip(users[:50], users[50:]))

    def cost(extra, than=()):
        runs = [replay(setup + list(than), workdir),
                replay(setup + list(extra), workdir)]
        a, b = (inclusive(r)["total"] for r in runs)
        return b - a
    empty = cost([checks[0]] * rounds) / (50 * rounds)
    say = cost([says(5)] * rounds) / (5 * rounds)
    deliver = cost([x for _ in range(rounds) for x in (says(5), checks[0])],
                   [says(5)] * rounds) / (50 * rounds)
    tell = cost([x for _ in range(rounds) for x in [tells] + checks],
                checks * rounds) / (50 * rounds)
    print("%10.0f a CheckMessages that finds nothing" % empty)
    print("%10.0f a CheckMessages that delivers 5 broadcasts" % deliver)
    print("%10.0f a Say (stored; each delivery is a CheckMessages')" % say)
    print("%10.0f a Tell, stored and delivered" % tell)


def inclusive(out):
    """Instructions, in all and inclusive of each of PARTS."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes",
                           "--threshold=100", out], capture_output=True,
                          text=True, check=True).stdout
    got = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) .*?\?\?\?:(\S+) ", line)
        if m and m.group(2) not in got:
            got[m.group(2)] = int(m.group(1).replace(",", ""))
        m = re.match(r"\s*([\d,]+) .*PROGRAM TOTALS", line)
        if m:
            got["total"] = int(m.group(1).replace(",", ""))
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=".", help="directory of rpcchat")
    ap.add_argument("--lua", action="append",
                    help="the functions to replay with, each in turn "
                    "(default: src/store_redis.lua)")
    ap.add_argument("--seconds", type=float, default=3,
                    help="length of the recording")
    ap.add_argument("--batches", type=int, default=600,
                    help="batches of the steady part replayed")
    ap.add_argument("--kinds", action="store_true",
                    help="made-up batches of one kind of call each")
    ap.add_argument("--floor", action="store_true",
                    help="also replay with bench/redis_floor.lua")
    args = ap.parse_args()
    for tool in ("redis-server", "redis-cli", "valgrind",
                 "callgrind_annotate"):
        if shutil.which(tool) is None:
            sys.exit("redis_cost: %s not found (make deps)" % tool)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    luas = []
    for path in args.lua or [os.path.join(here, "src", "store_redis.lua")]:
        with open(path, "rb") as f:
            luas.append((path, f.read()))
    workdir = tempfile.mkdtemp(prefix="rpcchat-redis-cost-")
    try:
        if args.kinds:
            for path, lua in luas:
                print(path)
                kinds(lua, workdir)
            return
        cmds = record(args.bin, args.seconds, workdir)
        first = next((i for i, a in enumerate(cmds) if batch_calls(a)[1]),
                     None)
        if first is None:
            sys.exit("redis_cost: no CheckMessages was recorded")
        end, batches, calls = first, 0, 0
        while end < len(cmds) and batches < args.batches:
            n = batch_calls(cmds[end])[0]
            batches += n > 0
            calls += n
            end += 1
        print("steady chat (%s), one front end: %d batches, %d calls, "
              "%.1f calls a batch" % (run.STEADY_MIX, batches, calls,
                                      calls / batches))
        runs = [(path, with_lua(cmds[:first], lua), cmds[first:end])
                for path, lua in luas]
        if args.floor:
            with open(run.FLOOR_LUA, "rb") as f:
                floor = [b"FUNCTION", b"LOAD", b"REPLACE", f.read()]
            runs.append(("bench/redis_floor.lua, loaded after the setup",
                         runs[0][1] + [floor], runs[0][2]))
        for path, setup_cmds, steady in runs:
            setup = inclusive(replay(setup_cmds, workdir))
            whole = inclusive(replay(setup_cmds + steady, workdir))
            print(path)
            for key, what in (("total", "instructions per call in Redis, "
                               "in all"),) + PARTS:
                print("%10.0f %s" % ((whole.get(key, 0) - setup.get(key, 0))
                                     / calls, what))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
