"""The project-wide program model, queried directly: module resolution as Python does it, module
summaries (serialisable, cached with the modules they consulted), `kind(expr)` with its evidence,
usage evidence, and values followed through the call sites of functions and constructors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from torchlint.analysis import ModuleAnalysis
from torchlint.analysis.kinds import ValueKind
from torchlint.analysis.project import ImportContext, Project, find_root, module_name
from torchlint.analysis.summary import ModuleSummary


def write(root: Path, files: dict) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def analyse(root: Path, name: str, **extra) -> ModuleAnalysis:
    path = root / name
    project = Project(find_root(str(path)), **extra)
    return ModuleAnalysis(cst.parse_module(path.read_text()), ImportContext.create(project, str(path)))


def value(analysis: ModuleAnalysis, name: str):
    """(expression, where) of the last module-level assignment to `name`."""
    binding = analysis.index.module_scope.bindings[name][-1]
    return cst.Name(name), (binding.stmt.scope, _after(analysis, binding.stmt))


def _after(analysis, stmt):
    later = [info for info in analysis.index.statements.values() if info.scope is stmt.scope and info.seq > stmt.seq]
    return min(later, key=lambda info: info.seq) if later else stmt


MODELS = """
    import torch.nn as nn
    import torch.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            return F.softmax(self.fc(self.drop(x)), dim=1)

    class Config:
        pass

    def build():
        return Net()
