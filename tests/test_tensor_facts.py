"""The tensor facts rules rely on: gradients, devices, layout and activations, each on evidence."""

import textwrap

import pytest

from torchlint.engine import lint_text
from torchlint.rule import all_rules

HEADER = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.head = nn.Sequential(nn.Linear(2, 2), nn.Softmax(dim=1))

    def forward(self, x):
        return self.fc(x)

    def probabilities(self, x):
        return self.head(self.fc(x))
"""


def codes(body):
    source = HEADER + textwrap.dedent(body)
    return sorted(f.code for f in lint_text(source, all_rules()).findings)


@pytest.mark.parametrize("body", [
    "y = Net()(x).numpy()",
    "w = nn.Parameter(torch.ones(2))\ny = w.numpy()",
    "t = torch.ones(2, requires_grad=True)\ny = (t * 2 + 1)[0].numpy()",
    "t = torch.ones(2).requires_grad_()\ny = t.exp().numpy()",
    "m = Net()\nout = m.forward(x)\ny = torch.sigmoid(out).numpy()",
    "def f(model: nn.Module, x):\n    return model(x).numpy()",
    "with torch.no_grad():\n    pass\nout = Net()(x)\ny = out.numpy()",
    "with torch.no_grad():\n    with torch.enable_grad():\n        y = Net()(x).numpy()",
])
def test_requires_grad_evidence(body):
    assert codes(body) == ["TL201"]


@pytest.mark.parametrize("body", [
    "with torch.no_grad():\n    y = Net()(x).numpy()",
    "with torch.inference_mode():\n    out = Net()(x)\ny = out.numpy()",
    "@torch.no_grad()\ndef f(x):\n    return Net()(x).numpy()",
    "@torch.inference_mode()\ndef f(x):\n    return Net()(x).numpy()",
    "with torch.set_grad_enabled(False):\n    y = Net()(x).numpy()",
    "y = Net()(x).detach().numpy()",
    "y = Net()(x).argmax(1).numpy()",
    "y = (Net()(x) > 0).numpy()",
    "y = nn.ReLU()(torch.ones(2)).numpy()",
    "y = torch.ones(2).numpy()",
    "y = torch.tensor([1.0]).numpy()",
    "y = Net()(x).data.numpy()",
    "def f(out):\n    return out.numpy()",
    "for batch in loader:\n    y = batch.numpy()",
    "import numpy\ny = numpy.numpy()",
])
def test_no_grad_evidence_is_silent(body):
    assert codes(body) == []


@pytest.mark.parametrize("body", [
    "y = torch.ones(2).cuda().numpy()",
    "y = torch.ones(2, device='cuda:0').numpy()",
    "d = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\ny = torch.ones(2).to(d).numpy()",
    "y = torch.ones(2).to(device='cuda').float().numpy()",
    "def f(device='cuda'):\n    return torch.zeros(2, device=device).numpy()",
])
def test_cuda_evidence(body):
    assert codes(body) == ["TL201"]


@pytest.mark.parametrize("body", [
    "y = torch.ones(2).cuda().cpu().numpy()",
    "y = torch.ones(2).to('cpu').numpy()",
    "y = torch.ones(2).to(torch.float16).numpy()",
    "def f(device):\n    return torch.ones(2).to(device).numpy()",
])
def test_no_cuda_evidence_is_silent(body):
    assert codes(body) == []


@pytest.mark.parametrize("body", [
    "y = x.transpose(0, 1).view(-1)",
    "y = x.permute(2, 0, 1).float().view(-1)",
    "y = x.T.view(-1)",
    "y = x.mT.view(-1)",
    "y = x.expand(3, 4).view(-1)",
    "y = torch.transpose(x, 0, 1).view(-1)",
    "y = x.movedim(0, 1).view(-1)",
    "y = x[::2].view(-1)",
    "t = x.t()\nt = t * 2\ny = t.view(-1)",
    "y = x.permute(0, 2, 3, 1).view(b, h * w, c)",
    "y = x.t().view(12)",
    "y = x.t().view((-1, 4))",
])
def test_non_contiguous_evidence(body):
    assert codes(body) == ["TL202"]


@pytest.mark.parametrize("body", [
    "y = x.transpose(0, 1).contiguous().view(-1)",
    "y = x.transpose(0, 1).reshape(-1)",
    "y = x.view(-1)",
    "y = x.t().view(torch.float32)",
    "t = x.t()\nt = t.contiguous()\ny = t.view(-1)",
    "y = (x.t() + z).view(-1)",
    "y = x[1:3].view(-1)",
    # Found on torch's own sources: each of these works.
    "y = x.permute(1, 2, 0).view(torch.float4_e2m1fn_x2)",            # a dtype view
    "y = (x[::2] | x[1::2] << 4).view(-1)",                            # strided inputs: fresh result
    "q = x.view(n, b * h, d).transpose(0, 1)\ny = q.view(b, h, n, d)",  # splitting a dimension
    "y = x.transpose(-2, -1).view(nb, n // k, k, m // k, k)",
    "y = x.t().view(shape)",                                           # shape unknown
])
def test_contiguous_or_unknown_is_silent(body):
    assert codes(body) == []


@pytest.mark.parametrize("body, expected", [
    ("loss = F.cross_entropy(F.softmax(z, dim=1), y)", ["TL101"]),
    ("loss = nn.CrossEntropyLoss()(z.softmax(1), y)", ["TL101"]),
    ("c = nn.CrossEntropyLoss()\nm = Net()\nloss = c(m.probabilities(x), y)", []),  # method: not followed
    ("c = nn.CrossEntropyLoss()\nloss = c.forward(torch.softmax(z, 1), y)", ["TL101"]),
    ("loss = F.cross_entropy(F.log_softmax(z, dim=1), y)", ["TL102"]),
    ("loss = F.cross_entropy(z, y)", []),
    ("loss = F.cross_entropy(z, F.softmax(t, dim=1))", []),
    ("loss = F.nll_loss(F.log_softmax(z, dim=1), y)", []),
    ("loss = nn.BCELoss()(torch.sigmoid(z), y)", []),
])
def test_cross_entropy_inputs(body, expected):
    assert codes(body) == expected


def test_self_attribute_modules_are_followed():
    body = """
    class Trainer:
        def __init__(self):
            self.model = Net()
            self.criterion = nn.CrossEntropyLoss()

        def step(self, x, y):
            out = self.model(x)
            probs = F.softmax(out, dim=1)
            return self.criterion(probs, y), out.numpy()
    """
    assert codes(body) == ["TL101", "TL201"]
