"""JSON output with ruff's field names, so tools that read ruff's JSON read ours."""

from __future__ import annotations

import json
from typing import List, TextIO

from torchlint.report import FileFindings, rule_url
from torchlint.rule import Finding


def _finding(path: str, finding: Finding) -> dict:
    fix = None
    if finding.fix is not None:
        fix = {
            "applicability": finding.fix.applicability,
            "message": finding.fix.message,
            "edits": [
                {
                    "content": content,
                    "location": {"row": line, "column": column},
                    "end_location": {"row": end_line, "column": end_column},
                }
                for line, column, end_line, end_column, content in finding.fix_edits_positions
            ],
        }
    item = {
        "cell": finding.cell,
        "code": finding.code,
        "message": finding.message,
        "filename": path,
        "location": {"row": finding.line, "column": finding.column},
        "end_location": {"row": finding.end_line, "column": finding.end_column},
        "fix": fix,
        "noqa_row": finding.line,
        "url": rule_url(finding.code),
    }
    return item


def render(results: List[FileFindings], out: TextIO) -> None:
    items = [_finding(r.path, f) for r in results for f in r.findings]
    json.dump(items, out, indent=2, ensure_ascii=False)
    out.write("\n")
