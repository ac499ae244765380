#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets under tests/fuzz/corpus/.

Every valid request and response shape of PROTOCOL.md §2.3, the byte examples of
§2.4, and sessions that walk the chat up to its limits.  The seeds are
named seed-*; regression inputs (crashes found and fixed) are kept beside
them as regress-*, and inputs the fuzzer found worth keeping as found-*;
this script touches only seed-*.

    python3 tests/fuzz/make-corpus.py
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

REGISTER, LIST, CHECK, TELL, SAY, QUIT, SHUTDOWN = range(7)


def u16(v):
    return struct.pack(">H", v)


def s(b):
    if isinstance(b, str):
        b = b.encode()
    return u16(len(b)) + b


def slist(items):
    return u16(len(items)) + b"".join(s(i) for i in items)


def lib_frame(msg):
    return u16(len(msg)) + msg


def req(kind, *args):
    return u16(kind) + b"".join(s(a) for a in args)


# --- fuzz_dispatch: config byte, then steps (see fuzz_dispatch.c) --------

def raw(msg, advance=0, no_shutdown=False):
    """A raw step: op, u16 length, the request message."""
    op = (advance & 0x1f) | (0x80 if no_shutdown else 0)
    return bytes([op]) + u16(len(msg)) + msg


def built(kind, args, pad=0, advance=0):
    """A built step: u8 type, u8-length arguments, u16 pad of the last."""
    out = bytes([(advance & 0x1f) | 0x20, kind])
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += bytes([len(a)]) + a
    return out + u16(pad)


def wire(stream, unframed=False, chunk=0, no_shutdown=False):
    """A wire step: the bytes a client sends, read chunk bytes at a time."""
    op = 0x60 | (0x80 if unframed else 0)
    return bytes([op, (chunk & 0x7f) | (0x80 if no_shutdown else 0)]) + \
        u16(len(stream)) + stream


def crowd(count, namelen, advance=0):
    """A crowd step; a count of 0xffNN means 2900 + NN names."""
    return bytes([(advance & 0x1f) | 0x40]) + u16(count) + \
        bytes([namelen - 1])


def dispatch_seeds():
    seeds = {}
    calls = {
        "register": req(REGISTER, "alice"),
        "list": req(LIST),
        "check": req(CHECK, "bob"),
        "tell": req(TELL, "alice", "bob", "hi"),
        "say": req(SAY, "alice", "hello"),
        "quit": req(QUIT, "alice"),
        "shutdown": req(SHUTDOWN),
    }
    for name, msg in calls.items():
        seeds["call-" + name] = b"\x00" + raw(msg)
    seeds["session"] = b"\x00" + b"".join([
        raw(req(REGISTER, "alice")),
        raw(req(REGISTER, "bob")),
        raw(req(LIST)),
        raw(req(SAY, "alice", "hello all")),
        raw(req(TELL, "bob", "alice", "psst")),
        raw(req(TELL, "bob", "nobody", "lost")),
        raw(req(CHECK, "alice")),
        raw(req(CHECK, "bob")),
        raw(req(QUIT, "bob")),
        raw(req(CHECK, "alice")),
        raw(req(SHUTDOWN), no_shutdown=True),
        raw(req(SHUTDOWN)),
    ])
    # Unicode names, and names the rules refuse.
    seeds["names"] = b"\x00" + b"".join([
        raw(req(REGISTER, "Ωmega")),
        raw(req(REGISTER, "日本語")),
        raw(req(REGISTER, "٣٤")),
        raw(req(REGISTER, "")),
        raw(req(REGISTER, "a" * 21)),
        raw(req(REGISTER, "½")),
        raw(req(REGISTER, "a\u0301")),
        raw(req(REGISTER, b"ab\xff")),
        raw(req(REGISTER, b"a\x00b")),
        raw(req(CHECK, "no way")),
        raw(req(CHECK, "ghost")),
        raw(req(SAY, "ghost", "boo")),
        raw(req(QUIT, "ghost")),
        raw(req(LIST)),
    ])
    # Malformed requests of every kind.
    seeds["malformed"] = b"\x00" + b"".join([
        raw(b""),
        raw(b"\x00"),
        raw(u16(7)),
        raw(u16(0xffff) + b"junk"),
        raw(u16(REGISTER)),
        raw(u16(REGISTER) + b"\x00"),
        raw(u16(REGISTER) + u16(10) + b"abc"),
        raw(req(REGISTER, "alice") + b"xx"),
        raw(req(LIST) + b"\x00"),
        raw(u16(TELL) + s("alice") + s("bob")),
        raw(req(SAY, "alice", "x") + b"\x01\x02\x03"),
        raw(req(SHUTDOWN) + b"z"),
        raw(u16(CHECK) + u16(0xffff)),
    ])
    # Queue limit (config 0: 5 messages) and the drop notice.
    seeds["queue-limit"] = b"\x00" + b"".join(
        [raw(req(REGISTER, "alice")), raw(req(REGISTER, "bob"))] +
        [raw(req(SAY, "alice", "m%d" % i)) for i in range(8)] +
        [raw(req(CHECK, "bob")), raw(req(CHECK, "bob"))])
    # Through the request framing of both wires, whole and in pieces.
    framed = [lib_frame(req(REGISTER, "alice")), lib_frame(req(LIST)),
              lib_frame(req(SAY, "alice", "hi")),
              lib_frame(req(CHECK, "alice")), lib_frame(b""),
              lib_frame(b"\x00"), lib_frame(u16(9)),
              lib_frame(req(SHUTDOWN))]
    seeds["wire-framed"] = b"\x00" + b"".join(
        wire(f, chunk=i % 3) for i, f in enumerate(framed)) + \
        wire(u16(100) + b"short")
    unframed = [req(REGISTER, "alice"), req(LIST), req(SAY, "alice", "hi"),
                req(TELL, "alice", "bob", "x") + b"trailing",
                req(CHECK, "alice"), u16(9), u16(CHECK) + u16(65535) + b"x",
                req(SHUTDOWN)]
    seeds["wire-unframed"] = b"\x00" + b"".join(
        wire(m, unframed=True, chunk=i % 4) for i, m in enumerate(unframed))
    # Private queues that wrap around and then grow (default limits).
    seeds["tells"] = b"\x03" + b"".join(
        [raw(req(REGISTER, "alice")), raw(req(REGISTER, "bob"))] +
        [raw(req(TELL, "alice", "bob", "t%d" % i)) for i in range(3)] +
        [raw(req(CHECK, "bob"))] +
        [raw(req(TELL, "alice", "bob", "t%d" % i)) for i in range(9)] +
        [raw(req(TELL, "bob", "carol", "x")), raw(req(CHECK, "bob"))])
    # Idle timeout (config 0: 30 s), polling on and off the boundary.
    seeds["idle"] = b"\x00" + b"".join([
        raw(req(REGISTER, "alice")),
        raw(req(REGISTER, "bob")),
        raw(req(CHECK, "alice"), advance=29),
        raw(req(LIST), advance=1),
        raw(req(LIST), advance=29),
        raw(req(LIST), advance=1),
        raw(req(CHECK, "bob")),
    ])
    # Long messages: exactly at and one over the limit, full frames.
    seeds["long"] = b"\x03" + b"".join([
        raw(req(REGISTER, "alice")),
        raw(req(REGISTER, "bob")),
        built(SAY, ["alice", "y"], pad=65529 - len("alice says ")),
        built(SAY, ["alice", "y"], pad=65529 - len("alice says ") + 1),
        built(TELL, ["alice", "bob", "z"],
              pad=65529 - len("alice tells you ")),
        built(TELL, ["alice", "bob", "z"],
              pad=65529 - len("alice tells you ") + 1),
        built(SAY, ["alice", "w"], pad=30000),
        built(SAY, ["alice", "w"], pad=30000),
        raw(req(CHECK, "bob")),
        raw(req(CHECK, "bob")),
        raw(req(CHECK, "bob")),
        built(REGISTER, ["x"], pad=300),
    ])
    # The List-size user limit: thousands of 20-byte names (config 1).
    seeds["crowd"] = b"\x01" + crowd(0xff00 + 150, 20) + b"".join([
        raw(req(REGISTER, "zzzzzzzzzzzzzzzzzzzz")),
        raw(req(REGISTER, "q")),
        raw(req(LIST)),
        raw(req(QUIT, "aaaaaaaaaaaaaaaaaaaa")),
        raw(req(REGISTER, "q")),
    ])
    # --max-users (config 2: 3 users, queue of 1, no idle timeout).
    seeds["max-users"] = b"\x02" + b"".join(
        [raw(req(REGISTER, n)) for n in ("a", "b", "c", "d", "a")] +
        [raw(req(SAY, "a", "x")), raw(req(SAY, "b", "y")),
         raw(req(CHECK, "c")), raw(req(QUIT, "c")),
         raw(req(REGISTER, "d"))])
    return seeds


