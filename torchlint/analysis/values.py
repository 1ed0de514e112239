"""Where values come from: follow names through assignments to the expressions that made them.

Every question is answered on positive evidence only: an expression "is a module" when every
value that can reach it is one; any unknown possibility makes the answer False.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Set, Tuple

import libcst as cst

from torchlint.analysis.scopes import Binding
from torchlint.analysis.summary import CLASS, FUNCTION, INSTANCE
from torchlint.analysis.usage import Usage
from torchlint.syntax import is_self_attribute
from torchlint.analysis.torch_api import (
    MODULE_RETURNING_METHODS,
    is_module_class_name,
    is_module_factory,
)

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where
    from torchlint.analysis.summary import Symbol

_MAX_DEPTH = 12

# A possible value: an expression and where it is evaluated, or a parameter with its annotation.
Origin = Tuple["cst.CSTNode", "Where"]


class ValueFacts:
    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        self._module_classes: Dict[int, bool] = {}
        self._visiting: Set[int] = set()  # origins being judged now: a cycle adds no evidence
        self.imported: Dict[int, str] = {}  # origin nodes standing for an imported name: its qualified name
        # One stand-in node per import binding, held here: a node made at each ask would be freed
        # and its id, the key of `imported`, given to another node.
        self._import_nodes: Dict[int, cst.Name] = {}
        self.usage = Usage(analysis)
        self._following: Set[int] = set()  # bindings and parameters followed now, for usage and call sites

    # ------------------------------------------------------------------ following values
    def origins(self, expr: cst.BaseExpression, where: Optional["Where"] = None) -> Optional[List[Origin]]:
        """Every expression `expr` may evaluate to, names followed through assignments.

        None when some possibility is unknown (an unannotated parameter, a loop variable, ...).
        Parameters come back as their `Param` node so callers can read the annotation.
        """
        at_traversal = where is None  # then lookups also honour lambda/comprehension shadowing
        where = where or self.analysis.where()
        found: List[Origin] = []
        if self._collect(expr, where, found, set(), 0 if at_traversal else 1):
            return found
        return None

    def _collect(self, expr, where, found: List[Origin], seen: Set[int], depth: int) -> bool:
        if depth > _MAX_DEPTH:
            return False
        if isinstance(expr, cst.Name):
            bindings = self.analysis.reaching(expr.value, where if depth else None)
            if not bindings:
                return False
            for binding in bindings:
                if id(binding) in seen:
                    continue  # a loop feeding a name back into itself adds no new possibility
                seen.add(id(binding))
                if not self._collect_binding(binding, found, seen, depth):
                    return False
            return True
        if is_self_attribute(expr):
            bindings = self._self_attribute_bindings(expr, where)  # type: ignore[arg-type]
            if bindings:
                for binding in bindings:
                    if id(binding) not in seen:
                        seen.add(id(binding))
                        if not self._collect_binding(binding, found, seen, depth):
                            return False
                return True
        if isinstance(expr, cst.Call):
            function = self.local_function(expr.func, where)
            if function is not None:
                return self._collect_returns(function, found, seen, depth)
        found.append((expr, where))
        return True

    def _self_attribute_bindings(self, expr: cst.Attribute, where) -> List[Binding]:
        """`self.fc` in a method: every `self.fc = ...` assignment in the class's methods."""
        scope = where[0]
        if scope.kind != "function" or scope.parent is None or scope.parent.kind != "class":
            return []
        self_bindings = scope.bindings.get("self", [])
        if len(self_bindings) != 1 or self_bindings[0].kind != "param":
            return []
        return scope.parent.attributes.get(expr.attr.value, [])

    def local_function(self, func: cst.BaseExpression, where) -> Optional[cst.FunctionDef]:
        """The function of this file a call runs: `helper(...)`, or `self.helper(...)` in a
        method of the same class; None unless there is exactly one."""
        scope = where[0]
        if isinstance(func, cst.Name):
            bindings = self.analysis.reaching(func.value, where)
        elif is_self_attribute(func) and scope.parent is not None and scope.parent.kind == "class":
            bindings = scope.parent.bindings.get(func.attr.value, [])  # type: ignore[attr-defined]
        else:
            return None
        if len(bindings) == 1 and bindings[0].kind == "def":
            return bindings[0].node  # type: ignore[return-value]
        return None

    def return_origins(self, function: cst.FunctionDef) -> Optional[List[Origin]]:
        """Every expression a call of a function of this file may evaluate to (None: unknown)."""
        found: List[Origin] = []
        return found if self._collect_returns(function, found, set(), 1) else None

    def _collect_returns(self, function: cst.FunctionDef, found, seen, depth) -> bool:
        """A call of a local function may evaluate to any of its return values."""
        scope = self.analysis.index.scopes[id(function)]
        if id(function) in seen:
            return True
        seen.add(id(function))
        if scope.is_generator or function.asynchronous is not None or function.decorators:
            return False
        if not _ends_with_return(function):  # falling off the end returns None
            found.append((cst.Name("None"), (scope, self.analysis.index.statements[id(function)])))
        for value, stmt in scope.returns:
            if value is None:
                found.append((cst.Name("None"), (scope, stmt)))
            elif not self._collect(value, (scope, stmt), found, seen, depth + 1):
                return False
        return True

    def _collect_binding(self, binding: Binding, found, seen, depth) -> bool:
        where = self.analysis.binding_where(binding)
        if binding.kind == "unpack":
            return self._collect_unpacked(binding, where, found, seen, depth)
        if binding.kind in ("assign", "annassign") and binding.value is not None:
            return self._collect(binding.value, where, found, seen, depth + 1)
        if binding.kind == "import":
            node = self._import_nodes.get(id(binding))
            if node is None:
                node = self._import_nodes[id(binding)] = cst.Name(binding.name)
                self.imported[id(node)] = binding.qualified or ""
            found.append((node, where))
            return True
        if binding.kind in ("param", "def", "class"):
            found.append((binding.node if binding.node is not None else cst.Name(binding.name), where))
            return True
        return False

    def _collect_unpacked(self, binding: Binding, where, found, seen, depth) -> bool:
        """`a, b = value`: follow `value` to tuple literals and take the element at the path."""
        containers: List[Origin] = []
        if not self._collect(binding.value, where, containers, seen, depth + 1):
            return False
        for index in binding.unpack:
            elements: List[Origin] = []
            for node, node_where in containers:
                if self._returns_tuple_of_own(node, node_where):
                    # `validity, label = discriminator(x)`: the element of what the module returns
                    element = cst.Subscript(node, [cst.SubscriptElement(cst.Index(cst.Integer(str(index))))])  # type: ignore[arg-type]
                    elements.append((element, node_where))
                    continue
                if not isinstance(node, (cst.Tuple, cst.List)) or len(node.elements) <= index or any(
                    isinstance(e, cst.StarredElement) for e in node.elements
                ):
                    return False
                if not self._collect(node.elements[index].value, node_where, elements, seen, depth + 1):
                    return False
            containers = elements
        found.extend(containers)
        return True

    def _returns_tuple_of_own(self, node: cst.CSTNode, where: "Where") -> bool:
        """A call of a module, or of a function of the project, whose elements the analysis
        can tell apart (unlike `torch.max`, whose values and indices differ in kind)."""
        if isinstance(node, cst.Subscript):
            return isinstance(node.value, (cst.Call, cst.Subscript)) and self._returns_tuple_of_own(node.value, where)
        if not isinstance(node, cst.Call):
            return False
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "forward":
            func = func.value
        symbol = self.analysis.symbol(func, where)
        if symbol is not None:
            return symbol.kind == FUNCTION and not symbol.module
        return self.is_module(func, where)

    # ------------------------------------------------------------------ modules
    def is_module(self, expr: cst.BaseExpression, where: Optional["Where"] = None) -> bool:
        """True when every value `expr` can have is an nn.Module instance: by what it is (its
        construction, class, annotation, the arguments at every call site of its function), or
        by what the code does with it (`analysis/usage.py`)."""
        origins = self.origins(expr, where)
        if origins and all(self._is_module_origin(node, w) for node, w in origins):
            return True
        return self._used_as_module(expr, where)

    def _used_as_module(self, expr: cst.BaseExpression, where: Optional["Where"], depth: int = 0) -> bool:
        if depth > 4:
            return False
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and (
                expr.func.attr.value in MODULE_RETURNING_METHODS):
            return self._used_as_module(expr.func.value, where, depth + 1)  # `model.to(device)`
        if is_self_attribute(expr):
            scope = (where or self.analysis.where())[0]
            return (scope.kind == "function" and scope.parent is not None and scope.parent.kind == "class"
                    and self.usage.attribute_used_as_module(scope.parent, expr.attr.value))  # type: ignore[attr-defined]
        if not isinstance(expr, cst.Name):
            return False
        bindings = self.analysis.reaching(expr.value, where)
        if not bindings:
            return False
        for binding in bindings:
            if self.usage.binding_used_as_module(binding):
                continue
            if binding.kind in ("assign", "annassign") and binding.value is not None and id(binding) not in self._following:
                self._following.add(id(binding))
                try:
                    followed = self.is_module(binding.value, self.analysis.binding_where(binding)) or (
                        self._used_as_module(binding.value, self.analysis.binding_where(binding), depth + 1))
                finally:
                    self._following.discard(id(binding))
                if followed:
                    continue
            return False
        return True

    def _is_module_origin(self, node: cst.CSTNode, where: "Where") -> bool:
        if id(node) in self._visiting:
            return True  # `m = m.to(d)` in a loop: the other origins decide
        self._visiting.add(id(node))
        try:
            return self._judge_module_origin(node, where)
        finally:
            self._visiting.discard(id(node))

    def _judge_module_origin(self, node: cst.CSTNode, where: "Where") -> bool:
        if isinstance(node, cst.Param):
            annotation = node.annotation.annotation if node.annotation else None
            if annotation is not None:
                return self._is_module_class_expr(annotation, where)
            return self._is_module_self(node, where) or self._arguments_are_modules(node, where)
        if isinstance(node, cst.Attribute):
            return self._is_submodule(node, where)
        if id(node) in self.imported:  # `from models import model`: a module instance of the project
            symbol = self.imported_symbol(node)
            return symbol is not None and symbol.kind == INSTANCE and symbol.module
        if not isinstance(node, cst.Call):
            return False
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in MODULE_RETURNING_METHODS:
            if self.is_module(func.value, where):
                return True
        if is_module_factory(self.analysis.qualified_name(func, where)):
            return True
        symbol = self.analysis.symbol(func, where)
        if symbol is not None:
            return symbol.module and symbol.kind != INSTANCE
        return self._is_local_module_class(func, where)

    def _is_module_self(self, param: cst.Param, where: "Where") -> bool:
        """`self` in a method of an nn.Module class."""
        scope = where[0]
        function = scope.node
        if scope.kind != "function" or scope.parent is None or scope.parent.kind != "class":
            return False
        params = list(function.params.posonly_params) + list(function.params.params)  # type: ignore[attr-defined]
        if not params or params[0] is not param or any(
                _decorator_name(d.decorator) in ("staticmethod", "classmethod") for d in function.decorators):  # type: ignore[attr-defined]
            return False
        classdef = scope.parent.node
        class_info = self.analysis.index.statements[id(classdef)]
        return self.is_module_classdef(classdef, (class_info.scope, class_info))  # type: ignore[arg-type]

    def _arguments_are_modules(self, param: cst.Param, where: "Where") -> bool:
        """A parameter of a function of this file that every call site gives a module, when the
        function is used only by being called here (no other module of the project names it)."""
        scope = where[0]
        function = scope.node
        if scope.kind != "function" or scope.parent is None or function.decorators:  # type: ignore[attr-defined]
            return False
        position = _parameter_position(function, param)  # type: ignore[arg-type]
        callee: cst.CSTNode = function
        if scope.parent.kind == "class":  # a constructor parameter: `Wrapper(Net())` builds `self.net`
            if function.name.value != "__init__" or position == 0:  # type: ignore[attr-defined]
                return False
            callee = scope.parent.node
            position = position - 1 if position is not None and position > 0 else position
        name = callee.name.value  # type: ignore[attr-defined]
        if self.analysis.context is None or self.analysis.context.mentioned_elsewhere(name):
            return False
        calls, references = self.usage.call_sites(name)
        if not calls or references or position is None:
            return False
        for call, call_where in calls:
            bindings = self.analysis.reaching(name, call_where)
            if len(bindings) != 1 or bindings[0].node is not callee:
                return False
            argument = _call_argument(call, position, param.name.value)
            if argument is None or id(param) in self._following:
                return False  # recursion through the call sites adds no evidence
            self._following.add(id(param))
            try:
                if not self.is_module(argument, call_where):
                    return False
            finally:
                self._following.discard(id(param))
        return True

    def _is_submodule(self, node: cst.Attribute, where: "Where") -> bool:
        """`net.fc` where every class `net` is built from assigns a module to `self.fc`, and
        `model.module` of a DataParallel / DistributedDataParallel wrapper."""
        owner = node.value
        if is_self_attribute(node) or not (isinstance(owner, (cst.Name, cst.Attribute)) and self.is_module(owner, where)):
            return False
        attribute = node.attr.value
        classes = self.module_classes(owner, where)
        if not classes:
            return attribute == "module"  # a wrapper's (DataParallel, DDP, ...) wrapped module
        for cls in classes:
            if isinstance(cls, str):
                if attribute == "module" and cls in _WRAPPERS:
                    continue
                symbol = self.analysis.lookup(cls)
                if symbol is None or attribute not in symbol.submodules:
                    return False
            elif not self.class_attribute_is_module(cls, attribute):  # type: ignore[arg-type]
                return False
        return True

    def class_attribute_is_module(self, classdef: cst.ClassDef, attribute: str) -> bool:
        """Every `self.<attribute> = ...` in the class's methods assigns an nn.Module."""
        scope = self.analysis.index.scopes[id(classdef)]
        bindings = scope.attributes.get(attribute, [])
        return bool(bindings) and all(
            b.value is not None and self.is_module(b.value, self.analysis.binding_where(b)) for b in bindings)

    def imported_symbol(self, node: cst.CSTNode) -> Optional["Symbol"]:
        """The project symbol an origin standing for an imported name refers to."""
        qualified = self.imported.get(id(node))
        context = self.analysis.context
        return context.lookup(qualified) if qualified and context is not None else None

    def module_classes(self, expr: cst.BaseExpression, where: Optional["Where"] = None) -> Optional[List[object]]:
        """The classes a module value is built from: a qualified name (str) for library classes,
        the ClassDef for classes of this file. None when any origin is not a known construction."""
        origins = self.origins(expr, where)
        if not origins:
            return None
        classes: List[object] = []
        for node, node_where in origins:
            if id(node) in self._visiting:
                continue
            self._visiting.add(id(node))
            try:
                found = self._origin_module_classes(node, node_where)
            finally:
                self._visiting.discard(id(node))
            if found is None:
                return None
            classes.extend(found)
        return classes

    def _origin_module_classes(self, node: cst.CSTNode, where: "Where") -> Optional[List[object]]:
        if isinstance(node, cst.Param) and node.annotation is not None:
            annotation = node.annotation.annotation
            if not self._is_module_class_expr(annotation, where):
                return None
            local: List[object] = [classdef for classdef, _ in self.local_classes(annotation, where)]
            return local or [self.analysis.qualified_name(annotation, where)]
        if not isinstance(node, cst.Call):
            return None
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in MODULE_RETURNING_METHODS:
            return self.module_classes(func.value, where)
        qualified = self.analysis.qualified_name(func, where)
        if is_module_factory(qualified):
            return [qualified]
        symbol = self.analysis.symbol(func, where)
        if symbol is not None:
            if not symbol.module or symbol.kind == INSTANCE:
                return None
            return [symbol.qualified] if symbol.kind == CLASS else list(symbol.classes) or None
        return [classdef for classdef, _ in self.local_classes(func, where)] or None

    def _is_module_class_expr(self, expr: cst.BaseExpression, where: "Where") -> bool:
        if isinstance(expr, cst.SimpleString):  # "nn.Module" forward references are not followed
            return False
        if is_module_class_name(self.analysis.qualified_name(expr, where)):
            return True
        symbol = self.analysis.symbol(expr, where)
        if symbol is not None:
            return symbol.kind == CLASS and symbol.module
        return self._is_local_module_class(expr, where)

    def _is_local_module_class(self, expr: cst.BaseExpression, where: "Where") -> bool:
        """`Net` names a class of this file that subclasses an nn.Module class (transitively)."""
        classes = list(self.local_classes(expr, where))
        return bool(classes) and all(self.is_module_classdef(c, w) for c, w in classes)

    def local_classes(self, expr: cst.BaseExpression, where: "Where") -> Iterator[Tuple[cst.ClassDef, "Where"]]:
        if not isinstance(expr, cst.Name):
            return
        bindings = self.analysis.reaching(expr.value, where)
        if bindings and all(b.kind == "class" for b in bindings):
            for binding in bindings:
                yield binding.node, self.analysis.binding_where(binding)  # type: ignore[misc]

    def is_module_classdef(self, classdef: cst.ClassDef, where: "Where") -> bool:
        key = id(classdef)
        if key not in self._module_classes:
            self._module_classes[key] = False  # breaks cycles in odd code
            self._module_classes[key] = any(
                self._is_module_class_expr(base.value, where) for base in classdef.bases
            )
        return self._module_classes[key]


