"""Issue 11, items 6-8: the reverse pass never adds a None cotangent, derivative rules audited
against central differences (ties, zero variance, every differentiable argument, in-place
method variants), rule metadata obeyed by capture (``mutates``), bool keys are masks, and
cached traces keyed by the aliasing between their array arguments.

Every gradient is checked against ``conftest.fd_grad`` (fourth-order central differences in
float64), never against framead.
"""

from __future__ import annotations

import operator
import os
import warnings

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead
from framead import rules

# FRAMEAD_AUDIT_EXAMPLES: hypothesis examples per test (CI 25; locally thousands)
SETTINGS = settings(max_examples=int(os.environ.get("FRAMEAD_AUDIT_EXAMPLES", "25")),
                    deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def assert_grad(f, args, argnums=0, rtol=1e-6, atol=1e-7):
    """framead's gradient (compiled and step-loop reverse passes) against central
    differences."""
    want = fd_grad(f, tuple(args), argnums)
    for mode in ("source", "loop"):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("FRAMEAD_BACKWARD", mode)
            got = framead.grad(f, argnums=argnums)(*args)
        if not isinstance(argnums, tuple):
            got, want1 = (got,), (want,)
        else:
            want1 = want
        for g, w in zip(got, want1, strict=True):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=mode)


# --- item 6: no None cotangent in any reverse pass ---------------------------------------

def test_scipy_stats_with_broadcasting_differentiates():
    import scipy.stats

    x = np.array([0.3, 1.2, -0.4])
    s = np.array([[1.0], [2.0]])
    assert_grad(lambda x: np.sum(scipy.stats.norm.logpdf(x, 0.5, s)), (x,))
    assert_grad(lambda x: np.sum(scipy.stats.t.pdf(x, 3.0)), (x,))


@SETTINGS
@given(use=st.lists(st.booleans(), min_size=3, max_size=3).filter(any),
       same=st.booleans(), n=st.integers(1, 4))
def test_broadcast_arrays_with_unused_and_identity_outputs(use, same, n):
    """Outputs nobody reads, outputs that are an input returned as is (equal shapes), and
    bool outputs: the VJP gets zeros for them and the unused ones add nothing."""
    x = np.linspace(0.5, 1.5, n)
    w = np.arange(1.0, n + 1)

    def f(x):
        other = x * 2.0 if same else np.array([[1.0], [3.0]]) * x[0]
        outs = np.broadcast_arrays(x, other, np.ones(n, bool))
        total = 0.0
        for k, u in enumerate(use):
            if u:
                total = total + np.sum(outs[k] * w)
        return total

    assert_grad(f, (x,))


def _joint_none(fn_name, result):
    """A user rule whose joint VJP returns ``result`` (None or a short tuple)."""
    def fn(a, b):
        return a * b

    fn.__name__ = fn.__qualname__ = fn_name
    rules.register(fn, vjp=lambda g, ans, a, b: result(g, a, b), saves=None)
    return fn


@pytest.mark.parametrize("kind", ["none", "short", "none_entry"])
def test_joint_vjp_returning_none_or_short_tuple(kind):
    result = {"none": lambda g, a, b: None,
              "short": lambda g, a, b: (g * b,),
              "none_entry": lambda g, a, b: (g * b, None)}[kind]
    fn = _joint_none(f"audit_joint_{kind}", result)
    try:
        def f(x):
            return fn(x[0], x[1]) + x[0] * 2.0

        want_a = {"none": 0.0, "short": 1.2, "none_entry": 1.2}[kind]
        for mode in ("source", "loop"):
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("FRAMEAD_BACKWARD", mode)
                g = framead.grad(f)(np.array([0.3, 1.2]))
            np.testing.assert_allclose(g, [2.0 + want_a, 0.0])
    finally:
        rules.unregister(fn)


