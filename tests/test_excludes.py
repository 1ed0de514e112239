"""Exclude patterns compiled once decide as `fnmatch` does, pattern by pattern."""

from __future__ import annotations

import fnmatch
import itertools
import os

from torchlint.sources import DEFAULT_EXCLUDES, is_excluded

PATTERNS = list(DEFAULT_EXCLUDES) + ["*.pyc", "tests/golden", "gen_*", "/generated/", "a?c", "[!x]y", "docs/*/old"]
PATHS = ["src/build/x.py", "tests/golden/a.py", "tests/goldenish/a.py", "pkg/gen_ops.py", "generated/x.py",
         "abc/d.py", "zy", "xy", "docs/v1/old/a.py", "docs/old/a.py", "ok/file.py", ".venv/lib/x.py"]


def _by_fnmatch(path: str, patterns) -> bool:
    parts = [p for p in os.path.normpath(path).replace(os.sep, "/").split("/") if p not in ("", ".", "..")]
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(any(fnmatch.fnmatch(c, p.strip("/")) for c in (prefixes if "/" in p.strip("/") else parts))
               for p in patterns)


def test_compiled_patterns_decide_as_fnmatch():
    for size in (0, 1, 2, len(PATTERNS)):
        for patterns in itertools.islice(itertools.combinations(PATTERNS, size), 200):
            for path in PATHS:
                assert is_excluded(path, list(patterns)) == _by_fnmatch(path, patterns), (path, patterns)
