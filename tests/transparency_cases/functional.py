# ruff: noqa  (deliberately unusual code: these programs exercise odd corners of Python)
"""map/filter/sorted(key=)/functools.reduce/partial and itertools (callbacks called from C)."""

import functools
import itertools
import operator

from . import case


@case([3.5, -1.25, 2.0, 0.0, -7.5])
def map_filter_lambda(xs):
    return (list(map(lambda v: v * 2.0 - 1.0, xs)),
            list(filter(lambda v: v > 0, xs)),
            list(map(abs, xs)),
            list(filter(None, xs)))


@case([3.5, -1.25, 2.0, 0.0, -7.5])
def map_two_iterables(xs):
    return list(map(lambda a, b: a * b + 1, xs, reversed(xs)))


@case(["banana", "Apple", "cherry", "apple", "Banana"])
def sorted_with_key_and_reverse(words):
    return (sorted(words),
            sorted(words, key=str.lower),
            sorted(words, key=lambda w: (len(w), w), reverse=True),
            max(words, key=lambda w: w[::-1]),
            min(words, key=len))


@case([(1, "b"), (1, "a"), (0, "z"), (2, "a")])
def sorted_stable_and_itemgetter(pairs):
    return (sorted(pairs, key=operator.itemgetter(0)),
            sorted(pairs, key=operator.itemgetter(1, 0)))


@case([1.5, 2.5, 3.0, 4.25])
def reduce_with_lambda(xs):
    return (functools.reduce(lambda a, b: a * b, xs),
            functools.reduce(lambda a, b: a - b, xs, 100.0),
            functools.reduce(operator.add, [[1], [2, 3], [4]]))


@case()
def reduce_empty_error():
    return functools.reduce(lambda a, b: a + b, [])


@case()
def partial_functions():
    def power(base, exp, scale=1.0):
        return scale * base ** exp

    square = functools.partial(power, exp=2)
    cube_scaled = functools.partial(power, exp=3, scale=0.5)
    p = functools.partial(functools.partial(power, 2.0), 5)
    return square(3.0), cube_scaled(2.0), p(), square.keywords, p.args


@case()
def partialmethod_and_singledispatch():
    class Cell:
        def __init__(self):
            self.state = None

        def set_state(self, v):
            self.state = v
            return self

        set_on = functools.partialmethod(set_state, True)

    @functools.singledispatch
    def kind(x):
        return "object"

    @kind.register
    def _(x: int):
        return "int"

    @kind.register
    def _(x: float):
        return "float"

    return Cell().set_on().state, [kind(v) for v in (1, 1.0, "s", True)]


@case()
def cmp_to_key_sort():
    def cmp(a, b):
        return (a % 3 - b % 3) or (b - a)

    return sorted(range(10), key=functools.cmp_to_key(cmp))


@case([1, 2, 3, 4, 5, 6])
def itertools_assortment(xs):
    return (list(itertools.accumulate(xs)),
            list(itertools.accumulate(xs, lambda a, b: a * b)),
            list(itertools.accumulate(xs, max, initial=3)),
            list(itertools.islice(itertools.count(10, 2.5), 4)),
            list(itertools.islice(itertools.cycle("ab"), 5)),
            list(itertools.chain(xs[:2], "xy", range(2))),
            list(itertools.chain.from_iterable([[1], [2, 3]])),
            list(itertools.compress(xs, [1, 0, 1, 0, 1, 0])),
            list(itertools.dropwhile(lambda v: v < 3, xs)),
            list(itertools.takewhile(lambda v: v < 3, xs)),
            list(itertools.filterfalse(lambda v: v % 2, xs)),
            list(itertools.starmap(pow, [(2, 3), (3, 2)])),
            list(itertools.zip_longest("abc", xs[:1], fillvalue="-")),
            list(itertools.pairwise(xs)),
            list(itertools.repeat("r", 3)))


@case("aaabccddddae")
def itertools_groupby(s):
    return [(k, len(list(g))) for k, g in itertools.groupby(s)]


@case(4)
def itertools_combinatorics(n):
    r = range(n)
    return (list(itertools.product(r, repeat=2))[:7],
            list(itertools.permutations(r, 2)),
            list(itertools.combinations(r, 3)),
            list(itertools.combinations_with_replacement("ab", 2)))


@case([5, 1, 4])
def itertools_tee(xs):
    a, b = itertools.tee(iter(xs))
    first = next(a)
    return first, list(b), list(a)


@case([0.5, 1.5, 2.5])
def builtins_with_callbacks(xs):
    return (sum(x * x for x in xs),
            any(x > 2 for x in xs),
            all(x > 0 for x in xs),
            dict(zip("abc", xs)),
            list(enumerate(xs, start=10)),
            [round(x) for x in xs],
            sum(xs, start=0.25),
            min(xs, default=None), max([], default="empty"))


@case([3, 1, 2])
def list_sort_in_place_with_key(xs):
    calls = []

    def key(v):
        calls.append(v)
        return -v

    xs.sort(key=key)
    return xs, calls


@case()
def key_function_raises_during_sort():
    def key(v):
        if v == 2:
            raise ValueError("no twos")
        return v

    return sorted([3, 2, 1], key=key)


@case()
def map_with_bound_methods_and_builtins():
    d = {"a": 1, "b": 2}
    return (list(map(d.get, "abz")), list(map(str.upper, ["x", "y"])),
            list(map(float, ["1.5", "2"])), list(map(divmod, [7, 8], [2, 3])))


@case()
def iter_with_sentinel_callable():
    vals = [1, 2, 3, 0, 5]
    it = iter(vals)
    return list(iter(lambda: next(it), 0))


@case()
def operator_module_functions():
    return (operator.add(1.5, 2), operator.mul("ab", 3), operator.neg(2.5),
            operator.getitem([1, 2, 3], slice(1, None)),
            operator.attrgetter("real", "imag")(3 + 4j),
            operator.methodcaller("split", ",")("a,b"))
