/* framead.capture._evalframe: PEP 523 hook, tracked-object set, callable flags
 * and the C probes the bytecode rewriter inserts. Contract: docs/internals.md
 * sections 1 and 2. Version-specific frame and thread-state access lives in frame3XX.h (one
 * per supported CPython, chosen here by PY_VERSION_HEX), shared frame code in frame_common.h
 * and frameview.h.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/ndarraytypes.h> /* PyArray_BASE only: no import_array needed */

#include <fenv.h>
#include <math.h>
#include <pthread.h>
#include <errno.h>
#include <unistd.h>
#include <sys/mman.h>

#if PY_VERSION_HEX >= 0x030E0000
#  error "framead supports CPython 3.11, 3.12 and 3.13 (no frame header for this version)"
#elif PY_VERSION_HEX >= 0x030D0000
#  include "frame313.h"
#elif PY_VERSION_HEX >= 0x030C0000
#  include "frame312.h"
#elif PY_VERSION_HEX >= 0x030B0000
#  include "frame311.h"
#else
#  error "framead supports CPython 3.11, 3.12 and 3.13 (no frame header for this version)"
#endif
#include "frame_common.h"
#include "frameview.h"
#include "ptrmap.h"

#if defined(__GNUC__)
#  define FA_INLINE static inline __attribute__((always_inline))
#  define FA_LIKELY(x) __builtin_expect(!!(x), 1)
#  define FA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#  define FA_INLINE static inline
#  define FA_LIKELY(x) (x)
#  define FA_UNLIKELY(x) (x)
#endif

#define FA_FOREIGN_MSG                                                                       \
    "another PEP 523 frame evaluator is installed (torch.compile/dynamo or a debugger such " \
    "as pydevd); framead cannot capture while it is active"

/* Callable flags */
#define FA_RULE 1
#define FA_ALWAYS 2
#define FA_NATIVE 4
#define FA_SCAN 8

/* ------------------------------------------------------------------------ */
/* Global and per-thread state (all global state is protected by the GIL).   */

/* Per-thread capture state. Each thread has its own traced set and handlers: two
   threads capturing at once never see each other's values, and a thread with no
   capture of its own runs natively, or "watching" while another thread captures
   (its probes look up the capturing threads' traced sets, fa_watch_hit). */
#define FA_CMP_RING 64
#define FA_CMP_EPIS 16
#define FA_CMP_TAIL 4
#define FA_CMP_GAP 8       /* an episode this few comparisons after the last is its update */
#define FA_CMP_JUMP 1e6    /* |a - b| this many times the last one's ends an episode */
typedef struct fa_tls {
    int enabled;            /* capture on for this thread */
    int busy;               /* decide() running on this thread */
    int recalling;          /* fa_frame_recall() running on this thread */
    int off;                /* a watching thread inside a native subtree */
    int in_handler;         /* handlers running (tracing suspended) */
    int registered;         /* linked in capturing_threads */
    int in_gc;              /* this thread started a collection (gc_phase) */
    uint64_t gen;           /* the decision generation this thread runs under */
    char *stack_low;        /* lowest usable address of this thread's C stack */
    /* The user's frame whose probe is running a Python handler right now (NULL
       outside handlers). call_native() makes it the current frame while a handler
       performs the user's operation, so warnings, sys._getframe() and stack walks in
       the callee see the user's line, not framead's handler frames. */
    fa_frame *user_frame;
    ptrmap tracked;         /* traced objects (no references held) */
    /* Handlers: bound methods of the object given to set_handlers(). */
    PyObject *h_obj, *h_binop, *h_unary, *h_compare, *h_getitem, *h_setitem, *h_getattr,
        *h_getiter, *h_unpack, *h_call, *h_foreign;
    PyObject *fast_rec;     /* set_fast_record()'s state for h_obj, or NULL (_evalframe.c) */
    void *gc_nodes;         /* the nodes list gc_untrack_nodes() last went through (never
                               dereferenced: only compared) and how far */
    Py_ssize_t gc_nodes_done;
    /* The last FA_CMP_RING comparisons of traced numbers (capture/zero_trip.py): the recorder
       they were made under (an address, only compared), its node count then, |a - b|. */
    void *cmp_rec[FA_CMP_RING];
    Py_ssize_t cmp_at[FA_CMP_RING];
    double cmp_dist[FA_CMP_RING];
    unsigned cmp_n;
    /* The tails of earlier searches (FA_CMP_TAIL comparisons before a jump of |a - b|, up to
       FA_CMP_EPIS of them): two searches in a call, or one per pass of a loop, are each
       judged although their comparisons left the ring (capture/search_choice.py). */
    void *epi_rec[FA_CMP_EPIS];
    unsigned epi_seq[FA_CMP_EPIS];  /* the sequence number (cmp_n) of its last comparison */
    unsigned char epi_len[FA_CMP_EPIS];
    Py_ssize_t epi_at[FA_CMP_EPIS][FA_CMP_TAIL];
    double epi_dist[FA_CMP_EPIS][FA_CMP_TAIL];
    unsigned epi_n;
    struct fa_tls *next;    /* capturing_threads link */
} fa_tls;

static _Thread_local fa_tls T;
static fa_tls *capturing_threads; /* threads with handlers set (GIL-protected list) */
static int n_capturing;

static ptrmap callable_flags; /* key (PyMethodDef* or object) -> flags */
static PyObject *flag_refs;   /* list: keeps flagged callables alive */
static PyTypeObject *ndarray_type;
static PyTypeObject *deque_type; /* collections.deque (PyInit__evalframe) */
static PyTypeObject *method_wrapper_type; /* type(None.__repr__): not exported by 3.13 */
/* descrobject.c's wrapperobject (a.__setitem__), the same in 3.11-3.13 */
typedef struct {
    PyObject_HEAD
    PyObject *descr;
    PyObject *self;
} fa_method_wrapper;
/* text_taint's stored_text(a, k, v) while a capture made text of traced values (else NULL),
   and a tuple of the other targets judged in Python (eager's Tracers, np.flatiter) */
static PyObject *text_store_hook;
static PyObject *text_store_proxies;

static Py_ssize_t extra_index = -1;
/* Decision generations: a cached decision is valid for a thread while its
   generation equals the thread's. bump_generation() voids every thread's
   decisions (gen_floor); bump_thread_generation() only the calling thread's (a
   capture that must see every code object it runs, or internals made visible). */
static uint64_t generation = 1; /* the last generation handed out */
static uint64_t gen_floor = 1;  /* no thread runs under an older one */

FA_INLINE uint64_t
thread_gen(void)
{
    if (FA_UNLIKELY(T.gen < gen_floor)) {
        T.gen = gen_floor;
    }
    return T.gen;
}
#define FA_GEN_PASSTHROUGH UINT64_MAX
#define FA_GEN_DEAD (UINT64_MAX - 1)
#define FA_GEN_SPECIAL (UINT64_MAX - 1) /* generations >= this are markers */

static int install_depth = 0;
static PyObject *decide_stack; /* list of decide callables, last is active */
static PyObject *decide_fn;    /* borrowed from decide_stack, NULL when empty */

static struct {
    unsigned long long calls;             /* hook entries while enabled */
    unsigned long long not_fresh;         /* resumptions, throws, owned frames */
    unsigned long long rewritten;         /* fresh frames run on replacement code */
    unsigned long long passed_through;    /* fresh frames run on their own code */
    unsigned long long decisions;         /* decide() calls */
    unsigned long long layout_rejections; /* replacements refused: layout differs */
    unsigned long long no_room;           /* replacement did not fit the chunk */
    unsigned long long recalled;          /* ... so the function was called again from C */
    unsigned long long decide_errors;     /* decide() raised */
    unsigned long long generator_funcs;   /* f_func swapped for generator code */
} st;


static PyObject *star_kwnames1, *star_kwnames2;
static PyObject *str_neg, *str_pos, *str_invert, *empty_tuple, *empty_frozenset;
static PyObject *small_ints[26];

/* ------------------------------------------------------------------------ */
/* Traced test                                                               */

/* Is o an instance of the registered ndarray type (or a subclass)? A subclass
   instance is at least as big as an ndarray, so the size test rejects floats,
   ints and tuples without walking the MRO. */
FA_INLINE int
is_ndarray(PyObject *o, PyTypeObject *nd)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t == nd) {
        return 1;
    }
    if (t->tp_basicsize < nd->tp_basicsize) {
        return 0;
    }
    return PyType_IsSubtype(t, nd);
}

/* np.lib.stride_tricks' DummyArray: as_strided (sliding_window_view) makes its view through
   one, whose .base is the array it views (set_ndarray_type's second argument) */
static PyTypeObject *strided_base_type;

/* The ndarray `a` (an ndarray) views: its .base when that is an ndarray, or the array behind
   as_strided's DummyArray; NULL when `a` owns its memory (or its base is anything else).
   Borrowed. buffers.buffer_owner walks the same way. */
static inline PyObject *
array_base(PyObject *a)
{
    PyObject *b = PyArray_BASE((PyArrayObject *)a);
    if (b != NULL && strided_base_type != NULL && Py_IS_TYPE(b, strided_base_type)) {
        PyObject *dict = PyObject_GenericGetDict(b, NULL), *bb = NULL;
        if (dict != NULL) {
            bb = PyDict_GetItemString(dict, "base"); /* (borrowed; the DummyArray holds it) */
            Py_DECREF(dict);
        }
        if (bb == NULL) {
            PyErr_Clear();
        }
        b = bb;
    }
    return b != NULL && ndarray_type != NULL && PyObject_TypeCheck(b, ndarray_type) ? b : NULL;
}

FA_INLINE int
is_traced_in(const ptrmap *m, PyObject *o)
{
    if (ptrmap_contains(m, o)) {
        return 1;
    }
    PyTypeObject *nd = ndarray_type;
    if (nd != NULL && is_ndarray(o, nd)) {
        for (PyObject *b = array_base(o); b != NULL; b = array_base(b)) {
            if (ptrmap_contains(m, b)) {
                return 1;
            }
        }
    }
    return 0;
}

FA_INLINE int
is_traced(PyObject *o)
{
    return is_traced_in(&T.tracked, o);
}

/* Traced operations go to Python only when something is tracked, capture is on
   for this thread and handlers are set. Cheapest test first. */
#define FA_ACTIVE() (T.tracked.size != 0 && T.enabled && T.h_obj != NULL)

/* This thread has no capture of its own while another thread captures: its probes
   look for the other threads' traced values (a worker given traced work). */
#define FA_WATCHING() (n_capturing != 0 && T.h_obj == NULL && !T.off && !T.busy)

/* Look for traced values inside nested lists/tuples/dicts. Flat ones are read whole;
   the walk enters at most a budget of nested lists (shared sublists and cyclic
   lists, e.g. functools' pure-Python LRU links, would otherwise make it
   exponential or endless). Past the budget or the depth limit it answers 1,
   "maybe": the Python handler then looks with a cycle-safe walk, so nothing
   traced is missed and nothing hangs.
   The arguments of a C callable without a rule are looked at deeper (FA_SCAN_DEEP):
   pickle.dumps(obj), json's encoder, array.array(gen), csv's writerows(zip(...)) read the
   values inside, natively. Also entered then: instances of Python classes (what the
   garbage collector sees of them: their __dict__ values and slots, read without running
   any of their code), dict views (their dict), cells, and iterators nested in an argument
   (what they hold: a generator's frame locals, a zip's iterators, a list iterator's list).
   An iterator argument is entered the same way (its state: a generator's locals, a zip's
   sources): it is passed on as it is (C code may need its type: PyGen_Send, asyncio's
   create_task of an async generator's aclose(), tee, length_hint), and items it computes
   from traced values inside the call are recorded there (capture/unruled.py callback_call
   reports them when the result is not traced); replacing it by a watching iterator changed
   the type C code sees. Functions, classes and modules are never entered.
   The arguments of a ruled call and a BINARY_OP operand met by NumPy are also looked into
   where they are sequences NumPy's coercion (PySequence_Fast) or math's iteration read in C
   (FA_SCAN_SEQS, seq_kind): a deque (its items, as its traverse visits them), and an object
   of a Python class with __len__ and __getitem__ (a UserList, a user sequence): what it
   yields is only known by running its code, so it is entered as the deep scan enters
   objects (a UserList's data list, a user sequence's attributes), and the call goes to the
   handler (capture/sequences.py reads it as NumPy does, or reports FA101) where that finds
   a traced value or gives up. (List/tuple subclasses, namedtuples: their storage, as
   lists.) No code of theirs runs. */
#define FA_SCAN_BUDGET 1024
#define FA_SCAN_LISTS 1 /* lists, tuples, dicts */
#define FA_SCAN_DEEP 2  /* also objects of Python classes, dict views, iterators inside */
#define FA_SCAN_SEQS 4  /* also deques and sequence-protocol objects (seq_kind) */

/* set_scan_config(): typeobject.c's subtype_traverse (the tp_traverse of every class a
   class statement makes), the C callables that move an iterator's items or an object by
   identity (next, min, super...: none of their arguments is looked at deeply), the
   iterator types whose items are never traced (range, str, bytes, io) */
static traverseproc plain_traverse;
static ptrmap identity_consumers;
static PyObject *scan_config; /* (plain class, consumers, leaf iterator types): kept alive */
static PyObject *leaf_iter_types;

/* a dict view (dict_keys, dict_values, dict_items) */
typedef struct {
    PyObject_HEAD
    PyDictObject *dv_dict;
} fa_dictview;

static int scan_walk(const ptrmap *m, PyObject *o, int depth, Py_ssize_t *budget, int maybe,
                     int mode);

typedef struct {
    const ptrmap *m;
    Py_ssize_t *budget;
    int depth;
    int maybe;
    int mode; /* FA_SCAN_* bits the visited objects are walked with */
} scan_state;

static int
scan_visit(PyObject *o, void *arg)
{
    scan_state *s = (scan_state *)arg;
    return o != NULL && (is_traced_in(s->m, o) ||
                         scan_walk(s->m, o, s->depth, s->budget, s->maybe, s->mode));
}

static int
grab_visit(PyObject *o, void *arg)
{
    *(PyObject **)arg = o;
    return 1;
}

static int
is_leaf_iter(PyObject *o)
{
    if (leaf_iter_types == NULL) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(leaf_iter_types); i++) {
        if (PyObject_TypeCheck(o, (PyTypeObject *)PyTuple_GET_ITEM(leaf_iter_types, i))) {
            return 1;
        }
    }
    return 0;
}

/* What the deep scan enters o as (C.scan_kind's answers): 0 nothing (numbers, strings,
   arrays, functions, classes, modules, C objects that are not iterators), 1 an object of a
   Python class or a deque (what its traverse visits: its items; array.array(d),
   pickle.dumps(d) read them in C, and capture/callables.py's walk, which sequences.py's
   reading of a deque or a UserList holding deques asks, enters them so), 2 an iterator,
   3/4/5 a dict's keys/values/items view, 6 a cell. */
static int
deep_kind(PyObject *o)
{
    traverseproc trav = Py_TYPE(o)->tp_traverse;
    if (trav == NULL || plain_traverse == NULL || !PyObject_IS_GC(o)) {
        return 0;
    }
    if (trav == plain_traverse) { /* (a class of a Python metaclass: not entered) */
        return PyType_Check(o) || PyModule_Check(o) ? 0 : 1;
    }
    if (PyCell_Check(o)) {
        return 6;
    }
    if (PyDictKeys_Check(o)) {
        return 3;
    }
    if (PyDictValues_Check(o)) {
        return 4;
    }
    if (PyDictItems_Check(o)) {
        return 5;
    }
    if (Py_TYPE(o) == deque_type) { /* (a subclass: a Python class, above) */
        return 1;
    }
    return PyIter_Check(o) && !is_leaf_iter(o) ? 2 : 0;
}

/* FA_SCAN_DEEP: o is not a list, tuple or dict; what is inside is walked with mode (its
   FA_SCAN_DEEP bit set) */
static int
scan_deep(const ptrmap *m, PyObject *o, int depth, Py_ssize_t *budget, int maybe, int mode)
{
    int kind = deep_kind(o);
    if (kind == 0) {
        return 0;
    }
    mode |= FA_SCAN_DEEP;
    if (kind == 6) {
        PyObject *c = PyCell_GET(o);
        if (c == NULL || depth > 32) {
            return c == NULL ? 0 : maybe;
        }
        return is_traced_in(m, c) || scan_walk(m, c, depth + 1, budget, maybe, mode);
    }
    traverseproc trav = Py_TYPE(o)->tp_traverse;
    int view = kind >= 3 ? kind - 2 : 0; /* 1 keys, 2 values, 3 items */
    if (depth > 32 || --*budget < 0) {
        return maybe;
    }
    if (view) { /* its dict (the one object a dict view's traverse visits) */
        PyObject *d = NULL;
        trav(o, grab_visit, &d);
        if (d == NULL || !PyDict_Check(d)) {
            return 0;
        }
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(d, &pos, &key, &value)) {
            if (((view & 1) && (is_traced_in(m, key) ||
                                scan_walk(m, key, depth + 1, budget, maybe, mode))) ||
                ((view & 2) && (is_traced_in(m, value) ||
                                scan_walk(m, value, depth + 1, budget, maybe, mode)))) {
                return 1;
            }
        }
        return 0;
    }
    scan_state s = {m, budget, depth + 1, maybe, mode};
    return trav(o, scan_visit, &s) != 0;
}

/* What NumPy's coercion reads as a sequence, other than a list or tuple (their subclasses
   included: read as lists): 1 a deque (or a subclass), 2 an object of a heap type with length
   and item slots (a Python class's __len__ and __getitem__: a UserList, a user sequence),
   none of a number, string, bytes, dict, array or class; 0 anything else. Slot tests only:
   the cheap answer for the common arguments (floats, arrays: static types) comes first. */
#define FA_NOT_SEQ_FLAGS                                                                  \
    (Py_TPFLAGS_LONG_SUBCLASS | Py_TPFLAGS_LIST_SUBCLASS | Py_TPFLAGS_TUPLE_SUBCLASS |     \
     Py_TPFLAGS_BYTES_SUBCLASS | Py_TPFLAGS_UNICODE_SUBCLASS | Py_TPFLAGS_DICT_SUBCLASS |  \
     Py_TPFLAGS_TYPE_SUBCLASS)

static int
seq_kind(PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t == deque_type) {
        return 1;
    }
    if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE) || (t->tp_flags & FA_NOT_SEQ_FLAGS)) {
        return 0;
    }
    if (deque_type != NULL && PyType_IsSubtype(t, deque_type)) {
        return 1;
    }
    PySequenceMethods *sq = t->tp_as_sequence;
    PyMappingMethods *mp = t->tp_as_mapping;
    if (!((sq != NULL && sq->sq_length != NULL) || (mp != NULL && mp->mp_length != NULL)) ||
        !((sq != NULL && sq->sq_item != NULL) || (mp != NULL && mp->mp_subscript != NULL))) {
        return 0;
    }
    return !(PyFloat_Check(o) || PyComplex_Check(o) || PyByteArray_Check(o) ||
             PyModule_Check(o) || (ndarray_type != NULL && PyObject_TypeCheck(o, ndarray_type)))
               ? 2
               : 0;
}

/* FA_SCAN_SEQS: a deque's items (its traverse: also a subclass's __dict__), the deep scan of
   a sequence-protocol object */
static int
scan_seq(const ptrmap *m, PyObject *o, int kind, int depth, Py_ssize_t *budget, int maybe,
         int mode)
{
    if (kind == 2) {
        return scan_deep(m, o, depth, budget, maybe, mode);
    }
    traverseproc trav = Py_TYPE(o)->tp_traverse;
    if (trav == NULL) {
        return 0;
    }
    if (depth > 32 || --*budget < 0) {
        return maybe;
    }
    scan_state s = {m, budget, depth + 1, maybe, mode};
    return trav(o, scan_visit, &s) != 0;
}

static int
scan_walk(const ptrmap *m, PyObject *o, int depth, Py_ssize_t *budget, int maybe, int mode)
{
    PyObject **items;
    Py_ssize_t n;
    if (PyList_Check(o)) {
        items = ((PyListObject *)o)->ob_item;
        n = PyList_GET_SIZE(o);
    }
    else if (PyTuple_Check(o)) {
        items = ((PyTupleObject *)o)->ob_item;
        n = PyTuple_GET_SIZE(o);
    }
    else if (PyDict_Check(o)) { /* json.dumps({"p": [t, ...]}), str({t: 1}): keys, values */
        if (depth > 32 || --*budget < 0) {
            return maybe;
        }
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(o, &pos, &key, &value)) {
            if (is_traced_in(m, value) || is_traced_in(m, key) ||
                scan_walk(m, value, depth + 1, budget, maybe, mode) ||
                scan_walk(m, key, depth + 1, budget, maybe, mode)) {
                return 1;
            }
        }
        return 0;
    }
    else if (PyDictKeys_Check(o) || PyDictValues_Check(o) || PyDictItems_Check(o)) {
        /* repr(d.values()), str([a, d.items()]): the view's dict (its layout as CPython's
           dictobject.c has it, every version: the object head, then the dict) */
        PyObject *d = (PyObject *)((fa_dictview *)o)->dv_dict;
        return d != NULL && scan_walk(m, d, depth + 1, budget, maybe, mode);
    }
    else {
        int kind = (mode & FA_SCAN_SEQS) ? seq_kind(o) : 0;
        if (kind) {
            return scan_seq(m, o, kind, depth, budget, maybe, mode);
        }
        return (mode & FA_SCAN_DEEP) && scan_deep(m, o, depth, budget, maybe, mode);
    }
    if (depth > 32 || --*budget < 0) {
        return maybe;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        /* is_traced runs no Python code, so the list cannot change under us; an item may be
           NULL in a tuple a C iterator is still filling (itertools.product's result after
           __setstate__), reached through its traverse by the deep scan */
        PyObject *it = items[i];
        if (it == NULL) {
            continue;
        }
        if (is_traced_in(m, it) || scan_walk(m, it, depth + 1, budget, maybe, mode)) {
            return 1;
        }
    }
    return 0;
}

/* mode: FA_SCAN_* bits (0: o itself only) */
static int
scan_traced(PyObject *o, int mode)
{
    Py_ssize_t budget = FA_SCAN_BUDGET;
    return scan_walk(&T.tracked, o, 0, &budget, 1, mode);
}

static inline int
is_traced_scan(PyObject *o, int mode)
{
    return is_traced(o) || (mode && scan_traced(o, mode));
}

/* ------------------------------------------------------------------------ */
/* co_extra cache                                                            */

typedef struct fa_extra {
    uint64_t generation;   /* FA_GEN_PASSTHROUGH: an instrumented code object;
                              FA_GEN_DEAD: its code object is being freed */
    PyObject *replacement; /* strong reference, NULL: run the code as is */
    struct fa_extra *next; /* dead-list link */
    PyCodeObject *code;    /* borrowed: the code object whose co_extra holds this */
} fa_extra;

/* every live code object holding an entry (code -> entry): when the last capture ends
   (install_depth back to 0) all are detached (detach_all_extras) */
static ptrmap extras_held;

/* Entries of code objects being deallocated. code_dealloc calls every
   co_extra free function before it frees co_extra itself, and another
   library's free function (or the decref of our replacement) can run Python
   code that reaches the dying code object again (CPython's own test_code
   registers a Python free function through ctypes). So an entry is only marked
   dead here and freed later, when no hook is installed. */
static fa_extra *dead_extras;

static void
free_dead_extras(void)
{
    while (dead_extras != NULL) {
        fa_extra *e = dead_extras;
        dead_extras = e->next;
        PyMem_RawFree(e);
    }
}

static void
fa_extra_free(void *p)
{
    fa_extra *e = (fa_extra *)p;
    if (e == NULL || e->generation == FA_GEN_DEAD) {
        return;
    }
    PyObject *r = e->replacement;
    e->replacement = NULL;
    e->generation = FA_GEN_DEAD;
    ptrmap_remove(&extras_held, e->code);
    if (install_depth > 0) {
        e->next = dead_extras;
        dead_extras = e;
    }
    else { /* no hook: nothing of ours reads co_extra */
        PyMem_RawFree(e);
    }
    Py_XDECREF(r);
}

static inline fa_extra *
get_extra(PyCodeObject *code)
{
    void *p = NULL;
    if (fa_code_get_extra((PyObject *)code, extra_index, &p) < 0) {
        PyErr_Clear();
        return NULL;
    }
    return (fa_extra *)p;
}

/* Store (gen, replacement) in code's co_extra; steals `replacement`. */
static int
set_extra(PyCodeObject *code, uint64_t gen, PyObject *replacement)
{
    fa_extra *e = get_extra(code);
    if (e != NULL) {
        if (e->generation == FA_GEN_DEAD) { /* code object being freed */
            Py_XDECREF(replacement);
            return 0;
        }
        PyObject *old = e->replacement;
        e->generation = gen;
        e->replacement = replacement;
        Py_XDECREF(old);
        return 0;
    }
    e = (fa_extra *)PyMem_RawMalloc(sizeof(fa_extra));
    if (e == NULL) {
        Py_XDECREF(replacement);
        PyErr_NoMemory();
        return -1;
    }
    e->generation = gen;
    e->replacement = replacement;
    e->next = NULL;
    e->code = code;
    if (ptrmap_set(&extras_held, code, (uintptr_t)e) < 0) {
        PyMem_RawFree(e);
        Py_XDECREF(replacement);
        PyErr_NoMemory();
        return -1;
    }
    if (fa_code_set_extra((PyObject *)code, extra_index, e) < 0) {
        ptrmap_remove(&extras_held, code);
        PyMem_RawFree(e);
        Py_XDECREF(replacement);
        return -1;
    }
    return 0;
}

#define FA_DECIDE_FRAMES 50

/* Call decide(code) and cache the answer. Returns 0 or -1 with an exception. */
static int
run_decide(PyThreadState *tstate, PyCodeObject *code)
{
    PyObject *decide = decide_fn;
    if (decide == NULL) {
        return 0; /* uninstalled meanwhile: run as is, cache nothing */
    }
    uint64_t gen = thread_gen();
    Py_INCREF(decide);
    int was_busy = T.busy;
    T.busy = 1;
    PyThreadState_EnterTracing(tstate);
    /* the rewriter's own frames do not count against the program's recursion limit (a
       program at its limit would get a RecursionError raised by framead) */
    FA_PY_RECURSION_REMAINING(tstate) += FA_DECIDE_FRAMES;
    PyObject *res = PyObject_CallOneArg(decide, (PyObject *)code);
    FA_PY_RECURSION_REMAINING(tstate) -= FA_DECIDE_FRAMES;
    PyThreadState_LeaveTracing(tstate);
    T.busy = was_busy;
    Py_DECREF(decide);
    st.decisions++;
    if (res == NULL) {
        return -1;
    }
    PyObject *replacement = NULL;
    if (res == Py_None || res == (PyObject *)code) {
        Py_DECREF(res);
    }
    else if (!PyCode_Check(res)) {
        PyErr_Format(PyExc_TypeError, "framead decide() must return a code object or None, not %.200s",
                     Py_TYPE(res)->tp_name);
        Py_DECREF(res);
        return -1;
    }
    else if (!fa_code_same_layout(code, (PyCodeObject *)res)) {
        st.layout_rejections++;
        Py_DECREF(res);
    }
    else {
        /* the instrumented code itself is never rewritten again */
        if (set_extra((PyCodeObject *)res, FA_GEN_PASSTHROUGH, NULL) < 0) {
            Py_DECREF(res);
            return -1;
        }
        replacement = res; /* our reference moves into the cache */
    }
    return set_extra(code, gen, replacement);
}

/* ------------------------------------------------------------------------ */
/* The PEP 523 hook                                                          */

/* The "native subtree" decision: decide() answers with a same-layout copy of
   the code whose co_name is this interned string (importlib's loading frames:
   module bodies are not user numerics). The hook then runs the original code
   and everything it calls with capture off for this thread and, once it has
   returned, calls decide(None) so capture can refresh (rules of the modules
   that were just imported). */
#define FA_NATIVE_SUBTREE_NAME "<framead:native-subtree>"

/* ------------------------------------------------------------------------ */
/* C stack guard                                                             */

/* Under the hook 3.11 no longer inlines Python-to-Python calls: every Python
   frame of a capture costs C stack. Where native code would go on until its
   recursion limit, a frame that would leave less than this margin of the
   thread's C stack raises RecursionError instead of crashing the process. */
#define FA_STACK_MARGIN_MIN (256 * 1024)
#define FA_STACK_MARGIN_MAX (1024 * 1024)

static void
stack_init(void)
{
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    T.stack_low = (char *)1; /* unknown stack: no guard */
    if (pthread_getattr_np(pthread_self(), &attr) != 0) {
        return;
    }
    if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr != NULL && size > 0) {
        /* an eighth of the stack, at most 1 MiB and at least 256 KiB; a small thread
           stack keeps three quarters (NumPy and LAPACK calls made by the recorder at the
           deepest allowed frame need tens of KiB) */
        size_t margin = size / 8;
        margin = margin > FA_STACK_MARGIN_MAX ? FA_STACK_MARGIN_MAX : margin;
        if (margin < FA_STACK_MARGIN_MIN) {
            margin = size / 4 * 3 < FA_STACK_MARGIN_MIN ? size / 4 * 3 : FA_STACK_MARGIN_MIN;
        }
        T.stack_low = (char *)addr + margin;
    }
    pthread_attr_destroy(&attr);
}

static int
stack_nearly_full(void)
{
    char here;
    if (FA_UNLIKELY(T.stack_low == NULL)) {
        stack_init();
    }
    return (char *)&here < T.stack_low;
}

/* ------------------------------------------------------------------------ */
/* The PEP 523 hook (continued)                                              */

static PyObject *
stack_error(PyThreadState *tstate, fa_frame *frame)
{
    PyErr_SetString(PyExc_RecursionError,
                    "maximum recursion depth exceeded (the C stack is nearly full: while "
                    "framead captures, every Python call uses C stack)");
    fa_frame_abandon(tstate, frame);
    return NULL;
}

static PyObject *
fa_eval(PyThreadState *tstate, fa_frame *frame, int throwflag)
{
    /* every frame costs C stack while the hook is installed (3.11 does not inline calls),
       also those that run natively: an import's module body, a finalizer, another
       thread's recursion while some thread captures */
    if (FA_UNLIKELY(stack_nearly_full()) && fa_frame_is_fresh(tstate, frame, throwflag)) {
        return stack_error(tstate, frame);
    }
    if (FA_UNLIKELY(T.in_gc)) {
        if (fa_gc_collecting(tstate)) {
            return fa_eval_default(tstate, frame, throwflag);
        }
        T.in_gc = 0;
    }
    if (!T.enabled && !FA_WATCHING()) {
        return fa_eval_default(tstate, frame, throwflag);
    }
    if (T.busy) {
        return fa_eval_default(tstate, frame, throwflag);
    }
    int just_recalled = T.recalling; /* this frame is fa_frame_recall()'s second try */
    T.recalling = 0;
    st.calls++;
    if (!fa_frame_is_fresh(tstate, frame, throwflag)) {
        st.not_fresh++;
        return fa_eval_default(tstate, frame, throwflag);
    }
    PyCodeObject *code = fa_frame_code(frame);
    fa_extra *e = get_extra(code);
    if (e == NULL || (e->generation != thread_gen() && e->generation < FA_GEN_SPECIAL)) {
        if (run_decide(tstate, code) < 0) {
            st.decide_errors++;
            fa_frame_abandon(tstate, frame);
            return NULL;
        }
        /* decide() ran Python code: the frame is still at the top (the stack
           discipline restores it) but re-check rather than assume. */
        if (!fa_frame_is_fresh(tstate, frame, 0)) {
            st.passed_through++;
            return fa_eval_default(tstate, frame, 0);
        }
        e = get_extra(code);
    }
    if (e == NULL || e->replacement == NULL) {
        st.passed_through++;
        return fa_eval_default(tstate, frame, 0);
    }
    static PyObject *native_name; /* interned FA_NATIVE_SUBTREE_NAME */
    if (FA_UNLIKELY(native_name == NULL) &&
        (native_name = PyUnicode_InternFromString(FA_NATIVE_SUBTREE_NAME)) == NULL) {
        fa_frame_abandon(tstate, frame);
        return NULL;
    }
    if (((PyCodeObject *)e->replacement)->co_name == native_name) {
        st.passed_through++;
        int was_enabled = T.enabled, was_off = T.off;
        T.enabled = 0;
        T.off = 1;
        PyObject *res = fa_eval_default(tstate, frame, 0);
        T.enabled = was_enabled;
        T.off = was_off;
        PyObject *decide = decide_fn;
        if (decide != NULL) {
            PyObject *et, *ev, *etb;
            PyErr_Fetch(&et, &ev, &etb);
            Py_INCREF(decide);
            T.busy = 1;
            PyThreadState_EnterTracing(tstate);
            PyObject *r = PyObject_CallOneArg(decide, Py_None);
            PyThreadState_LeaveTracing(tstate);
            T.busy = 0;
            Py_DECREF(decide);
            if (r == NULL) { /* the refresh's error (KeyboardInterrupt...) propagates */
                Py_XDECREF(et);
                Py_XDECREF(ev);
                Py_XDECREF(etb);
                Py_CLEAR(res);
            }
            else {
                Py_DECREF(r);
                PyErr_Restore(et, ev, etb);
            }
        }
        return res;
    }
    /* Hold the replacement: making a generator's function object can run a
       GC pass, and a finalizer could re-decide this code and drop the cache's
       reference. */
    PyCodeObject *repl = (PyCodeObject *)Py_NewRef(e->replacement);
    int is_gen = (repl->co_flags & FA_CO_GENLIKE) != 0;
    int r = fa_frame_install_code(tstate, frame, repl);
    Py_DECREF(repl); /* the frame holds its own reference now */
    if (r < 0) {
        fa_frame_abandon(tstate, frame);
        return NULL;
    }
    if (r == 0) {
        st.no_room++;
        if (!just_recalled) {
            /* run it instrumented on a fresh chunk instead of uninstrumented here */
            T.recalling = 1;
            PyObject *res = fa_frame_recall(tstate, frame);
            T.recalling = 0;
            if (res != NULL || PyErr_Occurred()) {
                st.recalled++;
                fa_frame_abandon(tstate, frame); /* this frame never runs (3.12+: pop it) */
                return res;
            }
        }
        st.passed_through++;
    }
    else {
        st.rewritten++;
        st.generator_funcs += is_gen;
    }
    return fa_eval_default(tstate, frame, 0);
}

/* A stand-in "foreign" evaluator for tests of the conflict check. */
static PyObject *
fa_foreign_eval(PyThreadState *tstate, fa_frame *frame, int throwflag)
{
    return fa_eval_default(tstate, frame, throwflag);
}

/* ------------------------------------------------------------------------ */
/* Hook control                                                              */

static PyObject *
m_install(PyObject *mod, PyObject *decide)
{
    if (!PyCallable_Check(decide)) {
        PyErr_SetString(PyExc_TypeError, "install(decide): decide must be callable");
        return NULL;
    }
    fa_eval_func cur = fa_get_eval_func();
    if (cur != fa_eval && !fa_is_default_eval(cur)) {
        PyErr_SetString(PyExc_RuntimeError, FA_FOREIGN_MSG);
        return NULL;
    }
    if (PyList_Append(decide_stack, decide) < 0) {
        return NULL;
    }
    decide_fn = decide;
    install_depth++;
    if (cur != fa_eval) {
        fa_set_eval_func(fa_eval);
    }
    Py_RETURN_NONE;
}

/* The last capture ended: take framead's entries off every code object (first all of
   them, running no Python code; then drop the replacements, whose deallocation finds
   nothing of ours left). decide()'s own cache (capture.session) keeps the instrumented
   copies for the next capture. */
