# ruff: noqa  (deliberately unusual code: these programs exercise odd corners of Python)
"""Class bodies, zero-arg super(), properties, dataclasses, __slots__, descriptors,
operator overloading, metaclasses."""

import dataclasses
import math
from dataclasses import dataclass, field

from . import case


@case(4)
def class_body_with_loops_and_locals(n):
    class Table:
        squares = {}
        for i in range(n):
            squares[i] = i * i
        del i
        names = sorted(k for k in locals() if not k.startswith("__"))

    return Table.squares, Table.names, Table.__qualname__


class _Base:
    def __init__(self, x):
        self.x = x
        self.log = ["Base.__init__"]

    def describe(self):
        return f"Base({self.x})"

    @classmethod
    def make(cls, x):
        return cls(x)


class _Mid(_Base):
    def __init__(self, x, y):
        super().__init__(x)
        self.y = y
        self.log.append("Mid.__init__")

    def describe(self):
        return "Mid<" + super().describe() + ">"

    @classmethod
    def make(cls, x):
        obj = super().make(x) if cls is _Base else cls(x, -x)
        return obj


class _Leaf(_Mid):
    def describe(self):
        inner = super().describe()
        return f"Leaf[{inner}]"


@case(2.5)
def zero_arg_super_chain(x):
    obj = _Leaf(x, 1.0)
    return obj.describe(), obj.log, _Leaf.make(3).describe(), type(_Leaf.make(3)).__name__


@case()
def super_in_diamond_mro():
    class A:
        def who(self):
            return ["A"]

    class B(A):
        def who(self):
            return ["B"] + super().who()

    class C(A):
        def who(self):
            return ["C"] + super().who()

    class D(B, C):
        def who(self):
            return ["D"] + super().who()

    return D().who(), [k.__name__ for k in D.__mro__]


@case()
def super_in_comprehension_and_lambda_fails_correctly():
    class A:
        def val(self):
            return 1

    class B(A):
        def val(self):
            return [super().val() + i for i in range(2)]

    return B().val()


@case()
def super_two_arg_and_in_classmethod_staticmethod():
    class A:
        @classmethod
        def name(cls):
            return "A:" + cls.__name__

        @staticmethod
        def static():
            return "static A"

    class B(A):
        @classmethod
        def name(cls):
            return "B>" + super().name()

        @staticmethod
        def static():
            return "B>" + super(B, B).static()

    return B.name(), B().name(), B.static()


@case()
def super_in_init_subclass_and_new():
    registry = []

    class Plugin:
        def __init_subclass__(cls, key=None, **kw):
            super().__init_subclass__(**kw)
            registry.append((cls.__name__, key))

    class P1(Plugin, key="one"):
        pass

    class P2(P1):
        pass

    class Singleton:
        _inst = None

        def __new__(cls, *a):
            if cls._inst is None:
                cls._inst = super().__new__(cls)
            return cls._inst

    return registry, Singleton() is Singleton()


@case()
def super_without_class_cell_fails():
    def not_a_method():
        return super().__repr__()

    return not_a_method()


@case()
def properties_get_set_delete():
    class Temp:
        def __init__(self):
            self._c = 0.0
            self.log = []

        @property
        def fahrenheit(self):
            self.log.append("get")
            return self._c * 9 / 5 + 32

        @fahrenheit.setter
        def fahrenheit(self, f):
            self.log.append("set")
            if f < -459.67:
                raise ValueError("below absolute zero")
            self._c = (f - 32) * 5 / 9

        @fahrenheit.deleter
        def fahrenheit(self):
            self.log.append("del")
            self._c = 0.0

    t = Temp()
    t.fahrenheit = 212.0
    v = t.fahrenheit
    del t.fahrenheit
    try:
        t.fahrenheit = -500
    except ValueError as e:
        err = str(e)
    return v, t._c, t.log, err


@case()
def read_only_property_error():
    class P:
        @property
        def x(self):
            return 1

    p = P()
    p.x = 3