def test_elementwise_vjp_returning_none_is_not_unbroadcast():
    def halfmul(a, b):
        return a * b

    rules.register(halfmul, vjp=(lambda g, ans, a, b: g * b, lambda g, ans, a, b: None),
                   saves={0: (1,), 1: ()}, elementwise=True)

    def f(x, y):
        return np.sum(halfmul(x, y)) + np.sum(y)

    x, y = np.array([0.3, 1.2]), np.array([[1.0], [2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gx, gy = framead.grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, [3.0, 3.0])
    np.testing.assert_allclose(gy, [[1.0], [1.0]])


def test_replayed_reverse_pass_with_unused_outputs():
    def f(x):
        a, _ = np.broadcast_arrays(x, np.array([[1.0], [2.0]]))
        b, _c = np.broadcast_arrays(x, x * 3.0)  # equal shapes: b is x itself
        return np.sum(a * a) + np.sum(b)

    cached = framead.value_and_grad(f, cache=True)
    x = np.array([0.3, 1.2, -0.4])
    want = fd_grad(f, (x,))
    for _ in range(3):
        _, g = cached(x)
        np.testing.assert_allclose(g, want, rtol=1e-6)
    assert cached.stats["hits"] >= 1


def test_rule_without_derivative_in_a_traced_argument_is_reported_not_misindented():
    def scale(a, s):
        return a * s

    rules.register(scale, vjp=(lambda g, ans, a, s: g * s, None), saves={0: (1,)})

    def f(a, s):
        return scale(a, s) * 1.0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = framead.trace(f, 2.0, 3.0, argnums=1)
        t.backward_source()  # compiles (an empty block used to be an IndentationError)
    assert any(h.code == "FA101" and "argument 1" in h.message for h in t.hazards)
    with pytest.raises(framead.GradientHazard):
        framead.grad(f, argnums=1, strict=True)(2.0, 3.0)


# --- out= and list arguments ----------------------------------------------------------------

OUT_FUNCS = [
    ("sin", lambda x, **k: np.sin(x, **k), None),
    ("add", lambda x, **k: np.add(x, 1.5, **k), None),
    ("multiply", lambda x, **k: np.multiply(x, x, **k), None),
    ("sqrt", lambda x, **k: np.sqrt(x * x + 1.0, **k), None),
    ("negative", lambda x, **k: np.negative(x, **k), None),
    ("clip", lambda x, **k: np.clip(x, 0.2, 0.9, **k), None),
    ("cumsum", lambda x, **k: np.cumsum(x, **k), None),
    ("cumprod", lambda x, **k: np.cumprod(x, **k), None),
    ("take", lambda x, **k: np.take(x, [2, 0, 1], **k), None),
    ("dot", lambda x, **k: np.dot(np.eye(3) * 2.0, x, **k), None),
    ("matmul", lambda x, **k: np.matmul(np.eye(3) * 2.0, x, **k), None),
    ("sum", lambda x, **k: np.sum(x * x, **k), ()),
    ("mean", lambda x, **k: np.mean(x, **k), ()),
    ("std", lambda x, **k: np.std(x, **k), ()),
    ("max", lambda x, **k: np.max(x, **k), ()),
    ("prod", lambda x, **k: np.prod(x, **k), ()),
    ("msum", lambda x, **k: x.sum(**k), ()),
    ("mclip", lambda x, **k: x.clip(0.2, 0.9, **k), None),
    ("mcumsum", lambda x, **k: x.cumsum(**k), None),
]
OUT_FORMS = ["fresh", "tuple", "zeros_global", "view", "self", "positional_none"]
_GLOBAL_OUT = {(3,): np.zeros(3), (): np.zeros(())}
_UFUNCS = ("sin", "add", "multiply", "sqrt", "negative")


@SETTINGS
@given(case=st.sampled_from(OUT_FUNCS), form=st.sampled_from(OUT_FORMS))
def test_out_forms_match_native_and_finite_differences(case, form):
    name, fn, shape = case
    shape = (3,) if shape is None else shape

    def f(x):
        x = x * 1.0
        if form == "fresh":
            o = np.empty(shape)
            r = fn(x, out=o)
        elif form == "tuple":
            o = np.empty(shape)
            r = fn(x, out=(o,) if name in _UFUNCS else o)
        elif form == "zeros_global":
            o = _GLOBAL_OUT[shape]
            r = fn(x, out=o)
        elif form == "view":
            big = np.zeros((2, 3)) if shape else np.zeros(2)
            o = big[1] if shape else big[1:].reshape(())
            r = fn(x, out=o)
            return np.sum(big * big) + np.sum(r) * 0.5
        elif form == "self" and shape and name not in ("take", "dot", "matmul"):
            o = x
            r = fn(x, out=o)
        else:
            o = fn(x)
            r = o
        return np.sum(o * o) + np.sum(r) * 0.5

    x = np.array([0.35, 0.8, 0.55])
    for o in _GLOBAL_OUT.values():
        o[...] = 0.0
    native = f(x.copy())
    assert framead.value_and_grad(f)(x.copy())[0] == pytest.approx(native, rel=1e-12)
    if name != "max":  # max ties nowhere here, but keep kinks out of the checks
        assert_grad(f, (x,))


@pytest.mark.parametrize("fn", [
    lambda t: np.take([t[0], t[1] * 2.0], 1),
    lambda t: np.sum(np.cumsum([t[0], t[1]])),
    lambda t: np.reshape([t[2], t[1]], (2, 1))[0, 0],
    lambda t: np.diff([t[2], t[1]])[0],
    lambda t: np.mean([t[2], t[1]]),
    lambda t: np.dot([t[2], t[1]], [1.0, 2.0]),
    lambda t: np.sort([t[2], t[1], t[0]])[1],
    lambda t: np.sum(np.add([t[0], t[1]], 1.0, out=np.empty(2)) ** 2),
    lambda t: np.max((t[0], t[2])),
    lambda t: np.std([t[0], t[1], t[2]]),
], ids=["take", "cumsum", "reshape", "diff", "mean", "dot", "sort", "add_out", "max", "std"])
def test_list_first_argument_of_a_function_rule(fn):
    assert_grad(fn, (np.array([0.3, 1.2, -0.4]),))


# --- item 7: derivative rules ---------------------------------------------------------------

@SETTINGS
@given(n=st.integers(3, 6), edge=st.sampled_from([1, 2]), scalar=st.booleans(),
       seed=st.integers(0, 2**16))
def test_gradient_differentiates_in_its_spacing(n, edge, scalar, seed):
    rng = np.random.default_rng(seed)
    xs = np.cumsum(rng.uniform(0.3, 1.0, n))
    w = rng.normal(size=n)
    y = np.sin(xs)
    h = float(rng.uniform(0.3, 1.5))
    if scalar:
        assert_grad(lambda y, h: np.sum(np.gradient(y, h, edge_order=edge) * w), (y, h),
                    argnums=(0, 1))
    else:
        assert_grad(lambda y, x: np.sum(np.gradient(y, x, edge_order=edge) * w), (y, xs),
                    argnums=(0, 1), rtol=1e-5, atol=1e-6)


def test_gradient_in_2d_spacings():
    rng = np.random.default_rng(0)
    ax0, ax1 = np.cumsum(rng.uniform(0.3, 1, 4)), np.cumsum(rng.uniform(0.3, 1, 3))
    Y = np.sin(np.outer(ax0, ax1))
    w0, w1 = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))

    def f(y, a, b):
        g0, g1 = np.gradient(y, a, b, edge_order=2)
        return np.sum(g0 * w0 + g1 * w1)

    assert_grad(f, (Y, ax0, 0.7), argnums=(0, 1, 2), rtol=1e-5, atol=1e-6)
    J = framead.jacfwd(lambda a: np.gradient(Y * a[0], a, axis=0))(ax0)
    R = framead.jacrev(lambda a: np.gradient(Y * a[0], a, axis=0))(ax0)
    np.testing.assert_allclose(J, R, atol=1e-12)


