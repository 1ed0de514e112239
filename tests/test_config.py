"""[tool.torchlint] in pyproject.toml: found upward, validated, merged under the command line."""

import json

import pytest

BAD = "import torch\n\n\ndef load(path):\n    return torch.load(path)\n"


def codes(result):
    return sorted({(f["filename"].split("/")[-1], f["code"]) for f in json.loads(result.out)})


def test_config_is_found_upward_and_applies(cli, write, tmp_path):
    write("pyproject.toml", '[tool.torchlint]\nignore = ["TL502"]\n')
    write("src/deep/bad.py", BAD)
    assert cli("check", ".", cwd=tmp_path / "src" / "deep").code == 0


def test_pyproject_without_the_table_is_skipped(cli, write, tmp_path):
    write("pyproject.toml", '[tool.torchlint]\nignore = ["TL502"]\n')
    write("sub/pyproject.toml", '[project]\nname = "x"\n')
    write("sub/bad.py", BAD)
    assert cli("check", ".", cwd=tmp_path / "sub").code == 0


def test_command_line_select_wins_over_config_ignore(cli, write, tmp_path):
    write("pyproject.toml", '[tool.torchlint]\nignore = ["TL502"]\n')
    write("bad.py", BAD)
    assert cli("check", "--select", "TL502", "bad.py", cwd=tmp_path).code == 1


def test_select_and_extend_select_in_config(cli, write, tmp_path):
    write("pyproject.toml", '[tool.torchlint]\nselect = ["TL501"]\nextend-select = ["torch-load-without-weights-only"]\n')
    write("bad.py", BAD)
    assert cli("check", "bad.py", cwd=tmp_path).code == 1


def test_per_file_ignores(cli, write, tmp_path):
    write("pyproject.toml", '[tool.torchlint.per-file-ignores]\n"scripts/*.py" = ["TL5"]\n"legacy.py" = ["TL502"]\n')
    write("scripts/a.py", BAD)
    write("legacy.py", BAD)
    write("app.py", BAD)
    result = cli("check", "--output-format", "json", ".", cwd=tmp_path)
    assert codes(result) == [("app.py", "TL502")]


def test_exclude_and_extend_exclude(cli, write, tmp_path):
    write("pyproject.toml", '[tool.torchlint]\nextend-exclude = ["generated", "*_pb2.py"]\n')
    write("generated/a.py", BAD)
    write("model_pb2.py", BAD)
    write(".venv/x.py", BAD)
    assert cli("check", ".", cwd=tmp_path).code == 0
    write("pyproject.toml", '[tool.torchlint]\nexclude = ["generated"]\n')
    assert cli("check", ".", cwd=tmp_path).code == 1  # replacing exclude drops the defaults (.venv)


@pytest.mark.parametrize("body, message", [
    ('selct = ["TL5"]', "unknown key 'selct' in [tool.torchlint] (did you mean 'select'?)"),
    ('select = "TL5"', "'select' must be a list of strings"),
    ('select = ["TL999"]', "unknown rule selector 'TL999'"),
    ('ignore = [1]', "'ignore' must be a list of strings"),
    ('per-file-ignores = ["x"]', "'per-file-ignores' must be a table"),
    ('[tool.torchlint.per-file-ignores]\n"a.py" = ["nope"]', "unknown rule selector 'nope'"),
    ('select = [', "invalid TOML"),
])
def test_bad_configuration_is_one_line_and_exit_2(cli, write, tmp_path, body, message):
    write("pyproject.toml", "[tool.torchlint]\n" + body + "\n" if not body.startswith("[") else body + "\n")
    write("bad.py", BAD)
    result = cli("check", ".", cwd=tmp_path)
    assert result.code == 2
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err


def test_explicit_config_file(cli, write, tmp_path):
    config = write("conf/custom.toml", '[tool.torchlint]\nignore = ["TL502"]\n')
    write("bad.py", BAD)
    assert cli("check", "--config", config, "bad.py", cwd=tmp_path).code == 0


def test_preview_rules_run_only_in_preview_mode_or_when_named(monkeypatch, tmp_path):
    import dataclasses

    import torchlint.config as config
    from torchlint.catalog import rule_infos

    infos = [dataclasses.replace(i, preview=i.code == "TL401") for i in rule_infos()]
    monkeypatch.setattr(config, "rule_infos", lambda: infos)
    plain = config.FileConfig()
    assert "TL401" not in config.build_settings(plain).enabled
    assert "TL401" not in config.build_settings(plain, select=["TL4"]).enabled  # a prefix is not enough
    assert "TL401" in config.build_settings(plain, select=["TL401"]).enabled
    assert "TL401" in config.build_settings(plain, extend_select=["unsynchronized-cuda-timing"]).enabled
    assert "TL401" in config.build_settings(plain, preview=True).enabled
    on = config.FileConfig(values={"preview": True})
    assert "TL401" in config.build_settings(on).enabled
    (tmp_path / "pyproject.toml").write_text("[tool.torchlint]\npreview = 'yes'\n")
    with pytest.raises(config.ConfigError, match="'preview' must be true or false"):
        config.load_file_config(str(tmp_path / "pyproject.toml"))