static void
detach_all_extras(void)
{
    size_t n = extras_held.size, k = 0;
    if (n == 0) {
        return;
    }
    fa_extra **held = PyMem_RawMalloc(n * sizeof(fa_extra *));
    if (held == NULL) {
        return; /* keep them: the next uninstall tries again */
    }
    for (size_t i = 0; i <= extras_held.mask && k < n; i++) {
        ptrmap_entry *pe = &extras_held.table[i];
        if (pe->key != NULL) {
            fa_extra *e = (fa_extra *)pe->value;
            fa_code_detach_extra(e->code, extra_index);
            held[k++] = e;
        }
    }
    ptrmap_clear(&extras_held);
    for (size_t i = 0; i < k; i++) {
        PyObject *r = held[i]->replacement;
        PyMem_RawFree(held[i]);
        Py_XDECREF(r);
    }
    PyMem_RawFree(held);
}

static PyObject *
m_uninstall(PyObject *mod, PyObject *unused)
{
    if (install_depth <= 0) {
        PyErr_SetString(PyExc_RuntimeError, "uninstall() without a matching install()");
        return NULL;
    }
    install_depth--;
    Py_ssize_t n = PyList_GET_SIZE(decide_stack);
    if (PyList_SetSlice(decide_stack, n - 1, n, NULL) < 0) {
        return NULL;
    }
    n--;
    decide_fn = n > 0 ? PyList_GET_ITEM(decide_stack, n - 1) : NULL;
    if (install_depth == 0) {
        if (fa_get_eval_func() == fa_eval) {
            fa_set_eval_func(_PyEval_EvalFrameDefault);
        }
        free_dead_extras();
        detach_all_extras();
    }
    Py_RETURN_NONE;
}

static PyObject *
m_install_depth(PyObject *mod, PyObject *unused)
{
    return PyLong_FromLong(install_depth);
}

static PyObject *
m_set_enabled(PyObject *mod, PyObject *flag)
{
    int v = PyObject_IsTrue(flag);
    if (v < 0) {
        return NULL;
    }
    int prev = T.enabled;
    T.enabled = v;
    return PyBool_FromLong(prev);
}

static PyObject *
m_is_enabled(PyObject *mod, PyObject *unused)
{
    return PyBool_FromLong(T.enabled);
}

/* Is this thread running framead's own code for its capture (decide(), a handler) or a
   collection it started, rather than the program? A grad called from there (a signal
   handler, an audit hook, a finalizer, a gc callback) is not part of the differentiated
   computation: it captures on its own. */
static PyObject *
m_in_framead(PyObject *mod, PyObject *unused)
{
    return PyBool_FromLong(T.busy || T.in_handler > 0 ||
                           (T.in_gc && fa_gc_collecting(PyThreadState_Get())));
}

static PyObject *
m_bump_generation(PyObject *mod, PyObject *unused)
{
    gen_floor = ++generation;
    T.gen = gen_floor;
    return PyLong_FromUnsignedLongLong(generation);
}

static PyObject *
m_bump_thread_generation(PyObject *mod, PyObject *unused)
{
    T.gen = ++generation;
    return PyLong_FromUnsignedLongLong(generation);
}

static PyObject *
m_stats(PyObject *mod, PyObject *unused)
{
    return Py_BuildValue(
        "{sKsKsKsKsKsKsKsKsKsKsKsisn}", "calls", st.calls, "not_fresh", st.not_fresh, "rewritten",
        st.rewritten, "passed_through", st.passed_through, "decisions", st.decisions,
        "layout_rejections", st.layout_rejections, "no_room", st.no_room, "recalled",
        st.recalled, "decide_errors",
        st.decide_errors, "generator_funcs", st.generator_funcs, "generation",
        (unsigned long long)generation, "install_depth", install_depth, "tracked",
        (Py_ssize_t)T.tracked.size);
}

static PyObject *
m_reset_stats(PyObject *mod, PyObject *unused)
{
    memset(&st, 0, sizeof(st));
    Py_RETURN_NONE;
}

static PyObject *
m_install_foreign_for_test(PyObject *mod, PyObject *flag)
{
    int v = PyObject_IsTrue(flag);
    if (v < 0) {
        return NULL;
    }
    fa_eval_func cur = fa_get_eval_func();
    if (v) {
        if (!fa_is_default_eval(cur)) {
            PyErr_SetString(PyExc_RuntimeError, "an evaluator is already installed");
            return NULL;
        }
        fa_set_eval_func(fa_foreign_eval);
    }
    else if (cur == fa_foreign_eval) {
        fa_set_eval_func(_PyEval_EvalFrameDefault);
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------ */
/* Handlers                                                                  */

static void
clear_handlers(void)
{
    Py_CLEAR(T.h_obj);
    Py_CLEAR(T.h_binop);
    Py_CLEAR(T.h_unary);
    Py_CLEAR(T.h_compare);
    Py_CLEAR(T.h_getitem);
    Py_CLEAR(T.h_setitem);
    Py_CLEAR(T.h_getattr);
    Py_CLEAR(T.h_getiter);
    Py_CLEAR(T.h_unpack);
    Py_CLEAR(T.h_call);
    Py_CLEAR(T.h_foreign);
    Py_CLEAR(T.fast_rec);
}

/* A thread with handlers is "capturing": other threads watch for its values. */
static void
register_thread(int on)
{
    if (on && !T.registered) {
        T.next = capturing_threads;
        capturing_threads = &T;
        T.registered = 1;
        n_capturing++;
    }
    else if (!on && T.registered) {
        for (fa_tls **p = &capturing_threads; *p != NULL; p = &(*p)->next) {
            if (*p == &T) {
                *p = T.next;
                break;
            }
        }
        T.next = NULL;
        T.registered = 0;
        n_capturing--;
    }
}

static PyObject *
m_set_handlers(PyObject *mod, PyObject *obj)
{
    static const char *names[] = {"binop",   "unary",   "compare", "getitem", "setitem",
                                  "getattr", "getiter", "unpack",  "call",    "foreign"};
    /* interned once: a name string made for each call was kept by CPython's type attribute
       cache (an entry per new string address, up to its 4096 entries: ~0.1 blocks a call) */
    static PyObject *interned[10];
    PyObject *got[10] = {NULL};
    for (int i = 0; i < 10; i++) {
        if (interned[i] == NULL && (interned[i] = PyUnicode_InternFromString(names[i])) == NULL)
            return NULL;
    }
    if (obj != Py_None) {
        for (int i = 0; i < 9; i++) {
            got[i] = PyObject_GetAttr(obj, interned[i]);
            if (got[i] == NULL) {
                for (int j = 0; j < i; j++) {
                    Py_DECREF(got[j]);
                }
                return NULL;
            }
        }
        /* optional: where another thread's traced values are reported */
        got[9] = PyObject_GetAttr(obj, interned[9]);
        if (got[9] == NULL) {
            PyErr_Clear();
        }
    }
    clear_handlers();
    if (obj != Py_None) {
        T.h_obj = Py_NewRef(obj);
        T.h_binop = got[0];
        T.h_unary = got[1];
        T.h_compare = got[2];
        T.h_getitem = got[3];
        T.h_setitem = got[4];
        T.h_getattr = got[5];
        T.h_getiter = got[6];
        T.h_unpack = got[7];
        T.h_call = got[8];
        T.h_foreign = got[9];
    }
    register_thread(obj != Py_None);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------ */
/* Watching threads                                                          */

static int
watch_scan(const ptrmap *m, PyObject *o)
{
    Py_ssize_t budget = FA_SCAN_BUDGET;
    return scan_walk(m, o, 0, &budget, 0, 0);
}

/* The capturing thread (other than this one) whose traced set holds o, or NULL. */
static fa_tls *
watch_owner(PyObject *o, int scan)
{
    for (fa_tls *t = capturing_threads; t != NULL; t = t->next) {
        if (t != &T && t->tracked.size != 0 &&
            (is_traced_in(&t->tracked, o) || (scan && watch_scan(&t->tracked, o)))) {
            return t;
        }
    }
    return NULL;
}

/* A watching thread met another thread's traced value in `what` (an operator name,
   or the C callable it was passed to): tell that capture's recorder (it reports a
   hazard located at this thread's line; in strict mode it raises here). */
static int
watch_report(fa_tls *owner, PyObject *what)
{
    PyObject *h = owner->h_foreign;
    if (h == NULL) {
        return 0;
    }
    Py_INCREF(h);
    PyObject *r = PyObject_CallOneArg(h, what);
    Py_DECREF(h);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* Probes of a watching thread: 0 (nothing of another capture's), or -1 (error). */
static int
watch_operands(const char *what, PyObject *a, PyObject *b)
{
    fa_tls *owner = watch_owner(a, 0);
    if (owner == NULL && b != NULL) {
        owner = watch_owner(b, 0);
    }
    if (owner == NULL) {
        return 0;
    }
    PyObject *name = PyUnicode_FromString(what);
    if (name == NULL) {
        return -1;
    }
    int r = watch_report(owner, name);
    Py_DECREF(name);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Tracked set                                                               */

static PyObject *
m_track(PyObject *mod, PyObject *obj)
{
    if (T.h_obj == NULL) { /* no capture on this thread: a session tracks its recorder's
                              values when it starts (nothing stays behind if it never does) */
        Py_RETURN_NONE;
    }
    if (ptrmap_set(&T.tracked, obj, 1) < 0) {
        return PyErr_NoMemory();
    }
    Py_RETURN_NONE;
}

static PyObject *
m_untrack(PyObject *mod, PyObject *obj)
{
    ptrmap_remove(&T.tracked, obj);
    Py_RETURN_NONE;
}

/* untrack_address(address): untrack the object that was at this address (being freed or
   gone: it is never dereferenced, only its address hashed) */
static PyObject *
m_untrack_address(PyObject *mod, PyObject *address)
{
    void *p = PyLong_AsVoidPtr(address);
    if (p == NULL && PyErr_Occurred()) {
        return NULL;
    }
    ptrmap_remove(&T.tracked, (PyObject *)p);
    Py_RETURN_NONE;
}

static PyObject *
m_clear_tracked(PyObject *mod, PyObject *unused)
{
    ptrmap_clear(&T.tracked);
    Py_RETURN_NONE;
}

static PyObject *
m_is_tracked(PyObject *mod, PyObject *obj)
{
    return PyBool_FromLong(T.tracked.size != 0 && is_traced(obj));
}

static PyObject *
m_tracked_count(PyObject *mod, PyObject *unused)
{
    return PyLong_FromSize_t(T.tracked.size);
}

/* A 64-bit bijection that mixes every input bit into every output bit (MurmurHash3's
   finalizer). */
static inline uint64_t mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

#define DIGEST_STEP 0x9e3779b97f4a7c15ULL   /* odd: i * DIGEST_STEP differs for every i */
#define DIGEST_KEY2 0xd6e8feb86659fd93ULL   /* the second word's key of a pair */

/* The 128-bit product of a and b folded to 64 bits (high xor low): one multiplication mixes
   every bit of both words into the middle bits of the product. */
static inline uint64_t mum64(uint64_t a, uint64_t b)
{
#if defined(__SIZEOF_INT128__)
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)(r >> 64) ^ (uint64_t)r;
#else
    uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    uint64_t lo = (ll & 0xffffffffu) | (mid << 32);
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return hi ^ lo;
#endif
}

/* digest_words(data): capture/buffers.py content_digest over `data`'s bytes (a C-contiguous
   buffer). Its 64-bit words (native order, as a uint64 view reads them) go in pairs
   (w[2j], w[2j+1]); pair j's term is mum64(w[2j] ^ k(j), w[2j+1] ^ m(j)) with position keys
   k(j) = 2**63 + j * DIGEST_STEP and m(j) = 2**63 + j * DIGEST_KEY2 (odd steps: neither key
   is zero before pair 2**63, so no word value cancels its pair's product unless crafted
   against the keys). A last odd word is paired with 0; the last len % 8 bytes, as a
   little-endian int `rest`, make one more term, mix64(rest ^ npairs * DIGEST_STEP ^
   (len % 8) << 56). The digest is the sum of the terms mod 2**64: a changed word changes its
   pair's term, a moved one its position's, and changes cancel only by coincidence (no linear
   relation, unlike a weighted sum, where two sign flips cancel). One multiplication per 16
   bytes (mix64 of every word, before, cost ~5x more: 0.34 ms for a 1.6 MB array). One pass,
   no temporaries; the GIL is released (the array is only read). */
#define DIGEST_TERM(a, b, j) \
    mum64((a) ^ (0x8000000000000000ULL + (j) * DIGEST_STEP), \
          (b) ^ (0x8000000000000000ULL + (j) * DIGEST_KEY2))

static PyObject *
m_digest_words(PyObject *mod, PyObject *data)
{
    Py_buffer d;
    if (PyObject_GetBuffer(data, &d, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    const unsigned char *p = (const unsigned char *)d.buf;
    size_t nw = (size_t)d.len / 8, tail = (size_t)d.len % 8, npairs = (nw + 1) / 2;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, v[8], rest = 0;
    Py_BEGIN_ALLOW_THREADS
    uint64_t j = 0;   /* pairs (the compiler turns j * step into running sums) */
    for (; 2 * j + 8 <= nw; j += 4) {
        memcpy(v, p + 16 * j, sizeof v);
        s0 += DIGEST_TERM(v[0], v[1], j);
        s1 += DIGEST_TERM(v[2], v[3], j + 1);
        s2 += DIGEST_TERM(v[4], v[5], j + 2);
        s3 += DIGEST_TERM(v[6], v[7], j + 3);
    }
    for (; j < npairs; j++) {
        v[1] = 0;
        memcpy(v, p + 16 * j, 2 * j + 1 < nw ? 16 : 8);
        s0 += DIGEST_TERM(v[0], v[1], j);
    }
    for (size_t k = 0; k < tail; k++)   /* little-endian, as int.from_bytes(..., "little") */
        rest |= (uint64_t)p[8 * nw + k] << (8 * k);
    s0 += mix64(rest ^ (uint64_t)npairs * DIGEST_STEP ^ ((uint64_t)tail << 56));
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&d);
    return PyLong_FromUnsignedLongLong(s0 + s1 + s2 + s3);
}

/* prefault(buffer): have the kernel map in a fresh writable buffer's pages in one call
   (madvise MADV_POPULATE_WRITE, Linux 5.14+) before it is written in full, instead of one
   page fault per page as the writes first touch them (~2.2 us a page on the benchmark
   machines, ~0.7 us populated). Only the pages wholly inside the buffer, and only when its
   first or last such page is not resident yet (mincore): memory the allocator reuses is
   mapped already (a heap that grows again after a trim keeps its first pages). For framead's copies of the caller's arrays (framead/inputs.py), which are written
   in full at once, so the process's memory is what it would be anyway. Returns whether it
   asked; False where the kernel or the platform cannot (then it stops asking). */
static int prefault_unsupported;

static PyObject *
m_prefault(PyObject *mod, PyObject *data)
{
    Py_buffer d;
    if (PyObject_GetBuffer(data, &d, PyBUF_ANY_CONTIGUOUS | PyBUF_WRITABLE) < 0)
        return NULL;
    int asked = 0;
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t)d.buf + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)d.buf + (uintptr_t)d.len) & ~(page - 1);
    unsigned char first = 1, last = 1;
    if (!prefault_unsupported && end > start &&
            mincore((void *)start, page, &first) == 0 &&
            mincore((void *)(end - page), page, &last) == 0 && !(first & last & 1)) {
        int rc, err = 0;
        Py_BEGIN_ALLOW_THREADS
        rc = madvise((void *)start, end - start, MADV_POPULATE_WRITE);
        if (rc != 0)
            err = errno;
        Py_END_ALLOW_THREADS
        if (rc == 0)
            asked = 1;
        else if (err == EINVAL || err == ENOSYS)
            prefault_unsupported = 1;   /* an older kernel: the writes fault the pages in */
    }
#endif
    PyBuffer_Release(&d);
    return PyBool_FromLong(asked);
}

static PyObject *
m_set_ndarray_type(PyObject *mod, PyObject *args)
{
    PyObject *tp, *strided = Py_None;
    if (!PyArg_UnpackTuple(args, "set_ndarray_type", 1, 2, &tp, &strided)) {
        return NULL;
    }
    if (tp == Py_None) {
        Py_CLEAR(ndarray_type);
        Py_CLEAR(strided_base_type);
        Py_RETURN_NONE;
    }
    if (!PyType_Check(tp) || (strided != Py_None && !PyType_Check(strided))) {
        PyErr_SetString(PyExc_TypeError, "set_ndarray_type() needs types");
        return NULL;
    }
    Py_XSETREF(ndarray_type, (PyTypeObject *)Py_NewRef(tp));
    Py_XSETREF(strided_base_type, strided == Py_None ? NULL
                                                     : (PyTypeObject *)Py_NewRef(strided));
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------ */
/* Callable flags                                                            */

static inline const void *
flags_key(PyObject *c)
{
    PyTypeObject *t = Py_TYPE(c);
    if (t == &PyCFunction_Type || t == &PyCMethod_Type || PyCFunction_Check(c)) {
        return ((PyCFunctionObject *)c)->m_ml;
    }
    if (t == &PyMethodDescr_Type || t == &PyClassMethodDescr_Type) {
        return ((PyMethodDescrObject *)c)->d_method;
    }
    return c;
}

static inline unsigned
lookup_flags(PyObject *c)
{
    ptrmap_entry *e = ptrmap_find(&callable_flags, flags_key(c));
    if (e != NULL) {
        return (unsigned)e->value;
    }
    if (PyMethod_Check(c)) { /* bound Python method: flags of its function */
        e = ptrmap_find(&callable_flags, PyMethod_GET_FUNCTION(c));
        if (e != NULL) {
            return (unsigned)e->value;
        }
    }
    else if (Py_IS_TYPE(c, method_wrapper_type)) { /* a.__setitem__: its slot wrapper's */
        e = ptrmap_find(&callable_flags, ((fa_method_wrapper *)c)->descr);
        if (e != NULL) {
            return (unsigned)e->value;
        }
    }
    return 0;
}

static PyObject *
m_set_callable_flags(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "set_callable_flags(obj, flags)");
        return NULL;
    }
    long flags = PyLong_AsLong(args[1]);
    if (flags == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (flags < 0 || flags > 15) {
        PyErr_SetString(PyExc_ValueError, "flags must combine RULE, ALWAYS, NATIVE, SCAN");
        return NULL;
    }
    const void *key = flags_key(args[0]);
    if (flags == 0) {
        ptrmap_remove(&callable_flags, key);
        Py_RETURN_NONE;
    }
    int added = ptrmap_set(&callable_flags, key, (uintptr_t)flags);
    if (added < 0) {
        return PyErr_NoMemory();
    }
    if (added && PyList_Append(flag_refs, args[0]) < 0) {
        ptrmap_remove(&callable_flags, key);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
m_get_callable_flags(PyObject *mod, PyObject *obj)
{
    return PyLong_FromUnsignedLong(callable_flags.size ? lookup_flags(obj) : 0);
}

/* set_scan_config(plain_class, consumers, leaf_iterator_types): what the deep argument
   scan (scan_deep) needs: a class made by a class statement (its tp_traverse is every such
   class's), the C callables that move their arguments by identity, the iterator types whose
   items are never traced. */
static PyObject *
m_set_scan_config(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyType_Check(args[0]) || !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "set_scan_config(plain_class, consumers, leaf_iterator_types: tuple)");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args[2]); i++) {
        if (!PyType_Check(PyTuple_GET_ITEM(args[2], i))) {
            PyErr_SetString(PyExc_TypeError, "set_scan_config(): leaf iterator types");
            return NULL;
        }
    }
    PyObject *seq = PySequence_Fast(args[1], "set_scan_config(): consumers");
    if (seq == NULL) {
        return NULL;
    }
    ptrmap fresh = {0};
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        if (ptrmap_set(&fresh, flags_key(PySequence_Fast_GET_ITEM(seq, i)), 1) < 0) {
            free(fresh.table);
            Py_DECREF(seq);
            return PyErr_NoMemory();
        }
    }
    PyObject *keep = PyTuple_Pack(3, args[0], seq, args[2]);
    Py_DECREF(seq);
    if (keep == NULL) {
        free(fresh.table);
        return NULL;
    }
    free(identity_consumers.table);
    identity_consumers = fresh;
    leaf_iter_types = args[2];
    plain_traverse = ((PyTypeObject *)args[0])->tp_traverse;
    Py_XSETREF(scan_config, keep);
    Py_RETURN_NONE;
}

/* scan_kind(obj): what the deep argument scan enters obj as (capture/callables.py's walk
   asks): 0 not entered, 1 an object of a Python class or a deque (gc.get_referents: its
   items), 2 an iterator, 3/4/5 a dict's keys/values/items view, 6 a cell. */
static PyObject *
m_scan_kind(PyObject *mod, PyObject *o)
{
    return PyLong_FromLong(deep_kind(o));
}

/* scan_inside(obj): the deep scan of obj (a C iterator's state: what its traverse visits),
   in C, where objects may be half built (a tuple with NULL items: Python code must not
   iterate it). True where it finds a traced value or gives up (its budget): "maybe". */
static PyObject *
m_scan_inside(PyObject *mod, PyObject *o)
{
    Py_ssize_t budget = FA_SCAN_BUDGET;
    return PyBool_FromLong(scan_deep(&T.tracked, o, 0, &budget, 1, FA_SCAN_DEEP));
}

/* load_callable_flags([(obj, flags), ...]): the whole table replaced in one C call, so
   a capture running on another thread never sees it half built. */
static PyObject *
m_load_callable_flags(PyObject *mod, PyObject *pairs)
{
    PyObject *seq = PySequence_Fast(pairs, "load_callable_flags() needs a list of pairs");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    ptrmap fresh = {0};
    PyObject *refs = PyList_New(0);
    if (refs == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = PySequence_Fast_GET_ITEM(seq, i);
        long flags;
        if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) != 2 ||
            ((flags = PyLong_AsLong(PyTuple_GET_ITEM(p, 1))) == -1 && PyErr_Occurred()) ||
            flags < 0 || flags > 15) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "load_callable_flags(): (callable, flags) pairs");
            }
            goto fail;
        }
        PyObject *obj = PyTuple_GET_ITEM(p, 0);
        if (flags == 0) {
            ptrmap_remove(&fresh, flags_key(obj));
            continue;
        }
        int added = ptrmap_set(&fresh, flags_key(obj), (uintptr_t)flags);
        if (added < 0) {
            PyErr_NoMemory();
            goto fail;
        }
        if (added && PyList_Append(refs, obj) < 0) {
            goto fail;
        }
    }
    Py_DECREF(seq);
    free(callable_flags.table);
    callable_flags = fresh;
    Py_SETREF(flag_refs, refs);
    Py_RETURN_NONE;
fail:
    free(fresh.table);
    Py_DECREF(refs);
    Py_DECREF(seq);
    return NULL;
}

static PyObject *
m_clear_callable_flags(PyObject *mod, PyObject *unused)
{
    ptrmap_clear(&callable_flags);
    if (PyList_SetSlice(flag_refs, 0, PyList_GET_SIZE(flag_refs), NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------ */
/* Lazy source locations (capture/sourceloc.py)                              */

/* A recorded node's location is kept as a Where: the user's frame and its callers as
   (original code object, f_lasti) pairs, exactly as Python code reads frame.f_code and
   frame.f_lasti (frameview.h maps instrumented frames back), up to sourceloc.MAX_STACK + 1
   frames, starting at the first frame outside framead's files and stopping at the next one
   inside them (sourceloc.loc_of's walk). The SourceLoc is built from it on first access
   (Where.loc, by sourceloc's resolver) and cached in it. Frames are not held: a generator's
   callers are captured when the node is recorded. Identical chains share one Where object
   (a direct-mapped cache, emptied when a capture ends: it holds code objects). */
#define FA_WHERE_MAX 5 /* sourceloc.MAX_STACK + 1 */
#define FA_WHERE_CACHE 4096
#define FA_WHERE_FILES 4096

typedef struct {
    int n;
    int off[FA_WHERE_MAX];
    PyCodeObject *code[FA_WHERE_MAX]; /* borrowed while a key */
} fa_where_key;

typedef struct {
    PyObject_HEAD
    PyObject *loc; /* the resolved SourceLoc, or NULL */
    fa_where_key k; /* codes: strong references */
} fa_where;

static PyTypeObject Where_Type;
static PyObject *where_is_framead_fn; /* sourceloc.is_framead_file */
static PyObject *where_resolve_fn;    /* sourceloc's resolver: ((code, lasti), ...) -> SourceLoc */
static ptrmap framead_files;          /* co_filename -> 1 (the program's) or 2 (framead's) */
static PyObject *framead_file_refs;   /* list: the filenames framead_files holds */
static fa_where *where_cache[FA_WHERE_CACHE];
/* the slots filled since the last clear, in order (a clear visits only those: a capture ends
   in a few hundred nanoseconds, not the ~3 us of a walk over every slot) */
static unsigned short where_cache_used[FA_WHERE_CACHE];
static int where_cache_n;

static void
where_cache_clear(void)
{
    /* taken out first: a code object freed below may run Python code (a weakref callback)
       that fills slots again, appending to the list from 0 */
    unsigned short used[FA_WHERE_CACHE];
    int n = where_cache_n;
    where_cache_n = 0;
    if (n >= FA_WHERE_CACHE) {  /* (the list overflowed: slots refilled during a clear) */
        for (int i = 0; i < FA_WHERE_CACHE; i++) {
            Py_CLEAR(where_cache[i]);
        }
        return;
    }
    memcpy(used, where_cache_used, (size_t)n * sizeof(used[0]));
    for (int i = 0; i < n; i++) {
        Py_CLEAR(where_cache[used[i]]);
    }
}

static void
where_dealloc(PyObject *self)
{
    fa_where *w = (fa_where *)self;
    for (int i = 0; i < w->k.n; i++) {
        Py_DECREF(w->k.code[i]);
    }
    Py_XDECREF(w->loc);
    Py_TYPE(self)->tp_free(self);
}

/* Is `co` framead's own code? 1 yes, 0 no, -1 error; 2 when not known yet and `ask` is 0
   (the fast path does not call Python: its caller falls back to the handler). */
static int
code_is_framead(PyCodeObject *co, int ask)
{
    PyObject *fn = co->co_filename;
    ptrmap_entry *e = ptrmap_find(&framead_files, fn);
    if (e != NULL) {
        return e->value == 2;
    }
    if (where_is_framead_fn == NULL) {
        return 0;
    }
    if (!ask) {
        return 2;
    }
    PyObject *r = PyObject_CallOneArg(where_is_framead_fn, fn);
    if (r == NULL) {
        return -1;
    }
    int t = PyObject_IsTrue(r);
    Py_DECREF(r);
    if (t < 0) {
        return -1;
    }
    if (PyList_GET_SIZE(framead_file_refs) >= FA_WHERE_FILES) {
        ptrmap_clear(&framead_files);
        if (PyList_SetSlice(framead_file_refs, 0, PyList_GET_SIZE(framead_file_refs), NULL) < 0) {
            return -1;
        }
    }
    if (PyList_Append(framead_file_refs, fn) < 0) {
        return -1;
    }
    if (ptrmap_set(&framead_files, fn, t ? 2 : 1) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return t;
}

static inline fa_frame *
complete_frame(fa_frame *f)
{
    while (f != NULL && _PyFrame_IsIncomplete(f)) {
        f = f->previous;
    }
    return f;
}

/* frame.f_back, over interpreter frames and (*fo, when known) their frame objects: a frame
   that returned while its frame object lived keeps its caller in the object's f_back. */
static inline fa_frame *
frame_back(fa_frame *f, PyFrameObject **fo)
{
    PyFrameObject *back = *fo != NULL ? (*fo)->f_back : NULL;
    if (back != NULL) {
        *fo = back;
        return back->f_frame;
    }
    f = complete_frame(f->previous);
    *fo = f != NULL ? f->frame_obj : NULL;
    return f;
}

/* The key of the chain from frame `f` (frame object `fo`, or NULL for a running frame), as
   frame.f_back walks it. 0, -1 on error, or 1 when a filename is not known yet and `ask` is
   0. */
static int
where_fill(fa_frame *f, PyFrameObject *fo, fa_where_key *k, int ask)
{
    k->n = 0;
    if (fo == NULL) {
        f = complete_frame(f);
        fo = f != NULL ? f->frame_obj : NULL;
    }
    for (; f != NULL && k->n < FA_WHERE_MAX; f = frame_back(f, &fo)) {
        PyCodeObject *co = fa_frame_code(f);
        int fr = code_is_framead(co, ask);
        if (fr < 0) {
            return -1;
        }
        if (fr == 2) {
            return 1;
        }
        if (fr) {
            if (k->n == 0) {
                continue; /* framead's frames below the user's: skipped */
            }
            break; /* the user's callers end at framead's (the caller of the capture) */
        }
        Py_ssize_t u = fa_frame_unit(f);
        long off = u < 0 ? -1 : 2 * (long)u; /* frame.f_lasti */
        fv_origin o;
        if (fv_origin_of(co, &o) > 0) {
            off = fv_offset_to_orig(&o, off);
            co = o.orig;
        }
        k->code[k->n] = co;
        k->off[k->n] = (int)off;
        k->n++;
    }
    return 0;
}

/* A new reference to the Where of key `k` (shared with earlier nodes of the same chain). */
static PyObject *
where_get(const fa_where_key *k)
{
    size_t h = (size_t)k->n * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < k->n; i++) {
        h = (h ^ ((uintptr_t)k->code[i] >> 4)) * 0x100000001B3ull;
        h = (h ^ (size_t)(unsigned)k->off[i]) * 0x100000001B3ull;
    }
    h ^= h >> 29;
    fa_where **slot = &where_cache[h & (FA_WHERE_CACHE - 1)];
    fa_where *w = *slot;
    if (w != NULL && w->k.n == k->n) {
        int same = 1;
        for (int i = 0; i < k->n; i++) {
            if (w->k.code[i] != k->code[i] || w->k.off[i] != k->off[i]) {
                same = 0;
                break;
            }
        }
        if (same) {
            return Py_NewRef((PyObject *)w);
        }
    }
    w = PyObject_New(fa_where, &Where_Type);
    if (w == NULL) {
        return NULL;
    }
    w->loc = NULL;
    w->k = *k;
    for (int i = 0; i < k->n; i++) {
        Py_INCREF(k->code[i]);
    }
    if (*slot == NULL && where_cache_n < FA_WHERE_CACHE) {  /* (full: the clear walks all) */
        where_cache_used[where_cache_n++] = (unsigned short)(slot - where_cache);
    }
    Py_XSETREF(*slot, (fa_where *)Py_NewRef((PyObject *)w));
    return (PyObject *)w;
}

static PyObject *
where_of_frame(fa_frame *f, PyFrameObject *fo)
{
    fa_where_key k;
    if (where_fill(f, fo, &k, 1) < 0) {
        return NULL;
    }
    return where_get(&k);
}

static PyObject *
where_frames(PyObject *self, void *closure)
{
    fa_where *w = (fa_where *)self;
    PyObject *t = PyTuple_New(w->k.n);
    if (t == NULL) {
        return NULL;
    }
    for (int i = 0; i < w->k.n; i++) {
        PyObject *p = Py_BuildValue("(Oi)", (PyObject *)w->k.code[i], w->k.off[i]);
        if (p == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, p);
    }
    return t;
}

static PyObject *
where_loc(PyObject *self, void *closure)
{
    fa_where *w = (fa_where *)self;
    if (w->loc == NULL) {
        if (where_resolve_fn == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "framead: no location resolver registered");
            return NULL;
        }
        PyObject *frames = where_frames(self, NULL);
        if (frames == NULL) {
            return NULL;
        }
        PyObject *loc = PyObject_CallOneArg(where_resolve_fn, frames);
        Py_DECREF(frames);
        if (loc == NULL) {
            return NULL;
        }
        Py_XSETREF(w->loc, loc);
    }
    return Py_NewRef(w->loc);
}

static PyObject *
where_repr(PyObject *self)
{
    fa_where *w = (fa_where *)self;
    if (w->k.n == 0) {
        return PyUnicode_FromString("<framead Where: unknown>");
    }
    return PyUnicode_FromFormat("<framead Where %U@%d (%d frames)>", w->k.code[0]->co_qualname,
                                w->k.off[0], w->k.n);
}

static PyGetSetDef where_getset[] = {
    {"frames", where_frames, NULL, "((code, f_lasti), ...): the user's frame, then callers.",
     NULL},
    {"loc", where_loc, NULL, "The SourceLoc (built on first access, then kept).", NULL},
    {NULL},
};

static PyTypeObject Where_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "framead.capture._evalframe.Where",
    .tp_basicsize = sizeof(fa_where),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = where_dealloc,
    .tp_repr = where_repr,
    .tp_getset = where_getset,
    .tp_doc = "Where a node was recorded: code objects and offsets, resolved lazily.",
};

/* where(frame or None): the Where of a frame object (None: the caller's frame). */
static PyObject *
m_where(PyObject *mod, PyObject *frame)
{
    if (frame == Py_None) {
        return where_of_frame(fa_current_frame(PyThreadState_Get()), NULL);
    }
    if (!PyFrame_Check(frame)) {
        PyErr_SetString(PyExc_TypeError, "where(frame or None)");
        return NULL;
    }
    return where_of_frame(((PyFrameObject *)frame)->f_frame, (PyFrameObject *)frame);
}

/* set_where_hooks(is_framead_file, resolve) */
static PyObject *
m_set_where_hooks(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "set_where_hooks(is_framead_file, resolve)");
        return NULL;
    }
    Py_XSETREF(where_is_framead_fn, Py_NewRef(args[0]));
    Py_XSETREF(where_resolve_fn, Py_NewRef(args[1]));
    ptrmap_clear(&framead_files);
    if (PyList_SetSlice(framead_file_refs, 0, PyList_GET_SIZE(framead_file_refs), NULL) < 0) {
        return NULL;
    }
    where_cache_clear();
    Py_RETURN_NONE;
}

