"""Which layers of a model behave differently in training and evaluation mode.

`analysis.model_classes.of_value(expr, where)` answers for a module value: the `torch.nn` layers in it whose
output depends on `model.training` (dropout, batch norm, ...), found through the classes of this
file (the layers their `__init__` assigns, also inside `nn.Sequential` / `nn.ModuleList` and
nested classes), or "unknown" when some part cannot be seen (a parameter, an imported builder).
Rules use it to stay silent for models that provably have no such layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, FrozenSet, Iterator, List, Optional, Tuple

import libcst as cst

from torchlint.analysis.summary import CLASS, INSTANCE
from torchlint.analysis.torch_api import is_module_factory
from torchlint.analysis.values import strip_module_methods
from torchlint.syntax import argument, argument_value
from torchlint.tree import walk

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where
    from torchlint.analysis.summary import Symbol

_MAX_DEPTH = 8

_DROPOUTS = frozenset("Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout".split())
_BATCH_NORMS = frozenset(
    "BatchNorm1d BatchNorm2d BatchNorm3d LazyBatchNorm1d LazyBatchNorm2d LazyBatchNorm3d SyncBatchNorm".split()
)
_INSTANCE_NORMS = frozenset(
    "InstanceNorm1d InstanceNorm2d InstanceNorm3d LazyInstanceNorm1d LazyInstanceNorm2d LazyInstanceNorm3d".split()
)
# Layers with a `dropout=` argument: (default is active, positional index of `dropout`).
_DROPOUT_ARGUMENT = {
    "RNN": (False, None), "LSTM": (False, 5), "GRU": (False, 5), "MultiheadAttention": (False, 2),
    "Transformer": (True, 5), "TransformerEncoderLayer": (True, 3), "TransformerDecoderLayer": (True, 3),
}
_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})
# Wrappers whose mode behaviour is that of the module(s) they are given.
_WRAPPERS = frozenset({"TransformerEncoder", "TransformerDecoder", "DataParallel"})
_UNKNOWN_NN = frozenset({"Container", "RNNBase", "RNNCellBase"})
_WRAPPER_FUNCTIONS = frozenset({"torch.nn.parallel.DistributedDataParallel", "torch.compile"})
# torch functions whose result may be a module of unknown content.
_OPAQUE_TORCH = ("torch.load", "torch.hub.", "torch.jit.", "torch.fx.", "torch.ao.", "torch.quantization.",
                 "torch.export.", "torch.nn.utils.")
_VALUE_BUILTINS = frozenset("int float str bool len range max min abs round sum any all isinstance".split())
_SEQUENCE_BUILTINS = frozenset("list tuple sorted reversed dict".split())
_LITERALS = (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString,
             cst.FormattedString, cst.Comparison, cst.Lambda)


@dataclass(frozen=True)
class ModeLayers:
    """The mode-dependent layers found (`nn.Dropout`, ...) and whether some part is unknown."""

    layers: FrozenSet[str] = frozenset()
    unknown: bool = False

    def __or__(self, other: "ModeLayers") -> "ModeLayers":
        return ModeLayers(self.layers | other.layers, self.unknown or other.unknown)

    @property
    def depends_on_mode(self) -> bool:
        """May the module compute something different in training mode? (unknown: maybe)"""
        return self.unknown or bool(self.layers)


NONE = ModeLayers()
UNKNOWN = ModeLayers(unknown=True)

class ModelClasses:
    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        self._classes: Dict[int, ModeLayers] = {}
        self._mutations: Dict[int, dict] = {}

    # ------------------------------------------------------------------ values
    def of_value(self, expr: cst.BaseExpression, where: "Where") -> ModeLayers:
        """Mode-dependent layers of the module `expr` evaluates to. A parameter is unknown unless
        annotated with a class we can read."""
        return self._value(expr, where, 0, hyperparameters=False)

    def _value(self, expr, where, depth: int, hyperparameters: bool) -> ModeLayers:
        if depth > _MAX_DEPTH:
            return UNKNOWN
        expr = strip_module_methods(expr)
        if isinstance(expr, _LITERALS) or (isinstance(expr, cst.Name) and expr.value in ("None", "True", "False")):
            return NONE
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            return self._all([e.value for e in expr.elements], where, depth, hyperparameters)
        if isinstance(expr, cst.Dict):
            return self._all([e.value for e in expr.elements if isinstance(e, cst.DictElement)] +
                             [e.value for e in expr.elements if isinstance(e, cst.StarredDictElement)],
                             where, depth, hyperparameters)
        if isinstance(expr, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            return self._value(expr.elt, where, depth + 1, hyperparameters)
        if isinstance(expr, cst.DictComp):
            return self._value(expr.value, where, depth + 1, hyperparameters)
        if isinstance(expr, cst.BinaryOperation):  # `[Block()] * n`, `layers + [head]`
            return self._all([expr.left, expr.right], where, depth, hyperparameters)
        if isinstance(expr, cst.UnaryOperation):
            return self._value(expr.expression, where, depth + 1, hyperparameters)
        if isinstance(expr, cst.IfExp):
            return self._all([expr.body, expr.orelse], where, depth, hyperparameters)
        if isinstance(expr, cst.Call):
            local = self._local_call(expr, where, depth, hyperparameters)
            if local is not None:
                return local
            return self._call(expr, where, depth, hyperparameters)
        if isinstance(expr, cst.Param):
            return self._parameter(expr, where, depth, hyperparameters)
        if isinstance(expr, (cst.Name, cst.Attribute)):
            qualified = self.analysis.qualified_name(expr, where)
            if qualified is not None:  # an imported name: a class or function object, not a layer
                if qualified.startswith("torch."):
                    return NONE
                symbol = self.analysis.lookup(qualified)
                if symbol is None:
                    return UNKNOWN
                return _symbol_layers(symbol) if symbol.kind == INSTANCE else NONE
            return self._followed(expr, where, depth, hyperparameters)
        return UNKNOWN

    def _all(self, exprs, where, depth, hyperparameters) -> ModeLayers:
        result = NONE
        for expr in exprs:
            result |= self._value(expr, where, depth + 1, hyperparameters)
        return result

    def _followed(self, expr, where, depth, hyperparameters) -> ModeLayers:
        origins = self.analysis.values.origins(expr, where)
        if origins is None:
            built = self._built_list(expr, where, depth, hyperparameters)
            return built if built is not None else UNKNOWN
        result = NONE
        for node, node_where in origins:
            if node is expr:
                return UNKNOWN
            if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
                continue  # a function or class object, not an instance
            if isinstance(node, cst.Name) and node.value not in ("None", "True", "False"):
                symbol = self.analysis.values.imported_symbol(node)
                if symbol is not None and symbol.kind == INSTANCE:
                    result |= _symbol_layers(symbol)
                    continue
                return UNKNOWN  # an imported or global name we cannot see into
            result |= self._value(node, node_where, depth + 1, hyperparameters)
            if isinstance(node, (cst.List, cst.Tuple)) and isinstance(expr, cst.Name):
                result |= self._appended(expr.value, node_where, depth, hyperparameters)
        return result

    def _built_list(self, expr, where, depth, hyperparameters) -> Optional[ModeLayers]:
        """`layers = [...]`, `layers += [...]`, `layers.append(...)`: every layer the scope puts in
        the list, when it is bound only that way (None otherwise)."""
        scope = where[0]
        if not isinstance(expr, cst.Name) or scope.kind != "function":
            return None
        bindings = scope.bindings.get(expr.value, [])
        result = NONE
        for binding in bindings:
            node = binding.node
            if binding.kind == "assign" and isinstance(binding.value, (cst.List, cst.Tuple)):
                result |= self._value(binding.value, (scope, binding.stmt), depth + 1, hyperparameters)
            elif binding.kind == "augassign" and isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.AddAssign):
                result |= self._value(node.value, (scope, binding.stmt), depth + 1, hyperparameters)
            else:
                return None
        if not bindings:
            return None
        return result | self._appended(expr.value, where, depth, hyperparameters)

    def _appended(self, name: str, where, depth, hyperparameters) -> ModeLayers:
        """`layers = []` then `layers.append(nn.Dropout())`: what the function adds to the list."""
        scope = where[0]
        result = NONE
        for call, call_where in self._list_mutations(scope).get(name, ()):
            result |= self._all([a.value for a in call.args], call_where, depth, hyperparameters)
        return result

    def _list_mutations(self, scope):
        cached = self._mutations.get(id(scope))
        if cached is None:
            cached = {}
            for statement, info in _scope_statements(self.analysis, scope):
                for small in statement.body:
                    call = small.value if isinstance(small, cst.Expr) else None
                    if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                            and isinstance(call.func.value, cst.Name)
                            and call.func.attr.value in ("append", "extend", "insert")):
                        args = call.args[1:] if call.func.attr.value == "insert" else call.args
                        cached.setdefault(call.func.value.value, []).append(
                            (call.with_changes(args=args), (scope, info)))
            self._mutations[id(scope)] = cached
        return cached

    def _parameter(self, param: cst.Param, where, depth, hyperparameters) -> ModeLayers:
        if param.annotation is not None:
            annotation = param.annotation.annotation
            if self.analysis.qualified_name(annotation, where) == "torch.nn.Module":
                return UNKNOWN  # any module at all
            if (isinstance(annotation, cst.Name) and annotation.value in ("int", "float", "str", "bool")
                    and not self.analysis.reaching(annotation.value, where)):
                return NONE
            return self._class_expr(annotation, where, (), depth)
        if not hyperparameters:
            return UNKNOWN
        if self.analysis.values.is_module(param.name, where):  # every constructor call gives it a module
            return UNKNOWN
        if param.default is not None:
            return self._value(param.default, where, depth + 1, hyperparameters)
        return NONE

    def _local_call(self, call: cst.Call, where, depth, hyperparameters) -> Optional[ModeLayers]:
        """`self._make_layer(...)` inside a class: the layers its return values build."""
        func = call.func
        scope = where[0]
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self"):
            return None
        class_scope = scope.parent if scope.kind == "function" else None
        if class_scope is None or class_scope.kind != "class":
            return None
        for binding in class_scope.bindings.get(func.attr.value, ()):
            if binding.kind == "def":
                method_scope = self.analysis.index.scopes[id(binding.node)]
                result = NONE
                for value, stmt in method_scope.returns:
                    if value is not None:
                        result |= self._value(value, (method_scope, stmt), depth + 1, hyperparameters)
                return result
        return None

    def _call(self, call: cst.Call, where, depth, hyperparameters) -> ModeLayers:
        func = call.func
        qualified = self.analysis.qualified_name(func, where)
        if qualified is not None:
            return self._qualified_call(qualified, call, where, depth, hyperparameters)
        if isinstance(func, cst.Name):
            bindings = self.analysis.reaching(func.value, where)
            if not bindings:  # a builtin
                if func.value in _VALUE_BUILTINS:
                    return NONE
                if func.value in _SEQUENCE_BUILTINS or func.value == "OrderedDict":
                    return self._all([a.value for a in call.args], where, depth, hyperparameters)
                return UNKNOWN
            classes = list(self.analysis.values.local_classes(func, where))
            if classes:
                result = NONE
                for classdef, class_where in classes:
                    if self.analysis.values.is_module_classdef(classdef, class_where):
                        result |= self.of_class(classdef, class_where)
                return result  # instances of plain classes are not submodules
            passed = self._returned_arguments(call, where)
            if passed is not None:  # `layer_init(nn.Linear(4, 4))` returns the layer it is given
                return self._all(passed, where, depth, hyperparameters)
            origins = self.analysis.values.origins(call, where)
            if origins and all(node is not call for node, _ in origins):
                result = NONE
                for node, node_where in origins:  # each return value where the function computes it
                    result |= self._value(node, node_where, depth + 1, hyperparameters)
                return result
        return UNKNOWN

    def _returned_arguments(self, call: cst.Call, where) -> Optional[List[cst.BaseExpression]]:
        """The arguments a call of a local function evaluates to, when every `return` of the
        function returns one of its (never rebound) parameters; None otherwise."""
        function = self.analysis.values.local_function(call.func, where)
        if function is None or function.decorators or any(arg.star for arg in call.args):
            return None
        scope = self.analysis.index.scopes[id(function)]
        params = [p.name.value for p in (*function.params.posonly_params, *function.params.params)]
        passed = []
        for value, _ in scope.returns:
            if not isinstance(value, cst.Name) or value.value not in params:
                return None
            if any(b.kind != "param" for b in scope.bindings.get(value.value, ())):
                return None
            arg = argument(call, params.index(value.value), value.value)
            if arg is None:
                return None
            passed.append(arg.value)
        return passed or None

    def _qualified_call(self, qualified: str, call: cst.Call, where, depth, hyperparameters) -> ModeLayers:
        if qualified == "collections.OrderedDict":
            return self._all([a.value for a in call.args], where, depth, hyperparameters)
        prefix, _, last = qualified.rpartition(".")
        if prefix == "torch.nn" and last[:1].isupper():
            return self._torch_nn(last, call, where, depth, hyperparameters)
        if qualified in _WRAPPER_FUNCTIONS or qualified.startswith("torch.nn.utils."):
            first = call.args[0].value if call.args and not call.args[0].star else None
            return self._value(first, where, depth + 1, hyperparameters) if first is not None else UNKNOWN
        if is_module_factory(qualified) or qualified.startswith(_OPAQUE_TORCH):
            return UNKNOWN
        if qualified.startswith("torch.") or qualified.split(".")[0] in ("math", "numpy"):
            return NONE  # tensors, parameters, numbers
        symbol = self.analysis.lookup(qualified)
        if symbol is not None and symbol.kind != INSTANCE and symbol.module:
            return _symbol_layers(symbol)  # a class or factory of another module of the project
        if symbol is not None and symbol.returns_parameter is not None:  # `layer_init(nn.Linear(...))`
            given = argument(call, symbol.returns_position, symbol.returns_parameter)
            return self._value(given.value, where, depth + 1, hyperparameters) if given is not None else UNKNOWN
        return UNKNOWN

    def _torch_nn(self, name: str, call: Optional[cst.Call], where, depth, hyperparameters) -> ModeLayers:
        """One `torch.nn` class, called with `call`'s arguments (None: arguments unknown)."""
        layer = ModeLayers(frozenset({f"nn.{name}"}))
        if name in _DROPOUTS:
            return NONE if _literal_zero(_argument(call, 0, "p")) else layer
        if name in _BATCH_NORMS:
            return NONE if _literal(_argument(call, None, "track_running_stats")) is False else layer
        if name in _INSTANCE_NORMS:
            value = _argument(call, None, "track_running_stats")
            return NONE if value is None or _literal(value) is False else layer
        if name in _DROPOUT_ARGUMENT:
            active, position = _DROPOUT_ARGUMENT[name]
            value = _argument(call, position, "dropout")
            if call is None or (value is None and active) or (value is not None and not _literal_zero(value)):
                return layer
            return NONE
        if name == "RReLU":
            return layer
        if name in _CONTAINERS or name in _WRAPPERS:
            if call is None:
                return UNKNOWN
            args = [a.value for a in call.args if a.keyword is None or a.keyword.value in ("module", "modules")]
            if name in _WRAPPERS:
                args = args[:1]
            return self._all(args, where, depth, hyperparameters)
        if name in _UNKNOWN_NN:
            return UNKNOWN
        return NONE

    # ------------------------------------------------------------------ classes
    def of_class(self, classdef: cst.ClassDef, where: "Where") -> ModeLayers:
        """Mode-dependent layers of instances of a module class of this file."""
        key = id(classdef)
        if key not in self._classes:
            self._classes[key] = UNKNOWN  # a class that contains itself: give up
            self._classes[key] = self._class(classdef, where)
        return self._classes[key]

    def _class(self, classdef: cst.ClassDef, where: "Where") -> ModeLayers:
        scope = self.analysis.index.scopes[id(classdef)]
        init = _method(classdef, "__init__")
        super_call = _super_init_call(init) if init is not None else None
        result = NONE
        for base in classdef.bases:
            result |= self._class_expr(base.value, where, super_call.args if super_call else (), 0)
        if any(attribute == "training" for attribute, _ in _self_attributes(classdef)):
            result |= ModeLayers(frozenset({"self.training"}))
        building = _building_methods(self.analysis, classdef, init)
        building_ids = {id(method) for method in building}
        for attribute, bindings in scope.attributes.items():
            # A constructor argument kept as `self.x` is a setting unless the class calls it
            # (`self.x(h)`) or uses it as a module: then what it is depends on the caller.
            called = self.analysis.values.usage.attribute_called(scope, attribute)
            for binding in bindings:
                if id(binding.stmt.scope.node) in building_ids and binding.value is not None:
                    binding_where = (binding.stmt.scope, binding.stmt)
                    result |= self._value(binding.value, binding_where, 1, hyperparameters=not called)
        for method in building:
            method_scope = self.analysis.index.scopes[id(method)]
            for statement, info in _scope_statements(self.analysis, method_scope):
                for small in statement.body:
                    result |= self._registered(small, (method_scope, info))
        return result

    def _registered(self, small, where) -> ModeLayers:
        """`self.add_module(name, layer)` / `setattr(self, name, layer)`: layers added by name."""
        call = small.value if isinstance(small, cst.Expr) else None
        if not isinstance(call, cst.Call):
            return NONE
        func = call.func
        if (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self"
                and func.attr.value in ("add_module", "register_module") and len(call.args) >= 2):
            return self._value(call.args[1].value, where, 1, hyperparameters=True)
        if isinstance(func, cst.Name) and func.value == "setattr" and len(call.args) >= 3:
            return self._value(call.args[2].value, where, 1, hyperparameters=True)
        return NONE

    def _class_expr(self, expr, where, super_args, depth) -> ModeLayers:
        """A base class or an annotation: `nn.Module`, `nn.Sequential`, a class of this file."""
        qualified = self.analysis.qualified_name(expr, where)
        if qualified is not None:
            prefix, _, last = qualified.rpartition(".")
            if prefix == "torch.nn" and last[:1].isupper():
                call = cst.Call(func=expr, args=list(super_args)) if super_args else None
                return self._torch_nn(last, call, where, depth + 1, True) if last != "Module" else NONE
            if last == "LightningModule" or qualified in ("abc.ABC", "typing.Generic"):
                return NONE
            symbol = self.analysis.lookup(qualified)
            if symbol is not None and symbol.kind == CLASS:
                return _symbol_layers(symbol) if symbol.module else NONE
            return UNKNOWN
        classes = list(self.analysis.values.local_classes(expr, where))
        if classes:
            result = NONE
            for classdef, class_where in classes:
                if self.analysis.values.is_module_classdef(classdef, class_where):
                    result |= self.of_class(classdef, class_where)
            return result
        if isinstance(expr, cst.Name) and expr.value == "object" and not self.analysis.reaching("object", where):
            return NONE
        return UNKNOWN


