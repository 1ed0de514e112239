"""The pre-commit hooks, run by the real pre-commit against this repository (`try-repo`)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BAD = "import torch\n\n\ndef load(p):\n    return torch.load(p)\n"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory):
    """One hook environment for the module: installing it is the slow part."""
    return tmp_path_factory.mktemp("pre-commit-home")


def run_hook(repo, hook, home, *args):
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, *args],
                          cwd=repo, capture_output=True, text=True, env=env)


def git_repo(path):
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "config", "user.email", "ci@example.com"], check=True)
    subprocess.run(["git", "-C", str(path), "config", "user.name", "ci"], check=True)
    return path


def test_check_hook_fails_fix_hook_fixes_then_check_passes(tmp_path, pre_commit_home):
    repo = git_repo(tmp_path / "project")
    (repo / "bad.py").write_text(BAD)
    (repo / "notes.txt").write_text(BAD)
    (repo / "notes.md").write_text("# Notes\n\n```python\n" + BAD + "```\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)

    failed = run_hook(repo, "torchlint", pre_commit_home, "--all-files")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "bad.py:5:12: TL502" in failed.stdout and "notes.txt" not in failed.stdout
    assert "notes.md:8:12: TL502" in failed.stdout  # types_or: [python, jupyter, markdown]

    fixed = run_hook(repo, "torchlint-fix", pre_commit_home, "--all-files")
    assert fixed.returncode == 1  # pre-commit fails a hook that modified files
    assert "files were modified by this hook" in fixed.stdout
    assert (repo / "bad.py").read_text() == BAD.replace("torch.load(p)", "torch.load(p, weights_only=True)")

    passed = run_hook(repo, "torchlint", pre_commit_home, "--all-files")
    assert passed.returncode == 0, passed.stdout + passed.stderr


def test_no_python_files_is_skipped_not_a_crash(tmp_path, pre_commit_home):
    repo = git_repo(tmp_path / "empty")
    (repo / "notes.txt").write_text("nothing to lint\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    result = run_hook(repo, "torchlint", pre_commit_home, "--all-files")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Skipped" in result.stdout


def test_readme_snippet_pinned_to_a_commit_works(tmp_path, pre_commit_home):
    """The README's snippet, as written, with this checkout standing in for GitHub and the
    placeholder SHA replaced by the checked-out commit (there is no release tag to name)."""
    import re

    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"```yaml\n(# \.pre-commit-config\.yaml\n.*?)```", readme, re.S).group(1)
    rev = re.search(r"rev: ([0-9a-f]{40})\b", snippet)
    assert rev, "the snippet pins rev: to a full commit SHA"
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    config = snippet.replace("https://github.com/torchlint/torchlint", str(ROOT)).replace(rev.group(1), head.stdout.strip())
    repo = git_repo(tmp_path / "project")
    (repo / "bad.py").write_text(BAD)
    (repo / ".pre-commit-config.yaml").write_text(config)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    env = dict(os.environ, PRE_COMMIT_HOME=str(pre_commit_home), PIP_DISABLE_PIP_VERSION_CHECK="1")
    result = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo,
                            capture_output=True, text=True, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "bad.py:5:12: TL502" in result.stdout
