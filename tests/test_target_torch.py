"""Version-aware rules: TL502's missing weights_only is moot from torch 2.6 on."""

import pytest

from torchlint.config import torch_lower_bound

CODE = "import torch\na = torch.load(p)\nb = torch.load(p, weights_only=False)\n"  # b: a decision, never reported


def rows(cli, *args, cwd):
    import json

    result = cli("check", "--output-format", "json", *args, ".", cwd=cwd)
    return [f["location"]["row"] for f in json.loads(result.out)]


def test_default_is_oldest_supported(cli, write, tmp_path):
    write("a.py", CODE)
    assert rows(cli, cwd=tmp_path) == [2]


@pytest.mark.parametrize("setting", ['target-torch = "2.6"', 'target-torch = "2.7.1"'])
def test_configured_target_drops_missing(cli, write, tmp_path, setting):
    write("pyproject.toml", f"[tool.torchlint]\n{setting}\n")
    write("a.py", CODE)
    assert rows(cli, cwd=tmp_path) == []


def test_command_line_target_wins(cli, write, tmp_path):
    write("pyproject.toml", '[tool.torchlint]\ntarget-torch = "2.6"\n')
    write("a.py", CODE)
    assert rows(cli, "--target-torch", "2.1", cwd=tmp_path) == [2]


def test_default_comes_from_the_projects_torch_requirement(cli, write, tmp_path):
    write("pyproject.toml", '[project]\nname = "x"\ndependencies = ["numpy", "torch>=2.6,<3"]\n')
    write("a.py", CODE)
    assert rows(cli, cwd=tmp_path) == []
    write("pyproject.toml", '[project]\nname = "x"\ndependencies = ["torch>=2.1"]\n[tool.torchlint]\n')
    assert rows(cli, cwd=tmp_path) == [2]


@pytest.mark.parametrize("value", ['"latest"', "2.6", '"2.x"'])
def test_bad_target_is_a_config_error(cli, write, tmp_path, value):
    write("pyproject.toml", f"[tool.torchlint]\ntarget-torch = {value}\n")
    write("a.py", CODE)
    result = cli("check", ".", cwd=tmp_path)
    assert result.code == 2 and "'target-torch' must be a version string" in result.err


def test_bad_command_line_target(cli, write, tmp_path):
    write("a.py", CODE)
    result = cli("check", "--target-torch", "two", ".", cwd=tmp_path)
    assert result.code == 2 and "--target-torch must be a version string" in result.err


@pytest.mark.parametrize("dependencies, expected", [
    (["torch>=2.6,<3"], "2.6"),
    (["torch==2.1.*"], "2.1"),
    (["torch ~= 2.4.1"], "2.4.1"),
    (["torchvision>=0.20"], None),
    (["torch"], None),
    (['torch[opt]>=2.2; python_version>"3.8"'], "2.2"),
])
def test_torch_lower_bound(dependencies, expected):
    assert torch_lower_bound({"project": {"dependencies": dependencies}}) == expected


def test_rules_declare_the_versions_they_apply_to():
    from torchlint.rule import Rule

    class OldOnly(Rule):
        torch_versions = (None, (2, 0))

    assert OldOnly.applies_to((1, 13)) and not OldOnly.applies_to((2, 0))
