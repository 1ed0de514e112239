"""Facts about tensor values, each on positive evidence: may it require grad, may it be
non-contiguous, is it a softmax/log_softmax/sigmoid output. Where a value lives (CPU or CUDA) is
answered by the device lattice, analysis/devices.py.

Each question follows the value to its origins (analysis/values.py) and asks every origin; the
answer is yes only when every origin says yes. A name of unknown origin (a DataLoader batch, an
unannotated parameter) answers no, so rules stay silent rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, FrozenSet, List, Optional, Sequence, Set, Tuple, cast

import libcst as cst

from torchlint.analysis import layout
from torchlint.analysis.layout import Layout
from torchlint.analysis.torch_api import (
    ACTIVATION_FUNCTIONS,
    ACTIVATION_METHODS,
    ACTIVATION_MODULES,
    DTYPE_NAMES,
    NO_GRAD_RESULT_FUNCTIONS,
    NO_GRAD_RESULT_METHODS,
    PARAMETERLESS_NN_CLASSES,
    TENSOR_FACTORIES,
    VALUE_KEEPING_METHODS,
)

from torchlint.analysis.summary import FUNCTION
from torchlint.syntax import argument_value, has_star_args, is_name, is_self_attribute
from torchlint.tree import child_nodes, walk

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where
    from torchlint.analysis.scopes import StatementInfo

Judge = Callable[["cst.CSTNode", "Where"], bool]


@dataclass(frozen=True)
class Activation:
    """Where a value's activation comes from."""

    kind: str  # softmax, log_softmax, sigmoid
    node: cst.Call  # the call applying it, or the layer's construction (nn.Softmax(...)) for layers
    where: "Where"
    input: Optional[cst.BaseExpression]  # what the activation was applied to; None for layers
    dim: Optional[cst.BaseExpression] = None
    source: Optional[str] = None  # applied in another module of the project: which (`models.Net`)
    reshaped: bool = False  # then reshaped, moved or cast (`.squeeze(1)`): the same values, another shape
_VIEW_ATTRIBUTES = frozenset({"T", "mT", "H", "mH", "real", "imag"})
# Moves and casts: the result carries gradients exactly when the input does.
_MOVING_METHODS = frozenset("to cuda cpu float half double bfloat16 type contiguous clone".split())
# Parameters of the torch.nn layers (weights and biases; buffers such as running_mean are not).
_LAYER_PARAMETERS = frozenset(
    "weight bias in_proj_weight in_proj_bias weight_ih weight_hh bias_ih bias_hh "
    "weight_ih_l0 weight_hh_l0 bias_ih_l0 bias_hh_l0".split()
)


