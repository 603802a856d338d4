/* framead.capture._scalar_tape: the reverse pass of real scalar nodes in C.
 *
 * run(nodes, k, ct, ops) walks the reverse-ordered node list of framead/reverse.py's step loop
 * from index k and applies, directly on the cotangent dict ct (value id -> cotangent), the
 * VJPs of nodes whose output and arguments are Python floats or np.float64 scalars and whose
 * rule has an opcode in ops (rule object -> opcode: framead's own rules only).
 * It returns the index of the first node it does not take (len(nodes) at the end); the
 * Python step loop runs that node and calls again. Where ops["arrays"] is true (the runs
 * framead/reverse.py makes inside np.errstate(all="ignore")), it also takes float64 array
 * nodes: the inline formulas on arrays of one shape and the fused region steps a[key],
 * a[key] = v (see "float64 array steps" below: NumPy's own operations, bit for bit).
 *
 * Exactness: each formula is the Python step's (framead/reverse_inline.py for the inline
 * ops, the rules' VJPs in rules/math_rules.py for the others), operation by operation, in
 * double precision (built with -ffp-contract=off: no fused multiply-add), with the same libm
 * calls the math module makes. Each intermediate carries whether Python would hold it as an
 * np.float64 (numpy wins a mixed float/np.float64 operation; math.* functions return float),
 * so cotangents come out with the step loop's types. Cotangents are accumulated in the step
 * loop's order: ct[tgt] = t if absent else o + t, argument by argument.
 *
 * Anything unusual is handed back before ct is touched: a node whose cotangent or
 * accumulated value is not a finite float/np.float64, any non-finite result (where Python
 * may raise ZeroDivisionError, OverflowError or ValueError, or a rule replaces a nan), a
 * pow whose result is not a normal double (CPython raises on ERANGE). The Python step then
 * runs that node as before, errors and their notes included.
 *
 * forward_active(nodes, wrt) is framead.ir.forward_active over a node list, in C.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>   /* PyMemberDef (3.11) */
#include <math.h>
#include <float.h>
#include <string.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <numpy/arrayscalars.h>

/* opcodes: keep in step with framead/reverse.py (_SCALAR_OPCODES) */
enum {
    OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_NEG, OP_POS, OP_SIN, OP_COS, OP_EXP, OP_POW,
    /* rules/math_rules.py, library rules only */
    OP_TANH = 20, OP_SQRT, OP_LOG, OP_SINH, OP_COSH, OP_LOG1P, OP_EXPM1, OP_TAN, OP_ATAN,
    OP_LOG2, OP_LOG10,
    /* framead/reverse.py's fused accumulators (_acc_getitem, _acc_setitem), one element of a
       float64 array */
    OP_GETITEM = 40, OP_SETITEM,
    OP_VIEW_UPDATE,   /* the view_update of a view a[key]: _acc_setitem's step too */
    /* np.sum(a) and np.sum(a, axis=k) of a float64 array (library rule only) */
    OP_SUM = 50,
    /* NumPy's one-input ufuncs on float64 arrays of one shape (library rules only): their
       rules' VJPs (rules/numpy_rules.py UNARY, rules/families.py _scaled) */
    OP_AEXP = 51, OP_ASQRT, OP_ATANH, OP_ALOG,
};

static PyTypeObject *ValueType, *NodeType;
static Py_ssize_t off_v_id, off_v_kind, off_v_primal, off_v_shape, off_v_dtype;
static PyArray_Descr *f64_descr; /* np.dtype(float), the one 1-d fused steps take */
static PyObject *minus_one;      /* ct[-1]: the ids of the cotangent arrays the pass owns */
static Py_ssize_t off_n_rule, off_n_args, off_n_kwargs, off_n_outputs, off_n_multi, off_n_saved;
static double LN2, LN10;   /* math.log(2.0), math.log(10.0), as rules/math_rules.py has them */
static PyObject *str_ans, *str_arrays, *str_meta;
static PyObject *unbroadcast_fn;   /* rules.unbroadcast (setup's fifth argument) */
static int ready;

/* a __slots__ member read without attribute lookup (NULL when unset) */
#define SLOT(o, off) (*(PyObject **)((char *)(o) + (off)))

/* a real scalar as Python would hold it: its value and whether it is an np.float64 */
typedef struct { double v; int np; } TD;

static inline TD td(double v, int np) { TD r = {v, np}; return r; }
static inline TD add(TD a, TD b) { return td(a.v + b.v, a.np | b.np); }
static inline TD sub(TD a, TD b) { return td(a.v - b.v, a.np | b.np); }
static inline TD mul(TD a, TD b) { return td(a.v * b.v, a.np | b.np); }
static inline TD dvd(TD a, TD b) { return td(a.v / b.v, a.np | b.np); }
static inline TD neg(TD a) { return td(-a.v, a.np); }
static inline TD F(double v) { return td(v, 0); }   /* a Python float (a literal, math.*) */

/* float or np.float64, exactly */
static inline int as_td(PyObject *o, TD *r)
{
    if (PyFloat_CheckExact(o)) { *r = td(PyFloat_AS_DOUBLE(o), 0); return 1; }
    if (Py_IS_TYPE(o, &PyDoubleArrType_Type)) { *r = td(PyArrayScalar_VAL(o, Double), 1); return 1; }
    return 0;
}

/* a constant argument: also an int that converts to double exactly */
static inline int const_td(PyObject *o, TD *r)
{
    if (as_td(o, r))
        return 1;
    if (PyLong_CheckExact(o)) {
        int over = 0;
        long long v = PyLong_AsLongLongAndOverflow(o, &over);
        if (over || (v == -1 && PyErr_Occurred())) { PyErr_Clear(); return 0; }
        if (v > (1LL << 53) || v < -(1LL << 53))
            return 0;
        *r = td((double)v, 0);
        return 1;
    }
    return 0;
}

static PyObject *make(TD t)
{
    if (!t.np)
        return PyFloat_FromDouble(t.v);
    PyObject *o = PyArrayScalar_New(Double);
    if (o != NULL)
        PyArrayScalar_ASSIGN(o, Double, t.v);
    return o;
}

/* x ** n for a Python float x and an int n >= 2, as CPython's float_pow computes it;
 * np.float64 ** int is numpy's npy_pow, the same libm pow. Returns 0 when the result is
 * not a normal double (CPython raises OverflowError on ERANGE, subnormals included). */
static int ipow(TD x, long n, TD *r)
{
    double iv = x.v, iw = (double)n, ix;
    int negate = 0;
    if (!isfinite(iv) || iv == 0.0)
        return 0;
    if (!x.np && iv < 0.0) {
        iv = -iv;
        negate = (n & 1);
    }
    ix = pow(iv, iw);
    if (negate)
        ix = -ix;
    if (!isnormal(ix))
        return 0;
    *r = td(ix, x.np);
    return 1;
}

/* The inline formulas (framead/reverse_inline.py) of both arguments, in the Python
 * expressions' evaluation order: t[i] the cotangent of argument i, or same[i]: g itself.
 * x: the arguments (constants as they are), ans: the output; only what the formulas of the
 * traced arguments read need be set. pw: the int exponent of OP_POW. Returns 0 to hand
 * back (a power that is not a normal double). */
static int inline_formula(int op, long pw, TD g, const TD *x, TD ans, TD *t, int *same)
{
    switch (op) {
    case OP_ADD: same[0] = same[1] = 1; break;                       /* g, g */
    case OP_SUB: same[0] = 1; t[1] = neg(g); break;                  /* g, -g */
    case OP_MUL: t[0] = mul(g, x[1]); t[1] = mul(g, x[0]); break;    /* g*x1, g*x0 */
    case OP_DIV:                                                     /* g/x1, -g*ans/x1 */
        t[0] = dvd(g, x[1]);
        t[1] = dvd(mul(neg(g), ans), x[1]);
        break;
    case OP_NEG: t[0] = neg(g); break;
    case OP_POS: same[0] = 1; break;
    case OP_SIN: t[0] = mul(g, F(cos(x[0].v))); break;               /* g * math.cos(x0) */
    case OP_COS: t[0] = mul(neg(g), F(sin(x[0].v))); break;          /* -g * math.sin(x0) */
    case OP_EXP: t[0] = mul(g, ans); break;                          /* g * ans */
    case OP_POW:   /* g; g * 2 * x0; g * c * x0 ** (c - 1) */
        if (pw == 1)
            same[0] = 1;
        else if (pw == 2)
            t[0] = mul(mul(g, F(2.0)), x[0]);
        else {
            TD p;
            if (!ipow(x[0], pw - 1, &p))
                return 0;
            t[0] = mul(mul(g, F((double)pw)), p);
        }
        break;
    default: return 0;
    }
    return 1;
}

/* one argument's cotangent: the g object itself (same) or a computed scalar */
typedef struct { PyObject *tgt; PyObject *same; TD t; } Part;

/* The cotangents of node's arguments for the output cotangent g. Returns the number of
 * parts (0..2), or -1 to hand the node back to Python. */
static int vjp(int op, PyObject *node, PyObject *gobj, TD g, Part *parts)
{
    PyObject *args = SLOT(node, off_n_args), *out, *a;
    TD x[2] = {{0, 0}, {0, 0}}, ans = {0, 0}, t[2] = {{0, 0}, {0, 0}};
    int same[2] = {0, 0}, want[2] = {0, 0}, i;
    Py_ssize_t nargs, arity = (op == OP_ADD || op == OP_SUB || op == OP_MUL || op == OP_DIV ||
                               op == OP_POW) ? 2 : 1;
    long pw = 0;
    int up = 0;

    if (args == NULL || !PyTuple_CheckExact(args) || PyTuple_GET_SIZE(args) != arity)
        return -1;
    nargs = arity;
    out = PyTuple_GET_ITEM(SLOT(node, off_n_outputs), 0);
    /* the primals each formula reads (x0, x1, ans); constants are read as they are */
    int need_x0 = 0, need_x1 = 0, need_ans = 0;
    switch (op) {
    case OP_MUL: need_x0 = need_x1 = 1; break;
    case OP_DIV: need_x1 = need_ans = 1; break;
    case OP_SIN: case OP_COS: case OP_POW: case OP_SINH: case OP_COSH: case OP_LOG1P:
    case OP_ATAN: case OP_LOG: case OP_LOG2: case OP_LOG10: need_x0 = 1; break;
    case OP_EXP: case OP_TANH: case OP_SQRT: case OP_EXPM1: case OP_TAN: need_ans = 1; break;
    }
    if (op >= OP_TANH) {
        /* math.* returns float. families._scaled's _up(v, ans) makes g and the arguments
         * np.float64 when ans is the output's Meta (float64), i.e. "ans" is not saved; a
         * saved ans is a float, and _up leaves them as they are. */
        PyObject *saved = SLOT(node, off_n_saved);
        if (SLOT(out, off_v_kind) != (PyObject *)&PyFloat_Type || saved == NULL)
            return -1;
        int has = PySequence_Contains(saved, str_ans);
        if (has < 0) { PyErr_Clear(); return -1; }
        up = op != OP_LOG && !has;   /* math.log's VJP is _log_dx: no _up */
    }
    for (i = 0; i < nargs; i++) {
        a = PyTuple_GET_ITEM(args, i);
        if (Py_IS_TYPE(a, ValueType)) {
            if (i == 1 && op == OP_POW)
                return -1;   /* x ** y in y: the rule's own VJP */
            PyObject *kind = SLOT(a, off_v_kind);
            if (kind != (PyObject *)&PyFloat_Type && kind != (PyObject *)&PyDoubleArrType_Type)
                return -1;
            want[i] = 1;
            /* the inline formulas need every primal a float or an np.float64, as
             * reverse_inline.inline_vjp does (not a float subclass, not dropped) */
            if (op < OP_TANH || (i == 0 ? need_x0 : need_x1)) {
                PyObject *p = SLOT(a, off_v_primal);
                TD xi;
                if (p == NULL || !as_td(p, &xi))
                    return -1;
                if ((i == 0 ? need_x0 : need_x1))
                    x[i] = xi;
            }
        }
        else if (i == 1 && op == OP_POW) {
            if (!PyLong_CheckExact(a))
                return -1;
            int over = 0;
            pw = PyLong_AsLongAndOverflow(a, &over);
            if (over || pw <= 0 || pw > 64) { PyErr_Clear(); return -1; }
        }
        else if (!const_td(a, &x[i]))
            return -1;
    }
    if (op == OP_POW)
        want[1] = 0;   /* an int exponent: no cotangent */
    if (up) {
        g.np = 1;
        x[0].np = x[1].np = 1;
    }
    if (need_ans || op < OP_TANH) {
        PyObject *p = SLOT(out, off_v_primal);
        if (p == NULL || !as_td(p, &ans))
            return -1;
    }
    switch (op) {   /* the formulas, in the Python expressions' evaluation order */
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_NEG: case OP_POS: case OP_SIN:
    case OP_COS: case OP_EXP: case OP_POW:
        if (!inline_formula(op, pw, g, x, ans, t, same))
            return -1;
        break;
    /* rules/math_rules.py: g * d(...) (families._scaled), or _log_dx's g / x */
    case OP_TANH: t[0] = mul(g, sub(F(1.0), mul(ans, ans))); break;      /* 1.0 - ans*ans */
    case OP_SQRT: t[0] = mul(g, dvd(F(0.5), ans)); break;                /* sdiv(0.5, ans) */
    case OP_LOG: t[0] = dvd(g, x[0]); break;                             /* g / x */
    case OP_SINH: t[0] = mul(g, F(cosh(x[0].v))); break;                 /* math.cosh(x) */
    case OP_COSH: t[0] = mul(g, F(sinh(x[0].v))); break;                 /* math.sinh(x) */
    case OP_LOG1P: t[0] = mul(g, dvd(F(1.0), add(F(1.0), x[0]))); break; /* 1.0/(1.0+x) */
    case OP_EXPM1: t[0] = mul(g, add(ans, F(1.0))); break;               /* ans + 1.0 */
    case OP_TAN: t[0] = mul(g, add(F(1.0), mul(ans, ans))); break;       /* 1.0 + ans*ans */
    case OP_ATAN:                                                        /* 1.0/(1.0+x*x) */
        t[0] = mul(g, dvd(F(1.0), add(F(1.0), mul(x[0], x[0]))));
        break;
    case OP_LOG2: t[0] = mul(g, dvd(F(1.0), mul(x[0], F(LN2)))); break;  /* 1.0/(x*_LN2) */
    case OP_LOG10: t[0] = mul(g, dvd(F(1.0), mul(x[0], F(LN10)))); break;
    default: return -1;
    }
    int n = 0;
    for (i = 0; i < nargs; i++) {
        if (!want[i])
            continue;
        if (!same[i] && !isfinite(t[i].v))
            return -1;   /* Python may raise here, or a rule substitutes a value */
        parts[n].tgt = SLOT(PyTuple_GET_ITEM(args, i), off_v_id);
        parts[n].same = same[i] ? gobj : NULL;
        parts[n].t = same[i] ? g : t[i];
        if (parts[n].tgt == NULL)
            return -1;
        n++;
    }
    return n;
}

