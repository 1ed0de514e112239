"""The flake8 plugin: `flake8 --select TL` reports what `torchlint check` reports.

The same configuration as the command line: `[tool.torchlint]` of the pyproject.toml nearest to
each file (select, ignore, per-file-ignores, target-torch) decides which rules run; flake8's own
`--select`/`--extend-ignore` then filter on top, and flake8 applies `# noqa` itself (torchlint's
`# noqa` reads the same, prefixes such as `TL5` included, so `--disable-noqa` works as users
expect). Syntax errors are flake8's E999, not TL001. Columns are 0-based offsets, which flake8
displays 1-based, so both tools print the same `line:col`.
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

from torchlint import __version__
from torchlint.config import ConfigError, FileConfig, Settings, SettingsResolver, build_settings
from torchlint.engine import SYNTAX_ERROR_CODE, TOO_COMPLEX_CODE, internal_error_finding, lint_text
from torchlint.guard import with_deep_stack
from torchlint.rule import Finding
from torchlint.runner import import_context

_RESOLVER: Optional[SettingsResolver] = None


def settings_for(filename: str) -> Settings:
    """[tool.torchlint] nearest to the file; a broken one falls back to the defaults, since
    flake8 has no way to show a configuration error of ours."""
    global _RESOLVER
    if _RESOLVER is None:
        _RESOLVER = SettingsResolver()
    try:
        return _RESOLVER.for_path(filename)
    except ConfigError:
        return build_settings(FileConfig())


class TorchlintChecker:
    name = "torchlint"
    version = __version__

    def __init__(self, tree, filename: str, lines: List[str]) -> None:
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[Tuple[int, int, str, type]]:
        settings = settings_for(self.filename)
        rules = [r for r in settings.rules_for(self.filename) if r.code != SYNTAX_ERROR_CODE]
        text = "".join(self.lines)

        def lint() -> List[Finding]:
            context = import_context(self.filename, settings)  # the project around it, as the CLI sees it
            return lint_text(text, rules, apply_noqa=False, options=settings.options(), context=context).findings

        try:
            found = with_deep_stack(lint)
        except (RecursionError, MemoryError) as error:
            found = [Finding(TOO_COMPLEX_CODE, f"file not checked: {type(error).__name__} while checking it")]
        except Exception as error:  # a torchlint bug must not abort the whole flake8 run
            found = [internal_error_finding(f"{type(error).__name__}: {error}")]
        for finding in found:
            yield finding.line, finding.column - 1, f"{finding.code} {finding.message}", type(self)
