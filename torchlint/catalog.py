"""What the command line needs to know about the rules, without importing them.

Importing the rules imports LibCST and every check (a fifth of a second); resolving settings,
keying the result cache and rendering results need only the rules' metadata: codes, names,
summaries, fix safety, triggers, levels, torch versions, documentation. The metadata is kept in
a JSON file named by the digest of torchlint's own sources (`cache.code_version`), beside the
package's bytecode, so it can never describe other code than the one running: a run the result
cache fully answers never imports a rule.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import List, Optional, Sequence, Tuple

FORMAT = "2"


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


def rule_infos() -> Sequence[RuleInfo]:
    """Every rule's metadata, sorted by code: from the stored catalogue when it matches the
    running code, else from the rules themselves (and stored for the next run)."""
    global _infos
    if _infos is None:
        path = _path()
        _infos = _read(path) if path else None
        if _infos is None:
            _infos = _from_rules()
            if path:
                _write(path, _infos)
    return _infos


def by_code() -> dict:
    return {info.code: info for info in rule_infos()}


def _from_rules() -> List[RuleInfo]:
    from torchlint.rule import all_rules

    return [RuleInfo(r.code, r.name, r.summary, r.fix_safety, tuple(r.triggers), r.level, bool(r.visits),
                     (_version(r.torch_versions[0]), _version(r.torch_versions[1])), r.documentation(),
                     bool(r.preview))
            for r in all_rules()]


def _version(value) -> Optional[Tuple[int, ...]]:
    return tuple(value) if value is not None else None


def _path() -> Optional[str]:
    if os.environ.get("TORCHLINT_NO_CATALOG"):
        return None
    from torchlint.cache import code_version

    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
    return os.path.join(folder, f"torchlint-rules-{FORMAT}-{code_version()[:32]}.json")


def _read(path: str) -> Optional[List[RuleInfo]]:
    try:
        with open(path, encoding="utf-8") as handle:
            items = json.load(handle)
        return [RuleInfo(i["code"], i["name"], i["summary"], i["fix_safety"], tuple(i["triggers"]), i["level"],
                         bool(i["visits"]), (_version(i["torch_versions"][0]), _version(i["torch_versions"][1])),
                         i["doc"], bool(i["preview"])) for i in items]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def _write(path: str, infos: List[RuleInfo]) -> None:
    """Atomically (temporary file + rename); a read-only install only costs the next run time."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        import tempfile  # here: a run that writes nothing never imports it

        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump([asdict(info) for info in infos], out)
        os.replace(temporary, path)
        for name in os.listdir(os.path.dirname(path)):  # catalogues of earlier code
            if name.startswith("torchlint-rules-") and name != os.path.basename(path):
                os.unlink(os.path.join(os.path.dirname(path), name))
    except OSError:
        pass
