"""The result cache: a file whose bytes, torchlint version and effective settings are unchanged
is not parsed again.

Entries are small JSON files named by a hash of (file content, version, settings), written
atomically (temporary file + rename), so concurrent runs never see half an entry; an entry that
cannot be read or decoded is treated as missing, never as an error. Fixing changes the content,
so fixed files get new keys: nothing needs invalidating by hand.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

from torchlint import __version__
from torchlint.sources import digest_of, file_digest, write_atomically
from torchlint.rule import Finding, Fix

_FORMAT = "2"


class ResultCache:
    def __init__(self, folder: str) -> None:
        self.folder = folder

    def key(self, digest: str, settings_key: str) -> str:
        return digest_of(f"{_FORMAT}\0{code_version()}\0{settings_key}\0{digest}".encode())

    def _path(self, key: str) -> str:
        return os.path.join(self.folder, "v" + _FORMAT, key[:2], key + ".json")

    def load(self, key: str) -> Optional[List[Finding]]:
        """The findings stored under `key`, unless a module of the project they were computed
        from (an import's summary) has changed since: then the file is linted again."""
        entry = self.load_entry(key)
        return entry[0] if entry is not None else None

    def load_entry(self, key: str) -> Optional[Tuple[List[Finding], Dict[str, Any]]]:
        """The findings and the extra facts (a document's skipped blocks) stored under `key`."""
        try:
            with open(self._path(key), encoding="utf-8") as handle:
                entry = json.load(handle)
            if any(file_digest(path) != digest for path, digest in entry["deps"].items()):
                return None
            return [_finding(item) for item in entry["findings"]], dict(entry.get("extra") or {})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def store(self, key: str, findings: List[Finding], depends: Optional[Dict[str, str]] = None,
              extra: Optional[Dict[str, Any]] = None) -> None:
        path = self._path(key)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self._mark_folder()
            entry: Dict[str, Any] = {"findings": [_record(f) for f in findings], "deps": depends or {}}
            if extra:
                entry["extra"] = extra
            write_atomically(path, json.dumps(entry).encode())
        except OSError:
            pass  # a read-only or full disk makes the cache useless, not the run


    def _mark_folder(self) -> None:
        """Keep the cache out of version control and backups, as tools' caches do."""
        ignore = os.path.join(self.folder, ".gitignore")
        if not os.path.exists(ignore):
            with open(ignore, "w", encoding="utf-8") as handle:
                handle.write("# Created by torchlint\n*\n")
            with open(os.path.join(self.folder, "CACHEDIR.TAG"), "w", encoding="utf-8") as handle:
                handle.write("Signature: 8a477f597d28d172789f06886806bc55\n# torchlint result cache\n")


@functools.lru_cache(maxsize=None)
def code_version() -> str:
    """The version plus checksums of torchlint's own sources and data tables: an edited rule or
    table (editable installs, development) never gets results cached by the old code, and a
    reinstall of the same code keeps them. zlib's checksums, not hashlib's: a run without the
    cache never imports hashlib."""
    from torchlint.data_files import checksum

    package = os.path.dirname(os.path.abspath(__file__))

    def contents() -> Iterator[bytes]:
        for folder, dirs, files in os.walk(package):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".py", ".toml", ".json.gz", ".txt")):
                    path = os.path.join(folder, name)
                    with open(path, "rb") as handle:
                        yield os.path.relpath(path, package).encode() + b"\0" + handle.read()

    return f"{__version__}-{checksum(contents())}"


def _record(finding: Finding) -> dict:
    fix = None
    if finding.fix is not None:
        fix = [finding.fix.applicability, finding.fix.message, finding.fix_edits_positions]
    record: Dict[str, Any] = {"c": finding.code, "m": finding.message,
              "p": [finding.line, finding.column, finding.end_line, finding.end_column], "f": fix}
    if finding.cell is not None:
        record["n"] = finding.cell
    return record


def _finding(item: dict) -> Finding:
    line, column, end_line, end_column = item["p"]
    finding = Finding(item["c"], item["m"], None, None, line, column, end_line, end_column, cell=item.get("n"))
    if item["f"] is not None:
        applicability, message, edits = item["f"]
        finding.fix = Fix(applicability, message, ())
        finding.fix_edits_positions = [tuple(edit) for edit in edits]
    return finding
