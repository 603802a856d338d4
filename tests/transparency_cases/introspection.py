# ruff: noqa  (deliberately unusual code: these programs exercise odd corners of Python)
"""Frame introspection: sys._getframe, locals(), inspect, warnings stacklevel, logging
records, tracebacks of warnings. Everything reported is relative to this package."""

import inspect
import io
import logging
import os
import sys
import warnings

from . import CASES_DIR, case


def _here(frame):
    return (os.path.basename(frame.f_code.co_filename), frame.f_lineno, frame.f_code.co_name)


def _caller_info():
    f = sys._getframe(1)
    return _here(f), f.f_locals.get("marker")


@case()
def getframe_caller():
    marker = "outer-marker"  # noqa: F841
    return _caller_info()


@case()
def getframe_chain_depths():
    def a():
        return b()

    def b():
        return [_here(sys._getframe(k)) for k in range(3)]

    return a()


@case()
def getframe_too_deep_error():
    return sys._getframe(100000)


@case(1.5, "s")
def locals_snapshot(x, s):
    y = x * 2
    z = [y, s]
    loc = locals()
    return sorted((k, repr(v)) for k, v in loc.items())


@case()
def locals_order_and_cells():
    a = 1
    b = 2.5

    def inner():
        return a + b

    c = inner()
    return list(locals().keys()), c


@case()
def locals_in_comprehension_and_class():
    class K:
        p = 1
        q = [2]
        snap = sorted(k for k in locals() if not k.startswith("_"))

    comp = [sorted(locals()) for _ in range(1)]
    return K.snap, comp


@case()
def f_locals_of_caller_and_f_back():
    def callee():
        f = sys._getframe().f_back
        return sorted(f.f_locals.items(), key=lambda kv: kv[0]), f.f_code.co_name

    a, b = 5, "bee"
    return callee(), a, b


@case()
def inspect_currentframe_and_stack():
    def inner():
        fr = inspect.currentframe()
        here = _here(fr)
        up = _here(fr.f_back)
        info = inspect.getframeinfo(fr)
        stack = [(os.path.basename(s.filename), s.lineno, s.function, s.code_context)
                 for s in inspect.stack() if s.filename.startswith(CASES_DIR)]
        return here, up, (info.lineno, info.function, info.code_context), stack

    return inner()


@case()
def inspect_signature_and_source():
    def target(a, b: float = 2.0, *args, c, **kw) -> float:
        return a

    sig = inspect.signature(target)
    lines, start = inspect.getsourcelines(target)
    return str(sig), len(lines), start - sys._getframe().f_code.co_firstlineno


@case()
def frame_code_identity_and_lasti_progress():
    fr = sys._getframe()
    l1 = fr.f_lineno
    x = 1
    x += 1
    l2 = fr.f_lineno
    return l2 - l1, x, fr.f_code.co_name, fr.f_code.co_filename == __file__


def _deprecated(x):
    warnings.warn(f"deprecated call with {x}", DeprecationWarning, stacklevel=2)
    return x * 2


def _wrapper_deprecated(x):
    warnings.warn("level three", UserWarning, stacklevel=3)
    return x


def _warn_record(w):
    return (os.path.basename(w.filename), w.lineno, str(w.message), w.category.__name__)


@case(3.5)
def warnings_stacklevel_2(x):
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        r = _deprecated(x)
        r2 = [_deprecated(v) for v in (1, 2)]
    return r, r2, [_warn_record(w) for w in ws]


@case()
def warnings_stacklevel_3_and_1():
    def middle():
        return _wrapper_deprecated(1)

    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        middle()
        warnings.warn("direct", RuntimeWarning)
    return [_warn_record(w) for w in ws]


@case()
def warnings_as_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return _deprecated(1)


@case()
def warnings_once_registry():
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("default")
        for _ in range(3):
            warnings.warn("repeated", UserWarning)
    return [_warn_record(w) for w in ws]


@case()
def showwarning_formatting():
    buf = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        old = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            buf.write(warnings.formatwarning(message, category, os.path.basename(filename),
                                             lineno, line))

        warnings.showwarning = show
        try:
            _deprecated(0.5)
        finally:
            warnings.showwarning = old
    return buf.getvalue()


class _ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def _log_from_here(logger, x):
    logger.info("value is %s", x)
    logger.warning("warned %d", 2)
    return x


@case(1.25)
def logging_record_lineno(x):
    logger = logging.getLogger("framead.tests.transparency")
    h = _ListHandler()
    logger.addHandler(h)
    old_level, old_prop = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        _log_from_here(logger, x)
        logger.debug("direct %s", "debug")
        try:
            1 / 0
        except ZeroDivisionError:
            logger.exception("failed")
    finally:
        logger.removeHandler(h)
        logger.setLevel(old_level)
        logger.propagate = old_prop
    return [(r.levelname, r.getMessage(), os.path.basename(r.pathname), r.lineno, r.funcName,
             r.module, r.exc_info[0].__name__ if r.exc_info else None) for r in h.records]


@case()
def logging_stacklevel():
    logger = logging.getLogger("framead.tests.stacklevel")
    h = _ListHandler()
    logger.addHandler(h)
    logger.propagate = False
    logger.setLevel(logging.INFO)

    def helper():
        logger.info("from helper", stacklevel=2)

    try:
        helper()
    finally:
        logger.removeHandler(h)
        logger.propagate = True
    return [(r.lineno, r.funcName) for r in h.records]


@case()
def logging_formatter_output():
    stream = io.StringIO()
    logger = logging.getLogger("framead.tests.fmt")
    h = logging.StreamHandler(stream)
    h.setFormatter(logging.Formatter("%(levelname)s %(funcName)s:%(lineno)d %(message)s"))
    logger.addHandler(h)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info("hello %s", "world")
    finally:
        logger.removeHandler(h)
        logger.propagate = True
    return stream.getvalue()


@case()
def code_object_attributes():
    def f(a, b=1, *c, d, **e):
        g = a + b
        return lambda: g

    co = f.__code__
    return (co.co_name, co.co_argcount, co.co_kwonlyargcount, co.co_varnames, co.co_cellvars,
            co.co_freevars, co.co_flags, co.co_firstlineno - sys._getframe().f_code.co_firstlineno,
            co.co_qualname)


@case()
def settrace_inside_case_sees_lines():
    events = []

    def tracer(frame, event, arg):
        if frame.f_code.co_name == "traced":
            events.append((event, frame.f_lineno - frame.f_code.co_firstlineno))
        return tracer

    def traced(n):
        s = 0
        for i in range(n):
            s += i
        return s

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        r = traced(3)
    finally:
        sys.settrace(old)
    return r, events


@case()
def globals_and_builtins_of_frame():
    fr = sys._getframe()
    return (fr.f_globals is globals(), fr.f_globals["__name__"], "len" in dir(fr.f_builtins)
            or "len" in fr.f_builtins)
