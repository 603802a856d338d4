# ruff: noqa  (deliberately unusual code: these programs exercise odd corners of Python)
"""f-strings, strings, dicts, sets, collections, math, printing, standard library odds."""

import bisect
import collections
import heapq
import json
import math
import random
import re
import struct
from decimal import Decimal
from fractions import Fraction

from . import case


@case(3.14159, 42, "pi")
def fstrings(x, n, s):
    width = 10
    return [f"{x:.3f}", f"{x:{width}.2e}", f"{n:#x}|{n:08b}|{n:,}", f"{s!r:>6}",
            f"{s=}", f"{x * n = :.1f}", f"{'nested ' + f'{n}'}", f"{{literal}} {n}",
            f"{x!s:^12}", f"{1e300 * 10}", f"{-0.0}", f"{n:{'>'}{width}}"]


@case("The quick brown fox jumps over the lazy dog")
def string_methods(s):
    words = s.split()
    return (s.lower(), s.title(), s[::-1], s.find("fox"), s.count("o"), "-".join(words[:3]),
            s.replace("o", "0", 2), s.partition(" "), s.rsplit(" ", 2), s.center(50, "*"),
            s.startswith(("The", "A")), s.encode("utf-8")[:5], s.casefold() == s.lower(),
            " x ".strip(), "a\tb".expandtabs(4), "%s=%.2f" % ("v", 1 / 3), "{0}{1}{0}".format("a", 1))


@case("a1b22c333")
def regex_ops(s):
    return (re.findall(r"\d+", s), re.sub(r"(\d)", lambda m: str(int(m.group(1)) * 2), s),
            re.split(r"[a-z]", s), bool(re.fullmatch(r"(\w\d+)+", s)),
            [m.span() for m in re.finditer(r"[a-z]", s)])


@case({"b": 2, "a": 1, "c": 3})
def dict_ops(d):
    d2 = dict(d)
    d2.update(z=26)
    d2 |= {"a": 100}
    popped = d2.pop("b")
    d2.setdefault("y", []).append(1)
    merged = d | {"q": 0}
    return (list(d2.items()), popped, sorted(d, key=d.get, reverse=True), merged,
            {v: k for k, v in d.items()}, d2.get("missing", "dflt"), list(reversed(d)),
            d.keys() & {"a", "x"}, "a" in d, len(d2))


@case([5, 3, 5, 1, 3, 9])
def set_ops(xs):
    s = set(xs)
    t = {3, 4, 9}
    fs = frozenset(xs)
    return (sorted(s | t), sorted(s & t), sorted(s - t), sorted(s ^ t), s <= fs, t.isdisjoint({0}),
            sorted(fs.union([100])), len(s), 3 in s)


@case([4, 1, 7, 3, 8, 5])
def list_ops(xs):
    ys = xs[:]
    ys.insert(2, 99)
    ys.remove(7)
    ys.extend(range(2))
    ys.reverse()
    del ys[1:3]
    ys[::2] = [0] * len(ys[::2])
    zs = sorted(xs) + xs * 2
    return ys, zs[3:9:2], xs.index(3), zs.count(4), [x for x in reversed(xs)], ys.copy() == ys


@case()
def collections_module():
    c = collections.Counter("abracadabra")
    dq = collections.deque([1, 2, 3], maxlen=4)
    dq.appendleft(0)
    dq.append(4)
    dq.rotate(2)
    dd = collections.defaultdict(list)
    for k, v in [("x", 1), ("y", 2), ("x", 3)]:
        dd[k].append(v)
    od = collections.OrderedDict.fromkeys("cab")
    od.move_to_end("c")
    cm = collections.ChainMap({"a": 1}, {"a": 2, "b": 3})
    return (c.most_common(3), list(dq), dict(dd), list(od), cm["a"], cm["b"],
            c + collections.Counter("aaz"))