"""


def test_module_names_and_roots(tmp_path):
    write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/m.py": "",
                     "scripts/run.py": ""})
    assert module_name(str(tmp_path / "pkg/sub/m.py")) == ("pkg.sub.m", str(tmp_path))
    assert module_name(str(tmp_path / "pkg/sub/__init__.py")) == ("pkg.sub", str(tmp_path))
    assert module_name(str(tmp_path / "scripts/run.py")) == ("run", str(tmp_path / "scripts"))
    assert find_root(str(tmp_path / "pkg/sub/m.py")) == str(tmp_path)


@pytest.mark.parametrize("train", [
    "from models import Net\nmodel = Net()\nlast = 0\n",
    "import models\nmodel = models.Net()\nlast = 0\n",
    "import models as netlib\nmodel = netlib.Net()\nlast = 0\n",
    "from models import *\nmodel = Net()\nlast = 0\n",
    "from models import build\nmodel = build()\nlast = 0\n",
    "from models import build\nmodel = build().to('cpu').eval()\nlast = 0\n",
])
def test_a_class_or_factory_of_a_sibling_module_builds_a_module(tmp_path, train):
    write(tmp_path, {"pyproject.toml": "", "models.py": MODELS, "train.py": train})
    analysis = analyse(tmp_path, "train.py")
    found = analysis.kind(*value(analysis, "model"))
    assert found.kind is ValueKind.MODULE
    assert found.classes == ("models.Net",) and found.layers.layers == {"nn.Dropout"}
    assert str(tmp_path / "models.py") in analysis.context.consumed


@pytest.mark.parametrize("train", [
    "from models import Config\nmodel = Config()\nlast = 0\n",    # a plain class of the project
    "from other import Net\nmodel = Net()\nlast = 0\n",           # a same-named class elsewhere
    "from missing import Net\nmodel = Net()\nlast = 0\n",         # an import that does not resolve
    "from models import Nett\nmodel = Nett()\nlast = 0\n",        # a name the module does not define
])
def test_what_the_project_does_not_show_is_unknown(tmp_path, train):
    write(tmp_path, {"pyproject.toml": "", "models.py": MODELS, "other.py": "class Net:\n    pass\n",
                     "train.py": train})
    analysis = analyse(tmp_path, "train.py")
    assert analysis.kind(*value(analysis, "model")).kind is ValueKind.UNKNOWN


def test_packages_relative_imports_and_reexports(tmp_path):
    write(tmp_path, {
        "setup.cfg": "",
        "app/__init__.py": "",
        "app/nets/__init__.py": "from .gan import Generator\n",
        "app/nets/gan.py": MODELS.replace("Net(", "Generator(").replace("return Net()", "return Generator()"),
        "app/train/loop.py": "from ..nets import Generator\nfrom ..nets.gan import build\ng = Generator()\n"
                             "h = build()\nlast = 0\n",
    })
    analysis = analyse(tmp_path, "app/train/loop.py")
    assert analysis.kind(*value(analysis, "g")).classes == ("app.nets.gan.Generator",)
    assert analysis.kind(*value(analysis, "h")).kind is ValueKind.MODULE


def test_src_folders(tmp_path):
    write(tmp_path, {"pyproject.toml": "", "lib/vision/__init__.py": "", "lib/vision/models.py": MODELS,
                     "tools/run.py": "from vision.models import Net\nm = Net()\nlast = 0\n"})
    assert analyse(tmp_path, "tools/run.py").kind(*value(analyse(tmp_path, "tools/run.py"), "m")).kind is (
        ValueKind.UNKNOWN)
    analysis = analyse(tmp_path, "tools/run.py", extra_roots=["lib"])
    assert analysis.kind(*value(analysis, "m")).kind is ValueKind.MODULE


def test_base_class_from_another_module(tmp_path):
    write(tmp_path, {"pyproject.toml": "",
                     "base.py": "import torch.nn as nn\nclass Base(nn.Module):\n    pass\n",
                     "models.py": "import torch.nn as nn\nfrom base import Base\nclass Net(Base):\n"
                                  "    def __init__(self):\n        super().__init__()\n"
                                  "        self.bn = nn.BatchNorm1d(3)\n",
                     "train.py": "from models import Net\nm = Net()\nlast = 0\n"})
    analysis = analyse(tmp_path, "train.py")
    found = analysis.kind(*value(analysis, "m"))
    assert found.kind is ValueKind.MODULE and found.layers.layers == {"nn.BatchNorm1d"}
    assert {Path(p).name for p in analysis.context.consumed} == {"models.py", "base.py"}


def test_forward_outputs_and_tuple_elements(tmp_path):
    write(tmp_path, {"pyproject.toml": "", "models.py": textwrap.dedent(MODELS) + textwrap.dedent("""
        class Disc(nn.Module):
            def __init__(self):
                super().__init__()
                self.aux = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))
                self.adv = nn.Linear(4, 1)

            def forward(self, x):
                return self.adv(x), self.aux(x)
    """), "train.py": "import torch\nfrom models import Net, Disc\nout = Net()(torch.randn(1, 4))\n"
                      "validity, label = Disc()(torch.randn(1, 4))\nsecond = Disc()(torch.randn(1, 4))[1]\n"
                      "probs = torch.exp(torch.log_softmax(out, 1))\nlast = 0\n"})
    analysis = analyse(tmp_path, "train.py")
    assert analysis.kind(*value(analysis, "out")).activation == "softmax"
    assert analysis.kind(*value(analysis, "label")).activation == "softmax"
    assert analysis.kind(*value(analysis, "second")).activation == "softmax"
    assert analysis.tensors.activation(*value(analysis, "validity")) is None
    assert analysis.kind(*value(analysis, "probs")).activation == "softmax"


def test_summaries_serialise_and_are_cached_with_what_they_consulted(tmp_path):
    write(tmp_path, {"pyproject.toml": "", "base.py": "import torch.nn as nn\nclass Base(nn.Module):\n    pass\n",
                     "models.py": "from base import Base\nclass Net(Base):\n    pass\n"})
    project = Project(str(tmp_path), cache_dir=str(tmp_path / "cache"))
    summary = project.summary(str(tmp_path / "models.py"))
    assert summary.symbols["Net"].module
    assert ModuleSummary.from_json(json.loads(json.dumps(summary.to_json()))) == summary
    assert list((tmp_path / "cache" / "summaries").rglob("*.json"))
    # A new process reads it back; once the base class stops being a module, the cached summary is stale.
    assert Project(str(tmp_path), cache_dir=str(tmp_path / "cache")).summary(str(tmp_path / "models.py")) == summary
    (tmp_path / "base.py").write_text("class Base:\n    pass\n")
    fresh = Project(str(tmp_path), cache_dir=str(tmp_path / "cache")).summary(str(tmp_path / "models.py"))
    assert not fresh.symbols["Net"].module


def test_editing_an_imported_module_relints_its_importers_only(tmp_path):
    write(tmp_path, {"pyproject.toml": "", "models.py": MODELS,
                     "train.py": "import torch\nimport torch.nn as nn\nfrom models import Net\nm = Net()\n"
                                 "loss = nn.CrossEntropyLoss()(m(torch.randn(2, 4)), torch.tensor([0, 1]))\n",
                     "alone.py": "import torch\nx = torch.load('a.pt')\n"})

    def codes():
        run = subprocess.run([sys.executable, "-m", "torchlint", "check", "--output-format", "json", "--exit-zero",
                              "--cache-dir", str(tmp_path / ".cache"), "."], cwd=tmp_path, capture_output=True,
                             text=True, check=True)
        return sorted((Path(f["filename"]).name, f["code"]) for f in json.loads(run.stdout))

    assert codes() == [("alone.py", "TL502"), ("train.py", "TL101")]
    entries = {p: p.stat().st_mtime_ns for p in (tmp_path / ".cache").rglob("*.json") if "summaries" not in p.parts}
    (tmp_path / "models.py").write_text(textwrap.dedent(MODELS).replace("F.softmax(", "(").replace(", dim=1)", ")"))
    assert codes() == [("alone.py", "TL502")]
    rewritten = {p for p in (tmp_path / ".cache").rglob("*.json")
                 if "summaries" not in p.parts and entries.get(p) != p.stat().st_mtime_ns}
    assert len(rewritten) == 2  # train.py (its import changed) and models.py itself; alone.py came from the cache


USAGE = """
import torch
import somelib

