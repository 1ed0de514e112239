"""Stable identities for findings: what a baseline and SARIF's partialFingerprints match on.

A finding is identified by its code, its source line with whitespace normalised, and how many
earlier findings in the same file share both. Line numbers are left out on purpose, so adding
or removing lines above a finding does not make it new."""

from __future__ import annotations

from collections import Counter
from typing import Dict, List, Optional, Sequence

from torchlint.rule import Finding
from torchlint.sources import digest_of


def normalized_line(lines: Sequence[str], number: int) -> str:
    text = lines[number - 1] if 0 < number <= len(lines) else ""
    return " ".join(text.split())


def fingerprints(findings: List[Finding], lines: Sequence[str],
                 cells: Optional[Dict[int, List[str]]] = None) -> List[str]:
    """One fingerprint per finding, in order (findings must be sorted by position). A notebook
    finding's line is its cell's (`cells`); the cell's number is left out, as line numbers are."""
    seen: Counter = Counter()
    result = []
    for finding in findings:
        source = (cells or {}).get(finding.cell, []) if finding.cell is not None else lines
        key = (finding.code, normalized_line(source, finding.line))
        occurrence = seen[key]
        seen[key] += 1
        digest = digest_of(f"{key[0]}\0{key[1]}\0{occurrence}".encode("utf-8"))
        result.append(digest[:20])
    return result
