"""Every kind of input gets the right gradient or a clear framead error, and the caller's
objects are never modified.

Table-driven: input classes (ndarray subclasses with and without Python overrides, unusual
layouts, number subclasses) x operations (reads and writes into the argument). The oracle
is central differences of the same program run natively on inputs of the same class; a
program that raises natively must raise the same error under framead. strict=True
throughout: a hazard where the gradient is right is a false alarm.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

import framead
from framead.errors import FrameadError, InputTypeError

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix

BASE = np.array([[1.0, 2.0], [3.0, 4.0]])
K = np.array([[1.0, 2.0], [3.0, 4.0]])


class Sub(np.ndarray):
    """A subclass that overrides nothing."""


class UfuncSub(np.ndarray):
    """Its __array_ufunc__ doubles every product (a unit conversion would scale likewise)."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = [i.view(np.ndarray) if isinstance(i, UfuncSub) else i for i in inputs]
        r = getattr(ufunc, method)(*inputs, **kwargs)
        return 2.0 * r if ufunc is np.multiply else r


class SuperUfuncSub(np.ndarray):
    """Its __array_ufunc__ hands the work back to ndarray's (super(), NumPy's pattern)."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(i.view(np.ndarray) if isinstance(i, SuperUfuncSub) else i
                       for i in inputs)
        return super().__array_ufunc__(ufunc, method, *inputs, **kwargs)


class FunctionSub(np.ndarray):
    """Its __array_function__ doubles every np.sum and np.dot; the rest is ndarray's."""

    def __array_function__(self, func, types, args, kwargs):
        out = super().__array_function__(func, types, args, kwargs)
        return out * 2.0 if func in (np.sum, np.dot) else out


class MulSub(np.ndarray):
    """Its own Python * (three times the elementwise product)."""

    def __mul__(self, other):
        return np.ndarray.__mul__(self, other).view(np.ndarray) * 3.0

    def __rmul__(self, other):
        return np.ndarray.__rmul__(self, other).view(np.ndarray) * 3.0


def _memmap(b: np.ndarray) -> np.memmap:
    m = np.memmap(tempfile.NamedTemporaryFile(delete=False).name, dtype=float, mode="w+",
                  shape=b.shape)
    m[:] = b
    m.flush()
    return m


def _read_only(b: np.ndarray) -> np.ndarray:
    b = b.copy()
    b.flags.writeable = False
    return b


# name -> (make the input from its values, its values)
ARRAY_KINDS = {
    "ndarray": (np.array, BASE),
    "fortran order": (np.asfortranarray, BASE),
    "negative strides": (lambda b: np.ascontiguousarray(b[::-1, ::-1])[::-1, ::-1], BASE),
    "non-contiguous view": (lambda b: np.repeat(b, 2, axis=1)[:, ::2], BASE),
    "read-only": (_read_only, BASE),
    "matrix": (np.matrix, BASE),
    "masked": (np.ma.array, BASE),
    "masked with a mask": (lambda b: np.ma.array(b, mask=[[0, 1], [0, 0]]), BASE),
    "memmap": (_memmap, BASE),
    "recarray": (lambda b: np.array(b).view(np.recarray), BASE),
    "subclass": (lambda b: np.array(b).view(Sub), BASE),
    "__array_ufunc__ subclass": (lambda b: np.array(b).view(UfuncSub), BASE),
    "super().__array_ufunc__ subclass": (lambda b: np.array(b).view(SuperUfuncSub), BASE),
    "__array_function__ subclass": (lambda b: np.array(b).view(FunctionSub), BASE),
    "__mul__ subclass": (lambda b: np.array(b).view(MulSub), BASE),
}


def _write(x):
    x[0, 0] = 5.0
    return (x * 1.0).sum()


def _write_row(x):
    x[1] = x[0] * 2.0
    return (x * K).sum()


def _iadd(x):
    x += 1.0
    return (x * x).sum()


