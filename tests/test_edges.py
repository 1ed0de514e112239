"""The edges a new user meets (issue 10): deep and huge files, dying workers, syntax errors in
files no rule triggers on, symbolic links, CR-only files, configuration lookup, baselines from
another folder, warnings for odd command-line paths, statistics and SARIF URIs."""

import json
import multiprocessing
import os
import subprocess
import sys

import pytest

from torchlint import runner
from torchlint.engine import MAX_DEPTH, MAX_SOURCE_CHARS

LOAD = "import torch\nstate = torch.load(path)\n"
FIXED_LOAD = "import torch\nstate = torch.load(path, weights_only=True)\n"


def findings(result):
    return [(os.path.basename(f["filename"]), f["location"]["row"], f["code"]) for f in json.loads(result.out)]


# ---------------------------------------------------------------- deep and huge files
@pytest.mark.parametrize("name, expression", [
    ("flat500.py", " + ".join(["1"] * 500)),
    ("calls150.py", "f(" * 150 + "1" + ")" * 150),
    ("brackets190.py", "[" * 190 + "]" * 190),
    ("methods400.py", "x" + ".m()" * 400),
])
def test_deep_code_cpython_accepts_is_linted_and_fixed(cli, write, name, expression):
    path = write(name, LOAD + f"value = {expression}\n")
    result = cli("check", "--no-cache", "--jobs", "1", "--output-format", "json", path)
    assert result.code == 1, result.err
    assert findings(result) == [(name, 2, "TL502")]
    fixed = cli("check", "--no-cache", "--jobs", "1", "--fix", path)
    assert fixed.code == 0, fixed.out + fixed.err
    assert path.read_text() == FIXED_LOAD + f"value = {expression}\n"


def test_code_cpython_rejects_is_tl001_at_its_line(cli, write):
    path = write("brackets500.py", LOAD + "value = " + "[" * 500 + "]" * 500 + "\n")
    result = cli("check", "--no-cache", "--jobs", "1", "--output-format", "json", path)
    assert findings(result) == [("brackets500.py", 3, "TL001")]
    assert "too many nested parentheses" in json.loads(result.out)[0]["message"]


