"""
Every call of PROTOCOL.md §2.3 with the exact texts of §3.2-3.3, on both wires,
and the byte examples of PROTOCOL.md §2.4 (framed) and §6 (unframed).
"""

import lib
from lib import (REGISTER, LIST, CHECK_MESSAGES, TELL, SAY, QUIT, SHUTDOWN,
                 ok)


def hexb(s):
    return bytes.fromhex(s.replace("|", " "))


# -- the byte examples ------------------------------------------------------

def test_bytes_framed(ctx):
    """PROTOCOL.md §2.4, byte for byte."""
    with lib.Server(ctx) as srv:
        assert srv.raw(hexb("00 09 | 00 00 | 00 05 61 6c 69 63 65")) == \
            hexb("00 02 | 00 00")
        assert srv.raw(hexb("00 07 | 00 00 | 00 03 62 6f 62")) == \
            hexb("00 02 | 00 00")
        assert srv.raw(hexb("00 02 | 00 01")) == hexb(
            "00 10 | 00 02 00 05 61 6c 69 63 65 00 03 62 6f 62 | 00 00")
        assert srv.raw(hexb("00 07 | 00 02 | 00 03 62 6f 62")) == \
            hexb("00 04 | 00 00 | 00 00")
        assert srv.raw(hexb("00 02 | 00 06")) == hexb("00 02 | 00 00")
        assert srv.wait() == 0


def test_bytes_unframed(ctx):
    """PROTOCOL.md §6's examples: the same messages without a length prefix."""
    with lib.Server(ctx, wire="unframed") as srv:
        assert srv.raw(hexb("00 00 00 05 61 6c 69 63 65")) == hexb("00 00")
        assert srv.raw(hexb("00 00 00 03 62 6f 62")) == hexb("00 00")
        assert srv.raw(hexb("00 01")) == hexb(
            "00 02 00 05 61 6c 69 63 65 00 03 62 6f 62 00 00")
        assert srv.raw(hexb("00 02 00 03 62 6f 62")) == hexb("00 00 00 00")
        assert srv.raw(hexb("00 06")) == hexb("00 00")
        assert srv.wait() == 0


# -- Register --------------------------------------------------------------

LENGTH_ERR = "Register: user must be between 1 and 20 letters"
CHARS_ERR = "Register: user must only contain letters and digits"


@lib.both_wires
def test_register_names(ctx):
    good = ["a", "alice", "Z9", "x" * 20, "0123456789",
            "élodie", "é" * 10,          # 20 bytes of 2-byte letters
            "中文", "ǅ", "ʰ",             # Lo, Lt, Lm
            "٣٤", "ΑΒΓ", "Ωmega",        # Nd (Arabic-Indic), Lu
            "𝐀", "𝟎",                    # 4-byte Lu and Nd
            "ª", "々", "५", "ß", "ﬁ"]      # Lo, Lm, Nd (Devanagari), Ll
    bad_length = ["", "x" * 21, "é" * 11, "中" * 7]   # 21+ bytes
    bad_chars = ["al ice", "al-ice", "a.b", "½", "x²", "e\u0301",  # No, Mn
                 b"a\x00b", b"\xff", b"ab\xc3", b"\xed\xa0\x80",   # bad UTF-8
                 "tab\t", "*", "al\nice",
                 "😀", "〇", "Ⅻ",                  # So, Nl, Nl: not letters
                 "\u0345", "\u00ad", "\u200d", "A\u0308",  # Mn, Cf, Cf, Mn
                 "\uffff", "\U000e0041",          # Cn, Cf
                 b"\xc1\x81", b"\xe0\x80\x80",    # overlong encodings
                 b"\xf4\x90\x80\x80"]              # past U+10FFFF
    with lib.Server(ctx) as srv:
        for u in good:
            assert srv.call(REGISTER, u) == (None, ""), u
        for u in bad_length:
            assert srv.call(REGISTER, u) == (None, LENGTH_ERR), u
        for u in bad_chars:
            assert srv.call(REGISTER, u) == (None, CHARS_ERR), u
        # The length is checked first: 21 bytes of spaces is a length error.
        assert srv.call(REGISTER, " " * 21) == (None, LENGTH_ERR)
        users = ok(srv.call(LIST))
        want = sorted(good, key=lambda s: s.encode())
        assert users == want, users


