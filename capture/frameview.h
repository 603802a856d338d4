/* frameview.h: what Python code sees of a frame that runs instrumented code (every supported
 * CPython, over the primitives of the version's frame header).
 *
 * The hook (fa_frame_install_code) makes a fresh frame run an instrumented copy of its code.
 * The copy's last constant is the rewriter's origin record (capture/rewriter.py, module
 * docstring): (FV_ORIGIN_MARKER, weakref to the original code, offset map). Once the
 * original is freed (a generator outliving its function and code), the frame shows the
 * instrumented code with instrumented offsets (consistent with each other; the positions are
 * the original ones), and f_lineno jumps are refused. fv_init() replaces, once per
 * process, the descriptors through which Python code reads a frame's code and offsets:
 *
 *   frame.f_code, generator.gi_code, coroutine.cr_code, async_generator.ag_code
 *       -> the original code object;
 *   frame.f_lasti, traceback.tb_lasti
 *       -> the offset in the original code (fwd map);
 *   frame.f_lineno = n
 *       -> CPython's own setter, run on the original code: the frame is shown the original
 *          code and offset while it checks the jump (same errors as natively) and picks the
 *          target; the target is then mapped to the start of that instruction's replacement;
 *   types.TracebackType(next, frame, lasti, lineno)
 *       -> lasti (an original offset, as tb_lasti reads) is stored as an instrumented one.
 *
 * Everything else about a frame (f_lineno, f_locals, tracebacks printed from C) reads the
 * instrumented code with the instrumented offset, which carries the original positions, so
 * it agrees. C code calling PyFrame_GetCode / PyGen_GetCode still gets the instrumented
 * code.
 */
#ifndef FRAMEAD_FRAMEVIEW_H
#define FRAMEAD_FRAMEVIEW_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

#ifndef FA_PY_MINOR
#  error "include the version's frame header (frame311.h, frame312.h, frame313.h) first"
#endif

/* capture/rewriter.py: ORIGIN_MARKER, START, NO_UNIT */
#define FV_ORIGIN_MARKER "__framead_origin__"
#define FV_START 0x80000000u
#define FV_NO_UNIT 0xFFFFFFFFu

typedef struct {
    PyCodeObject *orig; /* borrowed: alive while the weak reference in the record is */
    const char *fwd;    /* uint32 per instrumented code unit */
    const char *inv;    /* uint32 per original code unit */
    Py_ssize_t nfwd, ninv;
} fv_origin;

static PyObject *fv_marker; /* the interned marker string */

static inline uint32_t
fv_at(const char *map, Py_ssize_t i)
{
    uint32_t v;
    memcpy(&v, map + 4 * i, 4);
    return v;
}

/* Fill *o and return 1 when `co` is instrumented code with a valid origin record whose
   original is alive; -1 when the original was freed; 0 for any other code. */
static inline int
fv_origin_of(PyCodeObject *co, fv_origin *o)
{
    PyObject *consts = co->co_consts;
    Py_ssize_t n = PyTuple_GET_SIZE(consts);
    if (n == 0 || fv_marker == NULL) {
        return 0;
    }
    PyObject *rec = PyTuple_GET_ITEM(consts, n - 1);
    if (!PyTuple_CheckExact(rec) || PyTuple_GET_SIZE(rec) != 3 ||
        PyTuple_GET_ITEM(rec, 0) != fv_marker) {
        return 0;
    }
    PyObject *ref = PyTuple_GET_ITEM(rec, 1), *map = PyTuple_GET_ITEM(rec, 2);
    if (!PyWeakref_CheckRefExact(ref) || !PyBytes_CheckExact(map)) {
        return 0;
    }
    PyObject *orig = fa_weakref_target(ref); /* Py_None once the original is freed */
    if (!PyCode_Check(orig)) {
        return -1;
    }
    o->orig = (PyCodeObject *)orig;
    o->nfwd = Py_SIZE(co);
    o->ninv = Py_SIZE(orig);
    if (PyBytes_GET_SIZE(map) != 4 * (o->nfwd + o->ninv)) {
        return 0;
    }
    o->fwd = PyBytes_AS_STRING(map);
    o->inv = o->fwd + 4 * o->nfwd;
    return 1;
}

