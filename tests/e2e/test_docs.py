"""
The repository stands on its own: its documents link only
inside it, the protocol is described in it, every option the programs
take is in their man pages, and make install ships them with PROTOCOL.md.
The documents stay true of the code: the layers of docs/HACKING.md are
those of the includes, every source file is described there, README's
option tables agree with --help and its commands with the client's,
SECURITY.md's tests exist, and the man pages render without a warning.
"""

import fnmatch
import glob
import os
import re
import shutil
import subprocess

import lib

ROOT = lib.ROOT


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()




def test_markdown_links_resolve(ctx):
    for doc in ["README.md", "SECURITY.md", "docs/PROTOCOL.md",
                "docs/HACKING.md"]:
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
        for bad in re.finditer(r"\bSPEC §|\bissue\s+\d+|\.\./shared", text):
            line = text.count("\n", 0, bad.start()) + 1
            missing.append("%s:%d: %s" % (rel, line, bad.group(0)))
    assert not missing, "\n".join(missing)


# -- docs/HACKING.md: the layers are those of the includes -----------------

def hacking_layers():
    """{file stem: (module, layer)} and the pure modules, as HACKING.md's
    "Layers" section has them: a row "| N name | `mod` (`file`), ... |"."""
    doc = read("docs/HACKING.md")
    section = doc.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    stems = {}
    for row in re.finditer(r"^\| (\d+) [^|]*\| ([^|]+) \|$", section, re.M):
        layer = int(row.group(1))
        for m in re.finditer(r"`(\w+)`(?: \(([^)]*)\))?", row.group(2)):
            module = m.group(1)
            files = [module] + re.findall(r"`(\w+)`", m.group(2) or "")
            for stem in files:
                assert stem not in stems, ("in two places", stem)
                stems[stem] = (module, layer)
    pure = re.search(r"\*\*Pure modules\*\*.*?They are: ([^.]*)\.",
                     section, re.S)
    assert pure, "HACKING.md names no pure modules"
    return stems, set(re.findall(r"`(\w+)`", pure.group(1)))


def source_includes():
    """{file stem: set of stems of the headers it includes}, .c and .h of
    src/ together."""
    found = {}
    for path in glob.glob(os.path.join(ROOT, "src", "*.[ch]")):
        stem = os.path.basename(path)[:-2]
        with open(path, encoding="utf-8") as f:
            found.setdefault(stem, set()).update(
                re.findall(r'^#include "(\w+)\.h"', f.read(), re.M))
    return found


def test_includes_keep_the_layers_of_hacking(ctx):
    """Every file of src/ is in a layer of HACKING.md; no include climbs
    to a higher layer; the modules include each other without a cycle;
    a pure module includes nothing of the system layer or the clock."""
    stems, pure = hacking_layers()
    includes = source_includes()
    problems = ["src/%s.[ch] is in no layer of docs/HACKING.md" % stem
                for stem in sorted(includes) if stem not in stems]
    problems += ["docs/HACKING.md names %s, which src/ lacks" % stem
                 for stem in sorted(stems) if stem not in includes]
    assert not problems, "\n".join(problems)
    system = {stem for stem, (_, layer) in stems.items() if layer == 1}
    edges = {}
    for stem, incs in sorted(includes.items()):
        module, layer = stems[stem]
        for inc in sorted(incs):
            to, to_layer = stems[inc]
            if to_layer > layer:
                problems.append("src/%s includes %s.h: layer %d includes "
                                "layer %d" % (stem, inc, layer, to_layer))
            if module in pure and (inc in system or inc == "clock"):
                problems.append("src/%s is pure but includes %s.h"
                                % (stem, inc))
            if to != module:
                edges.setdefault(module, set()).add(to)
    assert not problems, "\n".join(problems)

    def cycle_from(module, path):
        if module in path:
            return path[path.index(module):] + [module]
        for to in sorted(edges.get(module, ())):
            found = cycle_from(to, path + [module])
            if found:
                return found
        return None

    for module in sorted(edges):
        cycle = cycle_from(module, [])
        assert cycle is None, "an include cycle: " + " -> ".join(cycle)


def tracked_files():
    p = subprocess.run(["git", "-C", ROOT, "ls-files"], capture_output=True,
                       timeout=lib.scaled(30))
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode().split()


def test_hacking_describes_every_source_file(ctx):
    """One line per file in HACKING.md: every file of src/, bench/,
    check/, tests/, web/ and scripts/ (fuzz corpora aside); and every
    source README's short table names is there too, and exists."""
    doc = read("docs/HACKING.md")
    missing = []
    for rel in tracked_files():
        top = rel.split("/", 1)[0]
        if rel.startswith("tests/fuzz/corpus/") or top not in (
                "src", "bench", "check", "tests", "web", "scripts"):
            continue
        name = os.path.basename(rel) if top == "src" else rel
        if name.endswith(".h") and top == "src" and \
                os.path.exists(os.path.join(ROOT, rel[:-2] + ".c")):
            continue        # a header is its .c file's contract
        if "`%s`" % name not in doc:
            missing.append(rel)
    assert not missing, "not in docs/HACKING.md: " + ", ".join(missing)
    readme = read("README.md")
    for path in re.findall(r"`((?:src|bench|check|tests)/[\w./-]*)`", readme):
        assert os.path.exists(os.path.join(ROOT, path)), path
        if path.startswith("src/"):
            name = os.path.basename(path)
            assert "`%s`" % name in doc or \
                "`%s.c`" % name[:-2] in doc, path


# -- README's option tables agree with --help --------------------------------

