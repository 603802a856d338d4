"""Plain-Python and small-graph programs: scalar ops, binary operators over broadcasting pairs,
fan-out, nested derivatives, complex numbers, containers.

Modelled on HIPS autograd's tests/test_scalar_ops.py, test_binary_ops.py, test_graphs.py,
test_complex.py, test_builtins.py, test_tuple.py/test_list.py/test_dict.py (MIT), and on the
scalar cases of PyTorch's gradcheck tests and JAX's api tests.
"""

from __future__ import annotations

import math
import operator as op

import numpy as np

from . import Case, combos

SC, BIN, GR, CX, CT = ("autograd tests/test_scalar_ops.py", "autograd tests/test_binary_ops.py",
                       "autograd tests/test_graphs.py", "autograd tests/test_complex.py",
                       "autograd tests/test_tuple.py, test_list.py, test_dict.py")


def _scalar(R) -> list[Case]:
    out = []
    for name in ("abs", "sin", "sign", "exp", "log", "cos", "tan", "cosh", "sinh", "tanh",
                 "arcsin", "arccos", "arctan", "sqrt", "log1p", "expm1"):
        f = getattr(np, name)
        for v in (1.1, -1.1, 0.37):
            if name in ("log", "sqrt", "log1p") and v < 0:
                v = -v + 0.5
            if name in ("arcsin", "arccos") and abs(v) >= 1:
                v = v / 2.0
            out.append(Case(f"scalar/3*np.{name}[{v}]", (lambda f: lambda x: 3.0 * f(x))(f),
                            (v,), (0,), SC))
    out.append(Case("scalar/neg", lambda x: 3.0 * -x, (R(),), (0,), SC))
    for name in ("sin", "cos", "tan", "exp", "log", "sqrt", "atan", "tanh", "erf", "gamma",
                 "lgamma", "log10", "log2", "hypot", "atan2", "pow", "fabs", "expm1", "log1p"):
        f = getattr(math, name)
        if name in ("hypot", "atan2", "pow"):
            out.append(Case(f"scalar/math.{name}", f, (1.3, 0.7), (0, 1), SC))
        else:
            out.append(Case(f"scalar/math.{name}", (lambda f: lambda x: 2.0 * f(x))(f), (1.3,),
                            (0,), SC))
    return out


def _binary(rs) -> list[Case]:
    scalar, vector, mat, mat2 = 2.0, rs.randn(6), rs.randn(7, 6), rs.randn(1, 6)
    allargs = [scalar, vector, mat, mat2]
    out = []
    ops = (("mul", lambda x, y: x * y, None), ("add", lambda x, y: x + y, None),
           ("sub", lambda x, y: x - y, None),
           ("div", lambda x, y: x / y, lambda a, b: (np.sqrt(a ** 2 + 0.5),
                                                     np.sqrt(b ** 2 + 0.5))),
           ("pow", lambda x, y: x ** y, lambda a, b: (np.abs(a) + 1.1, np.round(b))))
    for name, f, prep in ops:
        for a in allargs:
            for b in allargs:
                x, y = prep(a, b) if prep else (a, b)
                if isinstance(y, np.float64):
                    y = float(y)
                if isinstance(x, np.float64):
                    x = float(x)
                out += combos(f"binop/{name}", f, (0, 1), [x], [y], origin=BIN)
    return out


