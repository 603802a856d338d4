# ruff: noqa  (deliberately unusual code: these programs exercise odd corners of Python)
"""Closures, nonlocal, lambdas, decorators, argument passing."""

import functools

from . import add, case


@case(5)
def closure_counter(n):
    def make_counter():
        count = 0

        def inc(step=1):
            nonlocal count
            count += step
            return count

        return inc

    c = make_counter()
    return [c(i) for i in range(n)]


@case()
def closure_late_binding():
    fs = [lambda: i for i in range(4)]
    gs = [lambda i=i: i for i in range(4)]
    return [f() for f in fs], [g() for g in gs]


@case(2.0)
def closure_nested_three_levels(x):
    def a(y):
        def b(z):
            def c(w):
                return x * 100 + y * 10 + z + w
            return c
        return b

    return a(3.0)(4.0)(0.5)


@case()
def nonlocal_in_nested_loops():
    total = 0.0

    def accumulate(vals):
        nonlocal total
        for v in vals:
            if v < 0:
                continue
            total += v
            if total > 10:
                break

    accumulate([1.5, -2, 3.5, 8.0, 1.0])
    return total


@case()
def nonlocal_shared_between_closures():
    def pair():
        state = []

        def push(x):
            state.append(x)

        def get():
            nonlocal state
            s, state = state, []
            return s

        return push, get

    push, get = pair()
    push(1)
    push(2)
    first = get()
    push(3)
    return first, get()


@case()
def cell_modified_after_closure_creation():
    x = 1

    def f():
        return x

    x = 2
    r1 = f()
    x = 3
    return r1, f()


@case()
def closure_cell_contents_introspection():
    a, b = 10, "s"

    def f():
        return a, b

    return [c.cell_contents for c in f.__closure__], f.__code__.co_freevars


@case(4.0)
def lambda_basic(x):
    sq = lambda v: v * v
    add3 = lambda a, b=1.0, *rest, **kw: a + b + sum(rest) + len(kw)
    return sq(x), add3(x), add3(x, 2.0, 3.0, 4.0, k=1)


@case()
def lambda_immediately_invoked():
    g = (lambda: (yield 7))()
    return (lambda a, b: a ** b)(2, 10), next(g), type(g).__name__


@case()
def decorator_with_wraps():
    calls = []

    def logged(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            calls.append((fn.__name__, args, tuple(sorted(kwargs.items()))))
            return fn(*args, **kwargs)

        return wrapper

    @logged
    def area(w, h=1.0):
        """Area."""
        return w * h

    return area(2.0, h=3.5), area(4.0), area.__name__, area.__doc__, calls


@case()
def decorator_with_arguments():
    def repeat(n):
        def deco(fn):
            def wrapper(x):
                for _ in range(n):
                    x = fn(x)
                return x
            return wrapper
        return deco

    @repeat(3)
    def double(v):
        return v * 2

    return double(1.25)


@case()
def lru_cache_fib():
    @functools.lru_cache(maxsize=None)
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    r = fib(60)
    info = fib.cache_info()
    return r, info.hits, info.misses


@case(1, 2, 3, a=4, b=5)
def star_args_and_kwargs(*args, **kwargs):
    def f(x, *rest, y=0, **kw):
        return x, rest, y, sorted(kw.items())

    return f(*args, **kwargs), f(*args, y=9), f(0, *args[1:], **{"z": 1})


@case()
def star_call_with_generator_and_dict_subclass():
    class D(dict):
        pass

    def f(*a, **k):
        return a, sorted(k.items())

    return f(*(i * i for i in range(4)), **D(p=1, q=2))


@case()
def keyword_only_and_positional_only():
    def f(a, b, /, c, *, d, e=5):
        return (a, b, c, d, e)

    return f(1, 2, 3, d=4), f(1, 2, c=3, d=4, e=6)


@case()
def default_mutable_argument_persistence():
    def append(x, acc=[]):  # noqa: B006
        acc.append(x)
        return list(acc)

    return append(1), append(2), append(3, [])


@case()
def function_attributes_and_defaults():
    def f(a, b=2, *, c=3):
        return a + b + c

    f.tag = "x"
    return f.__defaults__, f.__kwdefaults__, f.tag, f.__code__.co_argcount, f(1)


@case()
def method_bound_unbound():
    class A:
        def m(self, x):
            return (type(self).__name__, x)

    a = A()
    bound = a.m
    return bound(1), A.m(a, 2), bound.__self__ is a, bound.__func__ is A.m


@case()
def recursive_closure():
    def outer(n):
        def fact(k):
            return 1 if k <= 1 else k * fact(k - 1)
        return fact(n)

    return outer(20)


@case()
def generator_of_closures_with_nonlocal_counter():
    def make():
        n = 0

        def tick():
            nonlocal n
            n += 1
            return n

        return tick

    t = make()
    return [t() for _ in range(3)] + [sum(t() for _ in range(3))]


def _outer_fn(x):
    return _inner_fn(x) * 2


def _inner_fn(x):
    return x + 0.5


add("functions.module_level_chain", _outer_fn, 1.25)
add("functions.builtin_callable_case", sum, [0.1, 0.2, 0.3])
add("functions.lambda_case", lambda a, b: (a * b, a / b, a - b), 0.3, 0.7)
add("functions.partial_case", functools.partial(pow, 2), 0.5)
