# ruff: noqa  (deliberately unusual code: these programs exercise odd corners of Python)
"""Loops, break/continue/else, while, early return, recursion, match, walrus, global."""

import sys

from . import case

# ---- for loops -------------------------------------------------------------------------


@case(10)
@case(0)
def for_break_else(n):
    out = []
    for i in range(n):
        if i * i > 20:
            out.append("break")
            break
        out.append(i)
    else:
        out.append("else")
    return out


@case([3, -1, 4, 1, -5, 9])
def for_continue(xs):
    total = 0.0
    for x in xs:
        if x < 0:
            continue
        total += x * 0.1
    return total


@case(5)
def nested_loops_break_outer(n):
    found = None
    for i in range(n):
        for j in range(n):
            if i * j == 6:
                found = (i, j)
                break
        else:
            continue
        break
    return found


@case([1.5, 2.5, -0.5])
def for_over_enumerate_zip(xs):
    acc = []
    for i, (a, b) in enumerate(zip(xs, reversed(xs))):
        acc.append((i, a * b, a - b))
    return acc


@case(7)
def for_loop_variable_after_loop(n):
    for i in range(n):
        pass
    return i


@case({"a": 1, "b": 2, "c": 3})
def for_over_dict_items(d):
    keys = []
    for k, v in d.items():
        if v == 2:
            continue
        keys.append(k * v)
    return keys


@case(4)
def for_else_no_break(n):
    log = []
    for i in range(n):
        log.append(i)
    else:
        log.append("done")
    return log


@case(6)
def loop_with_try_continue(n):
    out = []
    for i in range(n):
        try:
            if i % 2:
                continue
            out.append(10 / (i - 2))
        except ZeroDivisionError:
            out.append("zde")
            continue
        finally:
            out.append(f"f{i}")
    return out


@case(5)
def loop_return_inside_finally_break(n):
    out = []
    for i in range(n):
        try:
            out.append(i)
            if i == 3:
                break
        finally:
            out.append(-i)
    return out


# ---- while -----------------------------------------------------------------------------


@case(27)
def collatz_steps(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


@case(2.0)
def while_newton_sqrt(a):
    x = a
    it = 0
    while True:
        nx = 0.5 * (x + a / x)
        it += 1
        if abs(nx - x) < 1e-15 or it > 100:
            break
        x = nx
    return x, it


@case(10)
def while_else(n):
    i = 0
    hits = []
    while i < n:
        i += 3
        if i == 7:
            break
        hits.append(i)
    else:
        hits.append("else")
    return hits


@case([5, 3, 8, 1])
def while_pop_continue(stack):
    out = []
    while stack:
        x = stack.pop()
        if x == 8:
            continue
        out.append(x)
    return out, stack


# ---- early return ----------------------------------------------------------------------


def _first_negative(xs):
    for i, x in enumerate(xs):
        if x < 0:
            return i
    return -1


@case([1.0, 2.0, -3.0, 4.0])
@case([1.0])
def early_return_from_loop(xs):
    return _first_negative(xs)


@case(3.0)
@case(-3.0)
@case(0.0)
def early_return_sign(x):
    if x > 0:
        return "pos"
    if x < 0:
        return "neg"
    return "zero"


@case(5)
def early_return_in_with(n):
    import contextlib

    log = []

    @contextlib.contextmanager
    def cm():
        log.append("enter")
        try:
            yield
        finally:
            log.append("exit")

    def inner():
        with cm():
            for i in range(n):
                if i == 2:
                    return i
        return None

    return inner(), log


# ---- recursion -------------------------------------------------------------------------


def _fib(n):
    return n if n < 2 else _fib(n - 1) + _fib(n - 2)


@case(15)
def recursive_fib(n):
    return _fib(n)


def _ackermann(m, n):
    if m == 0:
        return n + 1
    if n == 0:
        return _ackermann(m - 1, 1)
    return _ackermann(m - 1, _ackermann(m, n - 1))


@case(2, 3)
def recursive_ackermann(m, n):
    return _ackermann(m, n)


def _is_even(n):
    return True if n == 0 else _is_odd(n - 1)


def _is_odd(n):
    return False if n == 0 else _is_even(n - 1)


@case(41)
def mutual_recursion(n):
    return _is_even(n), _is_odd(n)


def _depth(n):
    if n == 0:
        return 0.5
    return 1.0 + _depth(n - 1)


@case(1000)
def deep_recursion_1000(n):
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 5000))
    try:
        return _depth(n)
    finally:
        sys.setrecursionlimit(old)


