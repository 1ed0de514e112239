"""Output formats. Each module renders a list of `FileFindings` for one run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

from torchlint.rule import Finding

RULES_URL = "https://github.com/torchlint/torchlint/blob/main/rules"


@dataclass
class FileFindings:
    path: str
    lines: List[str]  # the file's lines (for showing source), empty when unreadable
    findings: List[Finding]


def rule_url(code: str) -> str:
    return f"{RULES_URL}/{code}.md"


def fix_label(finding: Finding, unsafe_fixes: bool) -> str:
    """'[*]' for a fix --fix applies, '[*] (unsafe)' for one that needs --unsafe-fixes."""
    if finding.fix is None:
        return ""
    if finding.fix.applicability == "safe" or unsafe_fixes:
        return "[*]"
    return "[*] (unsafe: needs --unsafe-fixes)"
