"""TL301 missing-eval: each near-miss of fixtures/TL301/clean.py, turned into the mistake, is
reported; the model's layers are read through the classes of the file; the fix goes where it
keeps the code's meaning and says when it is unsafe."""

import textwrap
from pathlib import Path

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


TRAIN_STEP = """\
def train_steps(model, loader, opt):
    model.train()
    for b in loader:
        opt.zero_grad()
        model(b).sum().backward()
        opt.step()
"""


@pytest.mark.parametrize("source", [
    # a parameter in training mode at every call site of the file
    "def evaluate(model, x):\n    with torch.no_grad():\n        return model(x)\n"
    "def fit(x, loader, opt):\n    model = Net()\n    train_steps(model, loader, opt)\n    return evaluate(model, x)\n",
    # an annotated parameter: a module; the caller switched it to training mode
    "def score(model: nn.Module, x, y):\n    with torch.no_grad():\n        return (model(x).argmax(1) == y).float().mean()\n"
    "def main(x, y):\n    model = Net()\n    model.train()\n    print(score(model, x, y))\n",
    # training done by a helper of this file between the `.train()` and the evaluation
    "def run(x, loader, opt):\n    model = Net()\n    scores = []\n    for epoch in range(3):\n"
    "        train_steps(model, loader, opt)\n        with torch.no_grad():\n            scores.append(model(x))\n"
    "    return scores\n",
    # a new model starts in training mode; `.to()` / `.cuda()` keep the mode
    "def run(x):\n    model = Net()\n    with torch.no_grad():\n        return model(x)\n",
    "def run(x):\n    model = Net().train()\n    with torch.no_grad():\n        return model(x)\n",
    "def run(x, sd):\n    model = Net()\n    model.load_state_dict(sd)\n    model = model.cuda()\n"
    "    with torch.no_grad():\n        return model(x).argmax(1)\n",
    # a factory of this file that returns a new model
    "def build():\n    return Net().to('cpu')\ndef run(x):\n    model = build()\n    with torch.no_grad():\n        return model(x)\n",
    # forward called directly
    "def run(x):\n    model = Net()\n    with torch.no_grad():\n        return model.forward(x)\n",
    # eval before the loop, train() after the evaluation inside it: every later epoch is wrong
    "def run(x, loader, opt):\n    model = Net()\n    model.eval()\n    outs = []\n    for _ in range(3):\n"
    "        with torch.no_grad():\n            outs.append(model(x))\n        model.train()\n"
    "        for b in loader:\n            opt.zero_grad()\n            model(b).sum().backward()\n    return outs\n",
    # a decorated function
    "@torch.no_grad()\ndef run(x):\n    model = Net()\n    return model(x)\n",
    # a script whose outputs are compared with labels
    "model = Net()\nwith torch.no_grad():\n    hits = model(torch.ones(1, 4)).argmax(1) == 0\n",
    # outputs followed through names to a loss, an accumulation, an index
    "def run(x, y):\n    model = Net()\n    with torch.no_grad():\n        logits = model(x)\n"
    "    loss = nn.functional.cross_entropy(logits, y)\n    return loss\n",
    "def run(x):\n    model = Net()\n    total = 0\n    with torch.no_grad():\n        total += model(x).sum().item()\n"
    "    return total\n",
    "def run(x, names):\n    model = Net()\n    with torch.no_grad():\n        best = model(x).argmax()\n"
    "    print(names[best])\n",
    # a plain class (no base) that builds its model and never switches it
    "class Scorer:\n    def __init__(self):\n        self.net = Net()\n\n"
    "    @torch.no_grad()\n    def score(self, x):\n        return self.net(x)\n",
    # printed predictions of a model that was given weights
    "def show(x, sd):\n    model = Net()\n    model.load_state_dict(sd)\n    with torch.no_grad():\n"
    "        print(model(x).argmax(1))\n",
])
def test_reported(source):
    assert len(lines(TRAIN_STEP + source)) == 1


