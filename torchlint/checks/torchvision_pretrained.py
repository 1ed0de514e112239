from __future__ import annotations

from functools import lru_cache
from typing import Dict, Optional, Tuple

import libcst as cst

from torchlint.rule import SAFE, Edit, Fix, Rule, register
from torchlint.data_files import load_table


_WEIGHTS_API = (0, 13)  # the torchvision release that introduced `weights=` and deprecated `pretrained=`
_SUBPACKAGES = ("detection", "segmentation", "video")


@lru_cache(maxsize=1)
def _builders() -> Dict[str, Tuple[str, str]]:
    return {name: (enum, member) for name, (enum, member) in load_table("torchvision_weights.toml")["builders"].items()}


def weights_for(qualified: Optional[str]) -> Optional[Tuple[str, str]]:
    """`torchvision.models.resnet50` -> ("ResNet50_Weights", "IMAGENET1K_V1"); None if not in the table."""
    if not qualified or not qualified.startswith("torchvision.models."):
        return None
    parts = qualified[len("torchvision.models."):].split(".")
    if parts[0] in _SUBPACKAGES:
        key = f"{parts[0]}.{parts[-1]}" if len(parts) in (2, 3) else None
    elif parts[0] in ("quantization", "optical_flow"):
        key = None  # other weights enums (ResNet18_QuantizedWeights, ...): not in the table
    else:
        key = parts[-1] if len(parts) in (1, 2) else None
    return _builders().get(key) if key else None


@register
class TorchvisionPretrained(Rule):
    """
    ## What it does
    Finds `pretrained=` passed to a torchvision model builder (`models.resnet50(pretrained=True)`,
    `torchvision.models.detection.fasterrcnn_resnet50_fpn(pretrained=False)`) and rewrites it to
    the `weights=` argument that replaced it in torchvision 0.13. The builders and their weights
    enums come from a table in the package (torchlint/data/torchvision_weights.toml); a builder not
    in the table is never reported.

    ## Why is this bad?
    `pretrained=` is deprecated since torchvision 0.13: it warns on every call and is slated for
    removal. `weights=` also says which weights: `pretrained=True` silently picked the first
    ImageNet release (`IMAGENET1K_V1`) even where better ones exist now (`ResNet50_Weights.DEFAULT`
    is `IMAGENET1K_V2`), and the weights enum carries the matching preprocessing
    (`weights.transforms()`).

    ## Example
    ```python
    model = torchvision.models.resnet50(pretrained=True)
    backbone = models.resnet18(pretrained=False)
    ```

    ## Use instead
    ```python
    model = torchvision.models.resnet50(weights=torchvision.models.ResNet50_Weights.IMAGENET1K_V1)
    backbone = models.resnet18(weights=None)
    ```

    ## Fix safety
    Safe: `pretrained=True` becomes exactly the weights torchvision's own compatibility layer
    picks for it (`IMAGENET1K_V1` for classification, `COCO_V1` for detection, ...), `False`
    becomes `None`, and a variable becomes `Enum.MEMBER if flag else None`. The enum is spelled
    through the same module as the builder (`models.ResNet50_Weights`); when the builder was
    imported by name the weights are given by name (`weights="IMAGENET1K_V1"`), which torchvision
    accepts. Not reported when the project targets torchvision older than 0.13
    (`target-torchvision`), where `weights=` does not exist.

    ## Source
    Note 000: `model = tm.resnet50(pretrained=True)` and `torchvision.models.resnet50(pretrained=False)`;
    note 001: `models.resnet18(pretrained=use_pretrained)`. TorchFix TOR201.
    """

    code = "TL605"
    name = "torchvision-pretrained"
    summary = "`pretrained=` on a torchvision model builder is deprecated; pass `weights=`"
    fix_safety = SAFE
    triggers = ("pretrained",)

    def visit_Call(self, node: cst.Call) -> None:
        target = self.options.target_torchvision
        if target is not None and target < _WEIGHTS_API:
            return
        pretrained = next((a for a in node.args if a.keyword is not None and a.keyword.value == "pretrained"), None)
        if pretrained is None or any(a.keyword is not None and a.keyword.value == "weights" for a in node.args):
            return
        qualified = self.analysis.qualified_name(node.func)
        weights = weights_for(qualified)
        if weights is None:
            return
        enum, member = weights
        if isinstance(node.func, cst.Attribute):
            chosen: cst.BaseExpression = cst.Attribute(cst.Attribute(node.func.value, cst.Name(enum)), cst.Name(member))
            shown = f"{enum}.{member}"
        else:
            chosen = cst.SimpleString(f'"{member}"')
            shown = f'"{member}"'
        value = pretrained.value
        if isinstance(value, cst.Name) and value.value in ("True", "False"):
            new_value: cst.BaseExpression = chosen if value.value == "True" else cst.Name("None")
        else:
            new_value = cst.IfExp(test=value, body=chosen, orelse=cst.Name("None"))
        new_arg = pretrained.with_changes(keyword=cst.Name("weights"), value=new_value)
        self.report(pretrained, f"`pretrained=` of `{qualified}` is deprecated since torchvision 0.13; "
                                f"pass `weights={shown}` (what `pretrained=True` meant) or `weights=None`",
                    Fix(SAFE, "Pass `weights=`", (Edit(pretrained, new_arg),)))
