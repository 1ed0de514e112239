"""What the command line needs to know about the rules, without importing them.

Importing the rules imports LibCST and every check (a fifth of a second); resolving settings,
keying the result cache and rendering results need only the rules' metadata: codes, names,
summaries, fix safety, triggers, levels, torch versions, documentation. The metadata is kept
beside the package's bytecode (torchlint/data_files.py), named by the checksums of torchlint's own
sources (`cache.code_version`), so it can never describe other code than the one running: a run
the result cache fully answers never imports a rule.
"""

from __future__ import annotations

import os
from dataclasses import astuple, dataclass
from typing import List, Optional, Sequence, Tuple

FORMAT = "3"


@dataclass(frozen=True)
class RuleInfo:
    """A rule's metadata, as the command line needs it without importing the rule."""

    code: str
    name: str
    summary: str
    fix_safety: str
    triggers: Tuple[str, ...]
    level: str
    visits: bool
    torch_versions: Tuple[Optional[Tuple[int, ...]], Optional[Tuple[int, ...]]]
    doc: str
    preview: bool = False

    def applies_to(self, target_torch: Tuple[int, ...]) -> bool:
        """As Rule.applies_to: False when every torch the code may run on is past the pitfall."""
        last = self.torch_versions[1]
        return last is None or tuple(target_torch) < tuple(last)

    def documentation(self) -> str:
        return self.doc


_infos: Optional[List[RuleInfo]] = None
_by_code: Optional[dict] = None


def rule_infos() -> Sequence[RuleInfo]:
    """Every rule's metadata, sorted by code: from the catalogue kept for the running code
    (torchlint/data_files.py, named by `cache.code_version`), else from the rules themselves."""
    global _infos
    if _infos is None:
        if os.environ.get("TORCHLINT_NO_CATALOG"):
            _infos = _from_rules()
        else:
            from torchlint.cache import code_version
            from torchlint.data_files import kept

            rows = kept(f"torchlint-rules-{FORMAT}-", code_version(),
                        lambda: [astuple(info) for info in _from_rules()])
            try:
                _infos = [RuleInfo(*row) for row in rows]
            except TypeError:  # a catalogue of another shape: made again, not kept
                _infos = _from_rules()
    return _infos


def by_code() -> dict:
    global _by_code
    if _by_code is None:
        _by_code = {info.code: info for info in rule_infos()}
    return _by_code


def _from_rules() -> List[RuleInfo]:
    from torchlint.rule import all_rules

    return [RuleInfo(r.code, r.name, r.summary, r.fix_safety, tuple(r.triggers), r.level, bool(r.visits),
                     (_version(r.torch_versions[0]), _version(r.torch_versions[1])), r.documentation(),
                     bool(r.preview))
            for r in all_rules()]


def _version(value) -> Optional[Tuple[int, ...]]:
    return tuple(value) if value is not None else None
