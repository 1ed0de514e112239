"""The gradient facts (analysis/gradients.py) asked directly: which calls step an optimizer,
backpropagate, or may clear gradients, on evidence of what the values are."""

import textwrap
from typing import List, Tuple

import libcst as cst
import pytest

from torchlint.analysis import ModuleAnalysis, Where

HEADER = "import torch\nfrom torch import nn\nmodel = nn.Linear(2, 2)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"


def calls(source: str) -> Tuple[ModuleAnalysis, List[Tuple[cst.Call, Where]]]:
    """The analysis of `source` and the outermost call of each of its statements, with its place."""
    module = cst.parse_module(HEADER + textwrap.dedent(source))
    analysis = ModuleAnalysis(module)
    found = []
    start = len(cst.parse_module(HEADER).body)  # the header's statements come first in the order
    for info in sorted(analysis.index.statements.values(), key=lambda i: i.seq):
        node = info.node
        if isinstance(node, cst.SimpleStatementLine) and isinstance(node.body[0], cst.Expr):
            value = node.body[0].value
            if isinstance(value, cst.Call) and info.seq > start:
                found.append((value, (info.scope, info)))
    return analysis, found


def last(source: str):
    analysis, found = calls(source)
    return analysis.gradients, found[-1]


@pytest.mark.parametrize("source, stepped", [
    ("opt.step()", "opt"),
    ("scaler = torch.amp.GradScaler()\nscaler.step(opt)", "opt"),
    ("opt.step(lambda: 0.0)", None),  # a closure: not the optimizer
    ("sched = torch.optim.lr_scheduler.StepLR(opt, 1)\nsched.step()", None),
    ("def f(optimizer):\n    optimizer.step()", None),  # nothing shows what it is
])
def test_the_optimizer_a_call_steps(source, stepped):
    gradients, (call, where) = last(source)
    found = gradients.stepped(call, where)
    assert (cst.Module([]).code_for_node(found) if found is not None else None) == stepped


@pytest.mark.parametrize("source, expected", [
    ("loss = model(torch.ones(2)).sum()\nloss.backward()", True),
    ("scaler = torch.amp.GradScaler()\nscaler.scale(model(torch.ones(2)).sum()).backward()", True),
    ("model.backward()", False),  # a module's own method
])
def test_backward_passes(source, expected):
    gradients, (call, where) = last(source)
    assert gradients.backpropagates(call, where) is expected


@pytest.mark.parametrize("source, expected", [
    ("opt.zero_grad()", True),
    ("model.zero_grad(set_to_none=True)", True),
    ("p = next(model.parameters())\np.grad.zero_()", True),
    ("def reset():\n    for p in model.parameters():\n        p.grad = None\nreset()", True),
    ("def outer():\n    inner()\ndef inner():\n    opt.zero_grad()\nouter()", True),  # followed
    ("import helpers\nhelpers.clear(model)", True),  # handed the model: it may clear it
    ("def f(hooks):\n    hooks.after_step(opt)", True),
    ("class T:\n    def run(self):\n        self.reset()", True),  # a method the file does not show
    # known not to clear
    ("model(torch.ones(2))", False),
    ("torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)", False),
    ("print(len([1]))", False),
    ("opt.step()", False),
    ("import logging\nlogging.info('step')", False),
    ("def log(x):\n    print(x)\nlog(1)", False),
    ("class T:\n    def __init__(self, net):\n        self.net = net\n    def run(self, x):\n        self.net(x)", False),
    ("class Net(nn.Module):\n    def reset(self):\n        pass\nnet = Net()\nnet.reset()", False),  # its method, seen
    ("class Net(nn.Module):\n    def reset(self):\n        self.zero_grad()\nnet = Net()\nnet.reset()", True),
])
def test_calls_that_may_clear_gradients(source, expected):
    gradients, (call, where) = last(source)
    assert gradients.may_clear(call, where) is expected
