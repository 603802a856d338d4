"""Pre-allocated arrays filled element by element in for loops, with a running sum.

Written the way plain NumPy simulation code often is: no vectorisation, math-module
functions on one element at a time, a float accumulator.
"""

import math

import numpy as np


def loss(x, decay=0.1):
    n = len(x)
    y = np.zeros(n)
    for i in range(n):
        y[i] = math.sin(x[i]) * math.exp(-decay * i) + 0.5 * x[i] ** 2

    slopes = np.empty(n - 1)
    total = 0.0
    for i in range(n - 1):
        slopes[i] = math.tanh(y[i + 1] - y[i])
        total += slopes[i] * slopes[i]

    return math.sqrt(total + 1.0) + y[0] * y[n - 1]


EXAMPLE_ARGS = (np.linspace(-1.0, 2.0, 12),)


if __name__ == "__main__":
    print(loss(*EXAMPLE_ARGS))