def help_entries(text):
    """{--option or -c: the text of its entry} from a --help."""
    entries, current = {}, None
    for line in text.splitlines():
        m = re.match(r"  (-[\w-]+(?:, -[\w-]+)*)", line)
        if m:
            current = line
            for opt in m.group(1).split(", "):
                entries[opt] = current
        elif current is not None and line.startswith("     "):
            for opt, entry in list(entries.items()):
                if entry is current:
                    entries[opt] = entry + " " + line.strip()
            current = entries[opt]
        else:
            current = None
    return entries


def test_option_tables_agree_with_help(ctx):
    """Every option in the option tables of README.md and PROTOCOL.md is
    one rpcchat --help lists, with the same numeric default; and every
    option --help lists is in README.md."""
    p = subprocess.run([ctx.rpcchat, "--help"], capture_output=True,
                       timeout=lib.scaled(10))
    help_text = (p.stdout + p.stderr).decode()
    entries = help_entries(help_text)
    assert "--max-memory" in entries and "-c" in entries, entries
    problems = []
    for doc in ["README.md", "docs/PROTOCOL.md"]:
        for row in re.finditer(r"^\| (`-[^|]*) \| ([^|]*) \|", read(doc), re.M):
            opts = re.findall(r"`(-[\w-]+)", row.group(1))
            default = row.group(2).strip()
            for opt in opts:
                if opt not in entries:
                    problems.append("%s: %s is not in rpcchat --help"
                                    % (doc, opt))
                elif re.fullmatch(r"\d+[KMG]?", default) and not re.search(
                        r"[(\s]%s[);]" % re.escape(default), entries[opt]):
                    problems.append("%s: %s defaults to %s, --help says: %s"
                                    % (doc, opt, default, entries[opt]))
    readme = read("README.md")
    for opt in sorted(entries):
        if opt.startswith("--") and opt not in ("--help", "--version") \
                and "`%s" % opt not in readme:
            problems.append("README.md does not name %s" % opt)
    assert not problems, "\n".join(problems)


# -- SECURITY.md names its tests, and they exist ------------------------------

def test_security_names_tests_that_exist(ctx):
    """Every test SECURITY.md names (`test_file`, `test_name`,
    `test_file::test_name`, a * for several) is a test file or a test
    function of tests/unit or tests/e2e."""
    files, funcs = {}, {}
    for path in glob.glob(os.path.join(ROOT, "tests", "unit", "test_*.c")) + \
            glob.glob(os.path.join(ROOT, "tests", "e2e", "test_*.py")):
        stem = os.path.basename(path).rsplit(".", 1)[0]
        with open(path, encoding="utf-8") as f:
            src = f.read()
        names = set(re.findall(r"^def (test_\w+)", src, re.M)) | \
            set(re.findall(r"^(test_\w+)\(", src, re.M))
        files.setdefault(stem, set()).update(names)
        funcs.setdefault("", set()).update(names)
    text = read("SECURITY.md")
    named = re.findall(r"`(test_\w+)(?:::(test_[\w*]+))?`", text)
    assert len(named) > 40, named
    missing = []
    for f, fn in named:
        if fn:
            if not fnmatch.filter(files.get(f, ()), fn):
                missing.append("%s::%s" % (f, fn))
        elif f not in files and f not in funcs[""]:
            missing.append(f)
    for path in re.findall(r"`(tests/[\w./-]+)`", text):
        if not os.path.exists(os.path.join(ROOT, path)):
            missing.append(path)
    assert not missing, "SECURITY.md names tests that do not exist: " + \
        ", ".join(missing)


# -- the documents for readers -------------------------------------------------

READER_DOCS = ["README.md", "SECURITY.md", "docs/PROTOCOL.md",
               "docs/HACKING.md", "docs/rpcchat.1", "docs/rpcchat-check.1",
               "docs/rpcchat-bench.1"]


def test_reader_documents_state_no_history(ctx):
    """What a reader is told is what is true: the story of how it came to
    be belongs to the git log."""
    found = []
    for doc in READER_DOCS:
        text = read(doc)
        for m in re.finditer(r"\b(no longer|used to be|used before|"
                             r"any ?more|formerly|previously|until recently|"
                             r"[0-9a-f]{7,40} \(|this change)\b", text, re.I):
            line = text.count("\n", 0, m.start()) + 1
            found.append("%s:%d: %s" % (doc, line, m.group(0)))
    assert not found, "\n".join(found)


def test_man_pages_render_without_warnings(ctx):
    """mandoc -Tlint finds nothing of warning level or worse (make deps
    installs mandoc)."""
    if shutil.which("mandoc") is None:
        raise AssertionError("mandoc is not installed: make deps installs it")
    for page in ["docs/rpcchat.1", "docs/rpcchat-check.1",
                 "docs/rpcchat-bench.1"]:
        p = subprocess.run(["mandoc", "-Tlint", "-W", "warning",
                            os.path.join(ROOT, page)], capture_output=True,
                           timeout=lib.scaled(30))
        assert p.returncode == 0 and not p.stdout and not p.stderr, \
            (page, p.stdout.decode() + p.stderr.decode())


def test_commands_are_the_same_everywhere(ctx):
    """The client's commands, as command.c names them, are those of
    README's table and of rpcchat(1)'s Commands, in the same order."""
    names = re.search(r"command_names\[\] = \{([^}]*)\}",
                      read("src/command.c")).group(1)
    names = re.findall(r'"(\w+)"', names)
    assert names[:2] == ["tell", "say"], names
    table = read("README.md").split("Client commands:", 1)[1]
    table = table.split("\n\n", 2)[1]
    assert re.findall(r"^\| `(\w+)", table, re.M) == names, table
    man = read("docs/rpcchat.1")
    man = man.split(".Ss Commands", 1)[1].split(".Ss ", 1)[0]
    assert re.findall(r"^\.It Ic (\w+)", man, re.M) == names, man