/* clear_where_cache(files=False): drop the shared Where objects (and the filename table). */
static PyObject *
m_clear_where_cache(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    where_cache_clear();
    if (nargs > 0 && PyObject_IsTrue(args[0])) {
        ptrmap_clear(&framead_files);
        if (PyList_SetSlice(framead_file_refs, 0, PyList_GET_SIZE(framead_file_refs), NULL) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------ */
/* Probes                                                                    */

static PyObject *
wrong_nargs(const char *name, Py_ssize_t want, Py_ssize_t got)
{
    PyErr_Format(PyExc_TypeError, "%s expected %zd arguments, got %zd", name, want, got);
    return NULL;
}

/* Every call of a Python handler from a probe goes through here: it records the
   probing (user) frame for call_native(), restoring the outer one after (handlers
   nest when user code they run meets probes again). */
#define FA_HANDLER_FRAMES 5

/* FRAMEAD_PROFILE_INTERNALS=1 (read once, at import): handler frames are shown to profilers
   and tracers, so that cProfile can measure framead's own recording (a developer's switch) */
static int profile_internals;

static PyObject *
call_handler_n(PyObject *h, PyObject *const *args, Py_ssize_t n)
{
    PyThreadState *ts = PyThreadState_Get();
    fa_frame *outer = T.user_frame;
    T.user_frame = fa_current_frame(ts);
    /* framead's handler frames are not the program's: tracers and profilers do not
       see them (call_native/call_as_user show them the user's callees again) */
    if (!profile_internals) {
        PyThreadState_EnterTracing(ts);
    }
    T.in_handler++;
    /* nor does the recursion limit count them (about as many levels as framead's usual
       handler path takes): a recursion through C (map, sorted's key) goes about as deep
       as natively; the C stack guard still protects the process */
    FA_PY_RECURSION_REMAINING(ts) += FA_HANDLER_FRAMES;
    PyObject *res = PyObject_Vectorcall(h, args, n, NULL);
    FA_PY_RECURSION_REMAINING(ts) -= FA_HANDLER_FRAMES;
    T.in_handler--;
    if (!profile_internals) {
        PyThreadState_LeaveTracing(ts);
    }
    T.user_frame = outer;
    return res;
}

static PyObject *
call_handler3(PyObject *h, PyObject *x, PyObject *a, PyObject *b)
{
    PyObject *args[3] = {x, a, b};
    return call_handler_n(h, args, 3);
}

static PyObject *
call_handler2(PyObject *h, PyObject *a, PyObject *b)
{
    PyObject *args[2] = {a, b};
    return call_handler_n(h, args, 2);
}

static PyObject *
call_handler1(PyObject *h, PyObject *a)
{
    return call_handler_n(h, &a, 1);
}

/* A list/tuple operand holding traced values, met by an operand NumPy would coerce
   it against (np.array([2., 3.]) * [t, 1.0]): list concatenation and repetition
   (the other operand a list, tuple or int) stay on the fast path. */
FA_INLINE int
is_seq(PyObject *o)
{
    return PyList_Check(o) || PyTuple_Check(o);
}

/* An array or NumPy scalar (a static type of NumPy's: "numpy.ndarray", "numpy.float64"):
   the operand whose slot converts the other operand as NumPy converts arguments. */
static inline int
numpy_operand(PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    return t == ndarray_type ||
           (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE) && strncmp(t->tp_name, "numpy.", 6) == 0);
}

/* The binary operators' probes (seqs: FA_SCAN_SEQS) also look into a deque or a
   sequence-protocol object (seq_kind: a UserList, a user sequence) met by an array or a
   NumPy scalar, and into such sequences inside a list/tuple operand: x + deque(...) with x
   an untraced array is NumPy's ufunc reading the deque in C (capture/sequences.py
   sequence_operand reads it first, or reports FA101). With any other operand (a float, an
   int, another sequence: their own operators, deque concatenation and repetition) the
   probe stays on the fast path: a user vector class's own v * 0.5 is not slowed down. */
static int
other_seq_operand_traced(PyObject *a, PyObject *b)
{
    PyObject *seq = numpy_operand(a) ? b : numpy_operand(b) ? a : NULL;
    int kind = seq != NULL ? seq_kind(seq) : 0;
    if (kind == 0) {
        return 0;
    }
    Py_ssize_t budget = FA_SCAN_BUDGET;
    return scan_seq(&T.tracked, seq, kind, 0, &budget, 1, FA_SCAN_LISTS | FA_SCAN_SEQS);
}

FA_INLINE int
seq_operand_traced(PyObject *a, PyObject *b, int seqs)
{
    int mode = FA_SCAN_LISTS | (seqs ? FA_SCAN_SEQS : 0);
    if (is_seq(a)) {
        return !is_seq(b) && !PyLong_Check(b) && scan_traced(a, mode);
    }
    if (is_seq(b)) {
        return !PyLong_Check(a) && scan_traced(b, mode);
    }
    /* (static types, floats and arrays among them, are never such a sequence) */
    return seqs &&
           FA_UNLIKELY(((Py_TYPE(a)->tp_flags | Py_TYPE(b)->tp_flags) & Py_TPFLAGS_HEAPTYPE) ||
                       Py_TYPE(a) == deque_type || Py_TYPE(b) == deque_type) &&
           other_seq_operand_traced(a, b);
}

/* ------------------------------------------------------------------------ */
/* Fast recording of scalar binops (issue 16)                                */

/* A traced `a <op> b` of Python floats (or a float and an int) is recorded here, without the
   Python handler, when this thread's session registered a fast-record state
   (set_fast_record(), capture/session.py: one capture, no guards, a plain Recorder):
   (recorder, rules, saves, Entry, Value, Node, float64 dtype), rules and saves per operator
   k = oparg % 13 as handlers.py's _OP_RULES/_OP_SAVES (rules None where the op must go to
   Python: no rule, or a cut one). It records exactly what ProbeHandlers._scalar_binop
   records (same Values, ids, Entry, Node); anything else, any doubt, goes to the handler. */
static PyObject fa_fallback_obj; /* a marker, never a real object */
#define FA_FALLBACK (&fa_fallback_obj)
enum {
    FR_REC, FR_RULES, FR_SAVES, FR_ENTRY, FR_VALUE, FR_NODE, FR_DTYPE, FR_F64, FR_GETITEM,
    FR_SETITEM, FR_CALLS, FR_UNARY, FR_ARRAY, FR_GEN, FR_N
};
static PyObject *s_guards, *s_entries, *s_nodes, *s_next_id, *s_obj, *s_value;
static PyObject *s_buffer, *s_version, *s_shape, *s_buffers, *s_root, *s_refs, *s_refs_sweep;
static PyObject *s_saved, *s_id, *s_first_comparison, *s_getitem_kind, *s_save_all, *s_kept;
static PyObject *s_key, *s_active, *s_stale, *s_axis, *kwnames_axis, *s_parent, *s_recipe;

/* Value and Node are slotted classes: their instances are filled here slot by slot (what their
   __init__ does, without a Python call) when the slots are exactly these; else (a changed
   class) they are called. Offsets found by set_fast_record(). */
static const char *value_slots[] = {"id", "shape", "dtype", "kind", "primal", "name", "_meta"};
static const char *node_slots[] = {"rule",  "args",  "kwargs", "outputs",
                                   "_loc", "saved", "multi",  "out_treedef"};
static const char *entry_slots[] = {"obj", "value", "buffer", "version", "parent", "recipe"};
#define FA_VALUE_SLOTS 7
#define FA_NODE_SLOTS 8
#define FA_ENTRY_SLOTS 6
#define SLOT_OUTPUTS(node) (*(PyObject **)((char *)(node) + node_off[3])) /* node_direct */
static _Thread_local Py_ssize_t value_off[FA_VALUE_SLOTS], node_off[FA_NODE_SLOTS];
static _Thread_local Py_ssize_t entry_off[FA_ENTRY_SLOTS];
static _Thread_local int value_direct, node_direct, entry_direct;
static const char *buffer_slots[] = {"_root", "value", "version", "saved", "saved_ids"};
static const char *weak_entry_slots[] = {"value", "buffer", "version", "parent", "recipe", "key"};
#define FA_BUFFER_SLOTS 5
#define FA_WEAK_ENTRY_SLOTS 6
static _Thread_local Py_ssize_t buffer_off[FA_BUFFER_SLOTS], weak_entry_off[FA_WEAK_ENTRY_SLOTS];
static _Thread_local int buffer_direct, weak_entry_direct;

static int member_offsets(PyTypeObject *t, const char **names, int n, Py_ssize_t *off);
enum { RC_ENTRIES, RC_REFS, RC_KEPT, RC_BUFFERS, RC_NODES, RC_N }; /* rec_attr's */
static PyObject *rec_attr(PyObject *rec, int i);

/* The offsets of `type`'s slots `names` (exactly its __slots__, plain object slots, object's
   __new__, no __dict__ or __weakref__): 1, or 0 when the class is not such. */
static int
slot_offsets(PyObject *type, const char **names, int n, Py_ssize_t *off)
{
    if (!PyType_Check(type)) {
        return 0;
    }
    PyTypeObject *t = (PyTypeObject *)type;
    if (t->tp_base != &PyBaseObject_Type || t->tp_dictoffset != 0 || t->tp_weaklistoffset != 0 ||
        t->tp_new != PyBaseObject_Type.tp_new || t->tp_alloc != PyType_GenericAlloc) {
        return 0;
    }
    return member_offsets(t, names, n, off);
}

/* The offsets of the slots `names` of `t` (exactly its own __slots__, writable object
   members): 1, or 0. */
static int
member_offsets(PyTypeObject *t, const char **names, int n, Py_ssize_t *off)
{
    PyObject *slots = PyDict_GetItemString(fa_type_dict(t), "__slots__");
    if (slots == NULL || !PyTuple_CheckExact(slots) || PyTuple_GET_SIZE(slots) != n) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(slots, i);
        if (!PyUnicode_Check(name) || PyUnicode_CompareWithASCIIString(name, names[i]) != 0) {
            return 0;
        }
        PyObject *d = PyDict_GetItemString(fa_type_dict(t), names[i]);
        if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type)) {
            return 0;
        }
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type != T_OBJECT_EX || (m->flags & READONLY)) {
            return 0;
        }
        off[i] = m->offset;
    }
    return 1;
}

/* A new instance of a slotted class, its slots set to `vals` (new references taken). */
static PyObject *
fill_slots(PyObject *type, const Py_ssize_t *off, PyObject *const *vals, int n)
{
    PyObject *o = ((PyTypeObject *)type)->tp_alloc((PyTypeObject *)type, 0);
    if (o == NULL) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        *(PyObject **)((char *)o + off[i]) = Py_NewRef(vals[i]);
    }
    return o;
}

/* Direct slot reads (issue 16: the array paths read Values, Buffers and weak entries on every
   traced operand). An object of one of this thread's fast-record classes (FK_*) is read from
   its slot only where that is what reading the attribute by name returns: the object exactly
   of the class, the class as set_fast_record found it (its slots at the offsets known, plain
   attribute lookup, unmodified since: its version tag then), the slot set; else by name. */
enum { FK_VALUE, FK_ENTRY, FK_BUFFER, FK_WEAK, FK_N };
static _Thread_local unsigned int fk_tag[FK_N]; /* 0: read by name */
static _Thread_local int weak_obj_direct;       /* WeakEntry.obj is its referent (see below) */

/* The class of kind k of this thread's fast-record state when direct reads may be made from
   its instances (borrowed), else NULL. */
FA_INLINE PyTypeObject *
fk_type(int k)
{
    PyObject *st = T.fast_rec, *t;
    if (st == NULL || fk_tag[k] == 0) {
        return NULL;
    }
    if (k == FK_VALUE || k == FK_ENTRY) {
        t = PyTuple_GET_ITEM(st, k == FK_VALUE ? FR_VALUE : FR_ENTRY);
    }
    else {
        PyObject *arrays = PyTuple_GET_ITEM(st, FR_ARRAY);
        if (arrays == Py_None) {
            return NULL;
        }
        t = PyTuple_GET_ITEM(arrays, k == FK_BUFFER ? 5 : 6);
    }
    return ((PyTypeObject *)t)->tp_version_tag == fk_tag[k] ? (PyTypeObject *)t : NULL;
}

/* May `o`'s slots be read directly as an instance of kind k? */
FA_INLINE int
fk_is(PyObject *o, int k)
{
    PyTypeObject *t = fk_type(k);
    return t != NULL && Py_IS_TYPE(o, t);
}

/* The slot at `off` of `o` (borrowed; NULL when unset) where fk_is(o, k), else NULL. */
FA_INLINE PyObject *
fk_slot(PyObject *o, int k, Py_ssize_t off)
{
    return fk_is(o, k) ? *(PyObject **)((char *)o + off) : NULL;
}

/* o.<name> (new reference), read from the slot at `off` where fk_is(o, k) and it is set. */
static PyObject *
fk_attr(PyObject *o, int k, Py_ssize_t off, PyObject *name)
{
    PyObject *x = fk_slot(o, k, off);
    return x != NULL ? Py_NewRef(x) : PyObject_GetAttr(o, name);
}

static PyObject *weak_target(PyObject *ref);

/* An entry's `obj` (new reference): an Entry's slot, a WeakEntry's referent (its `obj`
   property calls the reference: None once the array is gone), else by name. */
static PyObject *
entry_obj(PyObject *e)
{
    if (weak_obj_direct && fk_is(e, FK_WEAK)) {
        PyObject *o = weak_target(e);
        return Py_NewRef(o != NULL ? o : Py_None);
    }
    return fk_attr(e, FK_ENTRY, entry_off[0], s_obj);
}

/* o.<name> = x: into the slot at `off` where fk_is(o, k) (what the member descriptor does),
   else by name. 0, or -1. */
static int
fk_set(PyObject *o, int k, Py_ssize_t off, PyObject *name, PyObject *x)
{
    if (fk_is(o, k)) {
        Py_XSETREF(*(PyObject **)((char *)o + off), Py_NewRef(x));
        return 0;
    }
    return PyObject_SetAttr(o, name, x);
}

/* e.<entry_slots[i]> = x for an Entry or WeakEntry (i >= 1), as entry_attr reads it. */
static int
entry_set(PyObject *e, int i, PyObject *name, PyObject *x)
{
    return fk_is(e, FK_WEAK) ? fk_set(e, FK_WEAK, weak_entry_off[i - 1], name, x)
                             : fk_set(e, FK_ENTRY, entry_off[i], name, x);
}

/* An Entry's or WeakEntry's attribute i of entry_slots (1 value ... 5 recipe; a WeakEntry's
   slot i - 1), new reference: from its slot, else by name. */
static PyObject *
entry_attr(PyObject *e, int i, PyObject *name)
{
    return fk_is(e, FK_WEAK) ? fk_attr(e, FK_WEAK, weak_entry_off[i - 1], name)
                             : fk_attr(e, FK_ENTRY, entry_off[i], name);
}
#define entry_value(e) entry_attr((e), 1, s_value)
#define entry_buffer(e) entry_attr((e), 2, s_buffer)
#define entry_version(e) entry_attr((e), 3, s_version)

/* set_fast_record: the version tag of class `t` (assigned by a lookup) when its instances'
   slots may be read and written directly (`direct`: their offsets known; attribute lookup
   and assignment the generic ones, so a slot's member descriptor is what they find), else
   0. */
static unsigned int
fk_tag_of(PyObject *t, int direct, PyObject *name)
{
    if (!direct || !PyType_Check(t) ||
        ((PyTypeObject *)t)->tp_getattro != PyObject_GenericGetAttr ||
        ((PyTypeObject *)t)->tp_setattro != PyObject_GenericSetAttr) {
        return 0;
    }
    (void)_PyType_Lookup((PyTypeObject *)t, name); /* (assigns a tag where it can) */
    return ((PyTypeObject *)t)->tp_version_tag;
}

static PyObject *
fast_op(int k, PyObject *a, PyObject *b)
{
    switch (k) {
    case 0: return PyNumber_Add(a, b);
    case 2: return PyNumber_FloorDivide(a, b);
    case 5: return PyNumber_Multiply(a, b);
    case 6: return PyNumber_Remainder(a, b);
    case 8: return PyNumber_Power(a, b, Py_None);
    case 10: return PyNumber_Subtract(a, b);
    case 11: return PyNumber_TrueDivide(a, b);
    default: return FA_FALLBACK; /* no float meaning (&, |, ^, <<, >>, @) */
    }
}

/* The Value recorded for `x` (new reference), NULL when none (entries[id(x)] missing, for
   another object, or without a value); -1 on error. */
static int
fast_value_of(PyObject *entries, PyObject *x, PyObject **out)
{
    *out = NULL;
    PyObject *key = PyLong_FromVoidPtr(x);
    if (key == NULL) {
        return -1;
    }
    PyObject *e = PyDict_GetItemWithError(entries, key);
    Py_DECREF(key);
    if (e == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    Py_INCREF(e);
    PyObject *obj = entry_obj(e);
    if (obj == NULL) {
        Py_DECREF(e);
        return -1;
    }
    int same = obj == x;
    Py_DECREF(obj);
    if (same) {
        PyObject *v = entry_value(e);
        if (v == NULL) {
            Py_DECREF(e);
            return -1;
        }
        if (v == Py_None) {
            Py_DECREF(v);
        }
        else {
            *out = v;
        }
    }
    Py_DECREF(e);
    return 0;
}

/* Does `o` refer only to objects the collector does not track, `allowed`, or its own type?
   (Then nothing it refers to can refer back to it.) */
static int
leaf_visit(PyObject *x, void *arg)
{
    PyObject **ctx = (PyObject **)arg; /* {o, allowed} */
    if (x == ctx[1] || x == (PyObject *)Py_TYPE(ctx[0]) || !PyObject_IS_GC(x) ||
        !PyObject_GC_IsTracked(x)) {
        return 0;
    }
    return 1;
}

static int
refers_only_to_leaves(PyObject *o, PyObject *allowed)
{
    traverseproc tr = Py_TYPE(o)->tp_traverse;
    PyObject *ctx[2] = {o, allowed};
    return tr != NULL && tr(o, leaf_visit, ctx) == 0;
}

/* Are the state's rule tables those of the rules registered now? (FR_GEN: the registry's
   generation list and its value when the tables were made: a rule registered during the
   capture sends what it may change to the handlers.) */
static int
fast_tables_current(PyObject *st)
{
    PyObject *gen = PyTuple_GET_ITEM(st, FR_GEN);
    PyObject *now = PyList_GET_ITEM(PyTuple_GET_ITEM(gen, 0), 0);
    return now == PyTuple_GET_ITEM(gen, 1) ||
           PyObject_RichCompareBool(now, PyTuple_GET_ITEM(gen, 1), Py_EQ) == 1;
}

/* The start of every fast path: the tables current and the user's frames' Where key made
   (a file not met yet: the handler's walk learns it). 1, or 0 to go to the handler. */
static int
fast_begin(PyObject *st, fa_where_key *key)
{
    if (!fast_tables_current(st) ||
        where_fill(fa_current_frame(PyThreadState_Get()), NULL, key, 0) != 0) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* A new Value (the recorder's next id) of `shape`, float64, of kind `kind`, primal `primal`
   (new reference, NULL on error). */
static PyObject *
fast_new_value(PyObject *st, PyObject *rec, PyObject *shape, PyObject *kind, PyObject *primal)
{
    PyObject *n0 = PyObject_GetAttr(rec, s_next_id);
    if (n0 == NULL) {
        return NULL;
    }
    PyObject *nid = PyNumber_Add(n0, small_ints[1]);
    Py_DECREF(n0);
    if (nid == NULL || PyObject_SetAttr(rec, s_next_id, nid) < 0) {
        Py_XDECREF(nid);
        return NULL;
    }
    PyObject *vargs[FA_VALUE_SLOTS] = {nid, shape, PyTuple_GET_ITEM(st, FR_DTYPE), kind,
                                       primal, Py_None, Py_None};
    PyObject *v = value_direct ? fill_slots(PyTuple_GET_ITEM(st, FR_VALUE), value_off, vargs,
                                            FA_VALUE_SLOTS)
                               : PyObject_Vectorcall(PyTuple_GET_ITEM(st, FR_VALUE), vargs, 5,
                                                     NULL);
    Py_DECREF(nid);
    return v;
}

/* Append Node(rule, args, {}, (out,), Where of `key`, saves) to the recorder's nodes: the
   node (new reference), NULL on error. */
static PyObject *
fast_append_node(PyObject *st, PyObject *rec, PyObject *rule, PyObject *args, PyObject *out,
                 const fa_where_key *key, PyObject *saves, PyObject *kwargs)
{
    PyObject *where = where_get(key), *outs = PyTuple_Pack(1, out);
    PyObject *kw = kwargs == NULL ? PyDict_New() : PyDict_Copy(kwargs);
    PyObject *node = NULL, *nodes = NULL;
    if (where != NULL && kw != NULL && outs != NULL) {
        PyObject *nargs[FA_NODE_SLOTS] = {rule, args, kw, outs, where, saves, Py_False, Py_None};
        node = node_direct ? fill_slots(PyTuple_GET_ITEM(st, FR_NODE), node_off, nargs,
                                        FA_NODE_SLOTS)
                           : PyObject_Vectorcall(PyTuple_GET_ITEM(st, FR_NODE), nargs, 6, NULL);
    }
    if (node != NULL && ((nodes = rec_attr(rec, RC_NODES)) == NULL ||
                         PyList_Append(nodes, node) < 0)) {
        Py_CLEAR(node);
    }
    Py_XDECREF(where);
    Py_XDECREF(kw);
    Py_XDECREF(outs);
    Py_XDECREF(nodes);
    return node;
}

/* Can no reference cycle pass through `x`: not tracked by the collector, or an exact slice
   of such parts, or (untracked here on the way) an exact tuple of such items? (A node's index
   keys: `(slice(1, None), None)`.) */
static int
acyclic_leaf(PyObject *x, int depth)
{
    if (!PyObject_IS_GC(x) || !PyObject_GC_IsTracked(x)) {
        return 1;
    }
    if (Py_IS_TYPE(x, &PySlice_Type)) {
        PySliceObject *sl = (PySliceObject *)x;
        return acyclic_leaf(sl->start, 3) && acyclic_leaf(sl->stop, 3) &&
               acyclic_leaf(sl->step, 3);
    }
    if (PyTuple_CheckExact(x) && depth < 3) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(x); i++) {
            if (!acyclic_leaf(PyTuple_GET_ITEM(x, i), depth + 1)) {
                return 0;
            }
        }
        PyObject_GC_UnTrack(x);
        return 1;
    }
    return 0;
}

/* tp_traverse visit: is `x` an acyclic_leaf (or the object's own type)? */
static int
acyclic_visit(PyObject *x, void *arg)
{
    return !(x == arg || acyclic_leaf(x, 1));
}

/* Untrack the Values (of `value_type`) among the items of tuple `t` that refer to nothing
   that can refer back (a Value made by Python: an input's, a handler's; a new shape tuple
   is tracked until a collection looks at it, and is untracked here). */
static void
untrack_values(PyTypeObject *value_type, PyObject *t)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t); i++) {
        PyObject *x = PyTuple_GET_ITEM(t, i);
        if (Py_IS_TYPE(x, value_type) && PyObject_GC_IsTracked(x) &&
            value_type->tp_traverse(x, acyclic_visit, value_type) == 0) {
            PyObject_GC_UnTrack(x);
        }
    }
}

/* A fast-recorded node's Value `v`, `node`, its scalar result's `entry` (or NULL), `args`:
   they hold nothing that can refer back to them (scalars, Values, constants, the rule, an
   array value's primal once kept), so the collector need not traverse them. The recorded
   graph grows by them, and the full collections a long recording triggers would walk them
   all again and again (most of the recording time of a long scalar loop). */
static void
fast_untrack(PyObject *st, PyObject *v, PyObject *node, PyObject *entry, PyObject *args)
{
    if (!value_direct || !node_direct) {
        return;
    }
    if (PyObject_GC_IsTracked(v)) {
        PyObject_GC_UnTrack(v);
    }
    if (PyObject_GC_IsTracked(node)) {
        PyObject_GC_UnTrack(node);
    }
    if (entry != NULL && PyObject_GC_IsTracked(entry) && refers_only_to_leaves(entry, v)) {
        PyObject_GC_UnTrack(entry); /* (Entry is another module's: checked) */
    }
    /* an argument's Value made by Python (an input's): it refers to nothing that can refer
       back either (an index's slices stay tracked: slice_dealloc untracks unchecked) */
    untrack_values((PyTypeObject *)PyTuple_GET_ITEM(st, FR_VALUE), args);
    /* (the collector untracks a tuple of untracked objects only if they are tuples; an
       index's slices stay tracked, its tuples need not) */
    acyclic_leaf(args, 0);
    acyclic_leaf(SLOT_OUTPUTS(node), 0);
}

/* fast_untrack for a node the handlers recorded (Python): its Values, argument and output
   tuples and itself are untracked where nothing they refer to can refer back (a primal or a
   constant the collector tracks keeps them tracked; the rule, the location and the saves are
   framead's, as for fast_untrack). */
static void
untrack_recorded_node(PyObject *st, PyObject *node)
{
    PyTypeObject *value_type = (PyTypeObject *)PyTuple_GET_ITEM(st, FR_VALUE);
    PyObject *slot[FA_NODE_SLOTS];
    for (int i = 0; i < FA_NODE_SLOTS; i++) {
        if ((slot[i] = *(PyObject **)((char *)node + node_off[i])) == NULL) {
            return;
        }
    }
    PyObject *args = slot[1], *outs = slot[3];
    if (!PyTuple_CheckExact(args) || !PyTuple_CheckExact(outs)) {
        return;
    }
    untrack_values(value_type, args);
    untrack_values(value_type, outs);
    if (acyclic_leaf(args, 0) && acyclic_leaf(outs, 0) && acyclic_leaf(slot[2], 3) &&
        acyclic_leaf(slot[7], 0)) {
        PyObject_GC_UnTrack(node);
    }
}

/* Before a collection on a capturing thread (gc_phase "start"): the nodes its recorder appended
   since the last one, untracked as fast_untrack does those the C paths record. A long
   recording's graph would otherwise be walked by every full collection it triggers (nbody:
   collections took a third of the recording). */
static void
gc_untrack_nodes(void)
{
    PyObject *st = T.fast_rec;
    if (st == NULL || !node_direct || !value_direct) {
        return;
    }
    PyObject *nodes = rec_attr(PyTuple_GET_ITEM(st, FR_REC), RC_NODES);
    if (nodes == NULL) {
        PyErr_Clear();
        return;
    }
    if (PyList_CheckExact(nodes)) {
        Py_ssize_t n = PyList_GET_SIZE(nodes);
        if ((void *)nodes != T.gc_nodes || T.gc_nodes_done > n) {
            T.gc_nodes = nodes;
            T.gc_nodes_done = 0;
        }
        PyTypeObject *node_type = (PyTypeObject *)PyTuple_GET_ITEM(st, FR_NODE);
        for (Py_ssize_t i = T.gc_nodes_done; i < n; i++) {
            PyObject *node = PyList_GET_ITEM(nodes, i);
            if (Py_IS_TYPE(node, node_type) && PyObject_GC_IsTracked(node)) {
                untrack_recorded_node(st, node);
            }
        }
        T.gc_nodes_done = n;
    }
    Py_DECREF(nodes);
}

/* Record `res` = rule(*args) as the handlers do for a scalar result: a new Value (shape (),
   float64, of kind `kind`, primal `res`), its Entry in `entries` (borrowed), the Node (no
   keyword arguments, located by `key`). 0, or -1 with an exception set. */
static int
fast_emit(PyObject *st, PyObject *rec, PyObject *entries, PyObject *rule, PyObject *saves,
          PyObject *args, PyObject *res, PyObject *kind, const fa_where_key *key,
          PyObject *kwargs)
{
    PyObject *entry = NULL, *idk = NULL, *node = NULL;
    int rc = -1;
    PyObject *v = fast_new_value(st, rec, empty_tuple, kind, res);
    if (v == NULL) {
        goto done;
    }
    PyObject *eargs[FA_ENTRY_SLOTS] = {res, v, Py_None, small_ints[0], Py_None, Py_None};
    entry = entry_direct ? fill_slots(PyTuple_GET_ITEM(st, FR_ENTRY), entry_off, eargs,
                                      FA_ENTRY_SLOTS)
                         : PyObject_Vectorcall(PyTuple_GET_ITEM(st, FR_ENTRY), eargs, 2, NULL);
    if (entry == NULL || (idk = PyLong_FromVoidPtr(res)) == NULL ||
        PyDict_SetItem(entries, idk, entry) < 0) {
        goto done;
    }
    if (ptrmap_set(&T.tracked, res, 1) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    if ((node = fast_append_node(st, rec, rule, args, v, key, saves, kwargs)) == NULL) {
        goto done;
    }
    fast_untrack(st, v, node, entry, args);
    rc = 0;
done:
    Py_XDECREF(v);
    Py_XDECREF(entry);
    Py_XDECREF(idk);
    Py_XDECREF(node);
    return rc;
}

/* a.shape (new reference): for an exact ndarray the tuple NumPy's getter builds (ints of
   its dimensions), else by name. */
static PyObject *
array_shape(PyObject *a)
{
    if (ndarray_type == NULL || !Py_IS_TYPE(a, ndarray_type)) {
        return array_shape(a);
    }
    int nd = PyArray_NDIM((PyArrayObject *)a);
    PyObject *t = PyTuple_New(nd);
    for (int i = 0; t != NULL && i < nd; i++) {
        PyObject *n = PyLong_FromSsize_t(PyArray_DIM((PyArrayObject *)a, i));
        if (n == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, n);
    }
    return t;
}

/* Is `shape` (a Value's) the shape of `a`? */
static int
same_shape(PyObject *shape, PyArrayObject *a)
{
    int nd = PyArray_NDIM(a);
    if (!PyTuple_CheckExact(shape) || PyTuple_GET_SIZE(shape) != nd) {
        return 0;
    }
    for (int i = 0; i < nd; i++) {
        Py_ssize_t n = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, i));
        if (n != PyArray_DIM(a, i)) {
            PyErr_Clear();
            return 0;
        }
    }
    return 1;
}

/* Is `k` an index of one element of float64 ndarray `a` (an int for 1-d, else a tuple of
   one int per axis), in range? (Out of range: the handler raises the IndexError.) */
