/* frame311.h: every CPython-3.11-specific access to interpreter frames and code
 * objects used by _evalframe.c. A 3.12/3.13 port adds frame312.h / frame313.h
 * with the same fa_* functions and picks one in _evalframe.c.
 *
 * Facts about 3.11 this relies on (checked against 3.11.7):
 *  - The PEP 523 function receives a _PyInterpreterFrame already pushed on the
 *    thread's data stack and initialised by _PyEvalFramePushAndInit
 *    (_PyEval_Vector). The *caller* (_PyEval_Vector) clears and pops the frame
 *    after the eval function returns, whether it returned a value or NULL. So
 *    when the hook fails before running the frame it only has to return NULL
 *    with an exception set: nothing is leaked and nothing is freed twice.
 *    (3.12 moved that duty into the evaluator; a frame312.h must clear and pop
 *    in fa_frame_abandon.)
 *  - _PyEvalFrameClearAndPop pops with _PyThreadState_PopFrame, which resets
 *    datastack_top to the frame's base (or drops the chunk), so bumping
 *    datastack_top to fit a bigger replacement code is undone there.
 *  - RETURN_GENERATOR sizes the generator from frame->f_func->func_code, and
 *    COPY_FREE_VARS reads frame->f_func->func_closure.
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
#undef Py_BUILD_CORE

typedef struct _PyInterpreterFrame fa_frame;
typedef _PyFrameEvalFunction fa_eval_func;

#define FA_CO_GENLIKE (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)

static inline PyObject *
fa_eval_default(PyThreadState *tstate, fa_frame *frame, int throwflag)
{
    return _PyEval_EvalFrameDefault(tstate, frame, throwflag);
}

static inline fa_eval_func
fa_get_eval_func(void)
{
    return _PyInterpreterState_GetEvalFrameFunc(PyInterpreterState_Get());
}

/* Passing _PyEval_EvalFrameDefault restores the default (stored as NULL). */
static inline void
fa_set_eval_func(fa_eval_func func)
{
    _PyInterpreterState_SetEvalFrameFunc(PyInterpreterState_Get(), func);
}

static inline int
fa_is_default_eval(fa_eval_func func)
{
    return func == NULL || func == _PyEval_EvalFrameDefault;
}

/* Frame size in PyObject* slots, as _PyFrame_Push / _PyEvalFramePushAndInit
   compute it in 3.11 (3.12 stores it as co_framesize). */
static inline Py_ssize_t
fa_code_framesize(PyCodeObject *co)
{
    return (Py_ssize_t)co->co_nlocalsplus + co->co_stacksize + (Py_ssize_t)FRAME_SPECIALS_SIZE;
}

/* The frame this thread is executing (a C function's Python caller), and a way
   to make another live frame of this thread the current one for a while (3.11
   keeps it in the evaluation loop's CFrame; 3.13 keeps it in tstate). */
static inline fa_frame *
fa_current_frame(PyThreadState *tstate)
{
    return tstate->cframe->current_frame;
}

static inline void
fa_set_current_frame(PyThreadState *tstate, fa_frame *frame)
{
    tstate->cframe->current_frame = frame;
}

/* A code object's co_extra array (CPython 3.11's private _PyCodeObjectExtra, from
   Objects/codeobject.c): code_dealloc calls every registered free function for every slot
   of it, set or not. Drop our slot, and the array itself when no other slot is set, so
   that outside a capture no code object carries an array framead made (another library's
   free function, CPython's test_code's, must not run for them). Returns the old value. */
typedef struct {
    Py_ssize_t ce_size;
    void *ce_extras[1];
} fa_code_extra;

static inline void *
fa_code_detach_extra(PyCodeObject *co, Py_ssize_t index)
{
    fa_code_extra *ex = (fa_code_extra *)co->co_extra;
    if (ex == NULL || index >= ex->ce_size) {
        return NULL;
    }
    void *old = ex->ce_extras[index];
    ex->ce_extras[index] = NULL;
    for (Py_ssize_t i = 0; i < ex->ce_size; i++) {
        if (ex->ce_extras[i] != NULL) {
            return old;
        }
    }
    co->co_extra = NULL;
    PyMem_Free(ex);
    return old;
}