@case()
def cached_property():
    import functools

    class C:
        calls = 0

        @functools.cached_property
        def heavy(self):
            C.calls += 1
            return sum(i * 0.5 for i in range(10))

    c = C()
    return c.heavy, c.heavy, C.calls


@dataclass(order=True)
class _Item:
    priority: float
    name: str = field(compare=False)
    tags: list = field(default_factory=list, compare=False)

    def bump(self, by=1.0):
        self.priority += by
        return self


@case()
def dataclass_basics():
    items = [_Item(3.0, "c"), _Item(1.5, "a", ["x"]), _Item(2.0, "b")]
    items[2].bump(5.0)
    return (sorted(items), [repr(i) for i in items], dataclasses.asdict(items[1]),
            items[0] == _Item(3.0, "other"), dataclasses.astuple(items[0]))


@case()
def dataclass_post_init_and_frozen():
    @dataclass(frozen=True)
    class Vec:
        x: float
        y: float
        norm: float = field(init=False)

        def __post_init__(self):
            object.__setattr__(self, "norm", math.hypot(self.x, self.y))

    v = Vec(3.0, 4.0)
    try:
        v.x = 1.0
    except dataclasses.FrozenInstanceError as e:
        err = (type(e).__name__, str(e))
    return v, v.norm, hash(v) == hash(Vec(3.0, 4.0)), err, dataclasses.replace(v, x=0.0)


@case()
def dataclass_missing_argument_error():
    return _Item()


@case()
def dataclass_slots_and_kw_only():
    @dataclass(slots=True, kw_only=True)
    class P:
        a: int
        b: float = 0.5

    p = P(a=1)
    try:
        p.c = 3
    except AttributeError as e:
        err = str(e)
    return p, P.__slots__, err


@case()
def slots_behaviour():
    class S:
        __slots__ = ("a", "b")

        def __init__(self):
            self.a = 1

    s = S()
    out = [s.a, hasattr(s, "b"), hasattr(s, "__dict__")]
    try:
        s.b
    except AttributeError as e:
        out.append(str(e))
    try:
        s.zz = 5
    except AttributeError as e:
        out.append(str(e))
    return out


class _Positive:
    def __set_name__(self, owner, name):
        self.name = "_" + name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return getattr(obj, self.name)

    def __set__(self, obj, value):
        if value <= 0:
            raise ValueError(f"{self.name[1:]} must be positive, got {value}")
        setattr(obj, self.name, value)


class _Account:
    balance = _Positive()
    rate = _Positive()

    def __init__(self, balance, rate):
        self.balance = balance
        self.rate = rate


@case(100.0, 0.05)
def descriptors_set_name_get_set(balance, rate):
    a = _Account(balance, rate)
    a.balance = a.balance * (1 + a.rate)
    return a.balance, vars(a), type(_Account.balance).__name__


@case()
def descriptor_validation_error():
    return _Account(10.0, -1.0)


@case()
def non_data_descriptor_and_getattr():
    class Lazy:
        def __get__(self, obj, owner):
            return "from descriptor"

    class C:
        attr = Lazy()

        def __getattr__(self, name):
            return f"fallback {name}"

    c = C()
    c.__dict__["attr"] = "instance"
    return c.attr, C().attr, c.missing


class _Vec:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __add__(self, o):
        if isinstance(o, _Vec):
            return _Vec(self.x + o.x, self.y + o.y)
        return NotImplemented

    def __radd__(self, o):
        if o == 0:
            return self
        return NotImplemented

    def __mul__(self, k):
        return _Vec(self.x * k, self.y * k)

    __rmul__ = __mul__

    def __matmul__(self, o):
        return self.x * o.x + self.y * o.y

    def __neg__(self):
        return _Vec(-self.x, -self.y)

    def __abs__(self):
        return math.hypot(self.x, self.y)

    def __eq__(self, o):
        return isinstance(o, _Vec) and (self.x, self.y) == (o.x, o.y)

    def __lt__(self, o):
        return abs(self) < abs(o)

    def __hash__(self):
        return hash((self.x, self.y))

    def __iadd__(self, o):
        self.x += o.x
        self.y += o.y
        return self

    def __bool__(self):
        return bool(self.x or self.y)

    def __repr__(self):
        return f"_Vec({self.x!r}, {self.y!r})"