/* Instrumented byte offset -> original byte offset (others unchanged). */
static inline long
fv_offset_to_orig(const fv_origin *o, long lasti)
{
    if (lasti < 0 || (lasti & 1) || lasti / 2 >= o->nfwd) {
        return lasti;
    }
    return 2 * (long)(fv_at(o->fwd, lasti / 2) & ~FV_START);
}

/* Original byte offset -> an instrumented one reading back as it (or as the start of the
   instruction holding it). */
static inline long
fv_offset_from_orig(const fv_origin *o, long lasti)
{
    if (lasti < 0 || (lasti & 1) || lasti / 2 >= o->ninv) {
        return lasti;
    }
    for (Py_ssize_t x = lasti / 2; x >= 0; x--) {
        uint32_t v = fv_at(o->inv, x);
        if (v != FV_NO_UNIT) {
            return 2 * (long)(v & ~FV_START);
        }
    }
    return lasti;
}

/* A new reference to the code Python code should see for `code` (stolen). */
static PyObject *
fv_code_view(PyObject *code)
{
    fv_origin o;
    if (code != NULL && PyCode_Check(code) && fv_origin_of((PyCodeObject *)code, &o) > 0) {
        Py_SETREF(code, Py_NewRef((PyObject *)o.orig));
    }
    return code;
}

/* ------------------------------------------------------------------------ */
/* The replaced descriptors                                                  */

/* What a replaced descriptor was: its getset (getters/setters called directly) or the
   descriptor object itself (members: called through tp_descr_get/set). */
typedef struct {
    PyTypeObject *type;
    const char *name;
    PyObject *descr; /* the original descriptor (strong) */
    PyGetSetDef def; /* the replacement */
} fv_slot;

enum { FV_F_CODE, FV_F_LASTI, FV_F_LINENO, FV_GI_CODE, FV_CR_CODE, FV_AG_CODE, FV_TB_LASTI, FV_N };

static fv_slot fv_slots[FV_N];

static PyObject *
fv_orig_get(int k, PyObject *obj)
{
    PyObject *d = fv_slots[k].descr;
    return Py_TYPE(d)->tp_descr_get(d, obj, (PyObject *)Py_TYPE(obj));
}

static int
fv_orig_set(int k, PyObject *obj, PyObject *value)
{
    PyObject *d = fv_slots[k].descr;
    descrsetfunc set = Py_TYPE(d)->tp_descr_set;
    if (set == NULL) {
        PyErr_SetString(PyExc_AttributeError, "readonly attribute");
        return -1;
    }
    return set(d, obj, value);
}

static PyObject *
fv_get_code(PyObject *obj, void *k)
{
    return fv_code_view(fv_orig_get((int)(intptr_t)k, obj));
}

static int
fv_set_orig(PyObject *obj, PyObject *value, void *k)
{
    return fv_orig_set((int)(intptr_t)k, obj, value);
}

/* A byte offset read through the original descriptor, mapped with `code`'s origin record. */
static PyObject *
fv_offset_view(PyObject *res, PyCodeObject *code)
{
    fv_origin o;
    if (res == NULL || !PyLong_CheckExact(res) || fv_origin_of(code, &o) <= 0) {
        return res;
    }
    long v = PyLong_AsLong(res);
    if (v == -1 && PyErr_Occurred()) {
        Py_DECREF(res);
        return NULL;
    }
    Py_DECREF(res);
    return PyLong_FromLong(fv_offset_to_orig(&o, v));
}

