"""Memory layouts of tensors as far as the code shows them, and whether a `view` can work on one.

`view` never copies: it splits dimensions and merges adjacent ones, and a merge works only when
the merged dimensions are adjacent and in order in memory with nothing skipped between them. So a
layout here is the set of *breaks*: places between adjacent dimensions that a view cannot merge.

- transpose/permute/movedim/.t()/.T/.mT reorder the dimensions in memory (`order`);
- a step slice (`x[:, ::2]`) leaves a gap after the sliced dimension in memory, and a slice that
  shortens a dimension (`x[:, :k]`) one before it (`gaps`, in memory places, so a later permute
  carries them along);
- `expand` gives dimensions a stride of 0, which cannot merge with real ones (`cuts`).

Ranks are often unknown (a parameter, a model output). Then the dimensions the code names are a
*frame* at the start (`x.transpose(1, 2)`: dims 0..2, the rest untouched) or at the end
(`x.mT`, `x[..., ::2]`), and the layout is evaluated at the smallest rank the code implies.

A view's sizes are read as the merge they most plausibly are: a product (`h * w`) merges, a single
size stands for one dimension, a `-1` for whatever is left over (which may be one dimension: then
nothing is merged), a divided size (`t // n`) for part of a split dimension whose rest a following
`-1` takes, and a view with more sizes than the input has dimensions splits. Only a merge
across a break is reported; splits always work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import FrozenSet, List, Optional, Sequence, Set, Tuple

import libcst as cst

# A view size as read from the code: how many input dimensions it stands for (1 for a single
# size, k for a product of k sizes), MERGE_REST for a `-1` (whatever is left over), or PART.
ViewSize = int
MERGE_REST = 0
PART = -1  # a part of one dimension (`t // n`): the dimension is split, the rest goes elsewhere

# Slice kinds, per indexed dimension.
FULL, STEP, RANGE, ELLIPSIS = "full", "step", "range", "ellipsis"


@dataclass(frozen=True)
class Layout:
    """The breaks of a tensor's layout (see the module docstring)."""

    order: Tuple[int, ...] = ()  # memory place of each dimension of the frame
    rank: Optional[int] = None  # exact rank when known (then the frame is the whole tensor)
    from_end: bool = False  # unknown rank: the frame is the last dims, places counted from the end (< 0)
    gaps: FrozenSet[int] = frozenset()  # memory places p such that places p and p + 1 cannot merge
    cuts: FrozenSet[int] = frozenset()  # dimension positions i such that dims i and i + 1 cannot merge
    unplaced: bool = False  # breaks exist but where is unknown (`x.permute(*dims)`, `expand_as`)
    dense: bool = True  # a permutation of a dense tensor: element-wise results keep its order

    # ---------------------------------------------------------------- reading it
    @property
    def min_rank(self) -> int:
        return self.rank if self.rank is not None else max(len(self.order), 1)

    def _at(self, rank: int) -> Tuple[List[int], Set[int], Set[int]]:
        """Memory places of each dimension, gaps and cuts, all counted from the start, at `rank`."""
        m = len(self.order)
        if not self.from_end:
            places = [self.order[i] if i < m else i for i in range(rank)]
            return places, set(self.gaps), set(self.cuts)
        places = [self.order[j - rank + m] if j - rank >= -m else j - rank for j in range(rank)]
        base = min(places, default=0)
        return ([p - base for p in places], {g - base for g in self.gaps},
                {c + rank for c in self.cuts})

    def breaks(self, rank: Optional[int] = None) -> FrozenSet[int]:
        """Positions i (0-based, from the start) where dims i and i + 1 cannot be merged."""
        rank = max(rank or 0, self.min_rank)
        places, gaps, cuts = self._at(rank)
        return frozenset(
            i for i in range(rank - 1)
            if places[i + 1] != places[i] + 1 or places[i] in gaps or i in cuts
        )

    @property
    def is_contiguous(self) -> bool:
        """No break at any rank the tensor may have (one more dim than the frame shows it all)."""
        return not self.unplaced and not self.breaks(self.min_rank if self.rank is not None else self.min_rank + 1)

    # ---------------------------------------------------------------- view
    def view_may_fail(self, sizes: Sequence[ViewSize]) -> bool:
        """Whether `view(*sizes)` merges dimensions across a break (so it raises for sizes > 1)."""
        q = len(sizes)
        if q == 0:
            return False
        if self.unplaced:
            return q == 1
        if q == 1:  # flattening merges everything; a flattening view implies at least 2 dims
            return bool(self.breaks(None if self.rank is not None else 2))
        if q < len(self.breaks()) + 1:  # fewer sizes than mergeable runs: some size spans a break
            return True
        rank, merges = self._merges(sizes)
        breaks = self.breaks(rank)
        return any(i in breaks for first, count in merges for i in range(first, first + count - 1))

    def _merges(self, sizes: Sequence[ViewSize]) -> Tuple[int, List[Tuple[int, int]]]:
        """(first dim, how many dims) of each merge the sizes evidently make, lining the sizes up
        with the dimensions from both ends, at the rank the layout has or the sizes imply."""
        if sizes.count(MERGE_REST) > 1:
            return self.min_rank, []
        others = sum(max(s, 1) for s in sizes if s != MERGE_REST)
        rest = MERGE_REST in sizes
        if self.rank is not None:
            rank = self.rank
            rest_count = rank - others
            if (rest and rest_count < 1) or (not rest and others != rank):
                return rank, []  # the sizes split something: they do not line up one to one
        else:
            # a -1 that can stand for one dimension may merge nothing: `x[:, :k].view(-1, k)`
            rest_count = 1 if len(sizes) > self.min_rank else max(1, self.min_rank - others)
            rank = max(self.min_rank, others + (rest_count if rest else 0))
        merges: List[Tuple[int, int]] = []
        for ordered, from_start in ((list(sizes), True), (list(sizes)[::-1], False)):
            position = 0
            for index, size in enumerate(ordered):
                count = rest_count if size == MERGE_REST else max(size, 1)
                if size == PART and index + 1 < len(ordered) and ordered[index + 1] == MERGE_REST:
                    # `view(b, t // n, -1)`: the -1 takes the rest of the split dim and what follows
                    count = 1 + rest_count
                first = position if from_start else rank - position - count
                if count > 1 and first >= 0 and first + count <= rank:
                    merges.append((first, count))
                position += max(size, 1) if size != MERGE_REST else rest_count
        return rank, merges

    # ---------------------------------------------------------------- operations
    def element_wise(self) -> "Layout":
        """The layout of an element-wise result whose first tensor operand has this layout:
        TensorIterator keeps a dense input's dimension order, but allocates gaps and stride-0
        dimensions away."""
        if not self.dense:
            return contiguous(self.rank)
        return replace(self, gaps=frozenset(), cuts=frozenset())

    def scrambled(self) -> "Layout":
        """Still non-contiguous, but where the breaks are is no longer known."""
        return replace(self, order=(), from_end=False, gaps=frozenset(), cuts=frozenset(), unplaced=True)

    def _frame(self, dims: Sequence[int]) -> Optional[Tuple[List[int], bool, int]]:
        """The frame's places extended to cover `dims`, whether it is counted from the end, and
        the rank it is at (None when the dims mix both ends of a tensor of unknown rank)."""
        if self.rank is not None:
            if any(not -self.rank <= d < self.rank for d in dims):
                return None
            return self._at(self.rank)[0], False, self.rank
        m = len(self.order)
        if all(d >= 0 for d in dims) and (not self.from_end or not self.order):
            size = max([m, *[d + 1 for d in dims]])
            return list(self.order) + list(range(m, size)), False, size
        if all(d < 0 for d in dims) and (self.from_end or not self.order):
            size = max([m, *[-d for d in dims]])
            return list(range(-size, -m)) + list(self.order), True, size
        return None

    def reordered(self, dims: Sequence[int], new_order: Sequence[int]) -> "Layout":
        """Dimension i of the result is dimension new_order[i] of the frame that covers `dims`."""
        if self.unplaced or self.cuts:
            return self.scrambled()
        frame = self._frame(dims)
        if frame is None:
            return self.scrambled()
        places, from_end, size = frame
        order = tuple(places[i] for i in new_order)
        return replace(self, order=order, from_end=from_end and self.rank is None)

    def transposed(self, a: int, b: int) -> "Layout":
        if self.unplaced or self.cuts:
            return self.scrambled()
        frame = self._frame((a, b))
        if frame is None:
            return self.scrambled()
        size = frame[2]
        i, j = (a + size if a < 0 else a), (b + size if b < 0 else b)
        new_order = list(range(size))
        new_order[i], new_order[j] = new_order[j], new_order[i]
        return self.reordered((a, b), new_order)

    def permuted(self, dims: Sequence[int]) -> Optional["Layout"]:
        """`permute(*dims)`: the rank is len(dims); None when dims are not a permutation."""
        n = len(dims)
        normal = [d + n if d < 0 else d for d in dims]
        if sorted(normal) != list(range(n)) or (self.rank is not None and self.rank != n):
            return None
        if self.unplaced or self.cuts:
            return self.scrambled()
        places, gaps, _ = self._at(max(n, self.min_rank)) if self.rank is None else self._at(n)
        if len(places) != n:
            return self.scrambled()
        return Layout(order=tuple(places[d] for d in normal), rank=n, gaps=frozenset(gaps), dense=self.dense)

    def moved(self, source: int, destination: int) -> "Layout":
        if self.unplaced or self.cuts:
            return self.scrambled()
        frame = self._frame((source, destination))
        if frame is None:
            return self.scrambled()
        size = frame[2]
        src, dst = (source + size if source < 0 else source), (destination + size if destination < 0 else destination)
        new_order = [i for i in range(size) if i != src]
        new_order.insert(dst, src)
        return self.reordered((source, destination), new_order)

    def matrix_transposed(self) -> "Layout":
        """`.t()`, `.T`: a matrix transpose (0-D and 1-D tensors are returned as they are; `.T`
        of more dims reverses them all)."""
        if self.rank is not None:
            if self.rank < 2:
                return self
            return self.permuted(list(range(self.rank))[::-1]) or self.scrambled()
        if self.min_rank > 2:
            return self.scrambled()
        return self.with_rank(2).transposed(0, 1)

    def with_rank(self, rank: int) -> "Layout":
        """This layout once the rank is known to be `rank` (at least the frame's)."""
        if self.rank is not None or self.unplaced:
            return self
        places, gaps, cuts = self._at(rank)
        return replace(self, order=tuple(places), rank=rank, from_end=False, gaps=frozenset(gaps),
                       cuts=frozenset(cuts))

    def sliced(self, kinds: Sequence[str]) -> "Layout":
        """Basic slicing with `kinds` per indexed dimension (FULL, STEP, RANGE, ELLIPSIS)."""
        if all(k in (FULL, ELLIPSIS) for k in kinds):
            return self
        if self.unplaced or self.cuts:
            return replace(self, dense=False)
        dims: List[int]
        if ELLIPSIS in kinds:
            cut = kinds.index(ELLIPSIS)
            head, tail = list(kinds[:cut]), list(kinds[cut + 1:])
            if all(k == FULL for k in tail):
                kinds, dims = head, list(range(len(head)))
            elif all(k == FULL for k in head):
                kinds, dims = tail, [i - len(tail) for i in range(len(tail))]
            elif self.rank is not None and len(head) + len(tail) <= self.rank:
                kinds = head + [FULL] * (self.rank - len(head) - len(tail)) + tail
                dims = list(range(self.rank))
            else:
                return self.scrambled()
        else:
            dims = list(range(len(kinds)))
        touched = [(d, k) for d, k in zip(dims, kinds) if k != FULL]
        frame = self._frame([d for d, _ in touched])
        if frame is None:
            return self.scrambled()
        places, from_end, size = frame
        gaps = set(self.gaps)
        for dim, kind in touched:
            place = places[dim + size if dim < 0 else dim]
            if kind == STEP:
                gaps.add(place)  # the sliced dim no longer follows its inner neighbour densely
            else:
                gaps.add(place - 1)  # its outer neighbour steps over the part cut away
        return replace(self, order=tuple(places), from_end=from_end and self.rank is None,
                       gaps=frozenset(gaps), dense=False)

    def expanded(self, kept: Sequence[bool]) -> "Layout":
        """`expand(*sizes)`, `kept[i]` when size i is -1. Stride-0 dimensions merge with each
        other but not with real ones; sizes given explicitly may or may not expand."""
        n = len(kept)
        if all(kept):
            return self
        if not self.is_contiguous or not any(kept):
            return Layout(rank=n, unplaced=True, dense=False)
        cuts = frozenset(i for i in range(n - 1) if kept[i] != kept[i + 1])
        return Layout(order=tuple(range(n)), rank=n, cuts=cuts, dense=False)


