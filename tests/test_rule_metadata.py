"""Rule metadata obeyed by capture: a rule declaring ``mutates=(k,)`` records its functional
node and then a write into argument k's buffer, so later reads (also through views and the
array's owner) see the new contents. Checked against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import framead
from framead import rules

W = np.array([1.0, 2.0, 3.0, 4.0, 5.0])


def _central(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    return np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(x.size)])


def _bound(x):
    a = x * 1.0
    a.partition(2)
    return np.sum(a * W)


def _unbound(x):
    a = x * 1.0
    np.ndarray.partition(a, 2)
    return np.sum(a * W)


def _through_a_view(x):
    a = x * 1.0
    a[1:].partition(1)  # the write lands in a's buffer
    return np.sum(a * W)


def _read_before_and_after(x):
    a = x * 1.0
    before = np.sin(a)  # saved for the reverse pass: the write must not change it
    a.partition(2)
    return np.sum(before * a * W)


@pytest.mark.parametrize("f", [_bound, _unbound, _through_a_view, _read_before_and_after])
def test_a_mutating_rule_writes_its_argument(f):
    assert rules.lookup_method(np.ndarray, "partition").mutates == (0,)
    x = np.array([0.3, -1.2, 2.5, 0.7, 1.9])
    np.testing.assert_allclose(framead.grad(f)(x), _central(f, x), rtol=1e-6, atol=1e-8)
