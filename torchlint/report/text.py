"""The human format: `path:line:col: CODE message [*]`, the source line, and a summary."""

from __future__ import annotations

import json
from collections import Counter
from typing import List, TextIO

from torchlint.report import FileFindings, fix_label, location, rule_names


def render(results: List[FileFindings], out: TextIO, unsafe_fixes: bool, show_source: bool = True) -> None:
    for result in results:
        for finding in result.findings:
            label = fix_label(finding, unsafe_fixes)
            suffix = f" {label}" if label else ""
            out.write(f"{location(result.path, finding)}: {finding.code} {finding.message}{suffix}\n")
            lines = result.source_lines(finding)
            if show_source and 0 < finding.line <= len(lines):
                source = lines[finding.line - 1].rstrip("\r\n")
                width = len(str(finding.line))
                out.write(f"  {finding.line} | {source}\n")
                caret = " " * (finding.column - 1) + "^"
                out.write(f"  {' ' * width} | {caret}\n")


def concise(results: List[FileFindings], out: TextIO, unsafe_fixes: bool) -> None:
    """One line per finding, Ruff's `concise` format: `path:line:col: CODE [*] message`."""
    for result in results:
        for finding in result.findings:
            label = "[*] " if fix_label(finding, unsafe_fixes) == "[*]" else ""
            out.write(f"{location(result.path, finding)}: {finding.code} {label}{finding.message}\n")


def fixes(applied: List[tuple], out: TextIO) -> None:
    """`--show-fixes`: what was fixed, per file and rule (`applied`: (path, {code: count}))."""
    names = rule_names()
    total = sum(sum(codes.values()) for _, codes in applied)
    if not total:
        return
    out.write(f"Fixed {total} finding{'s' if total != 1 else ''}:\n")
    for path, codes in applied:
        if codes:
            out.write(f"- {path}:\n")
            for code, count in sorted(codes.items()):
                out.write(f"    {count} \u00d7 {code} ({names.get(code, code)})\n")


def summary(results: List[FileFindings], unsafe_fixes: bool, fixed: int = 0, skipped: int = 0) -> str:
    findings = [f for r in results for f in r.findings]
    safe = sum(1 for f in findings if f.fix is not None and (f.fix.applicability == "safe" or unsafe_fixes))
    unsafe = sum(1 for f in findings if f.fix is not None and f.fix.applicability != "safe" and not unsafe_fixes)
    parts = []
    if fixed:
        parts.append(f"Fixed {fixed} finding{'s' if fixed != 1 else ''}.")
    if skipped:
        parts.append(f"{skipped} code block{'s' if skipped != 1 else ''} skipped (not Python; "
                     f"--show-skipped lists {'them' if skipped != 1 else 'it'}).")
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
    names = rule_names()
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
