"""Positions from the innermost statements that hold the nodes equal the whole module's code
generation, node for node, on our fixtures and projects and on a sample of torch's own files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List

import libcst as cst
import pytest

from torchlint import engine
from torchlint.engine import lint_text, parse_source
from torchlint.tree import child_nodes
from torchlint.positions import module_positions, statement_positions
from torchlint.rule import all_rules

ROOT = Path(__file__).resolve().parent.parent


def _torch_sample() -> List[Path]:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return []
    base = Path(os.path.dirname(torch.__file__))
    files = sorted(p for folder in ("nn", "optim", "utils/data") for p in (base / folder).rglob("*.py"))
    return files[::6]


FILES = (sorted((ROOT / "fixtures").rglob("*.py")) + sorted((ROOT / "tests" / "projects").rglob("*.py"))
         + sorted((ROOT / "examples").rglob("*.py")) + _torch_sample())


def _nodes(statement: cst.CSTNode) -> List[cst.CSTNode]:
    found, stack = [], [statement]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(child_nodes(node))
    return found


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if ROOT in path.parents else path.name


@pytest.mark.parametrize("path", FILES, ids=_name)
def test_statement_positions_equal_the_whole_module_generation(path: Path):
    text = path.read_text(encoding="utf-8")
    module = parse_source(text)
    if not module.body:
        return
    whole = module_positions(module)
    every = [node for statement in module.body for node in _nodes(statement)]
    found = statement_positions(module, every, text)
    assert found is not None
    assert all(found[node] == whole[node] for node in every)
    # One statement alone (the last, then one in the middle): its offset comes from `ast`, not from the ones before.
    for statement in {id(s): s for s in (module.body[-1], module.body[len(module.body) // 2])}.values():
        nodes = _nodes(statement)
        alone = statement_positions(module, nodes, text)
        assert alone is not None and all(alone[node] == whole[node] for node in nodes)
    # Nodes deep in a body: only their own statement is generated, indented as the blocks around it.
    for inner in _inner_statements(module)[::7]:
        nodes = _nodes(inner)
        alone = statement_positions(module, nodes, text)
        assert alone is not None and all(alone[node] == whole[node] for node in nodes)


def _inner_statements(module: cst.Module) -> List[cst.CSTNode]:
    """Statements inside the indented bodies of compound statements, at every depth."""
    found: List[cst.CSTNode] = []
    stack: List[cst.CSTNode] = list(module.body)
    while stack:
        statement = stack.pop()
        body = getattr(statement, "body", None)
        if isinstance(body, cst.IndentedBlock):
            found.extend(body.body)
            stack.extend(body.body)
    return found


def test_leading_comments_decorators_and_joined_statements():
    text = ("# header\n\nimport torch\n\n\n# about f\n@dec\n\n# between\n@other(\n    1)\ndef f():\n    x = 1\n"
            "    # footer of f\n\na = 1; b = torch.load(p)\nclass C:\n    pass\n    # end\n# trailing\n"
            "def g():\n\tif x:\n\t\t# why\n\n\t\ty = 1; z = 2\n\t\t@d\n\t\tdef h(): pass\n\twhile y:\n\t\tz()\n")
    module = parse_source(text)
    whole = module_positions(module)
    for statement in list(module.body) + _inner_statements(module):
        nodes = _nodes(statement)
        alone = statement_positions(module, nodes, text)
        assert alone is not None and all(alone[node] == whole[node] for node in nodes)


def _located(text: str):
    return [(f.code, f.line, f.column, f.end_line, f.end_column, f.fix_edits_positions)
            for f in lint_text(text, all_rules()).findings]


@pytest.mark.parametrize("path", sorted((ROOT / "fixtures").glob("*/bad.py")), ids=_name)
def test_findings_and_fix_edits_are_where_the_whole_module_puts_them(path: Path, monkeypatch):
    text = path.read_text(encoding="utf-8")
    located = _located(text)
    monkeypatch.setattr(engine, "positions", lambda module, nodes, text=None, tree=None: module_positions(module))
    assert located == _located(text)
