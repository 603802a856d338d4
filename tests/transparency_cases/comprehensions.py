# ruff: noqa  (deliberately unusual code: these programs exercise odd corners of Python)
"""List/dict/set comprehensions and generator expressions."""

from . import case


@case(6)
def list_comp_nested_with_conditions(n):
    return [(i, j) for i in range(n) if i % 2 for j in range(i) if (i + j) % 3 == 0]


@case(["a", "bb", "ccc", "bb"])
def dict_and_set_comps(words):
    return ({w: len(w) for w in words},
            sorted({len(w) for w in words}),
            {i: {c for c in w} == {w[0]} for i, w in enumerate(words)})


@case([[1.5, 2.5], [3.5], []])
def nested_comprehension_flatten(rows):
    return [x * 2 for row in rows for x in row], [[x for x in row if x > 2] for row in rows]


@case(5)
def comprehension_matrix_transpose(n):
    m = [[i * n + j for j in range(n)] for i in range(n)]
    return [[row[i] for row in m] for i in range(n)]


@case(10)
def genexpr_sum_max_min(n):
    xs = [((i * 7) % 11) / 3.0 for i in range(n)]
    return (sum(x * x for x in xs), max(x - 1 for x in xs), min((x, i) for i, x in enumerate(xs)),
            sorted(x for x in xs if x > 1), tuple(x for x in xs[:3]))


@case()
def genexpr_lazy_evaluation_order():
    log = []

    def src():
        for i in range(3):
            log.append(("yield", i))
            yield i

    g = (log.append(("map", i)) or i * 10 for i in src())
    first = next(g)
    log.append("between")
    rest = list(g)
    return first, rest, log


@case()
def genexpr_first_iter_evaluated_eagerly():
    try:
        (x for x in 5)
    except TypeError as e:
        return str(e)


@case()
def comprehension_scope_in_class_body():
    class C:
        base = 10
        vals = [i * 2 for i in range(3)]
        try:
            bad = [base + i for i in range(3)]
        except NameError as e:
            err = str(e)

    return C.vals, C.err


@case()
def comprehension_closure_capture():
    fs = [lambda x, k=k: x + k for k in range(3)]
    gs = [lambda x: x + k for k in range(3)]
    return [f(10) for f in fs], [g(10) for g in gs]


@case(4)
def comprehension_with_walrus_accumulator(n):
    total = 0
    partial = [total := total + i for i in range(n)]
    return partial, total


@case()
def generator_expression_exception_inside():
    data = [1, 0, 2]
    g = (1 / d for d in data)
    out = [next(g)]
    try:
        out.append(next(g))
    except ZeroDivisionError as e:
        out.append(str(e))
    out.append(list(g))
    return out


@case()
def async_comprehension_free_dict_of_lists():
    d = {}
    for k, v in [("a", 1), ("b", 2), ("a", 3)]:
        d.setdefault(k, []).append(v)
    return {k: [x * 2 for x in vs] for k, vs in sorted(d.items())}


@case(3)
def comprehension_unpacking_targets(n):
    pairs = [(i, i * i) for i in range(n)]
    return ([a + b for a, b in pairs], {b: a for a, b in pairs},
            [x for (_, x), y in zip(pairs, "abc")])


@case()
def nested_genexpr_in_comprehension():
    return [sum(j for j in range(i)) for i in range(6)]
