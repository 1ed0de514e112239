"""The shared analysis: names resolved through every import form, values followed through
assignments, branches, loops, unpacking and local functions; unknown stays unknown."""

import textwrap

import pytest

from torchlint.engine import lint_text
from torchlint.rule import all_rules


def findings(source):
    return [(f.code, f.line) for f in lint_text(textwrap.dedent(source), all_rules()).findings]


@pytest.mark.parametrize("imports, call", [
    ("import torch", "torch.load(p)"),
    ("import torch as th", "th.load(p)"),
    ("import torch.nn as nn\nimport torch", "torch.load(p)"),
    ("from torch import load", "load(p)"),
    ("from torch import load as L", "L(p)"),
    ("from torch import save, load", "load(p)"),
    ("import torch.serialization", "torch.serialization.load(p)"),
    ("from torch.serialization import load", "load(p)"),
])
def test_import_forms_resolve(imports, call):
    assert findings(f"{imports}\nx = {call}\n") == [("TL502", imports.count("\n") + 2)]


def test_function_local_import():
    assert findings("""
        def f(p):
            from torch import load
            return load(p)
    """) == [("TL502", 4)]


@pytest.mark.parametrize("source", [
    "import numpy as torch\nx = torch.load(p)\n",          # another library under the name torch
    "def load(p): pass\nx = load(p)\n",                     # a local function
    "from torch import load\ndef load(p): pass\nx = load(p)\n",  # rebound after the import
    "import torch\ntorch = object()\nx = torch.load(p)\n",  # shadowed module name
    "from .torch import load\nx = load(p)\n",               # a relative import
    "import torch\nx = [torch.load for torch in ys]\n",     # comprehension variable
    "from mylib import torch\nx = torch.load(p)\n",
])
def test_lookalikes_are_silent(source):
    assert findings(source) == []


MODEL = """
import torch
from torch import nn
import torch.nn as tnn
from torch.nn import Linear as L
"""


@pytest.mark.parametrize("body", [
    "m = nn.Linear(2, 2)\ntorch.save(m, p)",
    "m = tnn.Sequential(L(2, 2))\ntorch.save(m, p)",
    "m = L(2, 2).cuda().eval()\ntorch.save(m, p)",
    "class Net(nn.Module): pass\nclass Big(Net): pass\nm = Big()\ntorch.save(m, p)",
    "m = nn.Linear(2, 2)\nm = m.to('cpu')\ntorch.save(m, p)",
    "a, (b, m) = 1, (2, nn.Linear(2, 2))\ntorch.save(m, p)",
    "def build():\n    return nn.Linear(2, 2)\nm = build()\ntorch.save(m, p)",
    "def build():\n    net = nn.Linear(2, 2)\n    return net, 3\nm, _ = build()\ntorch.save(m, p)",
    "m = nn.Linear(2, 2)\nfor _ in range(3):\n    m = m.to('cpu')\ntorch.save(m, p)",
    "if c:\n    m = nn.Linear(2, 2)\nelse:\n    m = nn.Conv2d(1, 1, 1)\ntorch.save(m, p)",
    "def f(m: nn.Module):\n    torch.save(m, p)",
    "m = nn.DataParallel(nn.Linear(2, 2))\ntorch.save(m, p)",
    "m = nn.parallel.DistributedDataParallel(nn.Linear(2, 2))\ntorch.save(m, p)",
    "import timm\nm = timm.create_model('resnet18')\ntorch.save(m, p)",
])
def test_module_values_are_followed(body):
    source = MODEL + body + "\n"
    assert [code for code, _ in findings(source)] == ["TL501"]


@pytest.mark.parametrize("body", [
    "m = nn.Linear(2, 2)\nif c:\n    m = m.state_dict()\ntorch.save(m, p)",   # maybe a state dict
    "m = nn.Linear(2, 2)\nfor _ in r:\n    torch.save(m, p)\n    m = m.state_dict()",  # loop back edge
    "def build():\n    if c:\n        return nn.Linear(2, 2)\nm = build()\ntorch.save(m, p)",  # may be None
])
def test_values_that_are_modules_on_some_paths(body):
    """Followed to every value: TL501 reports a module saved on some paths, without a fix."""
    found = lint_text(MODEL + body + "\n", all_rules()).findings
    assert [(f.code, f.fix) for f in found] == [("TL501", None)]