@case([5.5, 1.25, 8.0, 3.0, 2.5])
def heapq_and_bisect(xs):
    h = []
    for x in xs:
        heapq.heappush(h, (x, str(x)))
    popped = [heapq.heappop(h) for _ in range(2)]
    s = sorted(xs)
    bisect.insort(s, 4.0)
    return (popped, heapq.nlargest(2, xs), heapq.nsmallest(2, xs, key=lambda v: -v),
            bisect.bisect_left(s, 3.0), s)


@case(0.7, 2.5)
def math_functions(x, y):
    return (math.sin(x), math.cos(x), math.tan(x), math.exp(x), math.log(y), math.log(y, 3),
            math.log1p(x), math.expm1(x), math.sqrt(y), math.hypot(x, y), math.atan2(x, y),
            math.floor(y), math.ceil(y), math.fsum([0.1] * 10), math.prod([x, y, 3]),
            math.pow(x, y), x ** y, math.fmod(y, x), math.copysign(x, -1), math.isclose(x, y),
            math.gamma(y), math.lgamma(y), math.erf(x), math.degrees(x), math.factorial(10),
            math.comb(10, 3), math.gcd(12, 18), math.isqrt(99), math.frexp(y), math.ldexp(x, 3),
            math.modf(y), math.trunc(-y), math.dist([x, y], [0, 0]), math.inf > 1e308)