/* Is the cyclic GC collecting (its callbacks and finalizers running)? Interpreter-wide:
   the caller combines it with its own thread's "this thread started it" flag. */
static inline int
fa_gc_collecting(PyThreadState *tstate)
{
    return tstate->interp->gc.collecting;
}

static inline PyCodeObject *
fa_frame_code(fa_frame *frame)
{
    return frame->f_code;
}

/* A frame that has not executed a single instruction, owned by this thread's
   data stack and sitting at its top: the only kind whose code may be swapped.
   Generator/coroutine resumptions (owned by the generator, prev_instr past the
   start) and throw() entries are not fresh. */
static inline int
fa_frame_is_fresh(PyThreadState *tstate, fa_frame *frame, int throwflag)
{
    if (throwflag || frame->owner != FRAME_OWNED_BY_THREAD) {
        return 0;
    }
    PyCodeObject *co = frame->f_code;
    if (frame->prev_instr != _PyCode_CODE(co) - 1) {
        return 0;
    }
    if ((PyObject **)frame + fa_code_framesize(co) != tstate->datastack_top) {
        return 0;
    }
    return frame->frame_obj == NULL;
}

/* A replacement must keep the frame layout of the original exactly: the
   arguments are already in place and cells/free variables are built by the new
   code's own MAKE_CELL/COPY_FREE_VARS. Names and kinds are compared too
   (bytecode renumbers locals by first use). Returns 1 when compatible. */
static int
fa_code_same_layout(PyCodeObject *a, PyCodeObject *b)
{
    if (a->co_nlocalsplus != b->co_nlocalsplus || a->co_nlocals != b->co_nlocals ||
        a->co_ncellvars != b->co_ncellvars || a->co_nplaincellvars != b->co_nplaincellvars ||
        a->co_nfreevars != b->co_nfreevars || a->co_argcount != b->co_argcount ||
        a->co_posonlyargcount != b->co_posonlyargcount ||
        a->co_kwonlyargcount != b->co_kwonlyargcount || a->co_flags != b->co_flags) {
        return 0;
    }
    int eq = PyObject_RichCompareBool(a->co_localspluskinds, b->co_localspluskinds, Py_EQ);
    if (eq == 1) {
        eq = PyObject_RichCompareBool(a->co_localsplusnames, b->co_localsplusnames, Py_EQ);
    }
    if (eq < 0) {
        PyErr_Clear();
        return 0;
    }
    return eq;
}

/* A function object like `old` (globals, builtins, name, qualname, defaults,
   kwdefaults, closure, annotations, module, doc) whose __code__ is `code`. */
static PyFunctionObject *
fa_clone_function(PyFunctionObject *old, PyCodeObject *code)
{
    PyFunctionObject *f = (PyFunctionObject *)PyFunction_NewWithQualName(
        (PyObject *)code, old->func_globals, old->func_qualname);
    if (f == NULL) {
        return NULL;
    }
    Py_XSETREF(f->func_builtins, Py_XNewRef(old->func_builtins));
    Py_XSETREF(f->func_name, Py_XNewRef(old->func_name));
    Py_XSETREF(f->func_defaults, Py_XNewRef(old->func_defaults));
    Py_XSETREF(f->func_kwdefaults, Py_XNewRef(old->func_kwdefaults));
    Py_XSETREF(f->func_closure, Py_XNewRef(old->func_closure));
    Py_XSETREF(f->func_annotations, Py_XNewRef(old->func_annotations));
    Py_XSETREF(f->func_module, Py_XNewRef(old->func_module));
    Py_XSETREF(f->func_doc, Py_XNewRef(old->func_doc));
    return f;
}

/* Make a fresh frame run `code` instead of its own code. Returns 1 when done,
   0 when the data-stack chunk has no room for the bigger frame (nothing was
   changed: run the original), -1 with an exception set (nothing was changed).
   The caller guarantees fa_frame_is_fresh() and fa_code_same_layout(). */
