"""What a file names, from CPython's tree (torchlint/references.py), and the rules it lets skip LibCST."""

from __future__ import annotations

import ast
import glob
import os
import textwrap

import pytest

from torchlint import engine
from torchlint.references import references
from torchlint.rule import all_rules

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def refs(code: str, relative=None):
    return references(ast.parse(textwrap.dedent(code))).resolve_relative(relative)


def codes_run(code: str):
    return {rule.code for rule in engine.rules_to_run(textwrap.dedent(code), all_rules())}


def test_attribute_chains_qualify_through_every_import_form():
    found = refs("""
        import torch.nn.functional as F
        from torch import nn
        import torch
        F.softmax(x)
        nn.modules.conv.Conv2d(1, 2, 3)
        torch.cuda.is_avaliable()
    """)
    assert {"torch.nn.functional.softmax", "torch.nn.Conv2d", "torch.cuda.is_avaliable"} <= found.names
    assert "torch.nn.modules.conv.Conv2d" not in found.names  # canonical names, as the analysis gives


def test_a_name_counts_with_every_import_that_binds_it_anywhere():
    found = refs("""
        def f():
            from torch import load as read
            return read(p)
        def g():
            from numpy import load as read
            return read(p)
    """)
    assert {"torch.load", "numpy.load"} <= found.names


def test_relative_imports_resolve_through_the_resolver():
    found = refs("from .module import Module\nModule.zero_grad\n", lambda level, module: f"torch.nn.modules.{module}")
    assert "torch.nn.modules.module.Module.zero_grad" in found.names
    unresolved = refs("from .module import Module\nModule.zero_grad\n")
    assert not any("Module" in name for name in unresolved.names)


def test_free_names_count_under_each_starred_module():
    found = refs("from torch.nn import *\nlayer = Relu()\n")
    assert "torch.nn.Relu" in found.names


def test_calls_keep_their_keywords_and_attributes_their_names():
    found = refs("""
        import torch
        torch.flip(x, dim=0)
        torch.zeros(3, **options)
        mask.byte()
    """)
    assert ("torch.flip", frozenset({"dim"})) in found.calls
    assert not any(callee == "torch.zeros" for callee, _ in found.calls)  # `**options` names no keyword
    assert "byte" in found.attributes


def test_strings_in_lists_and_none_keys_do_not_stop_the_walk():
    found = refs("""
        import torch
        def f():
            global state
            return {**a, "k": torch.tensor(1)}
    """)
    assert "torch.tensor" in found.names


@pytest.mark.parametrize("code, expected", [
    ("import torch\ntorch.cuda.is_avaliable()\n", {"TL601"}),
    ("import torch\ntorch.cuda.is_available()\n", set()),
    ("import torch\ntorch._C._private_thing()\n", set()),  # private names: TL601 stays silent there
    ("import torch\ntorch.flip(x, dim=0)\n", {"TL602"}),
    ("import torch\ntorch.flip(x, dims=0)\n", set()),
    ("import torch\nx.require_grad = False\n", {"TL602"}),
    ("import torch\nv = torch.autograd.Variable(x)\n", {"TL603", "TL604"}),
    ("from torch.autograd import Variable as V\nv = V(x)\n", {"TL603", "TL604"}),
    ("import torch\nx.masked_fill(m.byte(), 0)\n", {"TL603", "TL604"}),
])
def test_api_table_rules_run_only_where_the_file_names_what_they_report(code, expected):
    api_rules = {"TL601", "TL602", "TL603", "TL604"}
    assert codes_run(code) & api_rules == expected


@pytest.mark.parametrize("code, expected", [
    ("import torch\ntorch.save(m, p)\n", {"TL501"}),
    ("from torch import save as keep\nkeep(m, p)\n", {"TL501"}),
    ("import numpy as np\nnp.save(p, x)\nself.save(m)\n", set()),  # `save`, never torch's
    ("import torch\nstate = torch.load(p)\n", {"TL502", "TL503"}),
    ("import json\nconfig = json.load(f)\nmodel.load(p)\n", set()),
    ("from torch.utils.checkpoint import checkpoint\ny = checkpoint(f, x)\n", {"TL607"}),
    ("def checkpoint(step):\n    pass\ncheckpoint(3)\n", set()),
    ("import time\nstart = time.time()\n", {"TL401"}),
    ("from timeit import default_timer as timer\nstart = timer()\n", {"TL401"}),
    ("import timeit\ntimeit.Timer(lambda: f()).timeit(3)\n", {"TL401"}),
    ("from time import sleep\nsleep(1)\nelapsed = end - start\n", set()),  # no clock is read
])
def test_named_api_rules_run_only_where_the_file_may_name_what_they_fire_on(code, expected):
    named = {"TL401", "TL501", "TL502", "TL503", "TL607"}
    assert codes_run(code) & named == expected


