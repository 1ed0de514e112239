"""TL502's fix is safe only when nothing the load may read holds objects that `weights_only=True`
refuses; otherwise it is unsafe or absent and the message says why. Loads that leave
`weights_only` out on purpose (a fallback for old torch, inside `safe_globals`) are not reported."""

import textwrap

import pytest

from torchlint.engine import lint_text
from torchlint.rule import all_rules


def tl502(source):
    findings = lint_text("import argparse\nimport torch\n" + textwrap.dedent(source), all_rules()).findings
    return [f for f in findings if f.code == "TL502"]


def test_no_saves_in_the_file_keeps_the_fix_safe():
    (finding,) = tl502("state = torch.load(p)\n")
    assert finding.fix.applicability == "safe"


@pytest.mark.parametrize("saved", [
    "{'model': model.state_dict(), 'optimizer': optimizer.state_dict(), 'epoch': epoch, 'lr': 0.1}",
    "model.state_dict()",
    "{k: v.cpu() for k, v in model.state_dict().items()}",
])
def test_saving_only_weights_keeps_the_fix_safe(saved):
    (finding,) = tl502(f"""
        model = torch.nn.Linear(2, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(3):
            torch.save({saved}, f"ckpt{{epoch}}.pt")
        state = torch.load(args.checkpoint)
    """)
    assert finding.fix.applicability == "safe"


def test_a_whole_module_saved_makes_the_fix_unsafe():
    (finding,) = tl502("""
        model = torch.nn.Linear(2, 2)
        torch.save({"model": model, "epoch": 1}, path)
        checkpoint = torch.load(path, map_location="cpu")
    """)
    assert finding.fix.applicability == "unsafe"
    assert "saves a whole module, `model`" in finding.message and "TL501" in finding.message


def test_other_refused_objects_leave_no_fix():
    (finding,) = tl502("""
        parser = argparse.ArgumentParser()
        args = parser.parse_args()
        torch.save({"args": args, "weights": torch.ones(2)}, path)
        run = torch.load(path)
    """)
    assert finding.fix is None
    assert "argparse Namespace, `args`" in finding.message and "safe_globals" in finding.message


def test_an_explicit_false_is_the_authors_decision():
    assert tl502("""
        torch.save(argparse.Namespace(lr=0.1), path)
        run = torch.load(path, weights_only=False)
    """) == []


def test_values_of_unknown_type_make_the_fix_unsafe():
    (finding,) = tl502("""
        def save(model, best_acc, path):
            torch.save({"state_dict": model.state_dict(), "best_acc": best_acc}, path)

        def resume(path):
            return torch.load(path)
    """)
    assert finding.fix.applicability == "unsafe"
    assert "`best_acc`, whose type is not known here" in finding.message


def test_a_save_to_another_literal_path_is_not_what_is_loaded():
    (finding,) = tl502("""
        model = torch.nn.Linear(2, 2)
        torch.save(model, "export.pt")
        weights = torch.load("pretrained.pt")
    """)
    assert finding.fix.applicability == "safe"


@pytest.mark.parametrize("source", [
    """
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except TypeError:
        state = torch.load(p, map_location="cpu")
    """,
    """
    try:
        state = torch.load(p, weights_only=True)
    except (TypeError, RuntimeError):
        state = torch.load(p)
    """,
    """
    with torch.serialization.safe_globals([argparse.Namespace]):
        run = torch.load(p)
    """,
    """
    from torch.serialization import safe_globals
    with safe_globals([argparse.Namespace]), open(p, "rb") as f:
        run = torch.load(f)
    """,
])
def test_weights_only_left_out_on_purpose_is_silent(source):
    assert tl502(source) == []


