"""GitHub Actions workflow commands: one annotation per finding, shown on the pull request."""

from __future__ import annotations

from typing import List, TextIO

from torchlint.report import FileFindings, rule_names


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(results: List[FileFindings], out: TextIO) -> None:
    names = rule_names()
    for result in results:
        for f in result.findings:
            title = f"title={_escape_property(f'{f.code} ({names.get(f.code, f.code)})')}"
            message = f"{f.code} {f.message}"
            if f.cell is not None:  # the notebook's JSON lines are not the cell's: the file, and the cell in words
                properties = ",".join([f"file={_escape_property(result.path)}", title])
                message = f"cell {f.cell}:{f.line}:{f.column}: {message}"
            else:
                properties = ",".join([
                    f"file={_escape_property(result.path)}",
                    f"line={f.line}",
                    f"col={f.column}",
                    f"endLine={max(f.end_line, f.line)}",
                    f"endColumn={f.end_column}",
                    title,
                ])
            out.write(f"::error {properties}::{_escape_data(message)}\n")
