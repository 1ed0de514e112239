"""SARIF 2.1.0 for code-scanning dashboards (GitHub code scanning accepts it as is)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote
from typing import List, TextIO

from torchlint import __version__
from torchlint.fingerprint import fingerprints
from torchlint.report import FileFindings, RULES_URL, rule_url
from torchlint.catalog import rule_infos

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _rule_descriptor(rule) -> dict:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": _first_paragraph(rule.documentation())},
        "help": {"text": rule.documentation(), "markdown": rule.documentation()},
        "helpUri": rule_url(rule.code),
        "defaultConfiguration": {"level": rule.level},
        "properties": {"tags": ["pytorch"], "fix": rule.fix_safety},
    }


def _first_paragraph(doc: str) -> str:
    lines = doc.split("## What it does", 1)[-1].strip().split("\n\n", 1)[0]
    return " ".join(lines.split())


def _uri(path: str) -> str:
    """An RFC 3986 URI reference: relative to %SRCROOT% when below it, percent-encoded."""
    relative = os.path.relpath(path)
    if relative.startswith(".."):
        return Path(os.path.abspath(path)).as_uri()
    return quote(relative.replace(os.sep, "/"), safe="/")


def render(results: List[FileFindings], out: TextIO) -> None:
    rules = list(rule_infos())
    index = {rule.code: i for i, rule in enumerate(rules)}
    levels = {rule.code: rule.level for rule in rules}
    sarif_results = []
    for result in results:
        prints = fingerprints(result.findings, result.lines, result.cells) if result.findings else []
        for finding, fingerprint in zip(result.findings, prints):
            region = {"startLine": finding.line, "startColumn": finding.column,
                      "endLine": max(finding.end_line, finding.line), "endColumn": finding.end_column}
            if (region["endLine"], region["endColumn"]) <= (finding.line, finding.column):
                del region["endLine"], region["endColumn"]
            physical = {"artifactLocation": {"uri": _uri(result.path), "uriBaseId": "%SRCROOT%"}, "region": region}
            message = finding.message
            if finding.cell is not None:  # rows count in the cell, not in the notebook's JSON: no region
                del physical["region"]
                message = f"cell {finding.cell}:{finding.line}:{finding.column}: {message}"
            sarif_results.append({
                "ruleId": finding.code,
                "ruleIndex": index[finding.code],
                "level": levels[finding.code],
                "message": {"text": message},
                "locations": [{"physicalLocation": physical}],
                "partialFingerprints": {"torchlint/v1": fingerprint},
            })
    document = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "torchlint",
                "version": __version__,
                "informationUri": RULES_URL,
                "rules": [_rule_descriptor(rule) for rule in rules],
            }},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(os.getcwd()).as_uri() + "/"}},
            "results": sarif_results,
        }],
    }
    json.dump(document, out, indent=2, ensure_ascii=False)
    out.write("\n")
