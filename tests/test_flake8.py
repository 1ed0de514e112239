"""The flake8 plugin, run through the real flake8: same findings and columns as torchlint check."""

import json
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "fixtures").glob("*/bad.py")) + [ROOT / "examples" / "train.py"]


def flake8(*args, cwd=None):
    process = subprocess.run([sys.executable, "-m", "flake8", *map(str, args)], capture_output=True,
                             text=True, cwd=cwd)
    assert process.returncode in (0, 1), process.stderr
    return process


def flake8_findings(*paths, extra=()):
    out = flake8("--select", "TL", "--format", "%(path)s|%(row)d|%(col)d|%(code)s", *extra, *paths).stdout
    return sorted((Path(p).name, int(r), int(c), code) for p, r, c, code in
                  (line.split("|") for line in out.splitlines()))


def torchlint_findings(cli, *paths):
    result = cli("check", "--output-format", "json", *paths)
    return sorted((Path(f["filename"]).name, f["location"]["row"], f["location"]["column"], f["code"])
                  for f in json.loads(result.out))


def test_flake8_reports_exactly_what_torchlint_reports(cli):
    from torchlint.rule import rule_by_code_or_name

    for path in FILES:
        expected = torchlint_findings(cli, path)
        rule = rule_by_code_or_name(path.parent.name)
        assert expected or (rule is not None and rule.preview), path  # preview rules are off in both
        assert flake8_findings(path) == expected, path


def test_flake8_noqa_handling(write, tmp_path):
    path = write("n.py", "import torch\na = torch.load(p)  # noqa: TL502\nb = torch.load(p)  # noqa: E501\n")
    assert [row for _, row, _, _ in flake8_findings(path)] == [3]
    assert [row for _, row, _, _ in flake8_findings(path, extra=["--disable-noqa"])] == [2, 3]


def test_flake8_exit_code_and_per_file_ignores(write, tmp_path):
    write("pyproject.toml", '[tool.torchlint.per-file-ignores]\n"legacy/*.py" = ["TL502"]\n')
    write("legacy/old.py", "import torch\nx = torch.load(p)\n")
    write("new.py", "import torch\nx = torch.load(p)\n")
    process = flake8("--select", "TL", ".", cwd=tmp_path)
    assert process.returncode == 1
    assert "new.py:2:5: TL502" in process.stdout and "old.py" not in process.stdout


def test_plugin_is_registered():
    assert "torchlint" in flake8("--version").stdout


WHOLE = "import torch\nfrom torch import nn\n\nmodel = nn.Linear(2, 2)\ntorch.save(model, 'm.pt')\nx = torch.load(p)\n"


def test_flake8_reads_the_same_configuration_as_the_command_line(cli, write, tmp_path):
    write("pyproject.toml", '[tool.torchlint]\nselect = ["TL5"]\nignore = ["TL502"]\n')
    write("a.py", WHOLE)
    write("old/pyproject.toml", '[tool.torchlint]\ntarget-torch = "2.6"\nselect = ["TL502"]\n')
    write("old/b.py", "import torch\nx = torch.load(p)\n")
    flake8_codes = sorted((name, code) for name, _, _, code in flake8_findings(tmp_path / "a.py", tmp_path / "old" / "b.py"))
    assert flake8_codes == [("a.py", "TL501")]
    assert sorted((name, code) for name, _, _, code in torchlint_findings(cli, tmp_path)) == flake8_codes
    # flake8's own selection still applies on top
    assert flake8_findings(tmp_path / "a.py", extra=["--extend-ignore", "TL501"]) == []


def test_noqa_prefixes_mean_the_same_in_both_tools(cli, write, tmp_path):
    path = write("n.py", "import torch\na = torch.load(p)  # noqa:TL5\nb = torch.load(p)  # noqa: TL1\n")
    assert [row for _, row, _, _ in flake8_findings(path)] == [3]
    assert [row for _, row, _, _ in torchlint_findings(cli, path)] == [3]


def test_syntax_errors_are_flake8s_e999_not_tl001(write):
    path = write("broken.py", "def train(model:\n")
    out = flake8("--select", "TL,E999", path).stdout
    assert "E999" in out and "TL001" not in out
