"""The command line as users meet it: exit codes, formats, fixing, noqa, broken input."""

import json
import os
import subprocess
import sys

import pytest

BAD = '''import torch


def load(path):
    return torch.load(path)
'''
FIXED = '''import torch


def load(path):
    return torch.load(path, weights_only=True)
'''
CLEAN = '''import torch


def load(path):
    return torch.load(path, weights_only=True)
'''
WHOLE_MODEL = '''import torch
from torch import nn

model = nn.Linear(2, 2)
torch.save(model, "m.pt")
'''


def test_clean_file_exits_0(cli, write, tmp_path):
    write("ok.py", CLEAN)
    result = cli("check", tmp_path)
    assert result.code == 0
    assert "All checks passed!" in result.out


def test_findings_exit_1_with_location_source_and_fix_mark(cli, write, tmp_path):
    path = write("bad.py", BAD)
    result = cli("check", path)
    assert result.code == 1
    first = result.out.splitlines()[0]
    assert first.startswith(f"{path}:5:12: TL502 ")
    assert first.endswith("[*]")
    assert "  5 |     return torch.load(path)" in result.out
    assert "Found 1 finding in 1 file. 1 fixable with --fix." in result.out


def test_unsafe_fix_is_labelled(cli, write):
    path = write("m.py", WHOLE_MODEL)
    result = cli(path)
    assert "TL501" in result.out and "[*] (unsafe: needs --unsafe-fixes)" in result.out
    assert "1 more fixable with --fix --unsafe-fixes." in result.out


def test_no_subcommand_means_check_and_default_path_is_cwd(cli, write, tmp_path):
    write("pkg/bad.py", BAD)
    assert cli(cwd=tmp_path).code == 1
    result = cli("--fix", cwd=tmp_path)
    assert result.code == 0
    assert (tmp_path / "pkg" / "bad.py").read_text() == FIXED
    assert "Fixed 1 finding." in result.out


def test_fix_leaves_unsafe_fixes_unless_asked(cli, write):
    path = write("m.py", WHOLE_MODEL)
    assert cli("check", "--fix", path).code == 1
    assert path.read_text() == WHOLE_MODEL
    assert cli("check", "--fix", "--unsafe-fixes", path).code == 0
    assert 'torch.save(model.state_dict(), "m.pt")' in path.read_text()


def test_second_fix_run_changes_nothing(cli, write):
    path = write("bad.py", BAD)
    cli("--fix", path)
    once = path.read_bytes()
    result = cli("--fix", path)
    assert path.read_bytes() == once
    assert result.code == 0 and "Fixed" not in result.out


def test_diff_prints_and_writes_nothing(cli, write):
    path = write("bad.py", BAD)
    result = cli("check", "--diff", path)
    assert result.code == 1
    assert "-    return torch.load(path)" in result.out
    assert "+    return torch.load(path, weights_only=True)" in result.out
    assert path.read_text() == BAD
    clean = write("ok.py", CLEAN)
    assert cli("check", "--diff", clean).code == 0


def test_json_output_uses_ruff_field_names(cli, write):
    path = write("bad.py", BAD)
    result = cli("check", "--output-format", "json", path)
    assert result.code == 1
    (item,) = json.loads(result.out)
    assert item["code"] == "TL502"
    assert item["filename"] == str(path)
    assert item["location"] == {"row": 5, "column": 12}
    assert item["end_location"] == {"row": 5, "column": 28}
    assert item["noqa_row"] == 5
    assert item["url"].endswith("/rules/TL502.md")
    assert item["fix"]["applicability"] == "safe"
    (edit,) = item["fix"]["edits"]
    assert edit["content"] == "torch.load(path, weights_only=True)"
    assert edit["location"] == {"row": 5, "column": 12}


def test_json_output_of_clean_run_is_an_empty_array(cli, write, tmp_path):
    write("ok.py", CLEAN)
    result = cli("check", "--output-format", "json", tmp_path)
    assert result.code == 0 and json.loads(result.out) == []


def test_statistics_and_exit_zero(cli, write, tmp_path):
    write("a.py", BAD)
    write("b.py", BAD + WHOLE_MODEL.replace("import torch\n", ""))
    result = cli("check", "--statistics", "--exit-zero", tmp_path)
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split() == ["2", "TL502", "[*]", "torch-load-without-weights-only"]
    assert lines[1].split()[:2] == ["1", "TL501"]


@pytest.mark.parametrize("selector", ["TL502", "TL5", "TL", "ALL", "torch-load-without-weights-only", "tl502"])
def test_select_by_code_prefix_or_name(cli, write, selector):
    path = write("bad.py", BAD)
    assert cli("check", "--select", selector, path).code == 1


def test_ignore_and_extend_select(cli, write):
    path = write("bad.py", BAD)
    assert cli("check", "--ignore", "TL502", path).code == 0
    assert cli("check", "--select", "TL501", path).code == 0
    assert cli("check", "--select", "TL501", "--extend-select", "TL502", path).code == 1


@pytest.mark.parametrize("args", [
    ["check", "--select", "TL999"],
    ["check", "--ignore", "nonsense-rule"],
    ["check", "--output-format", "xml"],
    ["check", "does-not-exist"],
    ["explain", "TL999"],
    ["check", "--config", "missing.toml"],
    ["frobnicate", "--wat"],
])
def test_usage_errors_exit_2_with_one_line(cli, tmp_path, args):
    result = cli(*args, cwd=tmp_path)
    assert result.code == 2
    assert result.err.startswith("torchlint: error: ")
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err


