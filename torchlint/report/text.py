"""The human format: `path:line:col: CODE message [*]`, the source line, and a summary."""

from __future__ import annotations

import json
from collections import Counter
from typing import List, TextIO

from torchlint.report import FileFindings, fix_label
from torchlint.rule import all_rules


def render(results: List[FileFindings], out: TextIO, unsafe_fixes: bool, show_source: bool = True) -> None:
    for result in results:
        for finding in result.findings:
            label = fix_label(finding, unsafe_fixes)
            suffix = f" {label}" if label else ""
            out.write(f"{result.path}:{finding.line}:{finding.column}: {finding.code} {finding.message}{suffix}\n")
            if show_source and 0 < finding.line <= len(result.lines):
                source = result.lines[finding.line - 1].rstrip("\r\n")
                width = len(str(finding.line))
                out.write(f"  {finding.line} | {source}\n")
                caret = " " * (finding.column - 1) + "^"
                out.write(f"  {' ' * width} | {caret}\n")


def summary(results: List[FileFindings], unsafe_fixes: bool, fixed: int = 0) -> str:
    findings = [f for r in results for f in r.findings]
    safe = sum(1 for f in findings if f.fix is not None and (f.fix.applicability == "safe" or unsafe_fixes))
    unsafe = sum(1 for f in findings if f.fix is not None and f.fix.applicability != "safe" and not unsafe_fixes)
    parts = []
    if fixed:
        parts.append(f"Fixed {fixed} finding{'s' if fixed != 1 else ''}.")
    if not findings:
        parts.append("All checks passed!" if not fixed else "No findings remain.")
        return " ".join(parts)
    files = sum(1 for r in results if r.findings)
    parts.append(f"Found {len(findings)} finding{'s' if len(findings) != 1 else ''} in {files} file{'s' if files != 1 else ''}.")
    if safe:
        parts.append(f"{safe} fixable with --fix.")
    if unsafe:
        parts.append(f"{unsafe} more fixable with --fix --unsafe-fixes.")
    return " ".join(parts)


def statistics(results: List[FileFindings], out: TextIO, unsafe_fixes: bool = False, as_json: bool = False) -> None:
    """Findings per rule, most frequent first. `[*]` marks a rule only when one of its findings
    here has a fix that `--fix` (with `--unsafe-fixes`: that) would apply."""
    findings = [f for r in results for f in r.findings]
    counts = Counter(f.code for f in findings)
    fixable = {f.code for f in findings if fix_label(f, unsafe_fixes) == "[*]"}
    names = {rule.code: rule.name for rule in all_rules()}
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if as_json:  # ruff's `--statistics --output-format json` fields
        rows = [{"code": code, "name": names.get(code, ""), "count": count, "fixable": code in fixable}
                for code, count in ordered]
        json.dump(rows, out, indent=2)
        out.write("\n")
        return
    for code, count in ordered:
        mark = "[*]" if code in fixable else "   "
        out.write(f"{count:>5}  {code}  {mark} {names.get(code, '')}\n")