def _graphs(R) -> list[Case]:
    import framead

    randv = np.random.RandomState(1).randn(10)

    def hvp_fun(x):
        return np.sin(np.dot(x, randv))

    def vector_product(x, v):
        return np.sin(np.dot(v, framead.grad(hvp_fun)(x)))

    def enclosing(x):
        inner = lambda y: x * y  # noqa: E731
        return x * framead.grad(inner)(2.0)

    def enclosing2(x):
        inner = lambda y: y * x  # noqa: E731
        return x * framead.grad(inner)(2.0)

    def mutating_outgrad(a):
        b = a + 1.0
        c = b + 1.5
        d = a + b
        e = d + c
        return e

    def mutating_outgrad_idx(a):
        b = a + 1.0
        c = b[0] + 1.5
        d = a + b
        e = d + c
        return e

    def complex_outgrad_idx(a):
        b = a + 1.0j
        c = b[0] + 1.5
        d = a + b
        e = d + c
        return e

    def separate_re_im(a):
        r, i = np.real(a), np.imag(a)
        a = np.abs(r) ** 1.4 + np.abs(i) ** 1.3
        return a

    def third(x, y):
        return np.sin(np.sin(x) + np.sin(y))

    out = [
        Case("graph/fanout", lambda x: np.sin(np.sin(x) + np.sin(x)), (R(),), (0,), GR),
        Case("graph/grad_of_fanout", framead.grad(lambda x: np.sin(np.sin(x) + np.sin(x))),
             (0.3,), (0,), GR),
        Case("graph/const", lambda x: 1, (2.0,), (0,), GR),
        Case("graph/identity", lambda x: x, (2.0,), (0,), GR),
        Case("graph/hess_vector_fun", hvp_fun, (R(10),), (0,), GR),
        Case("graph/hess_vector_product", vector_product, (R(10), R(10)), (0, 1), GR),
        Case("graph/enclosing_scope_ref", enclosing, (1.0,), (0,), GR),
        Case("graph/enclosing_scope_ref_2", enclosing2, (1.0,), (0,), GR),
        Case("graph/mutating_outgrad", mutating_outgrad, (R(5),), (0,), GR),
        Case("graph/mutating_outgrad_from_indexing", mutating_outgrad_idx, (R(5),), (0,), GR),
        Case("graph/complex_mutating_outgrad_from_indexing", complex_outgrad_idx, (R(5),),
             (0,), GR),
        Case("graph/complex_separate_real_and_imaginary", separate_re_im,
             (R(5, 3) + 0.1j * R(5, 3),), (0,), GR),
        Case("graph/third_derivative_args", third, (R(), R()), (0, 1), GR),
        Case("graph/grad_x_of_two_args", framead.grad(third), (R(), R()), (0, 1), GR),
        Case("graph/grad_y_of_two_args", framead.grad(third, 1), (R(), R()), (0, 1), GR),
        Case("graph/singleton_keepdims", lambda x: np.sum(np.sin(x), keepdims=True),
             (R(3, 3),), (0,), GR),
        Case("graph/singleton_axis0", lambda x: np.sum(np.sin(x), axis=0, keepdims=True),
             (R(3, 1),), (0,), GR),
        Case("graph/singleton_axis1", lambda x: np.sum(np.sin(x), axis=1, keepdims=True),
             (R(1, 3),), (0,), GR),
        Case("graph/singleton_axis0_nokeep", lambda x: np.sum(np.sin(x), axis=0,
                                                              keepdims=False),
             (R(3, 1),), (0,), GR),
        Case("graph/grad_of_singleton", lambda x: np.sum(framead.grad(
            lambda y: np.sum(np.sin(y), keepdims=True)[0, 0])(x)), (R(3, 3),), (0,), GR),
    ]
    return out


def _complex(rs) -> list[Case]:
    import framead

    return [
        Case("complex/angle_real", lambda x: np.angle(x), (float(rs.rand()),), (0,), CX),
        Case("complex/angle_complex", lambda x: np.angle(x),
             (complex(rs.rand(), rs.rand()),), (0,), CX),
        Case("complex/abs_real", lambda x: np.abs(x), (1.1,), (0,), CX),
        Case("complex/abs_complex", lambda x: np.abs(x), (1.1 + 1.2j,), (0,), CX),
        Case("complex/grad_abs_real", lambda x: framead.grad(lambda y: np.abs(y))(x), (2.1,),
             (0,), CX),
        Case("complex/sum_real", lambda x: np.sum(np.real(x)), (1.0j,), (0,), CX),
        Case("complex/abs2_of_exp", lambda z: np.abs(np.exp(1j * z)) ** 2 + np.sum(
            (z * np.conj(z)).real), (rs.randn(4) + 1j * rs.randn(4),), (0,), CX),
        Case("complex/python_complex_arith", lambda z: (z * z + 2.0 * z - 1j).real
             + abs(z) ** 2, (0.4 + 0.3j,), (0,), CX),
        Case("complex/cmath", lambda x: __import__("cmath").exp(1j * x).imag, (0.7,), (0,), CX),
        Case("complex/vdot", lambda a, b: np.vdot(a, b), (rs.randn(3) + 1j * rs.randn(3),
                                                          rs.randn(3) + 1j * rs.randn(3)),
             (0, 1), CX),
    ]


