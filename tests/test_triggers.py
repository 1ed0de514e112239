"""Triggers are evidence a rule needs (names and attributes in code), and they keep every finding:
a file where a rule fires is one its triggers admit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Tuple

import pytest

from torchlint import engine
from torchlint.engine import lint_text, triggered_rules
from torchlint.rule import LintOptions, all_rules
from torchlint.triggers import code_only, evidence

ROOT = Path(__file__).resolve().parent.parent
_EXPECT = re.compile(r"#\s*expect:\s*([A-Z]+\d+(?:\s*,\s*[A-Z]+\d+)*)")


def _files() -> List[Path]:
    found = sorted((ROOT / "fixtures").rglob("*.py")) + sorted((ROOT / "tests" / "projects").rglob("*.py"))
    return found + sorted((ROOT / "examples").rglob("*.py"))


def _codes(text: str, **options) -> List[str]:
    return [r.code for r in triggered_rules(text, all_rules(), LintOptions(**options) if options else None)]


def test_comments_and_plain_strings_are_not_code():
    text = 'x = "torch.save(m)"  # torch.load(p)\ny = \'\'\'a.numpy()\n# "\'\'\'\nz = b"x.view(1)" + r"\\"" + w\n'
    code = code_only(text)
    assert "save" not in code and "load" not in code and "numpy" not in code and "view" not in code
    assert "w" in evidence(text).names and "z" in evidence(text).names


def test_a_hash_in_a_string_starts_no_comment_and_a_quote_in_a_comment_no_string():
    text = 'x = "#" + t.numpy()\n# it\'s\nm.view(2)\n'
    assert {"numpy", "view"} <= evidence(text).attributes


def test_f_strings_and_t_strings_keep_their_code():
    for prefix in ("f", "F", "rf", "fr", "Rb", "t"):
        text = f'print({prefix}"{{x.numpy()}}")\n'
        admitted = "numpy" in evidence(text).attributes
        assert admitted == (prefix.lower() not in ("rb",)), prefix


def test_attribute_triggers_follow_a_dot_across_spaces_and_continuations():
    assert "numpy" in evidence("y = x . numpy()\n").attributes
    assert "numpy" in evidence("y = x.\\\n    numpy()\n").attributes
    assert "numpy" not in evidence("import numpy\n").attributes
    assert "numpy" in evidence("import numpy\n").names


def test_words_in_docs_and_comments_admit_nothing():
    text = '"""Call torch.save(model) and torch.load(p); x.numpy(), x.view(1), time.time()."""\n# no_grad\n'
    assert _codes(text) == []


def test_substrings_of_other_names_admit_nothing():
    text = "saved = loader(datetime.runtime, timestamp, evaluate, viewer)\nx.numpyish()\n"
    assert _codes(text) == []


def test_evidence_of_each_rule():
    cases: List[Tuple[str, str]] = [
        ("torch.save(m, p)\n", "TL501"), ("from torch import load\nload(p)\n", "TL502"),
        ("y = x.numpy()\n", "TL201"), ("y = x.view(1)\n", "TL202"), ("with torch.no_grad(): pass\n", "TL301"),
        ("from time import perf_counter\n", "TL401"), ("import timeit\n", "TL401"),
        ("F.interpolate(x, None, 2, 'nearest', True)\n", "TL606"), ("p.require_grad = False\n", "TL602"),
        ("import torch\n", "TL601"), ("import numpy as np\n", "TL603"), ("torch.log(1 + x)\n", "TL608"),
        ("F.binary_cross_entropy(p, y)\n", "TL104"), ("optimizer.step()\n", "TL302"), ("nn.BCEWithLogitsLoss()(p, y)\n", "TL103"),
    ]
    for text, code in cases:
        assert code in _codes(text), (text, code)


def test_a_timing_magic_is_evidence_for_tl401():
    assert "TL401" not in _codes("y = model(x)\n")
    assert "TL401" in _codes("y = model(x)\n", magic_timed=((1, 1),))


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_marked_finding_is_in_a_file_its_rule_admits(path: Path):
    if path.name == "fixed.py":  # the marks of bad.py, whose findings the fix removed
        return
    text = path.read_text(encoding="utf-8")
    admitted = set(_codes(text))
    for match in _EXPECT.finditer(text):
        for code in match.group(1).split(","):
            code = code.strip()
            if code not in ("TL001", "TL002", "TL003"):
                assert code in admitted, code


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_triggers_change_no_finding(path: Path, monkeypatch):
    """The same findings with every rule run on every file: the triggers only skip work."""
    text = path.read_text(encoding="utf-8")
    rules = all_rules()
    expected = [(f.code, f.line, f.column, f.message) for f in lint_text(text, rules).findings]
    monkeypatch.setattr(engine, "triggered", lambda rules, text, extra=(): [r for r in rules if r.visits])
    everything = [(f.code, f.line, f.column, f.message) for f in lint_text(text, rules).findings]
    assert expected == everything


def test_import_triggers_need_an_import_statement():
    assert "TL601" not in _codes("torch.cuda.is_avaliable()\n")
    assert "TL601" not in _codes('"""import torch"""\ntorch.cuda.is_avaliable()\n')
    for text in ("import torch\n", "import os, torch.nn as nn\n", "from torch import (\n    nn,\n)\n",
                 "try: import torch\nexcept ImportError: pass\n", "x = 1; from torch.nn import functional as F\n",
                 "import os, \\\n    torch\n"):
        assert "TL601" in _codes(text), text