class _Walker:
    def __init__(self):
        self.visited = 0

    def walk(self, n):
        if n == 0:
            return self.visited
        self.visited += 1
        return (lambda k: self.walk(k))(n - 1)


@case(480)
def deep_recursion_through_methods_and_lambdas(n):
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 5000))
    try:
        return _Walker().walk(n)
    finally:
        sys.setrecursionlimit(old)


def _down(n):
    return _down(n + 1)


@case()
def recursion_error_message():
    try:
        _down(0)
    except RecursionError as e:
        return type(e).__name__, str(e)


def _flatten(x):
    if isinstance(x, list):
        out = []
        for y in x:
            out.extend(_flatten(y))
        return out
    return [x]


@case([1, [2, [3, [4, 5.5]], 6], [[7]]])
def recursive_flatten(x):
    return _flatten(x)


def _hanoi(n, a, b, c, moves):
    if n:
        _hanoi(n - 1, a, c, b, moves)
        moves.append((a, c))
        _hanoi(n - 1, b, a, c, moves)
    return moves


@case(5)
def recursive_hanoi(n):
    return _hanoi(n, "A", "B", "C", [])


# ---- match -----------------------------------------------------------------------------


def _describe(obj):
    match obj:
        case 0 | 0.0:
            return "zero"
        case int(n) if n < 0:
            return f"negative int {n}"
        case float() as f:
            return f"float {f:.3f}"
        case [x, y]:
            return f"pair {x},{y}"
        case [x, *rest]:
            return f"list head={x} rest={len(rest)}"
        case {"kind": "circle", "r": r}:
            return f"circle {3.14159 * r * r:.2f}"
        case {"kind": k, **others}:
            return f"kind {k} with {sorted(others)}"
        case str() if obj.startswith("x"):
            return "x-string"
        case _:
            return "other"


@case([0, -4, 2.5, [1, 2], [1, 2, 3, 4], {"kind": "circle", "r": 2.0},
       {"kind": "sq", "a": 1, "b": 2}, "xyz", "abc", None])
def match_many(objs):
    return [_describe(o) for o in objs]


class _Point:
    __match_args__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


@case()
def match_class_patterns():
    out = []
    for p in [_Point(0, 0), _Point(0, 5), _Point(3, 0), _Point(1, 2), (1, 2)]:
        match p:
            case _Point(0, 0):
                out.append("origin")
            case _Point(0, y):
                out.append(f"y-axis {y}")
            case _Point(x=x, y=0):
                out.append(f"x-axis {x}")
            case _Point(x, y) if x < y:
                out.append("above diagonal")
            case _:
                out.append("not a point")
    return out


@case("go north")
@case("drop sword shield")
@case("quit")
@case("dance")
def match_command_strings(cmd):
    match cmd.split():
        case ["go", direction]:
            return ("move", direction)
        case ["drop", *items]:
            return ("drop", tuple(items))
        case ["quit" | "exit"]:
            return ("quit",)
        case other:
            return ("unknown", other)


# ---- walrus ----------------------------------------------------------------------------


@case([3, 8, 1, 12, 5])
def walrus_in_while(xs):
    it = iter(xs)
    out = []
    while (x := next(it, None)) is not None:
        if (y := x * 2) > 10:
            out.append(y)
    return out


@case(10)
def walrus_in_comprehension(n):
    vals = [y for x in range(n) if (y := x * x % 7) > 2]
    return vals, y


# ---- global ----------------------------------------------------------------------------

COUNTER = 0
REGISTRY = {}


def _bump(k):
    global COUNTER
    COUNTER += k
    return COUNTER


@case(5)
def global_counter(n):
    global COUNTER
    COUNTER = 0
    vals = [_bump(i) for i in range(n)]
    return vals, COUNTER


@case()
def global_declared_in_loop():
    global REGISTRY
    REGISTRY = {}
    for name in "abc":
        REGISTRY[name] = len(REGISTRY)
    return dict(REGISTRY)


@case()
def unbound_local_error():
    x = 1

    def inner():
        y = x + 1  # noqa: F841
        x = 2
        return x

    try:
        inner()
    except UnboundLocalError as e:
        return str(e)
    return x


@case(3.5, 2)
def chained_comparisons_and_ternary(x, n):
    return (0 < x < 4, 1 < n <= 2 < x, "big" if x > 3 else "small",
            x if n else -x, not x or n)


@case([0, "", None, [], 3, "a"])
def boolean_short_circuit(vals):
    out = []
    for v in vals:
        out.append((v or "default", v and "yes", not v))
    return out
