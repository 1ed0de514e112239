"""Markdown: Python fences (found by a CommonMark parser) are one module, positions are the
file's, prose in a python fence is skipped and counted, --fix touches only fence contents."""

import json
from pathlib import Path

from torchlint.documents.markdown import MarkdownDocument, fence_language

NOTES = Path(__file__).parent / "data" / "notes"

DOC = """# Notes

```python
import torch
```

Some prose with `torch.load(p)` inline: not code.

```
torch.load("untagged.pt")
```

1. In a list:

   ~~~~pyhton
   state = torch.load("in-list.pt")
   ~~~~

> ```py
> torch.load("quoted.pt")
> ```

```python
This is prose someone put in a python fence.
```

```pycon
>>> w = torch.load("console.pt")
>>> w
tensor([1.])
```
"""


def test_fence_languages():
    assert [fence_language(i) for i in ("python", "{python}", "{.python}", "py title=x", "pycon", "")] == [
        "python", "python", "python", "py", "pycon", ""]


def test_blocks_are_one_module_positions_are_the_files(write, cli):
    path = write("notes.md", DOC)
    result = cli("check", "--no-cache", "--output-format", "json", path, cwd=path.parent)
    items = json.loads(result.out)
    assert [(i["code"], i["location"]["row"], i["location"]["column"]) for i in items] == [
        ("TL502", 16, 12), ("TL502", 20, 3), ("TL502", 28, 9)]
    assert all(i["cell"] is None for i in items)


def test_skipped_blocks_are_counted_and_listed(write, cli):
    path = write("notes.md", DOC)
    result = cli("check", "--no-cache", "--no-source", path, cwd=path.parent)
    assert "1 code block skipped" in result.out
    listed = cli("check", "--no-cache", "--no-source", "--show-skipped", path, cwd=path.parent)
    assert "notes.md:23: block at line 23 skipped: not Python" in listed.out


def test_fix_rewrites_only_inside_fences(write, cli):
    path = write("notes.md", DOC.replace("\n", "\r\n"))
    cli("check", "--no-cache", "--fix", path, cwd=path.parent)
    expected = (DOC.replace('torch.load("in-list.pt")', 'torch.load("in-list.pt", weights_only=True)')
                .replace('torch.load("quoted.pt")', 'torch.load("quoted.pt", weights_only=True)')
                .replace('torch.load("console.pt")', 'torch.load("console.pt", weights_only=True)'))
    assert path.read_bytes() == expected.replace("\n", "\r\n").encode()


def test_extend_include_reads_other_files_as_markdown(write, cli):
    path = write("docs/notes.txt", DOC)
    assert cli("check", "--no-cache", "docs", cwd=path.parent.parent).code == 0  # not checked by default
    result = cli("check", "--no-cache", "--extend-include", "*.txt", "docs", cwd=path.parent.parent)
    assert result.out.count("TL502") == 3


def test_an_inserted_line_takes_the_fence_indentation():
    document = MarkdownDocument.parse("- item\n\n  ```python\n  a = 1\n  ```\n")
    assert document.rewrite({0: "import torch\na = 1\n"}) == "- item\n\n  ```python\n  import torch\n  a = 1\n  ```\n"


# The user's notes (shared/notes, copied as Markdown): every finding is a pitfall the note contains.
EXPECTED_NOTES = {
    ("000_01115ece68752489.md", 75, "TL609"),   # torch.meshgrid(a,b) without indexing=
    ("000_01115ece68752489.md", 139, "TL601"),  # torch.cdis: no such function (torch.cdist)
    ("000_01115ece68752489.md", 175, "TL601"),  # torch.expand: a method, not a function
    ("000_01115ece68752489.md", 190, "TL602"),  # torch.normal(..., require_grad=True)
    ("000_01115ece68752489.md", 460, "TL605"),  # resnet50(pretrained=True)
    ("000_01115ece68752489.md", 485, "TL605"),  # resnet50(pretrained=False)
    ("001_1ec1fa1615554f5f.md", 865, "TL604"),  # masked_fill_(mask.byte(), ...)
    ("001_1ec1fa1615554f5f.md", 1359, "TL603"),  # torch.cuda.FloatTensor(std.size())
    ("001_1ec1fa1615554f5f.md", 1361, "TL603"),  # torch.FloatTensor(std.size())
    ("001_1ec1fa1615554f5f.md", 1634, "TL604"),  # dtype=np.float
    ("001_1ec1fa1615554f5f.md", 1877, "TL605"),  # resnet18(pretrained=use_pretrained)
    ("001_1ec1fa1615554f5f.md", 1887, "TL605"),
    ("001_1ec1fa1615554f5f.md", 1890, "TL605"),
    ("004_c0021e8cc0c6f331.md", 21, "TL601"),  # torch.cuda.is_avaliable()
}