def test_rules_and_explain(cli):
    result = cli("rules")
    assert result.code == 0
    for code in ("TL001", "TL501", "TL502", "TL503"):
        assert code in result.out
    assert {r["code"]: r["name"] for r in json.loads(cli("rules", "--output-format", "json").out)}["TL501"] == "whole-model-save"
    explained = cli("explain", "whole-model-save")
    assert explained.code == 0
    assert explained.out.startswith("# TL501 whole-model-save")
    assert "## Why is this bad?" in explained.out
    assert cli("explain", "tl503").out.startswith("# TL503")


def test_syntax_error_is_reported_never_written_and_the_run_continues(cli, write, tmp_path):
    broken = write("broken.py", "import torch\ntorch.load(p\n")
    other = write("other.py", BAD)
    before = broken.read_bytes()
    result = cli("check", "--fix", tmp_path)
    assert broken.read_bytes() == before
    assert other.read_text() == FIXED
    assert result.code == 1
    assert f"{broken}:" in result.out and "TL001 syntax error" in result.out


def test_undecodable_and_unreadable_files_are_reported(cli, write, tmp_path):
    write("latin.py", b"import torch\nx = '\xe9'\ntorch.load(p)\n")
    os.symlink(tmp_path / "nowhere.py", tmp_path / "dangling.py")
    result = cli("check", "--output-format", "json", tmp_path)
    assert result.code == 1
    findings = {(os.path.basename(f["filename"]), f["code"]) for f in json.loads(result.out)}
    assert findings == {("latin.py", "TL001"), ("dangling.py", "TL001")}


def test_noqa_suppresses_and_is_never_fixed(cli, write):
    source = (
        "import torch\n"
        "a = torch.load(p)  # noqa\n"
        "b = torch.load(p)  # noqa: TL502\n"
        "c = torch.load(p)  # noqa: TL501\n"
        "d = torch.load(  # noqa: TL502\n"
        "    p,\n"
        ")\n"
    )
    path = write("n.py", source)
    result = cli("check", "--output-format", "json", path)
    assert [f["location"]["row"] for f in json.loads(result.out)] == [4]
    cli("check", "--fix", path)
    lines = path.read_text().splitlines()
    assert lines[1] == "a = torch.load(p)  # noqa"
    assert lines[2] == "b = torch.load(p)  # noqa: TL502"
    assert lines[3] == "c = torch.load(p, weights_only=True)  # noqa: TL501"
    assert lines[4:] == ["d = torch.load(  # noqa: TL502", "    p,", ")"]


def test_default_excludes_and_explicit_files(cli, write, tmp_path):
    write(".venv/lib/bad.py", BAD)
    write("build/bad.py", BAD)
    write("notes.txt", BAD)
    assert cli("check", tmp_path).code == 0
    assert cli("check", tmp_path / "build" / "bad.py").code == 1


def test_fix_keeps_bom_crlf_and_latin1(cli, write):
    bom = write("bom.py", b"\xef\xbb\xbf" + BAD.encode())
    crlf = write("crlf.py", BAD.replace("\n", "\r\n").encode())
    latin = write("latin.py", b"# -*- coding: latin-1 -*-\n" + BAD.replace("load(path)\n", "load(path)  # caf\xe9\n").encode("latin-1"))
    cli("--fix", bom, crlf, latin)
    assert bom.read_bytes() == b"\xef\xbb\xbf" + FIXED.encode()
    assert crlf.read_bytes() == FIXED.replace("\n", "\r\n").encode()
    assert latin.read_bytes() == b"# -*- coding: latin-1 -*-\n" + FIXED.replace(
        "True)", "True)  # caf\xe9").encode("latin-1")


def test_fix_preserves_file_mode(cli, write):
    path = write("bad.py", BAD)
    os.chmod(path, 0o751)
    cli("--fix", path)
    assert os.stat(path).st_mode & 0o777 == 0o751


def test_console_script_runs_as_a_process(write, tmp_path):
    path = write("bad.py", BAD)
    process = subprocess.run([sys.executable, "-m", "torchlint", "check", str(path)],
                             capture_output=True, text=True)
    assert process.returncode == 1
    assert "TL502" in process.stdout


def test_the_command_exits_fast_with_its_output_whole_and_its_code(write, tmp_path):
    """`console_main` leaves without the interpreter's teardown: nothing written may be lost,
    the exit code is main's, and a reader that leaves early is no error."""
    paths = [write(f"bad{index}.py", BAD) for index in range(30)]
    command = [sys.executable, "-m", "torchlint", "check", "--no-cache", "--output-format", "json", *map(str, paths)]
    process = subprocess.run(command, capture_output=True, text=True)
    assert process.returncode == 1 and len(json.loads(process.stdout)) == 30 and not process.stderr
    error = subprocess.run([sys.executable, "-m", "torchlint", "check", "--select", "TL999", str(paths[0])],
                           capture_output=True, text=True)
    assert error.returncode == 2 and "unknown rule selector" in error.stderr
    reader = subprocess.Popen(command[:-30] + ["--output-format", "text", *map(str, paths)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    assert reader.stdout is not None and reader.stdout.readline()
    reader.stdout.close()  # the reader leaves after one line
    assert reader.wait(timeout=60) in (0, 1) and b"Traceback" not in reader.stderr.read()


def test_excludes_apply_below_the_checked_folder_not_to_its_ancestors(cli, write, tmp_path):
    write("build/project/src/bad.py", BAD)
    write("build/project/build/gen.py", BAD)
    result = cli("check", "--output-format", "json", tmp_path / "build" / "project")
    assert [f["filename"].split("/")[-2:] for f in json.loads(result.out)] == [["src", "bad.py"]]
