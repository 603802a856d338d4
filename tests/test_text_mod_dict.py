"""``'%(v).2f' % {'v': x}`` in cached traces: the % probes send text formatted from a dict
holding traced values to ProbeHandlers.binary while guards are recorded, which guards the
text or makes the trace unreplayable (calls.py text_guard: a dict is not re-made in replays),
so a call where the text differs is never a silently wrong replay. Checked against native
values, central differences and uncached framead."""


import pytest
from test_sequence_compare_guards import _check as _run  # (cached vs native, FD, uncached)


def sign_text(x):
    return x[0] * 2.0 if ("%(v).2f" % {"v": x[0]})[0] == "-" else x[0] * x[0]  # noqa: UP031


def sign_bytes(x):
    return x[0] * 2.0 if (b"%(v).2f" % {b"v": x[0]})[:1] == b"-" else x[0] * x[0]  # noqa: UP031


def nested_value(x):
    s = "%(p)s" % {"p": (x[0] * 1.0, 1)}  # noqa: UP031
    return x[0] * 2.0 if s.startswith("(-") else x[0] * x[0]


def inplace(x):
    s = "%(v).1f|"
    s %= {"v": x[0]}
    return x[0] * 2.0 if s[0] == "-" else x[0] * x[0]


@pytest.mark.parametrize("f", [sign_text, sign_bytes, nested_value, inplace],
                         ids=lambda f: f.__name__)
def test_text_from_dict_never_replayed_wrong(f):
    stats = _run(f, [[1.5], [-1.5], [1.5], [-1.5]])
    # the text is guarded (its flip a fresh capture) or the trace unreplayable, said why
    assert stats["captures"] >= 2, stats
    assert stats["hits"] == 0 and stats["reasons"] or stats["hits"] == 2, stats


def test_untraced_dict_text_still_replays():
    def f(x):
        s = "%(n)d items" % {"n": 3}  # noqa: UP031
        return x[0] * 2.0 if s[0] == "3" else x[0]

    stats = _run(f, [[1.5], [-1.5]])
    assert stats["hits"] == 1, stats
