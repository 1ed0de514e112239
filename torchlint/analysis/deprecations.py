"""Deprecated, removed and renamed API, as data (torchlint/data/deprecations.toml), and which
entries apply to a project given the oldest torch / torchvision it supports."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, FrozenSet, List, Optional, Tuple

from torchlint.data_files import load_table



DEPRECATED, REMOVED, RENAMED = "deprecated", "removed", "renamed"


def _version(text: Optional[str]) -> Optional[Tuple[int, ...]]:
    return tuple(int(part) for part in text.split(".")) if text else None


@dataclass(frozen=True)
class Deprecation:
    """One entry of torchlint/data/deprecations.toml, for one name (or one keyword of it)."""

    name: str  # qualified name; may end in `.*` for keyword entries that apply to a whole namespace
    kind: str
    library: str
    since: Optional[Tuple[int, ...]]
    removed: Optional[Tuple[int, ...]]
    replacement: str
    rewrite: str
    fix: str
    reason: str
    keyword: Optional[str] = None
    insert_arg: Optional[str] = None
    example: Optional[str] = None
    example_fixed: Optional[str] = None
    runtime: Optional[str] = None

    @property
    def replacement_name(self) -> str:
        """`replacement` with {name} / {last} filled in for this entry's name."""
        return self.replacement.format(name=self.name, last=self.name.rsplit(".", 1)[-1])

    def removed_for(self, target: Optional[Tuple[int, ...]]) -> Optional[bool]:
        """True: gone on every supported version; False: the oldest supported one still has it;
        None: not to be reported (deprecated after the oldest supported version)."""
        if self.kind == REMOVED:
            return target is None or self.removed is None or target >= self.removed
        if target is not None and self.since is not None and target < self.since:
            return None
        return False

    def version_text(self) -> str:
        library = "numpy" if self.library == "numpy" else self.library
        if self.kind == REMOVED and self.removed:
            return f"removed in {library} {'.'.join(map(str, self.removed))}"
        if self.since:
            return f"deprecated since {library} {'.'.join(map(str, self.since))}"
        return "deprecated"


class DeprecationTable:
    def __init__(self, entries: List[Deprecation]) -> None:
        self.entries = entries
        self._names: Dict[str, Deprecation] = {}
        self._keywords: List[Deprecation] = []
        for entry in entries:
            if entry.keyword is None:
                self._names[entry.name] = entry
            else:
                self._keywords.append(entry)
        self._keyword_names = frozenset(entry.keyword for entry in self._keywords if entry.keyword)

    def for_name(self, qualified: Optional[str]) -> Optional[Deprecation]:
        return self._names.get(qualified) if qualified else None

    def for_keyword(self, qualified: Optional[str], keyword: str) -> Optional[Deprecation]:
        if not qualified:
            return None
        for entry in self._keywords:
            if entry.keyword == keyword and fnmatch.fnmatchcase(qualified, entry.name):
                return entry
        return None

    def keywords(self) -> FrozenSet[str]:
        """Every keyword the table has an entry for."""
        return self._keyword_names

    def keyword_entries(self, keyword: str) -> List[Deprecation]:
        return [entry for entry in self._keywords if entry.keyword == keyword]


@lru_cache(maxsize=1)
def deprecations() -> DeprecationTable:
    data = load_table("deprecations.toml")
    entries = []
    for raw in data["entry"]:
        names = raw.get("names") or [raw["name"]]
        for name in names:
            entries.append(Deprecation(
                name=name, kind=raw["kind"], library=raw.get("library", "torch"),
                since=_version(raw.get("since")), removed=_version(raw.get("removed")),
                replacement=raw["replacement"], rewrite=raw.get("rewrite", "none"), fix=raw.get("fix", "none"),
                reason=raw["reason"], keyword=raw.get("keyword"), insert_arg=raw.get("insert_arg"),
                example=raw.get("example"), example_fixed=raw.get("example_fixed"), runtime=raw.get("runtime"),
            ))
    return DeprecationTable(entries)