/* Accumulate the parts on ct as the Python step does: pop ct[outid] (the cotangent gobj),
 * then ct[tgt] = t if absent else o + t, argument by argument. Every value is checked before
 * ct changes. Returns 1 done, 0 to hand the step back (ct untouched), -1 on error. */
static int commit(PyObject *ct, PyObject *outid, PyObject *gobj, Part *parts, int np_parts)
{
    PyObject *old[2] = {NULL, NULL};
    TD acc[2];
    int i;
    for (i = 0; i < np_parts; i++) {
        int dup = 0;
        if (i == 1) {
            dup = PyObject_RichCompareBool(parts[1].tgt, parts[0].tgt, Py_EQ);
            if (dup < 0)
                return -1;
        }
        if (dup) {   /* x * x: the second adds to what the first left */
            acc[1] = add(acc[0], parts[1].t);
            old[1] = Py_None;
        }
        else {
            PyObject *o = PyDict_GetItemWithError(ct, parts[i].tgt);
            TD ov;
            if (o == NULL && PyErr_Occurred())
                return -1;
            if (o == NULL || o == Py_None) {
                acc[i] = parts[i].t;
                old[i] = NULL;
                continue;
            }
            if (!as_td(o, &ov))
                return 0;
            acc[i] = add(ov, parts[i].t);
            old[i] = o;
        }
        if (!isfinite(acc[i].v))
            return 0;
    }
    /* commit: pop the output's cotangent, then ct[tgt] = t or o + t, in argument order */
    Py_INCREF(gobj);   /* a part may store this very object */
    if (PyDict_DelItem(ct, outid) < 0) { Py_DECREF(gobj); return -1; }
    for (i = 0; i < np_parts; i++) {
        PyObject *v;
        if (old[i] == NULL && parts[i].same != NULL) {
            v = parts[i].same;
            Py_INCREF(v);
        }
        else if ((v = make(acc[i])) == NULL) {
            Py_DECREF(gobj);
            return -1;
        }
        int rc = PyDict_SetItem(ct, parts[i].tgt, v);
        Py_DECREF(v);
        if (rc < 0) { Py_DECREF(gobj); return -1; }
    }
    Py_DECREF(gobj);
    return 1;
}

/* ------------------------------------------------------------------ fused a[i] steps
 * a[i] and a[i] = v for a float64 array a and one element i (an int for 1-d, a tuple of
 * ints), as framead/reverse.py's
 * _acc_getitem and _acc_setitem do them (the step loop's "getitem"/"setitem" steps), element
 * by element. Anything else (another shape or dtype, a cotangent that is no plain writeable
 * float64 array of a's length, a sum that is not finite, a cotangent already there that the
 * Python step would combine another way) is handed back before ct changes. */

/* ct[-1], made if absent (reverse._owned); borrowed, NULL on error */
static PyObject *owned(PyObject *ct)
{
    PyObject *own = PyDict_GetItemWithError(ct, minus_one);
    if (own == NULL && !PyErr_Occurred()) {
        if ((own = PySet_New(NULL)) == NULL)
            return NULL;
        int rc = PyDict_SetItem(ct, minus_one, own);
        Py_DECREF(own);
        if (rc < 0)
            return NULL;
    }
    return own;
}

#define FA_MAXDIMS 32

/* An array Value of float64 (not a view of anything else to it): its rank and shape in
   dims, else -1 */
static int arr_shape(PyObject *a, npy_intp *dims)
{
    PyObject *shape = SLOT(a, off_v_shape);
    if (!Py_IS_TYPE(a, ValueType) || SLOT(a, off_v_kind) != (PyObject *)&PyArray_Type ||
        SLOT(a, off_v_dtype) != (PyObject *)f64_descr || SLOT(a, off_v_id) == NULL ||
        shape == NULL || !PyTuple_CheckExact(shape) || PyTuple_GET_SIZE(shape) < 1 ||
        PyTuple_GET_SIZE(shape) > FA_MAXDIMS)
        return -1;
    int nd = (int)PyTuple_GET_SIZE(shape);
    for (int i = 0; i < nd; i++) {
        dims[i] = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, i));
        if (dims[i] < 0) { PyErr_Clear(); return -1; }
    }
    return nd;
}

/* The element index of key (an int for rank 1, else a tuple of one int per axis; negative
   from the end) in idx, in range: 1, else 0 */
