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
    # parameters carry gradients, under no_grad too
    "layer = nn.Linear(2, 2)\ny = layer.weight.numpy()",
    "with torch.no_grad():\n    y = nn.Conv2d(1, 1, 3).bias.numpy()",
    "layer = nn.Linear(2, 2)\ndef weight():\n    return layer.weight\nwith torch.no_grad():\n    w = weight()\ny = w.numpy()",
    "m = Net()\nfor p in m.parameters():\n    y = p.numpy()",
    "m = Net()\nfor name, p in m.named_parameters():\n    y = p.numpy()",
    "class Scaled(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.w = nn.Parameter(torch.ones(2))\ny = Scaled().w.numpy()",
    # `.cpu()` keeps the gradient history
    "y = Net()(x).cpu().numpy()",
])
def test_parameters_require_grad(body):
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
    # computed under no_grad by a function of this file: its return is followed, the grad mode is the call's
    "def value(x):\n    return Net()(x)\nwith torch.no_grad():\n    v, w = value(x), value(x)\ny = v.numpy()",
])
def test_no_grad_evidence_is_silent(body):
    assert codes(body) == []


@pytest.mark.parametrize("body", [
    "norm = nn.BatchNorm1d(2)\ny = norm.running_mean.numpy()",  # a buffer
    "layer = nn.Linear(2, 2)\nlayer.weight.requires_grad = False\ny = layer.weight.numpy()",  # frozen
    "m = Net()\nm.requires_grad_(False)\nfor p in m.parameters():\n    y = p.numpy()",
    "m = Net()\nfor b in m.buffers():\n    y = b.numpy()",
    # a module class that visibly holds no parameters: its output needs grad only if its input does
    "class Scale(nn.Module):\n    def __init__(self, k):\n        super().__init__()\n        self.k = k\n"
    "    def forward(self, x):\n        return x * self.k\ny = Scale(2)(torch.ones(2)).numpy()",
])
def test_parameters_buffers_and_frozen_are_silent(body):
    assert codes(body) == []


@pytest.mark.parametrize("body", [
    "y = torch.ones(2).cuda().numpy()",
    "y = torch.ones(2, device='cuda:0').numpy()",
    "d = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\ny = torch.ones(2).to(d).numpy()",
    "y = torch.ones(2).to(device='cuda').float().numpy()",
    "def f(device='cuda'):\n    return torch.zeros(2, device=device).numpy()",
    # a device the file does not show may be CUDA: the value is used as a device
    "def f(device):\n    return torch.ones(2).to(device).numpy()",
    "def f(rank):\n    return torch.ones(2).to(f'cuda:{rank}').numpy()",
])
def test_cuda_evidence(body):
    assert codes(body) == ["TL201"]


@pytest.mark.parametrize("body", [
    "y = torch.ones(2).cuda().cpu().numpy()",
    "y = torch.ones(2).to('cpu').numpy()",
    "y = torch.ones(2).to(torch.float16).numpy()",
    "def f(dtype: torch.dtype):\n    return torch.ones(2).to(dtype).numpy()",
    "def f(x, dtype=torch.float64):\n    return torch.ones(2).to(dtype).numpy()",
    "def f(x, kind):\n    y = torch.zeros(2, dtype=kind)\n    return torch.ones(2).to(kind).numpy()",
    "def f(x):\n    return torch.ones(2).to(x.dtype).numpy()",
    "def f(device):\n    return torch.ones(2).to(device).cpu().numpy()",
])
def test_no_cuda_evidence_is_silent(body):
    assert codes(body) == []


