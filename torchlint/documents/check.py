"""Linting and fixing a document: its units joined into one module, findings placed back.

The units are joined in order, each after a separator comment of its own; a comment changes
no analysis, and a fix moves comments with the statements they precede (statements a fix
inserts before a unit's first statement take its leading comments), so after fixing, the
separators split the fixed module back into units. A fixed text whose separators are not
intact is never written.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from torchlint.documents import Document, Unit
from torchlint.rule import Finding

_SEPARATOR = "# torchlint:unit {} 7c3e\n"


@dataclass
class Combined:
    """A document's code units joined into one module, with the map back to its lines."""

    text: str
    starts: List[int]  # virtual line (1-based) of each linted unit's code line 1
    units: List[int]  # the unit index of each linted unit
    timed: Tuple[Tuple[int, int], ...] = ()  # virtual line spans a %%time cell or %time line times

    def locate(self, line: int) -> Tuple[int, int]:
        """(unit index, its code line) of a line of the joined module."""
        at = max(bisect.bisect_right(self.starts, line) - 1, 0)
        return self.units[at], line - self.starts[at] + 1


def combine(document: Document) -> Combined:
    parts: List[str] = []
    starts: List[int] = []
    units: List[int] = []
    timed: List[Tuple[int, int]] = []
    line = 1
    for index, unit in enumerate(document.units):
        if unit.skipped or unit.error is not None or not unit.code.strip():
            continue
        parts.append(_SEPARATOR.format(index))
        line += 1
        code = unit.code if unit.code.endswith("\n") else unit.code + "\n"
        starts.append(line)
        units.append(index)
        parts.append(code)
        timed.extend((line + first - 1, line + last - 1) for first, last in unit.timed)
        line += code.count("\n")
    return Combined("".join(parts), starts, units, tuple(timed))


def split(combined: Combined, fixed: str) -> Optional[Dict[int, str]]:
    """The fixed code of each linted unit, or None when the separators did not survive."""
    pieces: Dict[int, List[str]] = {}
    current: Optional[int] = None
    expected = iter(combined.units)
    for line in fixed.splitlines(keepends=True):
        if line.startswith("# torchlint:unit ") and line.rstrip().endswith(" 7c3e"):
            number = int(line.split()[2])
            if number != next(expected, None):
                return None
            current = number
            pieces[current] = []
        elif current is None:
            if line.strip():
                return None  # code inserted before the first unit: nowhere to put it
        else:
            pieces[current].append(line)
    if set(pieces) != set(combined.units):
        return None
    return {index: "".join(lines) for index, lines in pieces.items()}


def place(document: Document, combined: Combined, finding: Finding) -> Finding:
    """Move a finding of the joined module to the document's coordinates."""
    unit_index, line = combined.locate(finding.line)
    unit = document.units[unit_index]
    finding.line, finding.column = _point(unit, line, finding.column)
    end_unit, end_line = combined.locate(finding.end_line)
    if end_unit == unit_index:
        finding.end_line, finding.end_column = _point(unit, end_line, finding.end_column)
    else:
        finding.end_line, finding.end_column = finding.line, finding.column
    finding.fix_edits_positions = [
        _point(unit, combined.locate(a)[1], b) + _point(unit, combined.locate(c)[1], d) + (content,)
        for a, b, c, d, content in finding.fix_edits_positions
    ]
    finding.cell = unit.cell
    return finding


def _point(unit: Unit, line: int, column: int) -> Tuple[int, int]:
    offset = unit.columns[line - 1] if 0 < line <= len(unit.columns) else 0
    return unit.first_line + line - 1, column + offset


def cell_syntax_errors(document: Document, codes: Sequence[str]) -> List[Finding]:
    """One TL001 for each notebook cell that does not parse even with its magics masked."""
    from torchlint.engine import SYNTAX_ERROR_CODE, python_syntax_error_finding

    if SYNTAX_ERROR_CODE not in codes:
        return []
    found = []
    for unit in document.units:
        if unit.error is not None:
            finding = python_syntax_error_finding(unit.code, unit.error)
            finding.line, finding.column = _point(unit, finding.line, finding.column)
            finding.end_line, finding.end_column = finding.line, finding.column
            finding.cell = unit.cell
            found.append(finding)
    return found


@dataclass
class DocumentResult:
    """What linting or fixing a notebook or Markdown file gave."""

    findings: List[Finding]
    text: Optional[str] = None  # the fixed document (fix mode), None when unchanged
    fixed: int = 0
    fixed_codes: Dict[str, int] = field(default_factory=dict)
    failed: List[str] = field(default_factory=list)


def lint_document(document: Document, rules, options, context) -> List[Finding]:
    from torchlint.engine import lint_text

    combined = combine(document)
    findings = cell_syntax_errors(document, [r.code for r in rules])
    if combined.text:
        result = lint_text(combined.text, rules, options=_with_magics(options, combined), context=context)
        findings.extend(place(document, combined, f) for f in result.findings)
    return _sorted(findings)


def fix_document(document: Document, rules, unsafe: bool, options, context) -> DocumentResult:
    from torchlint.engine import fix_text

    combined = combine(document)
    errors = cell_syntax_errors(document, [r.code for r in rules])
    if not combined.text:
        return DocumentResult(_sorted(errors))
    options = _with_magics(options, combined)  # the timed spans keep their lines: TL401 has no fix there
    result = fix_text(combined.text, rules, unsafe, options, context)
    new_codes = split(combined, result.text) if result.text != combined.text else {}
    if new_codes is None:  # the fixes moved a unit boundary: report, write nothing
        from torchlint.engine import lint_text

        findings = lint_text(combined.text, rules, options=options, context=context).findings
        message = "fixes not written: they would move code across a cell or block boundary"
        return DocumentResult(_sorted(errors + [place(document, combined, f) for f in findings]), failed=[message])
    changed = {i: code for i, code in new_codes.items() if code != _terminated(document.units[i].code)}
    text = document.rewrite(changed) if changed else None
    fixed_combined = Combined(result.text, _starts(result.text, combined), combined.units)
    after = _reloaded(document, text) if text is not None else document
    findings = [place(after, fixed_combined, f) for f in result.findings]
    return DocumentResult(_sorted(errors + findings), text, result.fixed, dict(getattr(result, "fixed_codes", {})),
                          [f"fix dropped: {m}" for m in result.failed])


def _with_magics(options, combined: Combined):
    """The lint options plus the spans IPython's timing magics time (TL401 reads them)."""
    if not combined.timed:
        return options
    import dataclasses

    from torchlint.rule import LintOptions

    return dataclasses.replace(options or LintOptions(), magic_timed=combined.timed)


def _terminated(code: str) -> str:
    return code if code.endswith("\n") or not code else code + "\n"


def _starts(text: str, combined: Combined) -> List[int]:
    starts = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("# torchlint:unit ") and line.endswith(" 7c3e"):
            starts.append(number + 1)
    return starts


def _reloaded(document: Document, text: str) -> Document:
    """The document after fixing, for placing the findings that remain."""
    return type(document).parse(text)  # type: ignore[attr-defined]


def _sorted(findings: List[Finding]) -> List[Finding]:
    return sorted(findings, key=lambda f: (f.cell or 0, f.line, f.column, f.code))
