"""The device lattice (analysis/devices.py) queried directly: where values live, which device a
designator names, on evidence of use and never on how a name is spelled."""

import textwrap
from typing import Optional, Tuple

import libcst as cst
import pytest

from torchlint.analysis import ModuleAnalysis, Where
from torchlint.analysis.devices import DeviceLevel

NONE, MAYBE, SURE = DeviceLevel.NONE, DeviceLevel.MAYBE, DeviceLevel.SURE
HEADER = "import torch\nfrom torch import nn\n"


def last_value(source: str) -> Tuple[ModuleAnalysis, cst.BaseExpression, Where]:
    """The analysis of `source` and the value of its last statement (`x` in `result = x`)."""
    module = cst.parse_module(HEADER + textwrap.dedent(source))
    analysis = ModuleAnalysis(module)
    infos = [i for i in analysis.index.statements.values() if isinstance(i.node, cst.SimpleStatementLine)]
    info = max(infos, key=lambda i: i.seq)
    small = info.node.body[0]  # type: ignore[union-attr]
    value = small.value if isinstance(small, (cst.Assign, cst.Expr, cst.Return)) else None
    assert value is not None
    return analysis, value, (info.scope, info)


def level(source: str) -> DeviceLevel:
    analysis, value, where = last_value(source)
    return analysis.devices.device_of(value, where)


def named(source: str, explicit: bool = True) -> Optional[DeviceLevel]:
    analysis, value, where = last_value(source)
    return analysis.devices.device_named(value, where, explicit)


@pytest.mark.parametrize("source, expected", [
    ("x = torch.ones(2).cuda()\nresult = x", SURE),
    ("x = torch.ones(2, device='cuda:1')\nresult = x * 2", SURE),
    ("d = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\nresult = torch.ones(2).to(d)", MAYBE),
    ("def f(rank):\n    return torch.ones(2).to(f'cuda:{rank}')", SURE),
    # a device whose value the file does not show may be CUDA, whatever it is called
    ("def f(x, where):\n    return x.to(where)", MAYBE),
    ("def f(cfg):\n    return torch.zeros(2, device=cfg.gpu)", MAYBE),
    ("def f(spot):\n    return torch.zeros(2, device=torch.device(spot))", MAYBE),
    # modules moved in place, and what they compute
    ("model = nn.Linear(2, 2)\nmodel.to('cuda')\nresult = model(torch.ones(2))", SURE),
    ("model = nn.Linear(2, 2)\nmodel.cuda()\nresult = model", SURE),
    ("model = nn.Linear(2, 2)\nmodel.cuda()\nif torch.cuda.device_count() > 1:\n    model.cpu()\nresult = model", MAYBE),
    # `x.device` of a CUDA tensor
    ("x = torch.ones(2).cuda()\nresult = torch.zeros(2, device=x.device)", SURE),
    ("x = torch.ones(2)\nresult = torch.zeros(2, device=x.device)", NONE),
    # the legacy CUDA tensor types
    ("T = torch.cuda.FloatTensor if torch.cuda.is_available() else torch.FloatTensor\n"
     "def f(batch):\n    return batch.type(T)", MAYBE),
    # a device set in a base class of this file
    ("class Base:\n    def __init__(self):\n        self.host = torch.device('cpu')\n"
     "class Child(Base):\n    def f(self, x):\n        return x.to(self.host)", NONE),
])
def test_device_of(source, expected):
    assert level(source) == expected


@pytest.mark.parametrize("source", [
    "def f(x):\n    return x",  # a parameter: its device is not known
    "model = nn.Linear(2, 2)\nmodel.to('cuda')\nmodel.to('cpu')\nresult = model(torch.ones(2))",  # moved back
    "x = torch.ones(2).to(torch.float16)\nresult = x",
    "def f(x: torch.Tensor, dtype: torch.dtype):\n    return torch.ones(2).to(dtype)",
    "def f(kind):\n    y = torch.zeros(2, dtype=kind)\n    return torch.ones(2).to(kind)",  # used as a dtype
    "x = torch.ones(2).cuda()\nresult = x.cpu()",
    "x = torch.ones(2).cuda()\nresult = x.item()",
    "x = torch.ones(2).cuda()\nresult = x.shape",
    "def f(helper, x):\n    return helper(x.cuda())",  # what a function the file cannot see returns
    "class Meter:\n    pass\ndef f(device):\n    return Meter(device=device)",  # not torch, not a module
])
def test_no_cuda_evidence(source):
    assert level(source) == NONE


@pytest.mark.parametrize("source, explicit, expected", [
    ("result = 'cuda'", True, SURE),
    ("result = 'cpu'", True, NONE),
    ("result = 0", False, SURE),
    ("result = torch.float16", False, None),
    ("def f(x):\n    return x.dtype", False, None),
    ("def f(gpu):\n    return gpu", True, MAYBE),
    ("def f(gpu):\n    return gpu", False, MAYBE),
    ("def f(gpu=torch.float32):\n    return gpu", False, None),
    ("result = torch.device('cuda', 0)", True, SURE),
    ("result = 'cuda' if torch.cuda.is_available() else 'cpu'", True, MAYBE),
])
def test_device_named(source, explicit, expected):
    assert named(source, explicit) == expected


