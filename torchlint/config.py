"""Settings: `[tool.torchlint]` in the nearest pyproject.toml, merged with the command line.

Every mistake in configuration is a `ConfigError` with a one-line message (the CLI prints it and
exits 2): an unknown key, a value of the wrong type, a rule selector that matches no rule.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple, Type

from torchlint.catalog import rule_infos
from torchlint.rule import LintOptions, Rule
from torchlint.sources import DEFAULT_EXCLUDES


_LIST_KEYS = ("select", "ignore", "extend-select", "exclude", "extend-exclude", "src", "extend-include")
KNOWN_KEYS = frozenset(_LIST_KEYS + ("per-file-ignores", "target-torch", "target-torchvision", "preview"))
OLDEST_SUPPORTED_TORCH = (1, 0)


class ConfigError(Exception):
    """A configuration or usage mistake; the message is shown to the user as is."""


@dataclass
class FileConfig:
    """What one pyproject.toml says, validated, with the folder it applies to."""

    path: Optional[str] = None
    root: str = "."
    values: Dict[str, Any] = field(default_factory=dict)
    project_torch: Optional[str] = None  # lower bound of the project's own torch requirement


def _read_toml(path: str) -> Dict[str, Any]:
    from torchlint.data_files import parse_toml, toml_reader  # a run with no configuration file reads none

    try:
        return parse_toml(path)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    except toml_reader().TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None


def discover_config(start: str) -> FileConfig:
    """The nearest pyproject.toml with a [tool.torchlint] table, searching upward from `start`."""
    folder = os.path.abspath(start)
    nearest_torch: Optional[str] = None
    seen_project = False
    while True:
        candidate = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(candidate):
            data = _read_toml(candidate)
            if not seen_project and "project" in data:
                seen_project, nearest_torch = True, torch_lower_bound(data)
            if "torchlint" in data.get("tool", {}):
                config = _validated(candidate, data)
                config.project_torch = torch_lower_bound(data) if "project" in data else nearest_torch
                return config
        parent = os.path.dirname(folder)
        if parent == folder:
            return FileConfig(project_torch=nearest_torch)
        folder = parent


def load_file_config(path: str) -> FileConfig:
    if not os.path.isfile(path):
        raise ConfigError(f"--config: no such file: {path}")
    data = _read_toml(path)
    if not isinstance(data.get("tool"), dict) or "torchlint" not in data["tool"]:
        raise ConfigError(f"--config: {path} has no [tool.torchlint] table")
    config = _validated(path, data)
    config.project_torch = torch_lower_bound(data)
    return config


_TORCH_REQUIREMENT = re.compile(r"^\s*torch(?![\w.-])\s*(\[[^\]]*\])?\s*(?P<specs>[^;]*)", re.IGNORECASE)
_LOWER_BOUND = re.compile(r"(>=|==|~=)\s*(?P<version>\d+(\.\d+)*)")


def torch_lower_bound(pyproject: Dict[str, Any]) -> Optional[str]:
    """"torch>=2.6,<3" in [project].dependencies -> "2.6" (the oldest torch the project allows)."""
    dependencies = pyproject.get("project", {}).get("dependencies", [])
    for requirement in dependencies if isinstance(dependencies, list) else []:
        match = _TORCH_REQUIREMENT.match(str(requirement))
        if match is None:
            continue
        bounds = _LOWER_BOUND.findall(match.group("specs"))
        if bounds:
            return max((version for _, version, _ in bounds), key=parse_version)
    return None


def parse_version(text: str) -> Tuple[int, ...]:
    """"2.6" -> (2, 6); raises ValueError for anything that is not dotted numbers."""
    parts = tuple(int(part) for part in text.strip().split("."))
    if not parts or len(parts) > 3:
        raise ValueError(text)
    return parts


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
        elif key in ("target-torch", "target-torchvision"):
            _check_version(f"{path}: '{key}'", value)
        elif key == "preview" and not isinstance(value, bool):
            raise ConfigError(f"{path}: 'preview' must be true or false, got {value!r}")
    return FileConfig(path, os.path.dirname(os.path.abspath(path)), table)


def _check_version(where: str, value: Any) -> Tuple[int, ...]:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return parse_version(value)
    except ValueError:
        raise ConfigError(f"{where} must be a version string like \"2.6\", got {value!r}") from None


def _check_string_list(path: str, key: str, value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{path}: '{key}' must be a list of strings, got {value!r}")


def _suggest(word: str, choices) -> str:
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# ---------------------------------------------------------------------- rule selection
def _named(selectors: Sequence[str]) -> FrozenSet[str]:
    """Codes that selectors name exactly (a code or a name, not a prefix or ALL)."""
    return frozenset(r.code for r in rule_infos() for s in selectors
                     if s.strip().upper() == r.code or s.strip().lower() == r.name)


def resolve_selectors(selectors: Sequence[str], origin: str) -> FrozenSet[str]:
    """Codes matched by selectors: 'ALL', a code ('TL501'), a prefix ('TL5') or a name."""
    rules = rule_infos()
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
    target_torch: Tuple[int, ...] = OLDEST_SUPPORTED_TORCH
    src: Tuple[str, ...] = ()  # extra import roots of the project, relative to `root` (Ruff's `src`)
    target_torch_stated: bool = False  # a setting or the project's torch requirement named the target
    target_torchvision: Optional[Tuple[int, ...]] = None
    includes: Tuple[str, ...] = ()  # `extend-include`: more files to check, read as Markdown

    def rules(self) -> List[Type[Rule]]:
        """The rule classes (importing them, and LibCST): only where a file is linted."""
        from torchlint.rule import all_rules

        codes = set(self.codes())
        return [r for r in all_rules() if r.code in codes]

    def codes(self) -> List[str]:
        """The enabled rules that apply to the target torch, from their metadata alone."""
        return [r.code for r in rule_infos() if r.code in self.enabled and r.applies_to(self.target_torch)]

    def codes_for(self, path: str) -> List[str]:
        ignored = self.ignored_for(path)
        return [code for code in self.codes() if code not in ignored]

    def cache_key(self, path: str) -> str:
        """What, besides the file's bytes, decides its findings."""
        codes = ",".join(self.codes_for(path))
        vision = ".".join(map(str, self.target_torchvision)) if self.target_torchvision else "-"
        roots = os.pathsep.join(self.src)  # import roots decide what imports resolve to
        from torchlint.documents import document_kind

        kind = document_kind(path, self.includes)  # `extend-include` can make a file Markdown
        return f"{kind}|{codes}|{'.'.join(map(str, self.target_torch))}|{int(self.target_torch_stated)}|{vision}|{roots}"

    def options(self) -> LintOptions:
        return LintOptions(target_torch=self.target_torch, target_torch_stated=self.target_torch_stated,
                           target_torchvision=self.target_torchvision)

    def for_path(self, path: str) -> "Settings":
        """The settings of one file: these, for every file (see SettingsResolver)."""
        return self

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
    target_torch: Optional[str] = None,
    extend_include: Sequence[str] = (),
    preview: Optional[bool] = None,
) -> Settings:
    """Configuration first, then the command line on top: a command-line --select starts afresh."""
    values = file_config.values
    where = file_config.path or "configuration"
    if "select" in values:
        enabled = set(resolve_selectors(values["select"], f"{where} 'select'"))
    else:
        enabled = {r.code for r in rule_infos()}
    enabled |= resolve_selectors(values.get("extend-select", []), f"{where} 'extend-select'")
    enabled -= resolve_selectors(values.get("ignore", []), f"{where} 'ignore'")
    if select is not None:
        enabled = set(resolve_selectors(select, "--select"))
    enabled |= resolve_selectors(extend_select, "--extend-select")
    enabled -= resolve_selectors(ignore, "--ignore")
    if not (preview if preview is not None else values.get("preview", False)):
        # Preview rules (not yet precise enough on real code to be on by default) run only in
        # preview mode, or when a selector names them exactly.
        named = _named(list(values.get("select", [])) + list(values.get("extend-select", []))
                       + list(select or []) + list(extend_select))
        enabled -= {r.code for r in rule_infos() if r.preview and r.code not in named}
    per_file = {
        pattern: resolve_selectors(codes, f"{where} 'per-file-ignores'")
        for pattern, codes in values.get("per-file-ignores", {}).items()
    }
    excludes = list(values.get("exclude", DEFAULT_EXCLUDES)) + list(values.get("extend-exclude", []))
    excludes += list(extend_exclude)
    if target_torch is not None:
        target = _check_version("--target-torch", target_torch)
    elif "target-torch" in values:
        target = parse_version(values["target-torch"])
    elif file_config.project_torch:
        target = parse_version(file_config.project_torch)
    else:
        target = OLDEST_SUPPORTED_TORCH
    src = tuple(os.path.join(file_config.root, folder) for folder in values.get("src", []))
    stated = target_torch is not None or "target-torch" in values or bool(file_config.project_torch)
    vision = parse_version(values["target-torchvision"]) if "target-torchvision" in values else None
    includes = tuple(values.get("extend-include", [])) + tuple(extend_include)
    return Settings(frozenset(enabled), excludes, per_file, file_config.root, target, src,
                    target_torch_stated=stated, target_torchvision=vision, includes=includes)


