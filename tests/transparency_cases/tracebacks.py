# ruff: noqa  (deliberately unusual code: these programs exercise odd corners of Python)
"""Raise / re-raise with traceback line numbers: the suite compares every traceback entry in
this package, so these cases check line tables (multi-line statements, nested calls,
comprehensions, lambdas, class bodies, generators) and formatted tracebacks."""

import os
import sys
import traceback

from . import CASES_DIR, case


def _level3(x):
    return x["missing"]


def _level2(x):
    y = dict(x)
    return _level3(y) + 1


def _level1(x):
    z = _level2(x)
    return z


@case({"a": 1})
def nested_call_traceback(d):
    return _level1(d)


@case([1.0, 2.0, 3.0])
def multiline_expression_error(xs):
    total = (xs[0] +
             xs[1] *
             xs[7] -
             xs[2])
    return total


@case()
def multiline_call_error():
    return max(
        1,
        2,
        int(
            "not a number"
        ),
    )


@case()
def multiline_dict_literal_error():
    values = {"a": 1}
    return {
        "x": values["a"],
        "y": values["b"],
        "z": 3,
    }


@case()
def error_in_listcomp():
    data = [1, 2, 0, 4]
    return [
        10 // d
        for d in data
    ]


@case()
def error_in_genexpr_consumed_by_sum():
    data = [1, 2, "x"]
    return sum(d * 2.0 for d in data)


@case()
def error_in_lambda_called_from_c():
    return sorted([3, 1, 2], key=lambda v: 1 / (v - 2))


@case()
def error_in_map_callback():
    return list(map(lambda s: int(s), ["1", "2", "three"]))


@case()
def error_in_class_body():
    class Broken:
        a = 1
        b = a + "x"

    return Broken


@case()
def error_in_decorator():
    def deco(fn):
        raise ValueError(f"cannot decorate {fn.__name__}")

    @deco
    def victim():
        pass

    return victim


@case()
def error_in_generator_body():
    def gen():
        yield 1
        yield 2
        raise KeyError("from generator")

    return list(gen())


@case()
def error_in_property():
    class C:
        @property
        def value(self):
            return self._missing

    return C().value


@case()
def error_in_dunder_add():
    class V:
        def __add__(self, other):
            return other.undefined_attr

    return V() + 3


@case()
def bare_reraise_keeps_traceback():
    try:
        _level1({})
    except KeyError:
        raise


@case()
def reraise_named_adds_line():
    try:
        _level1({})
    except KeyError as e:
        err = e
    raise err


@case()
def reraise_in_finally_path():
    try:
        try:
            1 / 0
        finally:
            pass
    except ZeroDivisionError:
        raise


@case()
def with_traceback_none():
    try:
        1 / 0
    except ZeroDivisionError as e:
        raise e.with_traceback(None)


@case()
def raise_class_not_instance():
    raise IndexError


@case()
def raise_non_exception():
    raise 42


@case()
def error_in_nested_function_in_loop():
    def check(i):
        if i == 3:
            raise ValueError(f"bad item {i}")
        return i

    out = []
    for i in range(5):
        out.append(check(i))
    return out


@case()
def error_in_while_condition():
    xs = [3, 2, 1]
    i = 0
    while xs[i] > 0:
        i += 1
    return i


@case()
def error_in_fstring():
    d = {"a": 1}
    return f"value={d['a']} other={d['b']}"


@case()
def error_in_augmented_assign():
    xs = [1, 2]
    xs[2] += 1


@case()
def error_in_with_item():
    with open(os.path.join(CASES_DIR, "no_such_file.txt")) as fh:
        return fh.read()


@case()
def error_in_default_argument_eval():
    def f(x=1 / 0):
        return x

    return f


@case()
def error_in_chained_method_calls():
    s = "a,b,c"
    return (s.upper()
            .split(",")
            .index("D"))


@case()
def error_in_assert_multiline():
    x = 3
    assert (
        x > 10
    ), "x not big enough"


def _collect_tb(exc):
    return [(os.path.basename(f.filename), f.lineno, f.name)
            for f in traceback.extract_tb(exc.__traceback__)]


@case()
def extracted_traceback_inside_case():
    try:
        _level1({"q": 1})
    except KeyError as e:
        return _collect_tb(e)


@case()
def formatted_exception_text():
    try:
        _level1({"q": 1})
    except KeyError:
        text = traceback.format_exc()
    return text.replace(CASES_DIR, "<cases>")


@case()
def formatted_exception_binary_op_carets():
    a, b = 1, 0
    try:
        c = (a +
             a / b)
        return c
    except ZeroDivisionError:
        return traceback.format_exc().replace(CASES_DIR, "<cases>")


@case()
def extract_stack_inside_case():
    def inner():
        return [(os.path.basename(f.filename), f.lineno, f.name)
                for f in traceback.extract_stack() if f.filename.startswith(CASES_DIR)]

    def outer():
        return inner()

    return outer()


@case()
def tb_frame_locals_of_failing_frame():
    def failing(a, b):
        c = a * b
        raise RuntimeError(c)

    try:
        failing(3, 4)
    except RuntimeError as e:
        tb = e.__traceback__
        while tb.tb_next:
            tb = tb.tb_next
        loc = tb.tb_frame.f_locals
        return sorted(loc.items()), tb.tb_lineno - tb.tb_frame.f_code.co_firstlineno


@case()
def tb_lasti_consistency():
    def f():
        x = [1]
        return x[3]

    try:
        f()
    except IndexError as e:
        tb = e.__traceback__.tb_next
        code = tb.tb_frame.f_code  # may be an instrumented copy: compare what users read
        return (tb.tb_lineno - f.__code__.co_firstlineno, code.co_name, code.co_qualname,
                code.co_firstlineno == f.__code__.co_firstlineno, code.co_varnames,
                code.co_filename == f.__code__.co_filename)


@case()
def exception_in_sys_excepthook_style_print():
    try:
        [].remove(1)
    except ValueError:
        import io

        buf = io.StringIO()
        traceback.print_exc(file=buf)
        return buf.getvalue().replace(CASES_DIR, "<cases>")


@case()
def exception_trace_across_recursion():
    def r(n):
        if n == 0:
            raise LookupError("bottom")
        return r(n - 1)

    try:
        r(5)
    except LookupError as e:
        return [ln for _, ln, _ in _collect_tb(e)]


@case()
def frame_f_lineno_in_traceback_frames():
    try:
        _level1({})
    except KeyError:
        _, _, tb = sys.exc_info()
        out = []
        while tb is not None:
            out.append((tb.tb_frame.f_code.co_name, tb.tb_lineno, tb.tb_frame.f_lineno))
            tb = tb.tb_next
        return out