class TensorFacts:
    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        self.values = analysis.values
        self._visiting: Set[Tuple[str, int]] = set()

    # ------------------------------------------------------------------ the shared walk
    def _every_origin(self, question: str, expr: cst.BaseExpression, where: Optional["Where"], judge: Judge) -> bool:
        origins = self.values.origins(expr, where)
        if not origins:
            return False
        for node, node_where in origins:
            key = (question, id(node))
            if key in self._visiting:
                continue  # `x = x * 2` in a loop: the other origins decide
            self._visiting.add(key)
            try:
                if not judge(node, node_where):
                    return False
            finally:
                self._visiting.discard(key)
        return True

    def _any_argument(self, call: cst.Call, where, question: Callable) -> bool:
        return any(question(arg.value, where) for arg in call.args if not arg.star and arg.keyword is None)

    # ------------------------------------------------------------------ requires grad
    def requires_grad(self, expr: cst.BaseExpression, where: Optional["Where"] = None) -> bool:
        """True when the value surely carries gradients (so `.numpy()` on it raises)."""
        if isinstance(expr, cst.Name) and self._parameter_loop_variable(expr, where or self.analysis.where()):
            return True
        if isinstance(expr, cst.Name) and self._bound_without_grad(expr, where):
            # Computed where autograd records nothing (`with torch.no_grad(): v = self.value(s)`),
            # even when the origins followed lie in a function called there: only a parameter
            # handed through keeps its gradients.
            return self._every_origin("grad", expr, where, self._origin_is_parameter)
        return self._every_origin("grad", expr, where, self._origin_requires_grad)

    def _bound_without_grad(self, name: cst.Name, where: Optional["Where"]) -> bool:
        """Every assignment of `name` that reaches here runs with grad off."""
        bindings = self.analysis.reaching(name.value, where)
        return bool(bindings) and all(
            b.kind in ("assign", "annassign", "unpack") and self.analysis.grad_enabled(self.analysis.binding_where(b)) is False
            for b in bindings)

    def _origin_is_parameter(self, node: cst.CSTNode, where: "Where") -> bool:
        return isinstance(node, (cst.Attribute, cst.Name)) and self.is_parameter(node, where)

    def grad_free(self, expr: cst.BaseExpression, where: Optional["Where"] = None) -> bool:
        """True when the value surely carries no gradients: detached, `.data`, built by a tensor
        factory without `requires_grad=True`, computed where autograd records nothing, or moved
        (`.cuda()`, `.to()`, `.float()`) from such a value."""
        return self._every_origin("grad-free", expr, where, self._origin_grad_free)

    def _origin_grad_free(self, node: cst.CSTNode, where: "Where") -> bool:
        if self.analysis.grad_enabled(where) is False:
            return True
        if isinstance(node, cst.Attribute):
            return node.attr.value == "data"
        if isinstance(node, cst.Comparison):
            return True
        if not isinstance(node, cst.Call) or _keyword_is(node, "requires_grad", "True"):
            return False
        func = node.func
        qualified = self.analysis.qualified_name(func, where)
        if qualified is not None:
            return qualified in NO_GRAD_RESULT_FUNCTIONS | TENSOR_FACTORIES
        if isinstance(func, cst.Attribute):
            if func.attr.value in NO_GRAD_RESULT_METHODS:
                return True
            if func.attr.value in _MOVING_METHODS:
                return self.grad_free(func.value, where)
        return False

    # Parameters carry gradients whatever the grad mode (no_grad only stops recording).
    def is_parameter(self, expr: cst.BaseExpression, where: Optional["Where"] = None) -> bool:
        """`net.weight` of a torch.nn layer, `model.w` set to `nn.Parameter(...)` in its class, or
        `p` in `for p in model.parameters()`, in a file that never freezes parameters."""
        where = where or self.analysis.where()
        if self._freezes_parameters():
            return False
        if isinstance(expr, cst.Name):
            return self._parameter_loop_variable(expr, where)
        if not isinstance(expr, cst.Attribute) or not self.values.is_module(expr.value, where):
            return False
        classes = self.values.module_classes(expr.value, where)
        if not classes:
            return False
        attribute = expr.attr.value
        for cls in classes:
            if isinstance(cls, str):
                if cls.rsplit(".", 1)[-1] in PARAMETERLESS_NN_CLASSES or not cls.startswith("torch.nn.") \
                        or attribute not in _LAYER_PARAMETERS:
                    return False
            elif isinstance(cls, cst.ClassDef):
                if not self._class_parameter(cls, attribute):
                    return False
            else:
                return False
        return True

    def _class_parameter(self, classdef: cst.ClassDef, attribute: str) -> bool:
        scope = self.analysis.index.scopes.get(id(classdef))
        bindings = scope.attributes.get(attribute, []) if scope is not None else []
        return bool(bindings) and all(
            isinstance(b.value, cst.Call)
            and self.analysis.qualified_name(b.value.func, self.analysis.binding_where(b)) == "torch.nn.Parameter"
            and not _keyword_is(b.value, "requires_grad", "False")
            for b in bindings
        )

    def _parameter_loop_variable(self, name: cst.Name, where: "Where") -> bool:
        """`p` in `for p in model.parameters()` or `for n, p in model.named_parameters()`."""
        if self._freezes_parameters():
            return False
        bindings = self.analysis.reaching(name.value, where)
        if not bindings:
            return False
        for binding in bindings:
            loop = binding.stmt.node
            if binding.kind != "for" or not isinstance(loop, cst.For) or not isinstance(loop.iter, cst.Call):
                return False
            func = loop.iter.func
            if not isinstance(func, cst.Attribute):
                return False
            expected = {"parameters": (), "named_parameters": (1,)}.get(func.attr.value)
            if expected is None or binding.unpack != expected:
                return False
            if not self.values.is_module(func.value, self.analysis.binding_where(binding)):
                return False
        return True

    def _freezes_parameters(self) -> bool:
        """The file sets `requires_grad = False` or calls `requires_grad_(False)` somewhere: which
        parameters still carry gradients is then not known."""
        cached = getattr(self, "_freezes", None)
        if cached is None:
            cached = False
            stack: List[cst.CSTNode] = [self.analysis.module]
            while stack and not cached:
                node = stack.pop()
                kind = type(node)
                if kind is cst.Assign and is_name(node.value, "False") and any(  # type: ignore[attr-defined]
                    isinstance(t.target, cst.Attribute) and t.target.attr.value == "requires_grad"
                    for t in node.targets  # type: ignore[attr-defined]
                ):
                    cached = True
                elif kind is cst.Call and _calls_method(node, "requires_grad_"):  # type: ignore[arg-type]
                    first = argument_value(node, 0, "requires_grad")  # type: ignore[arg-type]
                    cached = first is not None and not is_name(first, "True")
                stack.extend(child_nodes(node))
            self._freezes = cached
        return cached

    def _origin_requires_grad(self, node: cst.CSTNode, where: "Where") -> bool:
        if isinstance(node, (cst.Attribute, cst.Name)) and self.is_parameter(node, where):  # type: ignore[arg-type]
            return True
        if self.analysis.grad_enabled(where) is False:
            return False
        if isinstance(node, cst.BinaryOperation):
            return self.requires_grad(node.left, where) or self.requires_grad(node.right, where)
        if isinstance(node, cst.UnaryOperation) and not isinstance(node.operator, cst.Not):
            return self.requires_grad(node.expression, where)
        if isinstance(node, cst.Subscript):
            return self.requires_grad(node.value, where)
        if isinstance(node, cst.Attribute):
            return node.attr.value in _VIEW_ATTRIBUTES and self.requires_grad(node.value, where)
        if not isinstance(node, cst.Call):
            return False
        if _keyword_is(node, "requires_grad", "True"):
            return True
        module = self._called_module(node, where)
        if module is not None:
            return self._module_has_parameters(module, where) or self._any_argument(node, where, self.requires_grad)
        func = node.func
        qualified = self.analysis.qualified_name(func, where)
        if qualified is not None:
            if qualified == "torch.nn.Parameter":
                return not _keyword_is(node, "requires_grad", "False")
            if not qualified.startswith("torch.") or qualified in NO_GRAD_RESULT_FUNCTIONS | TENSOR_FACTORIES:
                return False
            return self._any_argument(node, where, self.requires_grad)
        if isinstance(func, cst.Attribute) and not self.values.is_module(func.value, where):
            method = func.attr.value
            if method in NO_GRAD_RESULT_METHODS:
                return False
            if method == "requires_grad_":
                first = argument_value(node, 0, "requires_grad")
                return first is None or not is_name(first, "False")
            return self.requires_grad(func.value, where)
        return False

    def _called_module(self, call: cst.Call, where: "Where") -> Optional[cst.BaseExpression]:
        """`model(x)` or `model.forward(x)`: the module expression, when the callee is a module."""
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "forward":
            func = func.value
        return func if self.values.is_module(func, where) else None

    def _module_has_parameters(self, module: cst.BaseExpression, where: "Where") -> bool:
        classes = self.values.module_classes(module, where)
        if classes is None:
            return False
        for cls in classes:
            if isinstance(cls, str):
                symbol = self.analysis.lookup(cls)  # a class of another module of the project
                if cls.rsplit(".", 1)[-1] in PARAMETERLESS_NN_CLASSES or (symbol is not None and not symbol.has_parameters):
                    return False
            elif isinstance(cls, cst.ClassDef) and not self.class_may_have_parameters(cls):
                return False
        return True

    def class_may_have_parameters(self, classdef: cst.ClassDef) -> bool:
        """An nn.Module class holds parameters on evidence: a `self.x` that is a module or an
        `nn.Parameter`, a registering call (`register_parameter`, `add_module`, `setattr`), or a
        base class that has them (a torch.nn layer, a class of the project that does, a library
        class the project cannot see)."""
        scope = self.analysis.index.scopes.get(id(classdef))
        info = self.analysis.index.statements.get(id(classdef))
        if scope is None or info is None:
            return True
        where = (info.scope, info)
        for base in classdef.bases:
            qualified = self.analysis.qualified_name(base.value, where)
            if qualified == "torch.nn.Module":
                continue
            local = [c for c, _ in self.values.local_classes(base.value, where) if c is not classdef]
            if local:
                if any(self.class_may_have_parameters(c) for c in local):
                    return True
                continue
            symbol = self.analysis.lookup(qualified) if qualified else None
            if symbol is not None and not symbol.has_parameters:
                continue
            if qualified is None or qualified.rsplit(".", 1)[-1] not in PARAMETERLESS_NN_CLASSES:
                return True
        for name, bindings in scope.attributes.items():
            for binding in bindings:
                value = binding.value
                if value is None:
                    continue
                value_where = self.analysis.binding_where(binding)
                if isinstance(value, cst.Call) and (self.analysis.qualified_name(value.func, value_where) or "") in (
                        "torch.nn.Parameter", "torch.nn.ParameterList", "torch.nn.ParameterDict"):
                    return True
                if self.values.is_module(value, value_where):
                    return True
        stack: List[cst.CSTNode] = [classdef.body]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.Call) and isinstance(node.func, (cst.Attribute, cst.Name)):
                name = node.func.attr.value if isinstance(node.func, cst.Attribute) else node.func.value
                if name in _REGISTERING_CALLS:
                    return True
            stack.extend(child_nodes(node))
        return False

    # ------------------------------------------------------------------ layout
    def view_may_fail(self, call: cst.Call, where: Optional["Where"] = None) -> bool:
        """`x.view(sizes)` merges dimensions that every layout `x` may have keeps apart in
        memory (analysis/layout.py), so it raises for sizes above 1."""
        if not isinstance(call.func, cst.Attribute) or self._is_dtype(call.args, where):
            return False
        sizes = layout.view_sizes(call.args)
        if sizes is None:
            return False
        layouts = self.layouts(call.func.value, where)
        return layouts is not None and all(found.view_may_fail(sizes) for found in layouts)

    def layouts(self, expr: cst.BaseExpression, where: Optional["Where"] = None) -> Optional[List[Layout]]:
        """The layout of each value `expr` may have; None unless every one is shown to be
        non-contiguous (transposed, permuted, sliced with gaps, expanded)."""
        origins = self.values.origins(expr, where)
        if not origins:
            return None
        found: List[Layout] = []
        for node, node_where in origins:
            key = ("layout", id(node))
            if key in self._visiting:
                continue  # `x = x.t()` in a loop: the other origins decide
            self._visiting.add(key)
            try:
                result = self._origin_layout(node, node_where)
            finally:
                self._visiting.discard(key)
            if result is None or result.is_contiguous:
                return None
            found.append(result)
        return found or None

    def _layout_of(self, expr: cst.BaseExpression, where: "Where") -> Optional[Layout]:
        """The one layout of an operand: contiguous when nothing shows otherwise (a parameter,
        a batch), None when its origins disagree."""
        origins = self.values.origins(expr, where)
        if not origins:
            return layout.contiguous()
        results = set()
        for node, node_where in origins:
            key = ("layout", id(node))
            if key in self._visiting:
                continue
            self._visiting.add(key)
            try:
                results.add(self._origin_layout(node, node_where))
            finally:
                self._visiting.discard(key)
        if len(results) == 1:
            return results.pop()
        if results and all(r is not None and r.is_contiguous for r in results):
            return layout.contiguous()  # contiguous on every path, ranks differing
        return None

    def _origin_layout(self, node: cst.CSTNode, where: "Where") -> Optional[Layout]:
        if isinstance(node, cst.Attribute):
            return self._attribute_layout(node, where)
        if isinstance(node, cst.Subscript):
            kinds = layout.slice_kinds(node)
            base = self._layout_of(node.value, where)
            if kinds is None or base is None:
                return layout.contiguous() if base is not None and base.is_contiguous else None
            return base.sliced(kinds)
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, _ELEMENT_WISE_OPERATORS):
            return self._element_wise(node.left, node.right, where)
        if isinstance(node, cst.Comparison) and all(
            isinstance(c.operator, _COMPARISON_OPERATORS) for c in node.comparisons
        ):
            return self._element_wise(node.left, node.comparisons[0].comparator, where)
        if isinstance(node, cst.UnaryOperation) and not isinstance(node.operator, cst.Not):
            base = self._layout_of(node.expression, where)
            return base.element_wise() if base is not None else None
        if isinstance(node, cst.Call):
            return self._call_layout(node, where)
        return layout.contiguous()

    def _attribute_layout(self, node: cst.Attribute, where: "Where") -> Optional[Layout]:
        name = node.attr.value
        if name not in ("T", "H", "mT", "mH", "data") or is_self_attribute(node) or self.values.is_module(
            node.value, where
        ):
            return layout.contiguous()
        base = self._layout_of(node.value, where)
        if base is None or name == "data":
            return base
        return base.matrix_transposed() if name in ("T", "H") else base.transposed(-2, -1)

    def _element_wise(self, first: cst.BaseExpression, second: cst.BaseExpression, where: "Where") -> Optional[Layout]:
        """TensorIterator lays the result out like its first tensor operand (a Python number
        does not count)."""
        operand = second if _is_number(first) else first
        base = self._layout_of(operand, where)
        return base.element_wise() if base is not None else None

    def _call_layout(self, node: cst.Call, where: "Where") -> Optional[Layout]:
        func = node.func
        qualified = self.analysis.qualified_name(func, where)
        if qualified is not None:
            positional = [arg.value for arg in node.args if arg.keyword is None and not arg.star]
            if not positional or has_star_args(node):
                return layout.contiguous()
            if qualified in layout.SIZED_FACTORIES:
                sizes = layout.view_sizes(node.args)
                return layout.contiguous(len(sizes) if sizes is not None else None)
            if qualified in layout.ELEMENT_WISE_FUNCTIONS:
                rest = positional[1] if len(positional) > 1 else positional[0]
                return self._element_wise(positional[0], rest, where)
            method = _TENSOR_FUNCTIONS.get(qualified)
            if method is None:
                return layout.contiguous()
            return self._method_layout(method, positional[0], positional[1:], node, where)
        if not isinstance(func, cst.Attribute) or self.values.is_module(func.value, where):
            return layout.contiguous()  # `self.t(x)`, `model.transpose(...)`: not tensor methods
        if has_star_args(node):
            if func.attr.value in ("permute", "transpose", "movedim"):
                return layout.unplaced(dense=True)
            return layout.contiguous()
        positional = [arg.value for arg in node.args if arg.keyword is None]
        return self._method_layout(func.attr.value, func.value, positional, node, where)

    def _method_layout(self, method: str, receiver: cst.BaseExpression, args: List[cst.BaseExpression],
                       call: cst.Call, where: "Where") -> Optional[Layout]:
        """The layout of `receiver.method(*args)`; contiguous for calls that are not the tensor
        method of that name (`self.t(x)` takes an argument, `Tensor.t` takes none)."""
        if method in layout.SHAPING_METHODS:
            sizes = layout.view_sizes(call.args) if method in ("view", "reshape") else None
            return layout.contiguous(len(sizes) if sizes is not None and not self._is_dtype(call.args, where) else None)
        known = method in layout.SWAP_METHODS or method in _REORDERING_METHODS
        if not known and method not in layout.ELEMENT_WISE_METHODS and method not in layout.ALIAS_METHODS:
            return layout.contiguous()
        base = self._layout_of(receiver, where)
        if base is None:
            return None
        if method in layout.ALIAS_METHODS:
            return base
        if method in layout.ELEMENT_WISE_METHODS:
            return base.element_wise()
        dims = [layout.literal_int(arg) for arg in args]
        literal = all(d is not None for d in dims)
        if method in layout.SWAP_METHODS or method in ("movedim", "moveaxis"):
            if len(args) != 2:
                return layout.contiguous()
            if not literal:
                return base.scrambled()
            a, b = dims
            return base.transposed(a, b) if method in layout.SWAP_METHODS else base.moved(a, b)  # type: ignore[arg-type]
        if method in ("t", "t_"):
            return base.matrix_transposed() if not args else layout.contiguous()
        if method == "permute":
            if len(args) == 1 and isinstance(args[0], (cst.Tuple, cst.List)):
                args = [e.value for e in args[0].elements]
                dims = [layout.literal_int(arg) for arg in args]
                literal = all(d is not None for d in dims) and not any(isinstance(a, cst.StarredElement) for a in args)
            if not args:
                return layout.contiguous()
            return (base.permuted(dims) if literal else base.scrambled()) or layout.contiguous()  # type: ignore[arg-type]
        if method == "expand":
            shape = args
            if len(args) == 1 and isinstance(args[0], (cst.Tuple, cst.List)):
                shape = [e.value for e in args[0].elements]
            if not shape:
                return layout.contiguous()
            return base.expanded([layout.literal_int(size) == -1 for size in shape])
        if method == "narrow":
            if len(args) != 3 or dims[0] is None:
                return layout.contiguous()
            dim = dims[0]
            kinds = [layout.FULL] * dim + [layout.RANGE] if dim >= 0 else [layout.ELLIPSIS, layout.RANGE] + [layout.FULL] * (-dim - 1)
            return base.sliced(kinds)
        # expand_as, unfold, diagonal: windows and stride-0 dims, placed where the code does not say
        return layout.unplaced(dense=False) if args else layout.contiguous()

    def _is_dtype(self, args: Sequence[cst.Arg], where: Optional["Where"]) -> bool:
        """`x.view(torch.int32)` reinterprets the dtype: a different operation with other rules."""
        if len(args) != 1 or args[0].keyword is not None:
            return False
        qualified = self.analysis.qualified_name(args[0].value, where) or ""
        return qualified.startswith("torch.") and qualified.count(".") == 1

    def _casts(self, call: cst.Call, where: "Where") -> bool:
        """`x.to(torch.long)`, `x.view(torch.int32)`, `x.to(device, dtype=d)`: another dtype's values."""
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "dtype":
                return True
            qualified = self.analysis.qualified_name(arg.value, where) or ""
            if qualified.startswith("torch.") and qualified[len("torch."):] in DTYPE_NAMES:
                return True
        return False

    # ------------------------------------------------------------------ activations
    def activation(self, expr: cst.BaseExpression, where: Optional["Where"] = None) -> Optional[Activation]:
        """The activation whose output the value is, when every origin agrees; None otherwise."""
        origins = self.values.origins(expr, where)
        if not origins:
            return None
        found: List[Activation] = []
        for node, node_where in origins:
            key = ("activation", id(node))
            if key in self._visiting:
                return None
            self._visiting.add(key)
            try:
                result = self._origin_activation(node, node_where)
            finally:
                self._visiting.discard(key)
            if result is None:
                return None
            found.append(result)
        kinds = {activation.kind for activation in found}
        return found[0] if len(kinds) == 1 else None

    def loss_input_activation(self, call: cst.Call, losses: FrozenSet[str]) -> Optional[Tuple[cst.Arg, Activation]]:
        """(the input argument, the activation it is an output of), for a call computing one of
        `losses` (qualified functions or classes, as `loss_call` names them) on an activation's
        output, where the traversal is."""
        if not call.args:
            return None  # no input to look at (`model.eval()`, `loss.backward()`): skip the loss question
        loss = self.analysis.loss_call(call)
        if loss is None or loss.loss not in losses or loss.input is None:
            return None
        found = self.activation(loss.input.value)
        return (loss.input, found) if found is not None else None

    def activation_input_here(self, used: cst.BaseExpression, found: Activation) -> Optional[cst.BaseExpression]:
        """What to write instead of `used`, an output of `found` read where the traversal is, to
        get the activation's input instead: that input itself when `used` is the activation's call,
        its name when the name holds the same value here as at the call (not rebound in between);
        None otherwise, and when the activation is applied in another function or by a layer."""
        logits = found.input
        if logits is None or found.reshaped or found.where[0] is not self.analysis.where()[0]:
            return None
        if used is found.node:
            return logits
        if not isinstance(used, cst.Name) or not isinstance(logits, cst.Name):
            return None
        here = self.analysis.reaching(logits.value)
        there = self.analysis.reaching(logits.value, found.where)
        if not here or [id(b) for b in here] != [id(b) for b in there]:
            return None
        if self._changed_in_place({used.value, logits.value}, found.where[1], self.analysis.where()[1]):
            return None  # `p[mask] = 0`, `z.mul_(2)` in between: no longer the activation of these logits
        return logits.with_changes(lpar=used.lpar, rpar=used.rpar)

    def _changed_in_place(self, names: Set[str], start: "StatementInfo", end: "StatementInfo") -> bool:
        """A statement of the scope from `start` to `end` changes one of `names` in place: an
        assignment to an item or attribute of it, or an in-place method (`x.add_(1)`) of it."""
        for info in self.analysis.simple_statements(start.scope):
            if not start.seq <= info.seq <= end.seq:
                continue
            for node in walk(cast(cst.CSTNode, info.node)):
                if isinstance(node, (cst.AssignTarget, cst.AugAssign)) and isinstance(node.target, (cst.Subscript, cst.Attribute)):
                    if _root_name(node.target) in names:
                        return True
                elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
                    if node.func.attr.value.endswith("_") and _root_name(node.func.value) in names:
                        return True
        return False

    def _origin_activation(self, node: cst.CSTNode, where: "Where") -> Optional[Activation]:
        if isinstance(node, cst.Subscript):  # `model(x)[1]`, `_, probs = model(x)`
            return self._element_activation(node, where)
        if not isinstance(node, cst.Call):
            return None
        func = node.func
        qualified = self.analysis.qualified_name(func, where)
        if qualified in ACTIVATION_FUNCTIONS:
            return Activation(ACTIVATION_FUNCTIONS[qualified], node, where, argument_value(node, 0, "input"),
                              argument_value(node, 1, "dim"))
        if qualified in _EXP_FUNCTIONS or (isinstance(func, cst.Attribute) and qualified is None
                                           and func.attr.value == "exp" and not node.args):
            return self._exp_of_log_softmax(node, where)
        symbol = self.analysis.lookup(qualified) if qualified else None
        if symbol is not None and symbol.kind == FUNCTION and not symbol.module and symbol.returns:
            return Activation(symbol.returns, node, where, None, source=symbol.qualified)
        if (isinstance(func, cst.Attribute) and qualified is None and func.attr.value in VALUE_KEEPING_METHODS
                and not self._casts(node, where) and not self.values.is_module(func.value, where)):
            inner = self.activation(func.value, where)  # `torch.sigmoid(z).squeeze(1)`, `probs.view(-1)`
            return replace(inner, reshaped=True) if inner is not None else None
        if isinstance(func, cst.Attribute) and qualified is None and func.attr.value in ACTIVATION_METHODS:
            if not self.values.is_module(func.value, where):
                return Activation(ACTIVATION_METHODS[func.attr.value], node, where, func.value,
                                  argument_value(node, 0, "dim"))
        module = func.value if isinstance(func, cst.Attribute) and func.attr.value == "forward" else func
        if self.values.is_module(module, where):
            return self.module_output_activation(module, where)
        return None

    def _exp_of_log_softmax(self, call: cst.Call, where: "Where") -> Optional[Activation]:
        """`torch.exp(F.log_softmax(z, 1))` and `.exp()` of one are softmax probabilities."""
        func = call.func
        inner = argument_value(call, 0, "input") if self.analysis.qualified_name(func, where) else func.value  # type: ignore[attr-defined]
        found = self.activation(inner, where) if inner is not None else None
        if found is None or found.kind != "log_softmax":
            return None
        return Activation("softmax", call, where, found.input, found.dim, found.source)

    def _element_activation(self, node: cst.Subscript, where: "Where") -> Optional[Activation]:
        """An element of a tuple a module or function returns, by a literal index."""
        index = _literal_index(node)
        if index is None:
            return None
        _, elements = self.output(node.value, where)
        if -len(elements) <= index < len(elements) and elements[index] is not None:
            kind = elements[index]
            return Activation(kind, node, where, None, source=self._source(node.value, where))  # type: ignore[arg-type]
        return None

    def _source(self, value: cst.BaseExpression, where: "Where") -> str:
        """Who applied an activation that is not visible here: the module's class or the function."""
        call = value if isinstance(value, cst.Call) else None
        if call is not None:
            symbol = self.analysis.symbol(call.func, where)
            if symbol is not None:
                return symbol.qualified
            module = self._called_module(call, where)
            if module is not None:
                classes = self.values.module_classes(module, where) or []
                names = [c if isinstance(c, str) else c.name.value for c in classes]  # type: ignore[attr-defined]
                if len(set(names)) == 1:
                    return names[0]
        return "the model"

    # ------------------------------------------------------------------ outputs, for summaries
    def output(self, expr: cst.BaseExpression, where: "Where") -> Tuple[Optional[str], Tuple[Optional[str], ...]]:
        """(activation of the value, activations of its elements when it is a tuple)."""
        found = self.activation(expr, where)
        if found is not None:
            return found.kind, ()
        origins = self.values.origins(expr, where)
        if not origins:
            return None, ()
        results = set()
        for node, node_where in origins:
            key = ("output", id(node))
            if key in self._visiting:
                return None, ()
            self._visiting.add(key)
            try:
                results.add(self._origin_elements(node, node_where))
            finally:
                self._visiting.discard(key)
        return (None, results.pop()) if len(results) == 1 else (None, ())

    def _origin_elements(self, node: cst.CSTNode, where: "Where") -> Tuple[Optional[str], ...]:
        if isinstance(node, cst.Tuple) and not any(isinstance(e, cst.StarredElement) for e in node.elements):
            return tuple(self._kind(e.value, where) for e in node.elements)
        if not isinstance(node, cst.Call):
            return ()
        symbol = self.analysis.symbol(node.func, where)
        if symbol is not None and symbol.kind == FUNCTION and not symbol.module:
            return symbol.returns_elements
        module = self._called_module(node, where)
        if module is not None:
            return self.module_output(module, where)[1]
        return ()

    def _kind(self, expr: cst.BaseExpression, where: "Where") -> Optional[str]:
        found = self.activation(expr, where)
        return found.kind if found is not None else None

    def module_output(self, module: cst.BaseExpression, where: "Where") -> Tuple[Optional[str], Tuple[Optional[str], ...]]:
        """What calling a module value gives: (its output activation, the activations of the
        elements of the tuple it returns)."""
        origins = self.values.origins(module, where)
        if not origins:
            return None, ()
        results = set()
        for node, node_where in origins:
            key = ("module-output", id(node))
            if key in self._visiting:
                return None, ()
            self._visiting.add(key)
            try:
                results.add(self._module_origin_output(node, node_where))
            finally:
                self._visiting.discard(key)
        return results.pop() if len(results) == 1 else (None, ())

    def _module_origin_output(self, node: cst.CSTNode, where: "Where") -> Tuple[Optional[str], Tuple[Optional[str], ...]]:
        found = self._module_origin_activation(node, where)
        if found is not None:
            return found.kind, ()
        if not isinstance(node, cst.Call):
            symbol = self.values.imported_symbol(node)
            return (symbol.forward, symbol.forward_elements) if symbol is not None and symbol.module else (None, ())
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("to", "cuda", "cpu", "eval", "train"):
            return self.module_output(func.value, where)
        symbol = self.analysis.symbol(func, where)
        if symbol is not None and symbol.module:
            return symbol.forward, symbol.forward_elements
        for classdef, _ in self.values.local_classes(func, where):
            return self.forward_output(classdef)
        return None, ()

    def forward_output(self, classdef: cst.ClassDef) -> Tuple[Optional[str], Tuple[Optional[str], ...]]:
        """What a module class's `forward` returns: an activation, or a tuple with some."""
        class_scope = self.analysis.index.scopes[id(classdef)]
        forwards = class_scope.bindings.get("forward", [])
        if len(forwards) != 1 or forwards[0].kind != "def":
            return None, ()
        scope = self.analysis.index.scopes[id(forwards[0].node)]
        results = set()
        for value, stmt in scope.returns:
            if value is None:
                return None, ()
            results.add(self.output(value, (scope, stmt)))
        return results.pop() if len(results) == 1 else (None, ())

    def module_output_activation(self, module: cst.BaseExpression, where: "Where") -> Optional[Activation]:
        """The activation a module applies last: nn.Softmax itself, an nn.Sequential whose last
        layer is one, or a class of this file whose forward returns one."""
        origins = self.values.origins(module, where)
        if not origins:
            return None
        results = []
        for node, node_where in origins:
            key = ("module-activation", id(node))
            if key in self._visiting:
                return None  # `self.model = self.model.to(device)`: a cycle adds no evidence
            self._visiting.add(key)
            try:
                results.append(self._module_origin_activation(node, node_where))
            finally:
                self._visiting.discard(key)
        if any(r is None for r in results) or len({r.kind for r in results}) != 1:  # type: ignore[union-attr]
            return None
        return results[0]

    def _module_origin_activation(self, node: cst.CSTNode, where: "Where") -> Optional[Activation]:
        if not isinstance(node, cst.Call):
            symbol = self.values.imported_symbol(node)  # `from models import model`
            if symbol is not None and symbol.module and symbol.forward:
                return Activation(symbol.forward, node, where, None, source=symbol.qualified)  # type: ignore[arg-type]
            return None
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("to", "cuda", "cpu", "eval", "train"):
            return self.module_output_activation(func.value, where)
        qualified = self.analysis.qualified_name(func, where)
        if qualified in ACTIVATION_MODULES:
            return Activation(ACTIVATION_MODULES[qualified], node, where, None, argument_value(node, 0, "dim"))
        if qualified == "torch.nn.Sequential":
            layers = [arg.value for arg in node.args if not arg.star]
            if not layers:
                return None
            last = layers[-1]
            if isinstance(last, cst.Call):
                return self._module_origin_activation(last, where)
            return self.module_output_activation(last, where)
        for classdef, class_where in self.values.local_classes(func, where):
            return self._forward_activation(classdef)
        symbol = self.analysis.symbol(func, where)
        if symbol is not None and symbol.module and symbol.forward:
            return Activation(symbol.forward, node, where, None, source=symbol.qualified)  # type: ignore[arg-type]
        return None

    def _forward_activation(self, classdef: cst.ClassDef) -> Optional[Activation]:
        class_scope = self.analysis.index.scopes[id(classdef)]
        forwards = class_scope.bindings.get("forward", [])
        if len(forwards) != 1 or forwards[0].kind != "def":
            return None
        scope = self.analysis.index.scopes[id(forwards[0].node)]
        results = []
        for value, stmt in scope.returns:
            if value is None:
                return None
            results.append(self.activation(value, (scope, stmt)))
        if not results or any(r is None for r in results) or len({r.kind for r in results}) != 1:  # type: ignore[union-attr]
            return None
        return results[0]


