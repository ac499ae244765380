#!/usr/bin/env python3
"""
run.py - runs rpcchat's tests: every cmocka unit test binary, then every
end-to-end test function.  It prints a line for each test file as it
finishes (its counts and time), the details of every failure as it
happens, and closes with one line "N passed, N failed".

    python3 tests/run.py --bin DIR --unit-dir DIR [--unit-only|--e2e-only]
                         [--valgrind] [-k SUBSTRING] [-j N] [-v]

Each end-to-end test runs in a process of its own, in its own process
group, with a time limit: a test that hangs is interrupted (so it can
report the logs of what it started) and then killed with everything it
started.  Exit status 0 iff nothing failed.
"""

import argparse
import ast
import concurrent.futures
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
E2E_DIR = os.path.join(HERE, "e2e")

DEFAULT_TIMEOUT = 60
VALGRIND_SCALE = 10     # valgrind runs the server about 20x slower
SKIPPED = 77

PASSED_RE = re.compile(r"^\[\s*PASSED\s*\]\s+(\d+)\s+test", re.M)
FAILED_RE = re.compile(r"^\[\s*FAILED\s*\]\s+(\d+)\s+test", re.M)
FAILED_NAME_RE = re.compile(r"^\[\s*FAILED\s*\]\s+(\S+)\s*$", re.M)


class Totals:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0


def tail(text, n=30):
    lines = text.rstrip("\n").splitlines()
    return "\n".join("    " + l for l in lines[-n:])


def set_e2e_dir(d):
    """Tests from elsewhere (the runner's own checks); lib.py stays ours."""
    global E2E_DIR
    E2E_DIR = os.path.abspath(d)
    sys.path.insert(0, os.path.join(HERE, "e2e"))


def selected(name, patterns):
    return not patterns or any(p in name for p in patterns)


def file_line(name, passed, failed, skipped, secs):
    """The progress line of one test file."""
    counts = ["%d passed" % passed]
    if failed:
        counts.append("%d failed" % failed)
    if skipped:
        counts.append("%d skipped" % skipped)
    return "%s: %s (%.1fs)" % (name, ", ".join(counts), secs)


# -- unit tests -----------------------------------------------------------

def unit_binaries(unit_dir, pattern):
    if not os.path.isdir(unit_dir):
        return []
    out = []
    for name in sorted(os.listdir(unit_dir)):
        path = os.path.join(unit_dir, name)
        if (name.startswith("test_") and "." not in name
                and os.path.isfile(path) and os.access(path, os.X_OK)
                and selected(name, pattern)):
            out.append(path)
    return out


