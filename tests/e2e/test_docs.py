"""
The repository stands on its own: its documents link only
inside it, the protocol is described in it, every option the programs
take is in their man pages, and make install ships them with PROTOCOL.md.
"""

import os
import re
import subprocess

import lib

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()




def test_markdown_links_resolve(ctx):
    for doc in ["README.md", "SECURITY.md", "docs/PROTOCOL.md"]:
        base = os.path.dirname(os.path.join(ROOT, doc))
        for target in re.findall(r"\]\(([^)#\s]+)", read(doc)):
            if re.match(r"[a-z]+://", target):
                continue
            path = os.path.normpath(os.path.join(base, target))
            assert path.startswith(ROOT + os.sep), (doc, target)
            assert os.path.exists(path), (doc, target)
    assert "](docs/PROTOCOL.md)" in read("README.md")


def test_protocol_reference_has_the_essentials(ctx):
    doc = read("docs/PROTOCOL.md")
    for must in ["Register", "CheckMessages", "Shutdown", "65529",
                 "00 09 | 00 00 | 00 05 61 6c 69 63 65", "Unframed",
                 "Register: user must be between 1 and 20 letters",
                 "*** You are not logged in, %s", "message too long"]:
        assert must in doc, must


def long_options(text):
    return sorted(set(re.findall(r"(?<![\w-])--([a-z][a-z-]+)", text)))


def test_every_option_is_in_the_man_pages(ctx):
    for prog, page in [(ctx.rpcchat, "docs/rpcchat.1"),
                       (ctx.bench, "docs/rpcchat-bench.1")]:
        p = subprocess.run([prog, "--help"], capture_output=True,
                           timeout=lib.scaled(10))
        text = (p.stdout + p.stderr).decode()
        opts = long_options(text)
        assert opts, text
        man = read(page)
        missing = [o for o in opts if "\\-" + o not in man]
        assert not missing, (page, missing)


def test_install_ships_the_programs_man_pages_and_protocol(ctx):
    p = subprocess.run(["make", "-n", "-C", ROOT, "install",
                        "DESTDIR=/nonexistent"], capture_output=True,
                       timeout=lib.scaled(30))
    out = p.stdout.decode()
    assert p.returncode == 0, p.stderr.decode()
    for name in ["rpcchat-bench", "rpcchat-check", "docs/rpcchat.1",
                 "docs/rpcchat-bench.1", "docs/rpcchat-check.1",
                 "docs/PROTOCOL.md"]:
        assert name in out, (name, out)


def tracked_texts():
    """Every text file git tracks: code, tests, documents, man pages."""
    p = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"],
                       capture_output=True, timeout=lib.scaled(30))
    assert p.returncode == 0, p.stderr.decode()
    for rel in p.stdout.decode().split("\0"):
        if not rel or rel.endswith((".png", "package-lock.json")):
            continue
        try:
            yield rel, read(rel)
        except (UnicodeDecodeError, FileNotFoundError):
            continue


def protocol_sections():
    return set(re.findall(r"^#+ (\d+(?:\.\d+)*)\.? ",
                          read("docs/PROTOCOL.md"), re.M))


# "§4.4", "§3.2-3.3", "§3-§4", "§2.1, §2.4"; an RFC's own sections aside.
CITATION = re.compile(r"(RFC ?\d+[,\s*#]*)?"
                      r"§ ?(\d+(?:\.\d+)*)((?:-§?\d+(?:\.\d+)*)?)")


def test_every_citation_is_a_protocol_section(ctx):
    """Every § cited anywhere in the repository is a numbered heading of
    docs/PROTOCOL.md; nothing cites a document the repository lacks."""
    sections = protocol_sections()
    assert {"2.4", "4.4", "5.4", "9"} <= sections, sorted(sections)
    missing = []
    for rel, text in tracked_texts():
        for m in CITATION.finditer(text):
            if m.group(1):
                continue
            cited = [m.group(2)]
            if m.group(3):
                cited.append(m.group(3).lstrip("-§"))
            for number in cited:
                if number not in sections:
                    line = text.count("\n", 0, m.start()) + 1
                    missing.append("%s:%d: §%s" % (rel, line, number))
        for bad in re.finditer(r"\bSPEC §|\bissue \d+|\.\./shared", text):
            line = text.count("\n", 0, bad.start()) + 1
            missing.append("%s:%d: %s" % (rel, line, bad.group(0)))
    assert not missing, "\n".join(missing)
