"""The kept compiled code of dataclass methods: the classes made are the same as without it."""

import dataclasses
import os
import subprocess
import sys
import textwrap
import pytest

from torchlint import compiled_methods, data_files

CLASSES = '''
from dataclasses import dataclass, field
from typing import List, Optional

@dataclass(frozen=True, order=True)
class Point:
    """A docstring: no signature is computed."""
    x: int
    y: int = 0
    tags: List[str] = field(default_factory=list, compare=False)

@dataclass(eq=True, unsafe_hash=True)
class Node:
    name: str
    parent: Optional["Node"] = None
    def __post_init__(self):
        self.seen = True
'''


@pytest.fixture
def kept_in(tmp_path, monkeypatch):
    """A fresh store under tmp_path: nothing read yet, nothing new."""
    monkeypatch.setattr(data_files, "PARSED", str(tmp_path))
    monkeypatch.setattr(compiled_methods, "_codes", None)
    monkeypatch.setattr(compiled_methods, "_used", set())
    monkeypatch.setattr(compiled_methods, "_new", False)
    yield tmp_path
    compiled_methods.uninstall()


def _make_classes() -> dict:
    namespace: dict = {}
    exec(compile(CLASSES, "<classes>", "exec", dont_inherit=True), namespace)  # noqa: S102
    return namespace


def _methods(cls) -> dict:
    return {name: value for name, value in vars(cls).items() if callable(value) and hasattr(value, "__code__")}