# ---------------------------------------------------------------------- helpers
def _symbol_layers(symbol: "Symbol") -> ModeLayers:
    return ModeLayers(frozenset(symbol.layers), symbol.layers_unknown)


def _argument(call: Optional[cst.Call], position: Optional[int], keyword: str):
    return argument_value(call, position, keyword) if call is not None else None


def _literal(expr) -> Optional[object]:
    if isinstance(expr, cst.Name) and expr.value in ("True", "False"):
        return expr.value == "True"
    if isinstance(expr, (cst.Integer, cst.Float)):
        return float(expr.value.replace("_", ""))
    return None


def _literal_zero(expr) -> bool:
    return expr is not None and _literal(expr) == 0.0 and not isinstance(expr, cst.Name)


def _method(classdef: cst.ClassDef, name: str) -> Optional[cst.FunctionDef]:
    body = classdef.body.body if isinstance(classdef.body, cst.IndentedBlock) else ()
    for statement in body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
            return statement
    return None


def _super_init_call(init: cst.FunctionDef) -> Optional[cst.Call]:
    """`super().__init__(...)` (or `Base.__init__(self, ...)`) at the top level of `__init__`."""
    body = init.body.body if isinstance(init.body, cst.IndentedBlock) else ()
    for statement in body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                call = small.value if isinstance(small, cst.Expr) else None
                if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                        and call.func.attr.value == "__init__"):
                    if isinstance(call.func.value, cst.Call):
                        return call
                    return call.with_changes(args=call.args[1:])
    return None