def _tied(draw_vals, n):
    """n values, each appearing at most twice, at least 0.1 apart otherwise."""
    base = np.round(np.linspace(-1.0, 1.0, n) + 0.0, 3)
    vals = base.copy()
    for i, j in draw_vals:
        if i < n and j < n:
            vals[j] = vals[i]
    _, counts = np.unique(vals, return_counts=True)
    return vals if counts.max() <= 2 else base


TIES = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=3)


@SETTINGS
@given(pairs=TIES, n=st.integers(2, 7), seed=st.integers(0, 2**16),
       which=st.sampled_from(["sort", "sort_method", "partition", "partition_method",
                              "median", "percentile", "quantile", "max", "min", "ptp",
                              "nanmax", "std", "var"]))
def test_order_statistics_and_moments_at_ties(pairs, n, seed, which):
    """Pairs of equal values: the even split central differences see."""
    rng = np.random.default_rng(seed)
    x = rng.permutation(_tied(pairs, n))
    w = rng.normal(size=n)
    kth = int(rng.integers(0, n))

    def f(x):
        x = x * 1.0
        if which == "sort":
            return np.sum(np.sort(x) * w)
        if which == "sort_method":
            x.sort()
            return np.sum(x * w)
        if which == "partition":
            return np.sum(np.partition(x, kth)[:kth + 1] * w[:kth + 1])
        if which == "partition_method":
            x.partition(kth)
            return np.sum(x[:kth + 1] * w[:kth + 1])
        if which == "median":
            return np.median(x)
        if which == "percentile":
            return np.percentile(x, 37.0)
        if which == "quantile":
            return np.sum(np.quantile(x, [0.2, 0.5, 0.85]) * w[:1])
        if which == "std":
            return np.std(x) + np.std(x[:2] * 0.0 + x[0])
        return getattr(np, which)(x)

    assert_grad(f, (x,), rtol=1e-5, atol=1e-6)