def test_classes_made_with_the_kept_code_are_the_same(kept_in):
    plain = _make_classes()
    compiled_methods.install()
    kept = _make_classes()  # compiled by the hook, kept in memory
    from_memory = _make_classes()  # the same texts again: code from the store
    for name in ("Point", "Node"):
        expected = _methods(plain[name])
        assert set(_methods(kept[name])) == set(expected) and len(expected) >= 4
        for made in (kept, from_memory):
            for method, function in _methods(made[name]).items():
                code, original = function.__code__, expected[method].__code__
                assert code == original, (name, method)
                assert (code.co_filename, getattr(code, "co_qualname", None), code.co_flags) == (
                    original.co_filename, getattr(original, "co_qualname", None), original.co_flags)  # (3.11+)
                assert function.__qualname__ == expected[method].__qualname__
                assert function.__annotations__ == expected[method].__annotations__
    point = from_memory["Point"](1, 2)
    assert point == from_memory["Point"](1, 2, ["a"]) and point < from_memory["Point"](2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.x = 3  # type: ignore[misc]
    assert repr(point) == "Point(x=1, y=2, tags=[])"
    assert hash(from_memory["Node"]("a")) == hash(from_memory["Node"]("a"))


def test_no_future_flag_of_torchlint_leaks_into_the_methods(kept_in):
    """The hook's module has `from __future__ import annotations`; the built-in `exec` of
    `dataclasses` inherits no such flag, so `__init__`'s return annotation stays None, not a
    string."""
    compiled_methods.install()
    made = _make_classes()
    assert made["Point"].__init__.__annotations__["return"] is None


def test_the_code_is_kept_for_the_next_process_and_read_back(kept_in):
    compiled_methods.install()
    _make_classes()
    assert compiled_methods._new
    compiled_methods.keep_new()
    kept = list(kept_in.iterdir())
    assert [p.name for p in kept] == [os.path.basename(compiled_methods.kept_path())]
    assert kept[0].name.endswith(data_files.MARSHAL_SUFFIX) and sys.implementation.cache_tag in kept[0].name
    assert oct(kept[0].stat().st_mode & 0o777) == oct(0o644)  # readable by every user, as bytecode
    stamp = kept[0].stat().st_mtime_ns
    compiled_methods._codes, compiled_methods._new = None, False  # as a new process
    _make_classes()
    assert not compiled_methods._new  # every text was in the kept file
    compiled_methods.keep_new()  # nothing new: nothing written
    assert kept[0].stat().st_mtime_ns == stamp


def test_a_damaged_or_missing_store_only_costs_the_compile(kept_in):
    open(compiled_methods.kept_path(), "wb").write(b"\x00not marshal")
    compiled_methods.install()
    made = _make_classes()
    assert made["Point"](1).x == 1 and compiled_methods._new
    compiled_methods.keep_new()  # replaced by a good one
    compiled_methods._codes, compiled_methods._new = None, False
    _make_classes()
    assert not compiled_methods._new


def test_an_unwritable_store_is_no_error(tmp_path, kept_in, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setattr(data_files, "PARSED", str(tmp_path / "a-file" / "parsed"))  # cannot be made
    compiled_methods.install()
    _make_classes()
    compiled_methods.keep_new()


def test_only_texts_this_process_used_are_kept_past_the_limit(kept_in, monkeypatch):
    monkeypatch.setattr(compiled_methods, "MAX_KEPT", 3)
    compiled_methods.install()
    compiled_methods._exec("unused = 1\n")  # used in this process
    compiled_methods._codes.update({f"stale_{i} = {i}\n": compile(f"stale_{i} = {i}", "<string>", "exec")
                                    for i in range(5)})
    compiled_methods.keep_new()
    compiled_methods._codes = None
    assert set(compiled_methods._read()) == {"unused = 1\n"}


def test_other_exec_calls_pass_through(kept_in):
    namespace: dict = {}
    compiled_methods._exec(compile("a = 1", "<x>", "exec"), namespace)
    assert namespace["a"] == 1 and compiled_methods._codes is None  # a code object: not kept
    compiled_methods.install()
    compiled_methods.uninstall()
    assert "exec" not in vars(dataclasses)


def test_libcst_imported_through_the_hook_is_the_same(tmp_path):
    """In a fresh process, LibCST's node classes made with the kept code (twice: compiled, then
    read back) have methods equal to those made without it."""
    script = textwrap.dedent(f"""
        import sys
        from torchlint import compiled_methods, data_files
        data_files.PARSED = {str(tmp_path)!r}
        if sys.argv[1] == "hook":
            compiled_methods.install()
        import libcst, pickle
        from torchlint.tree import node_types
        codes = {{}}
        for kind in sorted(node_types(libcst.CSTNode), key=lambda k: (k.__module__, k.__qualname__)):
            for name, value in sorted(vars(kind).items()):
                code = getattr(value, "__code__", None)
                if code is not None and code.co_filename == "<string>":
                    codes[f"{{kind.__qualname__}}.{{name}}"] = (code.co_code, code.co_consts, code.co_names,
                                                                code.co_varnames, code.co_flags,
                                                                getattr(code, "co_qualname", None))
        compiled_methods.keep_new()
        sys.stdout.buffer.write(pickle.dumps(codes))
    """)
    import pickle

    def made(mode: str) -> dict:
        out = subprocess.run([sys.executable, "-c", script, mode], check=True, capture_output=True).stdout
        return pickle.loads(out)

    plain = made("plain")
    assert len(plain) > 300
    assert made("hook") == plain  # compiled and kept
    assert os.path.exists(os.path.join(tmp_path, os.path.basename(compiled_methods.kept_path())))
    assert made("hook") == plain  # read back



def test_namespaces_not_given_are_the_callers(kept_in):
    def caller():
        here = 1  # noqa: F841  (read by the executed text)
        compiled_methods._exec("found.append(here)")
        return found

    found: list = []
    globals()["found"] = found
    try:
        assert caller() == [1]
    finally:
        del globals()["found"]


def test_a_damaged_entry_is_compiled_again(kept_in):
    compiled_methods.install()
    compiled_methods._codes = {"value = 2\n": "not code"}
    namespace: dict = {}
    compiled_methods._exec("value = 2\n", namespace)
    assert namespace["value"] == 2 and compiled_methods._new
