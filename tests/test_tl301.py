"""TL301 missing-eval: each near-miss of fixtures/TL301/clean.py, turned into the mistake, is
reported; the model's layers are read through the classes of the file; the fix goes where it
keeps the code's meaning and says when it is unsafe."""

import textwrap

import pytest

from torchlint.engine import fix_text, lint_text
from torchlint.rule import all_rules, rule_by_code_or_name

HEADER = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.fc(x))
"""


def lines(source, header=HEADER):
    text = header + textwrap.dedent(source)
    offset = header.count("\n")
    return [f.line - offset for f in lint_text(text, [rule_by_code_or_name("TL301")]).findings]


def fixed(source, unsafe=True, header=HEADER):
    text = header + textwrap.dedent(source)
    return fix_text(text, all_rules(), unsafe=unsafe).text[len(header):]


@pytest.mark.parametrize("source", [
    # no eval at all, in an evaluation function
    "def evaluate(model, x):\n    with torch.no_grad():\n        return model(x)\n",
    # evaluation named, no no_grad
    "def predict(net, x):\n    return net(x).argmax(1)\n",
    # the MNIST example's `test` without model.eval()
    "def test(model, device, loader):\n    with torch.no_grad():\n        for x, y in loader:\n            model(x)\n",
    # training done by a helper between the `.train()` and the evaluation
    "def run(x, loader, opt):\n    model = Net()\n    model.train()\n    for epoch in range(3):\n"
    "        train_steps(model, loader, opt)\n        with torch.no_grad():\n            model(x)\n",
    # a new model starts in training mode
    "def run(x):\n    model = Net()\n    with torch.no_grad():\n        return model(x)\n",
    "def run(x):\n    model = Net().train()\n    with torch.no_grad():\n        return model(x)\n",
    # forward called directly
    "def run(x):\n    model = Net()\n    with torch.no_grad():\n        return model.forward(x)\n",
    # eval before the loop, train() after the evaluation inside it: every later epoch is wrong
    "def run(x, loader, opt):\n    model = Net()\n    model.eval()\n    for _ in range(3):\n"
    "        with torch.no_grad():\n            model(x)\n        model.train()\n"
    "        for b in loader:\n            opt.zero_grad()\n            model(b).sum().backward()\n",
    # a decorated function
    "@torch.no_grad()\ndef run(x):\n    model = Net()\n    return model(x)\n",
    # a script
    "model = Net()\nwith torch.no_grad():\n    out = model(torch.ones(1, 4))\n",
])
def test_reported(source):
    assert len(lines(source)) == 1


@pytest.mark.parametrize("source", [
    "def evaluate(model, x):\n    model.eval()\n    with torch.no_grad():\n        return model(x)\n",
    "def evaluate(model, x):\n    model = model.eval()\n    with torch.no_grad():\n        return model(x)\n",
    "def run(x):\n    model = Net().to('cpu').eval()\n    with torch.no_grad():\n        return model(x)\n",
    "def evaluate(model, x, c):\n    if c:\n        model.eval()\n    with torch.no_grad():\n        return model(x)\n",
    "def evaluate(model, x, flag):\n    model.train(flag)\n    with torch.no_grad():\n        return model(x)\n",
    # a helper named like an evaluation may switch the model
    "from lib import freeze\ndef run(x):\n    model = Net()\n    freeze(model)\n"
    "    with torch.no_grad():\n        return model(x)\n",
    # the caller switched it (in this file)
    "def predict(model, x):\n    return model(x)\ndef main(x):\n    model = Net()\n    model.eval()\n"
    "    return predict(model, x)\n",
    # `.train()` on purpose with no training in sight: MC dropout, BatchNorm recalibration
    "def predict_mc(model, x):\n    model.train(True)\n    with torch.inference_mode():\n"
    "        return torch.stack([model(x) for _ in range(10)]).mean(0)\n",
    "@torch.no_grad()\ndef update_bn(loader, model):\n    model.train()\n    for x in loader:\n        model(x)\n",
    # names that only look like models
    "from .rng import get_default_generator\ndef infer(d):\n    with torch.no_grad():\n"
    "        return get_default_generator(d)\n",
    "def validate(solver):\n    with torch.no_grad():\n        return solver.model(1)\n",
    "def evaluate(model):\n    with torch.no_grad():\n        return model()\n",
    # a submodule switched on its own: the author thinks about modes
    "def run(x):\n    model = Net()\n    model.drop.eval()\n    with torch.no_grad():\n        return model(x)\n",
    # parameters of a no_grad helper that is not an evaluation function
    "def features(model, x):\n    with torch.no_grad():\n        return model(x)\n",
    # any callable, not a model
    "def evaluate(fn, x):\n    with torch.no_grad():\n        return fn(x)\n",
    "def evaluate(x):\n    model = lambda t: t\n    with torch.no_grad():\n        return model(x)\n",
    "def model(x):\n    return x\ndef evaluate(x):\n    with torch.no_grad():\n        return model(x)\n",
    # loaded in eval mode; a wrapper keeps the mode of the model it wraps
    "def predict(x):\n    model = AutoModel.from_pretrained('bert')\n    with torch.no_grad():\n"
    "        return model(x)\n",
    "def predict(x):\n    model = Net()\n    model.eval()\n    model = nn.DataParallel(model)\n"
    "    with torch.no_grad():\n        return model(x)\n",
    # pytest tests and per-batch steps
    "def test_random():\n    model = Net()\n    with torch.no_grad():\n        model(torch.ones(1, 4))\n",
    "def eval_step(model, batch):\n    return model(batch)\n",
    # a training step that uses no_grad for targets
    "def step(model, target_net, opt, x):\n    with torch.no_grad():\n        t = target_net(x)\n"
    "    opt.zero_grad()\n    (model(x) - t).pow(2).sum().backward()\n    opt.step()\n",
])
def test_silent(source):
    assert lines(source) == []


LAYERS = """\
import torch
from collections import OrderedDict
from torch import nn
import torch.nn.functional as F
"""


@pytest.mark.parametrize("init, reported", [
    ("self.fc = nn.Linear(4, 4)", False),
    ("self.seq = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.LayerNorm(4), nn.GroupNorm(1, 1))", False),
    ("self.seq = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))", True),
    ("self.seq = nn.Sequential(OrderedDict([('fc', nn.Linear(4, 4)), ('drop', nn.Dropout())]))", True),
    ("self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])", False),
    ("self.layers = nn.ModuleList([nn.Dropout(0.1) for _ in range(3)])", True),
    ("self.heads = nn.ModuleDict({'a': nn.Linear(4, 4), 'b': nn.AlphaDropout(0.1)})", True),
    ("self.drop = nn.Dropout(p=0.0)", False),
    ("self.norm = nn.InstanceNorm2d(4)", False),
    ("self.norm = nn.InstanceNorm2d(4, track_running_stats=True)", True),
    ("self.bn = nn.BatchNorm2d(4, track_running_stats=False)", False),
    ("self.rnn = nn.LSTM(4, 4, num_layers=2)", False),
    ("self.rnn = nn.LSTM(4, 4, num_layers=2, dropout=0.2)", True),
    ("self.attn = nn.MultiheadAttention(4, 2)", False),
    ("self.enc = nn.TransformerEncoderLayer(4, 2)", True),
    ("self.enc = nn.TransformerEncoderLayer(4, 2, dropout=0.0)", False),
    ("self.act = nn.RReLU()", True),
    ("self.block = Inner()", True),  # a nested local class with BatchNorm
    ("self.block = nn.Sequential(Inner(), nn.ReLU())", True),
    ("self.block = PlainInner()", False),
    ("layers = [nn.Linear(4, 4)]\n        layers.append(nn.Dropout())\n        self.seq = nn.Sequential(*layers)", True),
    ("layers = [nn.Linear(4, 4)]\n        layers.append(nn.ReLU())\n        self.seq = nn.Sequential(*layers)", False),
    ("self.layer1 = self._make_layer()", True),
    ("self.backbone = get_backbone()", True),  # unknown: may have anything
    ("self.width = width\n        self.scale = nn.Parameter(torch.ones(4))", False),
    ("self.encoder = encoder", True),  # a module passed in: unknown
    ("self.p = 0.5", False),
])
def test_layers_of_local_classes(init, reported):
    source = LAYERS + f"""
