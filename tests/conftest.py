import os
import pytest

from torchlint.cli import main

class CliResult:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `torchlint ARGS` in-process from a folder; returns exit code, stdout and stderr."""

    def run(*args, cwd=None):
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def write(tmp_path):
    """Write a file under tmp_path (str or bytes) and return its path."""

    def make(name, content):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
        return path

    return make


def pytest_configure(config):
    os.environ.setdefault("PYTHONHASHSEED", "0")


def pytest_collection_modifyitems(config, items):
    """Slow tests (whole torch and stdlib) run in CI (CI is set) or when asked for with -m slow."""
    if os.environ.get("CI") or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: runs in CI; locally use `pytest -m slow` or set CI=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _no_kept_trees():
    """Each test parses what it parses: trees kept from an earlier test (torchlint.parsing keeps
    the last few by text) would answer a parse a test means to make, or count."""
    import sys

    parsing = sys.modules.get("torchlint.parsing")  # (not imported here: some tests check it is not)
    if parsing is not None:
        parsing._recent.clear()
    yield
