"""The repository's promises: README commands are what CI runs, rule pages are current, and the
torch.nn class list matches the torch that is installed."""

import re

import pytest

from torchlint.docs import expected_pages
from torchlint.rule import all_rules

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    head = (ROOT / "README.md").read_text().split("---")[0]
    return re.findall(r"`([^`]+)`", head)


def test_ci_runs_the_readme_setup_and_test_commands():
    setup, tests, main_job = _readme_commands()[:3]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert setup in ci and tests in ci
    assert setup.startswith("python3 -m venv .venv") and "[test]" in setup
    assert "torchlint check examples/" in main_job


@pytest.mark.parametrize("name", sorted(expected_pages()))
def test_rule_page_is_current(name):
    path = ROOT / "rules" / name
    assert path.exists(), f"rules/{name} is missing: run python -m torchlint.docs"
    assert path.read_text(encoding="utf-8") == expected_pages()[name], "stale: run python -m torchlint.docs"


def test_no_stray_rule_pages():
    assert {p.name for p in (ROOT / "rules").glob("*.md")} == set(expected_pages())


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_rule_metadata_and_documentation(rule):
    assert re.fullmatch(r"TL\d{3}", rule.code)
    assert re.fullmatch(r"[a-z]+(-[a-z0-9]+)*", rule.name)
    doc = rule.documentation()
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Fix safety"):
        assert section in doc
    if rule.visits:
        assert rule.triggers and "## Source" in doc


def test_torch_nn_module_list_matches_installed_torch():
    torch = pytest.importorskip("torch")
    import inspect

    from torchlint.analysis.torch_api import TORCH_NN_MODULE_CLASSES

    actual = {n for n, v in vars(torch.nn).items() if inspect.isclass(v) and issubclass(v, torch.nn.Module)}
    assert TORCH_NN_MODULE_CLASSES == actual


def _version(text):
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_readme_python_version_is_what_the_package_and_its_test_extra_need():
    """The README's "Python 3.x+" is requires-python's floor, and every requirement of the test
    extra whose installed release is its floor's x.y (pins, `>=1` with 1.0.z installed) admits it:
    pytest-lsp 1.x and torch 2.13 need 3.10, so a claim of 3.9 fails here."""
    import importlib.metadata

    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    claimed = re.search(r"Python (\d+\.\d+)\+", (ROOT / "README.md").read_text().split("---")[0]).group(1)
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == f">={claimed}"
    checked = 0
    for line in project["optional-dependencies"]["test"] + project["optional-dependencies"]["lsp"]:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"python_version": claimed}):
            continue
        floors = [s.version for s in requirement.specifier if s.operator in (">=", "==")]
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if not floors or _version(installed)[:2] != (_version(floors[0]) + (0,))[:2]:
            continue  # a newer release than the floor's x.y is installed: its needs say nothing
        needs = importlib.metadata.metadata(requirement.name).get("Requires-Python") or ""
        assert SpecifierSet(needs).contains(claimed + ".0"), f"{requirement.name} {installed} needs Python {needs}"
        checked += 1
    assert checked >= 2  # torch and pytest-lsp at least


def test_readme_rule_table_is_current():
    """Generated from the rule classes, so it lists every rule as the rule says it."""
    from torchlint.docs import with_readme_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert all(f"| [{rule.code}](rules/{rule.code}.md) |" in readme for rule in all_rules())
    assert readme == with_readme_table(readme), "stale: run python -m torchlint.docs"
