"""Fuzzing the whole file path (read, check, --fix, write) with hostile input: deep nesting, long
chains, odd whitespace and line endings, unusual encodings and random bytes.

For every generated file: no exception and no internal error; the file is either linted or gets
exactly one finding saying why not (TL001, TL003); a fixed file parses, and a second --fix
changes no byte. Bounded: a few seconds."""

import ast
import os
import tempfile

import libcst as cst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torchlint.config import FileConfig, build_settings
from torchlint.runner import FIX_OFF, FIX_WRITE, RunOptions, process_file
from torchlint.sources import read_source

NOT_CHECKED = {"TL001", "TL002", "TL003"}
SETTINGS = build_settings(FileConfig())
PITFALLS = ["state = torch.load(path)", "y = x.transpose(0, 1).view(-1)", "torch.save(nn.Linear(2, 2), 'm.pt')"]


@st.composite
def expressions(draw):
    kind = draw(st.sampled_from(["sum", "calls", "brackets", "methods", "attributes", "lambda", "plain"]))
    size = draw(st.sampled_from([1, 3, 40, 190, 260, 1200]))
    if kind == "sum":
        return " + ".join(["x"] * size)
    if kind == "calls":
        return "f(" * size + "x" + ")" * size
    if kind == "brackets":
        return "[" * size + "]" * size
    if kind == "methods":
        return "x" + ".m()" * size
    if kind == "attributes":
        return "x" + ".a" * size
    if kind == "lambda":
        return "lambda: " * min(size, 300) + "x"
    return "torch.ones(3)"


@st.composite
def programs(draw):
    lines = ["import torch", "import torch.nn as nn", "x = torch.randn(2, 3)"]
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(PITFALLS)))
        else:
            lines.append(f"v = {draw(expressions())}")
    if draw(st.booleans()):  # nested blocks
        depth = draw(st.sampled_from([1, 5, 30]))
        lines += ["    " * i + f"if x{i}:" for i in range(depth)] + ["    " * depth + PITFALLS[0]]
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    space = draw(st.sampled_from(["", " ", "\t", "\f", " \\\n"]))
    text = newline.join(line + (space if not line.endswith(":") and "\\" not in space else "") for line in lines)
    if draw(st.booleans()):
        text += newline
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
    if encoding == "latin-1":
        return ("# -*- coding: latin-1 -*-" + newline + text + newline + "# caf\xe9" + newline).encode("latin-1")
    return text.encode(encoding)


@st.composite
def damaged(draw):
    """A program with random bytes spliced in, or random bytes alone."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=200))
    data = draw(programs())
    at = draw(st.integers(0, len(data)))
    return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]


def _check_one(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "f.py")
        with open(path, "wb") as handle:
            handle.write(data)
        checked = process_file(path, SETTINGS, RunOptions(FIX_OFF))
        assert not checked.internal_error, checked.result.findings
        reasons = [f for f in checked.result.findings if f.code in NOT_CHECKED]
        assert not reasons or len(checked.result.findings) == 1, checked.result.findings
        fixed = process_file(path, SETTINGS, RunOptions(FIX_WRITE, unsafe=True))
        assert not fixed.internal_error, fixed.result.findings
        with open(path, "rb") as handle:
            after = handle.read()
        if after != data:
            assert not reasons, "a file that was not checked was written"
            text = read_source(path).text
            cst.parse_module(text)
            compile(text, path, "exec", dont_inherit=True, flags=ast.PyCF_ONLY_AST)
        again = process_file(path, SETTINGS, RunOptions(FIX_WRITE, unsafe=True))
        assert not again.internal_error
        with open(path, "rb") as handle:
            assert handle.read() == after, "a second --fix changed the file"


FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@FUZZ
@given(programs())
def test_generated_programs_are_checked_or_named_and_fixes_are_sound(data):
    _check_one(data)


@FUZZ
@given(damaged())
def test_damaged_programs_and_random_bytes_never_crash(data):
    _check_one(data)
