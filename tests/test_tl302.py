"""TL302 on the shapes real training loops take: what it reports, what it leaves alone, and
that its fix clears once per step wherever the backward passes happen."""

import textwrap

import pytest

from torchlint.engine import fix_text, lint_text
from torchlint.rule import all_rules

HEADER = """\
import torch
from torch import nn
model = nn.Linear(2, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
"""


def tl302(body):
    findings = lint_text(HEADER + textwrap.dedent(body), all_rules()).findings
    return [f for f in findings if f.code == "TL302"]


@pytest.mark.parametrize("body", [
    "for x in data:\n    model(x).sum().backward()\n    opt.step()\n",
    "while True:\n    model(x).sum().backward()\n    opt.step()\n    if done():\n        break\n",
    "for x in data:\n    try:\n        model(x).sum().backward()\n    except RuntimeError:\n        continue\n    opt.step()\n",
    "scaler = torch.amp.GradScaler()\nfor x in data:\n    scaler.scale(model(x).sum()).backward()\n"
    "    scaler.step(opt)\n    scaler.update()\n",
    "def helper(x):\n    return model(x).sum()\nfor x in data:\n    helper(x).backward()\n    opt.step()\n    print(x)\n",
])
def test_loops_that_never_clear_are_reported(body):
    assert len(tl302(body)) == 1


@pytest.mark.parametrize("body", [
    # one iteration: a smoke test
    "for x in data:\n    model(x).sum().backward()\n    opt.step()\n    break\n",
    "def once(data):\n    for x in data:\n        model(x).sum().backward()\n        opt.step()\n        return x\n",
    # zero_grad in a lambda, a bound method kept in a name, a method of a helper of this file
    "for x in data:\n    model(x).sum().backward()\n    opt.step()\n    list(map(lambda o: o.zero_grad(), [opt]))\n",
    "clear = opt.zero_grad\nfor x in data:\n    model(x).sum().backward()\n    opt.step()\n    clear()\n",
    "class Helper:\n    def __init__(self, o):\n        self.o = o\n    def reset(self):\n        self.o.zero_grad()\n"
    "h = Helper(opt)\nfor x in data:\n    model(x).sum().backward()\n    opt.step()\n    h.reset()\n",
    # a clear four calls deep: followed, or assumed when deeper than the analysis goes
    "def f1():\n    f2()\ndef f2():\n    f3()\ndef f3():\n    f4()\ndef f4():\n    opt.zero_grad()\n"
    "for x in data:\n    model(x).sum().backward()\n    opt.step()\n    f1()\n",
    # the step only in the loop's `else:` (once), or a hook that clears after each step
    "for x in data:\n    model(x).sum().backward()\nelse:\n    opt.step()\n",
    "opt.register_step_post_hook(lambda *args: opt.zero_grad())\nfor x in data:\n    model(x).sum().backward()\n"
    "    opt.step()\n",
    # a scheduler is no optimizer
    "swa = torch.optim.swa_utils.SWALR(opt, swa_lr=0.05)\nfor epoch in range(3):\n    opt.zero_grad()\n"
    "    model(x).sum().backward()\n    opt.step()\n    swa.step()\n",
])
def test_loops_that_clear_or_run_once_are_silent(body):
    assert tl302(body) == []


def test_the_fix_clears_after_the_step_so_skipped_steps_still_accumulate():
    body = ("for i, x in enumerate(data):\n    (model(x).sum() / 4).backward()\n    if (i + 1) % 4 != 0:\n"
            "        continue\n    opt.step()\n")
    fixed = fix_text(HEADER + body, all_rules()).text
    assert fixed.endswith("        continue\n    opt.step()\n    opt.zero_grad()\n")
    assert tl302(fixed[len(HEADER):]) == []


def test_no_fix_when_the_loop_steps_two_optimizers():
    body = ("d_opt = torch.optim.SGD(model.parameters(), lr=0.1)\nfor x in data:\n"
            "    model(x).sum().backward()\n    d_opt.step()\n    model(x).mean().backward()\n    opt.step()\n")
    found = tl302(body)
    assert len(found) == 2 and all(f.fix is None for f in found)
