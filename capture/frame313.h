/* frame313.h: CPython 3.13's frame and thread-state facts (see frame311.h for the names).
 *
 * What moved since 3.12 (checked against 3.13.0's headers and behaviour):
 *  - f_code became f_executable (PyObject *: the code object); prev_instr became instr_ptr,
 *    which points at the instruction executing or about to begin (a fresh frame stands at
 *    unit 0, and f_lasti = 2 * (instr_ptr - _PyCode_CODE(co))).
 *  - The current frame lives in tstate->current_frame (the CFrame is gone).
 *  - As in 3.12 the evaluator clears and pops its frames; 3.13 exports the function that
 *    does it, _PyEval_FrameClearAndPop (fa_frame_abandon calls it).
 *  - A hooked frame costs 2 C recursion units against Py_C_RECURSION_LIMIT 10000 (about
 *    4996 levels without a refund).
 *  - _PyDict_MergeEx moved to internal/pycore_dict.h (still exported).
 *  - The free-threaded build (Py_GIL_DISABLED) is refused: framead's state relies on the GIL.
 */
#ifndef FRAMEAD_FRAME313_H
#define FRAMEAD_FRAME313_H

#include <Python.h>

#if PY_VERSION_HEX < 0x030D0000 || PY_VERSION_HEX >= 0x030E0000
#  error "frame313.h is for CPython 3.13 only"
#endif
#ifdef Py_GIL_DISABLED
#  error "framead does not support the free-threaded build of CPython (Py_GIL_DISABLED)"
#endif

#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_ceval.h" /* _PyEval_FrameClearAndPop */
#undef Py_BUILD_CORE

#define FA_PY_MINOR 13

/* internal/pycore_dict.h, exported (its other contents warn: not included) */
PyAPI_FUNC(int) _PyDict_MergeEx(PyObject *mp, PyObject *other, int override);

typedef struct _PyInterpreterFrame fa_frame;

static inline PyCodeObject *fa_frame_code(fa_frame *f) { return (PyCodeObject *)f->f_executable; }
static inline void fa_frame_set_code(fa_frame *f, PyCodeObject *co) { f->f_executable = (PyObject *)co; }
static inline PyFunctionObject *fa_frame_func(fa_frame *f) { return (PyFunctionObject *)f->f_funcobj; }
static inline void fa_frame_set_func(fa_frame *f, PyFunctionObject *fn) { f->f_funcobj = (PyObject *)fn; }

#define FA_FRESH_UNIT 0
static inline Py_ssize_t
fa_frame_unit(fa_frame *f)
{
    return f->instr_ptr - _PyCode_CODE(fa_frame_code(f));
}
static inline void
fa_frame_set_unit(fa_frame *f, Py_ssize_t u)
{
    f->instr_ptr = _PyCode_CODE(fa_frame_code(f)) + u;
}

static inline Py_ssize_t fa_code_framesize(PyCodeObject *co) { return co->co_framesize; }
static inline int fa_code_same_cells(PyCodeObject *a, PyCodeObject *b) { return 1; }

static inline void
fa_clone_function_more(PyFunctionObject *f, PyFunctionObject *old)
{
    Py_XSETREF(f->func_typeparams, Py_XNewRef(old->func_typeparams));
}

static inline fa_frame *fa_current_frame(PyThreadState *ts) { return ts->current_frame; }
static inline void fa_set_current_frame(PyThreadState *ts, fa_frame *f) { ts->current_frame = f; }

#define FA_PY_RECURSION_REMAINING(ts) ((ts)->py_recursion_remaining)
#define FA_C_UNITS_PER_FRAME 2

static inline int fa_profiling(PyThreadState *ts) { return ts->c_profilefunc != NULL; }

#define FA_SET_TRACE_EVENT(ts, what) ((void)(what))
#define FA_TRACE_EVENT(ts) 0
static inline int
fa_tracing_line_or_return(PyThreadState *ts)
{
    return ts->what_event == PY_MONITORING_EVENT_LINE ||
           ts->what_event == PY_MONITORING_EVENT_PY_RETURN;
}

static inline int
fa_raised_has_traceback(PyThreadState *ts)
{
    PyObject *exc = ts->current_exception;
    return exc != NULL && ((PyBaseExceptionObject *)exc)->traceback != NULL;
}

/* 3.13's CALL leaves the caller's instr_ptr on the CALL itself while the callee runs. */
#define FA_INLINE_CALL_UNIT 0

/* A weak reference's target, borrowed (Py_None once dead). */
static inline PyObject *
fa_weakref_target(PyObject *ref)
{
    PyObject *o = NULL;
    if (PyWeakref_GetRef(ref, &o) <= 0) {
        PyErr_Clear();
        return Py_None;
    }
    Py_DECREF(o); /* the record holds the code alive while the frame runs it */
    return o;
}

/* A type's attribute dict, borrowed (3.12 keeps static builtin types' dicts per interpreter: tp_dict is NULL). */
static inline PyObject *
fa_type_dict(PyTypeObject *type)
{
    PyObject *d = PyType_GetDict(type); /* a new reference; the type holds one */
    Py_XDECREF(d);
    return d;
}

/* Does a profiler see c_call/c_return for a bound method whose function is a C function (gh-122029)? */
#define FA_PROFILE_BOUND_C_FUNCTIONS 1

#define fa_code_get_extra PyUnstable_Code_GetExtra
#define fa_code_set_extra PyUnstable_Code_SetExtra
#define fa_request_code_extra_index PyUnstable_Eval_RequestCodeExtraIndex

static inline void
fa_frame_abandon(PyThreadState *tstate, fa_frame *frame)
{
    _PyEval_FrameClearAndPop(tstate, frame);
}

#endif /* FRAMEAD_FRAME313_H */
