"""``capture.buffers.content_digest``, which watches large constant arrays a gradient reads
(a write into one later in the function is an error, never a silently wrong gradient): it
changes whenever the bytes do, and only then."""

from __future__ import annotations

import numpy as np
import pytest
from framead.capture.buffers import content_digest
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

DTYPES = [np.float64, np.float32, np.int64, np.int32, np.int8, np.complex128, np.bool_,
          np.float16]


@st.composite
def arrays_and_changes(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    n = draw(st.sampled_from([1, 7, 8, 1000, (1 << 15) + 3, 3 * (1 << 15)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = (rng.standard_normal(n) * 100).astype(dtype)
    shape = draw(st.sampled_from([(n,), (1, n)]))
    a = a.reshape(shape)
    i = draw(st.integers(0, n - 1))
    j = draw(st.integers(0, n - 1))
    layout = draw(st.sampled_from(["C", "F", "strided"]))
    return a, i, j, layout


@settings(max_examples=300, deadline=None)
@given(arrays_and_changes())
def test_digest_sees_every_change_and_only_changes(case):
    a, i, j, layout = case
    if layout == "F":
        a = np.asfortranarray(np.tile(a, (2, 1)))
    elif layout == "strided":
        a = np.repeat(a, 2, axis=-1)[..., ::2]
    d = content_digest(a)
    assert content_digest(np.ascontiguousarray(a)) == d  # the same values: the same digest
    assert content_digest(a.copy(order="K")) == d
    ii, jj = np.unravel_index(i, a.shape), np.unravel_index(j, a.shape)
    b = a.copy(order="K")
    b[ii] = b[ii] + 1 if a.dtype != np.bool_ else ~b[ii]
    assert content_digest(b) != d  # one element changed
    if a[ii] != a[jj]:
        c = a.copy(order="K")
        c[ii], c[jj] = a[jj], a[ii]
        assert content_digest(c) != d  # two elements swapped


def test_the_last_bit_of_one_word_changes_the_digest():
    a = np.zeros(3 * (1 << 15) + 5)
    d = content_digest(a)
    for k in (0, 1 << 15, a.size - 1):
        b = a.copy()
        b.view(np.uint64)[k] ^= np.uint64(1)
        assert content_digest(b) != d


def test_a_large_constant_written_later_in_the_function_is_an_error():
    """The watched constant (larger than the snapshot limit) is written after the node that
    reads it: the gradient would use the new values, so framead refuses."""
    big = np.linspace(0.0, 1.0, 300_000)

    def f(x):
        y = np.sum(x * big)
        big[7] += 1.0
        return y

    with pytest.raises(RuntimeError, match="modified later"):
        framead.grad(f)(np.ones(300_000))

    def flips(x):  # two sign flips: a position-weighted sum mod 2**64 did not see them
        y = np.sum(x * big)
        big[3], big[100] = -big[3], -big[100]
        return y

    with pytest.raises(RuntimeError, match="modified later"):
        framead.grad(flips)(np.ones(300_000))
    big2 = np.linspace(0.0, 1.0, 300_000)
    g = framead.grad(lambda x: np.sum(x * big2))(np.ones(300_000))
    np.testing.assert_array_equal(g, big2)


_M = 2**64 - 1
_STEP = 0x9E3779B97F4A7C15
_KEY2 = 0xD6E8FEB86659FD93


def _mix(k: int) -> int:
    k ^= k >> 33
    k = k * 0xFF51AFD7ED558CCD & _M
    k ^= k >> 33
    k = k * 0xC4CEB9FE1A85EC53 & _M
    return k ^ (k >> 33)


def _mum(a: int, b: int) -> int:
    r = a * b
    return (r >> 64) ^ (r & _M)


def _reference(data: bytes) -> int:
    """``content_digest``'s formula in Python ints (the C one-pass loop's independent
    reference): 64-bit words in pairs (an odd last one with 0), each pair's words xor their
    position keys and multiplied (128 bits, folded), summed mod 2**64, and the last bytes as
    one more mixed word."""
    n, tail = divmod(len(data), 8)
    words = [int.from_bytes(data[8 * i:8 * i + 8], "little") for i in range(n)]
    if n % 2:
        words.append(0)
    half = 1 << 63
    total = sum(_mum(words[2 * j] ^ ((half + j * _STEP) & _M),
                     words[2 * j + 1] ^ ((half + j * _KEY2) & _M))
                for j in range(len(words) // 2))
    rest = int.from_bytes(data[8 * n:], "little")
    return (total + _mix(rest ^ (len(words) // 2 * _STEP & _M) ^ (tail << 56))) & _M


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([0, 1, 7, 8, 9, 31, 4096 * 8 - 1, 4096 * 8 + 13, 8 * 64 * 9 + 5]),
       st.integers(0, 2**32 - 1), st.sampled_from([0, 3]))
def test_the_one_pass_digest_is_the_formula(nbytes, seed, offset):
    """``digest_words`` (C) against the formula: whole words, a tail of under 8 bytes, empty
    buffers, buffers not aligned to 8 bytes."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, nbytes + offset, dtype=np.uint8)
    data = raw[offset:]  # (an unaligned start when offset is 3)
    got = framead.capture._evalframe.digest_words(data)
    assert got == _reference(data.tobytes())
    assert content_digest(data) == got


@pytest.mark.parametrize("change", ["two sign flips", "a swap far apart", "+d and -d",
                                    "a moved block"])
def test_changes_a_linear_digest_misses(change):
    """Changes a position-weighted sum mod 2**64 cannot see: two sign flips (each adds
    2**63 times an odd weight), and swaps or opposite changes at positions whose weights
    repeat (the old formula's, 64 blocks of 2**15 words apart)."""
    a = np.linspace(-1.0, 1.0, 65 * 2**15 + 7)
    d = content_digest(a)
    b = a.copy()
    i, j = 5, 5 + 64 * 2**15
    if change == "two sign flips":
        b[3], b[100] = -b[3], -b[100]
    elif change == "a swap far apart":
        b[i], b[j] = a[j], a[i]
    elif change == "+d and -d":
        w = b.view(np.uint64)
        w[i] += np.uint64(1 << 40)
        w[j] -= np.uint64(1 << 40)
    else:
        b[10:20], b[20:30] = a[20:30], a[10:20]
    assert content_digest(b) != d