def _containers(R) -> list[Case]:
    def tuple_fun(x):
        t = (x, 2.0 * x, np.sin(x))
        a, b, c = t
        return a * b + c

    def list_fun(x):
        ls = [x, 2.0 * x]
        ls.append(np.cos(x))
        return sum(ls) + ls[1] * ls[2]

    def dict_fun(x):
        d = {"a": x, "b": x ** 2}
        d["c"] = d["a"] * d["b"]
        return sum(d.values()) + d["c"]

    def return_tuple(x, y):
        return np.sin(x) * y, (x + y, [x * y])

    def arg_tuple(t):
        a, b = t
        return np.sum(a * b) + np.prod(a)

    def arg_list_of_floats(ls):
        return ls[0] * ls[1] + ls[2] ** 2

    def loop_accumulate(x):
        s = 0.0
        for i in range(5):
            s = s + x[i] * x[(i + 1) % 5]
        return s

    def while_newton(a):
        x = 1.0
        for _ in range(20):
            x = 0.5 * (x + a / x)
        return x

    def comprehension(x):
        return sum(xi ** 2 for xi in x) + max([xi for xi in x]) + min(x)

    def zip_enumerate(x, y):
        tot = 0.0
        for i, (a, b) in enumerate(zip(x, y)):  # noqa: B905 - as written
            tot += (i + 1) * a * b
        return tot

    def isinstance_check(x, flag):
        assert isinstance(x, np.ndarray) == flag
        return np.sum(x ** 2)

    return [
        Case("containers/tuple", tuple_fun, (R(),), (0,), CT),
        Case("containers/list", list_fun, (R(),), (0,), CT),
        Case("containers/dict", dict_fun, (0.7,), (0,), CT),
        Case("containers/return_nested", return_tuple, (R(3), R(3)), (0, 1), CT),
        Case("containers/arg_tuple_of_arrays", arg_tuple, ((R(3), R(3)),), (0,), CT),
        Case("containers/arg_list_of_floats", arg_list_of_floats, ([0.3, 1.2, -0.7],), (0,),
             CT),
        Case("python/loop_accumulate", loop_accumulate, (R(5),), (0,), CT),
        Case("python/newton_sqrt", while_newton, (2.3,), (0,), CT),
        Case("python/comprehension_max_min", comprehension, (R(4),), (0,), CT),
        Case("python/zip_enumerate", zip_enumerate, (R(4), R(4)), (0, 1), CT),
        Case("python/isinstance", isinstance_check, (R(3), True), (0,),
             "autograd tests/test_builtins.py"),
        Case("python/operator_module", lambda x, y: op.add(op.mul(x, y), op.truediv(x, 2.0)),
             (R(3), R(3)), (0, 1), CT),
    ]


def _nn(R) -> list[Case]:
    """Small models as in autograd's examples and JAX/PyTorch gradcheck tests."""
    W1, b1, W2 = R(4, 5), R(5), R(5, 3)
    X, yint = R(6, 4), np.array([0, 2, 1, 1, 0, 2])

    def logsumexp(a, axis=None):
        m = np.max(a, axis=axis, keepdims=True)
        return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))

    def mlp_loss(W1, b1, W2):
        h = np.tanh(np.dot(X, W1) + b1)
        logits = np.dot(h, W2)
        logp = logits - logsumexp(logits, axis=1)[:, None]
        return -np.mean(logp[np.arange(len(yint)), yint])

    def softmax(x):
        e = np.exp(x - np.max(x))
        return e / e.sum()

    def logistic(w):
        p = 1.0 / (1.0 + np.exp(-X @ w))
        t = (yint > 0).astype(float)
        return -np.sum(t * np.log(p) + (1 - t) * np.log(1 - p))

    def rnn(h0, W):
        h = h0
        for t in range(3):
            h = np.tanh(W @ h + X[t, :3])
        return np.sum(h ** 2)

    def gaussian_logpdf(x, mu, log_sigma):
        s = np.exp(log_sigma)
        return np.sum(-0.5 * ((x - mu) / s) ** 2 - log_sigma - 0.5 * np.log(2 * np.pi))

    return [
        Case("nn/mlp_loss", mlp_loss, (W1, b1, W2), (0, 1, 2), "autograd examples"),
        Case("nn/softmax", softmax, (R(5),), (0,), "jax tests/api_test.py"),
        Case("nn/logistic_regression", logistic, (R(4) * 0.3,), (0,), "autograd examples"),
        Case("nn/rnn", rnn, (R(3), R(3, 3) * 0.5), (0, 1), "autograd examples"),
        Case("nn/gaussian_logpdf", gaussian_logpdf, (R(5), R(5), R(5) * 0.1), (0, 1, 2),
             "autograd examples"),
    ]


