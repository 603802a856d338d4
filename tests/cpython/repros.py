"""Minimal reproductions of the differences CPython's test suite shows under capture.

``python -m tests.cpython.repros NAME`` runs one natively and under ``framead.grad``, and
prints what each run observed (the two lines should be equal; where they differ, framead is
visible). ``python -m tests.cpython.repros`` runs them all. Each is named after its cause in
tests/cpython/FINDINGS.md.
"""

from __future__ import annotations

import cProfile
import ctypes
import dis
import gc
import io
import marshal
import profile
import pstats
import sys
import tracemalloc
import weakref

REPROS = {}


def repro(fn):
    REPROS[fn.__name__] = fn
    return fn


@repro
def frame_code_identity():
    """f_code of a running frame is the function's code (test_sys.test_getframe; tracers that
    compare frame.f_code, as test_sys_settrace's JumpTracer and trace's caller names)."""
    return sys._getframe().f_code is frame_code_identity.__code__


@repro
def generator_code_identity():
    """gi_code/cr_code of a generator is its function's code (test_dis coroutine)."""
    def gen():
        yield 1
    return gen().gi_code is gen.__code__


@repro
def specialization():
    """Code run 10 times is quickened and specialized (test_dis *_specialize, loop_quicken,
    show_caches): under capture only the instrumented copy runs."""
    co = compile("a + b", "<int>", "exec")
    for _ in range(10):
        exec(co, {}, {"a": 1, "b": 2})
    out = io.StringIO()
    dis.dis(co, adaptive=True, file=out)
    return "BINARY_OP_ADD_INT" in out.getvalue()


@repro
def code_kept_alive():
    """An eval'd code object dies with its last reference (test_code CoExtra, CodeWeakRefTest)."""
    f = eval("lambda: 42")
    ref = weakref.ref(f.__code__)
    del f
    gc.collect()
    return ref() is None


@repro
def first_call_gc_objects():
    """Calling a new function allocates no GC-tracked object (test_descr test_slots)."""
    class G:
        def __eq__(self, other):
            return False
    g = G()
    before = len(gc.get_objects())
    for _ in range(10):
        g == g  # noqa: B015 - the call is the point
    return len(gc.get_objects()) - before


@repro
def profiler_sees_framead():
    """A profile of code that frees a code object shows only the program's functions
    (test_profile/test_cprofile test_calling_conventions)."""
    prof = profile.Profile()
    prof.runctx("exec(compile('max([0], key=int)', '<s>', 'exec'))", {}, {})
    out = io.StringIO()
    pstats.Stats(prof, stream=out).print_stats()
    return [line.split()[-1] for line in out.getvalue().splitlines() if "framead" in line
            or "/capture/" in line]


@repro
def profiled_star_call():
    """A profiler sees the C function a star call runs (test_profile/test_cprofile
    test_calling_conventions: ``max([0], **dict(key=int))``)."""
    prof = cProfile.Profile()
    prof.runctx("max([0], **dict(key=int)); len(*[[1]])", {}, {})
    out = io.StringIO()
    pstats.Stats(prof, stream=out).print_stats()
    return sorted(line.split(None, 5)[-1] for line in out.getvalue().splitlines()
                  if "{built-in method builtins." in line)


@repro
def deep_nested_list():
    """marshal.dumps of a 2000-deep list (test_marshal test_recursion_limit, test_capi
    test_trashcan_subclass)."""
    head = last = []
    for _ in range(1998):
        last.append([0])
        last = last[-1]
    try:
        return len(marshal.dumps(head))
    except RecursionError as e:
        return f"RecursionError: {e}"


@repro
def dict_subclass_mid_update():
    """A pure-Python OrderedDict nested 40 deep (test_ordered_dict test_highly_nested)."""
    from test.support import import_helper

    py_collections = import_helper.import_fresh_module("collections", blocked=["_collections"])
    obj = None
    try:
        for _ in range(40):
            obj = py_collections.OrderedDict([(None, obj)])
    except KeyError as e:
        return f"KeyError: {e}"
    return "ok"


@repro
def getrefcount_of_function():
    """sys.getrefcount of a local function is 2 (ctypes test_refcounts)."""
    def callback(v):
        return v
    return sys.getrefcount(callback)


@repro
def tracemalloc_first_call():
    """Memory a first call allocates, beyond the 1 MiB it returns (test_tracemalloc
    test_get_traced_memory allows 2 KiB)."""
    def allocate(n):
        return b"x" * n
    tracemalloc.start()
    try:
        tracemalloc.clear_traces()
        obj = allocate(1 << 20)
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del obj
    return size - (1 << 20)


@repro
def recursion_headroom():
    """A first call made 5 frames below a lowered recursion limit (test_support
    test_recursion): under capture decide() instruments it with the program's budget."""
    from test import support

    def rec(depth):
        if depth:
            rec(depth - 1)
    try:
        with support.infinite_recursion(5):
            rec(support.get_recursion_available())
    except RecursionError:
        return "RecursionError"
    return "ok"


def co_extra_free_at_exit():
    """A Python function registered as a co_extra free function (ctypes, as test_code does):
    CPython calls it, with NULL, for every dying code object that has a co_extra array, and
    framead gives one to every code object a capture runs; at interpreter shutdown the call
    lands in a module being torn down and the process crashes (SIGSEGV after the output).
    Run alone: ``python -m tests.cpython.repros co_extra_free_at_exit``."""
    freefunc = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    request = ctypes.pythonapi._PyEval_RequestCodeExtraIndex
    request.argtypes, request.restype = (freefunc,), ctypes.c_ssize_t
    free = freefunc(_record_free)
    _KEEP.append(free)
    request(free)
    return "registered"


def _record_free(ptr):
    global _LAST_FREED
    _LAST_FREED = ptr


_LAST_FREED = None


def _noop(x):
    return 1.0
_KEEP: list = []
ALONE = {"co_extra_free_at_exit": co_extra_free_at_exit}  # not in the default run: it crashes


def main(argv: list[str]) -> int:
    import warnings

    import framead

    names = argv or list(REPROS)
    for name in names:
        fn = REPROS.get(name) or ALONE[name]
        native = fn()
        box = {}

        def program(x, fn=fn, box=box):
            box["r"] = fn()
            return x * 1.0

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", framead.GradientWarning)
            framead.grad(program)(1.0)
            framead.grad(lambda x: x * _noop(x))(1.0)  # a code object run after fn's
        mark = "same" if native == box["r"] else "DIFFERS"
        print(f"{name:26s} {mark:8s} native: {native!r:.60}  capture: {box['r']!r:.60}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
