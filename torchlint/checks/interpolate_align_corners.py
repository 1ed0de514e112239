from __future__ import annotations

from typing import Optional

import libcst as cst

from torchlint.rule import SAFE, Edit, Fix, Rule, register
from torchlint.syntax import argument, has_star_args

# Callable -> position of `mode` and of `align_corners`.
_CALLABLES = {
    "torch.nn.functional.interpolate": (3, 4),
    "torch.nn.functional.upsample": (3, 4),
    "torch.nn.Upsample": (2, 3),
}
_NON_INTERPOLATING = frozenset({"nearest", "area", "nearest-exact"})


@register
class InterpolateAlignCorners(Rule):
    """
    ## What it does
    Finds `F.interpolate(...)` / `nn.Upsample(...)` given `align_corners` with a mode that does
    not interpolate: `mode="nearest"` (the default when no mode is given), `"nearest-exact"` or
    `"area"`.

    ## Why is this bad?
    `align_corners` only means something for the interpolating modes (`linear`, `bilinear`,
    `bicubic`, `trilinear`); with any other mode, torch raises `ValueError: align_corners option
    can only be set with the interpolating modes` as soon as the call runs (for `nn.Upsample`, at
    its first forward pass), even for `align_corners=False`.

    ## Example
    ```python
    y = F.interpolate(x, scale_factor=2, mode="nearest", align_corners=True)
    ```

    ## Use instead
    ```python
    y = F.interpolate(x, scale_factor=2, mode="nearest")
    ```

    ## Fix safety
    Safe: it removes the `align_corners` argument, the only value these modes accept; the call
    raised before.

    ## Source
    Notes 000 and 001 copy the signature `interpolate(input, size=None, scale_factor=None,
    mode='nearest', align_corners=None)` and explain that `align_corners` applies only to the
    linear modes; note 002 states the rule ("if align_corners is given, mode must be one of
    linear, bilinear, bicubic, trilinear"). Their own calls use `mode='bilinear'` correctly.
    """

    code = "TL606"
    name = "interpolate-align-corners"
    summary = "`align_corners` with a non-interpolating mode (nearest, area) raises ValueError"
    fix_safety = SAFE
    level = "error"
    triggers = ("align_corners", "interpolate", "upsample", "Upsample")  # align_corners may be positional

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.analysis.qualified_name(node.func)
        positions = _CALLABLES.get(qualified or "")
        if positions is None or has_star_args(node):
            return
        mode_position, align_position = positions
        align = argument(node, align_position, "align_corners")
        if align is None or align.keyword is None or (isinstance(align.value, cst.Name) and align.value.value == "None"):
            return
        mode = argument(node, mode_position, "mode")
        mode_value = _string(mode.value) if mode is not None else "nearest"
        if mode_value not in _NON_INTERPOLATING:
            return
        self.report(align, f"`align_corners` with mode={mode_value!r} raises ValueError: only the linear modes "
                           "(linear, bilinear, bicubic, trilinear) accept it; drop it",
                    Fix(SAFE, "Remove `align_corners`", (Edit(node, _without(node, align)),)))


def _string(node: cst.BaseExpression) -> Optional[str]:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _without(call: cst.Call, removed: cst.Arg) -> cst.Call:
    args = list(call.args)
    index = next(i for i, a in enumerate(args) if a is removed)
    del args[index]
    if args and index == len(args):  # it was the last: the new last takes over its comma and spacing
        args[-1] = args[-1].with_changes(comma=removed.comma, whitespace_after_arg=removed.whitespace_after_arg)
    return call.with_changes(args=args)
