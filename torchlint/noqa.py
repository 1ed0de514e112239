"""`# noqa` comments: a bare one silences a line, `# noqa: TL501, TL502` silences those codes and
`# noqa: TL5` every code it prefixes, exactly as flake8 reads them, so both tools agree."""

from __future__ import annotations

import re
from typing import Optional, Set

_NOQA = re.compile(
    r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE
)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)


def noqa_codes(line: str) -> Optional[Set[str]]:
    """None: no noqa on the line; empty set: a bare noqa (everything); else the codes named."""
    if "noqa" not in line.lower():
        return None
    match = _NOQA.search(line)
    if match is None:
        return None
    codes = match.group("codes")
    return {c.upper() for c in _CODE.findall(codes)} if codes else set()


def is_suppressed(line: str, code: str) -> bool:
    codes = noqa_codes(line)
    return codes is not None and (not codes or code in codes or code.startswith(tuple(codes)))
