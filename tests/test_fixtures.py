"""Every fixture folder: bad.py reports exactly its `# expect:` markers, clean.py reports nothing,
`--fix --unsafe-fixes` turns bad.py into fixed.py byte for byte, and fixing is a fixpoint."""

import re

import pytest

from torchlint.engine import fix_text, lint_text
from torchlint.rule import all_rules

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIXTURES = sorted(p for p in (ROOT / "fixtures").iterdir() if (p / "bad.py").is_file())
EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>TL\d{3}(?:\s*,\s*TL\d{3})*)")


def _read(path):
    return path.read_bytes().decode("utf-8")


def expected_findings(text):
    found = set()
    for number, line in enumerate(text.splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            found |= {(code.strip(), number) for code in match.group("codes").split(",")}
    return found


def reported(text):
    return {(f.code, f.line) for f in lint_text(text, all_rules()).findings}


def test_every_rule_with_a_visitor_has_a_fixture_folder():
    names = {p.name for p in FIXTURES}
    assert {r.code for r in all_rules() if r.visits} <= names


@pytest.mark.parametrize("folder", FIXTURES, ids=lambda p: p.name)
def test_bad_reports_exactly_the_expected_findings(folder):
    text = _read(folder / "bad.py")
    expected = expected_findings(text)
    assert expected, "bad.py must mark its findings with # expect: CODE"
    assert {code for code, _ in expected} >= {folder.name}
    assert reported(text) == expected


@pytest.mark.parametrize("folder", FIXTURES, ids=lambda p: p.name)
def test_clean_reports_nothing(folder):
    assert reported(_read(folder / "clean.py")) == set()


@pytest.mark.parametrize("folder", FIXTURES, ids=lambda p: p.name)
def test_fix_turns_bad_into_fixed(folder):
    result = fix_text(_read(folder / "bad.py"), all_rules(), unsafe=True)
    assert result.text == _read(folder / "fixed.py")
    assert not result.failed


@pytest.mark.parametrize("folder", FIXTURES, ids=lambda p: p.name)
def test_fixed_keeps_only_findings_without_a_fix(folder):
    bad = _read(folder / "bad.py")
    unfixable = {(f.code, f.line) for f in lint_text(bad, all_rules()).findings if f.fix is None}
    assert reported(_read(folder / "fixed.py")) == unfixable


@pytest.mark.parametrize("folder", FIXTURES, ids=lambda p: p.name)
def test_fixing_is_idempotent(folder):
    fixed = _read(folder / "fixed.py")
    again = fix_text(fixed, all_rules(), unsafe=True)
    assert again.text == fixed and again.fixed == 0


@pytest.mark.parametrize("folder", FIXTURES, ids=lambda p: p.name)
def test_safe_fixes_alone_apply_only_safe_ones(folder):
    bad = _read(folder / "bad.py")
    before = lint_text(bad, all_rules()).findings
    result = fix_text(bad, all_rules(), unsafe=False)
    safe = sum(1 for f in before if f.fix is not None and f.fix.applicability == "safe")
    assert result.fixed == safe
    # Compare by source text: fixes that insert statements shift the lines below them.
    after_lines, bad_lines = result.text.splitlines(), bad.splitlines()
    assert sorted((f.code, after_lines[f.line - 1].strip()) for f in result.findings) == sorted(
        (f.code, bad_lines[f.line - 1].strip()) for f in before if f.fix is None or f.fix.applicability != "safe")