@SETTINGS
@given(rows=st.integers(1, 3), cols=st.integers(1, 4), ddof=st.sampled_from([0, 1]),
       fn=st.sampled_from([np.std, np.nanstd, np.var]), seed=st.integers(0, 99))
def test_std_of_constant_rows_is_finite(rows, cols, ddof, fn, seed):
    if cols <= ddof:
        return
    rng = np.random.default_rng(seed)
    X = np.repeat(rng.normal(size=(rows, 1)), cols, axis=1)
    X[0] += np.linspace(0.0, 1.0, cols)  # one row with spread, the others constant
    w = rng.normal(size=rows)
    assert_grad(lambda X: np.sum(fn(X, axis=1, ddof=ddof) * w), (X,), rtol=1e-5, atol=1e-6)


def test_logspace_differentiates_in_its_base():
    w = np.arange(1.0, 6.0)
    assert_grad(lambda s, b: np.sum(np.logspace(s, 2.0, 5, base=b) * w), (0.3, 2.5),
                argnums=(0, 1), rtol=1e-6)


def test_sort_and_partition_forward_agrees_with_reverse():
    x = np.array([1.0, 2.0, 2.0, 0.5, 3.0, 1.0])
    for f in (np.sort, lambda x: np.partition(x, 2), lambda x: np.sort(x.reshape(2, 3), None),
              lambda x: np.quantile(x, [0.2, 0.5])):
        np.testing.assert_allclose(framead.jacfwd(f)(x), framead.jacrev(f)(x), atol=1e-12)


# --- item 8: mutation metadata, bool keys, aliasing in the cache ----------------------------

def scale_into(s, out):
    """A user function that writes ``out *= s`` and returns None."""
    out *= s


rules.register(scale_into, vjp=(lambda g, ans, s, out: np.sum(g * out),
                                lambda g, ans, s, out: g * s),
               saves={0: (1,), 1: (0,)}, mutates=(1,))


@pytest.mark.parametrize("case", ["iadd", "imul", "isub", "user_rule"])
def test_rules_that_mutate_an_argument_write_its_buffer(case):
    def f(x):
        a = x * 1.0
        keep = a * a  # read before the write: copy-on-write must keep the old a
        if case == "user_rule":
            scale_into(x[0], a)
        else:
            getattr(operator, case)(a, x[1] * 2.0)
        return np.sum(keep) + np.sum(a * a)

    assert_grad(f, (np.array([0.3, 1.2, -0.4]),))


KEYS = [True, False, np.True_, np.False_, (Ellipsis, True), (True, 0), (0, True), None,
        (None, True), (np.True_, 1), (slice(None), np.True_)]


@SETTINGS
@given(key=st.sampled_from(KEYS), scalar_v=st.booleans())
def test_bool_keys_are_masks_with_copy_on_write(key, scalar_v):
    def f(x):
        a = x * 1.0
        y = a * a  # saves a
        v = 2.0 * x[0] if scalar_v else x[::-1] * 0.5
        try:
            a[key] = v
        except (ValueError, IndexError):
            return np.sum(y)
        return np.sum(y) + np.sum(a * a) * 0.5

    assert_grad(f, (np.array([0.3, 1.2, -0.4]),))


def _mutating(x, y):
    y[0] = 2.0 * x[1]
    x[2] = x[2] * y[1]
    return np.sum(x * y)


