from __future__ import annotations

import libcst as cst

from torchlint.checks._syntax import with_keyword
from torchlint.rule import SAFE, Edit, Fix, Rule, register
from torchlint.syntax import argument

_CHECKPOINTS = frozenset({"torch.utils.checkpoint.checkpoint", "torch.utils.checkpoint.checkpoint_sequential"})


@register
class CheckpointUseReentrant(Rule):
    """
    ## What it does
    Finds `torch.utils.checkpoint.checkpoint(...)` and `checkpoint_sequential(...)` calls that do
    not pass `use_reentrant`.

    ## Why is this bad?
    Without it, torch warns on every call and uses the old reentrant implementation, which does
    not support `torch.autograd.grad`, keyword arguments to the checkpointed function, or inputs
    that do not require grad (the gradient of the parameters inside is then silently `None`).
    torch announced that leaving it out will raise; `use_reentrant=False` is the recommended
    variant.

    ## Example
    ```python
    y = checkpoint(block, x)
    ```

    ## Use instead
    ```python
    y = checkpoint(block, x, use_reentrant=False)
    ```

    ## Fix safety
    Safe: the fix passes `use_reentrant=True`, the value torch uses today when it is left out, so
    the program computes the same and stops warning. Switching to `use_reentrant=False` (the
    recommendation) is a change of implementation you should test; the message says so. No fix
    when `**kwargs` are forwarded (they may carry it).

    ## Source
    TorchFix TOR003 (not in the user's notes).
    """

    code = "TL607"
    name = "checkpoint-without-use-reentrant"
    summary = "`torch.utils.checkpoint` without `use_reentrant` warns and uses the legacy variant"
    fix_safety = SAFE
    triggers = ("checkpoint", "checkpoint_sequential")
    fires_on = _CHECKPOINTS

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.analysis.qualified_name(node.func)
        if qualified not in _CHECKPOINTS or argument(node, None, "use_reentrant") is not None:
            return
        if any(arg.star == "**" for arg in node.args):
            return
        self.report(node, f"`{qualified.rsplit('.', 1)[-1]}` without `use_reentrant` warns and uses the "
                          "reentrant variant; pass `use_reentrant=False` (recommended) or `use_reentrant=True` "
                          "(today's behaviour)",
                    Fix(SAFE, "Pass `use_reentrant=True` (today's default)",
                        (Edit(node, with_keyword(node, "use_reentrant", cst.Name("True"))),)))
