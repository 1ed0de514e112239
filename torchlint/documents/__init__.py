"""Documents that hold Python code without being Python files: Jupyter notebooks and Markdown.

A document is one or more code units (a notebook's code cells, a Markdown file's Python blocks),
each with a map from its lines back to the document. The units, in order, are linted as one
module (an import in the first cell counts in the last: that is how a notebook or a tutorial
runs), and findings and fixes are placed back in the document: a notebook cell and its row, a
Markdown file's line and column. Everything outside a unit is kept byte for byte.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

NOTEBOOK, MARKDOWN, PYTHON = "notebook", "markdown", "python"
NOTEBOOK_SUFFIXES = (".ipynb",)
MARKDOWN_SUFFIXES = (".md", ".markdown", ".qmd")
PYTHON_SUFFIXES = (".py", ".pyi")
DOCUMENT_SUFFIXES = NOTEBOOK_SUFFIXES + MARKDOWN_SUFFIXES


class DocumentError(Exception):
    """A document that cannot be read as its kind (bad JSON, not nbformat 4); one line."""


def document_kind(path: str, extra_includes: Sequence[str] = ()) -> str:
    """How a file is read: a notebook, Markdown (also any file matched by an `extend-include`
    pattern that is not a Python file), or Python (everything else named explicitly)."""
    lower = path.lower()
    if lower.endswith(NOTEBOOK_SUFFIXES):
        return NOTEBOOK
    if lower.endswith(MARKDOWN_SUFFIXES):
        return MARKDOWN
    if extra_includes and not lower.endswith(PYTHON_SUFFIXES) and matches_include(path, extra_includes):
        return MARKDOWN
    return PYTHON


def matches_include(path: str, patterns: Sequence[str]) -> bool:
    name = os.path.basename(path)
    normalised = path.replace(os.sep, "/")
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(normalised, p)
               or fnmatch.fnmatch(normalised, "*/" + p.lstrip("/")) for p in patterns)


@dataclass
class Unit:
    """One piece of Python in a document, as linted, with the way back to the document.

    `code` is what is linted (IPython magics masked by same-length Python, `>>> ` prompts and
    the indentation of a fence in a list removed); `originals[i]` is the document's own text of
    code line i+1 (a notebook cell's line, a Markdown file's whole line), kept when a fix leaves
    the line alone; `columns[i]` is how many document columns precede code line i+1."""

    label: str
    code: str
    originals: List[str]
    columns: List[int]
    first_line: int = 1  # document line of code line 1 (a notebook cell's rows start at 1)
    cell: Optional[int] = None  # the notebook cell (1-based, counting every cell)
    skipped: str = ""  # why the unit is not linted ("" when it is)
    error: Optional[SyntaxError] = None  # a notebook cell that does not parse: one TL001 for it
    timed: List[Tuple[int, int]] = field(default_factory=list)  # code line spans a %%time / %time times
    render: Callable[[str, int], str] = field(default=lambda line, near: line, repr=False)
    # render(code line, index of the nearest original line): the document text of a new line

    def rewritten(self, new_code: str) -> List[str]:
        """The document lines for a fixed version of `code`: lines a fix did not touch are the
        originals, byte for byte; changed and inserted lines are rendered like their neighbours."""
        old = self.code.splitlines()
        new = new_code.splitlines()
        result: List[str] = []
        import difflib

        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
            if tag == "equal":
                result.extend(self.originals[i1:i2])
            else:
                for offset, line in enumerate(new[j1:j2]):
                    near = min(i1 + offset, max(i2 - 1, i1), len(self.originals) - 1)
                    result.append(self.render(line, max(near, 0)))
        return result


class Document:
    """The units of one file, and how to write the file back with some units' code changed."""

    kind: str = PYTHON
    units: List[Unit]

    def rewrite(self, new_codes: Dict[int, str]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def skipped(self) -> List[Unit]:
        return [unit for unit in self.units if unit.skipped]


def load_document(path: str, text: str, extra_includes: Sequence[str] = ()) -> Optional[Document]:
    """The document in `text`, or None for a Python file. Raises DocumentError."""
    kind = document_kind(path, extra_includes)
    if kind == NOTEBOOK:
        from torchlint.documents.notebook import NotebookDocument

        return NotebookDocument.parse(text)
    if kind == MARKDOWN:
        from torchlint.documents.markdown import MarkdownDocument

        return MarkdownDocument.parse(text)
    return None