def test_deeper_than_the_limit_is_one_finding_and_never_kills_the_process(write, tmp_path):
    """10,000 terms: a segmentation fault before (exit 139, no message); now one TL003, in
    a fraction of a second, and the other file is still reported."""
    write("flat.py", LOAD + "value = " + " + ".join(["1"] * 10_000) + "\n")
    write("good.py", LOAD)
    process = subprocess.run([sys.executable, "-m", "torchlint", "check", "--no-cache", "--jobs", "1",
                              "--output-format", "json", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert process.returncode == 1, process.stderr
    found = sorted((os.path.basename(f["filename"]), f["code"]) for f in json.loads(process.stdout))
    assert found == [("flat.py", "TL003"), ("good.py", "TL502")]
    assert MAX_DEPTH < 10_000


def test_huge_file_is_one_finding_in_bounded_time(cli, write):
    path = write("table.py", LOAD + "TABLE = [" + "1, " * (MAX_SOURCE_CHARS // 3) + "]\n")
    result = cli("check", "--no-cache", "--jobs", "1", "--output-format", "json", path)
    (finding,) = json.loads(result.out)
    assert finding["code"] == "TL003" and "MB" in finding["message"]


# ---------------------------------------------------------------- syntax errors everywhere
def test_syntax_error_without_any_trigger_word(cli, write):
    path = write("train.py", "def train(model:\n    ...\n")
    result = cli("check", "--no-cache", "--output-format", "json", path)
    assert result.code == 1 and findings(result) == [("train.py", 1, "TL001")]


def test_tokenizer_error_points_at_its_line(cli, write):
    path = write("nul.py", b"import torch\nx = 1\ny = \x00 2\n")
    result = cli("check", "--no-cache", "--output-format", "json", path)
    assert findings(result) == [("nul.py", 3, "TL001")]


# ---------------------------------------------------------------- workers and internal errors
def _dies_on(name):
    real = runner._lint_or_fix

    def lint_or_fix(path, *args):
        if os.path.basename(path) == name:
            os._exit(1)  # as a segmentation fault or the OOM killer would
        return real(path, *args)

    return lint_or_fix


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="the patch reaches workers by fork")
def test_a_dying_worker_costs_only_its_file(cli, write, tmp_path, monkeypatch):
    for index in range(5):
        write(f"f{index}.py", LOAD)
    write("f2.py", LOAD)
    monkeypatch.setattr(runner, "_lint_or_fix", _dies_on("f2.py"))
    monkeypatch.setattr(runner, "POOL_MIN_BYTES", 0)  # five small files: workers only when told to
    result = cli("check", "--no-cache", "--jobs", "2", "--output-format", "json", tmp_path)
    assert result.code == 2
    assert sorted(findings(result)) == [("f0.py", 2, "TL502"), ("f1.py", 2, "TL502"), ("f2.py", 1, "TL002"),
                                        ("f3.py", 2, "TL502"), ("f4.py", 2, "TL502")]
    text = cli("check", "--no-cache", "--jobs", "2", tmp_path)
    assert text.code == 2 and "f2.py:1:1: TL002 internal error" in text.out and "f4.py:2" in text.out


def test_internal_error_is_a_finding_never_cached(cli, write, tmp_path, monkeypatch):
    path = write("a.py", LOAD)
    real = runner._lint_or_fix

    def broken(*args):
        raise ValueError("a bug")

    monkeypatch.setattr(runner, "_lint_or_fix", broken)
    result = cli("check", "--jobs", "1", "--cache-dir", tmp_path / "cache", "--output-format", "json", path)
    assert result.code == 2 and findings(result) == [("a.py", 1, "TL002")]
    assert "ValueError: a bug" in json.loads(result.out)[0]["message"]
    monkeypatch.setattr(runner, "_lint_or_fix", real)
    again = cli("check", "--jobs", "1", "--cache-dir", tmp_path / "cache", "--output-format", "json", path)
    assert again.code == 1 and findings(again) == [("a.py", 2, "TL502")]


def test_internal_error_codes_are_listed(cli):
    listed = {r["code"]: r["name"] for r in json.loads(cli("rules", "--output-format", "json").out)}
    assert listed["TL002"] == "internal-error" and listed["TL003"] == "file-too-complex"


# ---------------------------------------------------------------- files on disk
def test_fix_through_a_symlink_fixes_the_target_and_keeps_the_link(cli, write, tmp_path):
    target = write("real/model.py", LOAD)
    link = tmp_path / "link.py"
    os.symlink(target, link)
    cli("check", "--no-cache", "--fix", link)
    assert os.path.islink(link) and os.readlink(link) == str(target)
    assert target.read_text() == FIXED_LOAD


def test_a_file_and_a_link_to_it_are_reported_once(cli, write, tmp_path):
    target = write("model.py", LOAD)
    os.symlink(target, tmp_path / "alias.py")
    result = cli("check", "--no-cache", "--output-format", "json", tmp_path)
    assert findings(result) == [("alias.py", 2, "TL502")] or findings(result) == [("model.py", 2, "TL502")]
    named_twice = cli("check", "--no-cache", "--output-format", "json", target, tmp_path / "alias.py")
    assert len(json.loads(named_twice.out)) == 1


def test_cr_only_line_endings_keep_the_final_cr(cli, write):
    path = write("mac.py", LOAD.replace("\n", "\r").encode())
    cli("check", "--no-cache", "--fix", path)
    assert path.read_bytes() == FIXED_LOAD.replace("\n", "\r").encode()


def test_named_paths_that_are_not_files_get_a_warning(cli, write, tmp_path):
    os.symlink(tmp_path / "missing.py", tmp_path / "dangling.py")
    result = cli("check", "--no-cache", "--output-format", "json", "/dev/null", tmp_path / "dangling.py")
    assert result.code == 0 and json.loads(result.out) == []
    warnings = result.err.strip().splitlines()
    assert len(warnings) == 2 and all(line.startswith("torchlint: warning: ") for line in warnings)
    assert "/dev/null: skipped: not a regular file" in warnings[0]
    assert "dangling.py: skipped: a symbolic link to a missing file" in warnings[1]


def test_folder_without_python_files_says_so(cli, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("x")
    result = cli("check", tmp_path / "docs")
    assert result.code == 0
    assert f"no Python files found under {tmp_path / 'docs'}" in result.err


# ---------------------------------------------------------------- configuration
def test_configuration_nearest_to_each_file_wherever_the_run_starts(cli, write, tmp_path):
    write("pyproject.toml", "[tool.torchlint]\n")
    write("top.py", LOAD)
    write("sub/pyproject.toml", '[tool.torchlint]\nignore = ["TL502"]\n')
    write("sub/inner.py", LOAD)
    expected = [("top.py", 2, "TL502")]
    assert findings(cli("check", "--no-cache", "--output-format", "json", ".", cwd=tmp_path)) == expected
    from_sub = cli("check", "--no-cache", "--output-format", "json", "..", cwd=tmp_path / "sub")
    assert findings(from_sub) == expected
    outside = cli("check", "--no-cache", "--output-format", "json", "sub", cwd=tmp_path)
    assert findings(outside) == []


def test_config_without_the_table_is_an_error(cli, write, tmp_path):
    write("x.toml", "[tool.black]\nline-length = 100\n")
    write("a.py", LOAD)
    result = cli("check", "--config", "x.toml", "a.py", cwd=tmp_path)
    assert result.code == 2 and "has no [tool.torchlint] table" in result.err
    assert len(result.err.strip().splitlines()) == 1


# ---------------------------------------------------------------- baselines and reports
def test_baseline_written_in_one_folder_gates_from_another(cli, write, tmp_path):
    write("pyproject.toml", "[project]\nname = 'p'\n")
    write("pkg/a.py", LOAD)
    assert cli("check", "--write-baseline", "baseline.json", ".", cwd=tmp_path).code == 0
    stored = json.loads((tmp_path / "baseline.json").read_text())
    assert list(stored["files"]) == ["pkg/a.py"]
    assert cli("check", "--baseline", "../baseline.json", ".", cwd=tmp_path / "pkg").code == 0
    assert cli("check", "--baseline", str(tmp_path / "baseline.json"), "a.py", cwd=tmp_path / "pkg").code == 0


def test_one_stale_baseline_entry_matches_grammar(cli, write, tmp_path):
    path = write("a.py", LOAD)
    cli("check", "--write-baseline", "baseline.json", ".", cwd=tmp_path)
    path.write_text(FIXED_LOAD)
    result = cli("check", "--baseline", "baseline.json", ".", cwd=tmp_path)
    assert "1 baseline entry no longer matches" in result.out


def test_write_baseline_to_a_missing_folder(cli, write, tmp_path):
    write("a.py", LOAD)
    result = cli("check", "--write-baseline", tmp_path / "nonexistent" / "dir" / "b.json", tmp_path)
    assert result.code == 2 and result.err.startswith("torchlint: error: --write-baseline: no such folder")
    assert len(result.err.strip().splitlines()) == 1


WHOLE_MODEL = "import torch\nfrom torch import nn\n\nmodel = nn.Linear(2, 2)\ntorch.save(model, 'm.pt')\n"


def test_statistics_mark_only_what_fix_would_fix_and_speak_json(cli, write, tmp_path):
    write("a.py", LOAD)
    write("b.py", WHOLE_MODEL)  # TL501: an unsafe fix only
    lines = cli("check", "--no-cache", "--statistics", tmp_path).out.splitlines()
    marks = {line.split()[1]: "[*]" in line for line in lines}
    assert marks == {"TL502": True, "TL501": False}
    unsafe = cli("check", "--no-cache", "--statistics", "--unsafe-fixes", tmp_path).out
    assert all("[*]" in line for line in unsafe.splitlines())
    rows = json.loads(cli("check", "--no-cache", "--statistics", "--output-format", "json", tmp_path).out)
    assert {row["code"]: (row["count"], row["fixable"]) for row in rows} == {"TL502": (1, True), "TL501": (1, False)}
    assert rows[0]["name"]


def test_sarif_uris_are_percent_encoded(cli, write, tmp_path):
    write("sp ace%.py", LOAD)
    document = json.loads(cli("check", "--no-cache", "--output-format", "sarif", ".", cwd=tmp_path).out)
    (result,) = document["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "sp%20ace%25.py"


# ---------------------------------------------------------------- noqa prefixes, as flake8
def test_noqa_prefix_silences_the_codes_it_prefixes(cli, write):
    path = write("n.py", "import torch\na = torch.load(p)  # noqa:TL5\nb = torch.load(p)  # noqa: TL1\n")
    assert [row for _, row, _ in findings(cli("check", "--no-cache", "--output-format", "json", path))] == [3]


def test_deep_stack_runs_work_and_hands_back_its_exception(monkeypatch):
    from torchlint import guard

    assert guard.with_deep_stack(lambda: sum(range(10))) == 45
    with pytest.raises(KeyError):
        guard.with_deep_stack(lambda: {}["missing"])

    def deep(n):
        return 0 if n == 0 else 1 + deep(n - 1)

    assert guard.with_deep_stack(lambda: deep(20_000)) == 20_000
    limit = __import__("sys").getrecursionlimit()
    assert limit < guard.RECURSION_LIMIT  # restored after the call

    def refuse(size=0):
        raise ValueError("size not valid")

    first = guard._deep_worker()
    assert guard.with_deep_stack(lambda: guard._deep_worker()) is first  # one thread, kept
    monkeypatch.setattr(guard, "_worker", None)
    monkeypatch.setattr(guard.threading, "stack_size", refuse)
    assert guard.with_deep_stack(lambda: "inline") == "inline"  # no big thread: run here


def test_internal_errors_are_not_written_to_a_baseline(cli, write, tmp_path, monkeypatch):
    write("a.py", LOAD)

    def broken(*args):
        raise ValueError("a bug")

    monkeypatch.setattr(runner, "_lint_or_fix", broken)
    result = cli("check", "--no-cache", "--jobs", "1", "--write-baseline", "b.json", ".", cwd=tmp_path)
    assert result.code == 2
    assert json.loads((tmp_path / "b.json").read_text())["files"] == {}


def test_version_1_baselines_are_still_read_relative_to_the_current_folder(cli, write, tmp_path):
    write("pkg/a.py", LOAD)
    cli("check", "--write-baseline", "b.json", ".", cwd=tmp_path)
    document = json.loads((tmp_path / "b.json").read_text())
    document["torchlint_baseline"] = 1
    document["files"] = {"a.py": document["files"]["pkg/a.py"]}  # v1: relative to where it ran
    (tmp_path / "old.json").write_text(json.dumps(document))
    assert cli("check", "--baseline", "../old.json", ".", cwd=tmp_path / "pkg").code == 0


def test_a_nul_byte_anywhere_is_a_syntax_error_and_the_file_is_not_fixed():
    """Found by the fuzz test: LibCST parses a NUL in a comment, CPython refuses the whole file."""
    from torchlint.engine import fix_text, lint_text
    from torchlint.rule import all_rules

    text = "#\x00 -*- coding: latin-1 -*-\nimport torch\nstate = torch.load(path)\n"
    assert [(f.code, f.line) for f in lint_text(text, all_rules()).findings] == [("TL001", 1)]
    assert fix_text(text, all_rules(), unsafe=True).text == text


def test_the_code_version_follows_every_source_and_table(tmp_path, monkeypatch):
    """An edited rule or data table names another code version, so results cached by the old code
    are not reused; a copy of the same code (a reinstall: new modification times) keeps it."""
    import os
    import shutil

    from torchlint import cache

    package = os.path.dirname(cache.__file__)
    copy = tmp_path / "torchlint"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "__file__", str(copy / "cache.py"))
    try:
        cache.code_version.cache_clear()
        installed = cache.code_version()
        cache.code_version.cache_clear()
        monkeypatch.setattr(cache, "__file__", os.path.join(package, "cache.py"))
        assert cache.code_version() == installed  # the same code, other times
        os.utime(copy / "data" / "libraries.toml", ns=(1, 1))
        monkeypatch.setattr(cache, "__file__", str(copy / "cache.py"))
        cache.code_version.cache_clear()
        assert cache.code_version() == installed
        (copy / "data" / "libraries.toml").write_text((copy / "data" / "libraries.toml").read_text() + "\n# edited\n")
        cache.code_version.cache_clear()
        assert cache.code_version() != installed
    finally:
        cache.code_version.cache_clear()