@lib.both_wires
def test_register_notifies_others(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        srv.wait_log(r"^\d\d:\d\d:\d\d \*\*\* alice has logged in$")
        ok(srv.call(REGISTER, "bob"))
        srv.wait_log(r"^\d\d:\d\d:\d\d \*\*\* bob has logged in$")
        assert srv.call(CHECK_MESSAGES, "alice") == \
            (["*** bob has logged in"], "")
        # Not to the user who logs in.
        assert srv.call(CHECK_MESSAGES, "bob") == ([], "")


@lib.both_wires
def test_register_again_resets_queue(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        ok(srv.call(REGISTER, "bob"))
        ok(srv.call(SAY, "bob", "one"))
        ok(srv.call(TELL, "bob", "alice", "two"))
        ok(srv.call(REGISTER, "alice"))
        assert srv.call(CHECK_MESSAGES, "alice") == ([], "")
        assert ok(srv.call(LIST)) == ["alice", "bob"]
        ok(srv.call(SAY, "bob", "three"))
        assert srv.call(CHECK_MESSAGES, "alice") == (["bob says three"], "")


@lib.both_wires
def test_register_again_notifies_others(ctx):
    """PROTOCOL.md §3.2: "On success every other logged-in user gets ..." - a
    Register of a name already logged in succeeds too."""
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        ok(srv.call(REGISTER, "bob"))
        srv.drain("alice")
        ok(srv.call(REGISTER, "bob"))
        assert srv.call(CHECK_MESSAGES, "alice") == \
            (["*** bob has logged in"], "")


# -- List ------------------------------------------------------------------

@lib.both_wires
def test_list(ctx):
    with lib.Server(ctx) as srv:
        assert srv.call(LIST) == ([], "")
        for u in ["bob", "alice", "Zed", "é", "Alice", "a1", "a"]:
            ok(srv.call(REGISTER, u))
        # Byte order, not locale order.
        assert srv.call(LIST) == (
            ["Alice", "Zed", "a", "a1", "alice", "bob", "é"], "")
        ok(srv.call(QUIT, "a1"))
        assert srv.call(LIST) == (
            ["Alice", "Zed", "a", "alice", "bob", "é"], "")


# -- CheckMessages ---------------------------------------------------------

@lib.both_wires
def test_check_messages_not_logged_in(ctx):
    with lib.Server(ctx) as srv:
        assert srv.call(CHECK_MESSAGES, "carol") == \
            (["*** You are not logged in, carol"], "")
        assert srv.call(CHECK_MESSAGES, "élodie") == \
            (["*** You are not logged in, élodie"], "")
        for bad in ["", "x" * 21, "bad name", b"\xff", "½"]:
            assert srv.call(CHECK_MESSAGES, bad) == \
                ([], "CheckMessages: invalid user name"), bad
        # Asking does not log anyone in.
        assert srv.call(LIST) == ([], "")


@lib.both_wires
def test_check_messages_empties_queue(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        for i in range(5):
            ok(srv.call(SAY, "alice", "m%d" % i))
        assert srv.call(CHECK_MESSAGES, "alice") == \
            (["alice says m%d" % i for i in range(5)], "")
        assert srv.call(CHECK_MESSAGES, "alice") == ([], "")


# -- Tell ------------------------------------------------------------------

@lib.both_wires
def test_tell(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        ok(srv.call(REGISTER, "bob"))
        srv.drain("alice")
        assert srv.call(TELL, "alice", "bob", "hi  there ") == (None, "")
        assert srv.call(CHECK_MESSAGES, "bob") == \
            (["alice tells you hi  there "], "")
        # Only the target hears it.
        assert srv.call(CHECK_MESSAGES, "alice") == ([], "")
        # An empty message is a message.
        ok(srv.call(TELL, "bob", "alice", ""))
        assert srv.call(CHECK_MESSAGES, "alice") == (["bob tells you "], "")


@lib.both_wires
def test_tell_no_such_user(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        assert srv.call(TELL, "alice", "zed", "hello?") == (None, "")
        assert srv.call(CHECK_MESSAGES, "alice") == \
            (["*** No such user: zed"], "")
        # Even a target no one could be called.
        assert srv.call(TELL, "alice", "no one", "x") == (None, "")
        assert srv.call(CHECK_MESSAGES, "alice") == \
            (["*** No such user: no one"], "")


@lib.both_wires
def test_tell_not_logged_in(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "bob"))
        assert srv.call(TELL, "carol", "bob", "boo") == \
            (None, "Tell: user carol is not logged in")
        assert srv.call(CHECK_MESSAGES, "bob") == ([], "")
        assert ok(srv.call(LIST)) == ["bob"]


# -- Say -------------------------------------------------------------------

@lib.both_wires
def test_say(ctx):
    with lib.Server(ctx) as srv:
        for u in ["alice", "bob", "carol"]:
            ok(srv.call(REGISTER, u))
        srv.drain("alice")
        srv.drain("bob")
        assert srv.call(SAY, "bob", "hello, all") == (None, "")
        for u in ["alice", "bob", "carol"]:
            got = srv.drain(u)
            assert got[-1:] == ["bob says hello, all"], (u, got)
            assert got.count("bob says hello, all") == 1


@lib.both_wires
def test_say_not_logged_in(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "bob"))
        assert srv.call(SAY, "carol", "boo") == \
            (None, "Say: user carol is not logged in")
        assert srv.call(CHECK_MESSAGES, "bob") == ([], "")


@lib.both_wires
def test_messages_are_bytes(ctx):
    """PROTOCOL.md §2.1: bytes pass through untouched, NUL bytes included."""
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        ok(srv.call(REGISTER, "bob"))
        srv.drain("alice")
        body = b"a\x00b\xff\xfe\r\n\x1b[31m\x00"
        ok(srv.call(SAY, "alice", body))
        ok(srv.call(TELL, "alice", "bob", body))
        got, err = srv.call(CHECK_MESSAGES, "bob", raw_bytes=True)
        assert err == b""
        assert got == [b"alice says " + body, b"alice tells you " + body]


@lib.both_wires
def test_order_of_mixed_messages(ctx):
    """PROTOCOL.md §3.1: delivered in the order queued, broadcasts and private
    messages interleaved as they happened."""
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        ok(srv.call(REGISTER, "bob"))
        srv.drain("alice")
        ok(srv.call(SAY, "alice", "1"))
        ok(srv.call(TELL, "alice", "bob", "2"))
        ok(srv.call(REGISTER, "carol"))
        ok(srv.call(SAY, "carol", "3"))
        ok(srv.call(TELL, "carol", "bob", "4"))
        ok(srv.call(QUIT, "carol"))
        ok(srv.call(SAY, "bob", "5"))
        assert srv.drain("bob") == [
            "alice says 1", "alice tells you 2", "*** carol has logged in",
            "carol says 3", "carol tells you 4", "*** carol has logged out",
            "bob says 5"]
        assert srv.drain("alice") == [
            "alice says 1", "*** carol has logged in", "carol says 3",
            "*** carol has logged out", "bob says 5"]


# -- Quit ------------------------------------------------------------------

@lib.both_wires
def test_quit(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        ok(srv.call(REGISTER, "bob"))
        ok(srv.call(SAY, "bob", "unread"))
        assert srv.call(QUIT, "alice") == (None, "")
        srv.wait_log(r"^\d\d:\d\d:\d\d \*\*\* alice has logged out$")
        assert srv.call(LIST) == (["bob"], "")
        assert srv.call(CHECK_MESSAGES, "bob") == (
            ["bob says unread", "*** alice has logged out"], "")
        # The queue went with her.
        assert srv.call(CHECK_MESSAGES, "alice") == \
            (["*** You are not logged in, alice"], "")
        ok(srv.call(REGISTER, "alice"))
        assert srv.call(CHECK_MESSAGES, "alice") == ([], "")


@lib.both_wires
def test_quit_not_logged_in(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "bob"))
        assert srv.call(QUIT, "carol") == \
            (None, "Quit: user carol is not logged in")
        assert srv.call(CHECK_MESSAGES, "bob") == ([], "")
        assert srv.call(LIST) == (["bob"], "")


# -- Shutdown --------------------------------------------------------------

@lib.both_wires
def test_shutdown_call(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        assert srv.call(SHUTDOWN) == (None, "")
        assert srv.wait(5, "exit after Shutdown") == 0
        srv.wait_log(r"^\d\d:\d\d:\d\d shutting down( \(.*\))?$", 1)


@lib.both_wires
def test_shutdown_not_allowed(ctx):
    with lib.Server(ctx, "--allow-shutdown", "none") as srv:
        assert srv.call(SHUTDOWN) == (None, "Shutdown: not allowed")
        assert srv.call(LIST) == ([], "")
    with lib.Server(ctx, "--allow-shutdown", "local") as srv:
        assert srv.call(SHUTDOWN) == (None, "")
        assert srv.wait() == 0