model = somelib.build(cfg)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
trainer = somelib.Trainer()
trainer.train()
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 10)
loaded = torch.load("m.pt")
loaded.eval()
out = loaded(torch.randn(1))
criterion = torch.nn.CrossEntropyLoss()
last = 0
"""


@pytest.mark.parametrize("name, kind", [
    ("model", ValueKind.MODULE),        # its parameters go to an optimizer
    ("trainer", ValueKind.UNKNOWN),     # `.train()` alone: Hugging Face's Trainer has one too
    ("loaded", ValueKind.MODULE),       # switched to eval mode and called
    ("optimizer", ValueKind.OPTIMIZER),
    ("scheduler", ValueKind.UNKNOWN),
    ("criterion", ValueKind.LOSS),
])
def test_kind_from_construction_and_usage(tmp_path, name, kind):
    write(tmp_path, {"pyproject.toml": "", "run.py": USAGE})
    analysis = analyse(tmp_path, "run.py")
    assert analysis.kind(*value(analysis, name)).kind is kind


CALLS = """
import torch
import torch.nn as nn

def save(network, path):
    torch.save(network, path)

def store(value, path):
    torch.save(value, path)

class Holder:
    def __init__(self, net, rate):
        self.net = net
        self.rate = rate

    def keep(self):
        torch.save(self.net, "n.pt")
        torch.save(self.rate, "r.pt")

def predict(x):
    return x.numpy()

save(nn.Linear(2, 2), "a.pt")
store(nn.Linear(2, 2), "b.pt")
store(torch.randn(2), "c.pt")
Holder(nn.Linear(2, 2), 0.1).keep()
with torch.no_grad():
    predict(nn.Linear(2, 2)(torch.randn(1, 2)))
