"""Settings: `[tool.torchlint]` in the nearest pyproject.toml, merged with the command line.

Every mistake in configuration is a `ConfigError` with a one-line message (the CLI prints it and
exits 2): an unknown key, a value of the wrong type, a rule selector that matches no rule.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Type

from torchlint.rule import Rule, all_rules
from torchlint.sources import DEFAULT_EXCLUDES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_LIST_KEYS = ("select", "ignore", "extend-select", "exclude", "extend-exclude")
KNOWN_KEYS = frozenset(_LIST_KEYS + ("per-file-ignores",))


class ConfigError(Exception):
    """A configuration or usage mistake; the message is shown to the user as is."""


@dataclass
class FileConfig:
    """What one pyproject.toml says, validated, with the folder it applies to."""

    path: Optional[str] = None
    root: str = "."
    values: Dict[str, Any] = field(default_factory=dict)


def _read_toml(path: str) -> Dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None


def discover_config(start: str) -> FileConfig:
    """The nearest pyproject.toml with a [tool.torchlint] table, searching upward from `start`."""
    folder = os.path.abspath(start)
    while True:
        candidate = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(candidate):
            data = _read_toml(candidate)
            if "torchlint" in data.get("tool", {}):
                return _validated(candidate, data)
        parent = os.path.dirname(folder)
        if parent == folder:
            return FileConfig()
        folder = parent


def load_file_config(path: str) -> FileConfig:
    if not os.path.isfile(path):
        raise ConfigError(f"--config: no such file: {path}")
    return _validated(path, _read_toml(path))


def _validated(path: str, data: Dict[str, Any]) -> FileConfig:
    table = data.get("tool", {}).get("torchlint", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.torchlint] must be a table")
    for key, value in table.items():
        if key not in KNOWN_KEYS:
            hint = _suggest(key, KNOWN_KEYS)
            raise ConfigError(f"{path}: unknown key '{key}' in [tool.torchlint]{hint}")
        if key in _LIST_KEYS:
            _check_string_list(path, key, value)
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: 'per-file-ignores' must be a table of glob = [codes]")
            for pattern, codes in value.items():
                _check_string_list(path, f"per-file-ignores.{pattern}", codes)
    return FileConfig(path, os.path.dirname(os.path.abspath(path)), table)


def _check_string_list(path: str, key: str, value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{path}: '{key}' must be a list of strings, got {value!r}")


def _suggest(word: str, choices) -> str:
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# ---------------------------------------------------------------------- rule selection
def resolve_selectors(selectors: Sequence[str], origin: str) -> FrozenSet[str]:
    """Codes matched by selectors: 'ALL', a code ('TL501'), a prefix ('TL5') or a name."""
    rules = all_rules()
    codes = set()
    for raw in selectors:
        selector = raw.strip()
        if not selector:
            continue
        if selector.upper() == "ALL":
            matched = {r.code for r in rules}
        else:
            matched = {r.code for r in rules if r.code.startswith(selector.upper()) or r.name == selector.lower()}
            if not matched:
                names = [r.code for r in rules] + [r.name for r in rules]
                raise ConfigError(f"unknown rule selector '{selector}' in {origin}{_suggest(selector, names)}")
        codes |= matched
    return frozenset(codes)


@dataclass
class Settings:
    """The effective settings for one run."""

    enabled: FrozenSet[str]
    excludes: List[str]
    per_file_ignores: Dict[str, FrozenSet[str]]
    root: str

    def rules(self) -> List[Type[Rule]]:
        return [r for r in all_rules() if r.code in self.enabled]

    def rules_for(self, path: str) -> List[Type[Rule]]:
        ignored = self.ignored_for(path)
        return [r for r in self.rules() if r.code not in ignored]

    def ignored_for(self, path: str) -> FrozenSet[str]:
        if not self.per_file_ignores:
            return frozenset()
        absolute = os.path.abspath(path)
        relative = os.path.relpath(absolute, self.root).replace(os.sep, "/")
        ignored: set = set()
        for pattern, codes in self.per_file_ignores.items():
            if (fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(os.path.basename(path), pattern)
                    or fnmatch.fnmatch(absolute.replace(os.sep, "/"), pattern)):
                ignored |= codes
        return frozenset(ignored)


def build_settings(
    file_config: FileConfig,
    select: Optional[Sequence[str]] = None,
    ignore: Sequence[str] = (),
    extend_select: Sequence[str] = (),
    extend_exclude: Sequence[str] = (),
) -> Settings:
    """Configuration first, then the command line on top: a command-line --select starts afresh."""
    values = file_config.values
    where = file_config.path or "configuration"
    if "select" in values:
        enabled = set(resolve_selectors(values["select"], f"{where} 'select'"))
    else:
        enabled = {r.code for r in all_rules()}
    enabled |= resolve_selectors(values.get("extend-select", []), f"{where} 'extend-select'")
    enabled -= resolve_selectors(values.get("ignore", []), f"{where} 'ignore'")
    if select is not None:
        enabled = set(resolve_selectors(select, "--select"))
    enabled |= resolve_selectors(extend_select, "--extend-select")
    enabled -= resolve_selectors(ignore, "--ignore")
    per_file = {
        pattern: resolve_selectors(codes, f"{where} 'per-file-ignores'")
        for pattern, codes in values.get("per-file-ignores", {}).items()
    }
    excludes = list(values.get("exclude", DEFAULT_EXCLUDES)) + list(values.get("extend-exclude", []))
    excludes += list(extend_exclude)
    return Settings(frozenset(enabled), excludes, per_file, file_config.root)