ALIAS_FORMS = ["distinct", "same", "reversed", "shifted"]


def _pair(form, base, other):
    if form == "distinct":
        return base, other
    if form == "same":
        return base, base
    if form == "reversed":
        return base, base[::-1]
    return base[:3], base[1:4]


@SETTINGS
@given(forms=st.lists(st.sampled_from(ALIAS_FORMS), min_size=2, max_size=5),
       jit=st.booleans())
def test_cached_traces_keyed_by_argument_aliasing(forms, jit):
    cached = framead.jit(_mutating) if jit else framead.value_and_grad(
        _mutating, argnums=(0, 1), cache=True)
    rng = np.random.default_rng(len(forms))
    for form in forms:
        base, other = rng.normal(size=4), rng.normal(size=4)
        if form != "shifted":
            base, other = base[:3].copy(), other[:3].copy()
        na, nb = _pair(form, base.copy(), other.copy())
        native = _mutating(na, nb)
        a, b = _pair(form, base.copy(), other.copy())
        got = cached(a, b)
        value = got if jit else got[0]
        assert value == pytest.approx(native, rel=1e-12), form
        if not jit and form == "same":  # one array passed twice: the cotangents add up
            total = fd_grad(lambda z: _mutating(z, z), (base.copy(),))
            np.testing.assert_allclose(got[1][0] + got[1][1], total, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", ["iadd", "user_rule", "partition_method"])
def test_cached_replays_run_mutating_rules_on_copies(case):
    """A replayed node of a rule with ``mutates`` writes a copy: the replay's saved values
    (old contents the reverse pass reads) stay as they were."""
    def f(x):
        a = x * 1.0
        y = a * a
        if case == "iadd":
            operator.iadd(a, x)
        elif case == "user_rule":
            scale_into(x[1], a)
        else:
            a.partition(1)
        return np.sum(y) + np.sum(a * np.array([3.0, 1.0, 2.0]))

    cached = framead.value_and_grad(f, cache=True)
    for k in range(3):
        x = np.array([0.3, 1.2, -0.4]) + 0.1 * k
        value, g = cached(x.copy())
        assert value == pytest.approx(f(x.copy()), rel=1e-12)
        np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-8)
    assert cached.stats["hits"] == 2


def test_out_ellipsis_returns_an_array_and_records_no_write():
    """``out=...`` (NumPy 2: return a 0-d array, as ``np.nanpercentile``'s _lerp does)."""
    def f(x):
        r = np.add(x[0] * 2.0, 1.0, out=...)
        assert type(r) is np.ndarray and r.shape == ()
        return r * x[1] + np.nanpercentile(x, 40.0) + np.nanquantile(x, 0.3)

    assert_grad(f, (np.array([0.3, 1.2, -0.4, 2.0]),))


def test_traced_keyword_moved_to_its_position_is_not_passed_twice():
    w = np.array([0.3, -1.0, 2.0, 0.7, 1.1])
    assert_grad(lambda w: np.sum(np.bincount([0, 2, 2, 1, 0], weights=w) * np.arange(3.0)),
                (w,))
    assert_grad(lambda x, w: np.sum(np.bincount([0, 2, 2, 1, 0], w, minlength=4) * x),
                (np.arange(4.0), w), argnums=(0, 1))


@pytest.mark.parametrize("q", [0.25, 0.5, 0.6, 0.75])
def test_quantile_in_q_on_a_sorted_position(q):
    """On a sorted position the derivative in q is the mean of the slopes either side."""
    t = np.array([1.0, 2.0, 2.5, 0.5, 3.5])
    assert_grad(lambda q: np.quantile(t, q) + np.percentile(t, 100.0 * q), (q,), rtol=1e-5)


def _target(kind, x):
    """An output array: traced already (its old contents read later), fresh, or a view."""
    if kind == "traced":
        return x * 2.0, None
    if kind == "fresh":
        return np.zeros(3), None
    big = np.ones((2, 3)) * x[0]
    return big[1], big