class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(4)


class PlainInner(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)


class Model(nn.Module):
    def __init__(self, width=4, encoder=None):
        super().__init__()
        {init}

    def _make_layer(self):
        return nn.Sequential(nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4))


def run(x):
    model = Model()
    with torch.no_grad():
        return model(x)
"""
    assert bool(lint_text(source, [rule_by_code_or_name("TL301")]).findings) is reported


@pytest.mark.parametrize("source, reported", [
    ("class M(nn.Module):\n    def forward(self, x):\n        return F.dropout(x, 0.5, self.training)\n", True),
    ("class M(nn.Sequential):\n    def __init__(self):\n        super().__init__(nn.Linear(4, 4), nn.Dropout())\n", True),
    ("class M(nn.Sequential):\n    def __init__(self):\n        super().__init__(nn.Linear(4, 4), nn.ReLU())\n", False),
    ("class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.add_module('drop', nn.Dropout())\n", True),
    ("from torchvision.models import resnet18 as M\n", True),
    ("from torch.nn import Linear as M\n", False),
])
def test_other_class_forms(source, reported):
    text = LAYERS + source + "\ndef run(x):\n    model = M()\n    with torch.no_grad():\n        return model(x)\n"
    assert bool(lint_text(text, [rule_by_code_or_name("TL301")]).findings) is reported


def test_parameter_annotated_with_a_plain_class_is_silent():
    source = LAYERS + (
        "class Plain(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(4, 4)\n\n"
        "def evaluate(model: Plain, x):\n    with torch.no_grad():\n        return model(x)\n"
    )
    assert lint_text(source, [rule_by_code_or_name("TL301")]).findings == []


def test_self_attributes_follow_the_class():
    trainer = """\
    class Trainer:
        def __init__(self, model):
            self.model = model

        def train_epoch(self, loader, opt):
            self.model.train()
            for x in loader:
                opt.zero_grad()
                self.model(x).sum().backward()

        def evaluate(self, x):
            with torch.no_grad():
                return self.model(x)
    """
    assert lines(trainer) == [13]
    # a class that switches its model to eval mode once and never back is fine
    predictor = trainer.replace("self.model.train()", "self.model.eval()")
    assert lines(predictor) == []
    # so is a caller that switches before calling
    caller = trainer + "\n        def fit(self, x):\n            self.model.eval()\n            self.evaluate(x)\n"
    assert lines(caller) == []


def test_modules_own_methods_and_lightning_hooks_are_silent():
    source = """\
    import pytorch_lightning as pl

    class Lit(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = Net()

        def validation_step(self, batch, idx):
            return self.model(batch)

        def on_validation_epoch_end(self):
            with torch.no_grad():
                self.model(torch.zeros(1, 4))

        @torch.no_grad()
        def predict(self, x):
            return self(x)
    """
    assert lines(source) == []


def test_reported_once_per_model_and_scope_at_the_first_call():
    source = "def evaluate(model, a, b):\n    with torch.no_grad():\n        model(a)\n        model(b)\n"
    assert lines(source) == [3]


def test_fix_at_the_start_of_an_evaluation_function_after_the_docstring():
    source = '''\
    def evaluate(model, x):
        """Docs."""
        # the comment stays with its line
        with torch.no_grad():
            return model(x)
    '''
    assert fixed(source) == textwrap.dedent('''\
    def evaluate(model, x):
        """Docs."""
        model.eval()
        # the comment stays with its line
        with torch.no_grad():
            return model(x)
    ''')
    assert fixed(source, unsafe=False) == textwrap.dedent(source)  # a parameter: unsafe


def test_fix_before_the_no_grad_block_is_safe_for_a_local_model():
    source = """\
    def run(x):
        model = Net()
        # score it
        with torch.no_grad():
            return model(x)
    """
    assert fixed(source, unsafe=False) == textwrap.dedent("""\
    def run(x):
        model = Net()
        # score it
        model.eval()
        with torch.no_grad():
            return model(x)
    """)


def test_fix_restores_training_mode_in_a_loop_that_sets_it_once():
    source = """\
    def fit(x, loader, opt):
        model = Net()
        model.train()
        for epoch in range(3):
            for b in loader:
                opt.zero_grad()
                model(b).sum().backward()
            with torch.no_grad():
                print(model(x))
    """
    assert fixed(source, unsafe=False) == textwrap.dedent("""\
    def fit(x, loader, opt):
        model = Net()
        model.train()
        for epoch in range(3):
            for b in loader:
                opt.zero_grad()
                model(b).sum().backward()
            model.eval()
            with torch.no_grad():
                print(model(x))
            model.train()
    """)


def test_fix_without_restore_when_the_loop_sets_train_itself():
    source = """\
    def fit(x, loader, opt):
        model = Net()
        for epoch in range(3):
            model.train()
            for b in loader:
                opt.zero_grad()
                model(b).sum().backward()
            with torch.no_grad():
                print(model(x))
    """
    result = fixed(source, unsafe=False)
    assert "model.eval()\n        with torch.no_grad()" in result and result.count("model.train()") == 1


def test_fix_hoists_above_the_evaluation_loop_not_into_it():
    source = """\
    def predict_all(batches):
        model = Net()
        outputs = []
        for b in batches:
            outputs.append(model(b))
        return outputs
    """
    assert "    model.eval()\n    for b in batches:" in fixed(source, unsafe=False)


def test_no_fix_inside_a_one_line_suite():
    source = "def run(x):\n    model = Net()\n    with torch.no_grad(): return model(x)\n"
    findings = lint_text(HEADER + source, [rule_by_code_or_name("TL301")]).findings
    assert len(findings) == 1
    assert findings[0].fix is not None  # before the `with` statement, which is in a block
    suite = "def run(x):\n    model = Net()\n    if x is not None: return model(x)\n"
    assert lint_text(HEADER + suite.replace("def run", "def predict"),
                     [rule_by_code_or_name("TL301")]).findings[0].fix is None


def test_fixing_twice_changes_nothing():
    source = "def evaluate(model, x):\n    with torch.no_grad():\n        return model(x)\n"
    once = fixed(source)
    assert fixed(once) == once


def test_fix_restores_training_mode_when_a_helper_trains():
    source = """\
    def run(x, loader, opt):
        model = Net()
        model.train()
        for epoch in range(3):
            train_steps(model, loader, opt)
            with torch.no_grad():
                print(model(x))
    """
    assert fixed(source, unsafe=False).endswith(
        "        model.eval()\n        with torch.no_grad():\n            print(model(x))\n        model.train()\n")