# ---------------------------------------------------------------------- layout
# Each case: the code (it computes `y`), the inputs it runs on, and whether the view is reported.
# The test runs it with torch: a reported view raises "view size is not compatible", a silent one works.
LAYOUT_CASES = [
    # reported
    ("y = x.transpose(0, 1).view(-1)", "x = torch.randn(3, 4)", True),
    ("if c:\n    a = torch.randn(2, 3, 4)\nelse:\n    a = torch.zeros(2, 3, 4, 5)\ny = a.transpose(1, 2).view(b, -1)",
     "c = True; b = 2", True),
    ("y = x.transpose(1, 2).view(b, -1)", "x = torch.randn(2, 3, 4); b = 2", True),
    ("y = (a @ v).transpose(1, 2).view(B, N, H * D)",
     "a = torch.randn(2, 3, 5, 5); v = torch.randn(2, 3, 5, 4); B, H, N, D = 2, 3, 5, 4", True),
    ("q = x.view(b, n, h, d)\ny = q.transpose(1, 2).view(b * h, n, d)",
     "x = torch.randn(2, 5, 12); b, n, h, d = 2, 5, 3, 4", True),
    ("y = x.permute(0, 2, 3, 1).view(x.size(0), -1)", "x = torch.randn(2, 3, 4, 5)", True),
    ("y = x.permute(0, 2, 3, 1).view(b, h, -1)", "x = torch.randn(2, 3, 4, 5); b, h = 2, 4", True),
    # a split dim whose rest goes into the -1, merged with the next (swapped) dim: frames x mels
    ("y = x.transpose(1, 2).view(b, t // n, -1)", "x = torch.randn(2, 4, 6); b, t, n = 2, 6, 2", True),
    ("y = x.transpose(1, 2).view(x.size(0), int(x.size(2) / n), -1)", "x = torch.randn(2, 4, 6); n = 2", True),
    ("y = x.permute(2, 0, 1).float().view(-1)", "x = torch.randn(2, 3, 4)", True),
    ("y = torch.permute(x, (0, 2, 1)).view(b, -1)", "x = torch.randn(2, 3, 4); b = 2", True),
    ("y = x.T.view(-1)", "x = torch.randn(3, 4)", True),
    ("y = x.mT.view(-1)", "x = torch.randn(2, 3, 4)", True),
    ("y = torch.transpose(x, 0, 1).view(-1)", "x = torch.randn(3, 4)", True),
    ("y = x.swapaxes(0, 1).view(-1)", "x = torch.randn(3, 4)", True),
    ("y = x.movedim(0, 1).view(-1)", "x = torch.randn(3, 4)", True),
    ("y = x.t().view(12)", "x = torch.randn(3, 4)", True),
    ("y = x.expand(3, 4).view(-1)", "x = torch.randn(1, 4)", True),
    ("y = pos.expand(b, -1, -1).view(-1, d)", "pos = torch.randn(1, 3, 4); b, d = 2, 4", True),
    ("y = x[::2].view(-1)", "x = torch.randn(4, 6)", True),
    ("y = x.narrow(1, 0, 2).view(-1)", "x = torch.randn(3, 4)", True),
    # element-wise results and comparisons keep the layout of their first tensor operand
    ("t = x.t()\nt = t * 2\ny = t.view(-1)", "x = torch.randn(3, 4)", True),
    ("y = (x.t() + z).view(-1)", "x = torch.randn(3, 4); z = torch.randn(4, 3)", True),
    ("y = (x.t() > 0).view(-1)", "x = torch.randn(3, 4)", True),
    ("y = F.relu(x.t()).view(-1)", "x = torch.randn(3, 4)", True),
    ("y = x.t().eq(z).detach().view(-1)", "x = torch.randn(3, 4); z = torch.randn(4, 3)", True),
    # the top-k accuracy idiom: a prefix slice keeps the transposed layout
    ("_, pred = out.topk(5, 1, True, True)\npred = pred.t()\n"
     "correct = pred.eq(target.view(1, -1).expand_as(pred))\ny = correct[:5].view(-1).float().sum(0)",
     "out = torch.randn(8, 10); target = torch.randint(0, 10, (8,))", True),
    # silent: each of these works
    ("y = x.transpose(0, 1).contiguous().view(-1)", "x = torch.randn(3, 4)", False),
    ("y = x.view(-1)", "x = torch.randn(3, 4)", False),
    ("t = x.t()\nt = t.contiguous()\ny = t.view(-1)", "x = torch.randn(3, 4)", False),
    ("y = x.t().view(torch.int32)", "x = torch.randn(3, 4)", False),
    ("y = x.permute(1, 2, 0).view(torch.int32)", "x = torch.randn(2, 3, 4)", False),
    ("y = x.transpose(1, 2).view(-1, c, h, w)", "x = torch.randn(2, 12, 3); c, h, w = 3, 3, 4", False),
    ("y = x.transpose(1, 2).view(b, -1, h, w)", "x = torch.randn(2, 12, 3); b, h, w = 2, 3, 4", False),
    ("y = x.transpose(1, 2).view(b, c, h, w)", "x = torch.randn(2, 12, 3); b, c, h, w = 2, 3, 3, 4", False),
    ("y = x.permute(0, 2, 3, 1).view(b, h * w, c)", "x = torch.randn(2, 3, 4, 5); b, h, w, c = 2, 4, 5, 3", False),
    ("y = x.permute(0, 2, 3, 1).view(b, -1, c)", "x = torch.randn(2, 3, 4, 5); b, c = 2, 3", False),
    ("y = x.permute(0, 3, 1, 2).view(b, -1, h * w)", "x = torch.randn(2, 4, 5, 3); b, h, w = 2, 4, 5", False),
    ("y = x[:, :, ::2].view(b * n, -1)", "x = torch.randn(2, 3, 8); b, n = 2, 3", False),
    ("y = x[..., ::2].view(b * n, -1)", "x = torch.randn(2, 3, 8); b, n = 2, 3", False),
    ("y = x[1:3].view(-1)", "x = torch.randn(4, 6)", False),
    ("y = x.narrow(1, 0, 2).view(-1, 1, 2)", "x = torch.randn(3, 4)", False),
    ("y = x.transpose(1, 2).view(b, t // n, n, -1)", "x = torch.randn(2, 4, 6); b, t, n = 2, 6, 2", False),
    # a -1 that can be one dimension: the view may merge nothing (here it reproduces the shape)
    ("y = tokens[:, :k].view(-1, k)", "tokens = torch.randn(3, 6); k = 4", False),
    ("y = x.t().view(-1, n)", "x = torch.randn(4, 3); n = 4", False),
    # a lone argument that is a whole shape, not one size
    ("q = x.transpose(0, 1)\ny = q.view((b, -1, h) + q.size()[1:])",
     "x = torch.randn(5, 6, 4); b, h = 2, 3", False),
    ("y = x.t()[0].view(-1)", "x = torch.randn(3, 4)", False),
    ("y = pos.expand(b, -1, -1).view(b, -1)", "pos = torch.randn(1, 3, 4); b = 2", False),
    ("y = (z + x.t()).view(-1)", "x = torch.randn(3, 4); z = torch.randn(4, 3)", False),
    ("y = x.t().masked_fill(x.t() > 0, 0.0).view(-1)", "x = torch.randn(3, 4)", False),
    ("y = x.t().softmax(-1).view(-1)", "x = torch.randn(3, 4)", False),
    ("y = (x[::2] | x[1::2] << 4).view(-1)", "x = torch.randint(0, 9, (4, 6))", False),
    ("q = x.view(n, b * h, d).transpose(0, 1)\ny = q.view(b, h, n, d)",
     "x = torch.randn(5, 6, 4); n, b, h, d = 5, 2, 3, 4", False),
    ("y = x.transpose(-2, -1).view(nb, n // k, k, m // k, k)",
     "x = torch.randn(2, 4, 6); nb, n, m, k = 2, 6, 4, 2", False),
]