# ---------------------------------------------------------------------- syntax helpers
_REGISTERING_CALLS = frozenset("register_parameter add_module register_module setattr __setattr__".split())
_EXP_FUNCTIONS = frozenset({"torch.exp", "torch.special.exp"})


def _root_name(expr: cst.BaseExpression) -> Optional[str]:
    """`p` of `p`, `p[mask]`, `p.data`."""
    while isinstance(expr, (cst.Subscript, cst.Attribute)):
        expr = expr.value
    return expr.value if isinstance(expr, cst.Name) else None


def _literal_index(node: cst.Subscript) -> Optional[int]:
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    value = node.slice[0].slice.value
    if isinstance(value, cst.Integer):
        return int(value.value)
    if (isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus)
            and isinstance(value.expression, cst.Integer)):
        return -int(value.expression.value)
    return None


def _keyword_is(call: cst.Call, name: str, literal: str) -> bool:
    value = argument_value(call, None, name)
    return value is not None and is_name(value, literal)


_ELEMENT_WISE_OPERATORS = (
    cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo, cst.Power,
    cst.BitAnd, cst.BitOr, cst.BitXor, cst.LeftShift, cst.RightShift,
)
_COMPARISON_OPERATORS = (cst.Equal, cst.NotEqual, cst.LessThan, cst.LessThanEqual, cst.GreaterThan,
                         cst.GreaterThanEqual)
_REORDERING_METHODS = frozenset(
    "t t_ permute movedim moveaxis expand expand_as unfold diagonal narrow".split()
)
# torch functions that are a tensor method applied to their first argument.
_TENSOR_FUNCTIONS = {
    **{f: f.split(".")[-1] for f in layout.SWAP_FUNCTIONS},
    "torch.t": "t", "torch.permute": "permute", "torch.movedim": "movedim", "torch.moveaxis": "moveaxis",
    "torch.narrow": "narrow", "torch.diagonal": "diagonal",
}


def _is_number(node: cst.CSTNode) -> bool:
    return isinstance(node, (cst.Integer, cst.Float))


def _calls_method(call: cst.Call, method: str) -> bool:
    return isinstance(call.func, cst.Attribute) and call.func.attr.value == method
