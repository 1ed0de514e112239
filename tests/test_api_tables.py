"""The API tables: the shipped torch API table is current for the installed torch, the queries
answer from it, the deprecation table's entries apply by target version, and TorchFix-style
examples (written by us) are each reported by the torchlint rule that covers their TorchFix code."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from torchlint.analysis.api_table import close_names, edit_distance, torch_api
from torchlint.analysis.deprecations import deprecations
from torchlint.engine import lint_text
from torchlint.rule import LintOptions, all_rules, rule_by_code_or_name

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_table_matches_the_installed_torch():
    torch = pytest.importorskip("torch")
    shipped = json.loads(gzip.decompress((ROOT / "torchlint" / "data" / "torch_api.json.gz").read_bytes()))
    if shipped["torch_version"] != torch.__version__.split("+")[0]:
        pytest.skip(f"table is for torch {shipped['torch_version']}, installed is {torch.__version__}")
    # A fresh interpreter, as when the script is run by hand: what else is imported changes torch's namespaces.
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_api_table.py"), "--check"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_table_is_small():
    assert (ROOT / "torchlint" / "data" / "torch_api.json.gz").stat().st_size < 400_000


def test_queries():
    api = torch_api()
    assert api.exists("torch.cdist") and api.exists("torch.cdis") is False
    assert api.exists("torch.ops.aten.add") is None and api.exists("torch.float32.itemsize") is None
    assert api.kind("torch.nn") == "m" and api.kind("torch.nn.Linear") == "M" and api.kind("torch.cdist") == "f"
    assert {"in_features", "out_features", "bias"} <= api.keywords("torch.nn.Linear")
    assert {"keepdim", "keepdims", "axis", "dim"} <= api.keywords("torch.sum")  # the parser's aliases
    assert "requires_grad" in api.keywords("torch.normal")
    assert api.keywords("torch.load") is None  # takes **pickle_load_args
    assert close_names("is_avaliable", api.members("torch.cuda")) == ("is_available",)
    assert close_names("Relu", api.members("torch.nn")) == ("ReLU",)
    assert edit_distance("abcd", "abdc") == 1


def test_deprecation_table_is_well_formed():
    names = set()
    for entry in deprecations().entries:
        assert entry.kind in ("deprecated", "removed", "renamed")
        assert entry.fix in ("safe", "unsafe", "none") and entry.reason
        assert entry.rewrite in ("reference", "unwrap", "legacy-tensor", "byte-mask", "none")
        assert entry.kind != "removed" or entry.removed
        key = (entry.name, entry.keyword)
        assert key not in names, key
        names.add(key)
        if entry.library == "torch" and entry.keyword is None and entry.kind != "removed":
            assert entry.name.startswith(("torch.", "functorch.")), entry.name


def findings(code, target=None, vision=None):
    options = LintOptions(target_torch=target or (1, 0), target_torch_stated=target is not None,
                          target_torchvision=vision)
    return sorted((f.code, f.line) for f in lint_text(code, all_rules(), options=options).findings)


SOURCE = "import torch\nq = torch.qr(a)\nw = torch.nn.utils.weight_norm(m)\nx = torch.solve(b, a)\n"


def test_target_decides_what_applies():
    # No stated target: as for the current releases.
    assert findings(SOURCE) == [("TL603", 2), ("TL603", 3), ("TL604", 4)]
    # torch 1.13: weight_norm (deprecated in 2.1) is not reported; solve (removed in 1.13) is an error.
    assert findings(SOURCE, (1, 13)) == [("TL603", 2), ("TL604", 4)]
    # torch 1.10: solve still exists there, so it is a deprecation; qr was deprecated in 1.9.
    assert findings(SOURCE, (1, 10)) == [("TL603", 2), ("TL603", 4)]
    assert findings(SOURCE, (1, 8)) == [("TL603", 4)]


def test_target_torchvision():
    code = "import torchvision\nm = torchvision.models.resnet50(pretrained=True)\n"
    assert findings(code) == [("TL605", 2)]
    assert findings(code, vision=(0, 12)) == []


def test_target_torchvision_setting(cli, write, tmp_path):
    write("pyproject.toml", '[tool.torchlint]\ntarget-torchvision = "0.12"\n')
    write("a.py", "import torchvision\nm = torchvision.models.resnet50(pretrained=True)\n")
    assert cli("check", ".", cwd=tmp_path).code == 0


# TorchFix-style examples, one or more per TorchFix code, written for this test.
TORCHFIX_EXAMPLES = {
    "TOR001": "import torch\nx = torch.symeig(a)\n",
    "TOR002": "import torch\nfor p in net.parameters():\n    p.require_grad = False\n",
    "TOR003": "import torch.utils.checkpoint\ny = torch.utils.checkpoint.checkpoint(f, x)\n",
    "TOR004": "from torch import lstsq\n",
    "TOR101": "import torch\nw = torch.nn.utils.weight_norm(layer)\nwith torch.backends.cuda.sdp_kernel():\n    pass\n",
    "TOR102": "import torch\nsd = torch.load('model.pt')\n",
    "TOR103": "from torch.cuda.amp import autocast\n",
    "TOR104": "import torch\nb = torch.utils.data._utils.collate.default_collate(items)\n",
    "TOR105": "from torch.utils.data._utils.collate import default_convert\n",
    "TOR106": "import torch\ny = torch.log(1 + x)\n",
    "TOR107": "import torch\ny = torch.exp(x) - 1\n",
    "TOR108": "import torch\ny = torch.log(torch.sum(torch.exp(x), 1))\n",
    "TOR201": "from torchvision import models\nm = models.vgg16(pretrained=True)\n",
    "TOR202": "from torchvision.transforms import v2\nt = v2.ToTensor()\n",
}


def _torchfix_codes():
    from torchlint.data_files import parse_toml

    return parse_toml(str(ROOT / "torchlint" / "data" / "torchfix_codes.toml"))


@pytest.mark.parametrize("name", ["deprecations.toml", "libraries.toml", "torchvision_weights.toml",
                                  "torch_api.json.gz"])
def test_a_table_read_from_its_parsed_copy_is_the_table(name, tmp_path, monkeypatch):
    """torchlint/data_files.py: the copy kept beside the bytecode gives what the table says; an
    edited table (another size or time) is parsed again; an unwritable folder only costs time."""
    from torchlint import data_files

    expected = (data_files.parse_toml if name.endswith(".toml") else data_files._parse_json_gz)(
        str(ROOT / "torchlint" / "data" / name))
    monkeypatch.setattr(data_files, "PARSED", str(tmp_path / "parsed"))
    assert data_files.load_table(name) == expected  # parsed, then kept
    kept = list((tmp_path / "parsed").iterdir())
    assert len(kept) == 1 and kept[0].name.startswith(f"torchlint-data-{name}-")
    assert data_files.load_table(name) == expected  # from the copy
    copy = tmp_path / "data"
    copy.mkdir()
    (copy / name).write_bytes((ROOT / "torchlint" / "data" / name).read_bytes())
    os.utime(copy / name, ns=(1, 1))  # another modification time: the kept copy no longer matches
    monkeypatch.setattr(data_files, "DATA", str(copy))
    assert data_files.load_table(name) == expected
    assert len(list((tmp_path / "parsed").iterdir())) == 1  # the old copy is gone
    (tmp_path / "a-file").write_text("")
    monkeypatch.setattr(data_files, "PARSED", str(tmp_path / "a-file" / "parsed"))  # cannot be made
    assert data_files.load_table(name) == expected


def test_every_torchfix_code_is_mapped_to_real_rules():
    codes = _torchfix_codes()
    assert {"TOR001", "TOR002", "TOR003", "TOR004", "TOR101", "TOR102", "TOR103", "TOR104", "TOR105",
            "TOR106", "TOR107", "TOR108", "TOR201", "TOR202", "TOR203", "TOR401", "TOR402", "TOR901"} == set(codes)
    for row in codes.values():
        for code in row["torchlint"]:
            assert rule_by_code_or_name(code) is not None


@pytest.mark.parametrize("torchfix", sorted(TORCHFIX_EXAMPLES))
def test_torchfix_example_is_reported_by_the_mapped_rule(torchfix):
    expected = set(_torchfix_codes()[torchfix]["torchlint"])
    reported = {code for code, _ in findings(TORCHFIX_EXAMPLES[torchfix])}
    assert reported & expected, (torchfix, reported)


def test_historical_names_are_not_in_the_current_table():
    api = torch_api()
    for name in api.historical:
        if name.endswith("=)"):
            callable_name, keyword = name[:-2].split("(")
            assert keyword not in (api.keywords(callable_name) or ()), name
            continue
        parent, _, last = name.rpartition(".")
        assert last not in api.members(parent), f"{name} exists in torch {api.version}: drop it from the list"


EXAMPLES = {}
for _entry in deprecations().entries:  # entries listing several names share one example: the first name's
    if _entry.example:
        EXAMPLES.setdefault(_entry.example, _entry)


@pytest.mark.parametrize("entry", list(EXAMPLES.values()), ids=lambda e: e.name + (f"({e.keyword}=)" if e.keyword else ""))
def test_every_table_example_is_reported_and_its_replacement_is_not(entry):
    from torchlint.engine import fix_text

    code = "TL604" if entry.removed_for(None) else "TL603"
    bad = "import torch\n" + entry.example + "\n"
    fixed = "import torch\n" + entry.example_fixed + "\n"
    assert code in {c for c, _ in findings(bad)}, entry.name
    assert not {c for c, _ in findings(fixed)} & {"TL603", "TL604"}, entry.name
    if entry.fix != "none" and entry.rewrite != "none":
        assert fix_text(bad, all_rules(), unsafe=True).text == fixed, entry.name


def test_a_kept_table_of_another_python_is_left_alone(tmp_path, monkeypatch):
    """Two Pythons sharing one install each keep their own copy (marshal's format is the Python's)."""
    from torchlint import data_files

    monkeypatch.setattr(data_files, "PARSED", str(tmp_path))
    other = tmp_path / "torchlint-data-libraries.toml-1-2.cpython-399.marshal"
    other.write_bytes(b"")
    stale = tmp_path / f"torchlint-data-libraries.toml-1-2{data_files.MARSHAL_SUFFIX}"
    stale.write_bytes(b"")
    unnumbered = tmp_path / f"torchlint-data-libraries.toml-1-2.{sys.implementation.cache_tag}.marshal"
    unnumbered.write_bytes(b"")  # written by an earlier build of this Python version (no magic number)
    data_files.load_table("libraries.toml")
    assert other.exists() and not stale.exists() and not unnumbered.exists()