@pytest.mark.parametrize("body", [
    "m = make()\ntorch.save(m, p)",                                  # unknown function
    "def f(m):\n    torch.save(m, p)",                              # unannotated parameter
    "def f(m: 'nn.Module'):\n    torch.save(m, p)",                # string annotation: not followed
    "def build():\n    yield nn.Linear(2, 2)\nm = build()\ntorch.save(m, p)",  # a generator
    "m, *rest = nn.Linear(2, 2), 1\ntorch.save(rest, p)",
    "m = nn.Linear(2, 2)\ndel m\nm = load_state()\ntorch.save(m, p)",
    "try:\n    m = nn.Linear(2, 2)\nexcept E:\n    m = None\ntorch.save(m, p)",
    "class Plain: pass\nm = Plain()\ntorch.save(m, p)",
    "m = nn.Parameter(torch.ones(2))\ntorch.save(m, p)",
    "m = nn.functional.relu(x)\ntorch.save(m, p)",
])
def test_unknown_or_other_values_are_silent(body):
    assert findings(MODEL + body + "\n") == []


def test_refers_to_answers_as_the_qualified_name_does():
    """The spelling shortcut of `refers_to` (an attribute must end in a name's last part) never
    changes an answer: checked on every name and attribute of the fixtures, at its statement."""
    import pathlib

    import libcst as cst

    from torchlint.analysis import ModuleAnalysis
    from torchlint.analysis.timing import CLOCKS
    from torchlint.engine import parse_source
    from torchlint.tree import walk

    asked = ["torch.save", "torch.load", "torch.serialization.save", "torch.autograd.grad", CLOCKS,
             frozenset({"torch.nn.modules.loss.CrossEntropyLoss", "torch.nn.CrossEntropyLoss"})]
    root = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
    compared = 0
    for path in sorted(root.rglob("*.py")):
        analysis = ModuleAnalysis(parse_source(path.read_text(encoding="utf-8")))
        index = analysis.index
        for info in list(index.statements.values()):
            if info.node is None:
                continue
            for node in walk(info.node):
                if type(node) in (cst.Name, cst.Attribute):
                    qualified = analysis.qualified_name(node, (info.scope, info))
                    for names in asked:
                        expected = qualified == names if isinstance(names, str) else qualified in names
                        assert analysis.refers_to(node, names, (info.scope, info)) is expected
                        compared += 1
    assert compared > 10_000


def test_a_names_qualified_name_is_one_of_its_import_targets():
    """What `import_targets` promises the rules that skip resolving other names (TL603, TL604)."""
    import pathlib

    import libcst as cst

    from torchlint.analysis import ModuleAnalysis
    from torchlint.engine import parse_source
    from torchlint.tree import walk

    root = pathlib.Path(__file__).resolve().parent.parent
    checked = 0
    for path in sorted((root / "fixtures").rglob("*.py")) + sorted((root / "tests" / "projects").rglob("*.py")):
        analysis = ModuleAnalysis(parse_source(path.read_text(encoding="utf-8")))
        for info in list(analysis.index.statements.values()):
            for node in walk(info.node) if info.node is not None else ():
                if type(node) is cst.Name:
                    qualified = analysis.qualified_name(node, (info.scope, info))
                    targets = analysis.import_targets(node.value)
                    assert qualified is None or targets is None or qualified in targets, (path.name, node.value)
                    checked += qualified is not None
    assert checked > 500
    star = ModuleAnalysis(parse_source("from torch.autograd import *\nv = Variable(x)\n"))
    assert star.import_targets("Variable") is None


