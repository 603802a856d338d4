# ruff: noqa  (deliberately unusual code: these programs exercise odd corners of Python)
"""Exceptions of every common kind (many propagate out of the case on purpose), try/except/
finally, with blocks, raise/re-raise, chaining, except*."""

import contextlib
import math
import operator

from . import case

# ---- exceptions that escape the case (message + traceback compared) ---------------------


@case(1.0, 0.0)
def zero_division_float(a, b):
    return a / b


@case(7, 0)
def zero_division_int_floordiv(a, b):
    return a // b


@case(7, 0)
def zero_division_modulo(a, b):
    return a % b


@case(7.0, 0.0)
def zero_division_divmod(a, b):
    return divmod(a, b)


@case([1, 2, 3], 3)
def index_error_list(xs, i):
    return xs[i]


@case((1, 2), -3)
def index_error_tuple(xs, i):
    return xs[i]


@case("abc", 10)
def index_error_str(s, i):
    return s[i]


@case([1.0, 2.0])
def index_error_assignment(xs):
    xs[5] = 0.0


@case([])
def index_error_pop_empty(xs):
    return xs.pop()


@case({"a": 1}, "b")
def key_error_dict(d, k):
    return d[k]


@case({"a": 1}, ("x", 2))
def key_error_tuple_key(d, k):
    return d[k]


@case(set())
def key_error_set_remove(s):
    s.remove(3)


@case({})
def key_error_del(d):
    del d["missing"]


def _takes_one(x):
    return x


def _kwonly(a, *, b):
    return a + b


def _posonly(a, /, b):
    return a - b


@case()
def type_error_too_many_args():
    return _takes_one(1, 2, 3)


@case()
def type_error_missing_arg():
    return _takes_one()


@case()
def type_error_unexpected_kw():
    return _takes_one(y=3)


@case()
def type_error_kwonly_positional():
    return _kwonly(1, 2)


@case()
def type_error_posonly_as_kw():
    return _posonly(a=1, b=2)


@case()
def type_error_multiple_values():
    return _takes_one(1, x=2)


@case(1)
def type_error_star_not_iterable(n):
    return _takes_one(*n)


@case(1)
def type_error_dstar_not_mapping(n):
    return _takes_one(**n)


@case()
def type_error_dstar_duplicate():
    return _kwonly(1, b=2, **{"b": 3})


@case()
def type_error_dstar_nonstr_key():
    return _kwonly(1, **{1: 2})


@case()
def type_error_star_call_builtin():
    return max(*5)


@case(None)
def type_error_star_none(x):
    return print(*x)


@case()
def type_error_star_call_method():
    return "abc".join(*3)


@case()
def type_error_star_generator_raises():
    def gen():
        yield 1
        raise ValueError("inside star-arg generator")

    return _takes_one(*gen())


@case()
def type_error_not_callable():
    x = 5
    return x(3)


@case()
def type_error_none_not_callable():
    f = None
    return f()


@case(1, "a")
def type_error_bad_operands(a, b):
    return a + b


@case([1], 2.5)
def type_error_bad_operands_mul(a, b):
    return a * b


@case(3)
def type_error_not_subscriptable(x):
    return x[0]


@case(3.5)
def type_error_not_iterable(x):
    for _ in x:
        pass


@case("abc")
def type_error_str_item_assignment(s):
    s[0] = "x"


@case()
def type_error_unhashable():
    return {[1, 2]: 3}


@case()
def type_error_builtin_bad_arg():
    return len(5)


@case()
def type_error_math_bad_arg():
    return math.sqrt("x")


@case()
def type_error_unpack_non_iterable():
    a, b = 5
    return a, b


@case()
def type_error_comparison():
    return 1 < "a"


@case()
def type_error_sorted_mixed():
    return sorted([3, "a", 1.0])


@case("x1")
def value_error_int_parse(s):
    return int(s)


@case([1, 2, 3])
def value_error_unpack_too_many(xs):
    a, b = xs
    return a + b


@case([1])
def value_error_unpack_too_few(xs):
    a, b, *c = xs
    return a, b, c


@case(-1.0)
def value_error_math_domain(x):
    return math.sqrt(x)


@case(0.0)
def value_error_log_zero(x):
    return math.log(x)


@case([1, 2])
def value_error_list_index(xs):
    return xs.index(5)


@case(1000.0)
def overflow_error_exp(x):
    return math.exp(x)


@case(10.0)
def overflow_error_pow(x):
    return x ** 1000


@case()
def attribute_error_missing():
    return (1.5).nothing


@case()
def attribute_error_module():
    return math.sine


@case()
def attribute_error_setattr_builtin():
    x = object()
    x.y = 1


@case()
def name_error():
    return undefined_name_xyz  # noqa: F821


@case()
def stop_iteration_next():
    return next(iter([]))


@case(0.5)
def assertion_error(x):
    assert x > 1, f"x too small: {x}"


@case()
def not_implemented_error():
    raise NotImplementedError("subclass must implement")


@case()
def lookup_error_codec():
    return "abc".encode("no-such-codec")


@case()
def unicode_decode_error():
    return b"\xff\xfe\xfa".decode("utf-8")


@case()
def recursion_in_repr_error():
    class Bad:
        def __repr__(self):
            raise RuntimeError("repr failed")

    return f"{Bad()!r}"


@case()
def exception_in_operator_module():
    return operator.truediv(1, 0)


@case()
def system_exit_propagates():
    raise SystemExit(3)