static int
element_key(PyArrayObject *a, PyObject *k, PyObject *f64_descr)
{
    int nd = PyArray_NDIM(a);
    if ((PyObject *)PyArray_DESCR(a) != f64_descr || nd < 1) {
        return 0;
    }
    PyObject *single[1] = {k};
    PyObject *const *items = single;
    if (nd == 1 && PyLong_CheckExact(k)) {
    }
    else if (PyTuple_CheckExact(k) && PyTuple_GET_SIZE(k) == nd) {
        items = &PyTuple_GET_ITEM(k, 0);
    }
    else {
        return 0;
    }
    for (int i = 0; i < nd; i++) {
        if (!PyLong_CheckExact(items[i])) {
            return 0;
        }
        Py_ssize_t j = PyLong_AsSsize_t(items[i]), n = PyArray_DIM(a, i);
        if (j == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        if (j < -n || j >= n) {
            return 0;
        }
    }
    return 1;
}

/* The end of a fast path that computed `res` (borrowed) from `args` (stolen; NULL: an error)
   as Recorder.apply records it: a result already traced is the same value, recorded by the
   handler (FA_FALLBACK); else fast_emit. Returns a new reference to res, FA_FALLBACK or NULL. */
static PyObject *
fast_finish(PyObject *st, PyObject *rec, PyObject *entries, PyObject *rule, PyObject *saves,
            PyObject *args, PyObject *res, PyObject *kind, const fa_where_key *key,
            PyObject *kwargs)
{
    PyObject *vr = NULL, *out = NULL;
    if (args != NULL && fast_value_of(entries, res, &vr) == 0) {
        out = vr != NULL ? FA_FALLBACK
              : fast_emit(st, rec, entries, rule, saves, args, res, kind, key, kwargs) < 0
              ? NULL : Py_NewRef(res);
    }
    Py_XDECREF(vr);
    Py_XDECREF(args);
    return out;
}

/* The current value of traced float64 ndarray `a` as ValueTable.value_of finds it, where
   nothing is due first: a's own entry, its value current at its buffer's version, its shape
   unchanged. 1 with *e, *buf, *v (new references), 0 when not so, -1 on error. */
static int
fast_array_value(PyObject *entries, PyObject *a, PyObject **e, PyObject **buf, PyObject **v)
{
    *e = *buf = *v = NULL;
    PyObject *ka = PyLong_FromVoidPtr(a), *obj = NULL, *bv = NULL, *ev = NULL, *shape = NULL;
    if (ka == NULL) {
        return -1;
    }
    *e = PyDict_GetItemWithError(entries, ka);
    Py_DECREF(ka);
    if (*e == NULL) {
        return PyErr_Occurred() ? -1 : 0; /* (a view met first here: its value is derived) */
    }
    Py_INCREF(*e);
    int rc = -1;
    if ((obj = entry_obj(*e)) == NULL || (*buf = entry_buffer(*e)) == NULL ||
        (*v = entry_value(*e)) == NULL) {
        goto done;
    }
    rc = 0;
    if (obj != a || *v == Py_None) {
        goto done;
    }
    if (*buf != Py_None) { /* the value is current at the buffer's version */
        if ((bv = fk_attr(*buf, FK_BUFFER, buffer_off[2], s_version)) == NULL ||
            (ev = entry_version(*e)) == NULL ||
            (shape = fk_attr(*v, FK_VALUE, value_off[1], s_shape)) == NULL) {
            rc = -1;
            goto done;
        }
        int same = PyObject_RichCompareBool(bv, ev, Py_EQ);
        if (same <= 0) {
            rc = same;
            goto done;
        }
        if (!same_shape(shape, (PyArrayObject *)a)) {
            goto done; /* a.shape = ... since: the handler records the reshape */
        }
    }
    rc = 1;
done:
    Py_XDECREF(obj);
    Py_XDECREF(bv);
    Py_XDECREF(ev);
    Py_XDECREF(shape);
    if (rc != 1) {
        Py_CLEAR(*e);
        Py_CLEAR(*buf);
        Py_CLEAR(*v);
    }
    return rc;
}

/* The recorder's containers a fast path reads, again and again within one operation
   (rec.entries, ._refs, ._kept, .buffers, .nodes: made once by Recorder.__init__, never
   rebound), read by name once per fast_as_handler call (rec_cache.on) and then reused: a
   plain instance attribute of a class with the generic lookup (no descriptor of that name
   on the class) only. Held strongly (with the recorder) until the call returns. */
typedef struct {
    int on;
    PyObject *rec, *v[RC_N];
} rec_cache;
static _Thread_local rec_cache rc;

static void
rc_clear(void)
{
    for (int i = 0; i < RC_N; i++) {
        Py_CLEAR(rc.v[i]);
    }
    Py_CLEAR(rc.rec);
}

/* rec.<attribute i> (new reference, NULL on error): rec_cache's, else by name. */
static PyObject *
rec_attr(PyObject *rec, int i)
{
    PyObject *name = i == RC_ENTRIES ? s_entries : i == RC_REFS ? s_refs : i == RC_KEPT ? s_kept
                     : i == RC_BUFFERS ? s_buffers : s_nodes;
    if (!rc.on) {
        return PyObject_GetAttr(rec, name);
    }
    if (rc.rec == rec && rc.v[i] != NULL) {
        return Py_NewRef(rc.v[i]);
    }
    PyObject *x = PyObject_GetAttr(rec, name);
    if (x != NULL && Py_TYPE(rec)->tp_getattro == PyObject_GenericGetAttr &&
        _PyType_Lookup(Py_TYPE(rec), name) == NULL) {
        if (rc.rec != rec) {
            rc_clear();
            rc.rec = Py_NewRef(rec);
        }
        Py_XSETREF(rc.v[i], Py_NewRef(x));
    }
    return x;
}

/* The recorder's entries (new reference) when the fast path may record now: 1; 0 when the
   recorder records guards (every decision must be seen), saves everything (a capture nested
   in this one sets save_all while it records: framead/tracing.py) or has another table; -1
   on error. */
static int
fast_entries(PyObject *rec, PyObject **entries)
{
    *entries = NULL;
    PyObject *guards = PyObject_GetAttr(rec, s_guards);
    if (guards == NULL) {
        return -1;
    }
    int none = guards == Py_None;
    Py_DECREF(guards);
    if (!none) {
        return 0;
    }
    PyObject *save_all = PyObject_GetAttr(rec, s_save_all);
    if (save_all == NULL) {
        return -1;
    }
    int saves_all = save_all != Py_False;
    Py_DECREF(save_all);
    if (saves_all) {
        return 0;
    }
    PyObject *e = rec_attr(rec, RC_ENTRIES);
    if (e == NULL) {
        return -1;
    }
    if (!PyDict_CheckExact(e)) {
        Py_DECREF(e);
        return 0;
    }
    *entries = e;
    return 1;
}

/* A float64 operand's value: a float or np.float64 (`f64`), or an int NumPy converts exactly
   (|i| <= 2**53). 0 when it is none of these. */
static int
fast_f64_operand(PyObject *x, PyObject *f64, double *out)
{
    if (PyFloat_CheckExact(x) || Py_IS_TYPE(x, (PyTypeObject *)f64)) {
        *out = PyFloat_AS_DOUBLE(x); /* (np.float64 extends float's layout) */
        return 1;
    }
    if (PyLong_CheckExact(x)) {
        int overflow;
        long long i = PyLong_AsLongLongAndOverflow(x, &overflow);
        if (overflow || (i == -1 && PyErr_Occurred()) || i > (1LL << 53) || i < -(1LL << 53)) {
            PyErr_Clear();
            return 0;
        }
        *out = (double)i;
        return 1;
    }
    return 0;
}

/* Would NumPy's float64 scalar operator k on x, y raise no floating-point flag (so warn or
   raise nothing, whatever np.seterr says)? The operation done in C, its flags read (the
   caller's flags restored). */
static int
f64_op_is_quiet(int k, double x, double y)
{
    fexcept_t saved;
    fegetexceptflag(&saved, FE_ALL_EXCEPT);
    feclearexcept(FE_ALL_EXCEPT);
    volatile double vx = x, vy = y, r = 0.0;
    switch (k) {
    case 0: r = vx + vy; break;
    case 5: r = vx * vy; break;
    case 10: r = vx - vy; break;
    case 11: r = vx / vy; break;
    case 8: r = pow(vx, vy); break;
    default: fesetexceptflag(&saved, FE_ALL_EXCEPT); return 0;
    }
    (void)r;
    int quiet = !fetestexcept(FE_OVERFLOW | FE_UNDERFLOW | FE_DIVBYZERO | FE_INVALID);
    fesetexceptflag(&saved, FE_ALL_EXCEPT);
    return quiet;
}

/* fast_op(k, a, b) run as the handlers' call_quiet runs an operation: capture off, the user's
   callees (a floating-point warning's Python code, an np.seterrcall function) traced and
   profiled as natively. */
typedef struct {
    int was_enabled, in_handler, resume_tracing;
} fa_native;

static void
native_enter(fa_native *n)
{
    n->was_enabled = T.enabled;
    n->in_handler = T.in_handler;
    T.enabled = 0;
    PyThreadState *ts = PyThreadState_Get();
    n->resume_tracing = n->in_handler > 0 && ts->tracing > 0;
    if (n->resume_tracing) {
        T.in_handler = 0;
        PyThreadState_LeaveTracing(ts);
    }
}

static void
native_leave(const fa_native *n)
{
    if (n->resume_tracing) {
        PyThreadState_EnterTracing(PyThreadState_Get());
        T.in_handler = n->in_handler;
    }
    T.enabled = n->was_enabled;
}

static PyObject *
fast_native_op(int k, PyObject *a, PyObject *b)
{
    fa_native n;
    native_enter(&n);
    PyObject *res = fast_op(k, a, b);
    native_leave(&n);
    return res;
}

static int fast_array_operand(PyObject *st, PyObject *entries, PyObject *x, PyObject **v);
static int fast_protect_saved(PyObject *st, PyObject *saves, PyObject *args, int arrays_in,
                              int consts_in, int *ans);
static PyObject *fast_reduce(PyObject *fn, PyObject *x, PyObject *axis);
static PyObject *array_owner(PyObject *a);
static PyObject *fast_record_array(PyObject *st, PyObject *rec, PyObject *rule,
                                   PyObject *saves, PyObject *args, int ans, PyObject *res,
                                   int view, PyObject *view_of, const fa_where_key *key,
                                   PyObject *kwargs);

/* fn(*call) (ncall positional arguments, keyword `axis` when not NULL) on the traced float64
   array `x`, for the rule and saves `rs`, recorded as calls.dispatch -> Recorder.apply
   records fn(x) (or fn(x, axis=k)): the axis kept in the node's keyword arguments, an array
   result a new buffer, a scalar one an np.float64 Value; any other result (never met) by
   Recorder.apply with the computed result. */
static PyObject *
fast_array_call(PyObject *st, PyObject *rec, PyObject *rs, PyObject *fn, PyObject *x,
                PyObject *const *call, Py_ssize_t ncall, PyObject *axis)
{
    PyObject *arrays = PyTuple_GET_ITEM(st, FR_ARRAY);
    fa_where_key key;
    PyObject *entries = NULL, *vx = NULL, *res = NULL, *args = NULL, *kw = NULL;
    PyObject *out = FA_FALLBACK;
    int ok = fast_entries(rec, &entries);
    if (ok <= 0) {
        return ok < 0 ? NULL : FA_FALLBACK;
    }
    Py_INCREF(rs); /* (the call below may run Python code) */
    int cx = fast_array_operand(st, entries, x, &vx);
    if (cx == -2) {
        out = NULL;
        goto done;
    }
    if (cx != 2 || !fast_begin(st, &key)) {
        goto done;
    }
    int ans;
    if ((args = PyTuple_Pack(1, vx)) == NULL || (kw = PyDict_New()) == NULL ||
        (axis != NULL && PyDict_SetItem(kw, s_axis, axis) < 0) ||
        fast_protect_saved(st, PyTuple_GET_ITEM(rs, 1), args, 1, 0, &ans) < 0) {
        out = NULL;
        goto done;
    }
    fa_native n;
    native_enter(&n);
    res = PyObject_Vectorcall(fn, call, ncall, axis != NULL ? kwnames_axis : NULL);
    native_leave(&n);
    if (res == NULL) { /* its own exception (an axis out of range), as natively */
        out = NULL;
        goto done;
    }
    PyObject *rule = PyTuple_GET_ITEM(rs, 0), *saves = PyTuple_GET_ITEM(rs, 1);
    PyObject *f64 = PyTuple_GET_ITEM(st, FR_F64);
    if (Py_IS_TYPE(res, ndarray_type) && PyArray_BASE((PyArrayObject *)res) == NULL &&
        (PyObject *)PyArray_DESCR((PyArrayObject *)res) == PyTuple_GET_ITEM(st, FR_DTYPE)) {
        out = fast_record_array(st, rec, rule, saves, args, ans, res, 0, NULL, &key, kw);
    }
    else if (Py_IS_TYPE(res, (PyTypeObject *)f64)) { /* (a result already traced: apply) */
        out = fast_finish(st, rec, entries, rule, saves, Py_NewRef(args), res, f64, &key, kw);
    }
    if (out == FA_FALLBACK) {
        out = PyObject_CallFunctionObjArgs(PyTuple_GET_ITEM(arrays, 9), rec, rule, res, kw, x,
                                           NULL);
    }
done:
    Py_DECREF(rs);
    Py_XDECREF(entries);
    Py_XDECREF(vx);
    Py_XDECREF(res);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    return out;
}

/* ufunc(x) of a traced float64 array `x` (FR_ARRAY's {ufunc: (rule, saves)}: NumPy's
   one-input ufuncs); any other callable: fast_reduce. */
static PyObject *
fast_ufunc_call(PyObject *st, PyObject *rec, PyObject *fn, PyObject *x)
{
    PyObject *arrays = PyTuple_GET_ITEM(st, FR_ARRAY);
    if (arrays == Py_None) {
        return FA_FALLBACK;
    }
    PyObject *rs = PyDict_GetItemWithError(PyTuple_GET_ITEM(arrays, 4), fn);
    if (rs == NULL) {
        PyErr_Clear();
        return fast_reduce(fn, x, NULL);
    }
    return fast_array_call(st, rec, rs, fn, x, &x, 1, NULL);
}

/* np.sum(x) or np.sum(x, axis=k), k an int, of a traced float64 array `x`, or the method
   x.sum() / x.sum(axis=k) (`x` NULL: `fn` bound to it) (FR_ARRAY[8]: {np.sum or
   np.ndarray.sum: (rule, saves)}): fast_array_call. */
static PyObject *
fast_reduce(PyObject *fn, PyObject *x, PyObject *axis)
{
    PyObject *st = T.fast_rec, *rec = PyTuple_GET_ITEM(st, FR_REC);
    PyObject *arrays = PyTuple_GET_ITEM(st, FR_ARRAY), *key_fn = fn;
    if (rec != T.h_obj || arrays == Py_None || ndarray_type == NULL ||
        (axis != NULL && !PyLong_CheckExact(axis))) {
        return FA_FALLBACK;
    }
    if (x == NULL) { /* a bound method of an ndarray: its descriptor is the key */
        if (!PyCFunction_Check(fn) || (x = PyCFunction_GET_SELF(fn)) == NULL) {
            return FA_FALLBACK;
        }
        PyMethodDef *ml = ((PyCFunctionObject *)fn)->m_ml;
        key_fn = Py_IS_TYPE(x, ndarray_type)
            ? PyDict_GetItemString(ndarray_type->tp_dict, ml->ml_name) : NULL;
        if (key_fn == NULL || !Py_IS_TYPE(key_fn, &PyMethodDescr_Type) ||
            ((PyMethodDescrObject *)key_fn)->d_method != ml) {
            return FA_FALLBACK;
        }
    }
    if (!Py_IS_TYPE(x, ndarray_type)) {
        return FA_FALLBACK;
    }
    PyObject *rs = PyDict_GetItemWithError(PyTuple_GET_ITEM(arrays, 8), key_fn);
    if (rs == NULL) {
        PyErr_Clear();
        return FA_FALLBACK;
    }
    PyObject *call[2] = {x, axis};
    int method = key_fn != fn;
    return fast_array_call(st, rec, rs, fn, x, call + method, 1 - method, axis);
}

/* tp_traverse visit of a weak entry (ctx: {its value's type, its callback, its type}): can
   `x` refer back to it? Its callback (the table's reaper: a weak reference to the table),
   its class, a Value, an untracked object, an acyclic_leaf (a view recipe's tuple of slices)
   cannot. */
static int
entry_visit(PyObject *x, void *arg)
{
    PyObject **ctx = (PyObject **)arg;
    if (x == ctx[1] || x == ctx[2] || Py_IS_TYPE(x, (PyTypeObject *)ctx[0]) ||
        acyclic_leaf(x, 1)) {
        return 0;
    }
    return 1;
}

/* A new weak entry untracked by the cyclic collector where nothing it refers to can refer
   back (a recording holds one per array it met: nbody ~15,000, which every full collection
   the recording triggers walked again, and whose growth triggered them). */
static void
untrack_entry(PyObject *entry, PyObject *v, PyObject *on_death)
{
    PyObject *ctx[3] = {(PyObject *)Py_TYPE(v), on_death, (PyObject *)Py_TYPE(entry)};
    traverseproc tr = Py_TYPE(entry)->tp_traverse;
    if (PyObject_GC_IsTracked(entry) && tr != NULL && tr(entry, entry_visit, ctx) == 0) {
        PyObject_GC_UnTrack(entry);
    }
}

/* A weak reference with no callback refers to nothing (its referent is not among what it
   traverses), so it can be in no reference cycle: the weak primals (thousands in a long
   recording, each kept until its value is saved or swept) are untracked, else every one
   survives into the oldest generation and brings on full collections while recording
   (nbody: one each recording). Returns 0. */
static int
untrack_weak(PyObject *wr)
{
    if (((PyWeakReference *)wr)->wr_callback == NULL && PyObject_GC_IsTracked(wr)) {
        PyObject_GC_UnTrack(wr);
    }
    return 0;
}

/* WeakEntry(obj, on_death) (new reference): where the class makes and initializes its
   instances as weakref.ref does (its __init__ only checks the arguments __new__ took), by
   its __new__ alone; else called. */
static PyObject *
new_weak_entry(PyObject *wt, PyObject *obj, PyObject *on_death)
{
    PyTypeObject *t = (PyTypeObject *)wt;
    if (!PyType_Check(wt) || t->tp_new != _PyWeakref_RefType.tp_new ||
        t->tp_init != _PyWeakref_RefType.tp_init) {
        return PyObject_CallFunctionObjArgs(wt, obj, on_death, NULL);
    }
    PyObject *args = PyTuple_Pack(2, obj, on_death);
    if (args == NULL) {
        return NULL;
    }
    PyObject *e = t->tp_new(t, args, NULL);
    Py_DECREF(args);
    return e;
}

/* Register `obj`, a fast path's new array, as value `v` (view_of: NULL for a new memory
   owner, else (buffer, parent, recipe) of a view): what ValueTable.fresh_array / fresh_view
   do, here where nothing else is due (no freed addresses to purge, no sweep of the weak
   primals, the classes' slots known), else through them. 0, or -1 with an exception. */
static int
fast_register(PyObject *st, PyObject *rec, PyObject *obj, PyObject *v, PyObject *view_of)
{
    PyObject *arrays = PyTuple_GET_ITEM(st, FR_ARRAY);
    PyObject *stale = NULL, *refs = NULL, *sweep = NULL, *entries = NULL, *buffers = NULL;
    PyObject *vid = NULL, *wr = NULL, *buf = NULL, *version = NULL, *entry = NULL;
    PyObject *key = NULL;
    int rc = -1;
    if ((stale = PyObject_GetAttr(rec, s_stale)) == NULL ||
        (refs = rec_attr(rec, RC_REFS)) == NULL ||
        (sweep = PyObject_GetAttr(rec, s_refs_sweep)) == NULL) {
        goto done;
    }
    if (!buffer_direct || !weak_entry_direct || !value_direct || !PyList_CheckExact(stale) ||
        PyList_GET_SIZE(stale) != 0 || !PyDict_CheckExact(refs) || !PyLong_CheckExact(sweep) ||
        PyDict_GET_SIZE(refs) + 1 > PyLong_AsSsize_t(sweep)) {
        PyErr_Clear();
        PyObject *r = view_of == NULL
            ? PyObject_CallFunctionObjArgs(PyTuple_GET_ITEM(arrays, 0), obj, v, NULL)
            : PyObject_CallFunctionObjArgs(PyTuple_GET_ITEM(arrays, 3), obj, v,
                                           PyTuple_GET_ITEM(view_of, 0),
                                           PyTuple_GET_ITEM(view_of, 1),
                                           PyTuple_GET_ITEM(view_of, 2), NULL);
        rc = r == NULL ? -1 : 0;
        Py_XDECREF(r);
        goto done;
    }
    /* _weak_primal: refs[v.id] = weakref.ref(obj) */
    vid = Py_NewRef(*(PyObject **)((char *)v + value_off[0]));
    if ((wr = PyWeakref_NewRef(obj, NULL)) == NULL || untrack_weak(wr) ||
        PyDict_SetItem(refs, vid, wr) < 0 ||
        (entries = rec_attr(rec, RC_ENTRIES)) == NULL ||
        (key = PyLong_FromVoidPtr(obj)) == NULL) {
        goto done;
    }
    PyObject *parent = Py_None, *recipe = Py_None;
    if (view_of != NULL) { /* an entry at the buffer's version now */
        buf = Py_NewRef(PyTuple_GET_ITEM(view_of, 0));
        parent = PyTuple_GET_ITEM(view_of, 1);
        recipe = PyTuple_GET_ITEM(view_of, 2);
        if ((version = fk_attr(buf, FK_BUFFER, buffer_off[2], s_version)) == NULL) {
            goto done;
        }
    }
    else { /* _own_buffer: Buffer(obj, v), no saves yet (the shared empty ones) */
        version = Py_NewRef(small_ints[0]);
        PyObject *bvals[FA_BUFFER_SLOTS] = {wr, v, version, empty_tuple, empty_frozenset};
        if ((buf = fill_slots(PyTuple_GET_ITEM(arrays, 5), buffer_off, bvals,
                              FA_BUFFER_SLOTS)) == NULL) {
            goto done;
        }
        /* (a Buffer of framead's refers to nothing that can refer back: the collector need
           not walk the thousands a recording holds) */
        if (PyObject_GC_IsTracked(buf)) {
            PyObject_GC_UnTrack(buf);
        }
    }
    /* weak_entry(obj, v, buf, version, parent, recipe, on_death) */
    entry = new_weak_entry(PyTuple_GET_ITEM(arrays, 6), obj, PyTuple_GET_ITEM(arrays, 7));
    if (entry == NULL || !PyObject_TypeCheck(entry, (PyTypeObject *)PyTuple_GET_ITEM(arrays, 6))) {
        goto done;
    }
    PyObject *evals[FA_WEAK_ENTRY_SLOTS] = {v, buf, version, parent, recipe, key};
    for (int i = 0; i < FA_WEAK_ENTRY_SLOTS; i++) {
        Py_XSETREF(*(PyObject **)((char *)entry + weak_entry_off[i]), Py_NewRef(evals[i]));
    }
    if (PyDict_SetItem(entries, key, entry) < 0) {
        goto done;
    }
    untrack_entry(entry, v, PyTuple_GET_ITEM(arrays, 7));
    if (view_of == NULL) {
        if ((buffers = rec_attr(rec, RC_BUFFERS)) == NULL ||
            PyDict_SetItem(buffers, key, buf) < 0) {
            goto done;
        }
        if (ptrmap_set(&T.tracked, obj, 1) < 0) {
            PyErr_NoMemory();
            goto done;
        }
    }
    rc = 0;
done:
    Py_XDECREF(stale);
    Py_XDECREF(refs);
    Py_XDECREF(sweep);
    Py_XDECREF(entries);
    Py_XDECREF(buffers);
    Py_XDECREF(vid);
    Py_XDECREF(wr);
    Py_XDECREF(buf);
    Py_XDECREF(version);
    Py_XDECREF(entry);
    Py_XDECREF(key);
    return rc;
}

/* The object the weak reference `ref` refers to, borrowed (the caller knows what holds it
   strongly), or NULL once it is gone. */
static PyObject *
weak_target(PyObject *ref)
{
    PyObject *o;
#if PY_VERSION_HEX >= 0x030D0000
    if (PyWeakref_GetRef(ref, &o) < 0) {
        PyErr_Clear();
        return NULL;
    }
    if (o == NULL) {
        return NULL;
    }
    Py_DECREF(o);
#else
    o = PyWeakref_GetObject(ref);
#endif
    return o == Py_None ? NULL : o;
}

#define SLOT_AT(o, off) (*(PyObject **)((char *)(o) + (off)))

/* buf.root (buffers.Buffer's property: the target of its _root weak reference, None once
   gone), read from the slot where the fast path knows the class (no Python property call);
   a new reference, or NULL. */
static PyObject *
buffer_root(PyObject *buf)
{
    PyObject *st = T.fast_rec, *arrays = st != NULL ? PyTuple_GET_ITEM(st, FR_ARRAY) : NULL;
    if (buffer_direct && arrays != NULL && arrays != Py_None &&
        Py_IS_TYPE(buf, (PyTypeObject *)PyTuple_GET_ITEM(arrays, 5))) {
        PyObject *ref = SLOT_AT(buf, buffer_off[0]);
        if (ref != NULL && PyWeakref_CheckRef(ref)) {
            PyObject *o = weak_target(ref);
            return Py_NewRef(o != NULL ? o : Py_None);
        }
    }
    return PyObject_GetAttr(buf, s_root);
}

static PyObject *array_owner(PyObject *a);

/* Where protect_core finds a Value's id and primal and a Buffer's _root, saved, saved_ids. */
typedef struct {
    Py_ssize_t v_id, v_primal, b_root, b_saved, b_ids;
    PyTypeObject *value_type, *buffer_type;
} protect_offsets;


/* Recorder._protect for the Value `v` (values.py _keep, then the buffer's saved list): its
   primal held from now on (the weak reference in `refs` taken out, v appended to `kept`)
   and, for an array, v listed once among the saved values of its memory's Buffer in
   `buffers` (the list and id set made untracked at the first save, as
   Recorder._protect's _untracked). 1 when done; 0 when Python must finish it, having done at
   most the first part (a primal to find or make plain there, a Buffer of another class);
   -1 with an exception. */
static int
protect_core(PyObject *v, PyObject *refs, PyObject *kept, PyObject *buffers,
             const protect_offsets *o)
{
    if (!Py_IS_TYPE(v, o->value_type) || !PyDict_CheckExact(refs) || !PyList_CheckExact(kept) ||
        !PyDict_CheckExact(buffers)) {
        return 0;
    }
    PyObject *vid = SLOT_AT(v, o->v_id), *p = SLOT_AT(v, o->v_primal);
    if (vid == NULL) {
        return 0;
    }
    if (p == NULL || p == Py_None) {
        PyObject *ref = PyDict_GetItemWithError(refs, vid);
        if (ref == NULL) {
            return PyErr_Occurred() ? -1 : 0;
        }
        PyObject *obj = PyWeakref_CheckRef(ref) ? weak_target(ref) : NULL;
        if (obj == NULL || ndarray_type == NULL || !Py_IS_TYPE(obj, ndarray_type)) {
            return 0; /* (gone: Python's error; a subclass made plain, or else, there) */
        }
        Py_INCREF(obj); /* (its weak reference goes below) */
        Py_XSETREF(SLOT_AT(v, o->v_primal), obj);
        if (PyList_Append(kept, v) < 0 || PyDict_DelItem(refs, vid) < 0) {
            return -1;
        }
        p = obj;
    }
    if (ndarray_type == NULL || !PyObject_TypeCheck(p, ndarray_type)) {
        return 1;
    }
    PyObject *owner = array_owner(p);
    PyObject *key = PyLong_FromVoidPtr(owner);
    if (key == NULL) {
        return -1;
    }
    PyObject *buf = PyDict_GetItemWithError(buffers, key);
    Py_DECREF(key);
    if (buf == NULL) {
        return PyErr_Occurred() ? -1 : 1;
    }
    if (!Py_IS_TYPE(buf, o->buffer_type)) {
        return 0;
    }
    PyObject *root = SLOT_AT(buf, o->b_root);
    if (root == NULL || !PyWeakref_CheckRef(root) || weak_target(root) != owner) {
        return 1; /* (a freed array's buffer whose address the owner reuses: not its own) */
    }
    PyObject *saved = SLOT_AT(buf, o->b_saved), *ids = SLOT_AT(buf, o->b_ids);
    if (saved != NULL && PyTuple_CheckExact(saved)) { /* the first save */
        PyObject *lst = PyList_New(0), *set = PySet_New(NULL);
        if (lst == NULL || set == NULL) {
            Py_XDECREF(lst);
            Py_XDECREF(set);
            return -1;
        }
        PyObject_GC_UnTrack(lst);
        PyObject_GC_UnTrack(set);
        Py_XSETREF(SLOT_AT(buf, o->b_saved), lst);
        Py_XSETREF(SLOT_AT(buf, o->b_ids), set);
        saved = lst;
        ids = set;
    }
    else if (saved == NULL || ids == NULL || !PyList_CheckExact(saved) || !PySet_CheckExact(ids)) {
        return 0;
    }
    else {
        int has = PySet_Contains(ids, vid);
        if (has != 0) {
            return has < 0 ? -1 : 1;
        }
    }
    return PyList_Append(saved, v) < 0 || PySet_Add(ids, vid) < 0 ? -1 : 1;
}

/* protect_core's offsets for this thread's fast-record classes (set_fast_record's), or NULL
   when their slots are not known. */
static const protect_offsets *
fast_protect_offsets(PyObject *st)
{
    static _Thread_local protect_offsets off;
    if (!value_direct || !buffer_direct) {
        return NULL;
    }
    off.v_id = value_off[0];
    off.v_primal = value_off[4];
    off.b_root = buffer_off[0];
    off.b_saved = buffer_off[3];
    off.b_ids = buffer_off[4];
    off.value_type = (PyTypeObject *)PyTuple_GET_ITEM(st, FR_VALUE);
    off.buffer_type = (PyTypeObject *)PyTuple_GET_ITEM(PyTuple_GET_ITEM(st, FR_ARRAY), 5);
    return &off;
}

/* rec._protect(v, None) for a Value `v` the fast path saves: protect_core where it can,
   else the Python method (the state's). 0, or -1. */
static int
fast_protect_value(PyObject *st, PyObject *rec, PyObject *v)
{
    const protect_offsets *off = fast_protect_offsets(st);
    if (off != NULL) {
        PyObject *refs = rec_attr(rec, RC_REFS), *kept = NULL, *buffers = NULL;
        int done = -1;
        if (refs != NULL && (kept = rec_attr(rec, RC_KEPT)) != NULL &&
            (buffers = rec_attr(rec, RC_BUFFERS)) != NULL) {
            done = protect_core(v, refs, kept, buffers, off);
        }
        Py_XDECREF(refs);
        Py_XDECREF(kept);
        Py_XDECREF(buffers);
        if (done != 0) {
            return done < 0 ? -1 : 0;
        }
    }
    PyObject *protect = PyTuple_GET_ITEM(PyTuple_GET_ITEM(st, FR_ARRAY), 1);
    PyObject *r = PyObject_CallFunctionObjArgs(protect, v, Py_None, NULL);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* protect_saved(v, refs, kept, buffers, Buffer) -> bool: protect_core for Recorder._protect
   (capture/recorder.py) called from Python; False where Python must finish (v or Buffer not
   the slotted classes protect_core knows). */
static PyObject *
m_protect_saved(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    static protect_offsets off;
    if (nargs != 5 || !PyType_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "protect_saved(v, refs: dict, kept: list, buffers: dict, Buffer: type)");
        return NULL;
    }
    PyTypeObject *vt = Py_TYPE(args[0]), *bt = (PyTypeObject *)args[4];
    if (vt != off.value_type || bt != off.buffer_type) {
        Py_ssize_t voff[FA_VALUE_SLOTS], boff[FA_BUFFER_SLOTS];
        if (!slot_offsets((PyObject *)vt, value_slots, FA_VALUE_SLOTS, voff) ||
            !slot_offsets((PyObject *)bt, buffer_slots, FA_BUFFER_SLOTS, boff)) {
            PyErr_Clear();
            Py_RETURN_FALSE;
        }
        /* (the classes stay alive: framead's own, held by its modules) */
        off.v_id = voff[0];
        off.v_primal = voff[4];
        off.b_root = boff[0];
        off.b_saved = boff[3];
        off.b_ids = boff[4];
        off.value_type = vt;
        off.buffer_type = bt;
    }
    int done = protect_core(args[0], args[1], args[2], args[3], &off);
    if (done < 0) {
        return NULL;
    }
    return PyBool_FromLong(done);
}

/* Keep what the derivatives of a node on `args` (a tuple the caller made: its own) read,
   before the operation runs, as Recorder.apply does (`saves`; bit i of `arrays_in`: args[i]
   is an array Value, of `consts_in`: a constant array, replaced in args by what
   Recorder._protect returns, a snapshot of a small one; a saved tuple argument, an index,
   is rebuilt as _protect rebuilds it). *ans: whether the result is saved. 0, or -1. */
static int
fast_protect_saved(PyObject *st, PyObject *saves, PyObject *args, int arrays_in, int consts_in,
                   int *ans)
{
    PyObject *protect = PyTuple_GET_ITEM(PyTuple_GET_ITEM(st, FR_ARRAY), 1);
    PyObject *it = PyObject_GetIter(saves), *item = NULL;
    *ans = 0;
    if (it == NULL) {
        return -1;
    }
    while ((item = PyIter_Next(it)) != NULL) {
        if (!PyLong_CheckExact(item)) {
            *ans = 1; /* "ans" */
            Py_DECREF(item);
            continue;
        }
        Py_ssize_t i = PyLong_AsSsize_t(item);
        Py_DECREF(item);
        if (i < 0 || i >= PyTuple_GET_SIZE(args)) {
            PyErr_Clear();
            continue;
        }
        PyObject *x = PyTuple_GET_ITEM(args, i), *r = NULL;
        if (i < 8 && (arrays_in >> i) & 1) { /* (a Value: kept; the node holds it) */
            if (fast_protect_value(st, PyTuple_GET_ITEM(st, FR_REC), x) < 0) {
                Py_DECREF(it);
                return -1;
            }
            continue;
        }
        if (i < 8 && (consts_in >> i) & 1) {
            r = PyObject_CallFunctionObjArgs(protect, x, Py_None, NULL);
        }
        else if (PyTuple_CheckExact(x)) {
            r = PyTuple_GetSlice(x, 0, PyTuple_GET_SIZE(x));
        }
        else {
            continue; /* (a float, an int, an np.float64: _protect returns it) */
        }
        if (r == NULL) {
            Py_DECREF(it);
            return -1;
        }
        Py_SETREF(((PyTupleObject *)args)->ob_item[i], r);
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* Record `res`, a float64 ndarray computed by `rule` from `args` (fast_protect_saved's), as
   Recorder.apply does: a new Value of `res` (its primal weak), registered as fast_register
   does (a new buffer; a view, `view` 1, with `view_of` = (buffer, parent, recipe)); the Node;
   the result kept where the rule saves it (`ans`). A new reference to res, or NULL. */
static PyObject *
fast_record_array(PyObject *st, PyObject *rec, PyObject *rule, PyObject *saves, PyObject *args,
                  int ans, PyObject *res, int view, PyObject *view_of, const fa_where_key *key,
                  PyObject *kwargs)
{
    PyObject *shape = NULL, *v = NULL, *node = NULL, *out = NULL;
    if ((shape = array_shape(res)) == NULL) {
        goto done;
    }
    acyclic_leaf(shape, 0);
    if ((v = fast_new_value(st, rec, shape, (PyObject *)ndarray_type, Py_None)) == NULL) {
        goto done;
    }
    if (fast_register(st, rec, res, v, view ? view_of : NULL) < 0 ||
        (node = fast_append_node(st, rec, rule, args, v, key, saves, kwargs)) == NULL) {
        goto done;
    }
    if (ans && fast_protect_value(st, rec, v) < 0) {
        goto done;
    }
    fast_untrack(st, v, node, NULL, args);
    out = Py_NewRef(res);
done:
    Py_XDECREF(shape);
    Py_XDECREF(v);
    Py_XDECREF(node);
    return out;
}

/* An operand of an array binop: 2 a traced float64 ndarray (at least 1-d) whose recorded
   value is current (*v its Value, new reference), 3 a constant float64 ndarray (at least
   1-d), 1 a traced float or np.float64 (*v), 0 a constant float, int or np.float64, -1
   anything else (the handler takes it), -2 an error. */
static int
fast_array_operand(PyObject *st, PyObject *entries, PyObject *x, PyObject **v)
{
    *v = NULL;
    if (Py_IS_TYPE(x, ndarray_type)) {
        PyArrayObject *arr = (PyArrayObject *)x;
        if ((PyObject *)PyArray_DESCR(arr) != PyTuple_GET_ITEM(st, FR_DTYPE) ||
            PyArray_NDIM(arr) < 1) {
            return -1;
        }
        if (!is_traced(x)) {
            return 3; /* a constant: its memory's owner is not traced (ValueTable.value_of) */
        }
        PyObject *e, *buf;
        int r = fast_array_value(entries, x, &e, &buf, v);
        if (r <= 0) {
            return r < 0 ? -2 : -1; /* (a view to derive, a reshaped array: the handler) */
        }
        Py_DECREF(e);
        Py_DECREF(buf);
        return 2;
    }
    if (PyLong_CheckExact(x)) {
        return 0;
    }
    if (PyFloat_CheckExact(x) || Py_IS_TYPE(x, (PyTypeObject *)PyTuple_GET_ITEM(st, FR_F64))) {
        return fast_value_of(entries, x, v) < 0 ? -2 : *v != NULL;
    }
    return -1;
}

/* a <op k> b with a float64 ndarray operand (not in place): both operands traced float64
   arrays or one a float, int or np.float64, recorded as Recorder.apply does (FR_ARRAY:
   (recorder.fresh_array, recorder._protect, handlers._record_computed, recorder.fresh_view,
   one-input ufuncs' {ufunc: (rule, saves)})).
   The result, a new float64 array owning its memory, is a new buffer; what the rule saves is
   kept. */
static PyObject *
fast_array_binop(int k, PyObject *a, PyObject *b)
{
    PyObject *st = T.fast_rec, *rec = PyTuple_GET_ITEM(st, FR_REC);
    PyObject *rule = PyTuple_GET_ITEM(PyTuple_GET_ITEM(st, FR_RULES), k);
    PyObject *arrays = PyTuple_GET_ITEM(st, FR_ARRAY);
    if (rule == Py_None || rec != T.h_obj || arrays == Py_None ||
        !(k == 0 || k == 2 || k == 5 || k == 6 || k == 8 || k == 10 || k == 11)) {
        return FA_FALLBACK; /* (fast_op's arithmetic operators only) */
    }
    PyObject *entries = NULL, *va = NULL, *vb = NULL, *res = NULL, *args = NULL;
    PyObject *out = FA_FALLBACK;
    int ok = fast_entries(rec, &entries);
    if (ok <= 0) {
        return ok < 0 ? NULL : FA_FALLBACK;
    }
    int ca = fast_array_operand(st, entries, a, &va);
    int cb = ca < 0 ? -1 : fast_array_operand(st, entries, b, &vb);
    fa_where_key key;
    if (ca == -2 || cb == -2) {
        out = NULL;
        goto done;
    }
    if (ca < 0 || cb < 0 || (va == NULL && vb == NULL) || !fast_begin(st, &key)) {
        goto done;
    }
    PyObject *saves = PyTuple_GET_ITEM(PyTuple_GET_ITEM(st, FR_SAVES), k);
    saves = PyTuple_GET_ITEM(saves, (va != NULL) + 2 * (vb != NULL) - 1);
    int ans;
    if ((args = PyTuple_Pack(2, va != NULL ? va : a, vb != NULL ? vb : b)) == NULL ||
        fast_protect_saved(st, saves, args, (ca == 2) | ((cb == 2) << 1),
                           (ca == 3) | ((cb == 3) << 1), &ans) < 0) {
        out = NULL;
        goto done;
    }
    res = fast_native_op(k, a, b);
    if (res == NULL) { /* its own exception, as natively (the handler keeps what it saves) */
        out = NULL;
        goto done;
    }
    if (!Py_IS_TYPE(res, ndarray_type) || PyArray_BASE((PyArrayObject *)res) != NULL ||
        (PyObject *)PyArray_DESCR((PyArrayObject *)res) != PyTuple_GET_ITEM(st, FR_DTYPE)) {
        out = PyObject_CallFunctionObjArgs(PyTuple_GET_ITEM(arrays, 2), rec, rule, res, a, b,
                                           NULL); /* (never met) */
        goto done;
    }
    out = fast_record_array(st, rec, rule, saves, args, ans, res, 0, NULL, &key, NULL);
done:
    Py_XDECREF(entries);
    Py_XDECREF(va);
    Py_XDECREF(vb);
    Py_XDECREF(res);
    Py_XDECREF(args);
    return out;
}

/* The weak primal of a new Value `v` of array `obj`: rec._refs[v.id] = weakref.ref(obj)
   (`refs` borrowed). 0, or -1 with an exception. */
static int
fast_weak_primal(PyObject *refs, PyObject *v, PyObject *obj)
{
    PyObject *vid = fk_attr(v, FK_VALUE, value_off[0], s_id), *wr = NULL;
    int rc = vid == NULL || (wr = PyWeakref_NewRef(obj, NULL)) == NULL || untrack_weak(wr)
                 ? -1 : PyDict_SetItem(refs, vid, wr);
    Py_XDECREF(vid);
    Py_XDECREF(wr);
    return rc;
}

/* Whether a write through the view `a` of the float64 array `owner` (made by `recipe`) is
   one write per memory element that write_back maps exactly: not a gather's view (an
   as_strided window's elements share memory), no zero stride on an axis longer than 1, the
   owner float64 too (z.imag of a complex owner: the handler). */
static int
fast_plain_view(PyObject *a, PyObject *owner, PyObject *recipe)
{
    if (!Py_IS_TYPE(owner, ndarray_type) ||
        PyArray_DESCR((PyArrayObject *)owner) != PyArray_DESCR((PyArrayObject *)a)) {
        return 0;
    }
    if (PyTuple_Check(recipe) && PyTuple_GET_SIZE(recipe) > 0 &&
        PyUnicode_Check(PyTuple_GET_ITEM(recipe, 0)) &&
        PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(recipe, 0), "index") == 0) {
        return 0;
    }
    PyArrayObject *v = (PyArrayObject *)a;
    for (int d = 0; d < PyArray_NDIM(v); d++) {
        if (PyArray_STRIDE(v, d) == 0 && PyArray_DIM(v, d) > 1) {
            return 0;
        }
    }
    return 1;
}

/* a <op k>= b into a traced float64 ndarray `a` whose value is current and that owns its
   memory or is a view of the array that does (its entry's parent), `b` a traced float64
   array whose value is current, a traced scalar or a constant float, int or np.float64:
   recorded as Mutations.mutate records it (the operator's node into a's next Value, then
   write_back: for a view, the view_update node into the owner's next Value, the buffer's
   next version), where the rule keeps no Value it reads (no copy-on-write) and neither a
   copy-on-write nor a sweep of the weak primals is due. */
static PyObject *
fast_array_inplace(int k, PyObject *a, PyObject *b)
{
    PyObject *st = T.fast_rec, *rec = PyTuple_GET_ITEM(st, FR_REC);
    PyObject *rule = PyTuple_GET_ITEM(PyTuple_GET_ITEM(st, FR_RULES), k);
    PyObject *arrays = PyTuple_GET_ITEM(st, FR_ARRAY);
    if (rule == Py_None || rec != T.h_obj || arrays == Py_None || !Py_IS_TYPE(a, ndarray_type) ||
        !(k == 0 || k == 5 || k == 10 || k == 11)) {
        return FA_FALLBACK; /* (+=, *=, -=, /=) */
    }
    PyObject *entries = NULL, *e = NULL, *buf = NULL, *va = NULL, *vb = NULL, *root = NULL;
    PyObject *saved = NULL, *ver = NULL, *refs = NULL, *sweep = NULL, *parent = NULL;
    PyObject *recipe = NULL, *re = NULL, *rbuf = NULL, *pv = NULL, *args = NULL, *res = NULL;
    PyObject *shape = NULL, *out = NULL, *node = NULL, *nver = NULL, *rshape = NULL;
    PyObject *nv = NULL, *vargs = NULL, *vnode = NULL, *r = FA_FALLBACK;
    PyObject *et = NULL, *ev = NULL, *etb = NULL; /* a FloatingPointError, raised after */
    fa_where_key key;
    int ok = fast_entries(rec, &entries);
    if (ok > 0) {
        ok = fast_array_value(entries, a, &e, &buf, &va);
    }
    if (ok <= 0 || buf == Py_None || PyArray_NDIM((PyArrayObject *)a) < 1 ||
        (PyObject *)PyArray_DESCR((PyArrayObject *)a) != PyTuple_GET_ITEM(st, FR_DTYPE)) {
        r = ok < 0 ? NULL : FA_FALLBACK;
        goto done;
    }
    int cb = fast_array_operand(st, entries, b, &vb);
    if (cb == -2) {
        goto error;
    }
    if (cb < 0 || cb == 3 || !fast_begin(st, &key)) {
        goto done; /* (a constant array: snapshotted or watched by the handler) */
    }
    PyObject *saves = PyTuple_GET_ITEM(PyTuple_GET_ITEM(st, FR_SAVES), k);
    saves = PyTuple_GET_ITEM(saves, vb != NULL ? 2 : 0);
    if ((args = PyTuple_Pack(2, va, vb != NULL ? vb : b)) == NULL) {
        goto error;
    }
    { /* what the rule keeps: constants only (a Value kept, or the result, would need a
         copy-on-write) */
        PyObject *it = PyObject_GetIter(saves), *s_i;
        if (it == NULL) {
            goto error;
        }
        PyTypeObject *value_type = (PyTypeObject *)PyTuple_GET_ITEM(st, FR_VALUE);
        int keeps_value = 0;
        while ((s_i = PyIter_Next(it)) != NULL) {
            Py_ssize_t i = PyLong_Check(s_i) ? PyLong_AsSsize_t(s_i) : -1; /* ("ans": -1) */
            keeps_value |= i < 0 || i > 1 || Py_IS_TYPE(PyTuple_GET_ITEM(args, i), value_type);
            Py_DECREF(s_i);
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) {
            goto error;
        }
        if (keeps_value) {
            goto done;
        }
    }
    /* write_back's buffer and owner: a itself, or the parent of a's entry */
    PyObject *owner = array_owner(a);
    if ((root = buffer_root(buf)) == NULL ||
        (saved = fk_attr(buf, FK_BUFFER, buffer_off[3], s_saved)) == NULL ||
        (ver = fk_attr(buf, FK_BUFFER, buffer_off[2], s_version)) == NULL ||
        (refs = rec_attr(rec, RC_REFS)) == NULL ||
        (sweep = PyObject_GetAttr(rec, s_refs_sweep)) == NULL ||
        (parent = entry_attr(e, 4, s_parent)) == NULL ||
        (recipe = entry_attr(e, 5, s_recipe)) == NULL) {
        goto error;
    }
    if (a != owner && !fast_plain_view(a, owner, recipe)) {
        goto done; /* (the handler: a view whose elements share memory, another dtype) */
    }
    if (root != owner || (a != owner && (parent != owner || recipe == Py_None)) ||
        !(PyList_CheckExact(saved) || PyTuple_CheckExact(saved)) || Py_SIZE(saved) != 0 ||
        !PyLong_CheckExact(ver) || !PyDict_CheckExact(refs) || !PyLong_CheckExact(sweep) ||
        PyDict_GET_SIZE(refs) + 2 > PyLong_AsSsize_t(sweep)) {
        PyErr_Clear();
        goto done; /* a view of a view, a copy-on-write or the weak primals' sweep: the handler */
    }
    if (a != owner) { /* the owner's value, current (else the handler derives it first) */
        ok = fast_array_value(entries, owner, &re, &rbuf, &pv);
        if (ok <= 0 || rbuf != buf) {
            r = ok < 0 ? NULL : FA_FALLBACK;
            goto done;
        }
    }
    {
        fa_native n;
        native_enter(&n);
        res = k == 0 ? PyNumber_InPlaceAdd(a, b) : k == 5 ? PyNumber_InPlaceMultiply(a, b)
              : k == 10 ? PyNumber_InPlaceSubtract(a, b) : PyNumber_InPlaceTrueDivide(a, b);
        native_leave(&n);
    }
    if (res == NULL) { /* its own exception (shapes that do not broadcast), as natively; */
        if (!PyErr_ExceptionMatches(PyExc_FloatingPointError)) {
            goto error;
        }
        /* np.errstate(...="raise"): NumPy raises once the loop has written `a`: recorded,
           then raised */
        PyErr_Fetch(&et, &ev, &etb);
        res = Py_NewRef(a);
    }
    if (res != a) { /* (not in place after all: never for a float64 array) */
        r = PyObject_CallFunctionObjArgs(PyTuple_GET_ITEM(arrays, 2), rec, rule, res, a, b,
                                         NULL);
        goto done;
    }
    /* mutate: out = _new_value(a), the node, then write_back(a, out) */
    if ((shape = array_shape(a)) == NULL ||
        (out = fast_new_value(st, rec, shape, (PyObject *)ndarray_type, Py_None)) == NULL ||
        fast_weak_primal(refs, out, a) < 0 ||
        (node = fast_append_node(st, rec, rule, args, out, &key, saves, NULL)) == NULL ||
        (nver = PyNumber_Add(ver, small_ints[1])) == NULL) {
        goto error;
    }
    acyclic_leaf(shape, 0);
    fast_untrack(st, out, node, NULL, args);
    PyObject *top = out;
    if (a != owner) { /* owner@n+1 = view_update(owner@n, out, recipe) */
        if ((rshape = array_shape(owner)) == NULL ||
            (nv = fast_new_value(st, rec, rshape, (PyObject *)ndarray_type, Py_None)) == NULL ||
            fast_weak_primal(refs, nv, owner) < 0 ||
            (vargs = PyTuple_Pack(3, pv, out, recipe)) == NULL ||
            (vnode = fast_append_node(st, rec, PyTuple_GET_ITEM(arrays, 10), vargs, nv, &key,
                                      empty_frozenset, NULL)) == NULL ||
            entry_set(re, 1, s_value, nv) < 0 || entry_set(re, 3, s_version, nver) < 0) {
            goto error;
        }
        acyclic_leaf(rshape, 0);
        fast_untrack(st, nv, vnode, NULL, vargs);
        top = nv;
    }
    if (fk_set(buf, FK_BUFFER, buffer_off[2], s_version, nver) < 0 ||
        fk_set(buf, FK_BUFFER, buffer_off[1], s_value, top) < 0 ||
        entry_set(e, 1, s_value, out) < 0 || entry_set(e, 3, s_version, nver) < 0) {
        goto error;
    }
    if (et != NULL) {
        PyErr_Restore(et, ev, etb);
        et = ev = etb = NULL;
        goto error;
    }
    r = Py_NewRef(res);
    goto done;
error:
    r = NULL;
done:
    if (et != NULL) { /* (recording failed: its error stands) */
        Py_XDECREF(et);
        Py_XDECREF(ev);
        Py_XDECREF(etb);
    }
    Py_XDECREF(entries);
    Py_XDECREF(e);
    Py_XDECREF(buf);
    Py_XDECREF(va);
    Py_XDECREF(vb);
    Py_XDECREF(root);
    Py_XDECREF(saved);
    Py_XDECREF(ver);
    Py_XDECREF(refs);
    Py_XDECREF(sweep);
    Py_XDECREF(parent);
    Py_XDECREF(recipe);
    Py_XDECREF(re);
    Py_XDECREF(rbuf);
    Py_XDECREF(pv);
    Py_XDECREF(args);
    Py_XDECREF(res);
    Py_XDECREF(shape);
    Py_XDECREF(out);
    Py_XDECREF(node);
    Py_XDECREF(nver);
    Py_XDECREF(rshape);
    Py_XDECREF(nv);
    Py_XDECREF(vargs);
    Py_XDECREF(vnode);
    return r;
}

/* a <op k> b of Python floats (or a float and an int), recorded as ProbeHandlers._scalar_binop
   does; or with an np.float64 operand (the others floats, ints or np.float64) as
   Recorder.apply does (an np.float64 result), where NumPy raises no floating-point flag. */
static PyObject *
fast_binop(int k, PyObject *a, PyObject *b, int inplace)
{
    PyObject *st = T.fast_rec;
    PyObject *f64 = PyTuple_GET_ITEM(st, FR_F64);
    if (ndarray_type != NULL && (Py_IS_TYPE(a, ndarray_type) || Py_IS_TYPE(b, ndarray_type))) {
        return inplace ? fast_array_inplace(k, a, b) : fast_array_binop(k, a, b);
    }
    int na = Py_IS_TYPE(a, (PyTypeObject *)f64), nb = Py_IS_TYPE(b, (PyTypeObject *)f64);
    if (na || nb) {
        double x, y;
        if (!fast_f64_operand(a, f64, &x) || !fast_f64_operand(b, f64, &y) ||
            !f64_op_is_quiet(k, x, y)) {
            return FA_FALLBACK;
        }
    }
    else {
        int fa = PyFloat_CheckExact(a), fb = PyFloat_CheckExact(b);
        if (!((fa && fb) || (fa && PyLong_CheckExact(b)) || (fb && PyLong_CheckExact(a)))) {
            return FA_FALLBACK;
        }
    }
    PyObject *kind = na || nb ? f64 : (PyObject *)&PyFloat_Type;
    PyObject *rec = PyTuple_GET_ITEM(st, FR_REC);
    PyObject *rule = PyTuple_GET_ITEM(PyTuple_GET_ITEM(st, FR_RULES), k);
    if (rule == Py_None || rec != T.h_obj) {
        return FA_FALLBACK;
    }
    fa_where_key key;
    if (!fast_begin(st, &key)) {
        return FA_FALLBACK;
    }
    PyObject *res = fast_op(k, a, b);
    if (res == FA_FALLBACK) {
        return FA_FALLBACK;
    }
    if (res == NULL || Py_TYPE(res) != (PyTypeObject *)kind) { /* errors and complex results: */
        PyErr_Clear();                                          /* as the handler does them  */
        Py_XDECREF(res);                                        /* (a pure op) */
        return FA_FALLBACK;
    }
    PyObject *entries = NULL, *va = NULL, *vb = NULL, *args = NULL, *out = NULL;
    int ok = fast_entries(rec, &entries);
    if (ok <= 0) {
        out = ok < 0 ? NULL : FA_FALLBACK;
        goto done;
    }
    if (fast_value_of(entries, a, &va) < 0 || fast_value_of(entries, b, &vb) < 0) {
        goto done;
    }
    if (va == NULL && vb == NULL) { /* not a recorded operand after all */
        out = Py_NewRef(res);
        goto done;
    }
    PyObject *saves = PyTuple_GET_ITEM(PyTuple_GET_ITEM(st, FR_SAVES), k);
    saves = PyTuple_GET_ITEM(saves, (va != NULL) + 2 * (vb != NULL) - 1);
    args = PyTuple_Pack(2, va != NULL ? va : a, vb != NULL ? vb : b);
    if (kind == f64) { /* as Recorder.apply */
        out = fast_finish(st, rec, entries, rule, saves, args, res, kind, &key, NULL);
        args = NULL;
    }
    else if (args != NULL &&
             fast_emit(st, rec, entries, rule, saves, args, res, kind, &key, NULL) == 0) {
        out = Py_NewRef(res); /* as ProbeHandlers._scalar_binop */
    }
done:
    Py_DECREF(res);
    Py_XDECREF(entries);
    Py_XDECREF(va);
    Py_XDECREF(vb);
    Py_XDECREF(args);
    return out;
}

/* Is `k` a basic index that makes a view of float64 ndarray `a`: a slice, None, an int of an
   array of 2 or more axes, or a tuple of slices, ints, None and one Ellipsis (fewer ints than
   axes, or a None), the slices' bounds ints or None? */
static int
view_key(PyArrayObject *a, PyObject *k, PyObject *f64_descr)
{
    int nd = PyArray_NDIM(a);
    if ((PyObject *)PyArray_DESCR(a) != f64_descr || nd < 1) {
        return 0;
    }
    PyObject *single[1] = {k};
    PyObject *const *items = single;
    Py_ssize_t n = 1, ints = 0, nones = 0, ellipses = 0;
    if (PyTuple_CheckExact(k)) {
        n = PyTuple_GET_SIZE(k);
        items = &PyTuple_GET_ITEM(k, 0);
        if (n < 1) {
            return 0;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = items[i];
        if (PyLong_CheckExact(x)) {
            ints++;
            continue;
        }
        if (x == Py_None || x == Py_Ellipsis) {
            nones += x == Py_None;
            ellipses += x == Py_Ellipsis;
            continue;
        }
        if (!PySlice_Check(x)) {
            return 0;
        }
        PySliceObject *sl = (PySliceObject *)x;
        if ((sl->start != Py_None && !PyLong_CheckExact(sl->start)) ||
            (sl->stop != Py_None && !PyLong_CheckExact(sl->stop)) ||
            (sl->step != Py_None && !PyLong_CheckExact(sl->step))) {
            return 0;
        }
    }
    return ellipses <= 1 && n - nones - ellipses <= nd && (ints < nd || nones > 0);
}

/* `k` (a view_key) as the node records it: its slices replaced by one shared slice per
   (start, stop, step) (a new reference). The program makes a new slice each time it runs
   `u[1:-1]`, and the collector must track a slice (slice_dealloc untracks it unchecked): a
   stencil loop's recorded slices, thousands of them, each survived into the oldest generation
   and brought on its full collections. Shared ones are a handful; the tuples holding them are
   untracked (acyclic_leaf). */
static PyObject *slice_interns;

static PyObject *
interned_slice(PyObject *x)
{
    PySliceObject *sl = (PySliceObject *)x;
    PyObject *key = PyTuple_Pack(3, sl->start, sl->stop, sl->step);
    if (key == NULL) {
        return NULL;
    }
    if (slice_interns == NULL && (slice_interns = PyDict_New()) == NULL) {
        Py_DECREF(key);
        return NULL;
    }
    PyObject *got = PyDict_GetItemWithError(slice_interns, key);
    if (got != NULL || PyErr_Occurred()) {
        Py_DECREF(key);
        return Py_XNewRef(got);
    }
    if (PyDict_GET_SIZE(slice_interns) >= 4096) {
        PyDict_Clear(slice_interns);
    }
    got = PySlice_New(sl->start, sl->stop, sl->step);
    if (got == NULL || PyDict_SetItem(slice_interns, key, got) < 0) {
        Py_XDECREF(got);
        got = NULL;
    }
    Py_DECREF(key);
    return got;
}

static PyObject *
interned_key(PyObject *k)
{
    if (Py_IS_TYPE(k, &PySlice_Type)) {
        return interned_slice(k);
    }
    Py_ssize_t n = PyTuple_CheckExact(k) ? PyTuple_GET_SIZE(k) : 0, slices = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        slices += Py_IS_TYPE(PyTuple_GET_ITEM(k, i), &PySlice_Type);
    }
    if (slices == 0) {
        return Py_NewRef(k);
    }
    PyObject *t = PyTuple_New(n);
    for (Py_ssize_t i = 0; t != NULL && i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(k, i);
        x = Py_IS_TYPE(x, &PySlice_Type) ? interned_slice(x) : Py_NewRef(x);
        if (x == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, x);
    }
    return t;
}

/* The ndarray that owns `a`'s memory (buffers.buffer_owner). */
static PyObject *
array_owner(PyObject *a)
{
    for (;;) {
        PyObject *b = array_base(a);
        if (b == NULL) {
            return a;
        }
        a = b;
    }
}

/* a[k], a view of a traced float64 ndarray `a` (view_key), recorded as ProbeHandlers.get_item
   (Recorder.apply with the recipe ("getitem", k), ValueTable._register of a view) records
   it, where a's recorded value is current and its memory's buffer the one a's entry names. */
static PyObject *
fast_view_getitem(PyObject *st, PyObject *rec, PyObject *a, PyObject *k)
{
    PyObject *gi = PyTuple_GET_ITEM(st, FR_GETITEM);
    if (PyTuple_GET_ITEM(st, FR_ARRAY) == Py_None) {
        return FA_FALLBACK;
    }
    fa_where_key key;
    if (!fast_begin(st, &key)) {
        return FA_FALLBACK;
    }
    PyObject *entries = NULL, *e = NULL, *buf = NULL, *v = NULL, *res = NULL, *bufs = NULL;
    PyObject *root = NULL, *recipe = NULL, *view_of = NULL, *args = NULL, *out = FA_FALLBACK;
    PyObject *ki = NULL;
    int ok = fast_entries(rec, &entries);
    if (ok > 0) {
        ok = fast_array_value(entries, a, &e, &buf, &v);
    }
    if (ok <= 0 || buf == Py_None) {
        out = ok < 0 ? NULL : FA_FALLBACK;
        goto done;
    }
    PyObject *owner = array_owner(a), *ko = PyLong_FromVoidPtr(owner);
    if (ko == NULL || (bufs = rec_attr(rec, RC_BUFFERS)) == NULL) {
        Py_XDECREF(ko);
        out = NULL;
        goto done;
    }
    PyObject *b2 = PyDict_CheckExact(bufs) ? PyDict_GetItemWithError(bufs, ko) : NULL;
    Py_DECREF(ko);
    if (b2 != buf || (root = buffer_root(buf)) == NULL || root != owner) {
        out = PyErr_Occurred() ? NULL : FA_FALLBACK; /* (buffer_of: not this memory's) */
        goto done;
    }
    res = PyObject_GetItem(a, k);
    if (res == NULL || !Py_IS_TYPE(res, ndarray_type) ||
        PyArray_DESCR((PyArrayObject *)res) != PyArray_DESCR((PyArrayObject *)a) ||
        array_owner(res) != owner) {
        PyErr_Clear(); /* an IndexError: the handler raises it (a pure op) */
        goto done;
    }
    int ans; /* (after the view is made: it runs no Python code, and a bad key must leave
                nothing kept, as the handler raises it before keeping anything) */
    if ((ki = interned_key(k)) == NULL || (args = PyTuple_Pack(2, v, ki)) == NULL ||
        fast_protect_saved(st, PyTuple_GET_ITEM(gi, 1), args, 1, 0, &ans) < 0) {
        out = NULL;
        goto done;
    }
    if ((recipe = PyTuple_Pack(2, s_getitem_kind, ki)) == NULL ||
        (view_of = PyTuple_Pack(3, buf, a, recipe)) == NULL) {
        out = NULL;
        goto done;
    }
    out = fast_record_array(st, rec, PyTuple_GET_ITEM(gi, 0), PyTuple_GET_ITEM(gi, 1), args,
                            ans, res, 1, view_of, &key, NULL);
done:
    Py_XDECREF(entries);
    Py_XDECREF(e);
    Py_XDECREF(buf);
    Py_XDECREF(v);
    Py_XDECREF(res);
    Py_XDECREF(bufs);
    Py_XDECREF(root);
    Py_XDECREF(recipe);
    Py_XDECREF(view_of);
    Py_XDECREF(args);
    Py_XDECREF(ki);
    return out;
}

/* a[k] of a traced float64 ndarray `a` by an int (1-d) or a tuple of ints (one element): an
   np.float64, recorded as
   ProbeHandlers.get_item does, where the array's recorded value is current (no write since,
   no view to re-derive, shape unchanged). */
static PyObject *
fast_getitem(PyObject *a, PyObject *k)
{
    PyObject *st = T.fast_rec;
    PyObject *gi = PyTuple_GET_ITEM(st, FR_GETITEM);
    PyObject *rec = PyTuple_GET_ITEM(st, FR_REC);
    if (gi == Py_None || ndarray_type == NULL || !Py_IS_TYPE(a, ndarray_type) ||
        rec != T.h_obj || is_traced(k)) {
        return FA_FALLBACK;
    }
    if (!element_key((PyArrayObject *)a, k, PyTuple_GET_ITEM(st, FR_DTYPE))) {
        PyErr_Clear();
        return view_key((PyArrayObject *)a, k, PyTuple_GET_ITEM(st, FR_DTYPE))
                   ? fast_view_getitem(st, rec, a, k)
                   : FA_FALLBACK;
    }
    fa_where_key key;
    if (!fast_begin(st, &key)) {
        return FA_FALLBACK;
    }
    PyObject *entries = NULL, *e = NULL, *buf = NULL, *v = NULL, *res = NULL;
    PyObject *out = FA_FALLBACK;
    int ok = fast_entries(rec, &entries);
    if (ok > 0) {
        ok = fast_array_value(entries, a, &e, &buf, &v);
    }
    if (ok <= 0) {
        out = ok < 0 ? NULL : FA_FALLBACK;
        goto done;
    }
    PyObject *f64 = PyTuple_GET_ITEM(st, FR_F64);
    res = PyObject_GetItem(a, k);
    if (res == NULL || !Py_IS_TYPE(res, (PyTypeObject *)f64)) {
        PyErr_Clear(); /* IndexError: the handler raises it (a pure op) */
        goto done;
    }
    out = fast_finish(st, rec, entries, PyTuple_GET_ITEM(gi, 0), PyTuple_GET_ITEM(gi, 1),
                      PyTuple_Pack(2, v, k), res, f64, &key, NULL);
done:
    Py_XDECREF(entries);
    Py_XDECREF(e);
    Py_XDECREF(buf);
    Py_XDECREF(v);
    Py_XDECREF(res);
    return out;
}

/* a[k] = v into a traced float64 ndarray `a` that owns its memory: one element k (as a[k]
   reads it) of a float or np.float64 v (traced or not), or a region (view_key) of such a
   scalar or of a traced float64 array v whose value is current, recorded as
   Mutations.set_item does: the node
   setitem(a@n, k, v) -> a@n+1, the buffer's next version. Only where nothing else is due: the
   array's value current, no saved value living in its memory (no copy-on-write), no sweep of
   the weak primals due. Returns None, FA_FALLBACK or NULL. */
static PyObject *
fast_setitem(PyObject *a, PyObject *k, PyObject *v)
{
    PyObject *st = T.fast_rec;
    PyObject *rule = PyTuple_GET_ITEM(st, FR_SETITEM), *rec = PyTuple_GET_ITEM(st, FR_REC);
    PyObject *f64 = PyTuple_GET_ITEM(st, FR_F64);
    if (rule == Py_None || ndarray_type == NULL || !Py_IS_TYPE(a, ndarray_type) ||
        rec != T.h_obj || is_traced(k) ||
        array_base(a) != NULL) {
        return FA_FALLBACK;
    }
    PyObject *f64_descr = PyTuple_GET_ITEM(st, FR_DTYPE);
    int scalar = PyFloat_CheckExact(v) || Py_IS_TYPE(v, (PyTypeObject *)f64);
    if (!element_key((PyArrayObject *)a, k, f64_descr)) {
        PyErr_Clear(); /* a region a[k] = v: v a scalar or a traced float64 array */
        if (!view_key((PyArrayObject *)a, k, f64_descr) ||
            !(scalar || (Py_IS_TYPE(v, ndarray_type) &&
                         (PyObject *)PyArray_DESCR((PyArrayObject *)v) == f64_descr &&
                         PyArray_NDIM((PyArrayObject *)v) >= 1))) {
            return FA_FALLBACK;
        }
    }
    else if (!scalar) {
        return FA_FALLBACK;
    }
    fa_where_key key;
    if (!fast_begin(st, &key)) {
        return FA_FALLBACK;
    }
    PyObject *entries = NULL, *e = NULL, *buf = NULL, *av = NULL, *vv = NULL, *bufs = NULL;
    PyObject *root = NULL, *saved = NULL, *ver = NULL, *refs = NULL, *sweep = NULL;
    PyObject *shape = NULL, *out = NULL, *wr = NULL, *args = NULL, *fs = NULL, *node = NULL;
    PyObject *nver = NULL, *ki = NULL, *res = FA_FALLBACK;
    int ok = fast_entries(rec, &entries);
    if (ok > 0) {
        ok = fast_array_value(entries, a, &e, &buf, &av);
    }
    if (ok <= 0) {
        res = ok < 0 ? NULL : FA_FALLBACK;
        goto done;
    }
    /* write_back's buffer: buffers[id(a)], a's own (a owns its memory) */
    PyObject *ka = PyLong_FromVoidPtr(a);
    if (ka == NULL || (bufs = rec_attr(rec, RC_BUFFERS)) == NULL) {
        Py_XDECREF(ka);
        goto error;
    }
    PyObject *b2 = PyDict_CheckExact(bufs) ? PyDict_GetItemWithError(bufs, ka) : NULL;
    Py_DECREF(ka);
    if (PyErr_Occurred()) {
        goto error;
    }
    if (buf == Py_None || b2 != buf) {
        goto done;
    }
    if ((root = buffer_root(buf)) == NULL ||
        (saved = fk_attr(buf, FK_BUFFER, buffer_off[3], s_saved)) == NULL ||
        (ver = fk_attr(buf, FK_BUFFER, buffer_off[2], s_version)) == NULL ||
        (refs = rec_attr(rec, RC_REFS)) == NULL ||
        (sweep = PyObject_GetAttr(rec, s_refs_sweep)) == NULL) {
        goto error;
    }
    if (root != a || !(PyList_CheckExact(saved) || PyTuple_CheckExact(saved)) ||
        Py_SIZE(saved) != 0 ||
        !PyLong_CheckExact(ver) || !PyDict_CheckExact(refs) || !PyLong_CheckExact(sweep) ||
        PyDict_GET_SIZE(refs) + 1 > PyLong_AsSsize_t(sweep)) {
        PyErr_Clear();
        goto done; /* a copy-on-write or the weak primals' sweep is due: the handler */
    }
    if (scalar) {
        if (fast_value_of(entries, v, &vv) < 0) {
            goto error;
        }
    }
    else { /* an array's value, current (else the handler derives it first) */
        PyObject *ve = NULL, *vbuf = NULL;
        ok = fast_array_value(entries, v, &ve, &vbuf, &vv);
        Py_XDECREF(ve);
        Py_XDECREF(vbuf);
        if (ok <= 0) {
            res = ok < 0 ? NULL : FA_FALLBACK;
            goto done;
        }
    }
    if (PyObject_SetItem(a, k, v) < 0) {
        PyErr_Clear(); /* (IndexError, a read-only array: the handler raises it) */
        goto done;
    }
    /* out = _new_value(a): a Value whose primal is held weakly in _refs */
    if ((shape = array_shape(a)) == NULL ||
        (out = fast_new_value(st, rec, shape, (PyObject *)ndarray_type, Py_None)) == NULL) {
        goto error;
    }
    PyObject *nid = fk_attr(out, FK_VALUE, value_off[0], s_id);
    int rc = nid == NULL || (wr = PyWeakref_NewRef(a, NULL)) == NULL || untrack_weak(wr) ? -1
                                                                     : PyDict_SetItem(refs, nid, wr);
    Py_XDECREF(nid);
    if (rc < 0 || (ki = interned_key(k)) == NULL ||
        (args = PyTuple_Pack(3, av, ki, vv != NULL ? vv : v)) == NULL ||
        (fs = Py_XNewRef(empty_frozenset)) == NULL ||
        (node = fast_append_node(st, rec, rule, args, out, &key, fs, NULL)) == NULL) {
        goto error;
    }
    /* write_back(a, out): the buffer's next version, and the array's entry with it */
    if ((nver = PyNumber_Add(ver, small_ints[1])) == NULL ||
        fk_set(buf, FK_BUFFER, buffer_off[2], s_version, nver) < 0 ||
        fk_set(buf, FK_BUFFER, buffer_off[1], s_value, out) < 0 ||
        entry_set(e, 1, s_value, out) < 0 || entry_set(e, 3, s_version, nver) < 0) {
        goto error;
    }
    acyclic_leaf(shape, 0);
    fast_untrack(st, out, node, NULL, args);
    res = Py_NewRef(Py_None);
    goto done;
error:
    res = NULL;
done:
    Py_XDECREF(entries);
    Py_XDECREF(e);
    Py_XDECREF(buf);
    Py_XDECREF(av);
    Py_XDECREF(vv);
    Py_XDECREF(bufs);
    Py_XDECREF(root);
    Py_XDECREF(saved);
    Py_XDECREF(ver);
    Py_XDECREF(refs);
    Py_XDECREF(sweep);
    Py_XDECREF(shape);
    Py_XDECREF(out);
    Py_XDECREF(wr);
    Py_XDECREF(args);
    Py_XDECREF(fs);
    Py_XDECREF(node);
    Py_XDECREF(nver);
    Py_XDECREF(ki);
    return res;
}

/* fn(x) of a math function with a rule (FR_CALLS: fn -> (rule, saves)) on a traced float or
   np.float64, recorded as calls.dispatch -> Recorder.apply does (a float result). */
static PyObject *
fast_call(PyObject *fn, PyObject *x)
{
    if (Py_TYPE(fn)->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        /* an object of a class the program made (not a math function, ufunc or NumPy
           dispatcher): the tables' lookups below would run its __hash__ */
        return FA_FALLBACK;
    }
    PyObject *st = T.fast_rec;
    PyObject *calls = PyTuple_GET_ITEM(st, FR_CALLS), *rec = PyTuple_GET_ITEM(st, FR_REC);
    if (rec == T.h_obj && ndarray_type != NULL && Py_IS_TYPE(x, ndarray_type)) {
        return fast_ufunc_call(st, rec, fn, x);
    }
    if (calls == Py_None || rec != T.h_obj ||
        !(PyFloat_CheckExact(x) || Py_IS_TYPE(x, (PyTypeObject *)PyTuple_GET_ITEM(st, FR_F64)))) {
        return FA_FALLBACK;
    }
    PyObject *rs = PyDict_GetItemWithError(calls, fn); /* (functions hash by identity) */
    if (rs == NULL) {
        PyErr_Clear();
        return FA_FALLBACK;
    }
    fa_where_key key;
    if (!fast_begin(st, &key)) {
        return FA_FALLBACK;
    }
    PyObject *entries = NULL, *vx = NULL, *res = NULL;
    PyObject *out = FA_FALLBACK;
    int ok = fast_entries(rec, &entries);
    if (ok <= 0) {
        out = ok < 0 ? NULL : FA_FALLBACK;
        goto done;
    }
    if (fast_value_of(entries, x, &vx) < 0) {
        goto error;
    }
    if (vx == NULL) {
        goto done;
    }
    res = PyObject_Vectorcall(fn, &x, 1, NULL);
    if (res == NULL || !PyFloat_CheckExact(res)) {
        PyErr_Clear(); /* (a domain error: the handler raises it; math functions are pure) */
        goto done;
    }
    out = fast_finish(st, rec, entries, PyTuple_GET_ITEM(rs, 0), PyTuple_GET_ITEM(rs, 1),
                      PyTuple_Pack(1, vx), res, (PyObject *)&PyFloat_Type, &key, NULL);
    goto done;
error:
    out = NULL;
done:
    Py_XDECREF(entries);
    Py_XDECREF(vx);
    Py_XDECREF(res);
    return out;
}

/* -a or +a of a traced float or np.float64, recorded as ProbeHandlers.unary -> Recorder.apply
   does (FR_UNARY: (rule, saves) of neg and pos, or None). */
static PyObject *
fast_unary(int pos, PyObject *a)
{
    PyObject *st = T.fast_rec, *rec = PyTuple_GET_ITEM(st, FR_REC);
    PyObject *rs = PyTuple_GET_ITEM(PyTuple_GET_ITEM(st, FR_UNARY), pos);
    PyObject *kind = (PyObject *)Py_TYPE(a);
    if (rs == Py_None || rec != T.h_obj ||
        !(kind == (PyObject *)&PyFloat_Type || kind == PyTuple_GET_ITEM(st, FR_F64))) {
        return FA_FALLBACK;
    }
    fa_where_key key;
    if (!fast_begin(st, &key)) {
        return FA_FALLBACK;
    }
    PyObject *entries = NULL, *va = NULL, *res = NULL, *out = FA_FALLBACK;
    int ok = fast_entries(rec, &entries);
    if (ok <= 0 || fast_value_of(entries, a, &va) < 0) {
        out = ok < 0 || PyErr_Occurred() ? NULL : FA_FALLBACK;
        goto done;
    }
    if (va == NULL) {
        goto done;
    }
    res = pos ? PyNumber_Positive(a) : PyNumber_Negative(a);
    if (res == NULL || (PyObject *)Py_TYPE(res) != kind) {
        PyErr_Clear();
        goto done;
    }
    out = fast_finish(st, rec, entries, PyTuple_GET_ITEM(rs, 0), PyTuple_GET_ITEM(rs, 1),
                      PyTuple_Pack(1, va), res, kind, &key, NULL);
done:
    Py_XDECREF(entries);
    Py_XDECREF(va);
    Py_XDECREF(res);
    return out;
}

/* One comparison of traced numbers into this thread's ring (capture/zero_trip.py reads it). */
static void
note_cmp(void *rec, Py_ssize_t at, double dist)
{
    unsigned p = (T.cmp_n - 1) % FA_CMP_RING;
    if (T.cmp_n != 0 && T.cmp_rec[p] == rec && dist > FA_CMP_JUMP * T.cmp_dist[p]) {
        /* a jump: the comparisons before it may end a search; kept as an episode (the last
           one updated where it ended fewer than FA_CMP_GAP comparisons ago: the same search) */
        unsigned e = (T.epi_n - 1) % FA_CMP_EPIS;
        if (T.epi_n == 0 || T.epi_rec[e] != rec || T.cmp_n - 1 - T.epi_seq[e] >= FA_CMP_GAP) {
            e = T.epi_n++ % FA_CMP_EPIS;
        }
        unsigned len = 0;
        while (len < FA_CMP_TAIL && len < T.cmp_n && len < FA_CMP_RING &&
               T.cmp_rec[(T.cmp_n - 1 - len) % FA_CMP_RING] == rec) {
            len++;
        }
        for (unsigned j = 0; j < len; j++) {
            unsigned q = (T.cmp_n - len + j) % FA_CMP_RING;
            T.epi_at[e][j] = T.cmp_at[q];
            T.epi_dist[e][j] = T.cmp_dist[q];
        }
        T.epi_rec[e] = rec;
        T.epi_seq[e] = T.cmp_n - 1;
        T.epi_len[e] = (unsigned char)len;
    }
    unsigned k = T.cmp_n++ % FA_CMP_RING;
    T.cmp_rec[k] = rec;
    T.cmp_at[k] = at;
    T.cmp_dist[k] = dist;
}

/* note_comparison(recorder, node count, |a - b|): a comparison the Python handler made. */
static PyObject *
m_note_comparison(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyLong_Check(args[1]) || !PyFloat_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "note_comparison(recorder, at: int, dist: float)");
        return NULL;
    }
    Py_ssize_t at = PyLong_AsSsize_t(args[1]);
    if (at < 0 && PyErr_Occurred()) {
        return NULL;
    }
    note_cmp(args[0], at, PyFloat_AS_DOUBLE(args[2]));
    Py_RETURN_NONE;
}

/* comparisons(recorder) -> [(node count, |a - b|), ...]: the kept episodes' and the ring's
   entries made under this recorder, oldest first (an episode the ring does not continue is
   followed by (-1, inf)); they leave the ring. */
static PyObject *
m_comparisons(PyObject *mod, PyObject *rec)
{
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    unsigned n = T.cmp_n < FA_CMP_RING ? T.cmp_n : FA_CMP_RING;
    unsigned m = T.epi_n < FA_CMP_EPIS ? T.epi_n : FA_CMP_EPIS;
    for (unsigned i = 0; i < m; i++) {
        unsigned e = (T.epi_n - m + i) % FA_CMP_EPIS;
        if (T.epi_rec[e] != (void *)rec) {
            continue;
        }
        T.epi_rec[e] = NULL;
        for (unsigned j = 0; j < T.epi_len[e]; j++) {
            unsigned seq = T.epi_seq[e] - (T.epi_len[e] - 1 - j);
            if (T.cmp_n - seq <= n) {
                continue; /* (still in the ring) */
            }
            PyObject *x = Py_BuildValue("(nd)", T.epi_at[e][j], T.epi_dist[e][j]);
            if (x == NULL || PyList_Append(out, x) < 0) {
                Py_XDECREF(x);
                Py_DECREF(out);
                return NULL;
            }
            Py_DECREF(x);
        }
        if (T.epi_len[e] && T.cmp_n - T.epi_seq[e] > n) {
            /* (a gap follows the episode: (-1, inf), a comparison of nothing, separates it) */
            PyObject *x = Py_BuildValue("(nd)", (Py_ssize_t)-1, Py_HUGE_VAL);
            if (x == NULL || PyList_Append(out, x) < 0) {
                Py_XDECREF(x);
                Py_DECREF(out);
                return NULL;
            }
            Py_DECREF(x);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        unsigned k = (T.cmp_n - n + i) % FA_CMP_RING;
        if (T.cmp_rec[k] != (void *)rec) {
            continue;
        }
        T.cmp_rec[k] = NULL;
        PyObject *e = Py_BuildValue("(nd)", T.cmp_at[k], T.cmp_dist[k]);
        if (e == NULL || PyList_Append(out, e) < 0) {
            Py_XDECREF(e);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(e);
    }
    return out;
}

/* a <op> b of floats, np.float64 or ints: ProbeHandlers.compare records nothing once it has
   noted the first comparison and where no guards are recorded, so the comparison is made
   here (it runs no Python code). NULL with FA_FALLBACK semantics as the others. */
static PyObject *
fast_compare(int op, PyObject *a, PyObject *b)
{
    PyObject *st = T.fast_rec, *rec = PyTuple_GET_ITEM(st, FR_REC), *f64 = PyTuple_GET_ITEM(st, FR_F64);
    if (rec != T.h_obj ||
        !(PyFloat_CheckExact(a) || PyLong_CheckExact(a) || Py_IS_TYPE(a, (PyTypeObject *)f64)) ||
        !(PyFloat_CheckExact(b) || PyLong_CheckExact(b) || Py_IS_TYPE(b, (PyTypeObject *)f64))) {
        return FA_FALLBACK;
    }
    PyObject *g = PyObject_GetAttr(rec, s_guards), *first = PyObject_GetAttr(rec, s_first_comparison);
    int fast = g == Py_None && first != NULL && first != Py_None;
    Py_XDECREF(g);
    Py_XDECREF(first);
    PyErr_Clear();
    if (!fast) {
        return FA_FALLBACK;
    }
    PyObject *nodes = rec_attr(rec, RC_NODES);
    if (nodes != NULL && PyList_Check(nodes)) {
        double x = PyFloat_Check(a) ? PyFloat_AS_DOUBLE(a) : PyLong_AsDouble(a);
        double y = PyFloat_Check(b) ? PyFloat_AS_DOUBLE(b) : PyLong_AsDouble(b);
        if (!PyErr_Occurred()) {
            note_cmp(rec, PyList_GET_SIZE(nodes), fabs(x - y));
        }
    }
    Py_XDECREF(nodes);
    PyErr_Clear();
    return PyObject_RichCompare(a, b, op);
}

/* A fast path in the handlers' setting: its Python calls (Value, Entry, Node) are framead's,
   hidden from tracers and profilers, the user's frame the one warnings and stacks see.
   fast_binop(k % 13, a, b, in place) when k >= 0 (BINARY_OP's oparg), fast_getitem(a, b)
   when k == -1, fast_setitem(a, b, c)
   when k == -2, fast_call(a, b) when k == -3, fast_unary(pos, a) when k == -4 - pos, and
   fast_compare(op, a, b) when k == -10 - op. */
static PyObject *
fast_as_handler(int k, PyObject *a, PyObject *b, PyObject *c)
{
    PyThreadState *ts = PyThreadState_Get();
    fa_frame *outer = T.user_frame;
    T.user_frame = fa_current_frame(ts);
    if (!profile_internals) {
        PyThreadState_EnterTracing(ts);
    }
    T.in_handler++;
    FA_PY_RECURSION_REMAINING(ts) += FA_HANDLER_FRAMES;
    /* held: an operation can run Python code (an np.seterrcall function, a warning's) that
       starts and ends a capture of its own, which replaces this thread's state */
    PyObject *st = Py_NewRef(T.fast_rec);
    rec_cache outer_rc = rc; /* (a capture the operation runs has its own) */
    memset(&rc, 0, sizeof(rc));
    rc.on = 1;
    PyObject *res = k >= 0    ? fast_binop(k % 13, a, b, k >= 13)
                    : k == -1 ? fast_getitem(a, b)
                    : k == -2 ? fast_setitem(a, b, c)
                    : k == -3 ? fast_call(a, b)
                    : k >= -5 ? fast_unary(-4 - k, a)
                    : k == -6 ? fast_reduce(a, b, c)
                              : fast_compare(-10 - k, a, b);
    rc.on = 0;
    rc_clear();
    rc = outer_rc;
    Py_DECREF(st);
    FA_PY_RECURSION_REMAINING(ts) -= FA_HANDLER_FRAMES;
    T.in_handler--;
    if (!profile_internals) {
        PyThreadState_LeaveTracing(ts);
    }
    T.user_frame = outer;
    return res;
}

/* set_fast_record(state or None): this thread's fast-record state (cleared whenever the
   handlers change). */
/* Is WeakEntry's `obj` its referent: the class's own `obj` a property whose getter is
   operator.call (which calls the reference), the call weakref.ref's own? 1, 0, or -1. */
static int
weak_obj_is_referent(PyObject *wt)
{
    static PyObject *op_call;
    PyTypeObject *t = (PyTypeObject *)wt;
    PyObject *d = PyDict_GetItemWithError(fa_type_dict(t), s_obj);
    if (d == NULL || !Py_IS_TYPE(d, &PyProperty_Type) ||
        t->tp_call != _PyWeakref_RefType.tp_call) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (op_call == NULL) {
        PyObject *m = PyImport_ImportModule("operator");
        op_call = m != NULL ? PyObject_GetAttrString(m, "call") : NULL;
        Py_XDECREF(m);
        if (op_call == NULL) {
            PyErr_Clear();
            return 0;
        }
    }
    static PyObject *s_fget; /* (interned: see m_set_handlers) */
    if (s_fget == NULL && (s_fget = PyUnicode_InternFromString("fget")) == NULL) {
        return -1;
    }
    PyObject *get = PyObject_GetAttr(d, s_fget);
    if (get == NULL) {
        return -1;
    }
    int is = get == op_call;
    Py_DECREF(get);
    return is;
}

/* The classes (Value, Node, Entry, Buffer, WeakEntry or None) the slot layouts and tags
   set_fast_record computed were made for, with their version tags then (a class changed
   since has another tag; a freed class's address reused by a new one too: tags are never
   reused). Not valid while a class has no tag. */
#define FR_MEMO_N 5
static PyObject *fr_memo_kinds[FR_MEMO_N]; /* borrowed: only compared */
static unsigned int fr_memo_tags[FR_MEMO_N];
static int fr_memo_valid;

static unsigned int
fr_memo_tag(PyObject *k)
{
    if (k == Py_None) {
        return 1;
    }
    if (!PyType_Check(k)) {
        return 0;
    }
    (void)_PyType_Lookup((PyTypeObject *)k, s_obj); /* (assigns a tag where it can) */
    return ((PyTypeObject *)k)->tp_version_tag;
}

static int
fr_memo_holds(PyObject **kinds)
{
    if (!fr_memo_valid) {
        return 0;
    }
    for (int i = 0; i < FR_MEMO_N; i++) {
        if (kinds[i] != fr_memo_kinds[i] ||
            (kinds[i] != Py_None && (!PyType_Check(kinds[i]) ||
             ((PyTypeObject *)kinds[i])->tp_version_tag != fr_memo_tags[i]))) {
            return 0;
        }
    }
    return 1;
}

static void
fr_memo_store(PyObject **kinds)
{
    for (int i = 0; i < FR_MEMO_N; i++) {
        unsigned int tag = fr_memo_tag(kinds[i]);
        if (tag == 0) {
            fr_memo_valid = 0;
            return;
        }
        fr_memo_kinds[i] = kinds[i];
        fr_memo_tags[i] = tag;
    }
    fr_memo_valid = 1;
}

static PyObject *
m_set_fast_record(PyObject *mod, PyObject *state)
{
    if (state == Py_None) {
        Py_CLEAR(T.fast_rec);
        Py_RETURN_NONE;
    }
    if (!PyTuple_CheckExact(state) || PyTuple_GET_SIZE(state) != FR_N ||
        !PyTuple_CheckExact(PyTuple_GET_ITEM(state, FR_RULES)) ||
        PyTuple_GET_SIZE(PyTuple_GET_ITEM(state, FR_RULES)) != 13 ||
        !PyTuple_CheckExact(PyTuple_GET_ITEM(state, FR_SAVES)) ||
        PyTuple_GET_SIZE(PyTuple_GET_ITEM(state, FR_SAVES)) != 13) {
        PyErr_SetString(PyExc_TypeError, "set_fast_record((recorder, rules[13], saves[13], "
                                         "Entry, Value, Node, dtype, float64, getitem, setitem, calls, unary, "
                                         "arrays, generation) or None)");
        return NULL;
    }
    for (int k = 0; k < 13; k++) {
        PyObject *s = PyTuple_GET_ITEM(PyTuple_GET_ITEM(state, FR_SAVES), k);
        if (PyTuple_GET_ITEM(PyTuple_GET_ITEM(state, FR_RULES), k) != Py_None &&
            (!PyTuple_CheckExact(s) || PyTuple_GET_SIZE(s) != 3)) {
            PyErr_SetString(PyExc_TypeError, "set_fast_record: saves[k] must be a 3-tuple");
            return NULL;
        }
    }
    PyObject *gi = PyTuple_GET_ITEM(state, FR_GETITEM), *gen = PyTuple_GET_ITEM(state, FR_GEN);
    PyObject *calls = PyTuple_GET_ITEM(state, FR_CALLS), *un = PyTuple_GET_ITEM(state, FR_UNARY);
    if (!PyTuple_CheckExact(un) || PyTuple_GET_SIZE(un) != 2 ||
        !PyTuple_CheckExact(gen) || PyTuple_GET_SIZE(gen) != 2 ||
        !PyList_CheckExact(PyTuple_GET_ITEM(gen, 0)) ||
        PyList_GET_SIZE(PyTuple_GET_ITEM(gen, 0)) != 1 ||
        (calls != Py_None && !PyDict_CheckExact(calls))) {
        PyErr_SetString(PyExc_TypeError, "set_fast_record: generation ([n], n) and calls "
                                         "(a dict or None) expected");
        return NULL;
    }
    PyObject *arrays = PyTuple_GET_ITEM(state, FR_ARRAY);
    if (arrays != Py_None && (!PyTuple_CheckExact(arrays) || PyTuple_GET_SIZE(arrays) != 11 ||
                              !PyDict_CheckExact(PyTuple_GET_ITEM(arrays, 4)) ||
                              !PyDict_CheckExact(PyTuple_GET_ITEM(arrays, 8)))) {
        PyErr_SetString(PyExc_TypeError, "set_fast_record: arrays must be (fresh_array, "
                                         "protect, record_computed, fresh_view, {ufunc: (rule, "
                                         "saves)}, Buffer, WeakEntry, on_death, {reduction: "
                                         "(rule, saves)}, record_computed_kw, view_update) "
                                         "or None");
        return NULL;
    }
    if (!PyType_Check(PyTuple_GET_ITEM(state, FR_F64)) ||
        (PyTuple_GET_ITEM(state, FR_SETITEM) == Py_None) != (gi == Py_None) ||
        (gi != Py_None && (!PyTuple_CheckExact(gi) || PyTuple_GET_SIZE(gi) != 2))) {
        PyErr_SetString(PyExc_TypeError, "set_fast_record: float64 must be a type, getitem "
                                         "(rule, saves) or None");
        return NULL;
    }
    if (PyTuple_GET_ITEM(state, FR_REC) != T.h_obj) { /* not this thread's handlers' */
        Py_CLEAR(T.fast_rec);
        Py_RETURN_NONE;
    }
    /* the layouts below depend on the classes only: made again when one of them is another
       class, or was changed since (its version tag; ~3 us of look-ups each capture else) */
    PyObject *kinds[FR_MEMO_N] = {
        PyTuple_GET_ITEM(state, FR_VALUE), PyTuple_GET_ITEM(state, FR_NODE),
        PyTuple_GET_ITEM(state, FR_ENTRY),
        arrays != Py_None ? PyTuple_GET_ITEM(arrays, 5) : Py_None,
        arrays != Py_None ? PyTuple_GET_ITEM(arrays, 6) : Py_None};
    if (fr_memo_holds(kinds)) {
        Py_XSETREF(T.fast_rec, Py_NewRef(state));
        Py_RETURN_NONE;
    }
    fr_memo_valid = 0;
    value_direct = slot_offsets(PyTuple_GET_ITEM(state, FR_VALUE), value_slots, FA_VALUE_SLOTS,
                                value_off);
    node_direct = slot_offsets(PyTuple_GET_ITEM(state, FR_NODE), node_slots, FA_NODE_SLOTS,
                               node_off);
    entry_direct = slot_offsets(PyTuple_GET_ITEM(state, FR_ENTRY), entry_slots, FA_ENTRY_SLOTS,
                                entry_off);
    buffer_direct = weak_entry_direct = 0;
    if (arrays != Py_None) {
        PyObject *bt = PyTuple_GET_ITEM(arrays, 5), *wt = PyTuple_GET_ITEM(arrays, 6);
        buffer_direct = slot_offsets(bt, buffer_slots, FA_BUFFER_SLOTS, buffer_off);
        /* a weakref.ref subclass with these slots, made by calling it (obj, callback) */
        weak_entry_direct = PyType_Check(wt) &&
                            ((PyTypeObject *)wt)->tp_base == &_PyWeakref_RefType &&
                            member_offsets((PyTypeObject *)wt, weak_entry_slots,
                                           FA_WEAK_ENTRY_SLOTS, weak_entry_off);
    }
    fk_tag[FK_VALUE] = fk_tag_of(PyTuple_GET_ITEM(state, FR_VALUE), value_direct, s_shape);
    fk_tag[FK_ENTRY] = fk_tag_of(PyTuple_GET_ITEM(state, FR_ENTRY), entry_direct, s_obj);
    fk_tag[FK_BUFFER] = fk_tag[FK_WEAK] = 0;
    weak_obj_direct = 0;
    if (arrays != Py_None) {
        PyObject *wt = PyTuple_GET_ITEM(arrays, 6);
        fk_tag[FK_BUFFER] = fk_tag_of(PyTuple_GET_ITEM(arrays, 5), buffer_direct, s_version);
        fk_tag[FK_WEAK] = fk_tag_of(wt, weak_entry_direct, s_obj);
        if (fk_tag[FK_WEAK] != 0 && (weak_obj_direct = weak_obj_is_referent(wt)) < 0) {
            return NULL;
        }
    }
    fr_memo_store(kinds);
    Py_XSETREF(T.fast_rec, Py_NewRef(state));
    Py_RETURN_NONE;
}

static int protocol_traced(PyObject *o);

/* sessions (all threads) whose recorders record guards: choosing callables always come
   to dispatch while there is one (capture.session reads it to set their flags), the
   CONTAINS probe looks into sets, dicts and deques, the comparison probes into two
   lists/tuples, and the % probes into a dict formatted into text */
static int guard_users;

/* A list/tuple/dict compared by list's/tuple's/dict's own comparison (a namedtuple too; not
   a subclass defining its own __lt__/__eq__: its Python code runs instrumented) */
FA_INLINE int
plain_seq_compare(PyTypeObject *t)
{
    return t == &PyTuple_Type || t == &PyList_Type || t == &PyDict_Type ||
           (PyType_FastSubclass(t, Py_TPFLAGS_DICT_SUBCLASS) &&
            t->tp_richcompare == PyDict_Type.tp_richcompare) ||
           (PyType_FastSubclass(t, Py_TPFLAGS_TUPLE_SUBCLASS) &&
            t->tp_richcompare == PyTuple_Type.tp_richcompare) ||
           (PyType_FastSubclass(t, Py_TPFLAGS_LIST_SUBCLASS) &&
            t->tp_richcompare == PyList_Type.tp_richcompare);
}

/* Is `a <op> b` of two lists/tuples/dicts one that compares traced values inside them
   ((x0, 1) < (x2, 0), [a, b] == [c, d], (cost, k) < best[:2], namedtuples, {k: x} == {k: y}:
   ProbeHandlers.compare makes a dict's unreplayable) while a recorder
   records guards? ProbeHandlers.compare guards it (through tree_value); an uncached capture
   has no use for it (the handler only notes where traced values were first compared), so
   an untraced tuple comparison stays on the fast path, no scan made, outside cached traces. */
FA_INLINE int
seq_compare_traced(PyObject *a, PyObject *b)
{
    return FA_UNLIKELY(guard_users != 0) && plain_seq_compare(Py_TYPE(a)) &&
           plain_seq_compare(Py_TYPE(b)) &&
           (scan_traced(a, FA_SCAN_LISTS) || scan_traced(b, FA_SCAN_LISTS));
}

/* Is `text % mapping` (BINARY_OP's % or %=, text a str/bytes, mapping a dict: '%(v).2f' %
   {'v': x}) text made of traced values inside the dict while a recorder records guards?
   ProbeHandlers.binary then guards the text or marks the trace unreplayable (calls.py
   text_guard); an uncached capture only notes the use. */
FA_INLINE int
text_mod_dict_traced(PyObject *a, PyObject *b)
{
    return FA_UNLIKELY(guard_users != 0) && PyDict_Check(b) &&
           (PyUnicode_Check(a) || PyBytes_Check(a)) && scan_traced(b, FA_SCAN_LISTS);
}

/* The operators' probes: to the handler when an operand is traced, is a list/tuple NumPy
   coerces that holds traced values, or is an object of the program's whose array protocol
   NumPy would call on traced data (capture/protocols.py binary_operand mirrors the
   conversion). */
#define BINOP_PROBE(IDX, NAME, EXPR)                                                  \
    static PyObject *probe_##NAME(PyObject *self, PyObject *const *args,             \
                                  Py_ssize_t nargs)                                  \
    {                                                                                \
        if (FA_UNLIKELY(nargs != 2)) {                                               \
            return wrong_nargs("_framead_probe_" #NAME, 2, nargs);                    \
        }                                                                            \
        PyObject *a = args[0], *b = args[1];                                         \
        if (FA_UNLIKELY(FA_ACTIVE()) &&                                              \
            (is_traced(a) || is_traced(b) || seq_operand_traced(a, b, 1) ||          \
             protocol_traced(a) || protocol_traced(b) ||                             \
             ((IDX) % 13 == 6 && text_mod_dict_traced(a, b)))) {                     \
            if (T.fast_rec != NULL) {                                                \
                PyObject *r = fast_as_handler((IDX), a, b, NULL);                    \
                if (r != FA_FALLBACK) {                                              \
                    return r;                                                        \
                }                                                                    \
            }                                                                        \
            return call_handler3(T.h_binop, small_ints[IDX], a, b);                    \
        }                                                                            \
        if (FA_UNLIKELY(FA_WATCHING()) && watch_operands(#NAME, a, b) < 0) {         \
            return NULL;                                                             \
        }                                                                            \
        return EXPR;                                                                 \
    }

BINOP_PROBE(0, add, PyNumber_Add(a, b))
BINOP_PROBE(1, and, PyNumber_And(a, b))
BINOP_PROBE(2, floordiv, PyNumber_FloorDivide(a, b))
BINOP_PROBE(3, lshift, PyNumber_Lshift(a, b))
BINOP_PROBE(4, matmul, PyNumber_MatrixMultiply(a, b))
BINOP_PROBE(5, mul, PyNumber_Multiply(a, b))
BINOP_PROBE(6, mod, PyNumber_Remainder(a, b))
BINOP_PROBE(7, or, PyNumber_Or(a, b))
BINOP_PROBE(8, pow, PyNumber_Power(a, b, Py_None))
BINOP_PROBE(9, rshift, PyNumber_Rshift(a, b))
BINOP_PROBE(10, sub, PyNumber_Subtract(a, b))
BINOP_PROBE(11, truediv, PyNumber_TrueDivide(a, b))
BINOP_PROBE(12, xor, PyNumber_Xor(a, b))
BINOP_PROBE(13, iadd, PyNumber_InPlaceAdd(a, b))
BINOP_PROBE(14, iand, PyNumber_InPlaceAnd(a, b))
BINOP_PROBE(15, ifloordiv, PyNumber_InPlaceFloorDivide(a, b))
BINOP_PROBE(16, ilshift, PyNumber_InPlaceLshift(a, b))
BINOP_PROBE(17, imatmul, PyNumber_InPlaceMatrixMultiply(a, b))
BINOP_PROBE(18, imul, PyNumber_InPlaceMultiply(a, b))
BINOP_PROBE(19, imod, PyNumber_InPlaceRemainder(a, b))
BINOP_PROBE(20, ior, PyNumber_InPlaceOr(a, b))
BINOP_PROBE(21, ipow, PyNumber_InPlacePower(a, b, Py_None))
BINOP_PROBE(22, irshift, PyNumber_InPlaceRshift(a, b))
BINOP_PROBE(23, isub, PyNumber_InPlaceSubtract(a, b))
BINOP_PROBE(24, itruediv, PyNumber_InPlaceTrueDivide(a, b))
BINOP_PROBE(25, ixor, PyNumber_InPlaceXor(a, b))

#define PROBE_DEF(NAME) {"_framead_probe_" #NAME, (PyCFunction)(void (*)(void))probe_##NAME, METH_FASTCALL, NULL}

static PyMethodDef binop_defs[26] = {
    PROBE_DEF(add),      PROBE_DEF(and),       PROBE_DEF(floordiv), PROBE_DEF(lshift),
    PROBE_DEF(matmul),   PROBE_DEF(mul),       PROBE_DEF(mod),      PROBE_DEF(or),
    PROBE_DEF(pow),      PROBE_DEF(rshift),    PROBE_DEF(sub),      PROBE_DEF(truediv),
    PROBE_DEF(xor),      PROBE_DEF(iadd),      PROBE_DEF(iand),     PROBE_DEF(ifloordiv),
    PROBE_DEF(ilshift),  PROBE_DEF(imatmul),   PROBE_DEF(imul),     PROBE_DEF(imod),
    PROBE_DEF(ior),      PROBE_DEF(ipow),      PROBE_DEF(irshift),  PROBE_DEF(isub),
    PROBE_DEF(itruediv), PROBE_DEF(ixor),
};

#define COMPARE_PROBE(OP, NAME)                                                       \
    static PyObject *probe_##NAME(PyObject *self, PyObject *const *args,             \
                                  Py_ssize_t nargs)                                  \
    {                                                                                \
        if (FA_UNLIKELY(nargs != 2)) {                                               \
            return wrong_nargs("_framead_probe_" #NAME, 2, nargs);                    \
        }                                                                            \
        PyObject *a = args[0], *b = args[1];                                         \
        if (FA_UNLIKELY(FA_ACTIVE()) &&                                              \
            (is_traced(a) || is_traced(b) || seq_operand_traced(a, b, 0) ||          \
             seq_compare_traced(a, b))) {                                            \
            if (T.fast_rec != NULL) {                                                \
                PyObject *r = fast_as_handler(-10 - (OP), a, b, NULL);               \
                if (r != FA_FALLBACK) {                                              \
                    return r;                                                        \
                }                                                                    \
            }                                                                        \
            return call_handler3(T.h_compare, small_ints[OP], a, b);                   \
        }                                                                            \
        if (FA_UNLIKELY(FA_WATCHING()) && watch_operands(#NAME, a, b) < 0) {         \
            return NULL;                                                             \
        }                                                                            \
        return PyObject_RichCompare(a, b, OP);                                       \
    }

COMPARE_PROBE(Py_LT, lt)
COMPARE_PROBE(Py_LE, le)
COMPARE_PROBE(Py_EQ, eq)
COMPARE_PROBE(Py_NE, ne)
COMPARE_PROBE(Py_GT, gt)
COMPARE_PROBE(Py_GE, ge)

static PyMethodDef compare_defs[6] = {
    PROBE_DEF(lt), PROBE_DEF(le), PROBE_DEF(eq), PROBE_DEF(ne), PROBE_DEF(gt), PROBE_DEF(ge),
};

#define UNARY_PROBE(NAME, STR, FUNC, FAST)                                            \
    static PyObject *probe_##NAME(PyObject *self, PyObject *const *args,             \
                                  Py_ssize_t nargs)                                  \
    {                                                                                \
        if (FA_UNLIKELY(nargs != 1)) {                                               \
            return wrong_nargs("_framead_probe_" #NAME, 1, nargs);                    \
        }                                                                            \
        PyObject *a = args[0];                                                       \
        if (FA_UNLIKELY(FA_ACTIVE()) && is_traced(a)) {                              \
            if ((FAST) != 0 && T.fast_rec != NULL) {                                 \
                PyObject *r = fast_as_handler((FAST), a, NULL, NULL);                \
                if (r != FA_FALLBACK) {                                              \
                    return r;                                                        \
                }                                                                    \
            }                                                                        \
            return call_handler2(T.h_unary, STR, a);                                   \
        }                                                                            \
        if (FA_UNLIKELY(FA_WATCHING()) && watch_operands(#NAME, a, NULL) < 0) {      \
            return NULL;                                                             \
        }                                                                            \
        return FUNC(a);                                                              \
    }

UNARY_PROBE(neg, str_neg, PyNumber_Negative, -4)
UNARY_PROBE(pos, str_pos, PyNumber_Positive, -5)
UNARY_PROBE(invert, str_invert, PyNumber_Invert, 0)

static PyObject *
probe_getitem(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (FA_UNLIKELY(nargs != 2)) {
        return wrong_nargs("_framead_probe_getitem", 2, nargs);
    }
    PyObject *a = args[0], *k = args[1];
    if (FA_UNLIKELY(FA_ACTIVE()) && (is_traced(a) || is_traced(k))) {
        if (T.fast_rec != NULL) {
            PyObject *r = fast_as_handler(-1, a, k, NULL);
            if (r != FA_FALLBACK) {
                return r;
            }
        }
        return call_handler2(T.h_getitem, a, k);
    }
    if (FA_UNLIKELY(FA_WATCHING()) && watch_operands("getitem", a, k) < 0) {
        return NULL;
    }
    return PyObject_GetItem(a, k);
}

/* Rows(rec_ref, a, slow): iter(a) of a traced ndarray (capture/handlers.py getiter): a[0],
   a[1], ... as the program's loop asks for them, each read as the getitem probe reads it: by
   the fast path (fast_getitem) where the iterating code is the user's, this thread's
   capture is the recorder's (weakly held: a kept iterator must not keep a recording alive)
   and the path takes it; else slow(rec_ref, a, i) (handlers._row: the recorder's get_item,
   or a[i] once the recorder is gone), called as the handlers are (hidden, the user's frame
   its caller) when a capture runs the user's code. ~6 -> ~0.5 us an element. */
typedef struct {
    PyObject_HEAD
    PyObject *rec_ref;
    PyObject *a;
    PyObject *slow;
    Py_ssize_t i;
    int reverse; /* reversed(a): a[n - 1], ..., a[0], as the native reversed iterator */
} RowsObject;

static PyObject *
rows_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *rec_ref, *a, *slow, *reverse = Py_False;
    if (kwds != NULL && PyDict_GET_SIZE(kwds) != 0) {
        PyErr_SetString(PyExc_TypeError, "Rows() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_UnpackTuple(args, "Rows", 3, 4, &rec_ref, &a, &slow, &reverse)) {
        return NULL;
    }
    int rev = PyObject_IsTrue(reverse);
    Py_ssize_t n = rev > 0 ? PyObject_Size(a) : 0;
    if (rev < 0 || n < 0) {
        return NULL;
    }
    if (!PyWeakref_CheckRef(rec_ref)) {
        PyErr_SetString(PyExc_TypeError, "Rows(rec_ref, a, slow): rec_ref must be a weakref");
        return NULL;
    }
    RowsObject *it = (RowsObject *)type->tp_alloc(type, 0);
    if (it == NULL) {
        return NULL;
    }
    it->rec_ref = Py_NewRef(rec_ref);
    it->a = Py_NewRef(a);
    it->slow = Py_NewRef(slow);
    it->reverse = rev;
    it->i = rev ? n - 1 : 0;
    return (PyObject *)it;
}

static int
rows_traverse(RowsObject *it, visitproc visit, void *arg)
{
    Py_VISIT(it->rec_ref);
    Py_VISIT(it->a);
    Py_VISIT(it->slow);
    return 0;
}

static int
rows_clear(RowsObject *it)
{
    Py_CLEAR(it->rec_ref);
    Py_CLEAR(it->a);
    Py_CLEAR(it->slow);
    return 0;
}

static void
rows_dealloc(RowsObject *it)
{
    PyObject_GC_UnTrack(it);
    rows_clear(it);
    Py_TYPE(it)->tp_free((PyObject *)it);
}

/* the iterator's recorder while it lives, else NULL (an address to compare: the caller takes
   no reference, and a live recorder is held by whoever records) */
static PyObject *
rows_recorder(RowsObject *it)
{
    PyObject *rec;
#if PY_VERSION_HEX >= 0x030D0000
    if (PyWeakref_GetRef(it->rec_ref, &rec) < 0) {
        PyErr_Clear();
        return NULL;
    }
    Py_XDECREF(rec);
#else
    rec = PyWeakref_GetObject(it->rec_ref);
#endif
    return rec == Py_None ? NULL : rec;
}

static PyObject *
rows_next(RowsObject *it)
{
    if (it->a == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyObject_Size(it->a);
    if (n < 0 || it->i >= n || it->i < 0) {
        if (n >= 0) {
            Py_CLEAR(it->a); /* exhausted for good, and the array no longer held (natively) */
        }
        return NULL; /* (an error, or StopIteration) */
    }
    PyObject *k = PyLong_FromSsize_t(it->reverse ? it->i-- : it->i++);
    if (k == NULL) {
        return NULL;
    }
    /* held: the read may run Python code (a warning's, a subclass's) that exhausts `it` */
    PyObject *a = Py_NewRef(it->a), *res = FA_FALLBACK;
    if (FA_ACTIVE()) {
        int users = T.in_handler == 0;
        if (users && T.fast_rec != NULL &&
            rows_recorder(it) == PyTuple_GET_ITEM(T.fast_rec, FR_REC)) {
            res = fast_as_handler(-1, a, k, NULL);
        }
        if (res == FA_FALLBACK) {
            res = users ? call_handler3(it->slow, it->rec_ref, a, k)
                        : PyObject_CallFunctionObjArgs(it->slow, it->rec_ref, a, k, NULL);
        }
    }
    else if (FA_WATCHING() && watch_operands("iteration", a, NULL) < 0) {
        res = NULL; /* another thread's traced array read here: FA109 (strict: raised) */
    }
    else {
        res = PyObject_GetItem(a, k); /* no capture here: a plain row, no Python frame */
    }
    Py_DECREF(a);
    Py_DECREF(k);
    return res;
}

/* as the native sequence iterator's: what is left, 0 once exhausted */
static PyObject *
rows_length_hint(RowsObject *it, PyObject *unused)
{
    Py_ssize_t n = it->a == NULL ? 0 : PyObject_Size(it->a);
    if (n < 0) {
        return NULL;
    }
    if (it->reverse) {
        return PyLong_FromSsize_t(it->a != NULL && it->i < n ? it->i + 1 : 0);
    }
    return PyLong_FromSsize_t(n > it->i ? n - it->i : 0);
}

/* copy.copy, pickle: a Rows of the same recorder while it lives (a copy made during the
   capture reads as the original does), else the native iterator's reduction (iter, (a,), i) */
static PyObject *
rows_reduce(RowsObject *it, PyObject *unused)
{
    PyObject *builtins = PyEval_GetBuiltins(); /* (borrowed) */
    PyObject *iter = builtins == NULL ? NULL
                     : PyDict_GetItemString(builtins, it->reverse ? "reversed" : "iter");
    if (iter == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "builtins.iter not found");
        return NULL;
    }
    if (it->a == NULL) {
        return Py_BuildValue("O(())", iter); /* exhausted: as the native iterator's */
    }
    if (rows_recorder(it) != NULL) { /* (its state sets the index) */
        return Py_BuildValue("O(OOOO)n", (PyObject *)Py_TYPE(it), it->rec_ref, it->a, it->slow,
                             it->reverse ? Py_True : Py_False, it->i);
    }
    return Py_BuildValue("O(O)n", iter, it->a, it->i);
}

static PyObject *
rows_setstate(RowsObject *it, PyObject *state)
{
    Py_ssize_t i = PyLong_AsSsize_t(state);
    if (i == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (it->a != NULL) {
        it->i = i < 0 ? (it->reverse ? -1 : 0) : i;
    }
    Py_RETURN_NONE;
}

static PyMethodDef rows_methods[] = {
    {"__length_hint__", (PyCFunction)rows_length_hint, METH_NOARGS, NULL},
    {"__reduce__", (PyCFunction)rows_reduce, METH_NOARGS, NULL},
    {"__setstate__", (PyCFunction)rows_setstate, METH_O, NULL},
    {NULL},
};

static PyTypeObject Rows_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "framead.capture._evalframe.Rows",
    .tp_basicsize = sizeof(RowsObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = rows_new,
    .tp_dealloc = (destructor)rows_dealloc,
    .tp_traverse = (traverseproc)rows_traverse,
    .tp_clear = (inquiry)rows_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)rows_next,
    .tp_methods = rows_methods,
    .tp_doc = "Rows(rec_ref, a, slow, reverse=False): iter(a) (reversed(a)) of a traced "
              "array, read as the recorder reads a[i].",
};

/* Text NumPy parses when it is stored into a number array: str or bytes (np.str_,
   np.bytes_), a str/bytes/object array, a list or tuple holding one (3 levels deep). */
static int
holds_text(PyObject *v, int depth)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyFloat_Type || t == &PyLong_Type) { /* (the usual values: two compares) */
        return 0;
    }
    if (PyType_FastSubclass(t, Py_TPFLAGS_UNICODE_SUBCLASS | Py_TPFLAGS_BYTES_SUBCLASS)) {
        return 1;
    }
    if (PyType_FastSubclass(t, Py_TPFLAGS_LIST_SUBCLASS | Py_TPFLAGS_TUPLE_SUBCLASS)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
        PyObject **items = PySequence_Fast_ITEMS(v);
        for (Py_ssize_t i = 0; depth < 3 && i < n; i++) {
            if (holds_text(items[i], depth + 1)) {
                return 1;
            }
        }
        return 0;
    }
    if (ndarray_type != NULL && (t == ndarray_type || PyType_IsSubtype(t, ndarray_type))) {
        char kind = PyArray_DESCR((PyArrayObject *)v)->kind;
        return kind == 'U' || kind == 'S' || kind == 'O';
    }
    return 0;
}

/* a[k] = v while armed: text stored into a number array (or a proxy's target) goes to
   text_taint's hook first (FA111; strict mode raises); anything else costs a type test. */
static int
text_store(PyObject *a, PyObject *k, PyObject *v)
{
    if (!holds_text(v, 0) || T.h_obj == NULL) {
        return 0;
    }
    if (ndarray_type != NULL && PyObject_TypeCheck(a, ndarray_type)) {
        char kind = PyArray_DESCR((PyArrayObject *)a)->kind;
        if (kind != 'f' && kind != 'c' && kind != 'i' && kind != 'u' && kind != 'b') {
            return 0;
        }
    }
    else {
        Py_ssize_t n = text_store_proxies != NULL ? PyTuple_GET_SIZE(text_store_proxies) : 0;
        Py_ssize_t i = 0;
        while (i < n && (PyObject *)Py_TYPE(a) != PyTuple_GET_ITEM(text_store_proxies, i)) {
            i++;
        }
        if (i == n) {
            return 0;
        }
    }
    PyObject *hook = Py_NewRef(text_store_hook);
    PyObject *r = PyObject_CallFunctionObjArgs(hook, a, k, v, NULL);
    Py_DECREF(hook);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* text_setitem(a, k, v): an eager frame's STORE_SUBSCR (capture/eager.py): a[k] = v, text
   stored into a number array judged first */
static PyObject *
m_text_setitem(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (FA_UNLIKELY(nargs != 3)) {
        return wrong_nargs("text_setitem", 3, nargs);
    }
    if (FA_UNLIKELY(text_store_hook != NULL) && text_store(args[0], args[1], args[2]) < 0) {
        return NULL;
    }
    if (PyObject_SetItem(args[0], args[1], args[2]) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* set_text_store(hook or None, tuple of proxy types) */
static PyObject *
m_set_text_store(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || (args[0] != Py_None && !PyCallable_Check(args[0])) ||
        !PyTuple_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "set_text_store(hook or None, tuple of types)");
        return NULL;
    }
    Py_XSETREF(text_store_hook, args[0] == Py_None ? NULL : Py_NewRef(args[0]));
    Py_XSETREF(text_store_proxies, Py_NewRef(args[1]));
    Py_RETURN_NONE;
}

static PyObject *
probe_setitem(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (FA_UNLIKELY(nargs != 3)) {
        return wrong_nargs("_framead_probe_setitem", 3, nargs);
    }
    PyObject *a = args[0], *k = args[1], *v = args[2];
    if (FA_UNLIKELY(text_store_hook != NULL) && text_store(a, k, v) < 0) {
        return NULL; /* (FA111 in strict mode) */
    }
    /* a list/tuple value written into an array (a[0:2] = [x, 1.0]) is scanned when the
       destination is an ndarray: NumPy converts its items in C; so is a deque, a UserList or
       a user sequence value (a[:] = deque(...): FA_SCAN_SEQS; the handler's set_item reads
       it); other values of static types (floats, arrays) are not scanned */
    if (FA_UNLIKELY(FA_ACTIVE()) &&
        (is_traced(a) || is_traced(k) || is_traced(v) ||
         ((PyList_Check(v) || PyTuple_Check(v) ||
           ((Py_TYPE(v)->tp_flags & Py_TPFLAGS_HEAPTYPE) || Py_TYPE(v) == deque_type)) &&
          ndarray_type != NULL && PyObject_TypeCheck(a, ndarray_type) &&
          scan_traced(v, FA_SCAN_LISTS | FA_SCAN_SEQS)))) {
        if (T.fast_rec != NULL) {
            PyObject *r = fast_as_handler(-2, a, k, v);
            if (r != FA_FALLBACK) {
                return r;
            }
        }
        PyObject *r = call_handler3(T.h_setitem, a, k, v);
        if (r == NULL) {
            return NULL;
        }
        Py_DECREF(r);
        Py_RETURN_NONE;
    }
    if (FA_UNLIKELY(FA_WATCHING()) &&
        (watch_operands("setitem", a, k) < 0 || watch_operands("setitem", v, NULL) < 0)) {
        return NULL;
    }
    if (PyObject_SetItem(a, k, v) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
probe_getattr(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (FA_UNLIKELY(nargs != 2)) {
        return wrong_nargs("_framead_probe_getattr", 2, nargs);
    }
    PyObject *o = args[0], *name = args[1];
    if (FA_UNLIKELY(FA_ACTIVE()) && is_traced(o)) {
        return call_handler2(T.h_getattr, o, name);
    }
    if (FA_UNLIKELY(FA_WATCHING()) && watch_operands("getattr", o, NULL) < 0) {
        return NULL;
    }
    return PyObject_GetAttr(o, name);
}

static PyObject *
probe_getiter(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (FA_UNLIKELY(nargs != 1)) {
        return wrong_nargs("_framead_probe_getiter", 1, nargs);
    }
    PyObject *o = args[0];
    if (FA_UNLIKELY(FA_ACTIVE()) && is_traced(o)) {
        return call_handler1(T.h_getiter, o);
    }
    if (FA_UNLIKELY(FA_WATCHING()) && watch_operands("iter", o, NULL) < 0) {
        return NULL;
    }
    return Py_NewRef(o);
}

static PyObject *
probe_unpack(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (FA_UNLIKELY(nargs != 1)) {
        return wrong_nargs("_framead_probe_unpack", 1, nargs);
    }
    PyObject *o = args[0];
    if (FA_UNLIKELY(FA_ACTIVE()) && is_traced(o)) {
        return call_handler1(T.h_unpack, o);
    }
    if (FA_UNLIKELY(FA_WATCHING()) && watch_operands("unpack", o, NULL) < 0) {
        return NULL;
    }
    return Py_NewRef(o);
}

static void format_kwargs_error(PyObject *func, PyObject *kwargs);

/* DICT_MERGE for f(**m, ...) (3.13's rewrite: there the instruction names the lowest call
   slot in its errors, which is the call probe under capture): dict_merge(dict, update, f)
   merges update into dict, with CPython's errors naming f. Returns None. */
static PyObject *
probe_dict_merge(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (FA_UNLIKELY(nargs != 3)) {
        return wrong_nargs("_framead_probe_dict_merge", 3, nargs);
    }
    if (_PyDict_MergeEx(args[0], args[1], 2) < 0) {
        format_kwargs_error(args[2], args[1]);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* DICT_UPDATE i for {**m} (rewritten to a call the call probe sees: a cached trace guards
   which keys merge, capture/membership.py pairs_call): dict_update(dict, update) merges
   update into dict, with the instruction's own error for an object without keys(). */
static PyObject *
probe_dict_update(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (FA_UNLIKELY(nargs != 2)) {
        return wrong_nargs("_framead_probe_dict_update", 2, nargs);
    }
    if (PyDict_Update(args[0], args[1]) < 0) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Format(PyExc_TypeError, "'%.200s' object is not a mapping",
                         Py_TYPE(args[1])->tp_name);
        }
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef unary_defs[3] = {PROBE_DEF(neg), PROBE_DEF(pos), PROBE_DEF(invert)};
static PyMethodDef misc_defs[7] = {PROBE_DEF(getitem), PROBE_DEF(setitem), PROBE_DEF(getattr),
                                   PROBE_DEF(getiter), PROBE_DEF(unpack), PROBE_DEF(dict_merge),
                                   PROBE_DEF(dict_update)};

/* ------------------------------------------------------------------------ */
/* The call trampoline                                                       */

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
} CallProbe;

/* Is `name` found on type t (through its MRO) a function written in Python
   (a staticmethod for __new__)? Borrowed lookup, no Python code runs. */
static int
type_slot_in_python(PyTypeObject *t, const char *name, PyObject **interned)
{
    if (*interned == NULL && (*interned = PyUnicode_InternFromString(name)) == NULL) {
        PyErr_Clear();
        return 1; /* out of memory: the old answer, native */
    }
    PyObject *f = _PyType_Lookup(t, *interned);
    return f != NULL && (PyFunction_Check(f) || Py_IS_TYPE(f, &PyStaticMethod_Type) ||
                         Py_IS_TYPE(f, &PyClassMethod_Type));
}

/* A class whose construction runs Python code (__init__, __new__ or its metaclass's
   __call__ written in Python). Heap types built in C (array.array, ctypes' c_double,
   (c_double * 3), a subclass of list or Exception without Python __init__) are not:
   a traced argument reaches C there. */
static int
constructs_in_python(PyTypeObject *t)
{
    static PyObject *s_init, *s_new, *s_call;
    if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        return 0;
    }
    return type_slot_in_python(t, "__init__", &s_init) ||
           type_slot_in_python(t, "__new__", &s_new) ||
           ((Py_TYPE(t)->tp_flags & Py_TPFLAGS_HEAPTYPE) &&
            type_slot_in_python(Py_TYPE(t), "__call__", &s_call));
}

/* Python code the callee treats natively even with traced arguments: its
   frames are rewritten and record on their own. */
static inline int
is_python_callable(PyObject *c)
{
    if (PyFunction_Check(c)) {
        return 1;
    }
    if (PyMethod_Check(c) && PyFunction_Check(PyMethod_GET_FUNCTION(c))) {
        return 1;
    }
    return PyType_Check(c) && constructs_in_python((PyTypeObject *)c);
}

/* A traced value inside an argument that the callee converts with a protocol method written
   in Python (`__array__`, `__array_interface__`, `__array_struct__`, `__float__`,
   `__complex__` on a class of the program's): NumPy or math calls it in C, so a call with a
   rule whose other arguments are not traced would run natively and lose it. Such calls go to
   the handler (capture/protocols.py convert_arguments converts it there as the callee would,
   or reports the loss). Only objects of classes a class statement made are looked at; the
   lookups go through the type's method cache. */
static PyObject *protocol_names[5];

static int
protocol_traced(PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE) || PyType_Check(o) || PyList_Check(o) ||
        PyTuple_Check(o) || PyDict_Check(o) || PyFloat_Check(o) || PyComplex_Check(o) ||
        (ndarray_type != NULL && PyObject_TypeCheck(o, ndarray_type)) ||
        protocol_names[0] == NULL) {
        return 0;
    }
    int found = 0;
    for (int i = 0; i < 5 && !found; i++) {
        PyObject *m = _PyType_Lookup(t, protocol_names[i]);
        found = m != NULL && (PyFunction_Check(m) || Py_IS_TYPE(m, &PyProperty_Type));
    }
    if (!found && t->tp_dictoffset != 0) { /* an __array_interface__ set on the object */
        PyObject *d = PyObject_GenericGetDict(o, NULL);
        found = d != NULL && PyDict_Check(d) && PyDict_Contains(d, protocol_names[1]) == 1;
        Py_XDECREF(d);
        PyErr_Clear();
    }
    if (!found) {
        return 0;
    }
    Py_ssize_t budget = FA_SCAN_BUDGET;
    return scan_deep(&T.tracked, o, 0, &budget, 1, FA_SCAN_DEEP);
}

static int
any_protocol_traced(PyObject *const *args, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (protocol_traced(args[i])) {
            return 1;
        }
    }
    return 0;
}

/* How deep the arguments are looked into for traced values (FA_SCAN_* bits): inside lists,
   tuples, dicts and the sequences NumPy and math read in C (deques, UserLists, user
   sequences: FA_SCAN_SEQS) for callables with the SCAN flag (ruled calls); for every C
   callable without a rule or the NATIVE flag (a traced value reaching C inside an argument
   is a lost gradient the handler reports) also inside objects, dict views and iterators
   (scan_deep, an iterator argument's state too); not for those that move items by
   identity (next, min, super...: set_scan_config), whose lists are still looked into. */
static inline int
scans_lists(PyObject *callable, unsigned flags)
{
    if (flags & FA_SCAN) {
        return FA_SCAN_LISTS | FA_SCAN_SEQS;
    }
    if ((flags & (FA_RULE | FA_NATIVE)) || is_python_callable(callable)) {
        return 0;
    }
    if ((identity_consumers.size && ptrmap_contains(&identity_consumers, flags_key(callable))) ||
        Py_IS_TYPE(callable, method_wrapper_type) || Py_IS_TYPE(callable, &PyWrapperDescr_Type)) {
        return FA_SCAN_LISTS; /* (slots called by name: super().__init__(obj), __setitem__) */
    }
    return FA_SCAN_LISTS | FA_SCAN_DEEP;
}

/* Is any argument a Python function or bound Python method (a callback C will call)? */
static inline int
has_python_callback(PyObject *const *args, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *a = args[i];
        if (PyFunction_Check(a) || (PyMethod_Check(a) && PyFunction_Check(PyMethod_GET_FUNCTION(a)))) {
            return 1;
        }
    }
    return 0;
}

static inline int
callable_self_traced(PyObject *c)
{
    if (PyCFunction_Check(c)) {
        PyObject *self = PyCFunction_GET_SELF(c);
        if (self != NULL && !PyModule_Check(self) && is_traced(self)) {
            return 1;
        }
    }
    else if (FA_UNLIKELY(Py_IS_TYPE(c, method_wrapper_type))) {
        /* x.__mul__(y): a slot of a traced object called by name */
        static PyObject *s_self;
        if (s_self == NULL && (s_self = PyUnicode_InternFromString("__self__")) == NULL) {
            PyErr_Clear();
            return 0;
        }
        PyObject *self = PyObject_GetAttr(c, s_self);
        if (self == NULL) {
            PyErr_Clear();
            return 0;
        }
        int traced = is_traced(self);
        Py_DECREF(self);
        return traced;
    }
    return 0;
}

/* After ALWAYS was handled: does this traced call go to handlers.call? */
static inline int
route_traced(PyObject *callable, unsigned flags)
{
    if (flags & FA_NATIVE) {
        return 0;
    }
    if (!(flags & FA_RULE) && is_python_callable(callable)) {
        return 0;
    }
    return 1;
}

static PyObject *
call_handler(PyObject *callable, PyObject *argtuple, PyObject *kwargs)
{
    PyObject *args[3] = {callable, argtuple, kwargs ? kwargs : Py_None};
    return call_handler_n(T.h_call, args, 3);
}

static PyObject *
handler_from_vector(PyObject *callable, PyObject *const *args, Py_ssize_t nargs,
                    PyObject *kwnames)
{
    PyObject *tup = PyTuple_New(nargs);
    if (tup == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyTuple_SET_ITEM(tup, i, Py_NewRef(args[i]));
    }
    PyObject *kw = NULL;
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        kw = PyDict_New();
        if (kw == NULL) {
            Py_DECREF(tup);
            return NULL;
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
            if (PyDict_SetItem(kw, PyTuple_GET_ITEM(kwnames, i), args[nargs + i]) < 0) {
                Py_DECREF(tup);
                Py_DECREF(kw);
                return NULL;
            }
        }
    }
    PyObject *res = call_handler(callable, tup, kw);
    Py_DECREF(tup);
    Py_XDECREF(kw);
    return res;
}

/* CALL_FUNCTION_EX's and DICT_MERGE's error for a non-mapping / duplicate keyword (the
   KeyError's key is in its args: a tuple before normalisation (3.11), the exception's own
   args once normalised (3.12+ always normalise)). */
static void
format_kwargs_error(PyObject *func, PyObject *kwargs)
{
    if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        PyObject *funcstr = _PyObject_FunctionStr(func);
        if (funcstr != NULL) {
            PyErr_Format(PyExc_TypeError, "%U argument after ** must be a mapping, not %.200s",
                         funcstr, Py_TYPE(kwargs)->tp_name);
            Py_DECREF(funcstr);
        }
    }
    else if (PyErr_ExceptionMatches(PyExc_KeyError)) {
        PyObject *exc, *val, *tb;
        PyErr_Fetch(&exc, &val, &tb);
        PyObject *kargs = val != NULL && PyExceptionInstance_Check(val)
                              ? ((PyBaseExceptionObject *)val)->args : val;
        if (kargs && PyTuple_Check(kargs) && PyTuple_GET_SIZE(kargs) == 1) {
            PyObject *funcstr = _PyObject_FunctionStr(func);
            if (funcstr != NULL) {
                PyObject *key = PyTuple_GET_ITEM(kargs, 0);
                PyErr_Format(PyExc_TypeError, "%U got multiple values for keyword argument '%S'",
                             funcstr, key);
                Py_DECREF(funcstr);
            }
            Py_XDECREF(exc);
            Py_XDECREF(val);
            Py_XDECREF(tb);
        }
        else {
            PyErr_Restore(exc, val, tb);
        }
    }
}

/* A watching thread passes arguments to a callable: another capture's traced value
   reaching a C callable is reported (Python callables run instrumented and watch
   their own operations). */
static int
watch_call(PyObject *callable, PyObject *const *args, Py_ssize_t n)
{
    if (is_python_callable(callable) ||
        (callable_flags.size && (lookup_flags(callable) & FA_NATIVE))) {
        return 0; /* structural callables only move values (and a worker's big dicts must
                     not make each of them cost their size) */
    }
    fa_tls *owner = NULL;
    for (Py_ssize_t i = 0; owner == NULL && i < n; i++) {
        owner = watch_owner(args[i], 1);
    }
    return owner == NULL ? 0 : watch_report(owner, callable);
}

/* f(*args) / f(*args, **kwargs): CALL_FUNCTION_EX semantics. */
static PyObject *
star_call(PyObject *callable, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
    if (nargs != 1) {
        PyErr_SetString(PyExc_SystemError,
                        "framead star call: the marker takes exactly the callable positionally");
        return NULL;
    }
    PyObject *callargs = args[1];
    PyObject *kwargs = NULL;
    if (nkw == 2) {
        PyObject *m = args[2];
        if (PyDict_CheckExact(m)) {
            kwargs = Py_NewRef(m);
        }
        else {
            kwargs = PyDict_New();
            if (kwargs == NULL) {
                return NULL;
            }
            if (_PyDict_MergeEx(kwargs, m, 2) < 0) {
                Py_DECREF(kwargs);
                format_kwargs_error(callable, m);
                return NULL;
            }
        }
    }
    PyObject *tup;
    if (PyTuple_CheckExact(callargs)) {
        tup = Py_NewRef(callargs);
    }
    else {
        if (Py_TYPE(callargs)->tp_iter == NULL && !PySequence_Check(callargs)) {
            PyErr_Clear();
            PyObject *funcstr = _PyObject_FunctionStr(callable);
            if (funcstr != NULL) {
                PyErr_Format(PyExc_TypeError, "%U argument after * must be an iterable, not %.200s",
                             funcstr, Py_TYPE(callargs)->tp_name);
                Py_DECREF(funcstr);
            }
            Py_XDECREF(kwargs);
            return NULL;
        }
        if (FA_ACTIVE() && is_traced(callargs)) {
            /* f(*x) of a traced array: its rows as the recorder reads them (linked to x) */
            PyObject *rows = call_handler1(T.h_unpack, callargs);
            tup = rows == NULL || PyTuple_CheckExact(rows) ? rows : PySequence_Tuple(rows);
            if (rows != NULL && tup != rows) {
                Py_DECREF(rows);
            }
        }
        else {
            tup = PySequence_Tuple(callargs);
        }
        if (tup == NULL) {
            Py_XDECREF(kwargs);
            return NULL;
        }
    }

    int to_handler = 0;
    if (T.h_obj != NULL && T.enabled) {
        unsigned flags = callable_flags.size ? lookup_flags(callable) : 0;
        if (flags & FA_ALWAYS) {
            to_handler = 1;
        }
        else if (T.tracked.size != 0) {
            int scan = scans_lists(callable, flags);
            int traced = callable_self_traced(callable);
            for (Py_ssize_t i = 0; !traced && i < PyTuple_GET_SIZE(tup); i++) {
                traced = is_traced_scan(PyTuple_GET_ITEM(tup, i), scan);
            }
            if (!traced && kwargs != NULL) {
                Py_ssize_t pos = 0;
                PyObject *k, *v;
                while (!traced && PyDict_Next(kwargs, &pos, &k, &v)) {
                    traced = is_traced_scan(v, scan);
                }
            }
            if (!traced && (flags & FA_RULE)) {
                traced = any_protocol_traced(((PyTupleObject *)tup)->ob_item,
                                             PyTuple_GET_SIZE(tup));
            }
            to_handler = traced && route_traced(callable, flags);
        }
    }
    if (FA_UNLIKELY(FA_WATCHING()) &&
        watch_call(callable, ((PyTupleObject *)tup)->ob_item, PyTuple_GET_SIZE(tup)) < 0) {
        Py_DECREF(tup);
        Py_XDECREF(kwargs);
        return NULL;
    }
    PyObject *res;
    if (to_handler) {
        res = call_handler(callable, tup, kwargs);
    }
    else {
        res = PyObject_Call(callable, tup, kwargs);
    }
    Py_DECREF(tup);
    Py_XDECREF(kwargs);
    return res;
}

static PyObject *
call_dispatch(PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (FA_UNLIKELY(nargs < 1)) {
        PyErr_SetString(PyExc_TypeError, "_framead_probe_call() needs the callable first");
        return NULL;
    }
    PyObject *callable = args[0];
    if (FA_UNLIKELY(kwnames != NULL) && (kwnames == star_kwnames1 || kwnames == star_kwnames2)) {
        return star_call(callable, args, nargs, kwnames);
    }
    if (FA_LIKELY(T.h_obj == NULL || !T.enabled)) {
        if (FA_UNLIKELY(FA_WATCHING()) && watch_call(callable, args + 1,
                                                     nargs - 1 + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0)) < 0) {
            return NULL;
        }
        goto native;
    }
    unsigned flags = callable_flags.size ? lookup_flags(callable) : 0;
    if (flags & FA_ALWAYS) {
        goto handler;
    }
    if (T.tracked.size == 0) {
        goto native;
    }
    {
        int scan = scans_lists(callable, flags);
        Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
        int traced = callable_self_traced(callable);
        for (Py_ssize_t i = 1; !traced && i < nargs + nkw; i++) {
            traced = is_traced_scan(args[i], scan);
        }
        if (!traced && (flags & FA_RULE)) {
            traced = any_protocol_traced(args + 1, nargs - 1);
        }
        if (traced) {
            if (!route_traced(callable, flags)) {
                goto native;
            }
            if (T.fast_rec != NULL && nargs == 2 && kwnames == NULL) {
                PyObject *r = fast_as_handler(-3, callable, args[1], NULL);
                if (r != FA_FALLBACK) {
                    return r;
                }
            }
            else if (T.fast_rec != NULL && nargs <= 2 &&
                     (kwnames == NULL ||
                      (PyTuple_GET_SIZE(kwnames) == 1 &&
                       PyUnicode_Check(PyTuple_GET_ITEM(kwnames, 0)) &&
                       PyUnicode_Compare(PyTuple_GET_ITEM(kwnames, 0), s_axis) == 0))) {
                /* np.sum(x, axis=k); x.sum(), x.sum(axis=k) */
                PyObject *r = fast_as_handler(-6, callable, nargs == 2 ? args[1] : NULL,
                                              kwnames != NULL ? args[nargs] : NULL);
                if (r != FA_FALLBACK) {
                    return r;
                }
            }
        }
        else if (flags != 0 || is_python_callable(callable) ||
                 (PyType_Check(callable) &&
                  (((PyTypeObject *)callable)->tp_flags & Py_TPFLAGS_HEAPTYPE)) ||
                 !has_python_callback(args + 1, nargs - 1 + nkw)) {
            goto native;
        }
        /* else: a C function given a Python callback (scipy.integrate.quad(f, ...)):
           the handler watches what the callback returns into C */
    }
handler:
    return handler_from_vector(callable, args + 1, nargs - 1, kwnames);
native:
    /* Keeping PY_VECTORCALL_ARGUMENTS_OFFSET is what CPython's own
       PyObject_VectorcallMethod does when it skips args[0]: the onward call's
       args[-1] is our args[0]. */
    {
        /* a Python callee: the caller's f_lasti as when CPython inlines the call */
        PyThreadState *ts = PyThreadState_GET();
        Py_ssize_t at = fv_inline_enter(ts, callable);
        PyObject *res = PyObject_Vectorcall(callable, args + 1, nargsf - 1, kwnames);
        fv_inline_leave(ts, at, res);
        return res;
    }
}