def test_the_users_notes(cli):
    result = cli("check", "--no-cache", "--output-format", "json", NOTES, cwd=NOTES)
    found = {(Path(i["filename"]).name, i["location"]["row"], i["code"]) for i in json.loads(result.out)}
    assert found == EXPECTED_NOTES


INFO_STRINGS = ["python", "Python", "py", "{python}", "{.python}", "{{python}}", "..py", "python3 title=x",
                "python,echo=false", "\u00a0python", "\tpy3", "IPython", "pycon", "pyhton", "bash", "", "r",
                "{r, engine='python'}", "text python", "pythonic", "sh", "console"]


def test_the_fence_prescan_misses_no_python_fence():
    """A text without a prescan match is not parsed: every fence the parser would count must match."""
    from torchlint.documents.markdown import _MAYBE_PYTHON_FENCE, PYTHON_TAGS

    for marker in ("```", "~~~~", "`````"):
        for info in INFO_STRINGS:
            if fence_language(info) in PYTHON_TAGS:
                assert _MAYBE_PYTHON_FENCE.search(f"- > {marker}{info}\n"), (marker, info)
    text = ("# Notes\n\n```bash\npip install torch\n```\n\n    indented = 1\n\n```\nuntagged = 2\n```\n"
            "```\npython train.py --epochs 3\n```\n")  # a shell command under an untagged fence
    assert not _MAYBE_PYTHON_FENCE.search(text)
    assert MarkdownDocument.parse(text).units == []
    found = MarkdownDocument.parse(text + "\n1. item\n\n   ~~~{.python}\n   x = 1\n   ~~~\n")
    assert [unit.code for unit in found.units] == ["x = 1\n"]


def _generated_texts(count: int, seed: int):
    """Markdown made of pieces that move fences in and out of CommonMark's blocks."""
    import random

    pieces = ["```python", "```", "````", "````py", "~~~", "~~~{.python}", "```python `x`", "``` python  ", " ",
              "\t", "```\x0c", "x\u2028y",
              "```\t", "``` ", "x = 1", "", "text", "- item", "  ```python", "> ```py", "    ```", "<div>",
              " <p>", "a < b", "```python title=x", "~~~~", "```` ", "\tx = 2", "1. one", "   ~~~",
              "````python", "# heading", "print('```')", "~~~ py", "---", "`````"]
    generator = random.Random(seed)
    for _ in range(count):
        lines = [generator.choice(pieces) for _ in range(generator.randint(0, 14))]
        yield "\n".join(lines) + generator.choice(["\n", "", "\n\n"])


def test_fences_read_without_the_parser_are_the_parsers():
    """Where `_plain_fences` reads a text, it finds what markdown-it finds; it reads most texts
    with fences at the margin and gives the others to the parser."""
    from torchlint.documents.markdown import _parsed_fences, _plain_fences

    read = 0
    for text in _generated_texts(4000, 13):
        plain = _plain_fences(text, text.splitlines())
        if plain is not None:
            read += 1
            assert plain == _parsed_fences(text), text
    assert read > 300  # (random texts often leave a fence open: those go to the parser)
    for text in ("```python\nx = 1\n```\n", "text\n```py\na\n````\n~~~\nb\n~~~~\n", "- a\n```python\nx\n```\n",
                 "> quote\n```python\nx\n```\n", "    code\n```python\nx\n```\n"):
        assert _plain_fences(text, text.splitlines()) == _parsed_fences(text) != [], text
    for text in ("<div>\n```python\nx\n```\n", "- ```python\n  x\n  ```\n", "```python\nx\r\n```\n",
                 "```python\nprint('```')\n```\n", "a\x0cb\n```python\nx\n```\n",
                 "```python\nx = 1\n```\x0c", "```python\nx = 1\n```\u2028",  # a last line end Python alone sees
                 "```python\nx = 1\n ", "```python\nx = 1\n"):  # never closed
        assert _plain_fences(text, text.splitlines()) is None, text


def test_a_document_read_without_the_parser_does_not_import_it(tmp_path):
    import subprocess
    import sys

    note = tmp_path / "note.md"
    note.write_text("# Training\n\n```python\nimport torch\nx = torch.zeros(2)\ny = x.numpy()\n```\n")
    script = ("import sys\nfrom torchlint.documents.markdown import MarkdownDocument\n"
              "doc = MarkdownDocument.parse(open(sys.argv[1]).read())\n"
              "print(len(doc.units), 'markdown_it' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script, str(note)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "False"]