ARRAY_OPS = {
    "x * x": lambda x: (x * x).sum(),
    "x * 2": lambda x: (x * 2.0).sum(),
    "2 * x": lambda x: (2.0 * x).sum(),
    "x ** 2": lambda x: (x ** 2).sum(),
    "-x * x": lambda x: (-x * x).sum(),
    "np.sin": lambda x: np.sin(x).sum(),
    "np.sum": lambda x: np.sum(x * 1.0),
    "x.sum()": lambda x: x.sum(),
    "x.mean()": lambda x: x.mean(),
    "x.prod()": lambda x: x.prod(),
    "x @ x": lambda x: (x @ x).sum(),
    "np.dot": lambda x: np.dot(x, x).sum(),
    "indexing": lambda x: x[1, 0] * 3.0 + x[0, 0],
    "rows": lambda x: sum(float(np.sum(r)) ** 2 for r in x),
    "x.T * K": lambda x: (x.T * K).sum(),
    "ravel": lambda x: (np.ravel(x) ** 3).sum(),
    "x[0, 0] = 5": _write,
    "x[1] = ...": _write_row,
    "x += 1": _iadd,
}


def _state(x):
    """What must be unchanged after a framead call: class, bytes, mask."""
    mask = np.ma.getmaskarray(x).tobytes() if isinstance(x, np.ma.MaskedArray) else None
    return type(x), np.array(x).tobytes(), mask