static PyObject *
fv_frame_lasti(PyObject *f, void *k)
{
    PyObject *res = fv_orig_get(FV_F_LASTI, f);
    return fv_offset_view(res, fa_frame_code(((PyFrameObject *)f)->f_frame));
}

static PyObject *
fv_tb_lasti(PyObject *tb, void *k)
{
    PyObject *res = fv_orig_get(FV_TB_LASTI, tb);
    PyFrameObject *f = ((PyTracebackObject *)tb)->tb_frame;
    return f == NULL ? res : fv_offset_view(res, fa_frame_code(f->f_frame));
}

/* frame.f_lineno = n in an instrumented frame. CPython's setter does the whole job on the
   original code: the frame briefly holds the original code (the code is all the setter reads
   of it besides prev_instr and the stack; a finalizer run by a popped value sees the original
   code and original offsets, as f_code/f_lasti would show) and the original offset of where
   it stands, so the event check, the line lookup, the stack
   analysis (mark_stacks) and its errors are exactly the native ones, and the values it
   pops are those the native stack would hold (the instrumented stack at the start of an
   instruction's replacement is the native one, with the call probe where CPython keeps a
   NULL). The chosen original target is then mapped to the start of its replacement. A
   frame standing inside a replacement (only an 'opcode' event, which CPython refuses
   anyway) is shown the original instruction; should CPython accept it, it is refused. */
static int
fv_frame_set_lineno(PyObject *obj, PyObject *value, void *k)
{
    PyFrameObject *f = (PyFrameObject *)obj;
    fa_frame *fr = f->f_frame;
    PyCodeObject *code = fa_frame_code(fr);
    fv_origin o;
    setter set = ((PyGetSetDescrObject *)fv_slots[FV_F_LINENO].descr)->d_getset->set;
    void *closure = ((PyGetSetDescrObject *)fv_slots[FV_F_LINENO].descr)->d_getset->closure;
    int has = value == NULL ? 0 : fv_origin_of(code, &o);
    if (has == 0) {
        return set(obj, value, closure);
    }
    if (has < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "can't jump: the code this frame was instrumented from is gone");
        return -1;
    }
    Py_ssize_t u = fa_frame_unit(fr), ou = -1;
    int inside = 0;
    if (u >= 0) {
        if (u >= o.nfwd) {
            PyErr_SetString(PyExc_SystemError, "framead: frame offset outside its code");
            return -1;
        }
        uint32_t m = fv_at(o.fwd, u);
        inside = !(m & FV_START);
        ou = m & ~FV_START;
    }
    if (inside && fa_tracing_line_or_return(PyThreadState_Get())) {
        PyErr_SetString(PyExc_ValueError,
                        "can't jump from inside an instruction framead instrumented");
        return -1;
    }
    /* popping values can run finalizers: hold the original, which the frame shows meanwhile */
    PyCodeObject *orig = (PyCodeObject *)Py_NewRef((PyObject *)o.orig);
    fa_frame_set_code(fr, orig);
    fa_frame_set_unit(fr, ou);
    int r = set(obj, value, closure);
    Py_ssize_t t = fa_frame_unit(fr);
    fa_frame_set_code(fr, code);
    fa_frame_set_unit(fr, u);
    Py_DECREF(orig);
    if (r < 0) {
        return r;
    }
    /* 3.13 leaves the frame at the target's first unit, 3.11/3.12 one unit before it */
    if (t >= 0 && t < o.ninv && (fv_at(o.inv, t) & FV_START)) {
        fa_frame_set_unit(fr, fv_at(o.inv, t) & ~FV_START);
    }
    else if (t + 1 >= 0 && t + 1 < o.ninv && (fv_at(o.inv, t + 1) & FV_START)) {
        fa_frame_set_unit(fr, (Py_ssize_t)(fv_at(o.inv, t + 1) & ~FV_START) - 1);
    }
    else { /* a line table starting a line inside an instruction: its start */
        Py_ssize_t x = t < o.ninv ? t : o.ninv - 1;
        while (x > 0 && !(fv_at(o.inv, x) & FV_START)) {
            x--;
        }
        fa_frame_set_unit(fr, x < 0 ? 0 : (fv_at(o.inv, x) & ~FV_START));
    }
    return 0;
}

