"""framead on unmodified legacy programs: gradients next to central finite differences.

Run with `make demo`. The programs in this folder know nothing about framead; each one
exposes its function and `EXAMPLE_ARGS`.
"""

import kalman_filter
import numpy as np
import ode_rk4
import preallocated_loop
import stencil

import framead

# (title, function, example arguments, argnums)
EXAMPLES = [
    ("pre-allocated loop", preallocated_loop.loss, preallocated_loop.EXAMPLE_ARGS, 0),
    ("in-place heat stencil", stencil.heat_loss, stencil.EXAMPLE_ARGS, 0),
    ("Lorenz RK4 on floats", ode_rk4.objective, ode_rk4.EXAMPLE_ARGS, (0, 1, 2)),
    ("Kalman filter dataclass", kalman_filter.negative_log_likelihood,
     kalman_filter.EXAMPLE_ARGS, (0, 1)),
]


def central_differences(f, args, argnums, rel_step=1e-6):
    """Central differences in float64, one argument entry at a time, on copies of the args."""
    grads = []
    for k in argnums:
        x = np.array(args[k], dtype=np.float64)
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            h = rel_step * max(1.0, abs(x[i]))
            values = []
            for sign in (1.0, -1.0):
                xp = x.copy()
                xp[i] += sign * h
                shifted = list(args)
                shifted[k] = xp if np.ndim(args[k]) else float(xp)
                values.append(f(*shifted))
            g[i] = (values[0] - values[1]) / (2.0 * h)
        grads.append(g)
    return grads


def show_vector(label, v, limit=6):
    v = np.ravel(v)
    head = ", ".join(f"{e: .10e}" for e in v[:limit])
    more = f", ... ({v.size} entries)" if v.size > limit else ""
    print(f"    {label:<11} [{head}{more}]")


def check(title, f, args, argnums):
    nums = (argnums,) if isinstance(argnums, int) else argnums
    fd = central_differences(f, args, nums)
    print(f"\n== {title}: {f.__module__}.{f.__name__}, d/d args {list(nums)}")
    ad = framead.grad(f, argnums=argnums)(*args)
    ad = (ad,) if isinstance(argnums, int) else ad
    worst = 0.0
    for k, g_ad, g_fd in zip(nums, ad, fd, strict=True):
        print(f"  arg {k}:")
        show_vector("framead", g_ad)
        show_vector("finite diff", g_fd)
        scale = max(np.max(np.abs(g_fd)), np.finfo(np.float64).tiny)
        worst = max(worst, float(np.max(np.abs(np.asarray(g_ad) - g_fd)) / scale))
    print(f"  max relative error (max |framead - fd| / max |fd|): {worst:.2e}")


def second_order_and_cache():
    """hessian (forward over framead's own reverse pass) next to second differences of the
    gradient; a cached gradient re-running its trace on new inputs."""
    import time

    f, (u0,) = stencil.heat_loss, stencil.EXAMPLE_ARGS
    u = u0[::10].copy()  # 5 points: a 5x5 Hessian
    h = framead.hessian(f)(u, 20)
    g = framead.grad(f)
    fd = np.zeros_like(h)
    for i in range(u.size):
        e = np.zeros_like(u)
        e[i] = 1e-5
        fd[:, i] = (g(u + e, 20) - g(u - e, 20)) / 2e-5
    print("\n== hessian of stencil.heat_loss (5 points, 20 steps): jacfwd(jacrev(f))")
    print(f"  max |hessian - differences of grad| / max |.|: "
          f"{np.max(np.abs(h - fd)) / np.max(np.abs(fd)):.2e}")

    cached = framead.grad(f, cache=True)
    timings = []
    for k in range(4):
        t = time.perf_counter()
        cached(u0 * (1.0 + 0.01 * k))
        timings.append(time.perf_counter() - t)
    print("\n== grad(stencil.heat_loss, cache=True): four calls on new inputs")
    print("  seconds: " + ", ".join(f"{t:.4f}" for t in timings)
          + f"  (capture, replay generation, then hits); stats {cached.stats}")


def main():
    for title, f, args, argnums in EXAMPLES:
        check(title, f, args, argnums)
    second_order_and_cache()

    # A small instance (8 points, 2 steps) keeps the listings short.
    small = (stencil.EXAMPLE_ARGS[0][::5].copy(), 2)
    traced = framead.trace(stencil.heat_loss, *small)
    print("\n== IR of stencil.heat_loss (8 points, 2 steps)")
    print(traced)
    print("\n== its generated reverse pass")
    print(traced.backward_source())


if __name__ == "__main__":
    main()