/* scan_mode(callable) -> int: how deep the C trampoline looks into its arguments for
   traced values (scans_lists: 1 lists, tuples and dicts, 2 also objects, dict views and
   iterators inside and their state, 4 also deques and sequence-protocol objects) */
static PyObject *
m_scan_mode(PyObject *mod, PyObject *callable)
{
    unsigned flags = callable_flags.size ? lookup_flags(callable) : 0;
    return PyLong_FromLong(scans_lists(callable, flags));
}

/* ------------------------------------------------------------------------ */
/* CONTAINS_OP                                                               */

/* operator.contains: the callable the Python route (handlers.call -> calls.dispatch ->
   special_forms.container_lookup) is given for a traced membership test */
static PyObject *op_contains_fn;

/* (guard_users: defined before the operators' probes, which read it too) */

/* An item of a set, dict or deque: traced, or a list/tuple/dict holding traced values */
static inline int
member_traced(const ptrmap *m, PyObject *o, Py_ssize_t *budget)
{
    if (ptrmap_contains(m, o)) {
        return 1;
    }
    PyTypeObject *t = Py_TYPE(o); /* (the usual items: no array's base, nothing inside) */
    if (t == &PyLong_Type || t == &PyFloat_Type || t == &PyUnicode_Type) {
        return 0;
    }
    return is_traced_in(m, o) || scan_walk(m, o, 1, budget, 1, 0);
}