static int element_index(PyObject *key, int nd, const npy_intp *dims, npy_intp *idx)
{
    PyObject *const *items = &key;
    if (!(nd == 1 && PyLong_CheckExact(key))) {
        if (!PyTuple_CheckExact(key) || PyTuple_GET_SIZE(key) != nd)
            return 0;
        items = &PyTuple_GET_ITEM(key, 0);
    }
    for (int k = 0; k < nd; k++) {
        if (!PyLong_CheckExact(items[k]))
            return 0;
        Py_ssize_t i = PyLong_AsSsize_t(items[k]);
        if (i == -1 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
        if (i < 0)
            i += dims[k];
        if (i < 0 || i >= dims[k])
            return 0;
        idx[k] = i;
    }
    return 1;
}

/* a plain aligned float64 ndarray of shape dims (writeable if asked) */
static int is_arr(PyObject *o, int nd, const npy_intp *dims, int writeable)
{
    if (!PyArray_CheckExact(o))
        return 0;
    PyArrayObject *a = (PyArrayObject *)o;
    if (PyArray_NDIM(a) != nd || PyArray_DESCR(a) != f64_descr || !PyArray_ISALIGNED(a) ||
        (writeable && !PyArray_ISWRITEABLE(a)))
        return 0;
    for (int k = 0; k < nd; k++)
        if (PyArray_DIM(a, k) != dims[k])
            return 0;
    return 1;
}

/* the element idx of array o */
static inline double *element(PyObject *o, const npy_intp *idx)
{
    return (double *)PyArray_GetPtr((PyArrayObject *)o, (npy_intp *)idx);
}

/* out = a[i]: ct[a][i] += g (ct[a] made as zeros when absent). 1 done, 0 handed back, -1 error */
static int getitem_step(PyObject *node, PyObject *ct, PyObject *outid, PyObject *gobj, TD g)
{
    PyObject *args = SLOT(node, off_n_args);
    npy_intp dims[FA_MAXDIMS], idx[FA_MAXDIMS];
    if (args == NULL || !PyTuple_CheckExact(args) || PyTuple_GET_SIZE(args) != 2)
        return 0;
    PyObject *a = PyTuple_GET_ITEM(args, 0);
    int nd = arr_shape(a, dims);
    if (nd < 0 || !element_index(PyTuple_GET_ITEM(args, 1), nd, dims, idx))
        return 0;
    PyObject *aid = SLOT(a, off_v_id);
    PyObject *o = PyDict_GetItemWithError(ct, aid);
    if (o == NULL && PyErr_Occurred())
        return -1;
    double *p = NULL, r;
    if (o != NULL && o != Py_None) {   /* o[key] += g in place, where the pass owns o */
        PyObject *own = PyDict_GetItemWithError(ct, minus_one);
        int in = own != NULL && PyAnySet_Check(own) ? PySet_Contains(own, aid) : 0;
        if (in <= 0 || !is_arr(o, nd, dims, 1))
            return in < 0 ? -1 : 0;
        p = element(o, idx);
        r = *p + g.v;
    }
    else
        r = 0.0 + g.v;
    if (!isfinite(r))
        return 0;
    Py_INCREF(gobj);
    int rc = PyDict_DelItem(ct, outid);
    Py_DECREF(gobj);
    PyObject *own = rc < 0 ? NULL : owned(ct);
    if (own == NULL)
        return -1;
    if (p == NULL) {
        PyObject *z = PyArray_ZEROS(nd, dims, NPY_DOUBLE, 0);
        if (z == NULL)
            return -1;
        rc = PyDict_SetItem(ct, aid, z);
        Py_DECREF(z);
        if (rc < 0 || PySet_Add(own, aid) < 0)
            return -1;
        p = element(z, idx);
    }
    *p = r;
    return 1;
}

/* ct[tgt] + t, or t where ct holds nothing (or None) for tgt: the sum an array step stores
 * (a new reference; NULL with an exception set). */
static PyObject *accumulated(PyObject *ct, PyObject *tgt, PyObject *t)
{
    PyObject *o = PyDict_GetItemWithError(ct, tgt);
    if (o == NULL)
        return PyErr_Occurred() ? NULL : Py_NewRef(t);
    return o == Py_None ? Py_NewRef(t) : PyNumber_Add(o, t);
}

/* out = np.sum(a) or np.sum(a, axis=k) (a float64 array, k an int): the rule's VJP
 * (rules/numpy_reduction_rules.py _sum_vjp: g with the summed axes made 1, broadcast back to
 * a's shape, a read-only view of g) and _run_steps's generic accumulation: ct[a] = t if
 * absent else o + t. 1 done, 0 handed back, -1 error. */
static int must_raise(void);

static int sum_step(PyObject *node, PyObject *ct, PyObject *outid)
{
    PyObject *args = SLOT(node, off_n_args), *kw = SLOT(node, off_n_kwargs), *a, *g;
    npy_intp dims[FA_MAXDIMS], strides[FA_MAXDIMS];
    long ax = -1;   /* -1: every axis (no axis given) */
    if (args == NULL || !PyTuple_CheckExact(args) || PyTuple_GET_SIZE(args) != 1 ||
        kw == NULL || !PyDict_CheckExact(kw) || PyDict_GET_SIZE(kw) > 1)
        return 0;
    a = PyTuple_GET_ITEM(args, 0);
    int nd = arr_shape(a, dims);
    if (nd < 1)
        return 0;
    if (PyDict_GET_SIZE(kw) == 1) {
        PyObject *axis = PyDict_GetItemString(kw, "axis");   /* (borrowed) */
        if (axis == NULL || !PyLong_CheckExact(axis))
            return 0;
        ax = PyLong_AsLong(axis);
        if (ax == -1 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
        if (ax < 0)
            ax += nd;
        if (ax < 0 || ax >= nd)
            return 0;
    }
    g = PyDict_GetItemWithError(ct, outid);
    if (g == NULL)
        return PyErr_Occurred() ? -1 : 0;
    PyArrayObject *ga;
    if (PyArray_CheckExact(g) && PyArray_DESCR((PyArrayObject *)g) == f64_descr)
        ga = (PyArrayObject *)Py_NewRef(g);
    else if (PyFloat_CheckExact(g) || Py_IS_TYPE(g, &PyDoubleArrType_Type)) {
        Py_INCREF(f64_descr);   /* (stolen) */
        ga = (PyArrayObject *)PyArray_FromAny(g, f64_descr, 0, 0, 0, NULL);
        if (ga == NULL) { PyErr_Clear(); return 0; }
    }
    else
        return 0;
    /* g's shape must be the result's: a's without the summed axis (none: every axis) */
    int gn = PyArray_NDIM(ga), ok = gn == (ax < 0 ? 0 : nd - 1);
    for (int k = 0, j = 0; ok && k < nd; k++) {
        if (ax < 0 || k == ax) {
            strides[k] = 0;
            continue;
        }
        ok = PyArray_DIM(ga, j) == dims[k];
        strides[k] = PyArray_STRIDE(ga, j);
        j++;
    }
    if (!ok) {
        Py_DECREF(ga);
        return 0;
    }
    Py_INCREF(f64_descr);   /* (stolen) */
    PyObject *t = PyArray_NewFromDescr(&PyArray_Type, f64_descr, nd, dims, strides,
                                       PyArray_DATA(ga), 0, NULL);   /* (flags 0: read-only) */
    if (t == NULL || PyArray_SetBaseObject((PyArrayObject *)t, (PyObject *)ga) < 0) {
        Py_XDECREF(t);   /* (SetBaseObject took ga even when it failed) */
        if (t == NULL)
            Py_DECREF(ga);
        return -1;
    }
    PyObject *aid = SLOT(a, off_v_id), *acc;
    acc = accumulated(ct, aid, t);
    Py_DECREF(t);
    if (acc == NULL) {
        if (must_raise())
            return -1;
        PyErr_Clear();   /* Python's step computes it again, and raises with its note */
        return 0;
    }
    int rc = PyDict_DelItem(ct, outid) < 0 || PyDict_SetItem(ct, aid, acc) < 0 ? -1 : 1;
    Py_DECREF(acc);
    return rc;
}

/* (a, key, v) of a setitem node, or of the view_update of a view a[key] (its recipe
   ("getitem", key)): framead/reverse_source.py setitem_parts. A new reference; NULL when the
   node is not one (an error set only when one occurred) */
static PyObject *setitem_args(int op, PyObject *node)
{
    PyObject *args = SLOT(node, off_n_args), *recipe, *kind;
    if (args == NULL || !PyTuple_CheckExact(args) || PyTuple_GET_SIZE(args) != 3)
        return NULL;
    if (op == OP_SETITEM)
        return Py_NewRef(args);
    recipe = PyTuple_GET_ITEM(args, 2);
    if (!PyTuple_CheckExact(recipe) || PyTuple_GET_SIZE(recipe) != 2 ||
        !PyUnicode_CheckExact(kind = PyTuple_GET_ITEM(recipe, 0)) ||
        PyUnicode_CompareWithASCIIString(kind, "getitem") != 0)
        return NULL;
    return PyTuple_Pack(3, PyTuple_GET_ITEM(args, 0), PyTuple_GET_ITEM(recipe, 1),
                        PyTuple_GET_ITEM(args, 1));
}

/* out = setitem(a, i, v) (i one element): ct[v] += g[i]; ct[a] = g with g[i] zeroed (g itself where the pass
   owns it). Taken where ct[a] is absent. 1 done, 0 handed back, -1 error */
static int setitem_step(PyObject *node, PyObject *args, PyObject *ct, PyObject *outid)
{
    PyObject *outs = SLOT(node, off_n_outputs);
    if (args == NULL || !PyTuple_CheckExact(args) || PyTuple_GET_SIZE(args) != 3 ||
        outs == NULL || !PyTuple_CheckExact(outs) || PyTuple_GET_SIZE(outs) != 1)
        return 0;
    PyObject *a = PyTuple_GET_ITEM(args, 0), *v = PyTuple_GET_ITEM(args, 2);
    npy_intp dims[FA_MAXDIMS], adims[FA_MAXDIMS], idx[FA_MAXDIMS];
    int nd = arr_shape(PyTuple_GET_ITEM(outs, 0), dims);
    if (nd < 0 || !element_index(PyTuple_GET_ITEM(args, 1), nd, dims, idx))
        return 0;
    int a_traced = Py_IS_TYPE(a, ValueType), v_traced = Py_IS_TYPE(v, ValueType);
    if (a_traced && (arr_shape(a, adims) != nd || memcmp(adims, dims, nd * sizeof(npy_intp))))
        return 0;
    PyObject *vid = NULL, *aid = a_traced ? SLOT(a, off_v_id) : NULL, *ov = NULL;
    TD acc = {0, 0};
    if (v_traced) {   /* a real scalar v: its cotangent g[i], an np.float64 */
        PyObject *shape = SLOT(v, off_v_shape), *kind = SLOT(v, off_v_kind);
        vid = SLOT(v, off_v_id);
        if (vid == NULL || shape == NULL || !PyTuple_CheckExact(shape) ||
            PyTuple_GET_SIZE(shape) != 0 ||
            (kind != (PyObject *)&PyFloat_Type && kind != (PyObject *)&PyDoubleArrType_Type))
            return 0;
    }
    else if (!as_td(v, &acc) && !PyLong_CheckExact(v))
        return 0;   /* (a constant v: float, np.float64 or int) */
    PyObject *g = PyDict_GetItemWithError(ct, outid);
    if (g == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!is_arr(g, nd, dims, 0))
        return 0;
    double gi = *element(g, idx);
    if (!isfinite(gi))
        return 0;
    TD gv = td(gi, 1);
    if (v_traced) {
        ov = PyDict_GetItemWithError(ct, vid);
        if (ov == NULL && PyErr_Occurred())
            return -1;
        if (ov != NULL && ov != Py_None) {
            TD o;
            if (!as_td(ov, &o))
                return 0;
            acc = add(o, gv);
            if (!isfinite(acc.v))
                return 0;
        }
        else {
            ov = NULL;
            acc = gv;
        }
    }
    if (a_traced) {
        PyObject *oa = PyDict_GetItemWithError(ct, aid);
        if (oa == NULL && PyErr_Occurred())
            return -1;
        if (oa != NULL && oa != Py_None)
            return 0;   /* o += ga or o + ga: the Python step */
    }
    PyObject *own = owned(ct);
    if (own == NULL)
        return -1;
    int out_owned = PySet_Contains(own, outid);
    if (out_owned < 0)
        return -1;
    Py_INCREF(g);   /* popped, then (maybe) stored again as ct[a] */
    int rc = PyDict_DelItem(ct, outid);
    if (rc == 0 && v_traced) {
        PyObject *t = make(acc);
        rc = t == NULL ? -1 : PyDict_SetItem(ct, vid, t);
        Py_XDECREF(t);
        if (rc == 0 && ov != NULL)
            rc = PySet_Discard(own, vid) < 0 ? -1 : 0;
    }
    if (rc == 0 && a_traced) {
        PyObject *ga = out_owned && PyArray_ISWRITEABLE((PyArrayObject *)g)
                           ? Py_NewRef(g) : PyArray_NewCopy((PyArrayObject *)g, NPY_KEEPORDER);
        if (ga == NULL)
            rc = -1;
        else {
            *element(ga, idx) = 0.0;
            rc = PyDict_SetItem(ct, aid, ga);
            Py_DECREF(ga);
            if (rc == 0)
                rc = PySet_Add(own, aid);
        }
    }
    Py_DECREF(g);
    return rc < 0 ? -1 : 1;
}

/* ------------------------------------------------------------------ float64 array steps
 * Taken only when ops holds the key "arrays" (framead/reverse.py's _run_steps, inside
 * np.errstate(all="ignore"): NumPy's floating-point warnings never reach the user). Each
 * step makes the NumPy calls the Python step makes (PyNumber_* for the operators, item
 * get/set for o[key] += g), on the same objects and in the same order, so cotangents are
 * bit-identical. A node is taken only where the Python step loop would give it the same step
 * (reverse_steps._decide: INLINE from reverse_inline.inline_callables, GETITEM/SETITEM from
 * reverse_source.fused_kind), and only for plain float64 ndarrays; whatever could fail is
 * checked, or computed, before ct changes (a failure hands the node back: Python's step
 * raises, with its note). */

/* an ndarray Value of float64 (exactly: kind np.ndarray, dtype float64) */
static inline int f64_value(PyObject *a)
{
    return Py_IS_TYPE(a, ValueType) && SLOT(a, off_v_kind) == (PyObject *)&PyArray_Type &&
           SLOT(a, off_v_dtype) == (PyObject *)f64_descr && SLOT(a, off_v_id) != NULL &&
           SLOT(a, off_v_shape) != NULL && PyTuple_CheckExact(SLOT(a, off_v_shape));
}

/* two shape tuples equal: 1, else 0 */
static inline int same_shape(PyObject *s, PyObject *t)
{
    if (s == t)
        return 1;
    int r = PyObject_RichCompareBool(s, t, Py_EQ);
    if (r < 0) { PyErr_Clear(); return 0; }
    return r;
}

/* the shape tuple s broadcasts to the shape tuple t without growing it (each of its
   dimensions, aligned from the right, 1 or t's): 1, else 0 */
static int shape_broadcasts_to(PyObject *s, PyObject *t)
{
    Py_ssize_t ns = PyTuple_GET_SIZE(s), nt = PyTuple_GET_SIZE(t);
    if (ns > nt)
        return 0;
    for (Py_ssize_t k = 1; k <= ns; k++) {
        Py_ssize_t a = PyLong_AsSsize_t(PyTuple_GET_ITEM(s, ns - k));
        Py_ssize_t d = PyLong_AsSsize_t(PyTuple_GET_ITEM(t, nt - k));
        if ((a == -1 || d == -1) && PyErr_Occurred()) { PyErr_Clear(); return 0; }
        if (a != 1 && a != d)
            return 0;
    }
    return 1;
}

/* an exact float64 ndarray whose shape is the tuple shape (any strides, writeable or not) */
static int arr_of_shape(PyObject *o, PyObject *shape)
{
    if (!PyArray_CheckExact(o) || PyArray_DESCR((PyArrayObject *)o) != f64_descr)
        return 0;
    Py_ssize_t nd = PyTuple_GET_SIZE(shape);
    if (PyArray_NDIM((PyArrayObject *)o) != nd)
        return 0;
    for (Py_ssize_t k = 0; k < nd; k++) {
        Py_ssize_t d = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, k));
        if (d == -1 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
        if (PyArray_DIM((PyArrayObject *)o, (int)k) != d)
            return 0;
    }
    return 1;
}

/* rules.unbroadcast(t, v.meta()) for a float64 array cotangent `t` of a float64 ndarray
   Value `v`, done as rules/shapes.py sum_to does it (np.add.reduce over the leading axes,
   then over the axes of length 1, keepdims; the same reductions, so the same sums): a new
   reference, or NULL with no exception where it leaves the case to the Python rule (another
   kind, a smaller cotangent to broadcast). */
static PyObject *add_reduce;   /* np.add.reduce (made on first use) */

static PyObject *
unbroadcast_value(PyObject *t, PyObject *v)
{
    if (!Py_IS_TYPE(v, ValueType))
        return NULL;
    PyObject *shape = SLOT(v, off_v_shape);
    if (shape == NULL || !PyArray_CheckExact(t) || PyArray_DESCR((PyArrayObject *)t) != f64_descr ||
        SLOT(v, off_v_kind) != (PyObject *)&PyArray_Type ||
        SLOT(v, off_v_dtype) != (PyObject *)f64_descr || !PyTuple_CheckExact(shape))
        return NULL;
    Py_ssize_t nd = PyTuple_GET_SIZE(shape), lead = PyArray_NDIM((PyArrayObject *)t) - nd;
    if (lead < 0)
        return NULL;
    if (add_reduce == NULL) {
        PyObject *np = PyImport_ImportModule("numpy"), *add = NULL;
        if (np != NULL && (add = PyObject_GetAttrString(np, "add")) != NULL)
            add_reduce = PyObject_GetAttrString(add, "reduce");
        Py_XDECREF(add);
        Py_XDECREF(np);
        if (add_reduce == NULL) {
            PyErr_Clear();
            return NULL;
        }
    }
    PyObject *g = Py_NewRef(t), *axes = NULL, *r;
    if (lead > 0) {   /* g.sum(axis=tuple(range(lead))) */
        if ((axes = PyTuple_New(lead)) == NULL)
            goto fail;
        for (Py_ssize_t k = 0; k < lead; k++)
            PyTuple_SET_ITEM(axes, k, PyLong_FromSsize_t(k));
        r = PyObject_CallFunctionObjArgs(add_reduce, g, axes, NULL);
        Py_CLEAR(axes);
        Py_SETREF(g, r);
        if (g == NULL || !PyArray_CheckExact(g))
            goto fail;
    }
    Py_ssize_t n1 = 0;   /* the axes of length 1 the cotangent has longer */
    for (Py_ssize_t k = 0; k < nd; k++) {
        Py_ssize_t d = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, k));
        if (d == -1 && PyErr_Occurred())
            goto fail;
        if (d == 1 && PyArray_DIM((PyArrayObject *)g, (int)k) != 1)
            n1++;
    }
    if (n1 > 0) {   /* g.sum(axis=axes, keepdims=True) */
        if ((axes = PyTuple_New(n1)) == NULL)
            goto fail;
        for (Py_ssize_t k = 0, j = 0; k < nd; k++)
            if (PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, k)) == 1 &&
                PyArray_DIM((PyArrayObject *)g, (int)k) != 1)
                PyTuple_SET_ITEM(axes, j++, PyLong_FromSsize_t(k));
        r = PyObject_CallFunctionObjArgs(add_reduce, g, axes, Py_None, Py_None, Py_True, NULL);
        Py_CLEAR(axes);
        Py_SETREF(g, r);
        if (g == NULL)
            goto fail;
    }
    if (arr_of_shape(g, shape))
        return g;
