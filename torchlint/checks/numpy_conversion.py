from __future__ import annotations

import libcst as cst

from torchlint.analysis.devices import DeviceLevel
from torchlint.rule import SAFE, Edit, Fix, Rule, register


@register
class NumpyWithoutDetachOrCpu(Rule):
    """
    ## What it does
    Finds `.numpy()` on a tensor that still carries gradients (a model or loss output, a
    parameter such as `layer.weight` or `p` in `for p in model.parameters()`, a tensor made with
    `requires_grad=True`, or arithmetic on those, outside `torch.no_grad()`; `.cpu()` keeps the
    gradients) or that may live on a CUDA device (moved with `.cuda()` / `.to(device)`, created
    with `device=...`, or computed by a model moved to CUDA; a device whose value the file does
    not show, such as one passed to a constructor, may be CUDA), with no `.detach()` / `.cpu()`
    in between. Values are followed through assignments and `self` attributes. A flag fixed for
    the run keeps its branches apart: after `if self.gpu_mode: self.z = self.z.cuda()`, a
    `.numpy()` under the `else` of another `if self.gpu_mode:` sees no CUDA tensor (flags:
    analysis/conditions.py).

    ## Why is this bad?
    NumPy arrays share memory with CPU tensors and know nothing about autograd or GPUs, so
    `.numpy()` refuses both cases at run time:
    `RuntimeError: Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.`
    and `TypeError: can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the
    tensor to host memory first.` The CUDA error only appears on a GPU machine, so code written
    and tested on a laptop breaks in the training job.

    ## Example
    ```python
    logits = model(images)
    scores = logits.numpy()
    ```

    ## Use instead
    ```python
    scores = logits.detach().cpu().numpy()
    ```

    ## Fix safety
    Safe: the fix inserts every step that is missing before `.numpy()`: `.cpu()` where the tensor
    may be on CUDA (also after `.detach()`), `.detach()` where it carries gradients or may (a
    tensor moved to CUDA whose gradients the file does not show). `.detach()` shares storage and
    `.cpu()` is a no-op for CPU tensors, so the values are the same and the conversion can no
    longer fail. Values of unknown origin (DataLoader batches, function
    parameters) and values computed under `torch.no_grad()` on the CPU are not reported.

    ## Source
    Note 001, "tensor与numpy转换" and note 003 on `numpy()`: both say a CUDA tensor needs `.cpu()` and
    a tensor that requires grad needs `.detach()` first, which is right; the order
    `.detach().cpu()` avoids copying the autograd graph's view to the host.
    """

    code = "TL201"
    name = "numpy-without-detach-or-cpu"
    summary = "`.numpy()` on a tensor that may require grad or live on CUDA; call `.detach().cpu()` first"
    fix_safety = SAFE
    triggers = (".numpy",)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "numpy" and not node.args):
            return
        if self.analysis.qualified_name(func) is not None:  # numpy.numpy? a module function, not Tensor.numpy
            return
        tensor = func.value
        facts = self.analysis.tensors
        requires_grad = facts.requires_grad(tensor)
        on_cuda = self.analysis.devices.device_of(tensor) != DeviceLevel.NONE
        if not (requires_grad or on_cuda):
            return
        # The fix adds every step the tensor may still need: `.cpu()` alone on a tensor that may
        # carry gradients would fail the same way.
        needs_detach = requires_grad or not facts.grad_free(tensor)
        missing = [name for name, needed in (("detach", needs_detach), ("cpu", on_cuda)) if needed]
        receiver = tensor
        for method in missing:
            receiver = cst.Call(func=cst.Attribute(value=receiver, attr=cst.Name(method)))
        inserted = "".join(f".{m}()" for m in missing)
        why = " and ".join(
            reason for reason, needed in (("requires grad", requires_grad), ("may be on a CUDA device", on_cuda))
            if needed
        )
        self.report(
            node,
            f"`.numpy()` on a tensor that {why} raises at run time; call `{inserted}` before `.numpy()`",
            Fix(SAFE, f"Insert `{inserted}`", (Edit(func, func.with_changes(value=receiver)),)),
        )
