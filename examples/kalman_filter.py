"""A 1-D Kalman filter kept in a dataclass whose methods mutate its attributes.

Local-level model: x_t = x_{t-1} + w_t (variance q), y_t = x_t + v_t (variance r). The
objective is the mean negative log-likelihood of the observations as a function of (q, r).
"""

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class KalmanFilter1D:
    q: float
    r: float
    mean: float = 0.0
    var: float = 1.0
    loglik: float = 0.0
    nobs: int = 0

    @property
    def std(self):
        return math.sqrt(self.var)

    def predict(self):
        self.var = self.var + self.q

    def update(self, y):
        s = self.var + self.r
        gain = self.var / s
        resid = y - self.mean
        self.mean = self.mean + gain * resid
        self.var = (1.0 - gain) * self.var
        self.loglik -= 0.5 * (math.log(2.0 * math.pi * s) + resid * resid / s)
        self.nobs += 1


_rng = np.random.default_rng(0)
OBSERVATIONS = np.cumsum(_rng.normal(0.0, 0.5, 60)) + _rng.normal(0.0, 0.7, 60)


def negative_log_likelihood(q, r, observations=OBSERVATIONS):
    kf = KalmanFilter1D(q, r)
    for y in observations:
        kf.predict()
        kf.update(y)
    return -kf.loglik / kf.nobs + 0.01 * kf.std


EXAMPLE_ARGS = (0.3, 0.5)


if __name__ == "__main__":
    print(negative_log_likelihood(*EXAMPLE_ARGS))