def run_unit(path, totals, timeout):
    name = os.path.basename(path)
    start = time.monotonic()
    try:
        p = subprocess.run([path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        out = p.stdout.decode("utf-8", "replace")
        rc = p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        print("FAIL unit %s: timed out after %ds\n%s"
              % (name, timeout, tail(out)), flush=True)
        out, rc = "", None
    passed = sum(int(n) for n in PASSED_RE.findall(out))
    failed = sum(int(n) for n in FAILED_RE.findall(out))
    if failed:
        names = list(dict.fromkeys(FAILED_NAME_RE.findall(out)))
        print("FAIL unit %s: %d failed: %s\n%s"
              % (name, failed, " ".join(names), tail(out)), flush=True)
    elif rc is None:
        failed = 1
    elif rc != 0 or not passed:
        # A crash, or an exit without cmocka's summary.
        failed = 1
        why = ("killed by signal %d" % -rc if rc < 0
               else "exit status %d" % rc if rc
               else "no cmocka summary")
        print("FAIL unit %s: %s\n%s" % (name, why, tail(out)), flush=True)
    totals.passed += passed
    totals.failed += failed
    print(file_line("unit/%s.c" % name, passed, failed, 0,
                    time.monotonic() - start), flush=True)


# -- end-to-end tests -------------------------------------------------------

class FileProgress:
    """One test file's tests as they finish, for its progress line."""

    def __init__(self):
        self.left = 0
        self.passed = self.failed = self.skipped = 0
        self.first = self.last = None

    def done(self, secs):
        """One test finished, secs after it started; True for the last."""
        now = time.monotonic()
        if self.first is None or now - secs < self.first:
            self.first = now - secs
        self.last = now
        self.left -= 1
        return self.left == 0

    def seconds(self):
        """From the file's first test started to its last one finished."""
        return self.last - self.first


class E2ETest:
    def __init__(self, module, func, wire, fn, store="memory"):
        self.module = module
        self.func = func
        self.wire = wire
        self.store = store
        self.slow = getattr(fn, "slow", False)
        self.timeout = getattr(fn, "timeout", DEFAULT_TIMEOUT)
        multi = len(getattr(fn, "wires", ("framed",))) > 1
        self.id = "%s::%s%s%s" % (module, func,
                                  "[%s]" % wire if multi else "",
                                  "[redis]" if store == "redis" else "")


# Whole files whose tests also run against the Redis store.
REDIS_MODULES = ("test_calls", "test_chat", "test_limits")


def discover(pattern):
    sys.path.insert(0, E2E_DIR)
    tests = []
    errors = []
    for name in sorted(os.listdir(E2E_DIR)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        modname = name[:-3]
        try:
            mod = importlib.import_module(modname)
        except Exception:
            errors.append((modname, traceback.format_exc()))
            continue
        funcs = [(n, f) for n, f in vars(mod).items()
                 if n.startswith("test_") and callable(f)
                 and getattr(f, "__module__", None) == modname]
        # Source order: the order they were written in.
        funcs.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
        for fname, fn in funcs:
            for wire in getattr(fn, "wires", ("framed",)):
                t = E2ETest(modname, fname, wire, fn)
                if selected(t.id, pattern):
                    tests.append(t)
            # Once more against the Redis store (PROTOCOL.md §7), first wire only.
            if (getattr(fn, "redis", False) or modname in REDIS_MODULES) \
                    and not getattr(fn, "memory_only", None):
                t = E2ETest(modname, fname, getattr(fn, "wires",
                                                    ("framed",))[0], fn,
                            store="redis")
                if selected(t.id, pattern):
                    tests.append(t)
    return tests, errors


def run_e2e(t, args, scale):
    """Runs one test in a child process; returns (status, seconds, text)."""
    timeout = t.timeout * scale
    fd, result_path = tempfile.mkstemp(prefix="rpcchat-e2e-", suffix=".json")
    os.close(fd)
    env = dict(os.environ)
    env["RPCCHAT_TIMEOUT_SCALE"] = str(scale)
    env["RPCCHAT_VALGRIND"] = "1" if args.valgrind else "0"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["RPCCHAT_STORE"] = t.store
    cmd = [sys.executable, os.path.abspath(__file__), "--child",
           t.module, t.func, t.wire, result_path, "--bin", args.bin,
           "--e2e-dir", E2E_DIR]
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True, env=env)
    timed_out = False
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        # SIGINT first: the test sees KeyboardInterrupt and reports the
        # logs of what it started.
        try:
            os.kill(p.pid, signal.SIGINT)
            out, _ = p.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            out = b""
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p.poll() is None:
            p.kill()
        p.wait()
    secs = time.monotonic() - start
    out = (out or b"").decode("utf-8", "replace")
    try:
        with open(result_path) as f:
            res = json.load(f)
    except (OSError, ValueError):
        res = None
    finally:
        os.unlink(result_path)
    if timed_out:
        text = "timed out after %ds" % timeout
        if res:
            text += "\n" + res.get("detail", "")
        return "fail", secs, text + ("\n  output:\n" + tail(out) if out.strip()
                                     else "")
    if res is None:
        return "fail", secs, ("the test process exited %s without a result"
                              "\n%s" % (p.returncode, tail(out)))
    detail = res.get("detail", "")
    if out.strip():
        detail += ("\n  output:\n" if res["status"] == "fail" else "") + \
            tail(out)
    return res["status"], secs, detail


# -- assertions that say what they saw ------------------------------------

class _AssertRewriter(ast.NodeTransformer):
    """
    assert A <op> B, msg  becomes  a = A; b = B; if not (a <op> b): raise
    AssertionError(explain(a, op, b, msg)), so a failure shows both values
    without evaluating anything twice.
    """

    n = 0

    def visit_Assert(self, node):
        t = node.test
        if not (isinstance(t, ast.Compare) and len(t.ops) == 1):
            return node
        _AssertRewriter.n += 1
        a, b = "_rpcchat_a%d" % self.n, "_rpcchat_b%d" % self.n
        op = type(t.ops[0]).__name__
        msg = node.msg if node.msg is not None else ast.Constant(None)
        stmts = [
            ast.Assign([ast.Name(a, ast.Store())], t.left),
            ast.Assign([ast.Name(b, ast.Store())], t.comparators[0]),
            ast.If(
                ast.UnaryOp(ast.Not(), ast.Compare(
                    ast.Name(a, ast.Load()), t.ops,
                    [ast.Name(b, ast.Load())])),
                [ast.Raise(ast.Call(
                    ast.Name("AssertionError", ast.Load()),
                    [ast.Call(ast.Name("_rpcchat_explain", ast.Load()),
                              [ast.Name(a, ast.Load()), ast.Constant(op),
                               ast.Name(b, ast.Load()), msg], [])], []),
                    None)], [])]
        for st in stmts:
            ast.copy_location(st, node)
        return [ast.fix_missing_locations(st) for st in stmts]


def _short(v, n=400):
    r = repr(v)
    return r if len(r) <= n else r[:n] + "...(%d chars)" % len(r)


def _explain(a, op, b, msg):
    ops = {"Eq": "==", "NotEq": "!=", "Lt": "<", "LtE": "<=", "Gt": ">",
           "GtE": ">=", "In": "in", "NotIn": "not in", "Is": "is",
           "IsNot": "is not"}
    out = []
    if msg is not None:
        out.append(_short(msg, 2000))
    out.append("got %s\n      %s %s" % (_short(a), ops.get(op, op), _short(b)))
    if op == "Eq" and isinstance(a, (list, tuple, bytes, str)) and \
            type(a) is type(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                out.append("first difference at [%d]: %s != %s"
                           % (i, _short(x, 200), _short(y, 200)))
                break
        else:
            out.append("lengths differ: %d != %d" % (len(a), len(b)))
    return "\n  ".join(out)


def load_test_module(name):
    """Imports tests/e2e/NAME.py with its asserts made explanatory."""
    import types
    path = os.path.join(E2E_DIR, name + ".py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    tree = _AssertRewriter().visit(tree)
    mod = types.ModuleType(name)
    mod.__file__ = path
    mod.__dict__["_rpcchat_explain"] = _explain
    sys.modules[name] = mod
    exec(compile(tree, path, "exec"), mod.__dict__)
    return mod


def child(argv):
    """The test process: runs one test function and writes its result."""
    ap = argparse.ArgumentParser()
    ap.add_argument("module")
    ap.add_argument("func")
    ap.add_argument("wire")
    ap.add_argument("result")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--e2e-dir", default=E2E_DIR)
    a = ap.parse_args(argv)
    set_e2e_dir(a.e2e_dir)
    sys.path.insert(0, E2E_DIR)
    import lib
    status, detail = "fail", ""
    try:
        mod = load_test_module(a.module)
        fn = getattr(mod, a.func)
        ctx = lib.Ctx(a.bin, a.wire, "%s::%s" % (a.module, a.func))
        fn(ctx)
        status = "pass"
    except lib.Skip as e:
        status, detail = "skip", str(e)
    except KeyboardInterrupt:
        detail = ("interrupted (time limit); it was at:\n"
                  + "".join(traceback.format_tb(sys.exc_info()[2])[-4:])
                  + lib.report_tails())
    except BaseException as e:
        tb = traceback.extract_tb(sys.exc_info()[2])
        where = ""
        for fr in reversed(tb):
            if os.path.basename(fr.filename).startswith("test_"):
                where = "%s:%d: %s" % (os.path.basename(fr.filename),
                                       fr.lineno, fr.line)
                break
        detail = "%s: %s\n  at %s\n%s" % (type(e).__name__, e, where,
                                          lib.report_tails())
    finally:
        lib.kill_everything()
    with open(a.result, "w") as f:
        json.dump({"status": status, "detail": detail}, f)
    # Daemon reader threads may still hold pipes: leave at once.
    sys.stdout.flush()
    os._exit(0)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description="Run rpcchat's tests.")
    ap.add_argument("--bin", default=".",
                    help="directory holding rpcchat and rpcchat-bench")
    ap.add_argument("--unit-dir", default="build/release/tests")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--unit-only", action="store_true")
    g.add_argument("--e2e-only", action="store_true")
    ap.add_argument("--valgrind", action="store_true",
                    help="slow tests skipped, time limits multiplied")
    ap.add_argument("-k", dest="patterns", action="append", default=[],
                    help="only tests whose name contains this (repeatable: "
                    "any of them)")
    ap.add_argument("-j", dest="jobs", type=int, default=2,
                    help="end-to-end tests run at once (default 2)")
    ap.add_argument("-v", dest="verbose", action="store_true",
                    help="a line for every test, not only failures")
    ap.add_argument("--e2e-dir", help=argparse.SUPPRESS)
    ap.add_argument("--list", action="store_true",
                    help="list the end-to-end tests and exit")
    args = ap.parse_args()
    args.pattern = args.patterns
    if args.e2e_dir:
        set_e2e_dir(args.e2e_dir)
    if args.jobs < 1:
        ap.error("-j must be at least 1")

    scale = VALGRIND_SCALE if args.valgrind else 1
    if args.valgrind:
        scale = float(os.environ.get("RPCCHAT_TIMEOUT_SCALE", scale))
    totals = Totals()
    begin = time.monotonic()

    if args.list:
        tests, errors = discover(args.pattern)
        for t in tests:
            print(t.id + ("  (slow)" if t.slow else ""))
        for modname, tb in errors:
            print("cannot import %s:\n%s" % (modname, tb))
        return 0

    if not args.e2e_only:
        bins = unit_binaries(args.unit_dir, args.pattern)
        if not bins and not args.pattern:
            print("FAIL unit: no test binaries in %s" % args.unit_dir)
            totals.failed += 1
        for path in bins:
            run_unit(path, totals, int(DEFAULT_TIMEOUT * scale))

    if not args.unit_only:
        tests, errors = discover(args.pattern)
        for modname, tb in errors:
            print("FAIL %s: cannot import it\n%s" % (modname, tail(tb)))
            totals.failed += 1
        if tests and not os.access(os.path.join(args.bin, "rpcchat"), os.X_OK):
            print("FAIL e2e: no executable rpcchat in %s" % args.bin)
            totals.failed += 1
            tests = []
        todo = []
        files = {}
        for t in tests:
            f = files.setdefault(t.module, FileProgress())
            if args.valgrind and t.slow:
                totals.skipped += 1
                f.skipped += 1
                if args.verbose:
                    print("skip %s: slow, skipped under valgrind" % t.id)
            else:
                todo.append(t)
                f.left += 1
        for modname, f in files.items():
            if f.left == 0:
                print(file_line("e2e/%s.py" % modname, 0, 0, f.skipped, 0),
                      flush=True)
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futs = {pool.submit(run_e2e, t, args, scale): t for t in todo}
            for fut in concurrent.futures.as_completed(futs):
                t = futs[fut]
                f = files[t.module]
                status, secs, detail = fut.result()
                if status == "pass":
                    totals.passed += 1
                    f.passed += 1
                    if args.verbose:
                        print("ok   %s (%.1fs)%s" % (t.id, secs, "\n" + detail
                                                    if detail else ""),
                              flush=True)
                elif status == "skip":
                    totals.skipped += 1
                    f.skipped += 1
                    if args.verbose:
                        print("skip %s: %s" % (t.id, detail), flush=True)
                else:
                    totals.failed += 1
                    f.failed += 1
                    print("FAIL %s (%.1fs): %s" % (t.id, secs, detail),
                          flush=True)
                if f.done(secs):
                    print(file_line("e2e/%s.py" % t.module, f.passed,
                                    f.failed, f.skipped, f.seconds()),
                          flush=True)

    took = time.monotonic() - begin
    print("(%s%.0fs in all)" % ("%d skipped, " % totals.skipped
                                if totals.skipped else "", took))
    print("%d passed, %d failed" % (totals.passed, totals.failed))
    return 0 if totals.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