def contiguous(rank: Optional[int] = None) -> Layout:
    return Layout(order=tuple(range(rank)) if rank is not None else (), rank=rank)


def unplaced(dense: bool, rank: Optional[int] = None) -> Layout:
    """Non-contiguous in a way the code does not show: a permutation by variables (dense) or a
    window/diagonal/expand_as view (not dense)."""
    return Layout(rank=rank, unplaced=True, dense=dense)


# ---------------------------------------------------------------------- reading the code
def literal_int(node: cst.BaseExpression) -> Optional[int]:
    if isinstance(node, cst.Integer):
        return int(node.value)
    if (isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus)
            and isinstance(node.expression, cst.Integer)):
        return -int(node.expression.value)
    return None


def view_sizes(args: Sequence[cst.Arg]) -> Optional[Tuple[ViewSize, ...]]:
    """The sizes of `view(...)` read as merges (see ViewSize); None when they cannot be read
    (a shape held in a variable, `*shape`, a keyword)."""
    if not args or any(arg.star or arg.keyword is not None for arg in args):
        return None
    values = [arg.value for arg in args]
    if len(values) == 1:
        only = values[0]
        if isinstance(only, (cst.Tuple, cst.List)):
            if any(isinstance(e, cst.StarredElement) for e in only.elements):
                return None
            values = [e.value for e in only.elements]
        elif not _is_one_size(only):
            return None  # a shape in a variable, `(b, -1) + x.shape[2:]`, ...
    return tuple(_view_size(value) for value in values)


