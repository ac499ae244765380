"""
switches.py - the command line the broken server and client share: a wire
and one switch per planted bug.
"""

import argparse


def parser(bugs, doc):
    """An ArgumentParser with --wire and --BUG for each of bugs (a dict of
    switch -> what it breaks); the parsed bugs land in .bugs (a list)."""
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--wire", choices=("framed", "unframed"),
                    default="framed")
    for bug, what in bugs.items():
        ap.add_argument("--" + bug, action="append_const", dest="bugs",
                        const=bug, default=[], help=what)
    return ap
