"""Output formats. Each module renders a list of `FileFindings` for one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List

from torchlint.rule import Finding

RULES_URL = "https://github.com/torchlint/torchlint/blob/main/rules"


@dataclass
class FileFindings:
    """One file's findings and the lines to show them with."""

    path: str
    lines: List[str]  # the file's lines (for showing source), empty when unreadable
    findings: List[Finding]
    cells: Dict[int, List[str]] = field(default_factory=dict)  # a notebook's lines, by cell number

    def source_lines(self, finding: Finding) -> List[str]:
        """The lines a finding's row counts in: its notebook cell's, or the file's."""
        return self.cells.get(finding.cell, []) if finding.cell is not None else self.lines


def rule_url(code: str) -> str:
    return f"{RULES_URL}/{code}.md"


def fix_label(finding: Finding, unsafe_fixes: bool) -> str:
    """'[*]' for a fix --fix applies, '[*] (unsafe)' for one that needs --unsafe-fixes."""
    if finding.fix is None:
        return ""
    if finding.fix.applicability == "safe" or unsafe_fixes:
        return "[*]"
    return "[*] (unsafe: needs --unsafe-fixes)"


def location(path: str, finding: Finding) -> str:
    """`path:line:col`, or `nb.ipynb:cell 4:12:5` for a notebook cell (Ruff's convention)."""
    cell = f"cell {finding.cell}:" if finding.cell is not None else ""
    return f"{path}:{cell}{finding.line}:{finding.column}"


def rule_names() -> dict:
    from torchlint.catalog import rule_infos

    return {info.code: info.name for info in rule_infos()}