fail:
    Py_XDECREF(axes);
    Py_XDECREF(g);
    PyErr_Clear();
    return NULL;
}


/* whether the float64 array `a` (a step's result) holds a NaN: 1 also when it cannot tell
   (another type, or not one contiguous block) */
static int may_hold_nan(PyObject *a)
{
    if (!PyArray_CheckExact(a) || PyArray_DESCR((PyArrayObject *)a) != f64_descr ||
        !(PyArray_IS_C_CONTIGUOUS((PyArrayObject *)a) ||
          PyArray_IS_F_CONTIGUOUS((PyArrayObject *)a)))
        return 1;
    const double *d = (const double *)PyArray_DATA((PyArrayObject *)a);
    npy_intp n = PyArray_SIZE((PyArrayObject *)a);
    for (npy_intp k = 0; k < n; k++)
        if (isnan(d[k]))
            return 1;
    return 0;
}

/* an exact float64 ndarray that broadcasts to the tuple shape without growing it (each of its
   dimensions, aligned from the right, 1 or shape's): an inline formula's constant array */
static int arr_broadcasts_to(PyObject *o, PyObject *shape)
{
    if (!PyArray_CheckExact(o) || PyArray_DESCR((PyArrayObject *)o) != f64_descr)
        return 0;
    Py_ssize_t nd = PyTuple_GET_SIZE(shape), od = PyArray_NDIM((PyArrayObject *)o);
    if (od > nd)
        return 0;
    for (Py_ssize_t k = 1; k <= od; k++) {
        Py_ssize_t d = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, nd - k));
        Py_ssize_t a = PyArray_DIM((PyArrayObject *)o, (int)(od - k));
        if (d == -1 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
        if (a != 1 && a != d)
            return 0;
    }
    return 1;
}

/* ints (not bools) and slices of Nones and ints, or a tuple of them: a basic key
   (rules.primitives.is_basic_key) of the kinds taken here */
static int plain_index(PyObject *k)
{
    if (PyLong_CheckExact(k))
        return 1;
    if (PySlice_Check(k)) {
        PySliceObject *s = (PySliceObject *)k;
        return (s->start == Py_None || PyLong_CheckExact(s->start)) &&
               (s->stop == Py_None || PyLong_CheckExact(s->stop)) &&
               (s->step == Py_None || PyLong_CheckExact(s->step));
    }
    return 0;
}

/* `nones`: Nones also allowed among a tuple's items (u[:, None]: a read's key, which
   _acc_getitem indexes with as it is) */
static int basic_key(PyObject *key, int nones)
{
    if (!PyTuple_CheckExact(key))
        return plain_index(key);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(key); i++) {
        PyObject *k = PyTuple_GET_ITEM(key, i);
        if (!(nones && k == Py_None) && !plain_index(k))
            return 0;
    }
    return 1;
}

/* whether a KeyboardInterrupt (or the like) must go on rather than be handed back */
static int must_raise(void)
{
    return PyErr_ExceptionMatches(PyExc_KeyboardInterrupt) ||
           PyErr_ExceptionMatches(PyExc_MemoryError);
}

/* id in ct[-1] (borrowed own, may be NULL): 1, 0, -1 error */
static int is_owned(PyObject *own, PyObject *id)
{
    if (own == NULL || !PyAnySet_Check(own))
        return 0;
    return PySet_Contains(own, id);
}

/* A constant argument of an inline formula: float, int (not bool) or np.float64, exactly
   (reverse_inline._forms; an np.float64 subclass is handed back) */
static inline int plain_const(PyObject *a)
{
    return PyFloat_CheckExact(a) || PyLong_CheckExact(a) ||
           Py_IS_TYPE(a, &PyDoubleArrType_Type);
}

/* The inline formulas (reverse_inline._INLINE, pow by a positive int) on float64 arrays of
 * one shape (constants: plain scalars, or float64 arrays that broadcast to it), with the
 * Python lambdas' operations; accumulation as _run_steps's INLINE branch:
 * ct[tgt] = t if absent else o + t (new arrays: never in place). A traced argument of a
 * sum, difference or product that broadcasts to the output (x[i + 1:] - x[i], d * s[:, None])
 * is the rule's step instead (its VJP is the same formula: g, -g, g * y), summed back to the
 * argument's shape by rules.unbroadcast(t, arg.meta()), as _run_steps's generic branch does.
 * 1 done, 0 handed back, -1 error. */
