"""The bundled example: what `torchlint check examples/` reports and what --fix makes of it."""

from torchlint.engine import fix_text, lint_text
from torchlint.rule import all_rules

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

EXAMPLE = ROOT / "examples" / "train.py"


def test_example_findings():
    findings = lint_text(EXAMPLE.read_text(), all_rules()).findings
    assert [(f.code, f.line) for f in findings] == [
        ("TL202", 30), ("TL101", 51), ("TL201", 54), ("TL501", 57), ("TL501", 58), ("TL301", 66),
        ("TL401", 76), ("TL502", 81), ("TL503", 87),
    ]


def test_example_fix_matches_golden_and_leaves_only_unfixable():
    result = fix_text(EXAMPLE.read_text(), all_rules(), unsafe=True)
    assert result.text == (ROOT / "tests" / "golden" / "train_fixed.py").read_text()
    # Left: the softmax whose input is not a variable (no fix) and the whole-model load (no fix).
    assert [(f.code, f.line) for f in result.findings] == [("TL101", 51), ("TL503", 92)]


def test_example_cli_exit_code(cli):
    assert cli("check", EXAMPLE).code == 1