static int
member_visit(PyObject *o, void *arg)
{
    scan_state *s = (scan_state *)arg;
    return o != NULL && member_traced(s->m, o, s->budget);
}

/* Does a set, frozenset or deque hold traced items, a dict traced keys, a dict view traced
   keys/values/items (lists, tuples and dicts inside them looked into)? No Python code runs;
   O(n). 0 for any other table. */
static int
members_traced(PyObject *table)
{
    const ptrmap *m = &T.tracked;
    Py_ssize_t budget = FA_SCAN_BUDGET;
    PyObject *d = NULL;
    int view = 0; /* what of a dict's entries is compared: 1 keys, 2 values, 3 both */
    if (PyDict_Check(table)) {
        d = table;
        view = 1;
    }
    else if (PyDictKeys_Check(table) || PyDictValues_Check(table) ||
             PyDictItems_Check(table)) {
        view = PyDictKeys_Check(table) ? 1 : PyDictValues_Check(table) ? 2 : 3;
        Py_TYPE(table)->tp_traverse(table, grab_visit, &d); /* (its one referent: its dict) */
        if (d == NULL || !PyDict_Check(d)) {
            return 0;
        }
    }
    if (view) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(d, &pos, &k, &v)) {
            if (((view & 1) && member_traced(m, k, &budget)) ||
                ((view & 2) && member_traced(m, v, &budget))) {
                return 1;
            }
        }
        return 0;
    }
    if (PyAnySet_Check(table) || (deque_type != NULL && PyObject_TypeCheck(table, deque_type))) {
        /* (their traverse visits the items; a class's instance also its type and __dict__) */
        scan_state s = {m, &budget, 1, 1, 0};
        return Py_TYPE(table)->tp_traverse(table, member_visit, &s) != 0;
    }
    return 0;
}

