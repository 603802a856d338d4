"""1-D heat equation, explicit Euler, updated in place with a slice stencil.

The field is overwritten every step (`u[1:-1] = ...`), with a fixed-temperature left end
and an insulated right end written element by element.
"""

import numpy as np


def heat_loss(u0, nsteps=100, c=0.25):
    u = u0.copy()
    for _ in range(nsteps):
        u[1:-1] = u[1:-1] + c * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u[0] = 0.0
        u[-1] = u[-2]
    return np.sum(u ** 2)


_grid = np.linspace(0.0, 1.0, 40)
EXAMPLE_ARGS = (np.exp(-50.0 * (_grid - 0.4) ** 2) + 0.1 * np.sin(7.0 * _grid),)


if __name__ == "__main__":
    print(heat_loss(*EXAMPLE_ARGS))
