/* frame_common.h: frame access written once for every supported CPython, over the
 * primitives of the version's header (frame311.h, frame312.h, frame313.h: fa_frame_code,
 * fa_frame_func, fa_frame_unit, fa_code_framesize, fa_frame_abandon...). _evalframe.c includes
 * the version's header, then this file.
 *
 * Facts relied on in every version:
 *  - _PyThreadState_PopFrame resets datastack_top to the frame's base (or drops the chunk),
 *    so bumping datastack_top to fit a bigger replacement code is undone when the frame pops.
 *  - RETURN_GENERATOR sizes the generator from the frame's function's code, and
 *    COPY_FREE_VARS reads that function's closure.
 */
#ifndef FRAMEAD_FRAME_COMMON_H
#define FRAMEAD_FRAME_COMMON_H

#ifndef FA_PY_MINOR
#  error "include the version's frame header (frame311.h, frame312.h, frame313.h) first"
#endif

typedef _PyFrameEvalFunction fa_eval_func;

#define FA_CO_GENLIKE (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)

/* Run a frame with CPython's evaluator. Where a hooked frame costs C recursion units that an
   inlined Python-to-Python call does not (3.12+: FA_C_UNITS_PER_FRAME), they are given back
   for the frame's run, so that recursion under capture goes as deep as natively: the
   Python recursion limit still counts every frame, and stack_nearly_full() (_evalframe.c)
   guards the C stack each hooked frame really uses. */
static inline PyObject *
fa_eval_default(PyThreadState *tstate, fa_frame *frame, int throwflag)
{
#if FA_C_UNITS_PER_FRAME
    tstate->c_recursion_remaining += FA_C_UNITS_PER_FRAME;
    PyObject *res = _PyEval_EvalFrameDefault(tstate, frame, throwflag);
    tstate->c_recursion_remaining -= FA_C_UNITS_PER_FRAME;
    return res;
#else
    return _PyEval_EvalFrameDefault(tstate, frame, throwflag);
#endif
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

/* A frame that has not executed a single instruction, owned by this thread's
   data stack and sitting at its top: the only kind whose code may be swapped.
   Generator/coroutine resumptions (owned by the generator, position past the
   start) and throw() entries are not fresh. */
static inline int
fa_frame_is_fresh(PyThreadState *tstate, fa_frame *frame, int throwflag)
{
    if (throwflag || frame->owner != FRAME_OWNED_BY_THREAD) {
        return 0;
    }
    PyCodeObject *co = fa_frame_code(frame);
    if (fa_frame_unit(frame) != FA_FRESH_UNIT) {
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
        a->co_ncellvars != b->co_ncellvars || !fa_code_same_cells(a, b) ||
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
    fa_clone_function_more(f, old);
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
        PyFunctionObject *nf = fa_clone_function(fa_frame_func(frame), code);
        if (nf == NULL) {
            return -1;
        }
        PyFunctionObject *of = fa_frame_func(frame);
        fa_frame_set_func(frame, nf);
        /* f_globals/f_builtins are borrowed from f_func: nf holds the same. */
        frame->f_globals = nf->func_globals;
        frame->f_builtins = nf->func_builtins;
        Py_DECREF(of);
    }
    PyCodeObject *old = fa_frame_code(frame);
    fa_frame_set_code(frame, (PyCodeObject *)Py_NewRef(code));
    fa_frame_set_unit(frame, FA_FRESH_UNIT);
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
    PyCodeObject *co = fa_frame_code(frame);
    int flags = co->co_flags;
    if (!(flags & CO_OPTIMIZED) || (flags & FA_CO_GENLIKE) || fa_frame_func(frame) == NULL) {
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
    PyObject *res = PyObject_Call((PyObject *)fa_frame_func(frame), args, kwargs);
    Py_DECREF(args);
    Py_DECREF(kwargs);
    return res;
fail:
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    return NULL;
}

#endif /* FRAMEAD_FRAME_COMMON_H */
