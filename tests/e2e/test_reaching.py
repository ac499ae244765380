"""
Reaching a server by name (PROTOCOL.md §5.3): a resolver that never
answers does not stop `quit`, and a host whose IPv6 packets silently
vanish is reached over IPv4 at once (RFC 8305, Happy Eyeballs).

Each test moves its own process (run.py gives every test one) into new
network and mount namespaces, so it can have a loopback of its own, a
DNS server that never answers, an /etc/hosts and /etc/resolv.conf of its
own (bind-mounted, visible to this process tree only) and an nftables
rule dropping IPv6, without touching the machine.  As root that needs
nothing more; otherwise a user namespace is tried.  Where neither works
the tests skip and say why.
"""

import ctypes
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import lib

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def enter_namespaces():
    """This process into new net and mount namespaces, loopback up."""
    uid, gid = os.geteuid(), os.getegid()
    try:
        if uid == 0:
            _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
        else:
            _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET),
                   "unshare")
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", "0 %d 1" % uid)
            _write("/proc/self/gid_map", "0 %d 1" % gid)
        # Our mounts stay ours.
        _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None),
               "mount --make-rprivate /")
    except OSError as e:
        lib.skip("cannot make network and mount namespaces here (%s)" % e)
    if shutil.which("ip") is None:
        lib.skip("no ip(8) to bring the namespace's loopback up")
    run("ip", "link", "set", "lo", "up")


def run(*cmd):
    p = subprocess.run(list(cmd), capture_output=True, timeout=lib.scaled(10))
    if p.returncode != 0:
        raise AssertionError("%s: %s" % (" ".join(cmd),
                             p.stderr.decode(errors="replace").strip()))
    return p.stdout.decode(errors="replace")


def replace_file(path, text, tmp):
    """Bind-mounts a file holding text over path, for this namespace."""
    src = os.path.join(tmp, os.path.basename(path))
    _write(src, text)
    _check(_libc.mount(src.encode(), os.path.realpath(path).encode(), None,
                       MS_BIND, None), "bind-mount over %s" % path)


class SilentDns:
    """A DNS server on 127.0.0.1:53 that reads every query, answers none."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 53))
        self.sock.settimeout(0.2)
        self.queries = 0
        self.stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.stop.is_set():
            try:
                self.sock.recvfrom(4096)
                self.queries += 1
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self.stop.set()
        self.sock.close()


@lib.timeout(60)
def test_quit_while_the_resolver_never_answers(ctx):
    enter_namespaces()
    tmp = tempfile.mkdtemp(prefix="rpcchat-dns-")
    dns = None
    try:
        replace_file("/etc/hosts", "127.0.0.1 localhost\n", tmp)
        # Long resolver timeouts: getaddrinfo alone would take 30 s.
        replace_file("/etc/resolv.conf", "nameserver 127.0.0.1\n"
                     "options timeout:15 attempts:2\n", tmp)
        replace_file("/etc/nsswitch.conf", "hosts: files dns\n", tmp)
        dns = SilentDns()
        with lib.Server(ctx) as srv:
            c = lib.Client(ctx, srv.port, "alice", host="chat.test")
            with c:
                lib.wait_until(lambda: dns.queries > 0, 5,
                               "the client to ask the resolver")
                t0 = time.monotonic()
                c.send("quit")
                rc = c.wait(timeout=20)
                took = time.monotonic() - t0
            assert took < lib.scaled(4.5), (took, c.lines, c.err_lines)
            # It never logged in (the start-up List was still looking the
            # name up): it says so, and exits 1 (§5.4).
            assert rc == 1, (c.lines, c.err_lines)
            assert any("leaving before logging in" in l
                       for l in c.err_lines), c.err_lines
    finally:
        if dns is not None:
            dns.close()
        shutil.rmtree(tmp, ignore_errors=True)


@lib.timeout(60)
def test_dead_ipv6_does_not_slow_ipv4(ctx):
    enter_namespaces()
    if shutil.which("nft") is None:
        lib.skip("no nft(8) to drop IPv6 packets")
    if not lib.has_ipv6_loopback():
        lib.skip("no IPv6 loopback in the namespace")
    tmp = tempfile.mkdtemp(prefix="rpcchat-he-")
    try:
        # chat.test has both addresses, IPv6 first (as glibc sorts them).
        replace_file("/etc/hosts", "127.0.0.1 localhost\n::1 chat.test\n"
                     "127.0.0.1 chat.test\n", tmp)
        replace_file("/etc/nsswitch.conf", "hosts: files\n", tmp)
        with lib.Server(ctx) as srv:
            # IPv6 packets to the server vanish: a connect there hangs.
            run("nft", "add", "table", "inet", "rpcchat")
            run("nft", "add", "chain", "inet", "rpcchat", "out",
                "{ type filter hook output priority 0; }")
            run("nft", "add", "rule", "inet", "rpcchat", "out", "ip6",
                "daddr", "::1", "tcp", "dport", str(srv.port), "drop")
            with socket.socket(socket.AF_INET6) as s:
                s.settimeout(0.5)
                try:
                    s.connect(("::1", srv.port))
                    lib.skip("the nftables rule does not drop IPv6 here")
                except socket.timeout:
                    pass
            t0 = time.monotonic()
            c = lib.Client(ctx, srv.port, "alice", host="chat.test")
            with c:
                c.expect(r"^1 user logged in: alice$", timeout=10)
                took = time.monotonic() - t0
                # Before: the whole 5 s deadline went to ::1, then failed.
                assert took < lib.scaled(2.0), (took, c.lines, c.err_lines)
                # The address that won is kept: the next calls are quick.
                c.send("say over IPv4")
                c.expect(r"^alice says over IPv4$", timeout=3)
                c.send("quit")
                assert c.wait() == 0, (c.lines, c.err_lines)
            srv.wait_log(r"\*\*\* alice has logged out$")
            assert not any(re.search(r"cannot reach|timed out", l)
                           for l in c.lines + c.err_lines), c.lines
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
