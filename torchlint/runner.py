"""Running the engine over files: read, lint or fix, write back, collect what to report."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import List, Optional

from torchlint.config import Settings
from torchlint.engine import fix_text, lint_text, read_error_finding
from torchlint.report import FileFindings
from torchlint.sources import SourceError, read_source, write_source

FIX_OFF, FIX_WRITE, FIX_DIFF = "off", "write", "diff"


@dataclass
class FileOutcome:
    result: FileFindings
    fixed: int = 0
    diff: str = ""
    messages: List[str] = field(default_factory=list)  # one-line problems for stderr
    internal_error: bool = False


def process_file(path: str, settings: Settings, fix_mode: str = FIX_OFF, unsafe: bool = False) -> FileOutcome:
    rules = settings.rules_for(path)
    try:
        source = read_source(path)
    except SourceError as error:
        findings = [read_error_finding(str(error))] if any(r.code == "TL001" for r in rules) else []
        return FileOutcome(FileFindings(path, [], findings))
    try:
        if fix_mode == FIX_OFF:
            findings = lint_text(source.text, rules, options=settings.options()).findings
            return FileOutcome(FileFindings(path, source.text.splitlines(), findings))
        result = fix_text(source.text, rules, unsafe, settings.options())
    except Exception as error:  # a bug in torchlint must not stop the run or touch the file
        message = f"{path}: internal error, file skipped: {type(error).__name__}: {error}"
        return FileOutcome(FileFindings(path, [], []), messages=[message], internal_error=True)
    outcome = FileOutcome(FileFindings(path, result.text.splitlines(), result.findings), result.fixed)
    outcome.messages.extend(f"{path}:{line}" for line in result.failed)
    if result.text != source.text:
        if fix_mode == FIX_WRITE:
            write_source(source, result.text)
        else:
            outcome.diff = unified_diff(path, source.text, result.text)
    return outcome


def unified_diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def first_error(outcomes: List[FileOutcome]) -> Optional[str]:
    for outcome in outcomes:
        if outcome.internal_error:
            return outcome.messages[0]
    return None
