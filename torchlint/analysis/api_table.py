"""The public torch API as data: which modules exist, what they contain, which keywords the
callables accept. Generated from a real torch by scripts/gen_api_table.py and shipped in
torchlint/data/torch_api.json.gz; read here without importing torch.

Queries answer "unknown" (None / False) for anything the table does not describe, so that rules
stay silent where the table has no evidence: a private or dynamic namespace, a module that could
not be imported when the table was made, a callable that takes `**kwargs`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Dict, FrozenSet, Iterable, List, Optional, Tuple

from torchlint.data_files import DATA, load_table

_TABLE = "torch_api.json.gz"  # in torchlint/data, as the historical names are
_HISTORICAL = os.path.join(DATA, "torch_historical_names.txt")

# Namespaces whose attributes are made at run time (operator registries, extensions, private C code).
DYNAMIC_NAMESPACES = ("torch.ops", "torch.classes", "torch._C", "torch.library")

KIND_MODULE, KIND_NN_MODULE, KIND_CLASS, KIND_FUNCTION, KIND_OTHER = "m", "M", "c", "f", "o"


class TorchApi:
    """One torch version's public API."""

    def __init__(self, data: Dict, historical: FrozenSet[str] = frozenset()) -> None:
        self.version: str = data["torch_version"]
        self.historical = historical  # names of earlier releases, gone from this one
        self._modules: Dict[str, Dict] = data["modules"]
        self._signature_lists: List[List[str]] = data["signatures"]
        self._signatures: Dict[int, FrozenSet[str]] = {}  # made when asked: most runs ask for few

    # ----------------------------------------------------------------- modules
    def is_module(self, qualified: str) -> bool:
        return qualified in self._modules

    def is_closed_module(self, qualified: str) -> bool:
        """A module whose every public name the table lists (so a missing name is really missing)."""
        entry = self._modules.get(qualified)
        return entry is not None and not entry["open"] and not qualified.startswith(DYNAMIC_NAMESPACES)

    def members(self, module: str) -> FrozenSet[str]:
        entry = self._modules.get(module)
        return frozenset(entry["members"]) if entry else frozenset()

    def exists(self, qualified: str) -> Optional[bool]:
        """True / False for a name under a closed module; None when the table cannot say.

        A name of an earlier release (torch_historical_names.txt) is None: it did exist."""
        parent, _, last = qualified.rpartition(".")
        if not parent or not self.is_closed_module(parent):
            return None
        if last in self._modules[parent]["members"]:
            return True
        return None if qualified in self.historical or parent in self.historical else False

    # ----------------------------------------------------------------- callables
    def kind(self, qualified: str) -> Optional[str]:
        """m (module), M (nn.Module class), c (class), f (function), o (other), or None."""
        if qualified in self._modules:
            return KIND_MODULE
        code = self._code(qualified)
        return code[0] if code else None

    def historical_keyword(self, qualified: str, keyword: str) -> bool:
        """A keyword the callable took in an earlier release (`name(keyword=)` lines of the list)."""
        return f"{qualified}({keyword}=)" in self.historical

    def keywords(self, qualified: str) -> Optional[FrozenSet[str]]:
        """The keywords a torch callable accepts, or None when unknown or unlimited (**kwargs)."""
        code = self._code(qualified)
        if not code or len(code) == 1:
            return None
        index = int(code[1:])
        found = self._signatures.get(index)
        if found is None:
            found = self._signatures[index] = frozenset(self._signature_lists[index])
        return found

    def _code(self, qualified: str) -> Optional[str]:
        parent, _, last = qualified.rpartition(".")
        entry = self._modules.get(parent)
        return entry["members"].get(last) if entry else None


@lru_cache(maxsize=1)
def torch_api() -> TorchApi:
    with open(_HISTORICAL, encoding="utf-8") as handle:
        historical = frozenset(line.strip() for line in handle if line.strip() and not line.startswith("#"))
    return TorchApi(load_table(_TABLE), historical)


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Optimal-string-alignment distance (a transposition counts one); a case change costs one."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    previous2: List[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return min(previous[-1], limit)


def close_names(word: str, candidates: Iterable[str]) -> Tuple[str, ...]:
    """The candidates one edit from `word` (two for words of six letters or more), nearest first.

    A name that differs only in case ("Relu" / "ReLU") is always close."""
    limit = 2 if len(word) >= 6 else 1
    scored = []
    for candidate in candidates:
        if candidate == word or candidate.startswith("_"):
            continue
        distance = 1 if candidate.lower() == word.lower() else edit_distance(word, candidate, limit + 1)
        if distance <= limit:
            scored.append((distance, candidate))
    scored.sort()
    return tuple(name for _, name in scored)