# --- fuzz_codec: plan byte, then bytes ----------------------------------

def codec_seeds():
    return {
        "u16": b"\x00" + u16(0x1234) + u16(0xffff),
        "str": b"\x55" + s("hello") + s("") + s(b"a\x00b"),
        "strlist": b"\xaa" + slist(["alice", "bob"]) + slist([]),
        "mixed": bytes([0b10010001]) + s("x") + u16(3) + slist(["a"]) +
                 s("tail"),
        "short-str": b"\x01" + u16(10) + b"abc",
        "short-list": b"\x02" + u16(3) + s("a"),
        "huge-count": b"\x02" + u16(0xffff) + b"\x00\x00",
        "example-list": b"\x02" + bytes.fromhex(
            "0002 0005 616c696365 0003 626f62 0000".replace(" ", "")),
    }


# --- fuzz_client_response: a response message ---------------------------

def response_seeds():
    return {
        "ok": s(""),
        "error": s("Register: too many users"),
        "error-escape": s("bad\x1b[2J\nline\x00"),
        "list": slist(["alice", "bob"]) + s(""),
        "list-empty": slist([]) + s(""),
        "list-error": slist([]) + s("CheckMessages: invalid user name"),
        "messages": slist(["*** 3 messages were dropped", "alice says hi",
                           "bob tells you yo"]) + s(""),
        "not-logged-in": slist(["*** You are not logged in, bob"]) + s(""),
        "left-over": s("") + b"x",
        "short": b"\x00",
        "empty": b"",
        "list-short": u16(2) + s("a"),
        # The sloppy shapes of PROTOCOL.md §5.3, and what a probe may get (§6).
        "error-twice": s("") + s(""),
        "list-no-error": slist(["alice", "bob"]),
        "messages-stray": slist(["bob says hi"]) + s("") + b"\x00\x00",
        "error-cut": u16(9) + b"oops",
        "framed-list": u16(4) + slist([]) + s(""),
    }


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.unlink(os.path.join(d, f))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)
    print("%s: %d seeds" % (target, len(seeds)))


def main():
    write("fuzz_dispatch", dispatch_seeds())
    write("fuzz_codec", codec_seeds())
    write("fuzz_client_response", response_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