@pytest.mark.parametrize("body, inputs, reported", LAYOUT_CASES, ids=[c[0] for c in LAYOUT_CASES])
def test_layout_facts_agree_with_torch(body, inputs, reported):
    torch = pytest.importorskip("torch")
    assert codes(body) == (["TL202"] if reported else [])
    env = {"torch": torch, "F": torch.nn.functional}
    exec(inputs, env)
    if reported:
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            exec(body, env)
    else:
        exec(body, env)


@pytest.mark.parametrize("body", [
    "y = x.t().view(shape)",                       # the shape is unknown
    "y = x.t().view(*sizes)",
    "y = x.permute(*order).view(b, -1)",           # a permutation not written out: only flattening is sure
    "def f(x: torch.Tensor):\n    return x.view(-1)",
    "for x in loader:\n    y = x.transpose(1, 2)[0].view(-1)",
])
def test_unknown_layout_or_shape_is_silent(body):
    assert codes(body) == []


def test_submodule_named_like_a_tensor_method_is_not_one():
    body = """
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.t = nn.Linear(4, 4)
            self.T = 2.0

        def forward(self, x):
            return self.t(x).view(-1), (x / self.T).view(-1)
    """
    assert codes(body) == []


def _query(source):
    """The analysis of `source` and where its last statement is, to ask it directly."""
    import libcst as cst

    from torchlint.analysis import ModuleAnalysis

    module = cst.parse_module(textwrap.dedent(source))
    analysis = ModuleAnalysis(module)
    last = module.body[-1]
    return analysis, last.body[0].value, (analysis.index.module_scope, analysis.index.statements[id(last)])


def test_layouts_query_follows_transposes_through_names():
    analysis, expr, where = _query("t = x.transpose(1, 2)\nu = t * 2\nu\n")
    (found,) = analysis.tensors.layouts(expr, where)
    assert found.breaks() == {0, 1} and found.breaks(4) == {0, 1, 2}
    assert not found.view_may_fail((0, 1, 1, 1)) and found.view_may_fail((1, 0))