OUT_CALLS = {  # name: (call(x, outs, positional, where) -> result, number of outputs)
    "sin": (lambda x, o, pos, kw: np.sin(x, *o, **kw) if pos else np.sin(x, out=o, **kw), 1),
    "add": (lambda x, o, pos, kw: np.add(x, 0.5, *o, **kw) if pos else
            np.add(x, 0.5, out=o, **kw), 1),
    "modf": (lambda x, o, pos, kw: np.modf(x * 3.0, *o, **kw) if pos else
             np.modf(x * 3.0, out=o, **kw), 2),
    "divmod": (lambda x, o, pos, kw: np.divmod(x * 3.0, 0.7, *o, **kw) if pos else
               np.divmod(x * 3.0, 0.7, out=o, **kw), 2),
    "clip": (lambda x, o, pos, kw: np.clip(x * 3.0, 0.2, 1.1, *o) if pos else
             np.clip(x * 3.0, 0.2, 1.1, out=o[0]), 1),
    "clip_method": (lambda x, o, pos, kw: (x * 3.0).clip(0.2, 1.1, *o) if pos else
                    (x * 3.0).clip(0.2, 1.1, out=o[0]), 1),
    "cumsum_method": (lambda x, o, pos, kw: (x * 3.0).cumsum(0, None, *o) if pos else
                      (x * 3.0).cumsum(out=o[0]), 1),
    "round": (lambda x, o, pos, kw: np.round(x * 3.0, 0, *o) if pos else  # a cut rule
              np.round(x * 3.0, out=o[0]), 1),
}


@SETTINGS
@given(name=st.sampled_from(sorted(OUT_CALLS)),
       kinds=st.lists(st.sampled_from(["traced", "fresh", "view", "none"]), min_size=2,
                      max_size=2),
       positional=st.booleans(), masked=st.booleans())
def test_out_arguments_every_form(name, kinds, positional, masked):
    """Positional or keyword outputs, None entries, traced/fresh/view targets, where=."""
    call, nout = OUT_CALLS[name]
    kinds = kinds[:nout]
    plain = name not in ("sin", "add", "modf", "divmod")  # not ufuncs: no where=, no None
    if all(k == "none" for k in kinds) or (plain and kinds[0] == "none"):
        kinds = ["traced"] * nout
    masked = masked and not plain and "none" not in kinds  # (uninitialised where False)

    def f(x):
        made = [(None, None) if k == "none" else _target(k, x) for k in kinds]
        outs = tuple(o for o, _ in made)
        keep = sum(np.sum(o * o) for o in outs if o is not None)  # old contents, read later
        kw = {"where": np.array([True, False, True])} if masked else {}
        r = call(x, outs, positional, kw)
        rs = r if isinstance(r, tuple) else (r,)
        total = keep + sum(np.sum(v * np.arange(1.0, 4.0)) for v in rs)
        for o, big in made:
            if o is not None:
                total = total + np.sum(o * o) + (0.0 if big is None else np.sum(big) * 0.5)
        return total

    x = np.array([0.35, 0.8, 0.55])
    assert framead.value_and_grad(f)(x.copy())[0] == pytest.approx(f(x.copy()), rel=1e-12)
    assert_grad(f, (x,), rtol=1e-5, atol=1e-6)


def test_zero_derivatives_are_not_reported_as_lost():
    """Arguments whose derivative is zero by nature (a prototype's shape, a sign, an
    exponent) are not FA101; a missing derivative in a differentiable argument is."""
    def f(x):
        a = np.full_like(x, 2.0) + np.zeros_like(x) + np.copysign(1.0, x)
        b = np.nextafter(x, x + 1.0) + np.ldexp(x, 2) + np.full(x.shape, x[0])
        return np.sum(a * x + b)

    t = framead.trace(f, np.array([0.3, 1.2]))
    assert t.hazards == []


@SETTINGS
@given(shape=st.sampled_from([(5,), (3, 4), (2, 3, 2)]), seed=st.integers(0, 2**16),
       which=st.sampled_from(["nanmedian", "nanquantile", "nanpercentile"]),
       keep=st.booleans(), nans=st.integers(0, 3))