def _is_one_size(node: cst.BaseExpression) -> bool:
    """A lone argument that is surely one size (so the view is 1-D), not a whole shape."""
    if literal_int(node) is not None:
        return True
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.Multiply, cst.FloorDivide)):
        return all(_is_one_size(f) or isinstance(f, cst.Name) for f in (node.left, node.right))
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.attr.value == "numel" or (node.func.attr.value == "size" and bool(node.args))
    if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Attribute):
        return node.value.attr.value == "shape" and isinstance(node.slice[0].slice, cst.Index)
    return False


def _view_size(node: cst.BaseExpression) -> ViewSize:
    if literal_int(node) == -1:
        return MERGE_REST
    if _is_part(node):
        return PART
    factors = [f for f in _factors(node) if not isinstance(f, cst.Integer)]
    return max(len(factors), 1)


def _is_part(node: cst.BaseExpression) -> bool:
    """`t // n`, `int(t / n)`: a size divided by another, a part of one split dimension."""
    if (isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "int"
            and len(node.args) == 1):
        node = node.args[0].value
        divisions: Tuple[type, ...] = (cst.Divide, cst.FloorDivide)
    else:
        divisions = (cst.FloorDivide,)
    if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, divisions)):
        return False
    divisor = literal_int(node.right)
    return divisor is None or divisor > 1