@case(7.25, -3)
def builtin_numeric_functions(x, n):
    return (abs(n), abs(-x), round(x), round(x, 1), round(2.5), round(-2.5), divmod(x, 2),
            divmod(n, 2), pow(2, 10), pow(3, -1, 7), pow(x, 2), min(x, n, 0.5), max(x, n),
            sum([x, n]), int(x), int(-x), float(n), complex(x, n), hex(255), oct(8),
            bin(n), x.is_integer(), (x).as_integer_ratio(), n.bit_length(), float("nan") != 0,
            x // 2, -x // 2, x % 2, -x % 2, n % 5, n // 5, 2 ** 100, (2 ** 100) / 3, 1e308 * 10)


@case(1.5, 2.5)
def float_arithmetic_bit_exact(a, b):
    vals = [a + b, a - b, a * b, a / b, a ** 0.5, b ** -1.5, (a * 1e308) * 10, -a * 0.0,
            0.1 + 0.2, 1e-320 / 3, float("inf") - float("inf"), a % -b, -a % b]
    acc = 0.0
    for i in range(100):
        acc += (i * a - b) / (i + 1)
    vals.append(acc)
    return vals, [v.hex() for v in vals]


@case(3 + 4j)
def complex_ops(z):
    import cmath

    return (abs(z), z.conjugate(), z * 1j, z ** 2, cmath.sqrt(z), cmath.phase(z), z.real,
            complex("1+2j") / z)


@case()
def int_big_and_bitwise():
    a = 3 ** 100
    b = a >> 17
    return (a, b, a & 0xFFFF, a | 1, a ^ b, ~b, -a // 7, a % 97, int.from_bytes(b"\x01\x02", "big"),
            (1234).to_bytes(4, "little"), str(a)[:10], len(str(a)))


@case()
def decimal_and_fraction():
    d = Decimal("1.10") + Decimal("2.205")
    f = Fraction(3, 7) + Fraction(1, 14)
    return str(d), str(d.quantize(Decimal("0.01"))), f, float(f), Fraction(0.75), str(Decimal(0.1))


@case()
def json_and_struct_roundtrip():
    data = {"a": [1, 2.5, None, True], "b": {"c": "d"}, "e": 1e-7}
    s = json.dumps(data, sort_keys=True)
    back = json.loads(s)
    packed = struct.pack("<dif", 1.5, -3, 2.25)
    return s, back == data, packed, struct.unpack("<dif", packed)


@case()
def json_decode_error():
    return json.loads('{"a": 1,}')


@case(42)
def seeded_random(seed):
    rng = random.Random(seed)
    return [rng.random() for _ in range(3)], rng.randint(1, 100), rng.sample(range(10), 3), \
        rng.gauss(0.0, 1.0), rng.choice("abcdef")


@case(3)
def printing_to_stdout_and_stderr(n):
    import sys

    for i in range(n):
        print("line", i, i * 0.5, sep=", ", end=";\n")
    print("to stderr", file=sys.stderr)
    print(repr(1 / 3), [1.5, None], {"k": (1,)})
    return n


@case()
def tuple_unpacking_forms():
    a, (b, c), *d = 1, (2, 3), 4, 5
    (e, f), g = "xy", [7]
    h, *i, j = range(6)
    k = l = [0]
    k.append(1)
    m, n = n, m = 1, 2
    return a, b, c, d, e, f, g, h, i, j, l, m, n


@case()
def augmented_assignment_semantics():
    a = [1, 2]
    b = a
    a += [3]
    t = (1, 2)
    u = t
    t += (3,)
    s = "ab"
    s *= 2
    x = 5
    x **= 2
    x //= 3
    x %= 5
    x <<= 3
    x |= 1
    y = 7.5
    y -= 0.25
    y /= 2
    return a, b, a is b, t, u, s, x, y


@case()
def slicing_semantics():
    xs = list(range(10))
    s = "abcdefghij"
    return (xs[2:8:3], xs[::-2], xs[-3:], xs[100:], s[slice(1, None, 4)], xs[:-100],
            slice(1, 10, 2).indices(5), s[::-1][2:5])


@case()
def identity_and_interning():
    import sys

    a = "hello"
    b = "".join(["hel", "lo"])
    c = sys.intern(b)
    n = 256
    m = int("256")
    return a == b, a is b, a is c, n is m, (lambda: None)() is None, [] is not []


@case()
def copy_and_pickle():
    import copy
    import pickle

    data = {"a": [1.5, [2.5]], "b": (3, {"c": 4.0})}
    shallow = copy.copy(data)
    deep = copy.deepcopy(data)
    data["a"][1].append(9)
    return shallow["a"][1], deep["a"][1], pickle.loads(pickle.dumps(data)) == data


@case("x")
def hash_and_eq_consistency(s):
    return hash(1) == hash(1.0), hash(s) == hash("x"), {1: "a", 1.0: "b", True: "c"}, \
        hash(float("inf")), hash(-1)


@case()
def exec_and_eval_inside_case():
    ns = {}
    exec("def f(x):\n    return x * 3 + 1\nr = f(2.5)", ns)
    code = compile("a + b", "<expr>", "eval")
    return ns["r"], eval(code, {"a": 1, "b": 2.5}), eval("[i*i for i in range(4)]")


@case()
def exec_error_traceback():
    exec("x = 1\ny = x / 0\n", {})


@case()
def string_formatting_of_floats():
    vals = [0.1, 1 / 3, 2.0 ** 60, 1e-310, float("nan"), -float("inf"), 123456789.123456789]
    return ([repr(v) for v in vals], [str(v) for v in vals], [format(v, ".17g") for v in vals],
            ["%g" % v for v in vals], [f"{v:e}" for v in vals])


@case()
def bytes_and_bytearray():
    b = bytearray(b"hello")
    b[0] = ord("J")
    b += b"!!"
    mv = memoryview(b)
    mv[1:3] = b"EE"
    return bytes(b), b.hex(), bytes.fromhex("ff00"), b"abc".upper(), list(b"\x00\x7f"), len(mv)


@case()
def sorted_dict_by_value_tiebreak():
    scores = {"ann": 3.5, "bob": 2.0, "cid": 3.5, "dee": 1.0}
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


@case()
def iterators_manual_protocol():
    class Count:
        def __init__(self, n):
            self.i, self.n = 0, n

        def __iter__(self):
            return self

        def __next__(self):
            if self.i >= self.n:
                raise StopIteration
            self.i += 1
            return self.i * 0.5

    c = Count(4)
    return list(c), list(c), sum(Count(3)), list(zip(Count(2), "ab")), 1.0 in Count(3)


@case()
def while_loop_with_dict_mutation_error():
    d = {1: "a", 2: "b"}
    for k in d:
        d[k + 10] = "x"
