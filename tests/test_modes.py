"""Train/eval mode facts (torchlint/analysis/modes.py), asked of the analysis directly: the mode
of a module at a statement with its evidence, whether a call evaluates, what a parameter receives
at its call sites, and where `.eval()` may be inserted."""

from __future__ import annotations

import textwrap
from typing import Tuple

import libcst as cst
import pytest

from torchlint.analysis import ModuleAnalysis, Where
from torchlint.analysis.modes import Mode

HEADER = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(x)
"""


def _at(source: str, call_code: str) -> Tuple[ModuleAnalysis, cst.Call, Where]:
    """The analysis of `source`, the last call spelled `call_code` and where it runs."""
    module = cst.parse_module(HEADER + textwrap.dedent(source))
    analysis = ModuleAnalysis(module)
    found = None
    for info in analysis.index.statements.values():
        if not isinstance(info.node, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            continue
        for small in info.node.body:
            part = analysis.index.small_statements.get(id(small), info)  # `a; b` on one line
            stack = [small]
            while stack:
                node = stack.pop()
                if isinstance(node, cst.Call) and module.code_for_node(node) == call_code:
                    if found is None or part.seq > found[1][1].seq:
                        found = (node, (part.scope, part))
                stack.extend(node.children)
    assert found is not None, call_code
    return analysis, found[0], found[1]


def mode(source: str, call_code: str = "model(x)") -> Mode:
    analysis, call, where = _at(source, call_code)
    return analysis.modes.mode_at(call.func, where).mode


@pytest.mark.parametrize("source, expected", [
    ("def f(x):\n    model = Net()\n    return model(x)\n", Mode.TRAIN),  # new modules train
    ("def f(x):\n    model = Net()\n    model.eval()\n    return model(x)\n", Mode.EVAL),
    ("def f(x):\n    model = Net().eval()\n    return model(x)\n", Mode.EVAL),
    ("def f(x):\n    model = Net()\n    model.train(False)\n    return model(x)\n", Mode.EVAL),
    ("def f(x, flag):\n    model = Net()\n    model.train(flag)\n    return model(x)\n", Mode.UNKNOWN),
    ("def f(x, c):\n    model = Net()\n    if c:\n        model.eval()\n    return model(x)\n", Mode.UNKNOWN),
    # `.to()` / `.cuda()` return the same module: the mode is kept, both ways
    ("def f(x):\n    model = Net()\n    model.eval()\n    model = model.cuda()\n    return model(x)\n", Mode.EVAL),
    ("def f(x):\n    model = Net()\n    model = model.to('cpu')\n    return model(x)\n", Mode.TRAIN),
    # aliases are the same module
    ("def f(x):\n    model = Net()\n    m = model\n    m.eval()\n    return model(x)\n", Mode.EVAL),
    # `.apply(fn)` runs fn on every submodule
    ("def f(x):\n    model = Net()\n    model.apply(lambda m: m.eval())\n    return model(x)\n", Mode.EVAL),
    ("def f(x):\n    model = Net()\n    model.apply(lambda m: m.eval() if m else None)\n    return model(x)\n",
     Mode.UNKNOWN),
    # helpers: of this file by what they do; of another module: unknown
    ("def prep(m):\n    m.eval()\ndef f(x):\n    model = Net()\n    prep(model)\n    return model(x)\n", Mode.EVAL),
    ("def log(m):\n    print(m)\ndef f(x):\n    model = Net()\n    model.eval()\n    log(model)\n    return model(x)\n",
     Mode.EVAL),
    ("from lib import prep\ndef f(x):\n    model = Net()\n    prep(model)\n    return model(x)\n", Mode.UNKNOWN),
    ("def f(x):\n    model = Net()\n    model.eval()\n    print(model)\n    torch.save(model, 'm.pt')\n"
     "    return model(x)\n", Mode.EVAL),
    # loaded, scripted, exported: unknown
    ("def f(x, p):\n    model = torch.load(p)\n    return model(x)\n", Mode.UNKNOWN),
    ("def f(x):\n    model = torch.jit.script(Net())\n    return model(x)\n", Mode.UNKNOWN),
    # a `.training` test says the mode inside its branch only
    ("def f(x):\n    model = Net()\n    if not model.training:\n        return model(x)\n", Mode.EVAL),
    ("def f(x):\n    model = Net()\n    if model.training is False:\n        return model(x)\n", Mode.EVAL),
    ("def f(x):\n    model = Net()\n    if not model.training:\n        pass\n    return model(x)\n", Mode.TRAIN),
    # loops: `.eval()` once before, `.train()` after the call inside: later iterations train
    ("def f(x):\n    model = Net()\n    model.eval()\n    for _ in range(3):\n        model(x)\n"
     "        model.train()\n", Mode.TRAIN),
    ("def f(x):\n    model = Net()\n    for _ in range(3):\n        model.eval()\n        model(x)\n"
     "        model.train()\n", Mode.EVAL),
    # a parameter: the modes at the call sites of this file
    ("def g(model, x):\n    return model(x)\n", Mode.UNKNOWN),
    ("def g(model, x):\n    return model(x)\ndef h(x):\n    net = Net()\n    net.train()\n    return g(net, x)\n",
     Mode.TRAIN),
    ("def g(model, x):\n    return model(x)\ndef h(x):\n    net = Net()\n    net.eval()\n    return g(x=x, model=net)\n",
     Mode.EVAL),
    ("def g(model, x):\n    return model(x)\ndef h(x):\n    return g(Net().eval(), x)\ndef k(x):\n    return g(Net(), x)\n",
     Mode.UNKNOWN),
    # a global: unknown inside a function
    ("model = Net()\ndef g(x):\n    return model(x)\n", Mode.UNKNOWN),
])
def test_mode_at(source, expected):
    assert mode(source) is expected


def test_self_inside_a_class_that_may_be_a_module_is_unknown():
    source = ("from .base import Base\nclass Head(Base):\n    def __init__(self):\n        super().__init__()\n"
              "        self.net = Net()\n\n    def run(self, x):\n        return self.net(x)\n")
    assert mode(source, "self.net(x)") is Mode.UNKNOWN
    assert mode(source.replace("(Base)", "(nn.Module)"), "self.net(x)") is Mode.UNKNOWN
    plain = source.replace("(Base)", "").replace("        super().__init__()\n", "")
    assert mode(plain, "self.net(x)") is Mode.TRAIN  # built in __init__, never switched
    switched = plain + "\n    def freeze(self):\n        self.net.eval()\n"
    assert mode(switched, "self.net(x)") is Mode.UNKNOWN
    elsewhere = plain + "\ndef main(x):\n    head = Head()\n    head.net.eval()\n    return head.run(x)\n"
    assert mode(elsewhere, "self.net(x)") is Mode.UNKNOWN


def test_methods_of_the_class_set_the_mode_of_self_attributes():
    source = """\
    class Trainer:
        def __init__(self):
            self.model = Net()

        def train_epoch(self):
            self.model.train()

        def fit(self, x):
            self.train_epoch()
            return self.model(x)
    """
    assert mode(source, "self.model(x)") is Mode.TRAIN
    source = source.replace("self.model.train()", "self.model.eval()")
    assert mode(source, "self.model(x)") is Mode.EVAL


def test_the_answer_carries_its_evidence():
    analysis, call, where = _at("def f(x):\n    model = Net()\n    model.train()\n    return model(x)\n", "model(x)")
    answer = analysis.modes.mode_at(call.func, where)
    assert answer.mode is Mode.TRAIN and answer.evidence == ("`model.train(...)`",)
    assert answer.deliberate  # `.train()` by hand and no training: MC dropout, BN recalibration
    analysis, call, where = _at("def f(x):\n    model = Net()\n    return model(x)\n", "model(x)")
    answer = analysis.modes.mode_at(call.func, where)
    assert not answer.deliberate and "new modules start in training mode" in answer.evidence[0]


def evaluation(source: str, call_code: str = "model(x)"):
    analysis, call, where = _at(source, call_code)
    return analysis.modes.evaluation(call, where)


@pytest.mark.parametrize("body, use", [
    ("return model(x)", "returned"),
    ("return model(x).argmax(1)", "returned"),
    ("loss = nn.functional.cross_entropy(model(x), y)", "passed to the loss `nn.functional.cross_entropy`"),
    ("out = model(x)\n        print(out)\n        hits = out.argmax(1) == y", "compared"),
    ("hits = model(x).argmax(1) == y", "compared"),
    ("outs.append(model(x))", "collected by `outs.append`"),
    ("total += model(x).sum().item()", "accumulated"),
    ("out = model(x)\n        return out", "returned"),
    ("logits = model(x)\n        probs = torch.softmax(logits, 1)\n        return probs", "returned"),
    ("logits, _ = model(x), 1\n        return criterion(logits, y)", "passed to `criterion`"),
    ("self.cache = model(x)", "stored"),
    ("return names[model(x).argmax()]", "used as an index"),
    # not an evaluation: the values are not used
    ("model(x)", None),
    ("print(model(x).size())", None),
    ("out = model(x)\n        print(out.shape)", None),
    ("assert model(x).shape == (2, 4)", None),
    ("print(model(x))", "printed"),
    ("print(f'{model(x).argmax()}')", "printed"),
])
def test_evaluation_is_what_the_output_is_used_for(body, use):
    source = f"def f(model, x, y, outs, criterion, names, total=0):\n    with torch.no_grad():\n        {body}\n"
    found = evaluation(source)
    assert (found.use if found else None) == use


def test_evaluation_needs_gradients_off_and_no_training_step():
    assert evaluation("def f(model, x):\n    return model(x)\n") is None
    assert evaluation("@torch.no_grad()\ndef f(model, x):\n    return model(x)\n") is not None
    assert evaluation("def f(model, x):\n    with torch.inference_mode():\n        return model(x)\n") is not None
    step = ("def f(model, target, x, opt):\n    with torch.no_grad():\n        t = target(x)\n"
            "    loss = (model(x) - t).sum()\n    opt.zero_grad()\n    loss.backward()\n    return t\n")
    assert evaluation(step, "target(x)") is None


def test_call_site_arguments():
    source = ("def g(model, x):\n    return model(x)\ndef h(x):\n    return g(Net(), x)\n"
              "def k(x):\n    return g(model=Net().eval(), x=x)\n")
    analysis, call, where = _at(source, "model(x)")
    sites = analysis.modes.call_site_arguments(call.func, where)
    assert [analysis.module.code_for_node(value) for value, _ in sites] == ["Net()", "Net().eval()"]
    assert all(analysis.values.is_module(value, site) for value, site in sites)
    analysis, call, where = _at("def g(model, x):\n    return model(x)\ndef h(*a):\n    return g(*a)\n", "model(x)")
    assert analysis.modes.call_site_arguments(call.func, where) == []


def test_eval_insertion_places_and_safety():
    analysis, call, where = _at("def f(x):\n    model = Net()\n    with torch.no_grad():\n        return model(x)\n",
                                "model(x)")
    insertion = analysis.modes.eval_insertion(call.func, where)
    assert isinstance(insertion.statement, cst.With) and insertion.safe and not insertion.restore
    source = ("def f(x, loader, opt):\n    model = Net()\n    model.train()\n    outs = []\n    for _ in range(3):\n"
              "        for b in loader:\n            opt.zero_grad()\n            model(b).sum().backward()\n"
              "        with torch.no_grad():\n            outs.append(model(x))\n    return outs\n")
    analysis, call, where = _at(source, "model(x)")
    insertion = analysis.modes.eval_insertion(call.func, where)
    assert insertion.safe and insertion.restore  # training follows: `.train()` goes back after
    analysis, call, where = _at("def g(model, x):\n    with torch.no_grad():\n        return model(x)\n", "model(x)")
    insertion = analysis.modes.eval_insertion(call.func, where)
    assert insertion.at_start and not insertion.safe  # the caller's model stays in eval mode


def test_value_uses_answer_directly():
    from torchlint.analysis.uses import ValueUses

    source = "def f(model, x):\n    out = model(x)\n    n: int = out.numel()\n    return n\n"
    analysis, call, where = _at(source, "model(x)")
    assert ValueUses(analysis).use(call, where) is None  # only the element count is read
    analysis, call, where = _at(source.replace("out.numel()", "out.sum()"), "model(x)")
    assert ValueUses(analysis).use(call, where) == "returned"


def test_statements_joined_by_semicolons_keep_their_order():
    assert mode("def f(x):\n    model = Net(); model.eval(); y = model(x)\n    return y\n") is Mode.EVAL
    assert mode("def f(x):\n    model = Net(); y = model(x); model.eval()\n    return y\n") is Mode.TRAIN


def test_call_sites_of_a_staticmethod_fill_its_first_parameter():
    source = """\
    class Runner:
        def __init__(self):
            self.net = Net()

        @staticmethod
        def score(model, x):
            return model(x)

        def run(self, x):
            self.net.train()
            return self.score(self.net, x)
    """
    assert mode(source) is Mode.TRAIN


def test_library_builders():
    hf = "from transformers import AutoModelForSequenceClassification as M\n"
    assert mode(hf + "def f(x):\n    model = M.from_pretrained('bert-base-uncased')\n    return model(x)\n") is Mode.EVAL
    assert mode(hf + "def f(x, config):\n    model = M.from_config(config)\n    return model(x)\n") is Mode.TRAIN
    tv = "import torchvision\n"
    assert mode(tv + "def f(x):\n    model = torchvision.models.resnet18(weights='DEFAULT')\n    return model(x)\n") \
        is Mode.TRAIN  # torchvision builders return training-mode models, weights or not


def test_a_function_that_switches_a_global_model_makes_its_mode_unknown_after_it():
    script = "model = Net()\nmodel.load_state_dict(sd)\n{between}y = model(x)\n"
    assert mode(script.format(between="")) is Mode.TRAIN
    handler = "def validate(engine):\n    model.eval()\n\nengine.on_epoch_end(validate)\n"
    assert mode(script.format(between=handler)) is Mode.UNKNOWN
    local = "def validate(model):\n    model.eval()\n\n"  # its own parameter, not the global
    assert mode(script.format(between=local)) is Mode.TRAIN
