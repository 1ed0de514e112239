"""Property-based tests: random small PyTorch programs mixing pitfalls and near-misses.

For every generated program, fixing (unsafe fixes included) produces code that parses, a second
fix changes nothing, no fixable finding survives, and programs made only of near-misses stay
silent and untouched."""

import libcst as cst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torchlint.engine import fix_text, lint_text
from torchlint.rule import all_rules

HEADER = """import time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.fc(self.drop(x))

"""

# Statement templates; {v} is a fresh variable name, {m} a model, {x} an input tensor name.
PITFALLS = [
    "{v} = {m}({x}).numpy()",
    "{v} = F.cross_entropy(F.softmax({m}({x}), dim=1), y)",
    "{v} = F.cross_entropy(F.log_softmax({m}({x}), dim=1), y)",
    "{v} = {x}.transpose(0, 1).view(-1)",
    "{v} = {x}.permute(1, 0).view(-1)",
    "torch.save({m}, 'model.pt')",
    "{v} = torch.load('weights.pt')",
    "{v} = torch.ones(3, device='cuda').numpy()",
]
NEAR_MISSES = [
    "{v} = {m}({x}).detach().cpu().numpy()",
    "{v} = F.cross_entropy({m}({x}), y)",
    "{v} = F.nll_loss(F.log_softmax({m}({x}), dim=1), y)",
    "{v} = {x}.transpose(0, 1).contiguous().view(-1)",
    "{v} = {x}.permute(1, 0).reshape(-1)",
    "torch.save({m}.state_dict(), 'model.pt')",
    "{v} = torch.load('weights.pt', weights_only=True)",
    "{v} = {m}({x}).argmax(dim=1).numpy()",
    "{v} = torch.ones(3).numpy()",
    "{v} = F.softmax({m}({x}), dim=1)",
]


@st.composite
def programs(draw, templates, evaluating=False):
    """`evaluating`: the model is put in eval mode first, as correct evaluation code does."""
    chosen = draw(st.lists(st.sampled_from(templates), min_size=1, max_size=8))
    wrap = draw(st.sampled_from(["module", "function", "no_grad", "loop"]))
    lines = ["model = Net()", "x = torch.randn(2, 4)", "y = torch.tensor([0, 1])"]
    if evaluating:
        lines.insert(1, "model.eval()")
    for index, template in enumerate(chosen):
        lines.append(template.format(v=f"v{index}", m="model", x="x"))
    if wrap == "module":
        body = "\n".join(lines)
    else:
        head = {"function": "def run():", "no_grad": "def run():\n    with torch.no_grad():",
                "loop": "def run():\n    for step in range(3):"}[wrap]
        indent = "        " if wrap != "function" else "    "
        body = head + "\n" + "\n".join(indent + line for line in lines)
    return HEADER + body + "\n"


RULES = all_rules()
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(programs(PITFALLS + NEAR_MISSES))
def test_fixing_parses_is_idempotent_and_complete(source):
    fixed = fix_text(source, RULES, unsafe=True)
    cst.parse_module(fixed.text)
    assert not fixed.failed
    again = fix_text(fixed.text, RULES, unsafe=True)
    assert again.text == fixed.text and again.fixed == 0
    assert not [f for f in lint_text(fixed.text, RULES).findings if f.fix is not None]


@SETTINGS
@given(programs(NEAR_MISSES, evaluating=True))
def test_near_misses_stay_clean(source):
    assert lint_text(source, RULES).findings == []
    assert fix_text(source, RULES, unsafe=True).text == source