static int array_inline_step(int op, PyObject *node, PyObject *ct, PyObject *out,
                             PyObject *outid)
{
    PyObject *args = SLOT(node, off_n_args), *shape = SLOT(out, off_v_shape);
    Py_ssize_t arity = (op == OP_NEG || op == OP_POS) ? 1 : 2;
    PyObject *x[2] = {NULL, NULL}, *ans, *g, *c = NULL;
    int traced[2] = {0, 0}, need[2] = {0, 0}, need_ans = 0, i, pw_over = 0;
    int bcast[2] = {0, 0};   /* a traced argument smaller than the output: unbroadcast */
    long pw = 0;
    if (args == NULL || !PyTuple_CheckExact(args) || PyTuple_GET_SIZE(args) != arity ||
        !f64_value(out) || PyTuple_GET_SIZE(shape) < 1)
        return 0;
    for (i = 0; i < arity; i++) {
        PyObject *a = PyTuple_GET_ITEM(args, i);
        if (Py_IS_TYPE(a, ValueType)) {
            if ((op == OP_POW && i == 1) || !f64_value(a))
                return 0;
            if (!same_shape(SLOT(a, off_v_shape), shape)) {
                if ((op != OP_ADD && op != OP_SUB && op != OP_MUL) || unbroadcast_fn == NULL ||
                        !shape_broadcasts_to(SLOT(a, off_v_shape), shape))
                    return 0;
                bcast[i] = 1;
            }
            traced[i] = 1;
            x[i] = SLOT(a, off_v_primal);   /* (NULL or None when not saved) */
        }
        else {
            if (!plain_const(a) && (op == OP_POW || !arr_broadcasts_to(a, shape)))
                return 0;
            x[i] = a;
        }
    }
    if (op == OP_POW) {   /* x ** c, c a positive int constant */
        c = x[1];
        if (!PyLong_CheckExact(c))
            return 0;
        pw = PyLong_AsLongAndOverflow(c, &pw_over);
        if (pw == -1 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
        if (pw_over < 0 || (!pw_over && pw <= 0))
            return 0;
        need[0] = pw_over || pw >= 2;
    }
    /* the primals the formulas of the traced arguments read (c * x needs c, not x) */
    switch (op) {
    case OP_MUL: need[0] = traced[1]; need[1] = traced[0]; break;
    case OP_DIV: need[1] = 1; need_ans = traced[1]; break;
    }
    for (i = 0; i < 2; i++)   /* (a constant: checked above) */
        if (need[i] && (x[i] == NULL || (traced[i] && !PyArray_CheckExact(x[i]))))
            return 0;
    ans = SLOT(out, off_v_primal);
    if (need_ans && (ans == NULL || !PyArray_CheckExact(ans)))
        return 0;
    g = PyDict_GetItemWithError(ct, outid);
    if (g == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!arr_of_shape(g, shape))
        return 0;
    Py_INCREF(g);

    /* the cotangents, then the sums, before ct changes */
    PyObject *t[2] = {NULL, NULL}, *acc[2] = {NULL, NULL}, *tgt[2] = {NULL, NULL}, *tmp;
    int ok = 1;
    for (i = 0; i < arity && ok; i++) {
        if (!traced[i])
            continue;
        tgt[i] = SLOT(PyTuple_GET_ITEM(args, i), off_v_id);
        switch (op) {
        case OP_ADD: case OP_POS: t[i] = Py_NewRef(g); break;               /* g */
        case OP_SUB: t[i] = i == 0 ? Py_NewRef(g) : PyNumber_Negative(g); break;
        case OP_NEG: t[i] = PyNumber_Negative(g); break;                    /* -g */
        case OP_MUL: t[i] = PyNumber_Multiply(g, x[1 - i]); break;          /* g * x */
        case OP_DIV:
            if (i == 0)
                t[i] = PyNumber_TrueDivide(g, x[1]);                        /* g / x1 */
            else if ((tmp = PyNumber_Negative(g)) != NULL) {                /* -g * ans / x1 */
                PyObject *m = PyNumber_Multiply(tmp, ans);
                Py_DECREF(tmp);
                if (m != NULL) {
                    t[i] = PyNumber_TrueDivide(m, x[1]);
                    Py_DECREF(m);
                }
            }
            break;
        case OP_POW:
            if (!need[0])
                t[i] = Py_NewRef(g);                                        /* g */
            else if ((tmp = PyNumber_Multiply(g, c)) != NULL) {   /* g * c */
                PyObject *p = NULL;
                if (!pw_over && pw == 2)                                /* g * 2 * x0 */
                    p = Py_NewRef(x[0]);
                else {                                           /* g * c * x0 ** (c - 1) */
                    PyObject *one = PyLong_FromLong(1), *e = NULL;
                    if (one != NULL)
                        e = PyNumber_Subtract(c, one);
                    Py_XDECREF(one);
                    if (e != NULL)
                        p = PyNumber_Power(x[0], e, Py_None);
                    Py_XDECREF(e);
                }
                if (p != NULL)
                    t[i] = PyNumber_Multiply(tmp, p);
                Py_XDECREF(p);
                Py_DECREF(tmp);
            }
            break;
        }
        if (t[i] != NULL && bcast[i]) {   /* summed back to the argument's shape */
            PyObject *u = unbroadcast_value(t[i], PyTuple_GET_ITEM(args, i));
            if (u == NULL) {
                PyObject *m = PyObject_CallMethodNoArgs(PyTuple_GET_ITEM(args, i), str_meta);
                u = m == NULL ? NULL
                              : PyObject_CallFunctionObjArgs(unbroadcast_fn, t[i], m, NULL);
                Py_XDECREF(m);
            }
            Py_SETREF(t[i], u);
        }
        if (t[i] == NULL)
            ok = 0;
    }
    /* a division's 0 / 0 (g 0 where the divisor is 0), a power's 0 * inf: the rule's
       cotangent is 0 there, as the Python step's formula (_nz,
       rules.families.no_cotangent_no_nan) makes it */
    for (i = 0; i < arity && ok && (op == OP_DIV || op == OP_POW); i++)
        if (t[i] != NULL && may_hold_nan(t[i]))
            ok = 0;
    for (i = 0; i < arity && ok; i++) {
        if (!traced[i])
            continue;
        if (i == 1 && tgt[0] != NULL && traced[0]) {
            int dup = PyObject_RichCompareBool(tgt[1], tgt[0], Py_EQ);
            if (dup < 0) { ok = 0; break; }
            if (dup) {   /* x * x: the second adds to what the first left */
                if ((acc[1] = PyNumber_Add(acc[0], t[1])) == NULL)
                    ok = 0;
                continue;
            }
        }
        if ((acc[i] = accumulated(ct, tgt[i], t[i])) == NULL)
            ok = 0;
    }
    int rc = 0;
    if (ok) {   /* pop the output's cotangent, then store the sums in argument order */
        rc = PyDict_DelItem(ct, outid) < 0 ? -1 : 1;
        for (i = 0; i < arity && rc > 0; i++)
            if (traced[i] && PyDict_SetItem(ct, tgt[i], acc[i]) < 0)
                rc = -1;
    }
    else if (must_raise())
        rc = -1;
    else
        PyErr_Clear();   /* Python's step computes it again, and raises with its note */
    for (i = 0; i < 2; i++) {
        Py_XDECREF(t[i]);
        Py_XDECREF(acc[i]);
    }
    Py_DECREF(g);
    return rc;
}

/* out = ufunc(x), x a traced float64 array of out's shape, no keyword arguments: the rule's
 * step (rules/families.py _scaled) with its operations: np.exp g * ans; np.sqrt
 * g * np.divide(0.5, ans); np.tanh g * (1 - ans * ans); np.log g * np.divide(1, x); a
 * cotangent holding a NaN is handed back (no_cotangent_no_nan decides it). Accumulation as
 * array_inline_step's. 1 done, 0 handed back, -1 error. */
static int array_unary_step(int op, PyObject *node, PyObject *ct, PyObject *out,
                            PyObject *outid)
{
    PyObject *args = SLOT(node, off_n_args), *shape = SLOT(out, off_v_shape), *a, *x, *g;
    PyObject *d = NULL, *t = NULL, *acc = NULL, *o, *tgt, *c;
    if (args == NULL || !PyTuple_CheckExact(args) || PyTuple_GET_SIZE(args) != 1 ||
        !f64_value(out) || PyTuple_GET_SIZE(shape) < 1)
        return 0;
    a = PyTuple_GET_ITEM(args, 0);
    if (!f64_value(a) || !same_shape(SLOT(a, off_v_shape), shape))
        return 0;
    x = op == OP_ALOG ? SLOT(a, off_v_primal) : SLOT(out, off_v_primal);   /* x or ans */
    if (x == NULL || !PyArray_CheckExact(x))
        return 0;
    g = PyDict_GetItemWithError(ct, outid);
    if (g == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!arr_of_shape(g, shape))
        return 0;
    Py_INCREF(g);
    tgt = SLOT(a, off_v_id);
    switch (op) {
    case OP_AEXP: d = Py_NewRef(x); break;                                 /* ans */
    case OP_ASQRT:                                                         /* 0.5 / ans */
        if ((c = PyFloat_FromDouble(0.5)) != NULL) {
            d = PyNumber_TrueDivide(c, x);
            Py_DECREF(c);
        }
        break;
    case OP_ATANH:                                                         /* 1 - ans * ans */
        if ((o = PyNumber_Multiply(x, x)) != NULL) {
            if ((c = PyLong_FromLong(1)) != NULL) {
                d = PyNumber_Subtract(c, o);
                Py_DECREF(c);
            }
            Py_DECREF(o);
        }
        break;
    case OP_ALOG:                                                          /* 1 / x */
        if ((c = PyLong_FromLong(1)) != NULL) {
            d = PyNumber_TrueDivide(c, x);
            Py_DECREF(c);
        }
        break;
    }
    if (d != NULL)
        t = PyNumber_Multiply(g, d);                                       /* g * d */
    Py_XDECREF(d);
    int rc = 0;
    if (t != NULL && !may_hold_nan(t) && (acc = accumulated(ct, tgt, t)) != NULL)
        rc = PyDict_DelItem(ct, outid) < 0 || PyDict_SetItem(ct, tgt, acc) < 0 ? -1 : 1;
    if (PyErr_Occurred() && rc != -1) {
        if (must_raise())
            rc = -1;
        else {
            PyErr_Clear();   /* Python's step computes it again, and raises with its note */
            rc = 0;
        }
    }
    Py_XDECREF(t);
    Py_XDECREF(acc);
    Py_DECREF(g);
    return rc;
}

/* out = a[key] (basic_key with Nones, a float64 array): _acc_getitem's ct[a][key] += g, as
 * `o[key] += g` runs (tmp = o[key]; tmp += g; o[key] = tmp), on ct[a] made as zeros when
 * absent, ct[a] where the pass owns it, or a copy of it (then the pass's own) where it is a
 * float64 array of a's shape the pass does not own (else handed back: Python's step
 * broadcasts and copies it). 1 done, 0 handed back, -1 error. */
static int array_getitem_step(PyObject *node, PyObject *ct, PyObject *out, PyObject *outid)
{
    PyObject *args = SLOT(node, off_n_args), *a, *key, *g, *o, *own, *aid;
    npy_intp dims[FA_MAXDIMS];
    if (args == NULL || !PyTuple_CheckExact(args) || PyTuple_GET_SIZE(args) != 2)
        return 0;
    a = PyTuple_GET_ITEM(args, 0);
    key = PyTuple_GET_ITEM(args, 1);
    int nd = arr_shape(a, dims);
    if (nd < 0 || SLOT(out, off_v_dtype) != (PyObject *)f64_descr || !basic_key(key, 1))
        return 0;
    aid = SLOT(a, off_v_id);
    g = PyDict_GetItemWithError(ct, outid);
    if (g == NULL)
        return PyErr_Occurred() ? -1 : 0;
    PyObject *okind = SLOT(out, off_v_kind), *oshape = SLOT(out, off_v_shape);
    if (okind == (PyObject *)&PyArray_Type) {
        if (oshape == NULL || !PyTuple_CheckExact(oshape) || !arr_of_shape(g, oshape))
            return 0;
    }
    else {
        TD s;
        if (okind != (PyObject *)&PyDoubleArrType_Type || !as_td(g, &s))
            return 0;
    }
    o = PyDict_GetItemWithError(ct, aid);
    if (o == NULL && PyErr_Occurred())
        return -1;
    if (o == Py_None)
        o = NULL;
    if ((own = owned(ct)) == NULL)
        return -1;
    int in = 0;
    if (o != NULL) {
        in = is_owned(own, aid);
        if (in < 0 || !is_arr(o, nd, dims, in))
            return in < 0 ? -1 : 0;
    }
    Py_INCREF(g);
    if (PyDict_DelItem(ct, outid) < 0) { Py_DECREF(g); return -1; }
    int rc = 1;
    if (o == NULL || !in) {   /* zeros, or np.array(o, copy=True): the pass's own */
        o = o == NULL ? PyArray_ZEROS(nd, dims, NPY_DOUBLE, 0)
                      : PyArray_NewCopy((PyArrayObject *)o, NPY_KEEPORDER);
        if (o == NULL || PyDict_SetItem(ct, aid, o) < 0 || PySet_Add(own, aid) < 0)
            rc = -1;
    }
    else
        Py_INCREF(o);
    if (rc > 0) {
        PyObject *tmp = PyObject_GetItem(o, key), *r = NULL;
        if (tmp != NULL)
            r = PyNumber_InPlaceAdd(tmp, g);
        if (r == NULL || PyObject_SetItem(o, key, r) < 0)
            rc = -1;
        Py_XDECREF(tmp);
        Py_XDECREF(r);
    }
    Py_XDECREF(o);
    Py_DECREF(g);
    return rc;
}

/* out = setitem(a, key, v) (basic key, float64 arrays): _acc_setitem. ct[v] += g[key]
 * (copied; unbroadcast (rules.unbroadcast, called) where v's shape or kind is not that of
 * g[key]); ct[a] += g with g[key] = 0 (g itself where the pass owns it, else a copy), in
 * place where the pass owns ct[a]. 1 done, 0 handed back, -1 error. */
static PyObject *zero_int;

static int array_setitem_step(PyObject *args, PyObject *ct, PyObject *out, PyObject *outid)
{
    PyObject *a, *key, *v, *g, *own, *shape;
    PyObject *aid = NULL, *vid = NULL, *ov = NULL, *oa = NULL;
    int a_traced, v_traced, v_array = 0, v_scalar = 0;
    if (args == NULL || !PyTuple_CheckExact(args) || PyTuple_GET_SIZE(args) != 3 ||
        !f64_value(out) || PyTuple_GET_SIZE(shape = SLOT(out, off_v_shape)) < 1)
        return 0;
    a = PyTuple_GET_ITEM(args, 0);
    key = PyTuple_GET_ITEM(args, 1);
    v = PyTuple_GET_ITEM(args, 2);
    if (!basic_key(key, 0) || PyList_CheckExact(v) || PyTuple_CheckExact(v))
        return 0;
    a_traced = Py_IS_TYPE(a, ValueType);
    v_traced = Py_IS_TYPE(v, ValueType);
    if (a_traced) {
        if (!f64_value(a) || !same_shape(SLOT(a, off_v_shape), shape))
            return 0;
        aid = SLOT(a, off_v_id);
    }
    else if (PyObject_TypeCheck(a, ValueType))
        return 0;
    if (v_traced) {
        PyObject *kind = SLOT(v, off_v_kind), *vs = SLOT(v, off_v_shape);
        vid = SLOT(v, off_v_id);
        if (vid == NULL || vs == NULL || !PyTuple_CheckExact(vs))
            return 0;
        v_array = f64_value(v);
        v_scalar = (kind == (PyObject *)&PyFloat_Type ||
                    kind == (PyObject *)&PyDoubleArrType_Type) && PyTuple_GET_SIZE(vs) == 0 &&
                   SLOT(v, off_v_dtype) == (PyObject *)f64_descr;
        if (!v_array && !v_scalar)
            return 0;
        if (aid != NULL) {
            int same = PyObject_RichCompareBool(aid, vid, Py_EQ);
            if (same != 0) {
                if (same < 0) PyErr_Clear();
                return 0;
            }
        }
        ov = PyDict_GetItemWithError(ct, vid);
        if (ov == NULL && PyErr_Occurred())
            return -1;
        if (ov == Py_None)
            ov = NULL;
        if (ov != NULL) {   /* a cotangent of v's own shape and kind */
            TD s;
            if (v_array ? !arr_of_shape(ov, vs) : !as_td(ov, &s))
                return 0;
        }
    }
    else if (PyObject_TypeCheck(v, ValueType))
        return 0;
    g = PyDict_GetItemWithError(ct, outid);
    if (g == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!arr_of_shape(g, shape))
        return 0;
    if ((own = owned(ct)) == NULL)
        return -1;
    int a_owned = 0;
    if (a_traced) {
        oa = PyDict_GetItemWithError(ct, aid);
        if (oa == NULL && PyErr_Occurred())
            return -1;
        if (oa == Py_None)
            oa = NULL;
        if (oa != NULL) {
            if (!arr_of_shape(oa, shape))
                return 0;
            if ((a_owned = is_owned(own, aid)) < 0)
                return -1;
            if (a_owned && !PyArray_ISWRITEABLE((PyArrayObject *)oa))
                return 0;   /* (Python's o += ga raises) */
        }
    }
    int out_owned = is_owned(own, outid);
    if (out_owned < 0)
        return -1;
    if (v_traced && unbroadcast_fn == NULL)
        return 0;

    int rc = 1;
    PyObject *gv = NULL, *t = NULL, *ga = NULL;
    Py_INCREF(g);
    Py_XINCREF(ov);
    Py_XINCREF(oa);
    if (PyDict_DelItem(ct, outid) < 0)
        rc = -1;
    if (rc > 0 && v_traced) {
        gv = PyObject_GetItem(g, key);
        if (gv == NULL)
            rc = -1;
        else if (PyArray_Check(gv)) {
            PyObject *cp = PyArray_NewCopy((PyArrayObject *)gv, NPY_CORDER);   /* .copy() */
            Py_SETREF(gv, cp);
            if (gv == NULL)
                rc = -1;
            else if (!PyArray_CheckExact(gv) || !v_array ||
                     !arr_of_shape(gv, SLOT(v, off_v_shape)))
                rc = 2;   /* unbroadcast */
        }
        else if (PyTuple_GET_SIZE(SLOT(v, off_v_shape)) != 0)
            rc = 2;
        if (rc == 2) {
            static PyObject *s_meta; /* (interned: see kept_bytes) */
            if (s_meta == NULL)
                s_meta = PyUnicode_InternFromString("meta");
            PyObject *meta = s_meta != NULL ? PyObject_CallMethodNoArgs(v, s_meta) : NULL;
            PyObject *u = NULL;
            if (meta != NULL)
                u = PyObject_CallFunctionObjArgs(unbroadcast_fn, gv, meta, NULL);
            Py_XDECREF(meta);
            Py_SETREF(gv, u);
            rc = gv == NULL ? -1 : 1;
        }
        if (rc > 0) {
            if (ov == NULL)
                rc = PyDict_SetItem(ct, vid, gv) < 0 ? -1 : 1;
            else if ((t = PyNumber_Add(ov, gv)) == NULL || PyDict_SetItem(ct, vid, t) < 0 ||
                     PySet_Discard(own, vid) < 0)
                rc = -1;
        }
    }
    if (rc > 0 && a_traced) {
        ga = out_owned && PyArray_ISWRITEABLE((PyArrayObject *)g)
                 ? Py_NewRef(g) : PyArray_NewCopy((PyArrayObject *)g, NPY_KEEPORDER);
        if (ga == NULL || PyObject_SetItem(ga, key, zero_int) < 0)
            rc = -1;
        else if (oa == NULL) {
            if (PyDict_SetItem(ct, aid, ga) < 0 || PySet_Add(own, aid) < 0)
                rc = -1;
        }
        else if (a_owned) {   /* o += ga: in place (ct[a] stays o) */
            PyObject *r = PyNumber_InPlaceAdd(oa, ga);
            if (r == NULL)
                rc = -1;
            Py_XDECREF(r);
        }
        else {
            Py_XSETREF(t, PyNumber_Add(oa, ga));
            if (t == NULL || PyDict_SetItem(ct, aid, t) < 0 || PySet_Discard(own, aid) < 0)
                rc = -1;
        }
    }
    Py_XDECREF(gv);
    Py_XDECREF(t);
    Py_XDECREF(ga);
    Py_XDECREF(ov);
    Py_XDECREF(oa);
    Py_DECREF(g);
    return rc;
}

/* the opcode of node's rule: ops[rule] (framead's own rule objects: a rule registered in
   place of one keeps its own VJP) */
static int opcode(PyObject *ops, PyObject *rule)
{
    PyObject *c = PyDict_GetItemWithError(ops, rule);
    if (c == NULL) {
        PyErr_Clear();
        return 0;
    }
    return PyLong_Check(c) ? (int)PyLong_AsLong(c) : 0;
}

/* Whether no cotangent reaches node (the step loop skips it): 1 skip, 0 not, -1 error. */
static int unreached(PyObject *node, PyObject *ct, int multi)
{
    PyObject *outs = SLOT(node, off_n_outputs);
    Py_ssize_t i, n;
    if (outs == NULL || !PyTuple_CheckExact(outs) || PyTuple_GET_SIZE(outs) == 0)
        return 0;
    n = multi ? PyTuple_GET_SIZE(outs) : 1;
    for (i = 0; i < n; i++) {
        PyObject *o = PyTuple_GET_ITEM(outs, i), *id;
        if (o == Py_None)
            continue;
        if (!Py_IS_TYPE(o, ValueType) || (id = SLOT(o, off_v_id)) == NULL)
            return 0;
        int has = PyDict_Contains(ct, id);
        if (has != 0)
            return has < 0 ? -1 : 0;
    }
    return 1;
}

static PyObject *run(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *nodes, *ct, *ops;
    Py_ssize_t k, n;
    if (nargs != 4 || !PyList_CheckExact(args[0]) || !PyDict_CheckExact(args[2]) ||
        !PyDict_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "run(nodes: list, k: int, ct: dict, ops: dict)");
        return NULL;
    }
    if (!ready) {
        PyErr_SetString(PyExc_RuntimeError, "_scalar_tape.setup() was not called");
        return NULL;
    }
    nodes = args[0]; ct = args[2]; ops = args[3];
    k = PyLong_AsSsize_t(args[1]);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    /* float64 array nodes too: only where the caller runs inside np.errstate(all="ignore") */
    PyObject *arr = PyDict_GetItemWithError(ops, str_arrays);
    if (arr == NULL && PyErr_Occurred())
        return NULL;
    int arrays = arr != NULL && PyObject_IsTrue(arr) == 1;
    n = PyList_GET_SIZE(nodes);
    for (; k < n; k++) {
        PyObject *node = PyList_GET_ITEM(nodes, k), *multi, *rule, *kw, *outs, *out, *gobj;
        Part parts[2];
        TD g;
        int op, np_parts, skip;
        if (!Py_IS_TYPE(node, NodeType) || (multi = SLOT(node, off_n_multi)) == NULL)
            break;
        int is_multi = PyObject_IsTrue(multi);
        if (is_multi < 0) { PyErr_Clear(); break; }
        skip = unreached(node, ct, is_multi);
        if (skip < 0)
            return NULL;
        if (skip)
            continue;
        if (is_multi)
            break;
        outs = SLOT(node, off_n_outputs);
        if (outs == NULL || !PyTuple_CheckExact(outs) || PyTuple_GET_SIZE(outs) != 1)
            break;
        out = PyTuple_GET_ITEM(outs, 0);   /* a Value: unreached() said it is in ct */
        kw = SLOT(node, off_n_kwargs);
        rule = SLOT(node, off_n_rule);
        if (rule == NULL || kw == NULL || !PyDict_Check(kw))
            break;
        if ((op = opcode(ops, rule)) == 0)
            break;
        if (op == OP_SUM) {   /* (its axis is a keyword argument) */
            int done = arrays ? sum_step(node, ct, SLOT(out, off_v_id)) : 0;
            if (done < 0)
                return NULL;
            if (!done)
                break;
            continue;
        }
        if (PyDict_GET_SIZE(kw) != 0)
            break;
        if (op == OP_SETITEM || op == OP_VIEW_UPDATE) {
            PyObject *sargs = setitem_args(op, node);
            if (sargs == NULL) {
                if (PyErr_Occurred())
                    return NULL;
                break;
            }
            int done = setitem_step(node, sargs, ct, SLOT(out, off_v_id));
            if (done == 0 && arrays)
                done = array_setitem_step(sargs, ct, out, SLOT(out, off_v_id));
            Py_DECREF(sargs);
            if (done < 0)
                return NULL;
            if (!done)
                break;
            continue;
        }
        {   /* the output is a real scalar (float or np.float64), or a float64 array */
            PyObject *kind = SLOT(out, off_v_kind);
            if (kind == (PyObject *)&PyArray_Type) {
                int done = 0;
                if (!arrays)
                    break;
                if (op == OP_GETITEM)
                    done = array_getitem_step(node, ct, out, SLOT(out, off_v_id));
                else if (op <= OP_POS || op == OP_POW)
                    done = array_inline_step(op, node, ct, out, SLOT(out, off_v_id));
                else if (op >= OP_AEXP && op <= OP_ALOG)
                    done = array_unary_step(op, node, ct, out, SLOT(out, off_v_id));
                if (done < 0)
                    return NULL;
                if (!done)
                    break;
                continue;
            }
            if (kind != (PyObject *)&PyFloat_Type && kind != (PyObject *)&PyDoubleArrType_Type)
                break;
            if (op >= OP_AEXP)   /* (array-only opcodes) */
                break;
        }
        gobj = PyDict_GetItemWithError(ct, SLOT(out, off_v_id));
        if (gobj == NULL || !as_td(gobj, &g) || !isfinite(g.v)) {
            if (PyErr_Occurred())
                return NULL;
            if (op == OP_GETITEM && arrays && gobj != NULL) {   /* (a non-finite element) */
                int done = array_getitem_step(node, ct, out, SLOT(out, off_v_id));
                if (done < 0)
                    return NULL;
                if (done)
                    continue;
            }
            break;
        }
        if (op == OP_GETITEM) {
            int done = getitem_step(node, ct, SLOT(out, off_v_id), gobj, g);
            if (done == 0 && arrays)
                done = array_getitem_step(node, ct, out, SLOT(out, off_v_id));
            if (done < 0)
                return NULL;
            if (!done)
                break;
            continue;
        }
        np_parts = vjp(op, node, gobj, g, parts);
        if (np_parts < 0) {
            if (PyErr_Occurred())
                return NULL;
            break;
        }
        int done = commit(ct, SLOT(out, off_v_id), gobj, parts, np_parts);
        if (done < 0)
            return NULL;
        if (!done)
            break;
    }
    return PyLong_FromSsize_t(k);
}