/* types.TracebackType(tb_next, tb_frame, tb_lasti, tb_lineno): tb_lasti is given as Python
   code reads offsets (original ones); stored as the instrumented offset reading back as it. */
static newfunc fv_tb_new0;

static PyObject *
fv_tb_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *res = fv_tb_new0(type, args, kwds);
    if (res != NULL && PyTraceBack_Check(res)) {
        PyTracebackObject *tb = (PyTracebackObject *)res;
        fv_origin o;
        if (tb->tb_frame != NULL && fv_origin_of(fa_frame_code(tb->tb_frame->f_frame), &o) > 0) {
            tb->tb_lasti = (int)fv_offset_from_orig(&o, tb->tb_lasti);
        }
    }
    return res;
}

/* ------------------------------------------------------------------------ */
/* Calls CPython would have inlined                                          */

/* CPython's CALL runs a Python function inline. While the callee runs, 3.11 and 3.12 leave
   the caller's position on the CALL's last inline cache entry (that is the caller's f_lasti,
   and its tb_lasti when the callee raises); 3.13 leaves it on the CALL itself. Under capture
   the CALL calls the call probe (a C call: the position stays on the CALL). The probe calls
   fv_inline_enter() before calling a function (or a method of one) the way CPython's CALL
   would, and fv_inline_leave() after: the caller's position is moved FA_INLINE_CALL_UNIT
   units on, within its kept CALL (a CALL of the original code, unit for unit in the offset
   map), while the callee runs, and moved back when the call failed before the callee ran
   (an argument error is raised from the CALL itself, natively too). Returns the unit
   fv_inline_leave() restores, or -1 when nothing moved. */
static inline Py_ssize_t
fv_inline_enter(PyThreadState *tstate, PyObject *callable)
{
    if (FA_INLINE_CALL_UNIT == 0) {
        return -1;
    }
    if (PyMethod_Check(callable)) {
        callable = PyMethod_GET_FUNCTION(callable);
    }
    if (!PyFunction_Check(callable)) {
        return -1;
    }
    fa_frame *fr = fa_current_frame(tstate);
    fv_origin o;
    if (fr == NULL || fv_origin_of(fa_frame_code(fr), &o) <= 0) {
        return -1;
    }
    Py_ssize_t u = fa_frame_unit(fr), c = FA_INLINE_CALL_UNIT;
    if (u < 0 || u + c >= o.nfwd) {
        return -1;
    }
    uint32_t at = fv_at(o.fwd, u) & ~FV_START, last = fv_at(o.fwd, u + c);
    if (last != at + (uint32_t)c) { /* not a kept CALL: a probe's own call */
        return -1;
    }
    fa_frame_set_unit(fr, u + c);
    return u;
}

static inline void
fv_inline_leave(PyThreadState *tstate, Py_ssize_t u, PyObject *res)
{
    if (u >= 0 && res == NULL && !fa_raised_has_traceback(tstate)) {
        fa_frame_set_unit(fa_current_frame(tstate), u);
    }
}

/* ------------------------------------------------------------------------ */
/* Installation                                                              */

