"""Baselines: record today's findings, then fail only on new ones.

This is how a team turns torchlint on in a large existing codebase: `--write-baseline` once,
commit the file, and CI runs with `--baseline` so only findings introduced after that fail.
Findings are matched by fingerprint (code + normalised source line + occurrence), not by line.
Paths are stored relative to the project root (the nearest folder above the baseline file with a
pyproject.toml, setup.cfg, setup.py or .git), so the same baseline gates the same findings
whichever folder torchlint runs from.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Dict, List, Set

from torchlint import __version__
from torchlint.config import ConfigError
from torchlint.fingerprint import fingerprints
from torchlint.report import FileFindings
from torchlint.sources import write_atomically

INTERNAL_ERROR_CODE = "TL002"
FORMAT_VERSION = 2  # 1: paths relative to the folder torchlint ran from (still read)
_ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")


def project_root(baseline_path: str) -> str:
    folder = start = os.path.dirname(os.path.abspath(baseline_path))
    while True:
        if any(os.path.exists(os.path.join(folder, marker)) for marker in _ROOT_MARKERS):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return start
        folder = parent


def _key(path: str, root: str) -> str:
    return os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")


def write_baseline(path: str, results: List[FileFindings]) -> int:
    root = project_root(path)
    entries: Dict[str, List[dict]] = {}
    for result in results:
        if not result.findings:
            continue
        prints = fingerprints(result.findings, result.lines, result.cells)
        recorded = [  # an internal error is no finding to accept: the next run must try again
            {"code": f.code, "fingerprint": fp, "line": f.line, "message": f.message}
            for f, fp in zip(result.findings, prints) if f.code != INTERNAL_ERROR_CODE
        ]
        if recorded:
            entries[_key(result.path, root)] = recorded
    document = {"torchlint_baseline": FORMAT_VERSION, "torchlint_version": __version__, "files": entries}
    text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    write_atomically(path, text.encode("utf-8"), mode=_shared_mode(path))
    return sum(len(v) for v in entries.values())


def _shared_mode(path: str) -> int:
    """A baseline is committed and read by others: the mode of the file it replaces, else that
    of a file the user creates (the temporary file a write goes through is the owner's only)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


@dataclass
class BaselineFilter:
    known: Dict[str, Set[str]]  # path relative to `root` -> fingerprints
    root: str = "."
    stale: int = 0  # baseline entries of checked files that no longer match any finding
    hidden: int = 0  # findings hidden because the baseline knows them

    def apply(self, results: List[FileFindings]) -> List[FileFindings]:
        kept = []
        for result in results:
            known = self.known.get(_key(result.path, self.root), set())
            prints = fingerprints(result.findings, result.lines, result.cells) if result.findings else []
            matched = {fp for fp in prints if fp in known}
            self.stale += len(known - matched)
            self.hidden += len(matched)
            new = [f for f, fp in zip(result.findings, prints) if fp not in known]
            kept.append(FileFindings(result.path, result.lines, new, result.cells))
        return kept


def load_baseline(path: str) -> BaselineFilter:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as error:
        raise ConfigError(f"--baseline: cannot read {path}: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"--baseline: {path} is not valid JSON: {error}") from None
    if not isinstance(document, dict) or document.get("torchlint_baseline") not in (1, FORMAT_VERSION):
        raise ConfigError(f"--baseline: {path} is not a torchlint baseline (write one with --write-baseline)")
    files = document.get("files", {})
    try:
        known = {name: {entry["fingerprint"] for entry in entries} for name, entries in files.items()}
    except (TypeError, KeyError, AttributeError):
        raise ConfigError(f"--baseline: {path} is malformed") from None
    if document["torchlint_baseline"] == 1:
        return BaselineFilter(known, os.getcwd())
    return BaselineFilter(known, project_root(path))