def _wrappers(R) -> list[Case]:
    """The functions of autograd's tests/test_wrappers.py, test_list.py, test_tuple.py,
    test_dict.py and dtype checks, and list/tuple operands NumPy coerces."""
    H = R(5, 5)
    W = "autograd tests/test_wrappers.py"

    def complicated(a, b, c, d, e, f=1.1, g=9.0):
        return a + np.sin(b) + np.cosh(c) + np.cos(d) + np.tan(e) + f + g

    def packed(xy):
        return np.sum(xy[0] + np.sin(xy[1]))

    def list_fun(x):
        ls = [x, x * 2.0, np.sin(x)]
        return ls[0] * ls[1] + np.sum(np.array(ls))

    def tuple_arith(x, y):
        t = (x, y)
        return np.sum(t[0] * t[1]) + np.sum(np.asarray(t))

    def dict_fun(d):
        return np.sum(d["a"] * d["b"]) if isinstance(d, dict) else 0.0

    def list_minus(x):
        return np.sum(x - [1.0, 2.0, 3.0])

    def list_mul_scalar(x):
        return np.sum(np.multiply(x[0], [1.0, 2.0])) + x[1] * (3.0, 4.0)[1] + np.sum(x + (1.0, 2.0))

    def list_with_traced(x):
        return np.dot([x[0], 2.0, x[1]], [1.0, x[2], 3.0])

    def tuple_in_np(x):
        return np.sum(np.maximum(x, (0.1, 0.2, 0.3))) + np.mean(np.stack((x, x[::-1])))

    return [
        Case("wrappers/power_3.2", lambda x: 3.0 * x ** 3.2, (1.7,), (0,), W),
        Case("wrappers/sum_sin2", lambda x: np.sum(np.sin(x) ** 2), (R(5),), (0,), W),
        Case("wrappers/quadratic_form", lambda x: np.dot(np.dot(x, H), x), (R(5),), (0,), W),
        Case("wrappers/complicated_kw", complicated, (0.5, -0.3, 0.2, -1.1, 0.7), (3, 1), W,
             {"f": 0.6, "g": -0.1}),
        Case("wrappers/packed_tuple", packed, ((R(3), R(3)),), (0,), W),
        Case("wrappers/elementwise", lambda a: a + np.sin(a) + np.cosh(a), (R(10),), (0,), W),
        Case("wrappers/elementwise_two", lambda a, b: a + np.sin(a) + np.cosh(b), (0.9, R(10)),
             (1,), W),
        Case("wrappers/roll_sin", lambda a: np.roll(np.sin(a), 1), (R(5, 4),), (0,), W),
        Case("wrappers/roll_sin_3d", lambda a: np.roll(np.sin(a), 1), (R(5, 4, 3),), (0,), W),
        Case("wrappers/partial", __import__("functools").partial(lambda x, y: x * y, y=2.0),
             (1.3,), (0,), W),
        Case("wrappers/float32", lambda x: np.sum(x ** 2), (R(4, 3).astype(np.float32),), (0,),
             W),
        Case("wrappers/float16_sum", lambda x: np.sum(x * 2.0), (R(4).astype(np.float16),),
             (0,), W),
        Case("wrappers/checkpoint_like", lambda x: (lambda b: b(x, x / 3.0) + b(x, x ** 2))(
            lambda x, y: 2 * x + y + 5), (3.0,), (0,), W),
        Case("wrappers/sum_args", lambda x: (lambda *a: sum(a))(x, x / 3.0), (3.0,), (0,), W),
        Case("containers/list_fun", list_fun, (R(3),), (0,), CT),
        Case("containers/tuple_arith", tuple_arith, (R(3), R(3)), (0, 1), CT),
        Case("operands/list_minus", list_minus, (R(3),), (0,), CT),
        Case("operands/list_mul_scalar", list_mul_scalar, (R(2),), (0,), CT),
        Case("operands/list_with_traced", list_with_traced, (R(3),), (0,), CT),
        Case("operands/tuple_in_np", tuple_in_np, (R(3),), (0,), CT),
        Case("operands/np_float64_cast", lambda x: np.float64(x[0]) * x[1] + x[2].item(),
             (R(3),), (0,), CT),
        Case("operands/astype_float", lambda x: np.sum(x.astype(float) ** 2), (R(3),), (0,),
             CT),
        Case("operands/float32_scalar", lambda x: float(np.float32(x)) * 0 + x * 2.0, (0.7,),
             (0,), CT),
    ]


def cases() -> list[Case]:
    rs = np.random.RandomState(2)

    def R(*shape):
        return rs.randn(*shape) if shape else float(rs.randn())

    return (_scalar(R) + _binary(rs) + _graphs(R) + _complex(rs) + _containers(R) + _nn(R)
            + _wrappers(R))
