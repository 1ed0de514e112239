"""Jupyter notebooks (nbformat 4): the code cells, in order, are one module.

The JSON is read with the standard library. A fix writes the notebook back with only the fixed
cells' `source` changed: the file is serialised the way it was written (its indentation, key
order, escaping and final newline, found by checking that re-serialising the unchanged notebook
gives back its exact bytes); a layout json.dump cannot reproduce is never rewritten.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Dict, List, Optional, Tuple

from torchlint.documents import NOTEBOOK, Document, DocumentError, Unit
from torchlint.documents.magics import mask_timed, syntax_error, unmask_line


class NotebookDocument(Document):
    kind = NOTEBOOK

    def __init__(self, text: str, data: Dict[str, Any], units: List[Unit], cells: Dict[int, int]) -> None:
        self.text = text
        self.data = data
        self.units = units
        self._cell_of_unit = cells  # unit index -> index in data["cells"]

    @classmethod
    def parse(cls, text: str) -> "NotebookDocument":
        try:
            data = json.loads(text)
        except ValueError as error:
            raise DocumentError(f"cannot read notebook: invalid JSON: {error}") from None
        if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
            raise DocumentError("cannot read notebook: not an nbformat 4 notebook (no 'cells' list)")
        if data.get("nbformat", 4) != 4:
            raise DocumentError(f"cannot read notebook: nbformat {data.get('nbformat')} (torchlint reads 4)")
        units: List[Unit] = []
        cells: Dict[int, int] = {}
        if not _is_python(data.get("metadata") or {}):
            return cls(text, data, units, cells)
        for index, cell in enumerate(data["cells"]):
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            original = "".join(source) if isinstance(source, list) else str(source)
            code, restores, timed = mask_timed(original)
            originals = original.splitlines()
            unit = Unit(f"cell {index + 1}", code, originals, [0] * len(originals), 1, index + 1, timed=timed,
                        render=functools.partial(_unmask, restores))
            unit.error = syntax_error(code) if code.strip() else None
            cells[len(units)] = index
            units.append(unit)
        return cls(text, data, units, cells)

    def rewrite(self, new_codes: Dict[int, str]) -> str:
        """The notebook's text with the given units' code replaced (everything else as it was)."""
        layout = _layout(self.text, self.data)
        if layout is None:
            raise DocumentError("fixes not written: the notebook's JSON layout is not one that "
                                "json.dump writes, so rewriting it would change more than the cells")
        data = json.loads(self.text)  # a fresh copy: self.data stays as read
        for unit_index, new_code in new_codes.items():
            unit = self.units[unit_index]
            lines = unit.rewritten(new_code)
            original = "".join(_source_list(data["cells"][self._cell_of_unit[unit_index]]))
            joined = "\n".join(lines)
            if original.endswith("\n") or (lines and original.endswith(("\r\n",))):
                joined += "\n"
            cell = data["cells"][self._cell_of_unit[unit_index]]
            cell["source"] = joined.splitlines(keepends=True) if isinstance(cell.get("source"), list) else joined
        return _dump(data, layout)


def _source_list(cell: Dict[str, Any]) -> List[str]:
    source = cell.get("source", "")
    return source if isinstance(source, list) else [str(source)]


def _is_python(metadata: Dict[str, Any]) -> bool:
    """False only when the notebook says its language and that is not Python (an R kernel)."""
    language = (metadata.get("kernelspec") or {}).get("language") or (metadata.get("language_info") or {}).get("name")
    return not isinstance(language, str) or language.lower() in ("python", "python3", "ipython", "")


Layout = Tuple[Optional[int], bool, bool]  # (indent, ensure_ascii, final newline)


def _dump(data: Any, layout: Layout) -> str:
    indent, ascii_only, newline = layout
    text = json.dumps(data, indent=indent, ensure_ascii=ascii_only,
                      separators=(",", ": ") if indent is not None else (", ", ": "))
    return text + "\n" if newline else text


def _layout(text: str, data: Any) -> Optional[Layout]:
    """The json.dumps arguments that reproduce `text` exactly, or None."""
    newline = text.endswith("\n")
    second = text.split("\n", 2)[1] if text.count("\n") >= 2 else ""
    guess = len(second) - len(second.lstrip(" "))
    indents = [guess] + [i for i in (1, 2, 4) if i != guess] + [None]
    for indent in indents:
        for ascii_only in (False, True):
            layout = (indent, ascii_only, newline)
            if _dump(data, layout) == text:
                return layout
    return None


def cell_lines(text: str) -> Dict[int, List[str]]:
    """Each cell's lines by cell number (1-based), for showing a finding's source line."""
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return {}
    result: Dict[int, List[str]] = {}
    for number, cell in enumerate(cells, 1):
        if isinstance(cell, dict):
            result[number] = "".join(_source_list(cell)).splitlines()
    return result


def _unmask(restores, line: str, near: int) -> str:
    """A cell's line as written, its masked magics restored."""
    return unmask_line(line, restores, near)