@case(1.5, -2.0)
def operator_overloading(x, y):
    a, b = _Vec(x, y), _Vec(0.5, 4.0)
    c = a + b
    d = 2 * a
    e = a * 3.0
    s = sum([a, b, c])
    f = _Vec(1.0, 1.0)
    f += a
    return (repr(c), repr(d), repr(e), a @ b, repr(-a), abs(b), a < b, sorted([c, a, b]),
            repr(s), repr(f), bool(_Vec(0.0, 0.0)), a == _Vec(x, y), len({a, _Vec(x, y)}))


@case()
def operator_not_implemented_type_error():
    return _Vec(1.0, 2.0) + "s"


@case()
def container_protocol():
    class Grid:
        def __init__(self, n):
            self.n = n
            self.data = {}

        def __getitem__(self, key):
            i, j = key
            if not (0 <= i < self.n and 0 <= j < self.n):
                raise IndexError(f"{key} out of range")
            return self.data.get(key, 0.0)

        def __setitem__(self, key, v):
            self.data[key] = v

        def __delitem__(self, key):
            del self.data[key]

        def __len__(self):
            return self.n * self.n

        def __contains__(self, v):
            return v in self.data.values()

        def __iter__(self):
            for i in range(self.n):
                for j in range(self.n):
                    yield self[i, j]

        def __call__(self, scale):
            return [v * scale for v in self]

    g = Grid(2)
    g[0, 1] = 2.5
    g[1, 1] = -1.0
    del g[1, 1]
    out = [len(g), 2.5 in g, list(g), g(2.0)]
    try:
        g[5, 0]
    except IndexError as e:
        out.append(str(e))
    return out


@case()
def index_and_conversion_dunders():
    class Idx:
        def __index__(self):
            return 2

        def __float__(self):
            return 2.5

        def __int__(self):
            return 7

        def __complex__(self):
            return 1j

        def __round__(self, nd=None):
            return "rounded"

        def __format__(self, spec):
            return f"<{spec}>"

    i = Idx()
    return ([10, 20, 30][i], float(i), int(i), complex(i), round(i), f"{i:>5}",
            bin(i), range(10)[i], math.floor(float(i)))


@case()
def metaclass_and_class_decorator():
    class Meta(type):
        def __new__(mcls, name, bases, ns):
            ns["created_by"] = "Meta"
            return super().__new__(mcls, name, bases, ns)

        def __call__(cls, *a):
            inst = super().__call__(*a)
            inst.via_meta = True
            return inst

    def add_repr(cls):
        cls.__repr__ = lambda self: f"<{type(self).__name__} {vars(self)}>"
        return cls

    @add_repr
    class Thing(metaclass=Meta):
        def __init__(self, v):
            self.v = v

    return Thing.created_by, repr(Thing(3)), type(Thing).__name__


@case()
def class_attribute_vs_instance_attribute():
    class Counter:
        count = 0
        items = []

        def add(self, v):
            self.count += 1
            self.items.append(v)
            return self

    a, b = Counter().add(1).add(2), Counter().add(3)
    return a.count, b.count, Counter.count, Counter.items


@case()
def abstract_base_class_error():
    import abc

    class Shape(abc.ABC):
        @abc.abstractmethod
        def area(self):
            ...

    return Shape()


@case()
def enum_and_namedtuple():
    import enum
    from collections import namedtuple

    class Color(enum.Enum):
        RED = 1
        GREEN = 2

    P = namedtuple("P", "x y")
    p = P(1.5, y=2.5)
    return (Color(2).name, [c.value for c in Color], p._replace(x=0.0), p.x + p.y,
            P._fields, Color["RED"] is Color.RED)