def test_nan_order_statistics(shape, seed, which, keep, nans):
    """nanmedian/nanquantile/nanpercentile have rules (NumPy's own path for them goes
    through np.ma, where the gradient was lost without a report)."""
    rng = np.random.default_rng(seed)
    x = rng.permutation(np.linspace(-1.0, 1.0, int(np.prod(shape)))).reshape(shape)
    x.reshape(-1)[rng.choice(x.size, nans, replace=False)] = np.nan
    axis = int(rng.integers(0, len(shape)))
    if np.isnan(x).all(axis=axis).any():
        return  # an all-NaN lane: NumPy warns and gives NaN
    q = {"nanmedian": None, "nanquantile": [0.3, 0.8], "nanpercentile": 45.0}[which]

    def f(x):
        fn = getattr(np, which)
        r = fn(x, axis=axis, keepdims=keep) if q is None else fn(x, q, axis=axis,
                                                                   keepdims=keep)
        return np.sum(r * np.cos(np.arange(np.size(r))).reshape(np.shape(r)))

    assert_grad(f, (x,), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(framead.jacfwd(f)(x), framead.grad(f)(x), atol=1e-12)


@pytest.mark.parametrize("case", ["sort", "fill", "put", "partition", "ma_sort"])
def test_in_place_methods_called_through_ndarray(case):
    """``np.ndarray.sort(a)`` (how np.ma sorts its data) is a's write, as ``a.sort()``."""
    w = np.arange(6.0).reshape(2, 3)

    def f(x):
        a = x * 1.0
        keep = a * a
        if case == "sort":
            np.ndarray.sort(a, axis=0)
        elif case == "fill":
            np.ndarray.fill(a, x[0, 1])
        elif case == "put":
            np.ndarray.put(a, [0, 4], x[1, :2])
        elif case == "partition":
            np.ndarray.partition(a, 1, axis=1)
        else:
            a = np.ma.sort(np.ma.array(a), axis=1)
        return np.sum(a * w) + np.sum(keep)

    assert_grad(f, (np.array([[0.3, 1.2, 0.7], [2.0, -1.0, 0.1]]),))


@pytest.mark.parametrize("case", ["median_axis0", "median_axis1", "sort", "arith"])
def test_masked_array_results_keep_their_dependence(case):
    """A rule's result NumPy hands back as a view of a fresh array (a subclass such as
    MaskedArray wraps one): reading that array again reads the result, not a constant."""
    def f(x):
        m = np.ma.array(x, mask=x > 1.5)
        if case == "median_axis0":
            return np.ma.median(m, axis=0).sum()
        if case == "median_axis1":
            return np.ma.median(np.ma.array(x), axis=1).sum()
        if case == "sort":
            return np.sum(np.ma.sort(m, axis=1).filled(0.0) * np.arange(6.0).reshape(2, 3))
        return np.sum((m * 2.0 + 1.0).filled(0.0) ** 2)

    assert_grad(f, (np.array([[0.3, 1.2, 0.7], [2.0, -1.0, 0.1]]),))


@pytest.mark.parametrize("method", ["linear", "inverted_cdf", "averaged_inverted_cdf",
                                    "closest_observation", "interpolated_inverted_cdf",
                                    "hazen", "weibull", "median_unbiased", "normal_unbiased",
                                    "lower", "higher", "midpoint", "nearest"])
def test_quantile_methods_in_a_and_q(method):
    x = np.array([[0.5, -1.0, np.nan, 0.3, 1.1], [1.7, -0.4, 0.9, 0.1, -0.2]])
    w = np.array([1.0, -2.0])
    for q in (0.13, 0.62):
        assert_grad(lambda a: np.sum(np.nanquantile(a, q, axis=1, method=method) * w), (x,))
        assert_grad(lambda a: np.sum(np.percentile(a[1], 100 * q, method=method)), (x,))
        assert_grad(lambda q: np.sum(np.nanpercentile(x, q, axis=1, method=method) * w),
                    (100.0 * q,), rtol=1e-5, atol=1e-6)


def test_choose_and_polymul():
    a, b = np.array([0.3, -1.2, 0.7, 0.2]), np.array([1.1, 0.4, -0.5, 2.0])
    w = np.arange(4.0)
    assert_grad(lambda a, b: np.sum(np.choose([0, 1, 2, 1], [a, b, 0.5]) * w), (a, b),
                argnums=(0, 1))
    assert_grad(lambda a, b: np.sum(np.choose([0, 3, 2, 1], np.stack([a, b]), mode="wrap")
                                    * w), (a, b), argnums=(0, 1))
    assert_grad(lambda a, b: np.sum(np.polymul(a, b[:2]) * np.arange(5.0)), (a, b),
                argnums=(0, 1))
