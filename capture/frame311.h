/* frame311.h: CPython 3.11's frame and thread-state facts, the primitives frame_common.h,
 * frameview.h and _evalframe.c are written against (the same names in frame312.h and
 * frame313.h). _evalframe.c includes exactly one of them, chosen by PY_VERSION_HEX.
 *
 * Facts about 3.11 (checked against 3.11.7):
 *  - The PEP 523 function receives a _PyInterpreterFrame already pushed on the thread's data
 *    stack and initialised by _PyEvalFramePushAndInit (_PyEval_Vector). The *caller*
 *    (_PyEval_Vector) clears and pops it after the eval function returns, whether it
 *    returned a value or NULL: a hook that does not run the frame just returns NULL with an
 *    exception set (fa_frame_abandon does nothing).
 *  - prev_instr is the unit before the next instruction (_PyCode_CODE(co) - 1 when fresh);
 *    f_lasti = 2 * (prev_instr - _PyCode_CODE(co)).
 *  - The frame size is co_nlocalsplus + co_stacksize + FRAME_SPECIALS_SIZE slots.
 *  - A Python-to-Python call costs no C recursion units of its own; under a PEP 523 hook it
 *    costs C stack only (stack_nearly_full() in _evalframe.c guards it).
 */
#ifndef FRAMEAD_FRAME311_H
#define FRAMEAD_FRAME311_H

#include <Python.h>

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
#  error "frame311.h is for CPython 3.11 only"
#endif

#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#undef _PyGC_FINALIZED /* (pycore_gc.h defines it again) */
#include "internal/pycore_interp.h"
#include "internal/pycore_code.h" /* INLINE_CACHE_ENTRIES_CALL */
#undef Py_BUILD_CORE

#define FA_PY_MINOR 11

typedef struct _PyInterpreterFrame fa_frame;

static inline PyCodeObject *fa_frame_code(fa_frame *f) { return f->f_code; }
static inline void fa_frame_set_code(fa_frame *f, PyCodeObject *co) { f->f_code = co; }
static inline PyFunctionObject *fa_frame_func(fa_frame *f) { return f->f_func; }
static inline void fa_frame_set_func(fa_frame *f, PyFunctionObject *fn) { f->f_func = fn; }

/* The frame's position in code units as f_lasti reads it (halved), and its setter. A fresh
   frame stands at FA_FRESH_UNIT. */
#define FA_FRESH_UNIT (-1)
static inline Py_ssize_t
fa_frame_unit(fa_frame *f)
{
    return f->prev_instr - _PyCode_CODE(f->f_code);
}
static inline void
fa_frame_set_unit(fa_frame *f, Py_ssize_t u)
{
    f->prev_instr = _PyCode_CODE(f->f_code) + u;
}

static inline Py_ssize_t
fa_code_framesize(PyCodeObject *co)
{
    return (Py_ssize_t)co->co_nlocalsplus + co->co_stacksize + (Py_ssize_t)FRAME_SPECIALS_SIZE;
}

/* 3.12 dropped co_nplaincellvars (cells are told by co_localspluskinds, compared too). */
static inline int
fa_code_same_cells(PyCodeObject *a, PyCodeObject *b)
{
    return a->co_nplaincellvars == b->co_nplaincellvars;
}

static inline void fa_clone_function_more(PyFunctionObject *f, PyFunctionObject *old) {}

/* The frame this thread executes (a C function's Python caller), and its setter. */
static inline fa_frame *fa_current_frame(PyThreadState *ts) { return ts->cframe->current_frame; }
static inline void
fa_set_current_frame(PyThreadState *ts, fa_frame *f)
{
    ts->cframe->current_frame = f;
}

/* Python recursion depth left, as an lvalue; C recursion units a hooked frame costs. */
#define FA_PY_RECURSION_REMAINING(ts) ((ts)->recursion_remaining)
#define FA_C_UNITS_PER_FRAME 0

/* Is a legacy profile function (sys.setprofile) active on this thread? */
static inline int
fa_profiling(PyThreadState *ts)
{
    return ts->cframe->use_tracing && ts->c_profilefunc != NULL;
}

/* The trace event being delivered (3.11's tracing_what; ignored where it does not exist). */
#define FA_SET_TRACE_EVENT(ts, what) ((ts)->tracing_what = (what))
#define FA_TRACE_EVENT(ts) ((ts)->tracing_what)
/* Is a trace function running for a 'line' or 'return' event (frame.f_lineno setter)? */
static inline int
fa_tracing_line_or_return(PyThreadState *ts)
{
    return ts->tracing_what == PyTrace_LINE || ts->tracing_what == PyTrace_RETURN;
}

/* Has the exception being raised a traceback yet (did a frame add itself to it)? */
static inline int
fa_raised_has_traceback(PyThreadState *ts)
{
    return ts->curexc_traceback != NULL;
}

/* Where CPython's inlined CALL leaves the caller's position while the callee runs, relative
   to the CALL instruction's first unit (0: where our call probe's CALL already stands). */
#define FA_INLINE_CALL_UNIT INLINE_CACHE_ENTRIES_CALL

/* co_extra (3.12 renamed the API PyUnstable_*) */
/* A weak reference's target, borrowed (Py_None once dead). */
static inline PyObject *
fa_weakref_target(PyObject *ref)
{
    return PyWeakref_GET_OBJECT(ref);
}

/* A type's attribute dict, borrowed. */
static inline PyObject *
fa_type_dict(PyTypeObject *type)
{
    return type->tp_dict;
}

/* Does a profiler see c_call/c_return for a bound method whose function is a C function? */
#define FA_PROFILE_BOUND_C_FUNCTIONS 0

#define fa_code_get_extra _PyCode_GetExtra
#define fa_code_set_extra _PyCode_SetExtra
#define fa_request_code_extra_index _PyEval_RequestCodeExtraIndex

/* The hook decided not to run a fresh frame (an error before evaluation). In 3.11 the caller
   clears and pops it: nothing to do here. */
static inline void
fa_frame_abandon(PyThreadState *tstate, fa_frame *frame)
{
    (void)tstate;
    (void)frame;
}

#endif /* FRAMEAD_FRAME311_H */