/* ------------------------------------------------------------------ replays
 * framead/replay_steps.py's step loops of long cached replays: values in the env list e by
 * value id (never Value objects), cotangents in ct by value id. */

/* e[i] for an index object i (NULL, no error, when it is no index of e) */
static inline PyObject *env_item(PyObject *e, PyObject *i)
{
    Py_ssize_t j;
    if (!PyLong_CheckExact(i))
        return NULL;
    j = PyLong_AsSsize_t(i);
    if (j < 0 || j >= PyList_GET_SIZE(e)) {
        PyErr_Clear();
        return NULL;
    }
    return PyList_GET_ITEM(e, j);
}

/* argument j of a B_INLINE step: e[i_j] when traced, else the constant c_j */
static inline int step_arg(PyObject *st, PyObject *e, int j, TD *r)
{
    PyObject *i = PyTuple_GET_ITEM(st, 2 + 2 * j), *x;
    if (i == Py_None)
        return const_td(PyTuple_GET_ITEM(st, 3 + 2 * j), r);
    x = env_item(e, i);
    return x != NULL && as_td(x, r);
}

/* replay_backward(steps, k, e, ct): the reverse steps from k on, B_INLINE steps of the
 * inline formulas (opcode st[10] > 0) applied here as replay_steps.run_backward applies them
 * (types, order and accumulation as run's), up to the first step left to Python, whose
 * index it returns (len(steps) at the end). A B_INLINE step is
 * (B_INLINE, out, i0, c0, i1, c1, ta, fa, tb, fb, op, ia, ib): ia/ib the argument index of
 * the cotangent targets ta/tb (ib -1: none). */
static PyObject *replay_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *steps, *e, *ct;
    Py_ssize_t k, n;
    if (nargs != 4 || !PyList_CheckExact(args[0]) || !PyList_CheckExact(args[2]) ||
        !PyDict_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "replay_backward(steps: list, k: int, e: list, ct: dict)");
        return NULL;
    }
    steps = args[0]; e = args[2]; ct = args[3];
    k = PyLong_AsSsize_t(args[1]);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    n = PyList_GET_SIZE(steps);
    for (; k < n; k++) {
        PyObject *st = PyList_GET_ITEM(steps, k), *gobj, *outid;
        TD g, x[2] = {{0, 0}, {0, 0}}, ans = {0, 0}, t[2] = {{0, 0}, {0, 0}};
        int same[2] = {0, 0}, idx[2], need[2] = {0, 0}, need_ans = 0, op, np_parts, j;
        long pw = 0;
        Part parts[2];
        if (!PyTuple_CheckExact(st) || PyTuple_GET_SIZE(st) != 13)
            break;
        op = (int)PyLong_AsLong(PyTuple_GET_ITEM(st, 10));
        if (op <= 0 || op > OP_POW) {
            PyErr_Clear();
            break;
        }
        outid = PyTuple_GET_ITEM(st, 1);
        gobj = PyDict_GetItemWithError(ct, outid);
        if (gobj == NULL) {
            if (PyErr_Occurred())
                return NULL;
            continue;   /* no cotangent reaches it: the Python step skips it too */
        }
        if (!as_td(gobj, &g) || !isfinite(g.v))
            break;
        idx[0] = (int)PyLong_AsLong(PyTuple_GET_ITEM(st, 11));
        idx[1] = (int)PyLong_AsLong(PyTuple_GET_ITEM(st, 12));
        np_parts = idx[1] >= 0 ? 2 : 1;
        if (op == OP_POW) {
            PyObject *c = PyTuple_GET_ITEM(st, 5);
            int over = 0;
            if (!PyLong_CheckExact(c))
                break;
            pw = PyLong_AsLongAndOverflow(c, &over);
            if (over || pw <= 0 || pw > 64) {
                PyErr_Clear();
                break;
            }
        }
        /* what the formulas of the traced arguments read */
        for (j = 0; j < np_parts; j++) {
            switch (op) {
            case OP_MUL: need[1 - idx[j]] = 1; break;
            case OP_DIV: need[1] = 1; need_ans |= idx[j] == 1; break;
            case OP_SIN: case OP_COS: need[0] = 1; break;
            case OP_EXP: need_ans = 1; break;
            case OP_POW: need[0] = pw >= 2; break;
            }
        }
        if ((need[0] && !step_arg(st, e, 0, &x[0])) || (need[1] && !step_arg(st, e, 1, &x[1])))
            break;
        if (need_ans) {
            PyObject *a = env_item(e, outid);
            if (a == NULL || !as_td(a, &ans))
                break;
        }
        if (!inline_formula(op, pw, g, x, ans, t, same))
            break;
        int ok = 1;
        for (j = 0; j < np_parts; j++) {
            int i = idx[j];
            if (i < 0 || i > 1 || (!same[i] && !isfinite(t[i].v))) {
                ok = 0;   /* Python may raise here */
                break;
            }
            parts[j].tgt = PyTuple_GET_ITEM(st, j == 0 ? 6 : 8);
            parts[j].same = same[i] ? gobj : NULL;
            parts[j].t = same[i] ? g : t[i];
        }
        if (!ok)
            break;
        int done = commit(ct, outid, gobj, parts, np_parts);
        if (done < 0)
            return NULL;
        if (!done)
            break;
    }
    return PyLong_FromSsize_t(k);
}

/* forward opcodes (framead/replay_steps.py _FWD_OPS): operator functions and math.* */
enum {
    FO_ADD = 1, FO_SUB, FO_MUL, FO_DIV, FO_NEG, FO_POS, FO_POW,
    FO_SIN = 20, FO_COS, FO_TAN, FO_EXP, FO_SQRT, FO_LOG, FO_TANH, FO_SINH, FO_COSH, FO_ATAN,
    FO_LOG2, FO_LOG10,
};
/* forward step kinds (replay_steps.py) */
enum { F_VV, F_VC, F_CV, F_V, F_CONST, F_CALL, F_FREE, F_ITEM };

/* an operand of a forward step: a float (np 0), np.float64 (np 1) or a small int (np 2) */
static inline int operand(PyObject *o, TD *r)
{
    if (as_td(o, r))
        return 1;
    if (const_td(o, r)) {
        r->np = 2;
        return 1;
    }
    return 0;
}

/* x ** y as Python computes it for finite operands, at least one a float and none an
 * np.float64 (CPython's float_pow), or with an np.float64 (numpy's npy_pow, the libm pow).
 * 0: hand back (zero, negative-to-fractional or non-finite cases, a result that is not a
 * normal double: CPython raises on ERANGE, numpy may warn). */
static int fpow(TD a, TD b, double *r)
{
    double iv = a.v, iw = b.v, ix;
    int negate = 0;
    if (!isfinite(iv) || !isfinite(iw) || iv == 0.0 || iw == 0.0)
        return 0;
    if (a.np == 1 || b.np == 1) {
        ix = pow(iv, iw);
    }
    else {
        if (iv < 0.0) {
            if (iw != floor(iw))
                return 0;   /* complex */
            iv = -iv;
            negate = fmod(fabs(iw), 2.0) == 1.0;
        }
        ix = pow(iv, iw);
        if (negate)
            ix = -ix;
    }
    if (!isnormal(ix))
        return 0;
    *r = ix;
    return 1;
}

