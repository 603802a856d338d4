"""framead.capture: PEP 523 hook, bytecode rewriter, probes, recorder.

How Python becomes IR, top to bottom (each module imports only those below it):

* ``session``: the hook's per-code decision and ``Session`` (C flags, gc, nesting);
  ``eager``/``eager_tracer``: the ``@framead.eager`` fallback.
* ``recorder``: ``Recorder``, assembled from ``handlers`` (the probes' entry points),
  ``mutation`` (writes: copy-on-write, ``write_back``) and ``values`` (the shadow table).
* ``calls``: dispatch of a traced call, in the order ``call_kinds`` states with its table;
  ``protocols``, ``special_forms``, ``writers`` and ``unruled`` handle its kinds (and call
  back through ``Recorder.dispatch``).
* leaves: ``callables``, ``operators``, ``guards``, ``native``, ``saves``,
  ``primitive_rules``, ``buffers``, ``overrides``, ``hazards``, ``sourceloc``; the rewriter
  (``rewriter``, ``opcodes311``) and the C hook ``_evalframe``.
"""