@dataclass(frozen=True)
class Overrides:
    """What the command line says about settings; applied on top of every configuration file."""

    select: Optional[Sequence[str]] = None
    ignore: Sequence[str] = ()
    extend_select: Sequence[str] = ()
    extend_exclude: Sequence[str] = ()
    target_torch: Optional[str] = None
    extend_include: Sequence[str] = ()
    preview: Optional[bool] = None  # --preview: also run the preview rules


class SettingsResolver:
    """Settings for each checked file from the pyproject.toml nearest to that file (Ruff's
    hierarchical lookup), the command line on top; one rule for the CLI, the server and flake8,
    wherever they run from. With `fixed` (--config), that one file applies everywhere."""

    def __init__(self, overrides: Overrides = Overrides(), fixed: Optional[FileConfig] = None) -> None:
        self.overrides = overrides
        self.fixed = fixed
        self._by_folder: Dict[str, Tuple[Settings, Optional[str]]] = {}
        self._by_config: Dict[Tuple[Optional[str], Optional[str]], Settings] = {}

    def for_path(self, path: str) -> Settings:
        absolute = os.path.abspath(path)
        return self.for_folder(absolute if os.path.isdir(absolute) else os.path.dirname(absolute))

    def for_folder(self, folder: str) -> Settings:
        return self._resolve(folder)[0]

    def _resolve(self, folder: str) -> Tuple[Settings, Optional[str]]:
        """The folder's settings and the configuration file they come from (None: defaults)."""
        known = self._by_folder.get(folder)
        if known is None:
            config = self.fixed if self.fixed is not None else discover_config(folder)
            key = (config.path, config.project_torch)
            settings = self._by_config.get(key)
            if settings is None:
                o = self.overrides
                settings = build_settings(config, o.select, o.ignore, o.extend_select, o.extend_exclude, o.target_torch,
                                          o.extend_include, o.preview)
                self._by_config[key] = settings
            known = self._by_folder[folder] = (settings, config.path)
        return known

    def includes_for(self, folder: str) -> Tuple[str, ...]:
        """The `extend-include` patterns that apply in `folder`."""
        return self._resolve(os.path.abspath(folder))[0].includes

    def excludes_for(self, folder: str) -> Tuple[List[str], str]:
        """The exclusion patterns that apply in `folder` and the folder they are relative to
        ("" when they come from no configuration file: then the checked folder)."""
        settings, path = self._resolve(os.path.abspath(folder))
        return settings.excludes, settings.root if path else ""
