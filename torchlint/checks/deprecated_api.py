"""TL603 and TL604: deprecated and removed API, from the table in torchlint/data/deprecations.toml.

One tracker finds every reference to a table entry (attribute chains, names bound by imports,
the import statements themselves, keyword arguments, `.byte()` masks); which rule reports it
depends on the entry and on the oldest torch / torchvision the project supports.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from torchlint.analysis.deprecations import Deprecation, deprecations
from torchlint.analysis.guards import version_guarded
from torchlint.rule import SOMETIMES, UNSAFE, SAFE, Edit, Fix, Rule, register
from torchlint.syntax import argument, dotted_name

_BYTE_MASK_METHODS = {"masked_fill": 0, "masked_fill_": 0, "masked_scatter": 0, "masked_scatter_": 0,
                      "masked_select": 0}
_LEGACY_DTYPES = {
    "Float": "float32", "Double": "float64", "Half": "float16", "BFloat16": "bfloat16", "Byte": "uint8",
    "Char": "int8", "Short": "int16", "Int": "int32", "Long": "int64", "Bool": "bool",
}
_TRIGGERS = ("import torch", "import numpy", "import functorch", "import torchvision")  # the table's roots


class _DeprecationTracker(Rule):
    triggers = _TRIGGERS
    reports_removed: bool = False

    @classmethod
    def could_fire(cls, references) -> bool:
        """Only where the file names a table entry, passes a keyword the table lists to a named
        callable, or calls `.byte()` (a mask)."""
        table = deprecations()
        if "byte" in references.attributes or any(table.for_name(name) for name in references.names):
            return True
        listed = table.keywords()
        return any(keyword in listed and table.for_keyword(callee, keyword)
                   for callee, keywords in references.calls for keyword in keywords)

    def __init__(self, analysis) -> None:
        super().__init__(analysis)
        self._seen: Set[int] = set()
        self._names_an_entry: Dict[str, bool] = {}

    # ------------------------------------------------------------------ which rule reports
    def _applies(self, entry: Deprecation) -> bool:
        target = self._target(entry)
        removed = entry.removed_for(target)
        if removed is None:
            return False
        return removed == self.reports_removed

    def _target(self, entry: Deprecation) -> Optional[Tuple[int, ...]]:
        if entry.library == "torch":
            return self.options.target_torch if self.options.target_torch_stated else None
        if entry.library == "torchvision":
            return self.options.target_torchvision
        return None

    # ------------------------------------------------------------------ references
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        qualified = self.analysis.qualified_name(func)
        entry = deprecations().for_name(qualified)
        if entry is not None:
            self._seen.add(id(func))
            if isinstance(func, cst.Attribute):
                self._seen.add(id(func.attr))
            self._reference(func, entry, node)
        for arg in node.args:
            if arg.keyword is not None:
                keyword_entry = deprecations().for_keyword(qualified, arg.keyword.value)
                if keyword_entry is not None and keyword_entry.rewrite == "byte-mask":
                    continue  # about what the mask is (`.byte()`), judged by `_byte_mask`
                if keyword_entry is not None and self._applies(keyword_entry):
                    self._report(arg, keyword_entry, f"`{arg.keyword.value}=` of `{qualified}`", None)
        self._byte_mask(node, qualified)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:  # `np.float = float` restores a name; it does not use it
            self._seen.add(id(target.target))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._seen.add(id(node.attr))
        self._seen.add(id(node.value))  # `Variable._execution_engine`: a use of something else
        if id(node) in self._seen:
            return
        entry = deprecations().for_name(self.analysis.qualified_name(node))
        if entry is not None:
            self._reference(node, entry, None)

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) in self._seen or not self._may_name_an_entry(node.value):
            return
        entry = deprecations().for_name(self.analysis.qualified_name(node))
        if entry is not None:
            self._reference(node, entry, None)

    def _may_name_an_entry(self, name: str) -> bool:
        """Some import of the file binds `name` to a table entry (or a star import may): names
        are most of a file's nodes, and those an import binds to no entry (`torch`, `nn`) need
        no resolving through their scopes here."""
        known = self._names_an_entry.get(name)
        if known is None:
            targets = self.analysis.import_targets(name)
            table = deprecations()
            known = self._names_an_entry[name] = targets is None or any(table.for_name(t) for t in targets)
        return known

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            return
        module = (dotted_name(node.module) or "")
        for alias in node.names:
            self._seen.add(id(alias.name))
            if alias.asname is not None:
                self._seen.add(id(alias.asname.name))
            entry = deprecations().for_name(f"{module}.{dotted_name(alias.name) or ''}")
            if entry is not None and self._applies(entry) and not self._guarded(entry):
                self._report(alias, entry, f"import of `{entry.name}`", None)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            for part in _parts(alias.name):
                self._seen.add(id(part))

    def visit_Subscript(self, node: cst.Subscript) -> None:
        entry = deprecations().for_keyword("torch.Tensor.__getitem__", "mask")
        for element in node.slice:
            index = element.slice
            if isinstance(index, cst.Index) and _is_byte_call(index.value) and entry and self._applies(entry):
                self._report(index.value, entry, "indexing with a `.byte()` mask", _byte_to_bool(index.value))

    # ------------------------------------------------------------------ judging one reference
    def _reference(self, node: cst.BaseExpression, entry: Deprecation, call: Optional[cst.Call]) -> None:
        if not self._applies(entry) or self._guarded(entry):
            return
        if entry.rewrite == "legacy-tensor" and call is None:
            return  # `isinstance(x, torch.LongTensor)`, `.type(torch.FloatTensor)`: the type, not the constructor
        fix = self._fix(node, entry, call)
        self._report(call if call is not None and fix is not None and fix.edits[0].old is call else node,
                     entry, f"`{entry.name}`", fix)

    def _guarded(self, entry: Deprecation) -> bool:
        return entry.kind == "removed" and version_guarded(self.analysis, entry.name.rsplit(".", 1)[-1])

    def _report(self, node: cst.CSTNode, entry: Deprecation, what: str, fix: Optional[Fix]) -> None:
        replacement = entry.replacement_name
        verb = "raises or does nothing" if self.reports_removed else "still runs but will go"
        message = (f"{what} is {entry.version_text()} ({verb}): use {_code(replacement)} instead; "
                   f"{entry.reason}")
        self.report(node, message, fix)

    # ------------------------------------------------------------------ fixes
    def _fix(self, node: cst.BaseExpression, entry: Deprecation, call: Optional[cst.Call]) -> Optional[Fix]:
        safety = SAFE if entry.fix == "safe" else UNSAFE
        if entry.fix == "none":
            return None
        if entry.rewrite == "reference":
            new = self._spell(node, entry.replacement_name)
            if new is None:
                return None
            if entry.insert_arg:
                if call is None or any(arg.keyword is None for arg in call.args):
                    return None  # positional arguments would shift: leave it to the author
                first = cst.Arg(cst.parse_expression(entry.insert_arg),
                                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")) if call.args
                                else cst.MaybeSentinel.DEFAULT)
                return Fix(safety, f"Use `{entry.replacement_name}({entry.insert_arg}, ...)`",
                           (Edit(call, call.with_changes(func=new, args=[first, *call.args])),))
            return Fix(safety, f"Use `{entry.replacement_name}`", (Edit(node, new),))
        if entry.rewrite == "unwrap" and call is not None:
            if len(call.args) == 1 and call.args[0].keyword is None and not call.args[0].star:
                return Fix(safety, "Use the tensor itself", (Edit(call, call.args[0].value),))
        if entry.rewrite == "legacy-tensor" and call is not None:
            return self._legacy_tensor(entry, call, safety)
        return None

    def _spell(self, node: cst.BaseExpression, qualified: str) -> Optional[cst.BaseExpression]:
        """`qualified` written with the names this module already binds, or None."""
        if qualified.startswith("builtins."):
            name = qualified.split(".", 1)[1]
            return None if self.analysis.reaching(name) else cst.Name(name)
        current: cst.BaseExpression = node
        while True:
            prefix = self.analysis.qualified_name(current)
            if prefix and (qualified == prefix or qualified.startswith(prefix + ".")):
                return _extend(current, qualified[len(prefix) + 1:])
            if not isinstance(current, cst.Attribute):
                break
            current = current.value
        torch_name = cst.Name("torch")
        if qualified.startswith("torch.") and self.analysis.qualified_name(torch_name) == "torch":
            return _extend(torch_name, qualified[len("torch."):])
        return None

    def _legacy_tensor(self, entry: Deprecation, call: cst.Call, safety: str) -> Optional[Fix]:
        torch_name = cst.Name("torch")
        if self.analysis.qualified_name(torch_name) != "torch" or any(a.keyword or a.star for a in call.args):
            return None
        last = entry.name.rsplit(".", 1)[-1]
        dtype = _LEGACY_DTYPES[last[: -len("Tensor")]]
        args = [a.value for a in call.args]
        values: List[cst.BaseExpression]
        if not args:
            factory, values = "empty", [cst.Integer("0")]
        elif len(args) == 1 and isinstance(args[0], (cst.List, cst.Tuple)):
            factory, values = "tensor", args
        elif len(args) > 1 or _is_size(args[0]):
            factory, values = "empty", args
        else:
            return None  # one name or expression: a size or data, unknowable here
        keywords = [f"dtype=torch.{dtype}"] + (['device="cuda"'] if entry.name.startswith("torch.cuda.") else [])
        code = self.analysis.module.code_for_node
        text = f"torch.{factory}({', '.join([code(v) for v in values] + keywords)})"
        return Fix(safety, f"Use `torch.{factory}(..., dtype=torch.{dtype})`", (Edit(call, cst.parse_expression(text)),))

    def _byte_mask(self, call: cst.Call, qualified: Optional[str]) -> None:
        func = call.func
        position = None
        if isinstance(func, cst.Attribute) and func.attr.value in _BYTE_MASK_METHODS and qualified is None:
            position, name = 0, f"torch.Tensor.{func.attr.value}"
        elif qualified in ("torch.masked_fill", "torch.masked_select"):
            position, name = 1, qualified
        if position is None:
            return
        entry = deprecations().for_keyword(name, "mask")
        if entry is None or not self._applies(entry):
            return
        mask = argument(call, position, "mask")
        if mask is not None and _is_byte_call(mask.value):
            self._report(mask.value, entry, f"a `.byte()` mask in `{func.attr.value if isinstance(func, cst.Attribute) else name}`",
                         _byte_to_bool(mask.value))


def _is_byte_call(node: cst.BaseExpression) -> bool:
    return (isinstance(node, cst.Call) and not node.args and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "byte")


def _byte_to_bool(node: cst.BaseExpression) -> Fix:
    attr = node.func.attr  # type: ignore[attr-defined]
    return Fix(SAFE, "Use a bool mask: `.bool()`", (Edit(attr, attr.with_changes(value="bool")),))


def _is_size(node: cst.BaseExpression) -> bool:
    """An int literal, `x.size()` or `x.shape`: what a legacy constructor reads as sizes."""
    if isinstance(node, cst.Integer):
        return True
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "size":
        return not node.args
    return isinstance(node, cst.Attribute) and node.attr.value == "shape"


def _extend(base: cst.BaseExpression, rest: str) -> cst.BaseExpression:
    for part in filter(None, rest.split(".")):
        base = cst.Attribute(value=base, attr=cst.Name(part))
    return base




def _parts(node: cst.BaseExpression):
    while isinstance(node, cst.Attribute):
        yield node
        yield node.attr
        node = node.value
    yield node


def _code(replacement: str) -> str:
    """The replacement as code (`torch.outer`), or as words ("the tensor itself")."""
    if replacement.startswith("builtins."):
        replacement = replacement.split(".", 1)[1]
    if "`" in replacement or replacement.startswith(("the ", "a ")):
        return replacement
    return " / ".join(f"`{part.strip()}`" for part in replacement.split(" / "))


_PAGE_COMMON = """
    ## Torch versions
    `target-torch` (and `target-torchvision`) in `[tool.torchlint]`, `--target-torch`, or the
    project's own `torch>=` requirement say which is the oldest version the code must run on.
    A name removed in a release the target reaches is TL604; while the oldest supported release
    still has it, it is TL603 (it works there, and breaks on newer releases). A deprecation is not
    reported when the target predates it (its replacement may not exist there yet). Without a
    stated target, every entry is reported as for the current releases. numpy entries always
    apply. Removed names used under a version guard (`if hasattr(torch, "solve")`, a
    `torch.__version__` check, `try: ... except AttributeError`) are not reported.
