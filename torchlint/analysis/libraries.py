"""What torchlint knows of libraries it never reads: their model classes and model builders.

The facts are data (torchlint/data/libraries.toml), read once: names, and patterns for families
of names (every `torchvision.models` builder, every `transformers` `*Model` / `*For<Task>` class).
"""

from __future__ import annotations

import functools
import re
from typing import Dict, FrozenSet, Pattern, Tuple

from torchlint.data_files import load_table



@functools.lru_cache(maxsize=None)
def _table() -> Dict[str, Tuple[FrozenSet[str], Tuple[Pattern[str], ...]]]:
    data = load_table("libraries.toml")
    table = {}
    for section in ("module_classes", "module_factories"):
        entry = data[section]
        table[section] = (frozenset(entry.get("names", ())), tuple(re.compile(p) for p in entry.get("patterns", ())))
    table["eval_mode_factories"] = (frozenset(), tuple(re.compile(p) for p in data["module_factories"].get(
        "eval_mode_factories", ())))
    return table


def _matches(section: str, qualified: str) -> bool:
    names, patterns = _table()[section]
    return qualified in names or any(pattern.match(qualified) for pattern in patterns)


def is_library_module_class(qualified: str) -> bool:
    """A library class whose instances are nn.Modules (`lightning.LightningModule`, `transformers.BertModel`)."""
    return _matches("module_classes", qualified)


def is_library_module_factory(qualified: str) -> bool:
    """A library function whose call returns an nn.Module (`timm.create_model`, `torchvision.models.resnet18`)."""
    return _matches("module_factories", qualified)


def builds_eval_mode_module(qualified: str) -> bool:
    """A builder whose module comes back in evaluation mode (`AutoModel.from_pretrained`)."""
    return _matches("eval_mode_factories", qualified)