x = 1; y = x
last = 0
"""


def _param(analysis, function: str, name: str):
    node = analysis.index.module_scope.bindings[function][0].node
    scope = analysis.index.scopes[id(node)]
    if scope.kind == "class":
        scope = analysis.index.scopes[id(scope.bindings["__init__"][0].node)]
    binding = scope.bindings[name][0]
    return cst.Name(name), (scope, binding.stmt)


def test_parameters_take_the_facts_of_every_call_site(tmp_path):
    write(tmp_path, {"pyproject.toml": "", "calls.py": CALLS})
    analysis = analyse(tmp_path, "calls.py")
    assert analysis.values.is_module(*_param(analysis, "save", "network"))
    assert not analysis.values.is_module(*_param(analysis, "store", "value"))  # a module at one site, a tensor at the other
    assert analysis.values.is_module(*_param(analysis, "Holder", "net"))
    assert not analysis.values.is_module(*_param(analysis, "Holder", "rate"))
    predict = analysis.index.module_scope.bindings["predict"][0].node
    body = analysis.index.scopes[id(predict)]
    assert analysis.grad_enabled((body, body.returns[0][1])) is False  # only ever called under no_grad


def test_a_function_another_module_imports_has_unknown_callers(tmp_path):
    write(tmp_path, {"pyproject.toml": "", "calls.py": CALLS, "user.py": "from calls import save\nsave(1, 'x')\n"})
    analysis = analyse(tmp_path, "calls.py")
    assert not analysis.values.is_module(*_param(analysis, "save", "network"))


def test_statements_joined_by_semicolons_are_in_order(tmp_path):
    write(tmp_path, {"pyproject.toml": "", "calls.py": CALLS})
    analysis = analyse(tmp_path, "calls.py")
    origins = analysis.values.origins(*value(analysis, "y"))
    assert [type(node).__name__ for node, _ in origins] == ["Integer"]


@pytest.mark.parametrize("qualified, factory, module_class", [
    ("torchvision.models.resnet18", True, False),
    ("torchvision.models.detection.fasterrcnn_resnet50_fpn", True, False),
    ("torchvision.models.get_model_weights", False, False),
    ("torchvision.models.ResNet", True, True),
    ("torchvision.models.ResNet18_Weights", False, False),
    ("timm.create_model", True, False),
    ("transformers.AutoModelForSequenceClassification.from_pretrained", True, False),
    ("transformers.AutoTokenizer.from_pretrained", False, False),
    ("transformers.TFBertModel", False, False),
    ("transformers.BertModel", True, True),
    ("lightning.LightningModule", True, True),
    ("sklearn.linear_model.LinearRegression", False, False),
])
def test_library_models_come_from_the_data_table(qualified, factory, module_class):
    from torchlint.analysis.torch_api import is_module_class_name, is_module_factory

    assert (is_module_factory(qualified), is_module_class_name(qualified)) == (factory, module_class)


def test_searching_the_project_never_blocks_on_a_fifo(tmp_path):
    import os

    write(tmp_path, {"pyproject.toml": "", "calls.py": CALLS})
    os.mkfifo(tmp_path / "pipe.py")
    analysis = analyse(tmp_path, "calls.py")
    assert analysis.values.is_module(*_param(analysis, "save", "network"))


def test_a_module_attribute_rebound_to_itself_is_no_cycle(tmp_path):
    """`self.model = self.model.to(device)`: following the model's output must not loop."""
    from torchlint.engine import lint_text
    from torchlint.rule import all_rules

    source = textwrap.dedent("""
        import torch
        import torch.nn.functional as F
        import torchvision

        class Runner:
            def __init__(self, device):
                self.model = torchvision.models.resnet18(num_classes=10)
                self.model = self.model.to(device)
                self.optimizer = torch.optim.Adam(self.model.parameters())

            def step(self, x, y):
                return F.cross_entropy(self.model(x), y)
    """)
    assert [f.code for f in lint_text(source, all_rules()).findings] == []
