"""TL502 and TL503: the two ways `torch.load` goes wrong, which must agree on each call.

Both rules record the `torch.load` calls of the module and the evidence that a value is used as a
module (`x.eval()`, `x.parameters()`, `x(...)`, ...). At the end of the module a load is "used as a
module" when such a use can see its result, directly or through a variable. TL503 reports those;
TL502 leaves them alone, since forcing `weights_only=True` on a whole-model load breaks it. They
also note the syntactic contexts that change a load's meaning: a `try` whose `except TypeError:`
falls back to a load without `weights_only` (old torch), and `with safe_globals(...)`. What the
file holds (and so whether TL502's fix is safe) is asked of analysis/checkpoints.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from torchlint.analysis import Where
from torchlint.analysis.checkpoints import MODULE, REFUSED, CheckpointFacts, Saved
from torchlint.analysis.torch_api import MODULE_ONLY_METHODS
from torchlint.analysis.values import strip_module_methods
from torchlint.checks._syntax import argument, has_star_args, with_keyword
from torchlint.rule import NO_FIX, SAFE, SOMETIMES, UNSAFE, Fix, Rule, register, Edit


WEIGHTS_ONLY_DEFAULT = (2, 6)  # the release that made weights_only=True the default
_SAFE_GLOBALS = "torch.serialization.safe_globals"
_RNN_ONLY_METHODS = frozenset({"flatten_parameters"})  # nn.RNN/LSTM/GRU: modules only


@dataclass
class _TryFrame:
    """Which part of a `try` statement the walk is in, and what its body tries."""

    part: str = "body"  # body, handler, type-error (a handler catching TypeError), after
    tries_weights_only: bool = False  # its body calls torch.load(..., weights_only=...)


def _catches_type_error(handler: cst.ExceptHandler) -> bool:
    caught = handler.type
    names = [e.value for e in caught.elements] if isinstance(caught, cst.Tuple) else [caught]
    return any(isinstance(n, cst.Name) and n.value == "TypeError" for n in names)


class _LoadTracker(Rule):
    triggers = ("load",)  # torch.load
    fires_on = frozenset({"torch.load"})

    def __init__(self, analysis) -> None:
        super().__init__(analysis)
        self.loads: List[cst.Call] = []
        self.load_where: Dict[int, Where] = {}
        self.intended: Set[int] = set()  # loads that leave out weights_only on purpose
        self.in_safe_globals: Set[int] = set()  # loads whose allowed classes the code lists
        self._module_uses: List[Tuple[cst.BaseExpression, Where, str]] = []
        self._tries: List[_TryFrame] = []
        self._safe_globals: List[int] = []  # the `with safe_globals(...)` blocks we are in

    # `try: torch.load(p, weights_only=True) except TypeError: torch.load(p)` (torch < 1.13 has no
    # weights_only) and `with torch.serialization.safe_globals([...]): torch.load(p)` (which only
    # means something to a weights-only load) leave weights_only out on purpose.
    def visit_Try(self, node: cst.Try) -> None:
        self._tries.append(_TryFrame())

    def leave_Try(self, original_node: cst.Try) -> None:
        self._tries.pop()

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if self._tries:
            self._tries[-1].part = "type-error" if _catches_type_error(node) else "handler"

    def leave_ExceptHandler(self, original_node: cst.ExceptHandler) -> None:
        if self._tries:
            self._tries[-1].part = "after"

    def visit_With(self, node: cst.With) -> None:
        if any(isinstance(item.item, cst.Call) and self.analysis.qualified_name(item.item.func) == _SAFE_GLOBALS
               for item in node.items):
            self._safe_globals.append(id(node))

    def leave_With(self, original_node: cst.With) -> None:
        if self._safe_globals and self._safe_globals[-1] == id(original_node):
            self._safe_globals.pop()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if self.analysis.qualified_name(func) == "torch.load":
            self.loads.append(node)
            self.load_where[id(node)] = self.analysis.where()
            passes_weights_only = argument(node, None, "weights_only") is not None
            for frame in self._tries:
                if frame.part == "body" and passes_weights_only:
                    frame.tries_weights_only = True
            innermost = self._tries[-1] if self._tries else None
            if self._safe_globals:
                self.in_safe_globals.add(id(node))
            if self._safe_globals or (innermost is not None and innermost.part == "type-error"
                                      and innermost.tries_weights_only):
                self.intended.add(id(node))
        elif isinstance(func, cst.Attribute):
            if func.attr.value in MODULE_ONLY_METHODS or func.attr.value in _RNN_ONLY_METHODS:
                self._module_uses.append((func.value, self.analysis.where(), f".{func.attr.value}()"))
        elif not isinstance(func, cst.Name) or self.analysis.reaching(func.value):
            # `model(x)` or `torch.load(p)(x)`: only modules (of what torch.load returns) are called.
            self._module_uses.append((func, self.analysis.where(), "called"))

    def loads_used_as_module(self) -> dict:
        """Map id(load call) -> how it is used as a module (the first use seen)."""
        if not self.loads:
            return {}
        load_ids: Set[int] = {id(call) for call in self.loads}
        used: dict = {}
        for expr, where, how in self._module_uses:
            origins = self.analysis.values.origins(expr, where)
            for origin, _ in origins or ():
                call = strip_module_methods(origin)
                if id(call) in load_ids:
                    used.setdefault(id(call), how)
        return used


@register
class TorchLoadWithoutWeightsOnly(_LoadTracker):
    """
    ## What it does
    Finds `torch.load(...)` calls that do not say `weights_only`, so whether the file may run code
    depends on the torch version and the environment. An explicit `weights_only=False` is the
    author's decision (a trusted file with pickled objects) and is not reported; on 19 public
    repositories every one of them was deliberate. Loads that leave it out on purpose are not
    reported either: the fallback
    for old torch in `try: torch.load(p, weights_only=True) except TypeError: torch.load(p)`
    (torch before 1.13 has no such argument; a refused file raises `UnpicklingError`, which
    that handler does not catch), and loads inside `with torch.serialization.safe_globals(...)`,
    which only a weights-only load uses. A fallback under `except Exception:` is reported: it
    unpickles everything exactly when the weights-only load refused the file. Nor is a load of
    the file the same code has just written (`torch.save(obj, path)` earlier in the same
    function, on every path to the load, with the same `path`), or of a literal file name the
    same code saves earlier on some path that can run before the load (a notebook's best
    checkpoint, saved in its training loop; not one saved only in the other branch of an
    `if`): nothing foreign is in it.

    ## Why is this bad?
    Without `weights_only=True`, `torch.load` unpickles arbitrary Python objects, and unpickling
    can run any code the file's author chose: loading a downloaded checkpoint is then running a
    downloaded program. Before PyTorch 2.6 the default was `weights_only=False`; 2.6 made `True`
    the default, but an explicit `weights_only=False` still opts out, and setting the environment
    variable `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1` turns the old default back on for every call that
    does not say `weights_only` itself. CVE-2025-32434 showed that even `weights_only=True` was
    bypassable before 2.6.0, so also keep PyTorch up to date. Saying `weights_only=True` makes the
    safe behaviour explicit on every version and under every environment.

    A `torch.load` whose result is used as a whole module is reported by TL503 instead: it needs a
    different change (save a state dict) and adding `weights_only=True` alone would break it.

    ## Example
    ```python
    state = torch.load("model.pt")
    ```

    ## Use instead
    ```python
    state = torch.load("model.pt", weights_only=True)
    ```

    ## Torch versions
    When the project targets torch 2.6 or newer (`target-torch = "2.6"` in `[tool.torchlint]`,
    `--target-torch 2.6`, or a `torch>=2.6` requirement in the project's `pyproject.toml`), a
    missing `weights_only` is not reported: the default is already `True`.

    ## Fix safety
    `weights_only=True` must not refuse what the program itself saved, so the fix depends on
    what the `torch.save` calls of the file put in their files (saves to another literal path
    than the load's are left out). `weights_only=True` accepts tensors, containers of them,
    numbers, strings, `None`, dtypes, devices and the state dicts of modules and optimizers; it
    refuses whole modules and optimizers, argparse Namespaces, numpy values and instances of the
    program's own classes.

    - Safe when the argument is missing, no `pickle_module` is passed and everything the file
      saves is plain weights: it adds `weights_only=True`, which is what PyTorch 2.6 and later
      already do.
    - Unsafe when the file also saves values whose type is not known, or when it
      saves a whole module (which TL501's fix turns into a state dict). The message names what
      is saved.
    - No fix when the file saves other objects `weights_only=True` refuses (an argparse
      Namespace, say), or when the code's use of the loaded value shows such objects in it (an
      element given to `torch.from_numpy`, an attribute no tensor has: `ckpt["args"].lr`): the
      load would fail; save plain data, or allow the class with `torch.serialization.safe_globals`. No fix either when a `pickle_module` is passed (PyTorch
      refuses to combine the two) or when `**kwargs` are forwarded.

    ## Source
    Note 001, "14.Pytorch模型断点续练方法": every load in the note's checkpoint code is a plain
    `torch.load(path)`; the note predates the 2.6 default change and never mentions the risk.
    """

    code = "TL502"
    name = "torch-load-without-weights-only"
    summary = "`torch.load` without `weights_only=True` can run arbitrary code from the file"
    fix_safety = SOMETIMES
    level = "error"

    def finish(self) -> None:
        used = self.loads_used_as_module()
        checkpoints = self.analysis.checkpoints
        for call in self.loads:
            if id(call) not in used:
                self._check(call, checkpoints)

    def _check(self, call: cst.Call, checkpoints: CheckpointFacts) -> None:
        weights_only = argument(call, None, "weights_only")
        pickle_module = argument(call, 2, "pickle_module")
        old: cst.CSTNode
        new: cst.CSTNode
        where = self.load_where.get(id(call))
        if weights_only is None:
            if has_star_args(call) or self.options.target_torch >= WEIGHTS_ONLY_DEFAULT or id(call) in self.intended:
                return
            message = ("`torch.load` without `weights_only=True` unpickles arbitrary objects, which can run code "
                       "from the file; pass `weights_only=True`")
            new, old, title = with_keyword(call, "weights_only", cst.Name("True")), call, "Add `weights_only=True`"
            default = SAFE
        else:
            return  # `weights_only=False` said explicitly is the author's decision, not an oversight
        if checkpoints.written_just_before(call, where):
            return  # the file is the one this code has just written: nothing foreign to unpickle
        if pickle_module:
            self.report(call, message, None)
            return
        objects = checkpoints.loaded_objects(call)
        if objects is not None:
            self.report(call, message + f" (no fix: the loaded value holds {objects}, which "
                        "`weights_only=True` refuses)", None)
            return
        saves = checkpoints.refused_by_weights_only(call, where)
        applicability, why = _fix_applicability(default, saves)
        fix = Fix(applicability, title, (Edit(old, new),)) if applicability is not None else None
        self.report(call, message + why, fix)


def _fix_applicability(default: str, saves: List[Saved]) -> Tuple[Optional[str], str]:
    """How safe `weights_only=True` is when this file saves `saves` (what weights_only may refuse),
    and the words that say why. A whole module saved is TL501's to fix (its fix saves the
    state dict), so the fix stays, as unsafe; any other refused object makes the load fail: no fix."""
    if not saves:
        return default, ""
    first = saves[0].judgement
    if first.verdict == REFUSED:
        if all(s.judgement.what == MODULE for s in saves if s.refused):
            return UNSAFE, (f" (unsafe fix: this file saves {first.reason}, which `weights_only=True` "
                            "refuses until that save is a `state_dict()`, TL501)")
        return None, (f" (no fix: this file saves {first.reason}, which `weights_only=True` refuses; "
                      "save plain data instead or allow its class with `torch.serialization.safe_globals`)")
    return UNSAFE, (f" (unsafe fix: this file also saves {first.reason}, which `weights_only=True` "
                    "may refuse)")


@register
class WholeModelLoad(_LoadTracker):
    """
    ## What it does
    Finds `torch.load(...)` whose result is used as a module: `.eval()`, `.train()`,
    `.parameters()`, `.state_dict()`, `.load_state_dict()`, `.modules()`, `.children()`,
    `.zero_grad()`, `.flatten_parameters()` or a call like `model(x)`, either directly on the call
    (also after `.to()` / `.cuda()`) or through the variable it was assigned to (every load that
    can reach the use, in each branch). A use of `.to()` alone is not evidence: tensors have
    `.to()` too. Loads inside `with torch.serialization.safe_globals([...])` are not reported:
    the code allowlists the classes, so the weights-only load accepts the module.

    ## Why is this bad?
    The file holds a pickled module, the counterpart of `torch.save(model, path)` (TL501). It
    loads only if the model's class can be imported under the same module path as when it was
    saved, and since PyTorch 2.6 `torch.load` refuses it by default (`weights_only=True`) with an
    `UnpicklingError`; making it load again means `weights_only=False`, which lets the file run
    arbitrary code (TL502).

    ## Example
    ```python
    model = torch.load("model.pt")
    model.eval()
    ```

    ## Use instead
    ```python
    model = Net()
    model.load_state_dict(torch.load("model.pt", weights_only=True))
    model.eval()
    ```
    and save with `torch.save(model.state_dict(), "model.pt")`.

    ## Fix safety
    No fix: the model's class and constructor arguments are needed to rebuild it, and the file
    must be saved again as a state dict.

    ## Source
    Note 001, "14.Pytorch模型断点续练方法": "直接保存，然后加载" shows `model = torch.load(path)` and the
    note warns that this first method is error-prone ("第一种方法容易出错").
    """

    code = "TL503"
    name = "whole-model-load"
    summary = "`torch.load` result is used as a whole module; load a `state_dict` into a new model"
    fix_safety = NO_FIX

    def finish(self) -> None:
        used = self.loads_used_as_module()
        for call in self.loads:
            how = used.get(id(call))
            if how is not None and id(call) not in self.in_safe_globals:
                self.report(call, f"`torch.load` result is used as a whole module ({how}): this needs the "
                            "pickled class and fails with `weights_only=True` (the default since torch 2.6); "
                            "save a `state_dict`, rebuild the model and call `load_state_dict`")