/* Does `key in table` compare the key with traced values inside the table, which the Python
   route guards (membership.guard_membership: what the table holds, as values.tree_value reads
   it)? The items of a list/tuple tree always; those of a set, frozenset, deque, dict or dict
   view (members_traced) only while a recorder records guards (a cached trace: the decision
   is re-checked in its replays; an uncached capture has no use for it, and a set's or dict's
   membership stays O(1) in memo-style loops, `if k in seen`). */
static inline int
contains_items_traced(PyObject *table)
{
    if (is_seq(table)) {
        return scan_traced(table, FA_SCAN_LISTS);
    }
    return FA_UNLIKELY(guard_users != 0) && members_traced(table);
}

static PyObject *
m_members_traced(PyObject *mod, PyObject *table)
{
    return PyBool_FromLong(members_traced(table));
}

/* The rewritten CONTAINS_OP (CONTAINS[0]: `key in table`, CONTAINS[1]: `key not in table`):
   PySequence_Contains, as the native instruction (the same __contains__ or iteration, errors
   and exact bool result), with no profiler events of its own (an OpProbe is not a builtin
   function). A traced key or table, a list/tuple key holding traced items ((t, 0.0) in
   d.items()), or a table holding traced items (contains_items_traced), goes to the Python
   route as the call operator.contains(table, key) (its result made an exact bool). */
static PyObject *
contains_probe(PyObject *const *args, Py_ssize_t nargs, int invert, const char *name)
{
    if (FA_UNLIKELY(nargs != 2)) {
        return wrong_nargs(name, 2, nargs);
    }
    PyObject *key = args[0], *table = args[1];
    int r;
    if (FA_UNLIKELY(FA_ACTIVE()) && op_contains_fn != NULL &&
        (is_traced(key) || is_traced(table) ||
         (is_seq(key) && scan_traced(key, FA_SCAN_LISTS)) || contains_items_traced(table))) {
        PyObject *tup = PyTuple_Pack(2, table, key);
        if (tup == NULL) {
            return NULL;
        }
        PyObject *res = call_handler(op_contains_fn, tup, NULL);
        Py_DECREF(tup);
        if (res == NULL) {
            return NULL;
        }
        r = PyBool_Check(res) ? res == Py_True : PyObject_IsTrue(res);
        Py_DECREF(res);
    }
    else {
        if (FA_UNLIKELY(FA_WATCHING()) && op_contains_fn != NULL) {
            PyObject *targs[2] = {table, key};
            if (watch_call(op_contains_fn, targs, 2) < 0) {
                return NULL;
            }
        }
        r = PySequence_Contains(table, key);
    }
    if (r < 0) {
        return NULL;
    }
    return Py_NewRef((r ^ invert) ? Py_True : Py_False);
}

static PyObject *
probe_contains(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return contains_probe(args, nargs, 0, "_framead_probe_contains");
}

static PyObject *
probe_not_contains(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return contains_probe(args, nargs, 1, "_framead_probe_not_contains");
}

static PyMethodDef contains_defs[2] = {PROBE_DEF(contains), PROBE_DEF(not_contains)};

/* ------------------------------------------------------------------------ */
/* Profilers: the events a native CALL makes                                 */

/* What CPython 3.11's CALL shows a profiler for callable(*args): a builtin function
   or method is the c_call argument itself, a method descriptor is bound to its first
   argument; anything else makes no c_call event (NULL). New reference. */
static PyObject *
profiled_callee(PyObject *callable, PyObject *const *args, Py_ssize_t nargs)
{
    if (PyCFunction_CheckExact(callable) || PyCMethod_CheckExact(callable)) {
        return Py_NewRef(callable);
    }
    if (Py_IS_TYPE(callable, &PyMethodDescr_Type) && nargs > 0) {
        PyObject *self = args[0];
        return Py_TYPE(callable)->tp_descr_get(callable, self, (PyObject *)Py_TYPE(self));
    }
    if (FA_PROFILE_BOUND_C_FUNCTIONS && PyMethod_Check(callable) &&
        PyCFunction_Check(PyMethod_GET_FUNCTION(callable))) { /* classmethod(repr) bound */
        return Py_NewRef(PyMethod_GET_FUNCTION(callable));
    }
    return NULL;
}

/* Call the profile function as ceval's call_trace does (the current frame is the
   user's, the probe being a C callable). Returns -1 when the profiler raised. */
static int
emit_profile(PyThreadState *ts, int what, PyObject *arg)
{
    if (ts->tracing || ts->c_profilefunc == NULL) {
        return 0;
    }
    PyFrameObject *f = PyEval_GetFrame();
    if (f == NULL) {
        return 0;
    }
    int old_what = FA_TRACE_EVENT(ts);
    FA_SET_TRACE_EVENT(ts, what);
    PyThreadState_EnterTracing(ts);
    int r = ts->c_profilefunc(ts->c_profileobj, f, what, arg);
    PyThreadState_LeaveTracing(ts);
    FA_SET_TRACE_EVENT(ts, old_what);
    (void)old_what;
    return r;
}

/* The call probe as the program's own CALL instruction: under a profiler, the
   c_call / c_return / c_exception events of the real callee, not of the probe. */
static PyObject *
call_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    PyThreadState *ts = PyThreadState_GET();
    if (FA_LIKELY(!fa_profiling(ts))) {
        return call_dispatch(args, nargsf, kwnames);
    }
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *pf = NULL;
    if (nargs >= 1) {
        if (kwnames == star_kwnames1 || kwnames == star_kwnames2) {
            PyObject *ca = args[1]; /* the *args sequence: the first "keyword" value */
            if (ca != NULL && PyTuple_Check(ca)) {
                pf = profiled_callee(args[0], ((PyTupleObject *)ca)->ob_item,
                                     PyTuple_GET_SIZE(ca));
            }
            else if (ca != NULL && PyList_Check(ca)) {
                pf = profiled_callee(args[0], ((PyListObject *)ca)->ob_item,
                                     PyList_GET_SIZE(ca));
            }
            else {
                pf = profiled_callee(args[0], NULL, 0);
            }
        }
        else {
            pf = profiled_callee(args[0], args + 1, nargs - 1);
        }
        if (pf == NULL && PyErr_Occurred()) {
            return NULL;
        }
    }
    if (pf == NULL) {
        return call_dispatch(args, nargsf, kwnames);
    }
    PyObject *res = NULL;
    if (emit_profile(ts, PyTrace_C_CALL, pf) == 0) {
        res = call_dispatch(args, nargsf, kwnames);
        if (res == NULL) {
            PyObject *et, *ev, *etb;
            PyErr_Fetch(&et, &ev, &etb);
            if (emit_profile(ts, PyTrace_C_EXCEPTION, pf) == 0) {
                PyErr_Restore(et, ev, etb);
            }
            else {
                Py_XDECREF(et);
                Py_XDECREF(ev);
                Py_XDECREF(etb);
            }
        }
        else if (emit_profile(ts, PyTrace_C_RETURN, pf) < 0) {
            Py_CLEAR(res);
        }
    }
    Py_DECREF(pf);
    return res;
}

static PyObject *
call_repr(PyObject *self)
{
    return PyUnicode_FromString("<framead call probe _framead_probe_call>");
}

static PyObject *
call_get_name(PyObject *self, void *closure)
{
    return PyUnicode_FromString("_framead_probe_call");
}

static PyGetSetDef call_getset[] = {
    {"__name__", call_get_name, NULL, NULL, NULL},
    {"__qualname__", call_get_name, NULL, NULL, NULL},
    {NULL},
};

static PyTypeObject CallProbe_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "framead.capture._evalframe._framead_probe_call",
    .tp_basicsize = sizeof(CallProbe),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(CallProbe, vectorcall),
    .tp_repr = call_repr,
    .tp_getset = call_getset,
    .tp_doc = "call(callable, *args, **kwargs): the framead call trampoline.",
};

/* ------------------------------------------------------------------------ */
/* Sessions: entering and leaving a capture without a window for signals     */