/* The value of a forward step (a new reference), NULL without error to hand it back. */
static PyObject *fwd_value(int op, PyObject *xa, PyObject *xb)
{
    TD a, b;
    double r;
    int np;
    if (!operand(xa, &a))
        return NULL;
    if (op >= FO_SIN) {   /* math.*: a float or np.float64, a float result */
        double x = a.v;
        if (a.np == 2 || !isfinite(x))
            return NULL;
        switch (op) {
        case FO_SIN: r = sin(x); break;
        case FO_COS: r = cos(x); break;
        case FO_TAN: r = tan(x); break;
        case FO_EXP: r = exp(x); break;
        case FO_SQRT: if (x < 0.0) return NULL; r = sqrt(x); break;
        case FO_LOG: if (x <= 0.0) return NULL; r = log(x); break;
        case FO_TANH: r = tanh(x); break;
        case FO_SINH: r = sinh(x); break;
        case FO_COSH: r = cosh(x); break;
        case FO_ATAN: r = atan(x); break;
        case FO_LOG2: if (x <= 0.0) return NULL; r = log2(x); break;
        case FO_LOG10: if (x <= 0.0) return NULL; r = log10(x); break;
        default: return NULL;
        }
        if (!isfinite(r))
            return NULL;
        return PyFloat_FromDouble(r);
    }
    if (op == FO_NEG || op == FO_POS) {
        if (a.np == 2 || !isfinite(a.v))
            return NULL;
        if (op == FO_POS && a.np == 0) {   /* +x is x itself */
            Py_INCREF(xa);
            return xa;
        }
        return make(td(op == FO_NEG ? -a.v : a.v, a.np));
    }
    if (xb == NULL || !operand(xb, &b) || (a.np == 2 && b.np == 2) || !isfinite(a.v) ||
        !isfinite(b.v))
        return NULL;
    np = a.np == 1 || b.np == 1;
    switch (op) {
    case FO_ADD: r = a.v + b.v; break;
    case FO_SUB: r = a.v - b.v; break;
    case FO_MUL: r = a.v * b.v; break;
    case FO_DIV:
        if (b.v == 0.0)
            return NULL;   /* ZeroDivisionError, or numpy's warning */
        r = a.v / b.v;
        break;
    case FO_POW:
        if (!fpow(a, b, &r))
            return NULL;
        break;
    default: return NULL;
    }
    if (!isfinite(r))
        return NULL;
    /* numpy checks the floating-point status after each operation (np.errstate may make an
     * underflow raise): only results no flag but inexact can come with */
    if (np && (op == FO_MUL || op == FO_DIV) && !isnormal(r) &&
        !(r == 0.0 && (a.v == 0.0 || (op == FO_MUL && b.v == 0.0))))
        return NULL;
    return make(td(r, np));
}

/* e[o] = v (v a new reference) */
static inline int env_set(PyObject *e, PyObject *o, PyObject *v)
{
    Py_ssize_t j = PyLong_CheckExact(o) ? PyLong_AsSsize_t(o) : -1;
    if (j < 0 || j >= PyList_GET_SIZE(e)) {
        PyErr_Clear();
        Py_DECREF(v);
        return 0;
    }
    PyList_SetItem(e, j, v);   /* (steals v, releases the old value) */
    return 1;
}

/* replay_forward(steps, k, e, ops): the forward steps from k on whose work is plain: F_FREE,
 * F_CONST, F_ITEM of a list or tuple by an int or of an array by a basic key (ints and
 * slices of ints, or a tuple of them and Nones), and F_VV/F_VC/F_CV/F_V of an
 * operator or math function in ops (fn -> FO_* opcode) on floats and np.float64 scalars
 * computed as Python computes them; returns the index of the first step it leaves to Python
 * (any other step, operand or result: errors, warnings, guards stay Python's). */
static PyObject *replay_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *steps, *e, *ops;
    Py_ssize_t k, n;
    if (nargs != 4 || !PyList_CheckExact(args[0]) || !PyList_CheckExact(args[2]) ||
        !PyDict_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "replay_forward(steps: list, k: int, e: list, ops: dict)");
        return NULL;
    }
    steps = args[0]; e = args[2]; ops = args[3];
    k = PyLong_AsSsize_t(args[1]);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    n = PyList_GET_SIZE(steps);
    for (; k < n; k++) {
        PyObject *st = PyList_GET_ITEM(steps, k), *xa, *xb = NULL, *v, *c;
        long kind;
        int op;
        if (!PyTuple_CheckExact(st) || PyTuple_GET_SIZE(st) != 5)
            break;
        kind = PyLong_AsLong(PyTuple_GET_ITEM(st, 0));
        if (kind == F_FREE) {
            PyObject *ids = PyTuple_GET_ITEM(st, 2);
            Py_ssize_t j, m;
            if (!PyTuple_CheckExact(ids))
                break;
            m = PyTuple_GET_SIZE(ids);
            for (j = 0; j < m; j++)
                if (env_item(e, PyTuple_GET_ITEM(ids, j)) == NULL)
                    break;
            if (j < m)
                break;
            for (j = 0; j < m; j++)
                env_set(e, PyTuple_GET_ITEM(ids, j), Py_NewRef(Py_None));
            continue;
        }
        if (kind == F_CONST) {
            if (!env_set(e, PyTuple_GET_ITEM(st, 4), Py_NewRef(PyTuple_GET_ITEM(st, 2))))
                break;
            continue;
        }
        if (kind == F_ITEM) {
            PyObject *key = PyTuple_GET_ITEM(st, 3);
            if ((xa = env_item(e, PyTuple_GET_ITEM(st, 2))) == NULL)
                break;
            if (PyTuple_CheckExact(xa) || PyList_CheckExact(xa)) {
                if (!PyLong_CheckExact(key))
                    break;
                Py_ssize_t j = PyLong_AsSsize_t(key), m = Py_SIZE(xa);
                if (j == -1 && PyErr_Occurred()) { PyErr_Clear(); break; }
                if (j < 0)
                    j += m;
                if (j < 0 || j >= m)
                    break;   /* IndexError: Python's */
                v = Py_NewRef(PySequence_Fast_ITEMS(xa)[j]);
            }
            else if (PyArray_CheckExact(xa) && PyArray_NDIM((PyArrayObject *)xa) >= 1 &&
                     basic_key(key, 1)) {
                if ((v = PyObject_GetItem(xa, key)) == NULL) {
                    PyErr_Clear();   /* (no side effects: Python's step raises it again) */
                    break;
                }
            }
            else
                break;
            if (!env_set(e, PyTuple_GET_ITEM(st, 4), v))
                break;
            continue;
        }
        if (kind < F_VV || kind > F_V)
            break;
        c = PyDict_GetItemWithError(ops, PyTuple_GET_ITEM(st, 1));
        if (c == NULL) {
            PyErr_Clear();   /* (an unhashable callable: not ours) */
            break;
        }
        op = (int)PyLong_AsLong(c);
        switch (kind) {
        case F_VV:
            xa = env_item(e, PyTuple_GET_ITEM(st, 2));
            xb = env_item(e, PyTuple_GET_ITEM(st, 3));
            break;
        case F_VC:
            xa = env_item(e, PyTuple_GET_ITEM(st, 2));
            xb = PyTuple_GET_ITEM(st, 3);
            break;
        case F_CV:
            xa = PyTuple_GET_ITEM(st, 2);
            xb = env_item(e, PyTuple_GET_ITEM(st, 3));
            break;
        default:
            xa = env_item(e, PyTuple_GET_ITEM(st, 2));
        }
        if (xa == NULL || (kind != F_V && xb == NULL))
            break;
        if ((kind == F_V) != (op == FO_NEG || op == FO_POS || op >= FO_SIN))
            break;   /* the arity the function takes */
        if ((v = fwd_value(op, xa, xb)) == NULL) {
            if (PyErr_Occurred())
                return NULL;
            break;
        }
        if (!env_set(e, PyTuple_GET_ITEM(st, 4), v))
            break;
    }
    return PyLong_FromSsize_t(k);
}

/* framead.ir.forward_active: add the Values in tree (lists and tuples nest) to found */
static int any_active(PyObject *tree, PyObject *active, int depth)
{
    if (PyObject_TypeCheck(tree, ValueType)) {
        PyObject *id = SLOT(tree, off_v_id);
        if (id == NULL) {
            PyErr_SetString(PyExc_AttributeError, "id");
            return -1;
        }
        return PySet_Contains(active, id);
    }
    if (PyList_CheckExact(tree) || PyTuple_CheckExact(tree)) {
        if (depth > 200) {
            PyErr_SetString(PyExc_RecursionError, "nested too deeply");
            return -1;
        }
        Py_ssize_t i, n = PySequence_Fast_GET_SIZE(tree);
        for (i = 0; i < n; i++) {
            /* a list can change under a __hash__/__eq__ call: re-read its size */
            if (i >= PySequence_Fast_GET_SIZE(tree))
                break;
            PyObject *item = PySequence_Fast_ITEMS(tree)[i];
            Py_INCREF(item);
            int r = any_active(item, active, depth + 1);
            Py_DECREF(item);
            if (r != 0)
                return r;
        }
    }
    return 0;
}

static PyObject *forward_active(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *nodes, *wrt, *active, *out;
    Py_ssize_t i, j, n;
    if (nargs != 2 || !PyList_CheckExact(args[0]) || !PyList_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "forward_active(nodes: list, wrt: list)");
        return NULL;
    }
    if (!ready) {
        PyErr_SetString(PyExc_RuntimeError, "_scalar_tape.setup() was not called");
        return NULL;
    }
    nodes = args[0]; wrt = args[1];
    if ((active = PySet_New(NULL)) == NULL)
        return NULL;
    if ((out = PyList_New(0)) == NULL)
        goto fail;
    for (i = 0; i < PyList_GET_SIZE(wrt); i++) {
        PyObject *v = PyList_GET_ITEM(wrt, i), *id;
        if (!PyObject_TypeCheck(v, ValueType) || (id = SLOT(v, off_v_id)) == NULL) {
            PyErr_SetString(PyExc_TypeError, "forward_active: wrt holds a non-Value");
            goto fail;
        }
        if (PySet_Add(active, id) < 0)
            goto fail;
    }
    n = PyList_GET_SIZE(nodes);
    for (i = 0; i < n; i++) {
        PyObject *node = PyList_GET_ITEM(nodes, i), *nargs_, *outs;
        if (!PyObject_TypeCheck(node, NodeType) || (nargs_ = SLOT(node, off_n_args)) == NULL ||
            (outs = SLOT(node, off_n_outputs)) == NULL || !PyTuple_CheckExact(outs)) {
            PyErr_SetString(PyExc_TypeError, "forward_active: not a Node");
            goto fail;
        }
        Py_INCREF(node);
        int r = any_active(nargs_, active, 0);
        if (r > 0) {
            int live = 0;
            for (j = 0; j < PyTuple_GET_SIZE(outs); j++) {
                PyObject *o = PyTuple_GET_ITEM(outs, j), *id;
                if (o == Py_None)
                    continue;
                if (!PyObject_TypeCheck(o, ValueType) || (id = SLOT(o, off_v_id)) == NULL) {
                    PyErr_SetString(PyExc_TypeError, "forward_active: an output is no Value");
                    r = -1;
                    break;
                }
                live = 1;
                if (PySet_Add(active, id) < 0) { r = -1; break; }
            }
            if (r > 0 && live && PyList_Append(out, node) < 0)
                r = -1;
        }
        Py_DECREF(node);
        if (r < 0)
            goto fail;
    }
    Py_DECREF(active);
    return out;
fail:
    Py_DECREF(active);
    Py_XDECREF(out);
    return NULL;
}


/* capture/noise_check.py _suspects in C (its semantics exactly): whether a division by a traced
 * value has a catastrophic cancellation (a sum or difference of floats at most `cancelled`
 * times its larger operand, a zero result of zero operands included) among the three
 * operations of the known kinds that made its divisor. suspects(nodes, div, add, known,
 * cancelled) -> bool; div/add/known: frozensets of the rules' callables (add holds the
 * differences too, known all the kinds followed). A rule's fn is read once per rule object
 * (a small cache by address: the registry keeps rules alive). */
static PyObject *str_fn;

static int fn_class(PyObject *rule, PyObject *div, PyObject *add, PyObject *known,
                    PyObject **cache_rule, int *cache_cls)
{
    size_t h = ((size_t)rule >> 4) & 15;
    if (cache_rule[h] == rule)
        return cache_cls[h];
    int cls = 0;   /* 0 unknown, 1 known, 2 add, 3 div */
    PyObject *fn = PyObject_GetAttr(rule, str_fn);
    if (fn == NULL)
        PyErr_Clear();
    else {
        int k = PySet_Contains(known, fn);
        if (k > 0)
            cls = PySet_Contains(div, fn) > 0 ? 3 : PySet_Contains(add, fn) > 0 ? 2 : 1;
        PyErr_Clear();   /* (an unhashable callable: unknown) */
        Py_DECREF(fn);
    }
    cache_rule[h] = rule;
    cache_cls[h] = cls;
    return cls;
}

static double plain_float(PyObject *x)
{
    if (Py_IS_TYPE(x, ValueType))
        x = SLOT(x, off_v_primal);
    if (x != NULL && PyFloat_CheckExact(x))
        return PyFloat_AS_DOUBLE(x);
    if (x != NULL && Py_IS_TYPE(x, &PyDoubleArrType_Type))
        return PyArrayScalar_VAL(x, Double);
    return 0.0;
}