def _factors(node: cst.BaseExpression) -> List[cst.BaseExpression]:
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply) and not node.lpar:
        return _factors(node.left) + _factors(node.right)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        return _factors(node.with_changes(lpar=(), rpar=()))
    return [node]


def slice_kinds(node: cst.Subscript) -> Optional[List[str]]:
    """FULL/STEP/RANGE/ELLIPSIS per element of a basic slice; None for any other indexing
    (an integer or tensor index, None/newaxis), whose layout is not followed."""
    kinds: List[str] = []
    for element in node.slice:
        index = element.slice
        if isinstance(index, cst.Index):
            if isinstance(index.value, cst.Ellipsis) and ELLIPSIS not in kinds:
                kinds.append(ELLIPSIS)
                continue
            return None
        if not isinstance(index, cst.Slice):
            return None
        step = index.step
        if step is not None and literal_int(step) != 1:
            if literal_int(step) is None or literal_int(step) < 1:  # type: ignore[operator]
                return None
            kinds.append(STEP)
        elif index.lower is None and index.upper is None:
            kinds.append(FULL)
        else:
            kinds.append(RANGE)
    return kinds




# ---------------------------------------------------------------------- torch's API, by layout
# Checked against torch 2.13 (tests/test_tensor_facts.py): each keeps the dimension order of a
# transposed input. `masked_fill` and `softmax` do not (they return contiguous results).
ELEMENT_WISE_METHODS = frozenset(
    "add sub mul div neg abs exp exp2 expm1 log log1p log2 log10 sqrt rsqrt reciprocal square pow relu "
    "sigmoid tanh sin cos erf clamp clip floor ceil round sign nan_to_num lerp where eq ne lt le gt ge "
    "logical_not logical_and logical_or bitwise_not float half double bfloat16 long int bool byte type "
    "type_as to cuda cpu clone add_ sub_ mul_ div_ relu_ clamp_ sigmoid_ tanh_ masked_fill_".split()
)
ELEMENT_WISE_FUNCTIONS = frozenset(
    ["torch." + name for name in "add sub mul div eq ne lt le gt ge sigmoid tanh relu exp log abs neg sqrt "
     "pow clamp sign".split()]
    + ["torch.nn.functional." + name for name in "relu gelu silu dropout leaky_relu elu".split()]
)
# Views that share the input's memory exactly.
ALIAS_METHODS = frozenset({"detach", "detach_", "requires_grad_"})
# Tensor methods that swap two dimensions, and the torch functions spelling them.
SWAP_METHODS = frozenset({"transpose", "transpose_", "swapaxes", "swapaxes_", "swapdims", "swapdims_"})
SWAP_FUNCTIONS = frozenset({"torch.transpose", "torch.swapaxes", "torch.swapdims"})
# Results laid out afresh (contiguous), whose rank is the number of sizes given.
SHAPING_METHODS = frozenset({"view", "reshape", "contiguous", "new_zeros", "new_ones", "new_empty"})
SIZED_FACTORIES = frozenset("torch." + name for name in "zeros ones empty rand randn".split())