def _self_attributes(node: cst.CSTNode) -> Iterator[Tuple[str, bool]]:
    """(name, called) of each `self.name` in the code under `node` (`self.name(...)`: called);
    read from the tree, so a comment or a string that mentions `self.training` is not code."""
    called = set()
    for child in walk(node):
        if type(child) is cst.Call and type(child.func) is cst.Attribute:  # type: ignore[attr-defined]
            called.add(id(child.func))  # type: ignore[attr-defined]
        elif type(child) is cst.Attribute and type(child.value) is cst.Name and child.value.value == "self":  # type: ignore[attr-defined]
            yield child.attr.value, id(child) in called  # type: ignore[attr-defined]


def _building_methods(analysis, classdef: cst.ClassDef, init: Optional[cst.FunctionDef]):
    """`__init__` and the methods it calls as `self.name(...)`: where submodules are created."""
    if init is None:
        return []
    methods = [init]
    for name in sorted({attribute for attribute, called in _self_attributes(init) if called}):
        method = _method(classdef, name)
        if method is not None and method is not init:
            methods.append(method)
    return methods


def _scope_statements(analysis, scope):
    """The simple statement lines of one scope (not of nested functions), with their info."""
    stack = [scope.node]
    while stack:
        node = stack.pop()
        body = getattr(node, "body", None)
        blocks = []
        if isinstance(node, cst.Module):
            blocks.append(cst.IndentedBlock(body=node.body))
        elif isinstance(body, cst.BaseSuite):
            blocks.append(body)
        for extra in ("orelse", "finalbody"):
            part = getattr(node, extra, None)
            if isinstance(part, cst.If):
                stack.append(part)
            elif part is not None and isinstance(getattr(part, "body", None), cst.BaseSuite):
                blocks.append(part.body)
        for handler in getattr(node, "handlers", ()):
            blocks.append(handler.body)
        for case in getattr(node, "cases", ()):
            blocks.append(case.body)
        for block in blocks:
            statements = block.body if isinstance(block, cst.IndentedBlock) else [block]
            for statement in statements:
                info = analysis.index.statements.get(id(statement))
                if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                    if info is not None:
                        yield statement, info
                elif not isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                    stack.append(statement)
