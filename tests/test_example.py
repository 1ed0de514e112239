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


def test_example_trains_and_resumes_after_fix(tmp_path, monkeypatch):
    """`--fix` (safe fixes only) must not break the program: the checkpoint the script writes holds
    the whole model, so adding `weights_only=True` to its load would make resuming fail. Run as
    on the torch the finding is about (< 2.6, where loads unpickle by default); on torch >= 2.6
    the unfixed resume is refused by the default weights-only load anyway (TL501/TL503)."""
    import importlib.util

    import pytest

    torch = pytest.importorskip("torch")
    result = fix_text(EXAMPLE.read_text(), all_rules(), unsafe=False)
    script = tmp_path / "train_fixed_safe.py"
    script.write_text(result.text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    spec = importlib.util.spec_from_file_location("train_fixed_safe", script)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(__import__("sys").modules, "train_fixed_safe", module)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    trained, losses = module.train(1, "cpu", str(tmp_path / "checkpoint.pt"))
    assert len(losses) == 8
    resumed, epoch = module.resume(str(tmp_path / "checkpoint.pt"), "cpu")
    assert epoch == 0 and isinstance(resumed, torch.nn.Module)
    x = torch.randn(2, 1, 28, 28)
    trained.eval(), resumed.eval()
    with torch.no_grad():
        assert torch.equal(resumed(x), trained(x))
