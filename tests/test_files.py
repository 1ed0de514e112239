"""Files as they come: encodings, BOMs, line endings, tabs, empty files, new syntax, and trees
with unreadable entries. Each is linted; fixed files are byte-identical outside the change."""

import json
import os

import pytest

BAD_LINE = "state = torch.load(path)\n"
FIXED_LINE = "state = torch.load(path, weights_only=True)\n"


def fix(cli, path):
    return cli("check", "--fix", "--no-cache", str(path))


@pytest.mark.parametrize("name, before, after", [
    ("latin1.py", ("# -*- coding: latin-1 -*-\n# caf\xe9\nimport torch\n" + BAD_LINE).encode("latin-1"),
     ("# -*- coding: latin-1 -*-\n# caf\xe9\nimport torch\n" + FIXED_LINE).encode("latin-1")),
    ("bom.py", b"\xef\xbb\xbfimport torch\n" + BAD_LINE.encode(), b"\xef\xbb\xbfimport torch\n" + FIXED_LINE.encode()),
    ("crlf.py", b"import torch\r\n" + BAD_LINE.replace("\n", "\r\n").encode() + b"x = 1\r\n",
     b"import torch\r\n" + FIXED_LINE.replace("\n", "\r\n").encode() + b"x = 1\r\n"),
    ("tabs.py", b"import torch\nif True:\n\t" + BAD_LINE.encode() + b"\tpass  # tab\n",
     b"import torch\nif True:\n\t" + FIXED_LINE.encode() + b"\tpass  # tab\n"),
    ("no_newline.py", b"import torch\n" + BAD_LINE.rstrip("\n").encode(), b"import torch\n" + FIXED_LINE.rstrip("\n").encode()),
    ("pep695.py", b"import torch\ntype Batch = list[torch.Tensor]\n\ndef first[T](xs: list[T]) -> T:\n    return xs[0]\n"
     + BAD_LINE.encode() + b"label = f\"{f'{state!r:>{10}}'}\"\n",
     b"import torch\ntype Batch = list[torch.Tensor]\n\ndef first[T](xs: list[T]) -> T:\n    return xs[0]\n"
     + FIXED_LINE.encode() + b"label = f\"{f'{state!r:>{10}}'}\"\n"),
])
def test_fixed_files_are_byte_identical_outside_the_change(cli, write, name, before, after):
    path = write(name, before)
    assert cli("check", "--no-cache", str(path)).code == 1
    fix(cli, path)
    assert path.read_bytes() == after


@pytest.mark.parametrize("content", [b"", b"# only a comment\n# and another\n", b"\n\n\n", b"\xef\xbb\xbf"])
def test_empty_and_comment_only_files(cli, write, content):
    path = write("empty.py", content)
    assert cli("check", "--no-cache", str(path)).code == 0
    fix(cli, path)
    assert path.read_bytes() == content


def test_tree_with_broken_entries_completes_and_reports_each_once(cli, write, tmp_path):
    write("good.py", "import torch\n" + BAD_LINE)
    write("latin.py", b"import torch\nx = '\xe9'\n")  # not UTF-8 and no coding cookie
    os.symlink(tmp_path / "missing.py", tmp_path / "dangling.py")
    os.symlink(tmp_path / "loop.py", tmp_path / "loop.py")
    os.mkfifo(tmp_path / "pipe.py")
    result = cli("check", "--no-cache", "--output-format", "json", str(tmp_path))
    assert result.code == 1
    found = sorted((os.path.basename(f["filename"]), f["code"]) for f in json.loads(result.out))
    assert found == [("dangling.py", "TL001"), ("good.py", "TL502"), ("latin.py", "TL001"),
                     ("loop.py", "TL001"), ("pipe.py", "TL001")]
    messages = {os.path.basename(f["filename"]): f["message"] for f in json.loads(result.out)}
    assert messages["pipe.py"] == "cannot read file: not a regular file"
    assert messages["latin.py"].startswith("cannot decode file as utf-8")