_WRAPPERS = frozenset({"torch.nn.DataParallel", "torch.nn.parallel.DistributedDataParallel"})


def _decorator_name(expr: cst.BaseExpression) -> str:
    if isinstance(expr, cst.Call):
        expr = expr.func
    return expr.value if isinstance(expr, cst.Name) else expr.attr.value if isinstance(expr, cst.Attribute) else ""


def _parameter_position(function: cst.FunctionDef, param: cst.Param) -> Optional[int]:
    """Position of a parameter that can be passed positionally, or -1 for keyword-only ones."""
    positional = list(function.params.posonly_params) + list(function.params.params)
    for index, candidate in enumerate(positional):
        if candidate is param:
            return index
    if any(candidate is param for candidate in function.params.kwonly_params):
        return -1
    return None


def _call_argument(call: cst.Call, position: int, keyword: str) -> Optional[cst.BaseExpression]:
    """The argument a call gives a parameter; None when it is not shown (a default, `*args`)."""
    if any(arg.star for arg in call.args):
        return None
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    positional = [arg.value for arg in call.args if arg.keyword is None]
    if 0 <= position < len(positional):
        return positional[position]
    return None


def _ends_with_return(function: cst.FunctionDef) -> bool:
    body = function.body
    last = body.body[-1] if isinstance(body, cst.IndentedBlock) else body
    if isinstance(last, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        return isinstance(last.body[-1], (cst.Return, cst.Raise))
    return False


def strip_module_methods(node: cst.CSTNode) -> cst.CSTNode:
    """`Net().to(device).eval()` -> `Net()`: the calls that return the module itself."""
    while (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
           and node.func.attr.value in MODULE_RETURNING_METHODS):
        node = node.func.value
    return node
