"""The bundled example: what `torchlint check examples/` reports and what --fix makes of it."""

from torchlint.engine import fix_text, lint_text
from torchlint.rule import all_rules

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

EXAMPLE = ROOT / "examples" / "train.py"


def test_example_findings():
    findings = lint_text(EXAMPLE.read_text(), all_rules()).findings
    assert [(f.code, f.line) for f in findings] == [
        ("TL501", 51), ("TL501", 52), ("TL502", 57), ("TL503", 63),
    ]


def test_example_fix_matches_golden_and_leaves_only_unfixable():
    result = fix_text(EXAMPLE.read_text(), all_rules(), unsafe=True)
    assert result.text == (ROOT / "tests" / "golden" / "train_fixed.py").read_text()
    assert [(f.code, f.line) for f in result.findings] == [("TL503", 63)]


def test_example_cli_exit_code(cli):
    assert cli("check", EXAMPLE).code == 1