/* Session.__enter__/__exit__ are C methods: `with` calls them without an eval-breaker
   check around the call, and between their Python steps (_prepare, _after_enter,
   _after_exit: interruptible, they change no hook state) the state changes happen
   in C, where no signal handler runs. A KeyboardInterrupt therefore never leaves
   the hook installed, capture enabled, handlers set or values tracked. */
typedef struct {
    PyObject_HEAD
    PyObject *recorder; /* set by the subclass (Session.__init__) */
    PyObject *dict;
    int prev_enabled;
    int prev_busy;
    int prev_in_gc;
    int entered;
    int guarding; /* its recorder records guards (cached traces) */
} SessionObject;


static PyObject *s_prepare, *s_after_enter, *s_after_exit, *s_decide;

/* this thread's stack of active sessions' recorders (innermost last) */
static _Thread_local PyObject *tl_recorders;
/* traced sets of the outer sessions of this thread while a nested one runs */
static _Thread_local ptrmap *tl_saved_maps;
static _Thread_local Py_ssize_t tl_n_saved, tl_cap_saved;

static int
save_tracked(void)
{
    if (tl_n_saved == tl_cap_saved) {
        Py_ssize_t cap = tl_cap_saved ? 2 * tl_cap_saved : 4;
        ptrmap *m = PyMem_RawRealloc(tl_saved_maps, cap * sizeof(ptrmap));
        if (m == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        tl_saved_maps = m;
        tl_cap_saved = cap;
    }
    tl_saved_maps[tl_n_saved++] = T.tracked;
    memset(&T.tracked, 0, sizeof(ptrmap));
    return 0;
}

static void
restore_tracked(int nested)
{
    if (T.tracked.table != NULL) {
        free(T.tracked.table);
    }
    memset(&T.tracked, 0, sizeof(ptrmap));
    if (nested && tl_n_saved > 0) {
        T.tracked = tl_saved_maps[--tl_n_saved];
    }
    if (tl_n_saved == 0 && tl_saved_maps != NULL) {
        PyMem_RawFree(tl_saved_maps);
        tl_saved_maps = NULL;
        tl_cap_saved = 0;
    }
}

static PyObject *
call_step(PyObject *self, PyObject *name)
{
    return PyObject_CallMethodNoArgs(self, name);
}

/* The hook state of a session that was entered, undone (no Python code runs
   except set_handlers' attribute lookups on the outer recorder). */
static void
session_leave_state(SessionObject *s)
{
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    Py_ssize_t n = tl_recorders ? PyList_GET_SIZE(tl_recorders) : 0;
    if (n > 0) {
        PyList_SetSlice(tl_recorders, n - 1, n, NULL);
        n--;
    }
    T.enabled = s->prev_enabled;
    T.busy = s->prev_busy;
    T.in_gc = s->prev_in_gc;
    if (s->guarding) {
        guard_users--;
        s->guarding = 0;
    }
    if (install_depth > 0) {
        PyObject *r = m_uninstall(NULL, NULL);
        Py_XDECREF(r);
    }
    PyObject *outer = n > 0 ? PyList_GET_ITEM(tl_recorders, n - 1) : Py_None;
    PyObject *r = m_set_handlers(NULL, outer);
    if (r == NULL) { /* the outer recorder lost an attribute: no handlers at all */
        PyErr_Clear();
        r = m_set_handlers(NULL, Py_None);
    }
    Py_XDECREF(r);
    if (n == 0) {
        Py_CLEAR(tl_recorders);
    }
    s->entered = 0;
    PyErr_Clear();
    PyErr_Restore(et, ev, etb);
}

static PyObject *
session_enter(SessionObject *s, PyObject *unused)
{
    if (s->entered) {
        PyErr_SetString(PyExc_RuntimeError, "a framead Session cannot be entered twice");
        return NULL;
    }
    if (s->recorder == NULL) {
        PyErr_SetString(PyExc_TypeError, "Session has no recorder");
        return NULL;
    }
    PyObject *r = call_step((PyObject *)s, s_prepare);
    if (r == NULL) {
        return NULL;
    }
    Py_DECREF(r);
    PyObject *decide = PyObject_GetAttr((PyObject *)s, s_decide);
    if (decide == NULL) {
        return NULL;
    }
    if (tl_recorders == NULL && (tl_recorders = PyList_New(0)) == NULL) {
        Py_DECREF(decide);
        return NULL;
    }
    /* --- no Python code from here to the end of the state change --- */
    int nested = PyList_GET_SIZE(tl_recorders) > 0;
    if ((nested && save_tracked() < 0) || PyList_Append(tl_recorders, s->recorder) < 0) {
        Py_DECREF(decide);
        return NULL;
    }
    r = m_install(NULL, decide);
    Py_DECREF(decide);
    if (r == NULL) {
        Py_ssize_t n = PyList_GET_SIZE(tl_recorders);
        PyList_SetSlice(tl_recorders, n - 1, n, NULL);
        restore_tracked(nested);
        return NULL;
    }
    Py_DECREF(r);
    r = m_set_handlers(NULL, s->recorder);
    if (r == NULL) {
        s->prev_enabled = T.enabled;
        s->prev_busy = T.busy;
        s->prev_in_gc = T.in_gc;
        session_leave_state(s);
        restore_tracked(nested);
        return NULL;
    }
    Py_DECREF(r);
    T.gen = ++generation; /* this capture decides every code object it runs again */
    s->prev_enabled = T.enabled;
    s->prev_busy = T.busy;
    s->prev_in_gc = T.in_gc;
    T.enabled = 1;
    T.busy = 0; /* (a grad called by a signal handler or finalizer inside decide()) */
    T.in_gc = 0; /* (or by a gc callback: its own capture records) */
    s->entered = 1;
    PyObject *guards = PyObject_GetAttr(s->recorder, s_guards); /* (interned) */
    if (guards == NULL) {
        PyErr_Clear();
    }
    else {
        s->guarding = guards != Py_None;
        guard_users += s->guarding;
        Py_DECREF(guards);
    }
    /* --- end of the state change --- */
    r = call_step((PyObject *)s, s_after_enter);
    if (r == NULL) { /* undone as an exit would, _after_exit's bookkeeping included */
        session_leave_state(s);
        PyObject *et, *ev, *etb;
        PyErr_Fetch(&et, &ev, &etb);
        r = call_step((PyObject *)s, s_after_exit);
        Py_XDECREF(r);
        PyErr_Clear();
        PyErr_Restore(et, ev, etb);
        restore_tracked(nested);
        return NULL;
    }
    Py_DECREF(r);
    return Py_NewRef(s);
}

static PyObject *
session_exit(SessionObject *s, PyObject *args)
{
    if (!s->entered) {
        Py_RETURN_FALSE;
    }
    Py_ssize_t n = tl_recorders ? PyList_GET_SIZE(tl_recorders) : 0;
    int nested = n > 1;
    session_leave_state(s);
    PyObject *r = call_step((PyObject *)s, s_after_exit);
    restore_tracked(nested); /* runs even when _after_exit was interrupted */
    if (r == NULL) {
        return NULL;
    }
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static int
session_traverse(SessionObject *s, visitproc visit, void *arg)
{
    Py_VISIT(s->recorder);
    Py_VISIT(s->dict);
    return 0;
}

static int
session_clear(SessionObject *s)
{
    Py_CLEAR(s->recorder);
    Py_CLEAR(s->dict);
    return 0;
}

static void
session_dealloc(SessionObject *s)
{
    PyObject_GC_UnTrack(s);
    session_clear(s);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyMethodDef session_methods[] = {
    {"__enter__", (PyCFunction)session_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)session_exit, METH_VARARGS, NULL},
    {NULL},
};

static PyMemberDef session_members[] = {
    {"recorder", T_OBJECT, offsetof(SessionObject, recorder), 0, NULL},
    {NULL},
};

static PyGetSetDef session_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL},
};

static PyTypeObject SessionBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "framead.capture._evalframe.SessionBase",
    .tp_basicsize = sizeof(SessionObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)session_dealloc,
    .tp_traverse = (traverseproc)session_traverse,
    .tp_clear = (inquiry)session_clear,
    .tp_methods = session_methods,
    .tp_members = session_members,
    .tp_getset = session_getset,
    .tp_dictoffset = offsetof(SessionObject, dict),
    .tp_doc = "Base of capture.session.Session: signal-safe __enter__/__exit__.",
};

/* A nested session's recorder tracked its inputs before it started, into the outer
   session's set: they are not the outer's (after _after_enter retracked them). */
static PyObject *
m_forget_in_outer(PyObject *mod, PyObject *unused)
{
    if (tl_n_saved == 0 || T.tracked.table == NULL) {
        Py_RETURN_NONE;
    }
    ptrmap *outer = &tl_saved_maps[tl_n_saved - 1];
    for (size_t i = 0; i <= T.tracked.mask; i++) {
        const void *k = T.tracked.table[i].key;
        if (k != NULL) {
            ptrmap_remove(outer, k);
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
m_current_recorder(PyObject *mod, PyObject *unused)
{
    Py_ssize_t n = tl_recorders ? PyList_GET_SIZE(tl_recorders) : 0;
    return Py_NewRef(n > 0 ? PyList_GET_ITEM(tl_recorders, n - 1) : Py_None);
}

/* The callback of a shadow table's weak entries (capture/values.py): a freed array's entry
   (and, for a memory owner, its buffer) leaves the table unless the id already names a new
   object; while the table's session is active, the C traced set forgets the address (this
   thread's set when the table is its current recorder, else later: table._stale). `self` is
   a weak reference to the table. */
static PyObject *
reap_entry(PyObject *table_ref, PyObject *e)
{
    PyObject *table;
#if PY_VERSION_HEX >= 0x030D0000
    if (PyWeakref_GetRef(table_ref, &table) < 0) {
        return NULL;
    }
    if (table == NULL) {
        Py_RETURN_NONE;
    }
#else
    table = PyWeakref_GetObject(table_ref); /* (borrowed; None once gone) */
    if (table == NULL || table == Py_None) {
        return table == NULL ? NULL : Py_NewRef(Py_None);
    }
    Py_INCREF(table);
#endif
    PyObject *key = NULL, *entries = NULL, *buf = NULL, *buffers = NULL, *active = NULL;
    PyObject *stale = NULL, *res = NULL;
    if ((key = fk_attr(e, FK_WEAK, weak_entry_off[5], s_key)) == NULL ||
        (entries = PyObject_GetAttr(table, s_entries)) == NULL ||
        (buf = entry_buffer(e)) == NULL) {
        goto done;
    }
    PyObject *cur = PyDict_GetItemWithError(entries, key);
    if ((cur == NULL && PyErr_Occurred()) || (cur == e && PyDict_DelItem(entries, key) < 0)) {
        goto done;
    }
    if (buf != Py_None) {
        if ((buffers = PyObject_GetAttr(table, s_buffers)) == NULL) {
            goto done;
        }
        PyObject *b = PyDict_GetItemWithError(buffers, key);
        if ((b == NULL && PyErr_Occurred()) || (b == buf && PyDict_DelItem(buffers, key) < 0)) {
            goto done;
        }
    }
    if ((active = PyObject_GetAttr(table, s_active)) == NULL) {
        goto done;
    }
    int on = PyObject_IsTrue(active);
    if (on < 0) {
        goto done;
    }
    if (on) { /* the C probes must not take a new object at this address for the freed one */
        Py_ssize_t n = tl_recorders ? PyList_GET_SIZE(tl_recorders) : 0;
        if (n > 0 && PyList_GET_ITEM(tl_recorders, n - 1) == table) {
            void *p = PyLong_AsVoidPtr(key);
            if (p == NULL && PyErr_Occurred()) {
                goto done;
            }
            ptrmap_remove(&T.tracked, (PyObject *)p);
        }
        else if ((stale = PyObject_GetAttr(table, s_stale)) == NULL ||
                 PyList_Append(stale, key) < 0) {
            goto done; /* (freed in another thread, or under a nested session) */
        }
    }
    res = Py_NewRef(Py_None);
done:
    Py_DECREF(table);
    Py_XDECREF(key);
    Py_XDECREF(entries);
    Py_XDECREF(buf);
    Py_XDECREF(buffers);
    Py_XDECREF(active);
    Py_XDECREF(stale);
    return res;
}

static PyMethodDef reap_def = {"reap", (PyCFunction)reap_entry, METH_O,
                               "reap(entry): a freed array's weak entry leaves its table."};

/* make_reaper(weakref to a table): the callback of its weak entries (reap_entry). */
static PyObject *
m_make_reaper(PyObject *mod, PyObject *table_ref)
{
    if (!PyWeakref_CheckRef(table_ref)) {
        PyErr_SetString(PyExc_TypeError, "make_reaper(weakref.ref(table))");
        return NULL;
    }
    return PyCFunction_New(&reap_def, table_ref);
}

static PyObject *
m_guard_users(PyObject *mod, PyObject *unused)
{
    return PyLong_FromLong(guard_users);
}

/* gc.callbacks entry (capture.session puts it first in the list while any thread
   captures): frames the collecting thread starts during a collection (finalizers, the
   program's gc callbacks, "start" and "stop" alike) run natively: they never re-enter a
   recorder midway through a handler, and cached traces do not watch what they touch. In C:
   no Python code, so no signal can land in it. */
static PyObject *
m_gc_phase(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || !PyUnicode_Check(args[0]) || T.h_obj == NULL) {
        Py_RETURN_NONE;
    }
    if (PyUnicode_CompareWithASCIIString(args[0], "start") == 0) {
        T.in_gc = 1; /* until the collection is over (fa_eval asks the interpreter): no
                        "stop" callback needed, which another callback could make us miss */
        gc_untrack_nodes();
    }
    Py_RETURN_NONE;
}

static PyObject *
m_session_depth(PyObject *mod, PyObject *unused)
{
    return PyLong_FromSsize_t(tl_recorders ? PyList_GET_SIZE(tl_recorders) : 0);
}

/* Framead's derivative code made visible to this thread's capture (higher order):
   a counter per thread, changed by a C context manager for the same reason. */
static _Thread_local int tl_visible;

typedef struct {
    PyObject_HEAD
    int entered;
} VisibleObject;

static PyObject *
visible_enter(VisibleObject *v, PyObject *unused)
{
    tl_visible++;
    v->entered = 1;
    T.gen = ++generation;
    return Py_NewRef(v);
}

static PyObject *
visible_exit(VisibleObject *v, PyObject *args)
{
    if (v->entered) {
        tl_visible--;
        v->entered = 0;
        T.gen = ++generation;
    }
    Py_RETURN_FALSE;
}

static PyMethodDef visible_methods[] = {
    {"__enter__", (PyCFunction)visible_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)visible_exit, METH_VARARGS, NULL},
    {NULL},
};

static PyTypeObject Visible_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "framead.capture._evalframe.internals_visible",
    .tp_basicsize = sizeof(VisibleObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_methods = visible_methods,
    .tp_doc = "with internals_visible(): this thread's capture instruments framead's "
              "derivative code.",
};

static PyObject *
m_visible_depth(PyObject *mod, PyObject *unused)
{
    return PyLong_FromLong(tl_visible);
}

/* ------------------------------------------------------------------------ */
/* Module                                                                    */

/* call_native(fn, args, kwargs_or_None): fn(*args, **kwargs) with capture off
   for this thread and, inside a handler, the user's probing frame as the current
   frame: what fn sees of its caller (warnings' file:line, sys._getframe(1),
   logging, inspect) is the user's line, as in the native run. */
static PyObject *
call_seen_from_user(PyObject *const *args, Py_ssize_t nargs, int capture)
{
    if (nargs != 3 || !PyTuple_Check(args[1]) || (args[2] != Py_None && !PyDict_Check(args[2]))) {
        PyErr_SetString(PyExc_TypeError, "call_native(fn, args: tuple, kwargs: dict | None)");
        return NULL;
    }
    PyObject *kwargs = args[2] == Py_None ? NULL : args[2];
    int was_enabled = T.enabled;
    T.enabled = capture && was_enabled;
    PyThreadState *tstate = PyThreadState_Get();
    fa_frame *user = T.user_frame, *mine = NULL;
    if (user != NULL) {
        mine = fa_current_frame(tstate);
        fa_set_current_frame(tstate, user);
    }
    int resume_tracing = T.in_handler > 0 && tstate->tracing > 0;
    int in_handler = T.in_handler;
    if (resume_tracing) { /* the user's callee is traced and profiled as natively */
        T.in_handler = 0;
        PyThreadState_LeaveTracing(tstate);
    }
    PyObject *res = PyObject_Call(args[0], args[1], kwargs);
    if (resume_tracing) {
        PyThreadState_EnterTracing(tstate);
        T.in_handler = in_handler;
    }
    if (user != NULL) {
        fa_set_current_frame(tstate, mine);
    }
    T.enabled = was_enabled;
    return res;
}

static PyObject *
m_call_native(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return call_seen_from_user(args, nargs, 0);
}

/* call_as_user(fn, args, kwargs_or_None): the same with capture left as it is (a
   handler calling back into code that must stay instrumented). */
static PyObject *
m_call_as_user(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return call_seen_from_user(args, nargs, 1);
}

static PyMethodDef module_methods[] = {
    {"call_native", (PyCFunction)(void (*)(void))m_call_native, METH_FASTCALL,
     "call_native(fn, args, kwargs or None): call with capture off, seen from the user's "
     "frame."},
    {"call_as_user", (PyCFunction)(void (*)(void))m_call_as_user, METH_FASTCALL,
     "call_as_user(fn, args, kwargs or None): call seen from the user's frame, capture as "
     "it is."},
    {"current_recorder", m_current_recorder, METH_NOARGS,
     "current_recorder(): the recorder of this thread's innermost session, or None."},
    {"forget_in_outer", m_forget_in_outer, METH_NOARGS,
     "forget_in_outer(): drop this session's tracked objects from the outer session's set."},
    {"guard_users", m_guard_users, METH_NOARGS,
     "guard_users(): active sessions (all threads) whose recorders record guards."},
    {"gc_phase", (PyCFunction)(void (*)(void))m_gc_phase, METH_FASTCALL,
     "gc_phase(phase, info): a gc.callbacks entry; capture off while the GC collects."},
    {"session_depth", m_session_depth, METH_NOARGS, "session_depth(): active sessions, this thread."},
    {"visible_depth", m_visible_depth, METH_NOARGS,
     "visible_depth(): how many internals_visible() blocks this thread is in."},
    {"install", m_install, METH_O, "install(decide): set the PEP 523 hook (nesting-counted)."},
    {"uninstall", m_uninstall, METH_NOARGS, "uninstall(): undo one install()."},
    {"install_depth", m_install_depth, METH_NOARGS, "install_depth() -> int"},
    {"set_enabled", m_set_enabled, METH_O, "set_enabled(flag) -> previous (per thread)."},
    {"in_framead", m_in_framead, METH_NOARGS,
     "in_framead() -> bool: this thread runs decide() or a handler (not the program)."},
    {"is_enabled", m_is_enabled, METH_NOARGS, "is_enabled() -> bool (this thread)."},
    {"bump_generation", m_bump_generation, METH_NOARGS,
     "bump_generation(): invalidate every thread's cached decisions; returns the new "
     "generation."},
    {"bump_thread_generation", m_bump_thread_generation, METH_NOARGS,
     "bump_thread_generation(): invalidate this thread's cached decisions."},
    {"stats", m_stats, METH_NOARGS, "stats() -> dict of counters."},
    {"reset_stats", m_reset_stats, METH_NOARGS, "reset_stats(): zero the counters."},
    {"set_handlers", m_set_handlers, METH_O, "set_handlers(obj or None)."},
    {"where", m_where, METH_O,
     "where(frame or None) -> Where: the frame's location, resolved lazily (Where.loc)."},
    {"set_where_hooks", (PyCFunction)(void (*)(void))m_set_where_hooks, METH_FASTCALL,
     "set_where_hooks(is_framead_file, resolve): sourceloc's functions."},
    {"clear_where_cache", (PyCFunction)(void (*)(void))m_clear_where_cache, METH_FASTCALL,
     "clear_where_cache(files=False): forget the shared Where objects."},
    {"note_comparison", (PyCFunction)(void (*)(void))m_note_comparison, METH_FASTCALL,
     "note_comparison(recorder, at, dist): a traced comparison (capture/zero_trip.py)."},
    {"comparisons", m_comparisons, METH_O,
     "comparisons(recorder) -> [(at, dist)]: its recent traced comparisons, taken out."},
    {"set_fast_record", m_set_fast_record, METH_O,
     "set_fast_record(state or None): scalar binops recorded in C (capture/session.py)."},
    {"track", m_track, METH_O, "track(obj): add to the traced set (no reference kept)."},
    {"digest_words", m_digest_words, METH_O,
     "digest_words(data) -> int: capture/buffers.py content_digest over a C-contiguous "
     "buffer, in one pass."},
    {"protect_saved", (PyCFunction)(void (*)(void))m_protect_saved, METH_FASTCALL,
     "protect_saved(v, refs, kept, buffers, Buffer) -> bool: Recorder._protect of a Value "
     "(False: Python finishes it)."},
    {"prefault", m_prefault, METH_O,
     "prefault(buffer) -> bool: map a fresh writable buffer's pages in at once (Linux)."},
    {"make_reaper", m_make_reaper, METH_O,
     "make_reaper(weakref.ref(table)): the callback of the table's weak entries."},
    {"untrack", m_untrack, METH_O, "untrack(obj)."},
    {"untrack_address", m_untrack_address, METH_O,
     "untrack_address(id): untrack the object that had this id (never dereferenced)."},
    {"clear_tracked", m_clear_tracked, METH_NOARGS, "clear_tracked()."},
    {"is_tracked", m_is_tracked, METH_O, "is_tracked(obj) -> bool (follows ndarray bases)."},
    {"tracked_count", m_tracked_count, METH_NOARGS, "tracked_count() -> int."},
    {"set_ndarray_type", m_set_ndarray_type, METH_VARARGS,
     "set_ndarray_type(np.ndarray or None[, as_strided's DummyArray type])."},
    {"set_callable_flags", (PyCFunction)(void (*)(void))m_set_callable_flags, METH_FASTCALL,
     "set_callable_flags(obj, flags); flags 0 removes the entry."},
    {"get_callable_flags", m_get_callable_flags, METH_O, "get_callable_flags(obj) -> int."},
    {"set_text_store", (PyCFunction)(void (*)(void))m_set_text_store, METH_FASTCALL,
     "set_text_store(hook or None, proxy types): while a hook is set, text stored into a "
     "number array (or into an object of a proxy type) calls hook(a, k, v) first."},
    {"text_setitem", (PyCFunction)(void (*)(void))m_text_setitem, METH_FASTCALL,
     "text_setitem(a, k, v): a[k] = v, the set_text_store hook judging text first."},
    {"load_callable_flags", m_load_callable_flags, METH_O,
     "load_callable_flags([(callable, flags), ...]): replace the whole table at once."},
    {"clear_callable_flags", m_clear_callable_flags, METH_NOARGS, "clear_callable_flags()."},
    {"set_scan_config", (PyCFunction)(void (*)(void))m_set_scan_config, METH_FASTCALL,
     "set_scan_config(plain_class, identity_consumers, leaf_iterator_types): the deep "
     "argument scan of C callables without a rule."},
    {"scan_kind", m_scan_kind, METH_O,
     "scan_kind(obj) -> int: 0, or what the deep scan enters obj as (1 object of a Python "
     "class, 2 iterator, 3/4/5 dict keys/values/items view, 6 cell)."},
    {"members_traced", m_members_traced, METH_O,
     "members_traced(table) -> bool: a set, frozenset, deque, dict or dict view holds traced "
     "values among what `key in table` compares the key with (a list/tuple/dict inside "
     "looked into; past the scan budget: True)."},
    {"scan_mode", m_scan_mode, METH_O,
     "scan_mode(callable) -> int: how deep its arguments are scanned (1 lists, 2 objects "
     "and iterators inside, 4 deques and sequence-protocol objects)."},
    {"scan_inside", m_scan_inside, METH_O,
     "scan_inside(obj) -> bool: the deep scan of obj's state in C (True: traced or maybe)."},
    {"_install_foreign_for_test", m_install_foreign_for_test, METH_O,
     "test helper: install (True) / remove (False) a stand-in foreign PEP 523 evaluator."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    "framead.capture._evalframe",
    "PEP 523 hook, traced-object set, callable flags and C probes (CPython 3.11).",
    -1,
    module_methods,
};

/* Operator probes are not builtin functions: CPython's CALL makes c_call profiler
   events only for those, and the native `a + b` makes none. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyMethodDef *def;
} OpProbe;

static PyObject *
opprobe_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        PyErr_Format(PyExc_TypeError, "%s() takes no keyword arguments",
                     ((OpProbe *)self)->def->ml_name);
        return NULL;
    }
    _PyCFunctionFast fn = (_PyCFunctionFast)(void (*)(void))((OpProbe *)self)->def->ml_meth;
    return fn(self, args, PyVectorcall_NARGS(nargsf));
}

static PyObject *
opprobe_get_name(PyObject *self, void *closure)
{
    return PyUnicode_FromString(((OpProbe *)self)->def->ml_name);
}

static PyObject *
opprobe_repr(PyObject *self)
{
    return PyUnicode_FromFormat("<framead probe %s>", ((OpProbe *)self)->def->ml_name);
}

static PyGetSetDef opprobe_getset[] = {
    {"__name__", opprobe_get_name, NULL, NULL, NULL},
    {"__qualname__", opprobe_get_name, NULL, NULL, NULL},
    {NULL},
};

static PyTypeObject OpProbe_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "framead.capture._evalframe.OpProbe",
    .tp_basicsize = sizeof(OpProbe),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(OpProbe, vectorcall),
    .tp_repr = opprobe_repr,
    .tp_getset = opprobe_getset,
    .tp_doc = "A framead operator probe (inserted by the bytecode rewriter).",
};

static PyObject *
new_opprobe(PyMethodDef *def)
{
    OpProbe *p = PyObject_New(OpProbe, &OpProbe_Type);
    if (p != NULL) {
        p->vectorcall = opprobe_vectorcall;
        p->def = def;
    }
    return (PyObject *)p;
}

static PyObject *
make_probe_tuple(PyMethodDef *defs, int n, PyObject *modname)
{
    PyObject *t = PyTuple_New(n);
    if (t == NULL) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        PyObject *f = new_opprobe(&defs[i]);
        if (f == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, f);
    }
    return t;
}

static int
add_probe(PyObject *m, const char *attr, PyMethodDef *def, PyObject *modname)
{
    PyObject *f = new_opprobe(def);
    if (f == NULL) {
        return -1;
    }
    int r = PyModule_AddObjectRef(m, attr, f);
    Py_DECREF(f);
    return r;
}

PyMODINIT_FUNC
PyInit__evalframe(void)
{
    if (extra_index < 0) {
        extra_index = fa_request_code_extra_index(fa_extra_free);
        if (extra_index < 0) {
            PyErr_SetString(PyExc_RuntimeError, "no co_extra index left");
            return NULL;
        }
    }
    if (method_wrapper_type == NULL) {
        PyObject *w = PyObject_GetAttrString(Py_None, "__repr__");
        if (w == NULL) {
            return NULL;
        }
        method_wrapper_type = Py_TYPE(w); /* a static type: no reference needed */
        Py_DECREF(w);
    }
    if (PyType_Ready(&CallProbe_Type) < 0 || PyType_Ready(&OpProbe_Type) < 0 ||
        PyType_Ready(&SessionBase_Type) < 0 ||
        PyType_Ready(&Visible_Type) < 0 || PyType_Ready(&Where_Type) < 0 ||
        PyType_Ready(&Rows_Type) < 0) {
        return NULL;
    }
    const char *pi = Py_GETENV("FRAMEAD_PROFILE_INTERNALS");
    profile_internals = pi != NULL && pi[0] != '\0' && strcmp(pi, "0") != 0;
    s_prepare = PyUnicode_InternFromString("_prepare");
    s_after_enter = PyUnicode_InternFromString("_after_enter");
    s_after_exit = PyUnicode_InternFromString("_after_exit");
    s_decide = PyUnicode_InternFromString("_decide");
    if (!s_prepare || !s_after_enter || !s_after_exit || !s_decide) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) {
        return NULL;
    }
    PyObject *modname = PyUnicode_FromString("framead.capture._evalframe");
    if (modname == NULL) {
        goto fail;
    }
    if (fv_init(m) < 0) {
        goto fail;
    }
    for (int i = 0; i < 26; i++) {
        small_ints[i] = PyLong_FromLong(i);
        if (small_ints[i] == NULL) {
            goto fail;
        }
    }
    str_neg = PyUnicode_InternFromString("neg");
    str_pos = PyUnicode_InternFromString("pos");
    str_invert = PyUnicode_InternFromString("invert");
    empty_tuple = PyTuple_New(0);
    empty_frozenset = PyFrozenSet_New(NULL); /* (the setitem nodes' saves: one object) */
    s_guards = PyUnicode_InternFromString("guards");
    s_entries = PyUnicode_InternFromString("entries");
    s_nodes = PyUnicode_InternFromString("nodes");
    s_next_id = PyUnicode_InternFromString("_next_id");
    s_obj = PyUnicode_InternFromString("obj");
    s_value = PyUnicode_InternFromString("value");
    s_buffer = PyUnicode_InternFromString("buffer");
    s_version = PyUnicode_InternFromString("version");
    s_shape = PyUnicode_InternFromString("shape");
    s_buffers = PyUnicode_InternFromString("buffers");
    s_root = PyUnicode_InternFromString("root");
    s_getitem_kind = PyUnicode_InternFromString("getitem");
    s_save_all = PyUnicode_InternFromString("save_all");
    s_key = PyUnicode_InternFromString("key");
    s_active = PyUnicode_InternFromString("active");
    s_stale = PyUnicode_InternFromString("_stale");
    s_refs = PyUnicode_InternFromString("_refs");
    s_refs_sweep = PyUnicode_InternFromString("_refs_sweep");
    s_kept = PyUnicode_InternFromString("_kept");
    s_saved = PyUnicode_InternFromString("saved");
    s_id = PyUnicode_InternFromString("id");
    s_first_comparison = PyUnicode_InternFromString("first_comparison");
    s_axis = PyUnicode_InternFromString("axis");
    protocol_names[0] = PyUnicode_InternFromString("__array__");
    protocol_names[1] = PyUnicode_InternFromString("__array_interface__");
    protocol_names[2] = PyUnicode_InternFromString("__array_struct__");
    protocol_names[3] = PyUnicode_InternFromString("__float__");
    protocol_names[4] = PyUnicode_InternFromString("__complex__");
    s_parent = PyUnicode_InternFromString("parent");
    s_recipe = PyUnicode_InternFromString("recipe");
    kwnames_axis = PyTuple_Pack(1, s_axis);
    if (!empty_tuple || !s_guards || !s_entries || !s_nodes || !s_next_id || !s_obj || !s_value ||
        !s_buffer || !s_version || !s_shape || !s_buffers || !s_root || !s_refs || !s_kept ||
        !s_getitem_kind || !s_save_all || !s_key || !s_active || !s_stale ||
        !s_refs_sweep || !s_saved || !s_id || !s_first_comparison || !s_axis || !kwnames_axis ||
        !s_parent || !s_recipe) {
        goto fail;
    }
    star_kwnames1 = Py_BuildValue("(s)", "__framead_star__");
    star_kwnames2 = Py_BuildValue("(ss)", "__framead_star__", "__framead_dstar__");
    decide_stack = PyList_New(0);
    flag_refs = PyList_New(0);
    framead_file_refs = PyList_New(0);
    if (!framead_file_refs ||
        !str_neg || !str_pos || !str_invert || !star_kwnames1 || !star_kwnames2 || !decide_stack ||
        !flag_refs) {
        goto fail;
    }
    for (int i = 0; i < 2; i++) {
        PyObject *t = i ? star_kwnames2 : star_kwnames1;
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(t); j++) {
            PyUnicode_InternInPlace(&((PyTupleObject *)t)->ob_item[j]);
        }
    }

    PyObject *binop = make_probe_tuple(binop_defs, 26, modname);
    if (binop == NULL || PyModule_AddObject(m, "BINOP", binop) < 0) {
        Py_XDECREF(binop);
        goto fail;
    }
    PyObject *compare = make_probe_tuple(compare_defs, 6, modname);
    if (compare == NULL || PyModule_AddObject(m, "COMPARE", compare) < 0) {
        Py_XDECREF(compare);
        goto fail;
    }
    PyObject *contains = make_probe_tuple(contains_defs, 2, modname);
    if (contains == NULL || PyModule_AddObject(m, "CONTAINS", contains) < 0) {
        Py_XDECREF(contains);
        goto fail;
    }
    if (op_contains_fn == NULL) {
        PyObject *op = PyImport_ImportModule("operator");
        op_contains_fn = op != NULL ? PyObject_GetAttrString(op, "contains") : NULL;
        Py_XDECREF(op);
        if (op_contains_fn == NULL) {
            goto fail;
        }
    }
    if (deque_type == NULL) {
        PyObject *col = PyImport_ImportModule("collections");
        PyObject *dq = col != NULL ? PyObject_GetAttrString(col, "deque") : NULL;
        Py_XDECREF(col);
        if (dq == NULL || !PyType_Check(dq)) {
            Py_XDECREF(dq);
            goto fail;
        }
        deque_type = (PyTypeObject *)dq;
    }
    if (add_probe(m, "unary_negative", &unary_defs[0], modname) < 0 ||
        add_probe(m, "unary_positive", &unary_defs[1], modname) < 0 ||
        add_probe(m, "unary_invert", &unary_defs[2], modname) < 0 ||
        add_probe(m, "getitem", &misc_defs[0], modname) < 0 ||
        add_probe(m, "setitem", &misc_defs[1], modname) < 0 ||
        add_probe(m, "getattr", &misc_defs[2], modname) < 0 ||
        add_probe(m, "getiter", &misc_defs[3], modname) < 0 ||
        add_probe(m, "unpack", &misc_defs[4], modname) < 0 ||
        add_probe(m, "dict_merge", &misc_defs[5], modname) < 0 ||
        add_probe(m, "dict_update", &misc_defs[6], modname) < 0) {
        goto fail;
    }
    CallProbe *call = PyObject_New(CallProbe, &CallProbe_Type);
    if (call == NULL) {
        goto fail;
    }
    call->vectorcall = call_vectorcall;
    if (PyModule_AddObject(m, "call", (PyObject *)call) < 0) {
        Py_DECREF(call);
        goto fail;
    }
    if (PyModule_AddObjectRef(m, "SessionBase", (PyObject *)&SessionBase_Type) < 0 ||
        PyModule_AddObjectRef(m, "internals_visible", (PyObject *)&Visible_Type) < 0 ||
        PyModule_AddObjectRef(m, "Rows", (PyObject *)&Rows_Type) < 0 ||
        PyModule_AddObjectRef(m, "Where", (PyObject *)&Where_Type) < 0 ||
        PyModule_AddObjectRef(m, "STAR_KWNAMES1", star_kwnames1) < 0 ||
        PyModule_AddObjectRef(m, "STAR_KWNAMES2", star_kwnames2) < 0 ||
        PyModule_AddIntConstant(m, "RULE", FA_RULE) < 0 ||
        PyModule_AddIntConstant(m, "ALWAYS", FA_ALWAYS) < 0 ||
        PyModule_AddIntConstant(m, "NATIVE", FA_NATIVE) < 0 ||
        PyModule_AddIntConstant(m, "SCAN", FA_SCAN) < 0 ||
        PyModule_AddStringConstant(m, "FOREIGN_EVALUATOR_MESSAGE", FA_FOREIGN_MSG) < 0) {
        goto fail;
    }
    Py_DECREF(modname);
    return m;

fail:
    Py_XDECREF(modname);
    Py_DECREF(m);
    return NULL;
}