def _native(f, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(f(x)), None
        except Exception as e:  # noqa: BLE001 - the oracle: what the program does natively
            return None, e


def central(f, make, base, h=1e-6):
    g = np.zeros_like(base)
    for i in np.ndindex(base.shape):
        up, down = base.copy(), base.copy()
        up[i] += h
        down[i] -= h
        g[i] = (_native(f, make(up))[0] - _native(f, make(down))[0]) / (2 * h)  # (copies)
    return g


@pytest.mark.parametrize("op", ARRAY_OPS)
@pytest.mark.parametrize("kind", ARRAY_KINDS)
def test_array_inputs(kind, op):
    make, base = ARRAY_KINDS[kind]
    f = ARRAY_OPS[op]
    x = make(base.copy())
    before = _state(x)
    _, native_error = _native(f, make(base.copy()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if native_error is not None:
            with pytest.raises(type(native_error)):
                framead.grad(f, strict=True)(x)
        else:
            g = framead.grad(f, strict=True)(x)
            assert type(g) is np.ndarray and g.shape == base.shape
            np.testing.assert_allclose(g, central(f, make, base), rtol=1e-5, atol=1e-5)
    assert _state(x) == before, "the caller's array was modified"


def test_broadcast_input_is_differentiated_as_its_values():
    """A stride-0 view (np.broadcast_to) is the array of its values; it is read-only, so a
    program writing into it raises as natively."""
    x = np.broadcast_to(np.array([1.0, 2.0]), (3, 2))
    g = framead.grad(lambda a: (a ** 2 * np.arange(6.0).reshape(3, 2)).sum(), strict=True)(x)
    np.testing.assert_allclose(g, 2 * np.asarray(x) * np.arange(6.0).reshape(3, 2))
    with pytest.raises(ValueError, match="read-only"):
        framead.grad(_write)(np.broadcast_to(BASE[0], (2, 2)))


def test_matrix_and_masked_arrays_made_inside_the_function():
    """np.asmatrix(x) * np.asmatrix(x) is a matrix product; a masked array built from traced
    data leaves the masked entries out."""
    def mat(x):
        m = np.asmatrix(x)
        return (m * m).sum() + (m.T * m).A1 @ np.arange(4.0)

    def masked(x):
        m = np.ma.array(x, mask=[[0, 1], [0, 0]])
        return (np.ma.exp(m) * m).sum() + np.ma.sum(m ** 2, axis=0).sum()

    for f in (mat, masked):
        g = framead.grad(f, strict=True)(BASE.copy())
        np.testing.assert_allclose(g, central(f, np.array, BASE), rtol=1e-5, atol=1e-5)


def test_subclass_gradient_is_a_plain_array_and_memmap_file_untouched():
    m = _memmap(BASE)
    g = framead.grad(_write)(m)
    assert type(g) is np.ndarray
    np.testing.assert_array_equal(np.fromfile(m.filename), BASE.ravel())


def test_second_derivatives_keep_the_input_class():
    """A nested capture's input is a copy of the same class: hessian of sum(M * M) for an
    np.matrix M is that of the matrix product, d2/dM_ab dM_cd = [c == b] + [d == a]."""
    h = framead.hessian(lambda m: (m * m).sum())(np.matrix(BASE)).reshape(4, 4)
    idx = list(np.ndindex(2, 2))
    want = [[(c == b) + (d == a) for (c, d) in idx] for (a, b) in idx]
    np.testing.assert_array_equal(h, want)
    assert framead.grad(framead.grad(lambda x: x * x))(Scaled(1.5)) == 200.0  # (10x)(10x)


# --------------------------------------------------------------------------- scalars


class Scaled(float):
    """A float whose * is ten times the product."""

    def __mul__(self, other):
        return Scaled(10.0 * float(self) * other)

    __rmul__ = __mul__


class Plain(float):
    pass


class Index(float):
    """An int-valued float usable as an index."""

    def __index__(self):
        return int(self)


SCALAR_KINDS = {
    "float": (float, 1e-7),
    "np.float64": (np.float64, 1e-7),
    "np.float32": (np.float32, 2e-2),
    "np.longdouble": (np.longdouble, 1e-7),
    "0-d array": (np.array, 1e-7),
    "float subclass": (Plain, 1e-7),
    "float subclass with __mul__": (Scaled, 1e-7),
    "int-valued float subclass": (Index, 1e-7),
}
SCALAR_OPS = {
    "x * 3": lambda x: x * 3.0,
    "3 * x": lambda x: 3.0 * x,
    "x + 1": lambda x: x + 1.0,
    "x ** 2": lambda x: x ** 2,
    "x / 4": lambda x: x / 4.0,
    "-x": lambda x: -x * 1.0,
    "abs": lambda x: abs(-x) * 1.0,
    "math.sin": lambda x: math.sin(x),
    "np.sin": lambda x: np.sin(x),
    "float(x)": lambda x: float(x) * 2.0,
}


@pytest.mark.parametrize("op", SCALAR_OPS)
@pytest.mark.parametrize("kind", SCALAR_KINDS)
def test_scalar_inputs(kind, op):
    make, tol = SCALAR_KINDS[kind]
    f = SCALAR_OPS[op]
    x = make(2.0)
    g = framead.grad(f, strict=True)(x)
    h = 1e-3 if tol > 1e-6 else 1e-6
    want = (float(f(make(2.0 + h))) - float(f(make(2.0 - h)))) / (2 * h)
    assert abs(float(g) - want) <= tol * max(1.0, abs(want))
    assert type(x) is make or kind == "0-d array"


def test_int_valued_float_subclass_indexes():
    f = lambda x: x * 2.0 + [0.0, 1.0, 5.0][x]  # noqa: E731
    assert framead.grad(f)(Index(2.0)) == 2.0  # (the index is piecewise constant)


def test_complex_inputs_to_real_functions():
    """The gradient of a real function of z = a + ib is df/da - i df/db."""
    for f in (lambda z: abs(z), lambda z: z.real ** 2 + z.imag, lambda z: (z * z.conjugate()).real):
        z = 1.0 + 2.0j
        h = 1e-6
        want = ((f(z + h) - f(z - h)) - 1j * (f(z + 1j * h) - f(z - 1j * h))) / (2 * h)
        assert abs(framead.grad(f, strict=True)(z) - want) < 1e-6
    za = np.array([1.0 + 1.0j, 2.0j])
    g = framead.grad(lambda z: np.abs(z).sum())(za)
    np.testing.assert_allclose(g, np.conj(za) / np.abs(za))


def test_empty_and_zero_d_arrays():
    assert framead.grad(lambda x: x.sum() + 1.0)(np.zeros((0, 3))).shape == (0, 3)
    g = framead.grad(lambda x: np.sin(x) * x)(np.array(0.5))
    assert g.shape == () and abs(g - (np.cos(0.5) * 0.5 + np.sin(0.5))) < 1e-12


# --------------------------------------------------------------------------- clear errors

BAD_INPUTS = {
    "int": (3, "integer (int 3)"),
    "bool": (True, "integer (bool True)"),
    "np.int64": (np.int64(3), "integer (int64 np.int64(3))"),
    "int subclass": (type("Count", (int,), {})(3), "integer (Count 3)"),
    "Fraction": (Fraction(1, 2), "type Fraction"),
    "Decimal": (Decimal("1.5"), "type Decimal"),
    "str": ("1.5", "type str"),
    "None": (None, "type NoneType"),
    "list of ints": ([1, 2], "list with no float leaves (int)"),
    "empty tuple": ((), "tuple with no float leaves (no leaves)"),
    "dict of strings": ({"a": "1.0"}, "dict with no float leaves (str)"),
    "object array": (np.array([1.0, 2.0], dtype=object), "dtype object"),
    "bool array": (np.array([True, False]), "dtype bool"),
    "int array": (np.array([1, 2]), "dtype int64"),
    "int matrix": (np.array([[1, 2]]).view(np.matrix), "dtype int64 (matrix)"),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_inputs_framead_cannot_differentiate_are_clear_errors(name):
    x, what = BAD_INPUTS[name]

    def loss(scale, weights):
        return scale * 2.0

    with pytest.raises(InputTypeError) as e:
        framead.grad(loss, argnums=1)(1.5, x)
    assert isinstance(e.value, FrameadError)
    assert "argument 1 (weights)" in str(e.value) and what in str(e.value)


# --------------------------------------------------------------------------- containers


def test_arrays_in_containers_and_keywords_are_not_modified():
    """Arrays inside list/tuple/dict arguments and keyword arguments are copies: the caller's
    stay as they were; an argument that is also inside a container is the same array there."""
    a, b, c, w = np.ones(2), np.full(2, 2.0), np.full(2, 3.0), np.array([1.0, 2.0])
    data = {"a": a, "more": [b, (c,)]}

    def f(x, data, w=None):
        data["a"][0] = 7.0
        data["more"][0] += x
        data["more"][1][0][:] = 0.0
        w *= 2.0
        return (data["more"][0] * x).sum() + (w * x).sum() + (data["x"][0] * x).sum()

    data["x"] = [w]
    x = np.array([0.5, 1.5])
    data["x"] = [x]
    saved = [v.copy() for v in (a, b, c, w, x)]
    g = framead.grad(f)(x, data, w=w)
    for v, s in zip((a, b, c, w, x), saved, strict=True):
        np.testing.assert_array_equal(v, s)
    assert data["a"] is a and data["more"][1][0] is c  # the caller's containers too
    # d/dx [sum((b + x) x) + sum(2w x) + sum(x x)]
    np.testing.assert_allclose(g, b + 2 * x + 2 * w + 2 * x)


def test_arrays_in_container_subclasses_are_not_modified():
    """OrderedDict, defaultdict (its factory kept) and namedtuple arguments are rebuilt of
    their own class around copies of their arrays."""
    import collections

    Pair = collections.namedtuple("Pair", "u v")
    od = collections.OrderedDict(a=np.ones(2))
    dd = collections.defaultdict(list, a=[np.ones(2)])
    nt = Pair(np.ones(2), 3.0)

    def f(x, od, dd, nt):
        assert type(od) is collections.OrderedDict and type(nt) is Pair
        od["a"][0] = 9.0
        dd["a"][0][1] = 7.0
        dd["new"].append(1)
        nt.u[:] = 2.0
        return (od["a"] * x).sum() + (dd["a"][0] * x).sum() + (nt.u * x).sum() * nt.v

    g = framead.grad(f, strict=True)(np.ones(2), od, dd, nt)
    np.testing.assert_array_equal(g, [9.0 + 1.0 + 6.0, 1.0 + 7.0 + 6.0])
    for a in (od["a"], dd["a"][0], nt.u):
        np.testing.assert_array_equal(a, np.ones(2))
    assert list(dd) == ["a"]


def test_one_array_in_two_differentiated_positions_is_two_inputs():
    """f(x, x) with argnums=(0, 1): each position gets its own gradient (the other one), for
    any array class, and the caller's array is untouched."""
    for make in (np.array, np.matrix, lambda b: np.array(b).view(Sub)):
        x = make(BASE.copy())
        ga, gb = framead.grad(lambda a, b: np.multiply(a, b).sum(), argnums=(0, 1))(x, x)
        np.testing.assert_array_equal(ga, BASE)
        np.testing.assert_array_equal(gb, BASE)
        np.testing.assert_array_equal(np.asarray(x), BASE)