@pytest.mark.parametrize("source", [
    # falls back to unpickling everything when the weights-only load refuses the file
    "try:\n    s = torch.load(p, weights_only=True)\nexcept Exception:\n    s = torch.load(p)\n",
    # no weights-only attempt before the fallback
    "try:\n    s = open(p)\nexcept TypeError:\n    s = torch.load(p)\n",
    # after the handler, not in it
    "try:\n    s = torch.load(p, weights_only=True)\nexcept TypeError:\n    pass\ns = torch.load(p)\n",
])
def test_lookalike_fallbacks_are_reported(source):
    assert len(tl502(source)) == 1


@pytest.mark.parametrize("source", [
    "def test_round_trip(tmp_path):\n    path = tmp_path / 'ckpt.pt'\n    torch.save({'w': torch.ones(2)}, path)\n"
    "    assert torch.load(path)['w'].sum() == 2\n",
    "def test_literal(model):\n    torch.save(model.state_dict(), 'm.pt')\n    state = torch.load('m.pt')\n",
    "def test_attribute(self):\n    torch.save(self.obj, self.path)\n    return torch.load(self.path)\n",
    # a notebook's best checkpoint: saved to a literal file in the training loop, loaded later
    "best = float('inf')\nfor epoch in range(3):\n    loss = train()\n    if loss < best:\n"
    "        best = loss\n        torch.save(model.state_dict(), 'best.pt')\nstate = torch.load('best.pt')\n",
    # branches of an `if` in a loop: an earlier round saved it
    "for epoch in range(3):\n    if epoch == 0:\n        torch.save(model.state_dict(), 'm.pt')\n"
    "    else:\n        state = torch.load('m.pt')\n",
])
def test_a_file_the_same_code_has_just_written_is_silent(source):
    assert tl502(source) == []


@pytest.mark.parametrize("source", [
    # the save may not run before the load
    "def f(path, c):\n    if c:\n        torch.save(1, path)\n    return torch.load(path)\n",
    # the path was rebound in between
    "def f(path, other):\n    torch.save(1, path)\n    path = other\n    return torch.load(path)\n",
    # another function wrote it
    "def save(path):\n    torch.save(1, path)\n\ndef load(path):\n    return torch.load(path)\n",
    # another path
    "def f(a, b):\n    torch.save(1, a)\n    return torch.load(b)\n",
    # another literal file, or the literal file saved only after the load
    "for epoch in range(3):\n    torch.save(model.state_dict(), 'last.pt')\nstate = torch.load('best.pt')\n",
    "state = torch.load('best.pt')\nfor epoch in range(3):\n    torch.save(model.state_dict(), 'best.pt')\n",
    # the other branch of the same `if`: a run that loads never saved (downloaded weights, maybe)
    "if args.train:\n    torch.save(model.state_dict(), 'model.pt')\nelse:\n    state = torch.load('model.pt')\n",
])
def test_files_written_elsewhere_are_reported(source):
    assert len(tl502(source)) == 1


@pytest.mark.parametrize("source, evidence", [
    ("quantizers = torch.load(p)\nq = torch.from_numpy(quantizers[n_units])\n", "numpy arrays"),
    ("batch = torch.load(p)\ninputs = [torch.from_numpy(i) for i in batch]\n", "numpy arrays"),
    ("ckpt = torch.load(p)\nfield = ckpt['vocab']['src']\nnames = field.fields\n", "objects with attributes"),
    ("ckpt = torch.load(p)\ncfg = ckpt['cfg']\nprint(cfg.task)\n", "objects with attributes"),
])
def test_uses_that_show_non_tensor_content_leave_no_fix(source, evidence):
    (finding,) = tl502(source)
    assert finding.fix is None and evidence in finding.message


@pytest.mark.parametrize("source", [
    "state = torch.load(p)\nprint(state['w'].shape, state['w'].dtype)\n",
    "state = torch.load(p)\nw = state['w'].float().numpy()\n",
    "state = torch.load(p)\nfor k, v in state.items():\n    print(k)\n",
])
def test_tensor_and_container_uses_keep_the_fix_safe(source):
    (finding,) = tl502(source)
    assert finding.fix.applicability == "safe"