static PyObject *suspects(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PyList_CheckExact(args[0]) || !PyAnySet_Check(args[1]) ||
        !PyAnySet_Check(args[2]) || !PyAnySet_Check(args[3]) || !PyFloat_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError, "suspects(nodes, div, add, known, cancelled)");
        return NULL;
    }
    if (!ready) {
        PyErr_SetString(PyExc_RuntimeError, "_scalar_tape.setup() was not called");
        return NULL;
    }
    PyObject *nodes = args[0], *div = args[1], *add = args[2], *known = args[3];
    double cancelled = PyFloat_AS_DOUBLE(args[4]);
    PyObject *cache_rule[16] = {NULL};
    int cache_cls[16] = {0};
    Py_ssize_t i, j, n = PyList_GET_SIZE(nodes);
    int any_div = 0;
    for (i = 0; i < n && !any_div; i++) {
        PyObject *node = PyList_GET_ITEM(nodes, i), *rule;
        if (Py_IS_TYPE(node, NodeType) && (rule = SLOT(node, off_n_rule)) != NULL)
            any_div = fn_class(rule, div, add, known, cache_rule, cache_cls) == 3;
    }
    if (!any_div)
        Py_RETURN_FALSE;
    PyObject *near = PyDict_New();   /* Value id -> operations since a cancellation */
    if (near == NULL)
        return NULL;
    int found = 0;
    for (i = 0; i < n && !found; i++) {
        PyObject *node = PyList_GET_ITEM(nodes, i), *rule, *nargs_, *outs, *o, *oid, *v;
        if (!Py_IS_TYPE(node, NodeType) || (rule = SLOT(node, off_n_rule)) == NULL)
            continue;
        int cls = fn_class(rule, div, add, known, cache_rule, cache_cls);
        if (cls == 0)
            continue;
        nargs_ = SLOT(node, off_n_args);
        if (nargs_ == NULL || !PyTuple_Check(nargs_))
            continue;
        Py_ssize_t na = PyTuple_GET_SIZE(nargs_);
        if (cls == 3 && na == 2 && Py_IS_TYPE(PyTuple_GET_ITEM(nargs_, 1), ValueType) &&
                (oid = SLOT(PyTuple_GET_ITEM(nargs_, 1), off_v_id)) != NULL) {
            int r = PyDict_Contains(near, oid);
            if (r < 0) goto fail;
            if (r) { found = 1; break; }
        }
        outs = SLOT(node, off_n_outputs);
        if (outs == NULL || !PyTuple_Check(outs) || PyTuple_GET_SIZE(outs) != 1 ||
            (o = PyTuple_GET_ITEM(outs, 0)) == Py_None || !Py_IS_TYPE(o, ValueType) ||
            (oid = SLOT(o, off_v_id)) == NULL)
            continue;
        long steps = -1;
        if (PyDict_GET_SIZE(near)) {
            for (j = 0; j < na; j++) {
                PyObject *a = PyTuple_GET_ITEM(nargs_, j), *aid;
                if (!Py_IS_TYPE(a, ValueType) || (aid = SLOT(a, off_v_id)) == NULL)
                    continue;
                v = PyDict_GetItemWithError(near, aid);
                if (v == NULL) {
                    if (PyErr_Occurred()) goto fail;
                    continue;
                }
                long s = PyLong_AsLong(v);
                if (steps < 0 || s < steps)
                    steps = s;
            }
        }
        if (steps >= 0 && steps < 3) {
            PyObject *k = PyLong_FromLong(steps + 1);
            if (k == NULL || PyDict_SetItem(near, oid, k) < 0) { Py_XDECREF(k); goto fail; }
            Py_DECREF(k);
        }
        else if (cls == 2 && na == 2) {
            PyObject *out = SLOT(o, off_v_primal);
            if (out != NULL && (PyFloat_CheckExact(out) ||
                                Py_IS_TYPE(out, &PyDoubleArrType_Type))) {
                double x = fabs(plain_float(PyTuple_GET_ITEM(nargs_, 0)));
                double y = fabs(plain_float(PyTuple_GET_ITEM(nargs_, 1)));
                if (fabs(plain_float(out)) <= cancelled * (x > y ? x : y)) {
                    PyObject *k = PyLong_FromLong(0);
                    if (k == NULL || PyDict_SetItem(near, oid, k) < 0) {
                        Py_XDECREF(k);
                        goto fail;
                    }
                    Py_DECREF(k);
                }
            }
        }
    }
    Py_DECREF(near);
    return PyBool_FromLong(found);
fail:
    Py_DECREF(near);
    return NULL;
}

/* the byte offset of a __slots__ member of cls */
static int slot_offset(PyTypeObject *cls, const char *name, Py_ssize_t *off)
{
    PyObject *d = PyObject_GetAttrString((PyObject *)cls, name);
    if (d == NULL)
        return -1;
    if (!Py_IS_TYPE(d, &PyMemberDescr_Type) ||
        ((PyMemberDescrObject *)d)->d_member->type != 16 /* Py_T_OBJECT_EX */) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a __slots__ member", cls->tp_name, name);
        Py_DECREF(d);
        return -1;
    }
    *off = ((PyMemberDescrObject *)d)->d_member->offset;
    Py_DECREF(d);
    return 0;
}

static PyObject *setup(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if ((nargs != 4 && nargs != 5) || !PyType_Check(args[0]) || !PyType_Check(args[1]) ||
        (nargs == 5 && !PyCallable_Check(args[4]))) {
        PyErr_SetString(PyExc_TypeError, "setup(Value, Node, ln2, ln10[, unbroadcast])");
        return NULL;
    }
    PyTypeObject *v = (PyTypeObject *)args[0], *n = (PyTypeObject *)args[1];
    if (slot_offset(v, "id", &off_v_id) || slot_offset(v, "kind", &off_v_kind) ||
        slot_offset(v, "primal", &off_v_primal) || slot_offset(v, "shape", &off_v_shape) ||
        slot_offset(v, "dtype", &off_v_dtype) || slot_offset(n, "rule", &off_n_rule) ||
        slot_offset(n, "args", &off_n_args) || slot_offset(n, "kwargs", &off_n_kwargs) ||
        slot_offset(n, "outputs", &off_n_outputs) || slot_offset(n, "multi", &off_n_multi) ||
        slot_offset(n, "saved", &off_n_saved))
        return NULL;
    LN2 = PyFloat_AsDouble(args[2]);
    LN10 = PyFloat_AsDouble(args[3]);
    if (PyErr_Occurred())
        return NULL;
    Py_XSETREF(ValueType, (PyTypeObject *)Py_NewRef(v));
    Py_XSETREF(NodeType, (PyTypeObject *)Py_NewRef(n));
    if (nargs == 5)
        Py_XSETREF(unbroadcast_fn, Py_NewRef(args[4]));
    ready = 1;
    Py_RETURN_NONE;
}

/* kept_bytes(values, strided_base): capture/values.py ValueTable.bytes_kept in one pass: the
   nbytes of the distinct memory owners of the values' array primals (an owner: the end of
   the .base chain through ndarrays and as_strided's `strided_base` objects, as
   buffers.buffer_owner walks it). */
typedef struct { void *p; Py_ssize_t nbytes; } Owner;

static int
owner_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const Owner *)a)->p, y = (uintptr_t)((const Owner *)b)->p;
    return x < y ? -1 : x > y;
}

static PyObject *
kept_bytes(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_Check(args[0]) || (!PyType_Check(args[1]) && args[1] != Py_None)) {
        PyErr_SetString(PyExc_TypeError, "kept_bytes(values: list, strided_base: type | None)");
        return NULL;
    }
    /* interned once (a name string made for each call was kept by CPython's type attribute
       cache) */
    static PyObject *s_primal, *s_base;
    if (s_primal == NULL && (s_primal = PyUnicode_InternFromString("primal")) == NULL)
        return NULL;
    if (s_base == NULL && (s_base = PyUnicode_InternFromString("base")) == NULL)
        return NULL;
    PyObject *values = args[0], *strided = args[1] == Py_None ? NULL : args[1];
    Py_ssize_t n = PyList_GET_SIZE(values), k = 0;
    Owner *owners = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(Owner));
    if (owners == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(values) && k < n; i++) {
        PyObject *p = PyObject_GetAttr(PyList_GET_ITEM(values, i), s_primal);
        if (p == NULL) {
            PyMem_Free(owners);
            return NULL;
        }
        if (PyArray_Check(p)) {
            PyObject *a = p;   /* (each base is held by the array before it in the chain) */
            for (;;) {
                PyObject *b = PyArray_BASE((PyArrayObject *)a);
                if (b != NULL && strided != NULL && Py_TYPE(b) == (PyTypeObject *)strided) {
                    PyObject *bb = PyObject_GetAttr(b, s_base);
                    if (bb == NULL) {
                        PyErr_Clear();
                        break;
                    }
                    Py_DECREF(bb);   /* (strided base holds it) */
                    b = bb;
                }
                if (b == NULL || !PyArray_Check(b))
                    break;
                a = b;
            }
            owners[k].p = a;
            owners[k].nbytes = PyArray_NBYTES((PyArrayObject *)a);
            k++;
        }
        Py_DECREF(p);
    }
    qsort(owners, (size_t)k, sizeof(Owner), owner_cmp);
    long long total = 0;
    for (Py_ssize_t i = 0; i < k; i++)
        if (i == 0 || owners[i].p != owners[i - 1].p)
            total += owners[i].nbytes;
    PyMem_Free(owners);
    return PyLong_FromLongLong(total);
}

/* untracked_empty(obj): obj, an empty list, set or dict, no longer tracked by the cyclic
   collector: framead fills it only with objects that cannot refer back to it (untracked
   Values, ints). A recording holds thousands (a buffer's saved values and their ids); each
   full collection a long recording triggers would walk them all again. A non-empty one or
   another type is returned as it is. */
static PyObject *
untracked_empty(PyObject *mod, PyObject *obj)
{
    if (((PyList_CheckExact(obj) && PyList_GET_SIZE(obj) == 0) ||
         (PyAnySet_CheckExact(obj) && PySet_GET_SIZE(obj) == 0) ||
         (PyDict_CheckExact(obj) && PyDict_GET_SIZE(obj) == 0)) &&
        PyObject_GC_IsTracked(obj)) {
        PyObject_GC_UnTrack(obj);
    }
    return Py_NewRef(obj);
}

static PyMethodDef methods[] = {
    {"run", (PyCFunction)(void (*)(void))run, METH_FASTCALL,
     "run(nodes, k, ct, ops) -> int: apply the VJPs of real scalar nodes nodes[k:] on ct "
     "(float64 array nodes too where ops['arrays']), up to the first node it leaves to "
     "Python (whose index it returns)."},
    {"forward_active", (PyCFunction)(void (*)(void))forward_active, METH_FASTCALL,
     "forward_active(nodes, wrt) -> list: framead.ir.forward_active over a node list."},
    {"replay_backward", (PyCFunction)(void (*)(void))replay_backward, METH_FASTCALL,
     "replay_backward(steps, k, e, ct) -> int: a cached replay's B_INLINE reverse steps "
     "steps[k:] on ct, up to the first step it leaves to Python (whose index it returns)."},
    {"replay_forward", (PyCFunction)(void (*)(void))replay_forward, METH_FASTCALL,
     "replay_forward(steps, k, e, ops) -> int: a cached replay's plain forward steps "
     "steps[k:] on e, up to the first step it leaves to Python (whose index it returns)."},
    {"kept_bytes", (PyCFunction)(void (*)(void))kept_bytes, METH_FASTCALL,
     "kept_bytes(values, strided_base) -> int: the bytes of the distinct memory owners of "
     "the values' array primals (capture/values.py bytes_kept)."},
    {"untracked_empty", untracked_empty, METH_O,
     "untracked_empty(obj) -> obj: an empty list/set/dict the cyclic collector no longer "
     "tracks (framead fills it only with objects that cannot refer back)."},
    {"suspects", (PyCFunction)(void (*)(void))suspects, METH_FASTCALL,
     "suspects(nodes, div, add, known, cancelled) -> bool: capture/noise_check.py's "
     "_suspects (a division by a value made from a cancellation)."},
    {"setup", (PyCFunction)(void (*)(void))setup, METH_FASTCALL,
     "setup(Value, Node, ln2, ln10): the IR classes (their slot offsets) and constants."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scalar_tape",
    "The reverse pass of real scalar nodes in C (framead/reverse.py's step loop calls it).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__scalar_tape(void)
{
    import_array();
    if ((f64_descr = PyArray_DescrFromType(NPY_DOUBLE)) == NULL ||
        (minus_one = PyLong_FromLong(-1)) == NULL ||
        (str_ans = PyUnicode_InternFromString("ans")) == NULL ||
        (str_arrays = PyUnicode_InternFromString("arrays")) == NULL ||
        (str_meta = PyUnicode_InternFromString("meta")) == NULL ||
        (str_fn = PyUnicode_InternFromString("fn")) == NULL ||
        (zero_int = PyLong_FromLong(0)) == NULL)
        return NULL;
    return PyModule_Create(&module);
}