def test_a_loss_answer_under_a_lambda_variable_is_not_kept_for_the_statement():
    """`criterion` is the loss module outside the lambda and the lambda's parameter inside it."""
    import libcst as cst

    from torchlint.analysis import ModuleAnalysis
    from torchlint.engine import parse_source

    module = parse_source("import torch.nn as nn\ncriterion = nn.CrossEntropyLoss()\n"
                          "pair = (criterion(x, y), lambda criterion: criterion(x, y))\n")
    analysis = ModuleAnalysis(module)
    info = [i for i in analysis.index.statements.values() if i.node is module.body[2]][0]
    outer, inner = [n for n in _calls(module.body[2]) if isinstance(n.func, cst.Name)]
    analysis._statements.append(info)  # the traversal at the third statement
    analysis._shadowed.append({"criterion"})  # inside the lambda
    assert analysis.loss_call(inner) is None
    analysis._shadowed.pop()
    assert analysis.loss_call(outer) is not None
    assert analysis.loss_call(inner, (info.scope, info)) is not None  # asked from outside: the module


def _calls(node):
    import libcst as cst

    from torchlint.tree import walk

    return [n for n in walk(node) if isinstance(n, cst.Call)]


def test_names_no_import_binds_resolve_as_through_their_scopes():
    """`qualified_name` answers None at once for a name no import of the file binds (no star
    import): the answer resolving it through the bindings that reach it gives, checked on every
    name and attribute of the fixtures against that resolution written out here."""
    import pathlib

    import libcst as cst

    from torchlint.analysis import ModuleAnalysis
    from torchlint.analysis.torch_api import canonical
    from torchlint.engine import parse_source
    from torchlint.tree import walk

    def resolved(analysis, node, where):
        if type(node) is cst.Attribute:
            base = resolved(analysis, node.value, where)
            return f"{base}.{node.attr.value}" if base else None
        if type(node) is not cst.Name:
            return None
        bindings = analysis.reaching(node.value, where)
        imported = {b.qualified for b in bindings if b.kind == "import"}
        return imported.pop() if len(imported) == 1 and all(b.kind == "import" for b in bindings) else None

    root = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
    compared = shortcut = 0
    for path in sorted(root.rglob("*.py")):
        analysis = ModuleAnalysis(parse_source(path.read_text(encoding="utf-8")))
        if analysis.index.module_scope.star_imports:
            continue
        for info in list(analysis.index.statements.values()):
            if info.node is None:
                continue
            for node in walk(info.node):
                if type(node) in (cst.Name, cst.Attribute):
                    where = (info.scope, info)
                    expected = resolved(analysis, node, where)
                    assert analysis.qualified_name(node, where) == (canonical(expected) if expected else None)
                    compared += 1
                    shortcut += type(node) is cst.Name and node.value not in analysis._import_targets
    assert compared > 10_000 and shortcut > 1_000


def test_canonical_names_keep_their_last_part():
    """What `refers_to`'s shortcut relies on: an attribute ending in `load` can only name
    something whose qualified name ends in `load`, aliases and `torch.nn.modules.` included."""
    from torchlint.analysis import torch_api

    for alias, name in torch_api._ALIASES.items():
        assert alias.rpartition(".")[2] == name.rpartition(".")[2], alias
    for last in torch_api.TORCH_NN_MODULE_CLASSES:
        assert torch_api.canonical(f"torch.nn.modules.some.{last}").rpartition(".")[2] == last


def _class_layers(source: str):
    from torchlint.analysis import ModuleAnalysis
    from torchlint.engine import parse_source

    analysis = ModuleAnalysis(parse_source(source))
    binding = analysis.index.module_scope.bindings["Net"][0]
    return analysis.model_classes.of_class(binding.node, analysis.binding_where(binding))


def test_a_class_reads_self_training_in_code_not_in_its_words():
    said = _class_layers('import torch.nn as nn\n\n\nclass Net(nn.Module):\n'
                         '    """Uses self.training nowhere."""\n\n    def forward(self, x):\n'
                         '        return x  # self.training is not read\n')
    read = _class_layers("import torch.nn as nn\n\n\nclass Net(nn.Module):\n"
                         "    def forward(self, x):\n        return x * 2 if self.training else x\n")
    assert "self.training" not in said.layers and "self.training" in read.layers


def test_layers_built_in_a_method_init_calls_are_found_whatever_the_spacing():
    layers = _class_layers("import torch.nn as nn\n\n\nclass Net(nn.Module):\n"
                           "    def __init__(self):\n        super().__init__()\n        self.build (3)\n\n"
                           "    def build(self, n):\n        self.drop = nn.Dropout(0.1)\n")
    assert any("Dropout" in layer for layer in layers.layers), layers
