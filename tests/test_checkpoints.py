"""What `torch.save` puts in a file, judged by what `torch.load(weights_only=True)` accepts
(analysis/checkpoints.py), each verdict checked against torch itself."""

import io
import pickle
import sys
import textwrap
import types

import libcst as cst
import pytest

from torchlint.analysis import ModuleAnalysis
from torchlint.analysis.checkpoints import REFUSED, UNKNOWN, WEIGHTS, CheckpointFacts

HEADER = """
import argparse
import numpy as np
import torch
from torch import nn

model = nn.Linear(2, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
args = parser.parse_args([])
t = torch.randn(3)
"""

CASES = [
    ("", "model.state_dict()", WEIGHTS),
    ("", "{'model': model.state_dict(), 'optimizer': optimizer.state_dict(), 'epoch': 3, 'lr': args.lr}", WEIGHTS),
    ("", "[torch.ones(2), (1, 'a'), None, True, 2.5, b'x']", WEIGHTS),
    ("", "{'t': t, 'mean': t.mean().item(), 'shape': t.shape, 'dtype': t.dtype, 'list': t.tolist()}", WEIGHTS),
    ("", "{k: v.cpu() for k, v in model.state_dict().items()}", WEIGHTS),
    ("", "vars(args)", WEIGHTS),
    ("", "torch.get_rng_state()", WEIGHTS),
    ("out = model(torch.ones(2))", "{'out': out}", WEIGHTS),                 # a tensor: analysis.kind says so
    ("def make():\n    return torch.optim.Adam(model.parameters())\nopt = make()", "opt", REFUSED),
    ("", "{'loss': torch.nn.functional.mse_loss(t, t), 'norm': torch.linalg.norm(t)}", WEIGHTS),
    ("for epoch in range(3):\n    pass", "{'epoch': epoch + 1, 'state_dict': model.state_dict()}", WEIGHTS),
    ("state = torch.load(source, weights_only=True)", "state['model']", WEIGHTS),
    ("", "model", REFUSED),
    ("", "{'model': model, 'epoch': 3}", REFUSED),
    ("", "optimizer", REFUSED),
    ("", "args", REFUSED),
    ("", "{'args': args, 'model': model.state_dict()}", REFUSED),
    ("", "np.zeros(3)", REFUSED),
    ("", "t.numpy()", REFUSED),
    ("class Config:\n    lr = 0.1", "Config()", REFUSED),
    ("flag = True", "model if flag else model.state_dict()", REFUSED),
    ("def best():\n    return 0.5", "{'best': best()}", WEIGHTS),
    ("ckpt = torch.load(source)", "ckpt", UNKNOWN),
    ("def save(obj, path):\n    torch.save(obj, path)\n", None, UNKNOWN),
]


def _judgements(source):
    module = cst.parse_module(source)
    return [s.judgement for s in CheckpointFacts(ModuleAnalysis(module)).saves()]


@pytest.mark.parametrize("setup, saved, verdict", CASES, ids=[c[1] or c[0] for c in CASES])
def test_verdicts_agree_with_torch(setup, saved, verdict, tmp_path):
    torch = pytest.importorskip("torch")
    source = HEADER + textwrap.dedent(setup) + "\n" + (f"torch.save({saved}, path)\n" if saved else "")
    (judgement,) = _judgements(source)
    assert judgement.verdict == verdict, judgement
    assert (judgement.reason == "") == (verdict == WEIGHTS)
    if saved is None or verdict == UNKNOWN:
        return
    source_file = tmp_path / "source.pt"
    torch.save({"model": torch.nn.Linear(2, 2).state_dict()}, source_file)
    buffer = io.BytesIO()
    case = types.ModuleType("checkpoint_case")  # importable, so its classes pickle
    case.__dict__.update(path=buffer, source=source_file)
    sys.modules[case.__name__] = case
    try:
        exec(source, case.__dict__)
    finally:
        del sys.modules[case.__name__]
    buffer.seek(0)
    if verdict == WEIGHTS:
        torch.load(buffer, weights_only=True)
    else:
        with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
            torch.load(buffer, weights_only=True)


def test_reasons_name_what_is_saved():
    source = HEADER + "torch.save({'args': args, 'net': model}, path)\ndef f(best):\n    torch.save(best, p)\n"
    first, second = _judgements(source)
    assert first.verdict == REFUSED and ("`args`" in first.reason or "`model`" in first.reason)
    assert second.verdict == UNKNOWN and "`best`" in second.reason


def test_the_query_relates_saves_to_a_load_by_literal_path():
    source = HEADER + "torch.save(model, 'model.pt')\nx = torch.load('weights.pt')\ny = torch.load(p)\n"
    module = cst.parse_module(source)
    facts = CheckpointFacts(ModuleAnalysis(module))
    loads = [n for n in _calls(module) if isinstance(n.func, cst.Attribute) and n.func.attr.value == "load"]
    assert facts.refused_by_weights_only(loads[0]) == []
    (saved,) = facts.refused_by_weights_only(loads[1])
    assert saved.refused


def _calls(module):
    found = []

    class Collect(cst.CSTVisitor):
        def visit_Call(self, node):
            found.append(node)

    module.visit(Collect())
    return found
