/* frame312.h: CPython 3.12's frame and thread-state facts (see frame311.h for the names).
 *
 * What moved since 3.11 (checked against 3.12.1's headers and behaviour):
 *  - f_func became f_funcobj (PyObject *); co_nplaincellvars is gone; the frame size is
 *    co_framesize (specials included); is_entry is gone.
 *  - The evaluator clears and pops the frames it runs (RETURN_VALUE, exit_unwind):
 *    _PyEval_Vector no longer does. A hook that does not run a fresh frame must clear and
 *    pop it itself (fa_frame_abandon). _PyEvalFrameClearAndPop, _PyFrame_ClearExceptCode and
 *    _PyThreadState_PopFrame are not exported: fa_frame_abandon does their work for the only
 *    frames it is given (fresh, owned by the thread, no frame object, not linked).
 *  - A frame run through the hook costs 2 C recursion units (Python-to-Python calls are not
 *    inlined while a PEP 523 function is set), against C_RECURSION_LIMIT 1500: without a
 *    refund, recursion under capture stops at about 745 levels.
 *  - recursion_remaining became py_recursion_remaining; cframe->use_tracing and
 *    tracing_what are gone (sys.setprofile/settrace run on sys.monitoring, whose event being
 *    delivered is what_event); the raised exception is one normalised object.
 *  - co_extra's API is PyUnstable_Code_GetExtra/SetExtra, PyUnstable_Eval_RequestCodeExtraIndex.
 */
#ifndef FRAMEAD_FRAME312_H
#define FRAMEAD_FRAME312_H

#include <Python.h>

#if PY_VERSION_HEX < 0x030C0000 || PY_VERSION_HEX >= 0x030D0000
#  error "frame312.h is for CPython 3.12 only"
#endif

#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#undef _PyGC_FINALIZED /* (pycore_gc.h defines it again) */
#include "internal/pycore_interp.h"
#include "internal/pycore_code.h"        /* INLINE_CACHE_ENTRIES_CALL */
#include "internal/pycore_instruments.h" /* PY_MONITORING_EVENT_* */
#undef Py_BUILD_CORE

#define FA_PY_MINOR 12

typedef struct _PyInterpreterFrame fa_frame;

static inline PyCodeObject *fa_frame_code(fa_frame *f) { return f->f_code; }
static inline void fa_frame_set_code(fa_frame *f, PyCodeObject *co) { f->f_code = co; }
static inline PyFunctionObject *fa_frame_func(fa_frame *f) { return (PyFunctionObject *)f->f_funcobj; }
static inline void fa_frame_set_func(fa_frame *f, PyFunctionObject *fn) { f->f_funcobj = (PyObject *)fn; }

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

static inline Py_ssize_t fa_code_framesize(PyCodeObject *co) { return co->co_framesize; }
static inline int fa_code_same_cells(PyCodeObject *a, PyCodeObject *b) { return 1; }

static inline void
fa_clone_function_more(PyFunctionObject *f, PyFunctionObject *old)
{
    Py_XSETREF(f->func_typeparams, Py_XNewRef(old->func_typeparams));
}

static inline fa_frame *fa_current_frame(PyThreadState *ts) { return ts->cframe->current_frame; }
static inline void
fa_set_current_frame(PyThreadState *ts, fa_frame *f)
{
    ts->cframe->current_frame = f;
}

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

#define FA_INLINE_CALL_UNIT INLINE_CACHE_ENTRIES_CALL

/* A weak reference's target, borrowed (Py_None once dead). */
static inline PyObject *
fa_weakref_target(PyObject *ref)
{
    return PyWeakref_GET_OBJECT(ref);
}

/* A type's attribute dict, borrowed (3.12 keeps static builtin types' dicts per interpreter: tp_dict is NULL). */
static inline PyObject *
fa_type_dict(PyTypeObject *type)
{
    PyObject *d = PyType_GetDict(type); /* a new reference; the type holds one */
    Py_XDECREF(d);
    return d;
}

/* Does a profiler see c_call/c_return for a bound method whose function is a C function? */
#define FA_PROFILE_BOUND_C_FUNCTIONS 0

#define fa_code_get_extra PyUnstable_Code_GetExtra
#define fa_code_set_extra PyUnstable_Code_SetExtra
#define fa_request_code_extra_index PyUnstable_Eval_RequestCodeExtraIndex

/* Clear and pop a fresh frame the hook will not run: what ceval.c's clear_thread_frame
   does (_PyFrame_ClearExceptCode, then the code, then _PyThreadState_PopFrame), for a frame
   that is owned by the thread, has no frame object and is not linked as current. */
static inline void
fa_frame_abandon(PyThreadState *tstate, fa_frame *frame)
{
    for (int i = 0; i < frame->stacktop; i++) {
        Py_CLEAR(frame->localsplus[i]);
    }
    frame->stacktop = 0;
    Py_CLEAR(frame->frame_obj);
    Py_CLEAR(frame->f_locals);
    Py_CLEAR(frame->f_funcobj);
    PyCodeObject *co = frame->f_code;
    /* the chunk pop below reads nothing of the code: drop it last, as CPython does */
    PyObject **base = (PyObject **)frame;
    _PyStackChunk *chunk = tstate->datastack_chunk;
    if (base == &chunk->data[0]) {
        _PyStackChunk *previous = chunk->previous; /* the root chunk is never popped */
        tstate->datastack_top = &previous->data[previous->top];
        tstate->datastack_chunk = previous;
        tstate->datastack_limit = (PyObject **)(((char *)previous) + previous->size);
        PyObjectArenaAllocator alloc;
        PyObject_GetArenaAllocator(&alloc);
        alloc.free(alloc.ctx, chunk, chunk->size);
    }
    else {
        tstate->datastack_top = base;
    }
    Py_DECREF(co);
}

#endif /* FRAMEAD_FRAME312_H */