"""


def _entries_page(removed: bool) -> str:
    """The table's entries for one rule, as a Markdown list for its page."""
    lines = ["", "    ## Entries", f"    From torchlint/data/deprecations.toml ({'removed' if removed else 'deprecated'} "
             "as seen from the current releases):", ""]
    for entry in deprecations().entries:
        if (entry.kind == "removed") != removed:
            continue
        what = f"`{entry.name}`" + (f" `{entry.keyword}=`" if entry.keyword else "")
        fix = {"safe": "safe fix", "unsafe": "unsafe fix"}.get(entry.fix, "no fix")
        lines.append(f"    - {what}: {entry.version_text()}; use {_code(entry.replacement_name)} ({fix}). {entry.reason}.")
    return "\n".join(lines) + "\n"


@register
class DeprecatedApi(_DeprecationTracker):
    __doc__ = """
    ## What it does
    Finds uses and imports of torch, torchvision and numpy API that is deprecated: everything
    in TorchFix's table (`torch.qr`, `torch.cholesky`, `torch.chain_matmul`, `torch.norm`,
    `torch.svd`, `torch.lu`, `torch.nn.utils.weight_norm`, `torch.cuda.amp.autocast`, the
    functorch transforms, ...) and the cases from the notes: `Variable(x)`, the legacy typed
    constructors `torch.FloatTensor(...)` / `torch.cuda.FloatTensor(...)`,
    `torch.nn.init.normal` without its underscore, `size_average=` / `reduce=` on losses.
    The entries are data: torchlint/data/deprecations.toml (name or keyword, version range,
    replacement, whether the replacement is a mechanical fix and how safe it is, and why).

    ## Why is this bad?
    Deprecated API still runs, usually with a warning, and goes away in a later release; some
    of it already behaves differently from what its name suggests (`Variable(x)` returns a
    detached alias; `torch.range` includes its end point). The replacement is the API the
    documentation and the next torch release support.

    ## Example
    ```python
    torch.nn.init.normal(w)
    eps = torch.cuda.FloatTensor(std.size()).normal_()
    with torch.cuda.amp.autocast():
        y = model(x)
    ```

    ## Use instead
    ```python
    torch.nn.init.normal_(w)
    eps = torch.empty(std.size(), dtype=torch.float32, device="cuda").normal_()
    with torch.amp.autocast("cuda"):
        y = model(x)
    ```
""" + _PAGE_COMMON + """
    ## Fix safety
    Safe for renames to an equivalent (`nn.init.normal` -> `normal_`, `torch.ger` ->
    `torch.outer`, `F.upsample` -> `F.interpolate`, `torch.cuda.amp.autocast(...)` ->
    `torch.amp.autocast("cuda", ...)` when the call has no positional arguments) and for legacy
    constructors whose arguments are clearly sizes (several arguments, an int, `x.size()`,
    `x.shape`) or clearly data (a list or tuple literal). Unsafe for `Variable(x)` -> `x`:
    `Variable(x)` is detached from `x`'s graph, `x` is not. No fix where the replacement takes
    different arguments (`torch.qr`, `torch.svd`, `size_average=`).

    ## Source
    Note 001 (the VAE): `eps = torch.cuda.FloatTensor(std.size()).normal_()` and
    `eps = Variable(eps)`; note 002: `torch.nn.init.normal(tensor, mean=0, std=1)`. TorchFix
    TOR101 / TOR103 report deprecated uses and imports.
""" + _entries_page(False)

    code = "TL603"
    name = "deprecated-api"
    summary = "deprecated torch / torchvision / numpy API; use its replacement"
    fix_safety = SOMETIMES
    reports_removed = False