def test_loops_give_the_attributes_used_in_them():
    found = refs("""
        for x in data:
            loss.backward()
            while True:
                opt.step()
        def f():
            for y in data:
                opt.zero_grad()
    """)
    assert [sorted(used) for used in found.loop_attributes()] in (
        [["backward", "step"], ["step"], ["zero_grad"]], [["zero_grad"], ["backward", "step"], ["step"]])


@pytest.mark.parametrize("code, expected", [
    ("import torch\nopt = torch.optim.SGD(p)\nfor x in d:\n    l.backward()\n    opt.step()\n", True),
    ("import torch\nopt = torch.optim.SGD(p)\nfor x in d:\n    l.backward()\n    opt.step()\n    opt.zero_grad()\n", False),
    ("import torch\nfor x in d:\n    l.backward()\n    opt.step()\n", False),  # no torch.optim class named
    ("import torch\nopt = torch.optim.SGD(p)\nfor x in d:\n    l.backward()\nopt.step()\n", False),
])
def test_tl302_runs_only_where_a_loop_could_leave_gradients_uncleared(code, expected):
    assert ("TL302" in codes_run(code)) is expected


def test_a_timing_magic_runs_tl401_without_a_clock_import():
    options = engine.LintOptions(magic_timed=((1, 1),))
    run = {rule.code for rule in engine.rules_to_run("y = model(x)\n", all_rules(), options)}
    assert "TL401" in run


def test_a_file_no_rule_can_fire_in_is_never_parsed_by_libcst(monkeypatch):
    parsed = []
    monkeypatch.setattr(engine, "parse_source", lambda text, checked=False: parsed.append(text) or pytest.fail("parsed"))
    assert engine.lint_text("import torch\ny = torch.relu(torch.ones(3))\n", all_rules()).findings == []
    assert parsed == []


FIXTURES = sorted(glob.glob(os.path.join(ROOT, "fixtures", "TL*", "*.py")) +
                  glob.glob(os.path.join(ROOT, "tests", "projects", "**", "*.py"), recursive=True))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: os.path.relpath(p, ROOT))
def test_every_rule_that_finds_something_in_a_fixture_is_among_those_run(path, monkeypatch):
    """The references over-approximate: a rule they skip would have found nothing (linted here
    with every text-triggered rule, the references not asked)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    rules = all_rules()
    run = {rule.code for rule in engine.rules_to_run(text, rules)}
    monkeypatch.setattr(engine, "select_rules", lambda rules, found, options=None, context=None:
                        engine.triggered_rules(text, rules, options))  # the text's triggers, no references
    found = {f.code for f in engine.lint_text(text, rules).findings} - {"TL001", "TL002", "TL003"}
    assert found <= run


def test_the_tree_gives_the_triggers_evidence_exactly():
    found = refs('''
        import torch.nn as nn
        from torch.utils import checkpoint as ckpt
        # torch.save(model, path) in a comment
        """torch.save in a docstring"""
        def train(model, *, no_grad=False):
            print(f"{model.numpy}")
            return nn.Linear(2, 2).view
    ''')
    names, attributes, imports = found.evidence.names, found.evidence.attributes, found.evidence.imports
    assert {"train", "model", "no_grad", "print", "nn", "Linear", "ckpt"} <= names
    assert {"numpy", "view", "Linear"} <= attributes  # an f-string's fields are code
    assert {"torch", "nn", "utils", "checkpoint", "ckpt"} <= imports
    assert "save" not in names  # comments and strings are not in the tree
    assert codes_run("x = 'torch.save(m, p)'  # torch.save(m, p)\n") == set()
