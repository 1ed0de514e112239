"""Editors and tools: standard input (`--stdin-filename path -`), concise output, --show-fixes,
and the fast path: a run the result cache fully answers never imports LibCST or the rules."""

import io
import json
import os
import subprocess
import sys
import pytest
from types import SimpleNamespace

BAD = "import torch\n\nstate = torch.load('w.pt')\n"
FIXED = "import torch\n\nstate = torch.load('w.pt', weights_only=True)\n"


def stdin_run(cli, monkeypatch, data, *args, cwd):
    buffer = io.BytesIO()
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(data.encode())))
    real = sys.stdout
    out = io.TextIOWrapper(buffer, encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stdout", out)
    try:
        result = cli(*args, cwd=cwd)
    finally:
        monkeypatch.setattr(sys, "stdout", real)
    out.flush()
    return result, buffer.getvalue().decode()


def test_stdin_findings_name_the_given_path(cli, monkeypatch, tmp_path):
    result, out = stdin_run(cli, monkeypatch, BAD, "check", "--no-cache", "--stdin-filename", "src/train.py", "-",
                            cwd=tmp_path)
    assert result.code == 1
    assert "src/train.py:3:9: TL502" in out


def test_stdin_applies_the_paths_per_file_ignores(cli, monkeypatch, write, tmp_path):
    write("pyproject.toml", '[tool.torchlint]\nper-file-ignores = { "tests/*" = ["TL502"] }\n')
    result, out = stdin_run(cli, monkeypatch, BAD, "check", "--no-cache", "--stdin-filename", "tests/test_x.py",
                            "-", cwd=tmp_path)
    assert result.code == 0 and "TL502" not in out


def test_stdin_fix_writes_only_the_fixed_source(cli, monkeypatch, tmp_path):
    result, out = stdin_run(cli, monkeypatch, BAD, "check", "--no-cache", "--fix", "--stdin-filename", "a.py", "-",
                            cwd=tmp_path)
    assert out == FIXED and result.code == 0
    assert not (tmp_path / "a.py").exists()


def test_stdin_notebook_by_its_name(cli, monkeypatch, tmp_path):
    notebook = json.dumps({"cells": [{"cell_type": "code", "source": BAD, "metadata": {}, "outputs": [],
                                      "execution_count": None}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    result, out = stdin_run(cli, monkeypatch, notebook, "check", "--no-cache", "--stdin-filename", "n.ipynb", "-",
                            cwd=tmp_path)
    assert "n.ipynb:cell 1:3:9: TL502" in out


def test_concise_output_and_show_fixes(cli, write):
    path = write("a.py", BAD)
    result = cli("check", "--no-cache", "--output-format", "concise", path, cwd=path.parent)
    assert result.out.splitlines()[0].startswith(f"{path}:3:9: TL502 [*] `torch.load` without")
    assert "|" not in result.out  # no source lines
    fixed = cli("check", "--no-cache", "--fix", "--show-fixes", path, cwd=path.parent)
    assert f"- {path}:\n    1 \u00d7 TL502 (torch-load-without-weights-only)" in fixed.out


FAST = """
import sys
from torchlint.cli import main
code = main(["check", "-j", "1", "--output-format", "concise", "."])
heavy = sorted(m for m in sys.modules if m == "libcst" or m.startswith(("libcst.", "torchlint.checks", "torchlint.engine",
                                                                        "torchlint.analysis", "markdown_it")))
print("HEAVY", heavy)
sys.exit(code)
"""


def test_a_fully_cached_run_imports_neither_libcst_nor_the_rules(tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    (tmp_path / "notes.md").write_text("```python\nimport torch\ntorch.load('x')\n```\n")
    (tmp_path / "pyproject.toml").write_text("[tool.torchlint]\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    first = subprocess.run([sys.executable, "-c", FAST], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert first.returncode == 1 and "'libcst'" in first.stdout  # the first run lints
    second = subprocess.run([sys.executable, "-c", FAST], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert second.returncode == 1, second.stderr
    assert "a.py:3:9: TL502" in second.stdout and "notes.md:3:1: TL502" in second.stdout
    assert "HEAVY []" in second.stdout


STARTS_LIGHT = """
import sys
from torchlint.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
heavy = sorted(m for m in sys.modules if m == "libcst" or m.startswith(("libcst.", "torchlint.checks", "torchlint.engine")))
print("HEAVY", heavy)
"""


@pytest.mark.parametrize("arguments", [
    ["--version"], ["rules"], ["explain", "TL301"], ["check", "--no-cache", "empty"],
    ["check", "--no-cache", "-j", "1", "plain.py"],  # no rule's evidence: never parsed by LibCST
    ["check", "--no-cache", "-j", "1", "readme.md"],  # a document without Python code
    ["check", "--no-cache", "-j", "1", "--extend-include", "*.ipynb", "prose.ipynb"],
])
def test_commands_that_parse_nothing_never_import_libcst(tmp_path, arguments):
    (tmp_path / "empty").mkdir()
    (tmp_path / "plain.py").write_text("import os\nprint(os.getcwd())  # torch.save(model, p)\n")
    (tmp_path / "readme.md").write_text("# Train\n\n```bash\npython train.py --epochs 3\n```\n")
    (tmp_path / "prose.ipynb").write_text(json.dumps({"cells": [{"cell_type": "markdown", "metadata": {},
                                                                 "source": ["# torch.save(model)"]}],
                                                      "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run([sys.executable, "-c", STARTS_LIGHT, *arguments], cwd=tmp_path, capture_output=True,
                            text=True, env=env)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