@pytest.mark.parametrize("source", [
    "def evaluate(model, x):\n    model.eval()\n    with torch.no_grad():\n        return model(x)\n",
    "def evaluate(model, x):\n    model = model.eval()\n    with torch.no_grad():\n        return model(x)\n",
    "def run(x):\n    model = Net().to('cpu').eval()\n    with torch.no_grad():\n        return model(x)\n",
    "def evaluate(model, x, c):\n    if c:\n        model.eval()\n    with torch.no_grad():\n        return model(x)\n",
    "def evaluate(model, x, flag):\n    model.train(flag)\n    with torch.no_grad():\n        return model(x)\n",
    # no evidence of the mode: a parameter with no call site, a name spelled like an evaluation
    "def evaluate(model, x):\n    with torch.no_grad():\n        return model(x)\n",
    "def test(net, loader):\n    with torch.no_grad():\n        return [net(x).argmax(1) for x, _ in loader]\n",
    "def predict(net, x):\n    return net(x).argmax(1)\n",  # gradients on: not known to be an evaluation
    # a helper of another module given the model may switch it
    "from lib import prepare\ndef run(x):\n    model = Net()\n    prepare(model)\n"
    "    with torch.no_grad():\n        return model(x)\n",
    # `.eval()` after `.to()`: the same module, mode kept
    "def run(x, sd):\n    model = Net()\n    model.load_state_dict(sd)\n    model.eval()\n    model = model.cuda()\n"
    "    with torch.no_grad():\n        return model(x).argmax(1)\n",
    # `m = model` is the same module: switching `m` switches `model`
    "def run(x):\n    model = Net()\n    m = model\n    m.eval()\n    with torch.no_grad():\n        return model(x)\n",
    # `.apply` with a function that switches every submodule
    "def run(x):\n    model = Net()\n    model.apply(lambda m: m.eval())\n    with torch.no_grad():\n        return model(x)\n",
    "def freeze(m):\n    m.eval()\ndef run(x):\n    model = Net()\n    model.apply(freeze)\n"
    "    with torch.no_grad():\n        return model(x)\n",
    # a helper of this file that switches to evaluation mode
    "def prepare(m):\n    m.eval()\n    return m\ndef run(x):\n    model = Net()\n    prepare(model)\n"
    "    with torch.no_grad():\n        return model(x)\n",
    # the caller switched it (in this file)
    "def predict(model, x):\n    with torch.no_grad():\n        return model(x)\ndef main(x):\n    model = Net()\n"
    "    model.eval()\n    return predict(model, x)\n",
    # one caller in eval mode, one in training mode: not surely training
    "def predict(model, x):\n    with torch.no_grad():\n        return model(x)\ndef a(x):\n    model = Net()\n"
    "    model.eval()\n    return predict(model, x)\ndef b(x):\n    return predict(Net(), x)\n",
    # `if not model.training:` says the mode inside the branch
    "def run(x):\n    model = Net()\n    if not model.training:\n        with torch.no_grad():\n            return model(x)\n",
    "def run(x):\n    model = Net()\n    if model.training:\n        pass\n    else:\n"
    "        with torch.no_grad():\n            return model(x)\n",
    # `.train()` on purpose with no training in sight: MC dropout, BatchNorm recalibration
    "def predict_mc(model, x):\n    model.train(True)\n    with torch.inference_mode():\n"
    "        return torch.stack([model(x) for _ in range(10)]).mean(0)\n",
    "@torch.no_grad()\ndef update_bn(loader, model):\n    model.train()\n    for x in loader:\n        model(x)\n",
    # outputs whose values are not used: shape smoke tests, prints, asserts
    "def test():\n    net = Net()\n    with torch.no_grad():\n        y = net(torch.randn(2, 4))\n    print(y.size())\n",
    "def smoke():\n    net = Net()\n    with torch.no_grad():\n        print(net(torch.randn(2, 4)).shape)\n",
    "def smoke():\n    net = Net()\n    with torch.no_grad():\n        assert net(torch.randn(2, 4)).shape == (2, 4)\n",
    "def smoke():\n    net = Net()\n    with torch.no_grad():\n        net(torch.randn(2, 4))\n",
    "def smoke():\n    net = Net().to('cpu')\n    with torch.no_grad():\n        print(net(torch.randn(2, 4)))\n",
    # loaded, scripted or exported models: their mode was fixed when saved
    "def run(p, x):\n    model = torch.jit.load(p)\n    with torch.no_grad():\n        return model(x)\n",
    "def run(x):\n    model = torch.jit.script(Net())\n    with torch.no_grad():\n        return model(x)\n",
    "def run(p, x):\n    model = torch.load(p, weights_only=False)\n    with torch.no_grad():\n        return model(x)\n",
    # names that only look like models
    "from .rng import get_default_generator\ndef infer(d):\n    with torch.no_grad():\n"
    "        return get_default_generator(d)\n",
    "def validate(solver):\n    with torch.no_grad():\n        return solver.model(1)\n",
    "class Runner:\n    def _test_model(self, x):\n        return x\n\n"
    "    @torch.no_grad()\n    def run(self, x):\n        return self._test_model(x)\n",
    # a submodule switched on its own: the author thinks about modes
    "def run(x):\n    model = Net()\n    model.drop.eval()\n    with torch.no_grad():\n        return model(x)\n",
    # any callable, not a model
    "def evaluate(fn, x):\n    with torch.no_grad():\n        return fn(x)\n",
    "def evaluate(x):\n    model = lambda t: t\n    with torch.no_grad():\n        return model(x)\n",
    "def model(x):\n    return x\ndef evaluate(x):\n    with torch.no_grad():\n        return model(x)\n",
    # a wrapper keeps the mode of the model it wraps
    "def predict(x):\n    model = Net()\n    model.eval()\n    model = nn.DataParallel(model)\n"
    "    with torch.no_grad():\n        return model(x)\n",
    "def predict(x):\n    model = AutoModel.from_pretrained('bert')\n    with torch.no_grad():\n"
    "        return model(x)\n",
    # a training step that uses no_grad for targets
    "def step(opt, x):\n    model, target_net = Net(), Net()\n    with torch.no_grad():\n        t = target_net(x)\n"
    "    opt.zero_grad()\n    (model(x) - t).pow(2).sum().backward()\n    opt.step()\n",
    # submodules called inside a module's own methods, whatever its base class
    "from .base import BaseModel\nclass Head(BaseModel):\n    def __init__(self):\n        super().__init__()\n"
    "        self.net = Net()\n\n    @torch.no_grad()\n    def infer(self, x):\n        return self.net(x)\n",
    "class Head(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.net = Net()\n\n"
    "    def forward(self, x):\n        if not self.training:\n            with torch.no_grad():\n"
    "                return self.net(x)\n        return self(x)\n",
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
    ("self.encoder = encoder", False),  # never called: a setting (here its default, None)
    ("self.encoder = encoder\n\n    def forward(self, x):\n        return self.encoder(x)", True),  # called: unknown
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
        def __init__(self):
            self.model = Net()

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
    # a class that switches its model to eval mode (anywhere) is left alone
    predictor = trainer.replace("self.model.train()", "self.model.eval()")
    assert lines(predictor) == []
    # the class's own calls of the method decide: after `.eval()` ...
    caller = trainer + "\n        def fit(self, x, loader, opt):\n            self.train_epoch(loader, opt)\n" \
        "            self.model.eval()\n            return self.evaluate(x)\n"
    assert lines(caller) == []
    # ... or right after a training epoch
    careless = trainer + "\n        def fit(self, x, loader, opt):\n            self.train_epoch(loader, opt)\n" \
        "            return self.evaluate(x)\n"
    assert lines(careless) == [13]
    # a model handed in by the caller: its mode is not known here
    assert lines(trainer.replace("def __init__(self):\n            self.model = Net()",
                                 "def __init__(self, model):\n            self.model = model")) == []


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
    source = "def evaluate(a, b):\n    model = Net()\n    with torch.no_grad():\n        return model(a), model(b)\n"
    assert lines(source) == [4]


def test_fix_at_the_start_of_an_evaluation_function_after_the_docstring():
    source = '''\
    def evaluate(model, x):
        """Docs."""
        # the comment stays with its line
        with torch.no_grad():
            return model(x)

    def main(x):
        return evaluate(Net(), x)
    '''
    assert fixed(source) == textwrap.dedent('''\
    def evaluate(model, x):
        """Docs."""
        model.eval()
        # the comment stays with its line
        with torch.no_grad():
            return model(x)

    def main(x):
        return evaluate(Net(), x)
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
                print(model(x).argmax(1) == 0)
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
                print(model(x).argmax(1) == 0)
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
                print(model(x).argmax(1) == 0)
    """
    result = fixed(source, unsafe=False)
    assert "model.eval()\n        with torch.no_grad()" in result and result.count("model.train()") == 1


def test_fix_hoists_above_the_evaluation_loop_not_into_it():
    source = """\
    @torch.no_grad()
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
    suite = "@torch.no_grad()\ndef run(x):\n    model = Net()\n    if x is not None: return model(x)\n"
    assert lint_text(HEADER + suite, [rule_by_code_or_name("TL301")]).findings[0].fix is None


def test_fixing_twice_changes_nothing():
    source = "def evaluate(model, x):\n    with torch.no_grad():\n        return model(x)\n" \
        "def main(x):\n    return evaluate(Net(), x)\n"
    once = fixed(source)
    assert once != source
    assert fixed(once) == once


def test_fix_restores_training_mode_when_a_helper_trains():
    source = """\
    def train_steps(model, loader, opt):
        for b in loader:
            opt.zero_grad()
            model(b).sum().backward()

    def run(x, loader, opt):
        model = Net()
        model.train()
        for epoch in range(3):
            train_steps(model, loader, opt)
            with torch.no_grad():
                scores.append(model(x).sum().item())
    """
    assert fixed(source, unsafe=False).endswith(
        "        model.eval()\n        with torch.no_grad():\n            scores.append(model(x).sum().item())\n"
        "        model.train()\n")


@pytest.mark.parametrize("source", [
    # a loss module is an nn.Module with nothing that depends on the mode
    "def score(x, y):\n    criterion = nn.CrossEntropyLoss()\n    model = Net()\n    model.eval()\n"
    "    with torch.no_grad():\n        return criterion(model(x), y)\n",
    # a lambda's parameter is not the function's variable
    "def run(x):\n    model = Net()\n    fn = lambda model, x: model(x)\n    model.eval()\n"
    "    with torch.no_grad():\n        return fn(model, x)\n",
    "def run(xs, models):\n    model = Net()\n    with torch.no_grad():\n        return [model(x) for model in models for x in xs]\n",
])
def test_silent_lookalikes(source):
    assert lines(source) == []


def test_layers_through_a_helper_that_returns_its_argument():
    source = LAYERS + """
def layer_init(layer, std=1.0):
    nn.init.orthogonal_(layer.weight, std)
    return layer


class Agent(nn.Module):
    def __init__(self):
        super().__init__()
        self.actor = nn.Sequential(layer_init(nn.Linear(4, 4)), nn.Tanh(), layer_init(nn.Linear(4, 2), std=0.01))


def rollout(x):
    agent = Agent()
    with torch.no_grad():
        return agent(x)
"""
    rule = [rule_by_code_or_name("TL301")]
    assert lint_text(source, rule).findings == []  # only Linear and Tanh: the same in both modes
    assert len(lint_text(source.replace("nn.Tanh()", "nn.Dropout(0.1)"), rule).findings) == 1
    assert len(lint_text(source.replace("layer_init(nn.Linear(4, 2), std=0.01)",
                                        "layer_init(nn.BatchNorm1d(4))"), rule).findings) == 1


def test_statements_joined_by_semicolons_are_followed_like_lines():
    source = "def f(x, sd):\n    model = Net(); model.load_state_dict(sd)\n" \
             "    with torch.no_grad(): y = model(x); return y\n"
    assert lines(source) == [3]
    assert lines(source.replace("model.load_state_dict(sd)", "model.load_state_dict(sd); model.eval()")) == []


CLEAN = Path(__file__).resolve().parents[1] / "fixtures" / "TL301" / "clean.py"


@pytest.mark.parametrize("near_miss, mistake", [
    ("            self.model.eval()\n", "            pass\n"),  # the harness that picks its mode
    ("return Classifier().to(device).eval()", "return Classifier().to(device)"),  # factory of the file
    ("    model.eval()\n    model = model.to(device)  # the same", "    model = model.to(device)  # the same"),
    ("    model.apply(lambda m: m.eval())\n", ""),
    ("    model.apply(_freeze)\n", "    model.load_state_dict({})\n"),
    ("    model.eval()\n    return score_with", "    return score_with"),  # the only call site
    ("    prepare_for_serving(model)  # may", "    print(model)  # may"),  # a helper we cannot read
    ("model = torch.jit.load(path)", "model = Classifier()"),  # a scripted model
    ("class RefineHead(BackboneBase):", "class RefineHead:"),  # a possible nn.Module
    ('net = Classifier().to("cpu")\n', 'net = Classifier().to("cpu")\n    net.load_state_dict({})\n'),  # weights
    ("        tracked.eval()\n", "        print(engine)\n"),  # a callback that switches the global model
])
def test_each_near_miss_is_one_step_from_a_finding(near_miss, mistake):
    """The clean fixtures are near misses: undoing the one thing that makes each right is reported."""
    source = CLEAN.read_text()
    assert near_miss in source
    rule = [rule_by_code_or_name("TL301")]
    assert lint_text(source, rule).findings == []
    assert len(lint_text(source.replace(near_miss, mistake, 1), rule).findings) == 1


@pytest.mark.parametrize("extra, reported", [
    ("nn.InstanceNorm2d(4, track_running_stats=False)", False),
    ("nn.Dropout(0.5)", True),
])
def test_layers_of_a_list_grown_with_plus_equals(extra, reported):
    source = LAYERS + f"""
def block(width, relu=True):
    layers = []
    if relu:
        layers.append(nn.ReLU())
    layers += [nn.Conv2d(width, width, 3), {extra}]
    return nn.Sequential(*layers)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = block(4)


def sample(x, sd):
    generator = Generator()
    generator.load_state_dict(sd)
    with torch.no_grad():
        return generator(x)
"""
    assert bool(lint_text(source, [rule_by_code_or_name("TL301")]).findings) is reported


def test_layers_through_a_helper_of_another_module_that_returns_its_argument(tmp_path):
    """`layer_init(nn.Linear(...))` from `utils.py`: the summary says it returns its argument."""
    import subprocess
    import sys

    (tmp_path / "utils.py").write_text(
        "import torch\n\n\ndef layer_init(layer, std=1.0):\n    torch.nn.init.orthogonal_(layer.weight, std)\n"
        "    return layer\n")
    agent = (
        "import torch\nfrom torch import nn\n\nfrom utils import layer_init\n\n\nclass Agent(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.actor = nn.Sequential(layer_init(nn.Linear(4, 4)), nn.Tanh(), layer_init({last}))\n\n\n"
        "def rollout(agent, x):\n    with torch.no_grad():\n        return agent(x)\n\n\n"
        "def main(x):\n    return rollout(Agent(), x)\n")

    def reported(last: str) -> int:
        (tmp_path / "agent.py").write_text(agent.format(last=last))
        done = subprocess.run([sys.executable, "-m", "torchlint", "check", "--select", "TL301", "--no-cache",
                               "--output-format", "json", str(tmp_path)], capture_output=True, text=True)
        return len(__import__("json").loads(done.stdout))

    assert reported("nn.Linear(4, 2)") == 0  # Linear and Tanh only
    assert reported("nn.Dropout(0.1)") == 1
