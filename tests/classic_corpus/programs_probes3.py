# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""Probes of mechanisms: NumPy object arrays and frompyfunc (C loops calling Python-level
operators), a thread pool map, functools.cached_property, cmp_to_key sorting, and SciPy
library calls common in legacy code (fsolve, curve_fit, optimize.newton, lfilter, savgol,
gaussian_filter1d)."""

from registry import case, on_list, scalar, vector


@case(vector(4, -1.0, 1.0), on_list)
def numpy_object_array(xs):
    """Arithmetic on an object-dtype array of the values (NumPy's object loops)."""
    import numpy as np

    a = np.array(xs, dtype=object)
    b = a * 2.0 + a * a
    return float(b.sum())


@case(vector(4, -1.0, 1.0))
def numpy_frompyfunc(x):
    """np.frompyfunc of a Python function, result cast back to float."""
    import math

    import numpy as np

    uf = np.frompyfunc(lambda v: math.tanh(v) * v, 1, 1)
    return float(uf(x).astype(float).sum())


@case(vector(4, -1.0, 1.0), on_list)
def thread_pool_map(xs):
    """Per-item work farmed out with concurrent.futures.ThreadPoolExecutor.map."""
    from concurrent.futures import ThreadPoolExecutor

    def work(v):
        return v * v + 0.5 * v

    with ThreadPoolExecutor(max_workers=2) as pool:
        return sum(pool.map(work, xs))


@case(vector(3, 0.5, 2.0), on_list)
def cached_property_model(p):
    """A model object whose derived quantity is a functools.cached_property."""
    import functools

    class Beam:
        def __init__(self, E, I, L):
            self.E, self.I, self.L = E, I, L

        @functools.cached_property
        def stiffness(self):
            return 3.0 * self.E * self.I / self.L ** 3

    b = Beam(*p)
    return b.stiffness + 0.5 * b.stiffness


@case(vector(5, -1.0, 1.0), on_list)
def cmp_to_key_sort(xs):
    """sorted with functools.cmp_to_key (an old-style comparison function)."""
    import functools

    def cmp(a, b):
        return -1 if a < b else (1 if a > b else 0)

    s = sorted(xs, key=functools.cmp_to_key(cmp))
    return sum((i + 1) * v for i, v in enumerate(s))


@case(scalar(1.0, 8.0))
def scipy_fsolve_inside(c):
    """scipy.optimize.fsolve (MINPACK) for x^3 + x - c."""
    from scipy.optimize import fsolve

    return float(fsolve(lambda x: x ** 3 + x - c, 1.0, xtol=1e-14)[0])


@case(scalar(1.0, 8.0))
def scipy_newton_inside(c):
    """scipy.optimize.newton with the parameter passed through args=."""
    from scipy.optimize import newton

    return newton(lambda x, c: x ** 3 + x - c, 1.0, fprime=lambda x, c: 3 * x * x + 1,
                  args=(c,), tol=1e-14)


def _slope_reference(noise):
    """d slope / d y_i = (t_i - mean t) / sum (t - mean t)^2 (a linear fit; curve_fit's own
    stopping rule makes its result too noisy for finite differences)."""
    import numpy as np

    t = np.linspace(0.0, 1.0, 6)
    return (t - t.mean()) / np.sum((t - t.mean()) ** 2)


@case(vector(6, -0.2, 0.2), reference=_slope_reference, heavy=True)
def scipy_curve_fit_inside(noise):
    """scipy.optimize.curve_fit of a line to data perturbed by the input; the slope."""
    import numpy as np
    from scipy.optimize import curve_fit

    t = np.linspace(0.0, 1.0, 6)
    y = 2.0 * t + 1.0 + noise
    popt, _ = curve_fit(lambda t, a, b: a * t + b, t, y, p0=[1.0, 0.0])
    return float(popt[0])


@case(vector(8, -1.0, 1.0))
def scipy_lfilter_inside(x):
    """An IIR low-pass (scipy.signal.lfilter) of the input; output energy."""
    import numpy as np
    from scipy.signal import lfilter

    y = lfilter([0.2, 0.2], [1.0, -0.6], x)
    return float(np.sum(y ** 2))


@case(vector(9, -1.0, 1.0))
def scipy_savgol_inside(x):
    """scipy.signal.savgol_filter smoothing; the energy of the result."""
    import numpy as np
    from scipy.signal import savgol_filter

    return float(np.sum(savgol_filter(x, 5, 2) ** 2))


@case(vector(9, -1.0, 1.0))
def scipy_gaussian_filter_inside(x):
    """scipy.ndimage.gaussian_filter1d smoothing; a weighted sum of the result."""
    import numpy as np
    from scipy.ndimage import gaussian_filter1d

    return float(gaussian_filter1d(x, 1.2) @ np.arange(9.0))