@register
class RemovedApi(_DeprecationTracker):
    __doc__ = """
    ## What it does
    Finds uses and imports of API that the releases the project supports no longer have:
    `torch.solve`, `torch.symeig`, `torch.eig`, `torch.lstsq`, `torch.matrix_rank` (their stubs
    raise `RuntimeError`), `Variable(..., volatile=True)` (ignored since 0.4), `.byte()` masks in
    `masked_fill` (raises), and numpy's removed aliases `np.float`, `np.int`, `np.object`,
    `np.complex`, `np.str` (AttributeError since numpy 1.24). Imports of removed names are
    reported at the import. The entries are data: torchlint/data/deprecations.toml.

    ## Why is this bad?
    The line raises when it runs (or, for `volatile=True`, silently records the graph it was
    meant to skip, costing memory).

    ## Example
    ```python
    X = torch.solve(B, A).solution
    x.masked_fill_(mask.byte(), -float("inf"))
    a = np.zeros(3, dtype=np.float)
    ```

    ## Use instead
    ```python
    X = torch.linalg.solve(A, B)
    x.masked_fill_(mask.bool(), -float("inf"))
    a = np.zeros(3, dtype=float)
    ```
""" + _PAGE_COMMON + """
    ## Fix safety
    Safe for `.byte()` masks (`.bool()` selects the same elements: non-zero is True) and for
    numpy's aliases (`np.float` was `float`), when the builtin name is not rebound in the file.
    No fix where the replacement takes other arguments (`torch.linalg.solve(A, B)` reverses
    them) or for `volatile=True` (wrap the code in `with torch.no_grad():`).

    ## Source
    Note 001: `a.data.masked_fill_(mask.byte(), -float('inf'))` and
    `np.zeros([shape[0]], dtype=np.float)`. TorchFix TOR001 / TOR004 report removed uses and imports.
""" + _entries_page(True)

    code = "TL604"
    name = "removed-api"
    summary = "API that the supported torch / numpy releases no longer have (raises)"
    fix_safety = SAFE
    level = "error"
    reports_removed = True
