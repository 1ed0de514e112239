"""Jupyter notebooks: code cells in order are one module; magics masked; positions by cell;
--fix rewrites only the fixed cells' sources, byte for byte elsewhere."""

import json

import pytest

from torchlint.documents.magics import mask, syntax_error
from torchlint.documents.notebook import NotebookDocument


def cell(source, count=None, outputs=()):
    return {"cell_type": "code", "execution_count": count, "metadata": {"tags": ["x"]},
            "outputs": list(outputs), "source": source}


def notebook(*cells, indent=1):
    data = {"cells": list(cells), "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                              "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(data, indent=indent, ensure_ascii=False) + "\n"


MARKDOWN_CELL = {"cell_type": "markdown", "metadata": {}, "source": ["# Training – notes\n"]}
OUTPUT = {"name": "stdout", "output_type": "stream", "text": ["épоch 1\n"]}


def test_magics_are_masked_by_python_of_the_same_length():
    code = "%%capture\nimport torch\n!pip install torch\nfiles = !ls\n?torch.load\ntorch.load?\n%time y = f(x)\n"
    masked, restores = mask(code)
    assert syntax_error(masked) is None
    assert [len(line) for line in masked.splitlines()] == [len(line) for line in code.splitlines()]
    assert "y = f(x)" in masked.splitlines()[6]  # the statement a line magic runs is still linted
    assert restores  # and the magic comes back when a fix changes that line


def test_a_non_python_cell_magic_masks_the_whole_cell():
    masked, _ = mask("%%bash\nls -la | wc -l\n")
    assert syntax_error(masked) is None and masked.startswith("#")


def test_cells_are_one_module_and_positions_name_the_cell(write, cli):
    path = write("nb.ipynb", notebook(
        MARKDOWN_CELL,
        cell(["import torch\n", "%matplotlib inline"], 1),
        cell(["!pip install torch\n", "files = !ls\n", "state = torch.load('w.pt')"], 2, [OUTPUT]),
    ))
    result = cli("check", "--no-cache", path, cwd=path.parent)
    assert result.code == 1
    assert "nb.ipynb:cell 3:3:9: TL502" in result.out
    assert "  3 | state = torch.load('w.pt')" in result.out
    assert "TL001" not in result.out


def test_without_the_import_cell_the_name_is_not_torch(write, cli):
    path = write("nb.ipynb", notebook(cell(["state = torch.load('w.pt')"])))
    assert cli("check", "--no-cache", path, cwd=path.parent).code == 0


def test_a_cell_that_does_not_parse_is_one_tl001_and_the_others_are_linted(write, cli):
    path = write("nb.ipynb", notebook(cell(["import torch\n"]), cell(["def broken(:\n", "    pass"]),
                                      cell(["torch.load('w.pt')"])))
    result = cli("check", "--no-cache", "--output-format", "json", path, cwd=path.parent)
    items = json.loads(result.out)
    assert [(i["code"], i["cell"], i["location"]["row"]) for i in items] == [("TL001", 2, 1), ("TL502", 3, 1)]


def test_sarif_and_github_point_at_the_notebook(write, cli):
    path = write("nb.ipynb", notebook(cell(["import torch\n", "torch.load('w.pt')"])))
    sarif = json.loads(cli("check", "--no-cache", "--output-format", "sarif", path, cwd=path.parent).out)
    location = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "nb.ipynb" and "region" not in location
    assert sarif["runs"][0]["results"][0]["message"]["text"].startswith("cell 1:2:1: ")
    github = cli("check", "--no-cache", "--output-format", "github", path, cwd=path.parent).out
    assert github.startswith("::error file=") and "nb.ipynb,title=" in github and "::cell 1:2:1: TL502" in github


def test_fix_changes_only_the_fixed_cells_source(write, cli):
    for indent in (1, 2):
        before = notebook(MARKDOWN_CELL, cell(["import torch\n", "%time m = torch.load('m.pt')\n", "x = 1"], 7, [OUTPUT]),
                          cell(["y = torch.load('w.pt')  # keep me"], 8), indent=indent)
        path = write(f"nb{indent}.ipynb", before)
        result = cli("check", "--no-cache", "--fix", path, cwd=path.parent)
        assert result.code == 0, result.out
        expected = before.replace("torch.load('m.pt')", "torch.load('m.pt', weights_only=True)").replace(
            "torch.load('w.pt')", "torch.load('w.pt', weights_only=True)")
        assert path.read_bytes() == expected.encode("utf-8")


def test_noqa_in_a_cell_and_per_file_ignores_of_the_notebook(write, cli):
    path = write("nbs/a.ipynb", notebook(cell(["import torch\n", "torch.load('w.pt')  # noqa: TL502"])))
    assert cli("check", "--no-cache", path, cwd=path.parent).code == 0
    write("pyproject.toml", '[tool.torchlint]\nper-file-ignores = { "nbs/*.ipynb" = ["TL502"] }\n')
    other = write("nbs/b.ipynb", notebook(cell(["import torch\n", "torch.load('w.pt')"])))
    assert cli("check", "--no-cache", other, cwd=other.parent.parent).code == 0


def test_folder_walks_check_notebooks(write, cli):
    path = write("pkg/nb.ipynb", notebook(cell(["import torch\n", "torch.load('w.pt')"])))
    result = cli("check", "--no-cache", "pkg", cwd=path.parent.parent)
    assert "pkg/nb.ipynb:cell 1:2:1: TL502" in result.out


def test_a_notebook_that_is_not_json_is_one_tl001(write, cli):
    path = write("nb.ipynb", "{not json")
    result = cli("check", "--no-cache", path, cwd=path.parent)
    assert "TL001 cannot read notebook: invalid JSON" in result.out


def test_cells_of_another_language_are_not_python():
    text = json.dumps({"cells": [cell(["library(x)"])], "metadata": {"kernelspec": {"language": "R"}},
                       "nbformat": 4, "nbformat_minor": 5})
    assert NotebookDocument.parse(text).units == []


def test_a_fix_that_inserts_statements_stays_in_its_cell(write, cli):
    """TL401 across cells: the tensor is made on CUDA in cell 1, timed in cell 2; the inserted
    synchronisations land in cell 2, and cell 1 (and the magic cell) are left as they were."""
    before = notebook(cell(["import time\n", "import torch\n", "x = torch.randn(8, 8, device='cuda')\n"]),
                      cell(["start = time.time()\n", "y = x @ x\n", "end = time.time()\n", "print(end - start)"]),
                      cell(["%%time\n", "z = x @ x"]))
    path = write("t.ipynb", before)
    assert "t.ipynb:cell 2:3:7: TL401" in cli("check", "--no-cache", path, cwd=path.parent).out
    cli("check", "--no-cache", "--fix", "--unsafe-fixes", path, cwd=path.parent)
    cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
    assert cells[0] == "import time\nimport torch\nx = torch.randn(8, 8, device='cuda')\n"
    assert cells[1].endswith("y = x @ x\ntorch.cuda.synchronize()\nend = time.time()\nprint(end - start)")
    assert cells[2] == "%%time\nz = x @ x"


def test_split_refuses_code_moved_before_the_first_unit():
    from torchlint.documents.check import combine, split

    document = NotebookDocument.parse(notebook(cell(["a = 1\n"]), cell(["b = 2"])))
    combined = combine(document)
    assert split(combined, combined.text) == {0: "a = 1\n", 1: "b = 2\n"}
    assert split(combined, "import os\n" + combined.text) is None


TIMED = [cell(["import torch\n", "x = torch.randn(8, 8, device='cuda')\n"]),
         cell(["%%time\n", "z = x @ x\n", "w = z + 1"]),  # queued, never waited for: reported
         cell(["%time y = x @ x"]),  # the same, one line
         cell(["%%timeit\n", "z = x @ x\n", "torch.cuda.synchronize()"]),  # waits: silent
         cell(["%time v = (x @ x).sum().item()"]),  # .item() waits: silent
         cell(["%%time\n", "for i in range(3):\n", "    q = x @ x\n", "print(q)"]),  # print waits: silent
         cell(["%timeit -n 10 x @ x"]),  # options: the statement is masked as a comment, not judged
         cell(["%%time\n", "h = torch.ones(3) * 2"])]  # CPU work: silent


def test_timing_magics_around_unwaited_cuda_work_are_tl401(write, cli):
    path = write("timed.ipynb", notebook(*TIMED))
    items = json.loads(cli("check", "--no-cache", "--output-format", "json", path, cwd=path.parent).out)
    assert [(i["code"], i["cell"], i["location"]["row"]) for i in items] == [("TL401", 2, 2), ("TL401", 3, 1)]
    assert "IPython's `%time`" in items[0]["message"]


def test_magic_timed_spans_are_a_fact_of_the_timing_analysis():
    import libcst as cst

    from torchlint.analysis import ModuleAnalysis

    code = "import torch\nx = torch.ones(2, device='cuda')\ny = x * 2\nz = y.cpu()\n"
    timing = ModuleAnalysis(cst.parse_module(code)).timing
    (work,) = timing.magic_timed([(3, 3)])
    assert timing.statement_work(work) is not None  # `x * 2` queues work, nothing waits
    (waits,) = timing.magic_timed([(3, 4)])
    assert timing.statement_work(waits) is None  # `.cpu()` waits for it
    assert timing.magic_timed([(9, 9)]) == []  # no statement starts there


@pytest.mark.parametrize("cell", [
    "!pip install torch \\\n    torchvision\nimport torch\n",                 # a shell escape continued
    "import os\nif os.name == 'nt':\n    pass\nelif True:\n    %load_ext tensorboard\n    %tensorboard --logdir runs\n",
    "cd data\nimport torch\nx = torch.ones(1)\n",                              # automagic
    "pip install -q timm\nimport timm\n",
])
def test_ipython_syntax_real_notebooks_use_is_masked(cell):
    """Seen in public notebooks (fairseq, yolov5, pytorch/benchmark): each was a false TL001."""
    from torchlint.documents.magics import mask, syntax_error

    masked, _ = mask(cell)
    assert syntax_error(masked) is None and len(masked) == len(cell)
    assert masked.count("\n") == cell.count("\n")