static int
fv_replace(int k, PyTypeObject *type, const char *name, getter get, setter set)
{
    fv_slot *s = &fv_slots[k];
    PyObject *d = PyDict_GetItemString(fa_type_dict(type), name); /* borrowed */
    if (d == NULL || Py_TYPE(d)->tp_descr_get == NULL) {
        PyErr_Format(PyExc_RuntimeError, "framead: %s.%s is not a descriptor", type->tp_name,
                     name);
        return -1;
    }
    s->type = type;
    s->name = name;
    s->descr = Py_NewRef(d);
    s->def.name = name;
    s->def.get = get;
    s->def.set = set;
    s->def.doc = NULL;
    if (Py_IS_TYPE(d, &PyGetSetDescr_Type)) {
        s->def.doc = ((PyGetSetDescrObject *)d)->d_getset->doc;
    }
    else if (Py_IS_TYPE(d, &PyMemberDescr_Type)) {
        s->def.doc = ((PyMemberDescrObject *)d)->d_member->doc;
    }
    s->def.closure = (void *)(intptr_t)k;
    PyObject *nd = PyDescr_NewGetSet(type, &s->def);
    if (nd == NULL) {
        return -1;
    }
    int r = PyDict_SetItemString(fa_type_dict(type), name, nd);
    Py_DECREF(nd);
    PyType_Modified(type);
    return r;
}

/* real_code(frame): the code object a frame really runs (tests: f_code shows the original). */
static PyObject *
fv_m_real_code(PyObject *mod, PyObject *frame)
{
    if (!PyFrame_Check(frame)) {
        PyErr_SetString(PyExc_TypeError, "real_code(frame)");
        return NULL;
    }
    return Py_NewRef((PyObject *)fa_frame_code(((PyFrameObject *)frame)->f_frame));
}

static PyMethodDef fv_methods[] = {
    {"real_code", fv_m_real_code, METH_O,
     "real_code(frame) -> the code object the frame runs (instrumented under capture)."},
    {NULL, NULL, 0, NULL},
};

/* Install the frame views (once per process) and add real_code() to `module`. Returns 0,
   or -1 with an exception set. */
static int
fv_init(PyObject *module)
{
    if (PyModule_AddFunctions(module, fv_methods) < 0) {
        return -1;
    }
    if (fv_marker != NULL) {
        return 0;
    }
    PyObject *marker = PyUnicode_InternFromString(FV_ORIGIN_MARKER);
    if (marker == NULL) {
        return -1;
    }
    PyObject *f_lineno = PyDict_GetItemString(fa_type_dict(&PyFrame_Type), "f_lineno");
    if (f_lineno == NULL || !Py_IS_TYPE(f_lineno, &PyGetSetDescr_Type) ||
        ((PyGetSetDescrObject *)f_lineno)->d_getset->set == NULL) {
        Py_DECREF(marker);
        PyErr_SetString(PyExc_RuntimeError, "framead: frame.f_lineno is not a settable getset");
        return -1;
    }
    getter lineno_get = ((PyGetSetDescrObject *)f_lineno)->d_getset->get;
    if (fv_replace(FV_F_CODE, &PyFrame_Type, "f_code", fv_get_code, NULL) < 0 ||
        fv_replace(FV_F_LASTI, &PyFrame_Type, "f_lasti", fv_frame_lasti, NULL) < 0 ||
        fv_replace(FV_F_LINENO, &PyFrame_Type, "f_lineno", lineno_get, fv_frame_set_lineno) < 0 ||
        fv_replace(FV_GI_CODE, &PyGen_Type, "gi_code", fv_get_code, fv_set_orig) < 0 ||
        fv_replace(FV_CR_CODE, &PyCoro_Type, "cr_code", fv_get_code, fv_set_orig) < 0 ||
        fv_replace(FV_AG_CODE, &PyAsyncGen_Type, "ag_code", fv_get_code, fv_set_orig) < 0 ||
        fv_replace(FV_TB_LASTI, &PyTraceBack_Type, "tb_lasti", fv_tb_lasti, fv_set_orig) < 0) {
        Py_DECREF(marker);
        return -1;
    }
    fv_tb_new0 = PyTraceBack_Type.tp_new;
    PyTraceBack_Type.tp_new = fv_tb_new;
    PyType_Modified(&PyTraceBack_Type);
    fv_marker = marker;
    return 0;
}

#endif /* FRAMEAD_FRAMEVIEW_H */