GAN = """
class Sampler:
    def __init__(self, gpu_mode):
        self.gpu_mode = gpu_mode
        self.net = nn.Linear(8, 8)
        self.noise = torch.rand(4, 8)
        if self.gpu_mode:
            self.net.cuda()
            self.noise = self.noise.cuda()
{extra}
    def sample(self):
        out = self.net(self.noise)
        if self.gpu_mode:
            out = out.cpu()
        else:
            result = out
"""


@pytest.mark.parametrize("source, expected", [
    # A flag fixed for the run (analysis/conditions.py): the other branch of the same test never
    # sees what its `if` body made.
    (GAN.format(extra=""), NONE),
    ("use_cuda = torch.cuda.is_available()\nx = torch.ones(2)\nif use_cuda:\n    x = x.cuda()\n"
     "if not use_cuda:\n    result = x", NONE),
    ("x = torch.ones(2)\nif torch.cuda.is_available():\n    x = x.cuda()\n"
     "if torch.cuda.is_available():\n    pass\nelse:\n    result = x", NONE),
    ("import argparse\nargs = argparse.ArgumentParser().parse_args()\nmodel = nn.Linear(2, 2)\n"
     "if args.cuda and args.half:\n    model.cuda()\nif not args.cuda:\n    result = model(torch.ones(2))", NONE),
    ("use_cuda = torch.cuda.is_available()\ndef f(x):\n    device = 'cuda' if use_cuda else 'cpu'\n"
     "    x = x.to(device)\n    if not use_cuda:\n        return x", NONE),
    # ... and under its own branch, or where the test is no flag, the evidence stands.
    ("use_cuda = torch.cuda.is_available()\nx = torch.ones(2)\nif use_cuda:\n    x = x.cuda()\n"
     "if use_cuda:\n    result = x", MAYBE),
    ("use_cuda = True\nuse_cuda = False\nx = torch.ones(2)\nif use_cuda:\n    x = x.cuda()\n"
     "if not use_cuda:\n    result = x", MAYBE),  # bound twice
    ("import argparse\nargs = argparse.ArgumentParser().parse_args()\nargs.cuda = args.cuda and torch.cuda.is_available()\n"
     "model = nn.Linear(2, 2)\nif args.cuda:\n    model.cuda()\nif not args.cuda:\n    result = model(torch.ones(2))",
     MAYBE),  # (assigned: no flag)
    (GAN.format(extra="    def cpu_only(self):\n        self.gpu_mode = False\n"), MAYBE),  # set outside `__init__`
    ("x = torch.ones(2)\nif torch.cuda.device_count() > 1:\n    x = x.cuda()\n"
     "if torch.cuda.device_count() > 1:\n    pass\nelse:\n    result = x", MAYBE),  # a comparison
    ("use_cuda = torch.cuda.is_available()\ndef f(x):\n    if use_cuda or x.is_cuda:\n        x = x.cuda()\n"
     "    if not use_cuda:\n        return x", MAYBE),  # `a or b` true says nothing of `a`
    # What is made under a flag must not outlive the flag's value: no flag then.
    ("x = torch.ones(2)\nfor name in ['cuda', 'cpu']:\n    use_cuda = name == 'cuda'\n    if use_cuda:\n"
     "        x = x.cuda()\n    if not use_cuda:\n        result = x", MAYBE),  # bound in a loop
    ("class Cache:\n    def __init__(self):\n        self.cache = torch.ones(2)\n    def run(self, use_gpu):\n"
     "        if use_gpu:\n            self.cache = self.cache.cuda()\n        if not use_gpu:\n"
     "            return self.cache", MAYBE),  # a parameter: state made under it outlives the call
    ("use_cuda = True\ndef cpu_only():\n    global use_cuda\n    use_cuda = False\nx = torch.ones(2)\n"
     "if use_cuda:\n    x = x.cuda()\nif not use_cuda:\n    result = x", MAYBE),  # rebound through `global`
    ("def off(sampler):\n    sampler.gpu_mode = False\n" + GAN.format(extra=""), MAYBE),  # set from outside
])
def test_a_flag_fixed_for_the_run_separates_its_branches(source, expected):
    assert level(source) == expected


def test_blocking_copies():
    source = """
    def f(batch, device):
        a = batch.to(device)
        b = batch.to(device, non_blocking=True)
        c = batch.cuda().cuda()
        d = batch.cpu()
    """
    module = cst.parse_module(HEADER + textwrap.dedent(source))
    analysis = ModuleAnalysis(module)
    infos = sorted((i for i in analysis.index.statements.values()
                    if isinstance(i.node, cst.SimpleStatementLine) and i.scope.kind == "function"),
                   key=lambda i: i.seq)
    copies = []
    for info in infos:
        call = info.node.body[0].value  # type: ignore[union-attr]
        copies.append(analysis.devices.is_blocking_copy(call, (info.scope, info)))
    # `.cuda()` of a value already on CUDA copies nothing
    assert copies == [True, False, False, True]
