"""Engine properties: one parse per file, no parse without trigger words, fixes that re-parse."""

import libcst as cst
import pytest

from torchlint import engine
from torchlint.engine import fix_text, lint_text
from torchlint.rule import SAFE, Edit, Fix, Rule, all_rules


@pytest.fixture
def parse_counter(monkeypatch):
    calls = []
    real = cst.parse_module

    def counting(source, *args, **kwargs):
        calls.append(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(engine.cst, "parse_module", counting)
    return calls


def test_one_parse_per_checked_file(parse_counter):
    lint_text("import torch\nm = torch.load(p)\nn = torch.load(q)\n", all_rules())
    assert len(parse_counter) == 1


def test_file_without_trigger_words_is_not_parsed(parse_counter):
    result = lint_text("import os\nprint(os.sep)\n", all_rules())
    assert parse_counter == [] and result.findings == [] and result.module is None


def test_syntax_error_is_reported_without_trigger_words():
    """Python's own parser checks every file; `def train(model:` is TL001's own example."""
    (finding,) = lint_text("def train(model:\n    ...\n", all_rules()).findings
    assert (finding.code, finding.line, finding.column) == ("TL001", 1, 10)
    (finding,) = lint_text("import torch\nx = torch.ones(3)\n(((\n", all_rules()).findings
    assert (finding.code, finding.line) == ("TL001", 3)


def test_rules_without_their_triggers_do_not_run():
    rules = {r.code: r for r in all_rules()}
    assert engine.triggered_rules("torch.save(m, p)", list(rules.values())) == [rules["TL501"]]


def test_fix_round_parses_once(parse_counter):
    fix_text("import torch\nm = torch.load(p)\n", all_rules())
    # lint (1) + the check of the fixed text, reused by the next lint (1)
    assert len(parse_counter) == 2


def test_positions_are_one_based_columns_and_span_the_node():
    (finding,) = lint_text("import torch\nx = (\n    torch.load(p)\n)\n", all_rules()).findings
    assert (finding.line, finding.column, finding.end_line, finding.end_column) == (3, 5, 3, 18)


class _BreaksCode(Rule):
    """A rule whose fix produces code that does not parse (to test the guard)."""

    code = "TL999"
    name = "breaks-code"
    fix_safety = SAFE
    triggers = ("x",)

    def visit_Name(self, node):
        if node.value == "x":
            # A name containing a space generates `x y = 1`, which is not Python. LibCST would
            # refuse to build such a node, so bypass its validation as a buggy rule might.
            broken = node.deep_clone()
            object.__setattr__(broken, "value", "x y")
            self.report(node, "bad", Fix(SAFE, "break it", (Edit(node, broken),)))


def test_fix_whose_result_does_not_parse_is_dropped():
    result = fix_text("x = 1\n", [_BreaksCode])
    assert result.text == "x = 1\n"
    assert result.fixed == 0
    assert result.failed and "does not parse" in result.failed[0]