static int
fa_frame_install_code(PyThreadState *tstate, fa_frame *frame, PyCodeObject *code)
{
    PyObject **new_top = (PyObject **)frame + fa_code_framesize(code);
    if (new_top >= tstate->datastack_limit) {
        return 0;
    }
    if (code->co_flags & FA_CO_GENLIKE) {
        /* RETURN_GENERATOR sizes the generator from f_func's code. */
        PyFunctionObject *nf = fa_clone_function(frame->f_func, code);
        if (nf == NULL) {
            return -1;
        }
        PyFunctionObject *of = frame->f_func;
        frame->f_func = nf;
        /* f_globals/f_builtins are borrowed from f_func: nf holds the same. */
        frame->f_globals = nf->func_globals;
        frame->f_builtins = nf->func_builtins;
        Py_DECREF(of);
    }
    PyCodeObject *old = frame->f_code;
    frame->f_code = (PyCodeObject *)Py_NewRef(code);
    frame->prev_instr = _PyCode_CODE(code) - 1;
    tstate->datastack_top = new_top;
    Py_DECREF(old);
    return 1;
}

/* No room for the instrumented frame at the end of this data-stack chunk: call the function
   again from C with the frame's bound arguments. CPython pushes that frame on a fresh chunk
   (the hook then instruments it) and this frame is cleared unrun by its caller, so nothing
   user-visible changes (it was never linked as the current frame). Only plain functions
   (CO_OPTIMIZED, not generators); returns NULL with no exception set when not applicable. */
static PyObject *
fa_frame_recall(PyThreadState *tstate, fa_frame *frame)
{
    PyCodeObject *co = frame->f_code;
    int flags = co->co_flags;
    if (!(flags & CO_OPTIMIZED) || (flags & FA_CO_GENLIKE) || frame->f_func == NULL) {
        return NULL;
    }
    Py_ssize_t npos = co->co_argcount, nkw = co->co_kwonlyargcount;
    PyObject **loc = frame->localsplus;
    for (Py_ssize_t i = 0; i < npos + nkw + !!(flags & CO_VARARGS) + !!(flags & CO_VARKEYWORDS);
         i++) {
        if (loc[i] == NULL) {
            return NULL;
        }
    }
    PyObject *star = (flags & CO_VARARGS) ? loc[npos + nkw] : NULL;
    PyObject *dstar = (flags & CO_VARKEYWORDS) ? loc[npos + nkw + !!(flags & CO_VARARGS)] : NULL;
    Py_ssize_t nstar = star ? PyTuple_GET_SIZE(star) : 0;
    PyObject *args = PyTuple_New(npos + nstar);
    PyObject *kwargs = PyDict_New();
    if (args == NULL || kwargs == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < npos; i++) {
        PyTuple_SET_ITEM(args, i, Py_NewRef(loc[i]));
    }
    for (Py_ssize_t i = 0; i < nstar; i++) {
        PyTuple_SET_ITEM(args, npos + i, Py_NewRef(PyTuple_GET_ITEM(star, i)));
    }
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(co->co_localsplusnames, npos + i);
        if (PyDict_SetItem(kwargs, name, loc[npos + i]) < 0) {
            goto fail;
        }
    }
    if (dstar != NULL && PyDict_Update(kwargs, dstar) < 0) {
        goto fail;
    }
    PyObject *res = PyObject_Call((PyObject *)frame->f_func, args, kwargs);
    Py_DECREF(args);
    Py_DECREF(kwargs);
    return res;
fail:
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    return NULL;
}

/* The hook decided not to run a fresh frame (an error before evaluation).
   In 3.11 the caller clears and pops it: nothing to do here. */
static inline void
fa_frame_abandon(PyThreadState *tstate, fa_frame *frame)
{
    (void)tstate;
    (void)frame;
}

#endif /* FRAMEAD_FRAME311_H */