def test_layouts_query_is_none_without_evidence():
    for source in ("x\n", "x.view(2, 3)\n", "x.t().contiguous()\n", "(y + x.t())\n"):
        analysis, expr, where = _query(source)
        assert analysis.tensors.layouts(expr, where) is None, source


def test_layout_model():
    from torchlint.analysis.layout import FULL, MERGE_REST, RANGE, STEP, contiguous

    channels_last = contiguous(4).permuted((0, 2, 3, 1))
    assert channels_last.breaks() == {0, 2}
    assert not channels_last.view_may_fail((1, 2, 1)) and channels_last.view_may_fail((1, MERGE_REST))
    assert contiguous().sliced([FULL, FULL, STEP]).breaks(4) == {2}   # a gap after the strided dim
    assert contiguous().sliced([FULL, RANGE]).breaks() == {0}         # the outer dim steps over the cut
    assert contiguous().matrix_transposed().element_wise().sliced([RANGE]).view_may_fail((MERGE_REST,))
    assert contiguous(3).expanded([False, True, True]).breaks() == {0}


@pytest.mark.parametrize("body, expected", [
    ("loss = F.cross_entropy(F.softmax(z, dim=1), y)", ["TL101"]),
    ("loss = nn.CrossEntropyLoss()(z.softmax(1), y)", ["TL101"]),
    ("c = nn.CrossEntropyLoss()\nm = Net()\nloss = c(m.probabilities(x), y)", []),  # method: not followed
    ("c = nn.CrossEntropyLoss()\nloss = c.forward(torch.softmax(z, 1), y)", ["TL101"]),
    ("loss = F.cross_entropy(F.log_softmax(z, dim=1), y)", ["TL102"]),
    ("loss = F.cross_entropy(z, y)", []),
    ("loss = F.cross_entropy(z, F.softmax(t, dim=1))", []),
    ("loss = F.nll_loss(F.log_softmax(z, dim=1), y)", []),
    ("loss = nn.BCELoss()(torch.sigmoid(z), y)", ["TL104"]),
    ("loss = F.binary_cross_entropy_with_logits(z.sigmoid(), y)", ["TL103"]),
    ("loss = F.binary_cross_entropy_with_logits(z, torch.sigmoid(t))", []),  # soft targets
    # The same values in another shape, place or copy are still the activation's output ...
    ("loss = F.cross_entropy(F.softmax(z, dim=1).view(-1, 5), y)", ["TL101"]),
    ("loss = F.binary_cross_entropy(torch.sigmoid(z).squeeze(1).to(device), y)", ["TL104"]),
    # ... other values, or another dtype's, are not.
    ("loss = F.binary_cross_entropy(torch.sigmoid(z).clamp(1e-6, 1 - 1e-6), y)", []),
    ("loss = F.binary_cross_entropy(torch.sigmoid(z).to(torch.long), y)", []),
    ("loss = F.binary_cross_entropy(torch.sigmoid(z).to(device, dtype=d), y)", []),
])
def test_cross_entropy_inputs(body, expected):
    assert codes(body) == expected


@pytest.mark.parametrize("change", ["p[mask] = 0.0", "p.masked_fill_(mask, 0.0)", "z.mul_(2)"])
def test_an_activation_output_changed_in_place_offers_no_fix(change):
    """The logits no longer give the values the loss receives."""
    body = f"def f(z, y, mask):\n    p = torch.sigmoid(z)\n    {change}\n    return F.binary_cross_entropy(p, y)"
    [found] = lint_text(HEADER + body + "\n", all_rules()).findings
    assert found.code == "TL104" and found.fix is None
    unchanged = "def f(z, y, mask):\n    p = torch.sigmoid(z)\n    print(p.sum())\n    return F.binary_cross_entropy(p, y)"
    [found] = lint_text(HEADER + unchanged + "\n", all_rules()).findings
    assert found.fix is not None


def test_a_reshaped_activation_output_offers_no_fix():
    """Its input is not what the loss would need (it has the other shape): the fix would be wrong."""
    for body in ("def f(z, y):\n    p = F.softmax(z, dim=1).view(-1, 5)\n    return F.cross_entropy(p, y)",
                 "def f(z, y):\n    p = torch.sigmoid(z).squeeze(1)\n    return F.binary_cross_entropy(p, y)"):
        [found] = lint_text(HEADER + body + "\n", all_rules()).findings
        assert found.fix is None, body


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