class CustomError(Exception):
    def __init__(self, code, detail):
        super().__init__(f"code={code}: {detail}")
        self.code = code


@case(42)
def custom_exception(code):
    raise CustomError(code, "something went wrong")


# ---- try / except / else / finally ----------------------------------------------------


@case(2)
@case(0)
def try_except_else_finally(d):
    log = []
    try:
        r = 10 / d
    except ZeroDivisionError as e:
        log.append(("except", str(e)))
        r = None
    else:
        log.append("else")
    finally:
        log.append("finally")
    return r, log


@case()
def return_in_finally_overrides():
    def f():
        try:
            return "try"
        finally:
            return "finally"  # noqa: B012

    return f()


@case()
def finally_swallows_exception_by_return():
    def f():
        try:
            raise ValueError("lost")
        finally:
            return "swallowed"  # noqa: B012

    return f()


@case()
def exception_var_deleted_after_except():
    e = "before"
    try:
        raise KeyError("k")
    except KeyError as e:  # noqa: F841
        pass
    try:
        return e  # noqa: F821
    except NameError as err:
        return str(err)


@case()
def nested_try_reraise():
    log = []
    try:
        try:
            [][1]
        except IndexError:
            log.append("inner")
            raise
        finally:
            log.append("inner finally")
    except LookupError as e:
        log.append(type(e).__name__)
    return log


@case()
def exception_in_except_sets_context():
    try:
        try:
            {}["a"]
        except KeyError:
            1 / 0
    except ZeroDivisionError as e:
        return type(e.__context__).__name__, str(e.__context__), e.__suppress_context__


@case()
def raise_from_cause():
    try:
        try:
            int("zz")
        except ValueError as e:
            raise RuntimeError("wrapped") from e
    except RuntimeError as e:
        return str(e), type(e.__cause__).__name__, str(e.__cause__)


@case()
def raise_from_cause_escapes():
    try:
        int("zz")
    except ValueError as e:
        raise RuntimeError("wrapped and escaping") from e


@case()
def raise_from_none_escapes():
    try:
        {}["k"]
    except KeyError:
        raise LookupError("clean") from None


@case()
def context_chain_escapes():
    try:
        1 / 0
    except ZeroDivisionError:
        [].pop()


@case()
def sys_exc_info_in_handler():
    import sys

    try:
        raise TypeError("info")
    except TypeError:
        t, v, tb = sys.exc_info()
        return t.__name__, str(v), tb.tb_lineno - tb.tb_frame.f_code.co_firstlineno


@case()
def exception_group_except_star():
    log = []
    try:
        raise ExceptionGroup("grp", [ValueError("v1"), TypeError("t1"), ValueError("v2")])
    except* ValueError as eg:
        log.append(sorted(str(e) for e in eg.exceptions))
    except* TypeError as eg:
        log.append([str(e) for e in eg.exceptions])
    return log


@case()
def exception_group_escapes():
    try:
        raise ExceptionGroup("outer", [KeyError("a"), OSError("b")])
    except* KeyError:
        pass


@case()
def exception_notes():
    try:
        try:
            raise ValueError("base")
        except ValueError as e:
            e.add_note("note one")
            e.add_note("note two")
            raise
    except ValueError as e:
        return e.__notes__


@case()
def exception_attributes():
    out = []
    for thunk in (lambda: open("/nonexistent/dir/file.txt"),
                  lambda: int("q"),
                  lambda: {}["key"]):
        try:
            thunk()
        except Exception as e:
            out.append((type(e).__name__, e.args, str(e)))
    return out


# ---- with blocks -----------------------------------------------------------------------


class _Resource:
    def __init__(self, log, suppress=False):
        self.log = log
        self.suppress = suppress

    def __enter__(self):
        self.log.append("enter")
        return self

    def __exit__(self, et, ev, tb):
        self.log.append(("exit", et.__name__ if et else None, str(ev) if ev else None))
        return self.suppress


@case()
def with_suppressing_exit():
    log = []
    with _Resource(log, suppress=True):
        log.append("body")
        raise ValueError("suppressed")
    log.append("after")
    return log


@case()
def with_non_suppressing_exit():
    log = []
    try:
        with _Resource(log) as r:
            log.append(r is not None)
            raise KeyError("propagates")
    except KeyError as e:
        log.append(str(e))
    return log


@case()
def with_multiple_managers_order():
    log = []
    with _Resource(log), contextlib.suppress(ZeroDivisionError), _Resource(log):
        log.append("body")
        1 / 0
    return log


@case()
def contextmanager_generator():
    log = []

    @contextlib.contextmanager
    def managed(tag):
        log.append(f"setup {tag}")
        try:
            yield tag.upper()
        except RuntimeError as e:
            log.append(f"handled {e}")
        finally:
            log.append(f"teardown {tag}")

    with managed("a") as v:
        log.append(v)
    with managed("b"):
        raise RuntimeError("inside b")
    return log


@case()
def exit_stack_callbacks():
    log = []
    with contextlib.ExitStack() as stack:
        for i in range(3):
            stack.callback(log.append, f"cb{i}")
        stack.enter_context(_Resource(log))
        log.append("body")
    return log


@case()
def enter_raises():
    class Bad:
        def __enter__(self):
            raise OSError("cannot enter")

        def __exit__(self, *a):
            return False

    with Bad():
        pass


@case()
def with_not_a_context_manager():
    with 42:
        pass


@case()
def with_exit_raises_new():
    class Bad:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            raise RuntimeError("exit failed")

    with Bad():
        raise ValueError("body failed")
