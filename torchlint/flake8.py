"""The flake8 plugin: `flake8 --select TL` reports what `torchlint check` reports.

flake8 owns selection and `# noqa`, so the plugin runs every rule and leaves suppression to flake8
(its `--disable-noqa` then works as users expect). `[tool.torchlint]` still applies for the rest
(per-file-ignores). Columns are 0-based offsets, which flake8 displays 1-based, so both tools
print the same `line:col`.
"""

from __future__ import annotations

import os
from typing import Iterator, List, Optional, Tuple

from torchlint import __version__
from torchlint.config import ConfigError, Settings, build_settings, discover_config
from torchlint.engine import SYNTAX_ERROR_CODE, lint_text
from torchlint.rule import all_rules

_SETTINGS: Optional[Settings] = None


def _settings() -> Settings:
    """[tool.torchlint] for the directory flake8 runs in, read once per process (selection
    aside: flake8's --select/--ignore decide which TL codes show)."""
    global _SETTINGS
    if _SETTINGS is None:
        try:
            _SETTINGS = build_settings(discover_config(os.getcwd()))
        except ConfigError:
            _SETTINGS = build_settings(discover_config(os.sep))  # flake8 shows no config errors of ours
    return _SETTINGS


class TorchlintChecker:
    name = "torchlint"
    version = __version__

    def __init__(self, tree, filename: str, lines: List[str]) -> None:
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[Tuple[int, int, str, type]]:
        # Every rule (flake8 selects), minus per-file-ignores; flake8 reports syntax errors itself (E999).
        settings = _settings()
        ignored = settings.ignored_for(self.filename)
        rules = [r for r in all_rules() if r.code != SYNTAX_ERROR_CODE and r.code not in ignored
                 and r.applies_to(settings.target_torch)]
        found = lint_text("".join(self.lines), rules, apply_noqa=False, options=settings.options()).findings
        for finding in found:
            yield finding.line, finding.column - 1, f"{finding.code} {finding.message}", type(self)
