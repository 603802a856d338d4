# ruff: noqa  (deliberately unusual code: these programs exercise odd corners of Python)
"""Generators: yield, return values, yield from, send/throw/close, GeneratorExit."""

from . import case


def _countdown(n):
    while n > 0:
        yield n
        n -= 1
    return "liftoff"


@case(4)
def generator_return_value(n):
    g = _countdown(n)
    out = []
    while True:
        try:
            out.append(next(g))
        except StopIteration as e:
            out.append(e.value)
            break
    return out


@case(5)
def generator_in_for_with_break(n):
    out = []
    for v in _countdown(n):
        if v == 2:
            break
        out.append(v)
    return out


def _delegator(n):
    r = yield from _countdown(n)
    yield f"got {r}"
    r2 = yield from [10, 20]
    return r2


@case(3)
def yield_from_return_value(n):
    g = _delegator(n)
    out = list(g)
    return out


def _accumulator():
    total = 0.0
    while True:
        x = yield total
        if x is None:
            return total
        total += x


@case([1.5, 2.5, -1.0])
def send_values(xs):
    g = _accumulator()
    out = [next(g)]
    for x in xs:
        out.append(g.send(x))
    try:
        g.send(None)
    except StopIteration as e:
        out.append(("stop", e.value))
    return out


def _resilient():
    log = []
    while True:
        try:
            v = yield log
            log.append(("ok", v))
        except ValueError as e:
            log.append(("caught", str(e)))
        except GeneratorExit:
            log.append("closing")
            raise


@case()
def throw_and_close():
    g = _resilient()
    log = next(g)
    g.send(1)
    g.throw(ValueError("boom"))
    g.send(2)
    g.close()
    return log, g.gi_frame is None


@case()
def throw_uncaught_propagates():
    def gen():
        yield 1
        yield 2

    g = gen()
    next(g)
    g.throw(KeyError("thrown in"))


@case()
def throw_through_yield_from():
    def inner():
        try:
            yield 1
        except IndexError as e:
            yield f"inner caught {e}"

    def outer():
        x = yield from inner()
        yield ("after", x)

    g = outer()
    out = [next(g), g.throw(IndexError("ix")), next(g)]
    return out


@case()
def close_runs_finally():
    log = []

    def gen():
        try:
            yield 1
            yield 2
        finally:
            log.append("finally ran")

    g = gen()
    next(g)
    g.close()
    return log


@case()
def yield_in_generator_close_raises_runtime_error():
    def gen():
        try:
            yield 1
        except GeneratorExit:
            yield 2

    g = gen()
    next(g)
    g.close()


@case()
def generator_raising_stop_iteration_is_runtime_error():
    def gen():
        yield 1
        raise StopIteration("explicit")

    return list(gen())


@case()
def send_to_just_started_generator():
    g = _accumulator()
    return g.send(3.0)


@case()
def generator_reentrant_error():
    def gen():
        yield next(g)

    g = gen()
    return next(g)


@case()
def generator_state_inspection():
    import inspect

    g = _countdown(2)
    states = [inspect.getgeneratorstate(g)]
    next(g)
    states.append(inspect.getgeneratorstate(g))
    states.append(sorted(inspect.getgeneratorlocals(g).items()))
    list(g)
    states.append(inspect.getgeneratorstate(g))
    return states


@case()
def generator_frame_lineno():
    def gen():
        yield 1
        yield 2

    g = gen()
    base = gen.__code__.co_firstlineno
    next(g)
    l1 = g.gi_frame.f_lineno - base
    next(g)
    return l1, g.gi_frame.f_lineno - base


@case(20)
def generator_pipeline(n):
    def numbers(k):
        yield from range(k)

    def evens(it):
        for v in it:
            if v % 2 == 0:
                yield v

    def squares(it):
        for v in it:
            yield v * v

    return list(squares(evens(numbers(n))))


@case()
def infinite_generator_with_islice():
    import itertools

    def naturals():
        n = 0
        while True:
            yield n
            n += 1

    return list(itertools.islice((x * 1.5 for x in naturals() if x % 3), 6))


@case()
def generator_closure_over_loop_variable():
    gens = [(i * j for j in range(3)) for i in range(3)]
    return [list(g) for g in gens]


@case()
def yield_from_generator_with_send():
    def inner():
        a = yield "first"
        b = yield f"got {a}"
        return a + b

    def outer():
        r = yield from inner()
        yield f"result {r}"

    g = outer()
    return [next(g), g.send(10), g.send(5)]


@case()
def generator_exception_traceback_escapes():
    def inner():
        yield 1
        {}["missing"]

    def outer():
        yield from inner()

    return list(outer())


@case()
def generator_gc_close_on_delete():
    log = []

    def gen():
        try:
            yield 1
        finally:
            log.append("cleanup")

    g = gen()
    next(g)
    del g
    return log
