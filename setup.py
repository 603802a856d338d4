"""Build the C extensions framead.capture._evalframe and framead.capture._scalar_tape (both
need numpy's headers).

The hook reads CPython's private frame structures, so it is built for the interpreter versions
that have a frame header (capture/frame3XX.h) and an opcode table (capture/opcodes3XX.py); any
other version, and the free-threaded build, is refused here with the list of what is supported
(docs/internals.md, section 1a).
"""

import sys
import sysconfig

import numpy
from setuptools import Extension, setup

SUPPORTED = ((3, 11), (3, 12), (3, 13))

_here = sys.version.split()[0]
_supported = ", ".join(f"{a}.{b}" for a, b in SUPPORTED)
if sys.version_info[:2] not in SUPPORTED:
    raise SystemExit(
        f"framead supports CPython {_supported}; this is {_here}. A new version needs a frame "
        "header (capture/frame3XX.h) and an opcode table (capture/opcodes3XX.py): see "
        "docs/internals.md, section 1a.")
if sysconfig.get_config_var("Py_GIL_DISABLED"):
    raise SystemExit(
        f"framead does not support the free-threaded build of CPython ({_here}, "
        f"Py_GIL_DISABLED): its capture state relies on the GIL. Use the default build of "
        f"CPython {_supported}.")
if sys.implementation.name != "cpython":
    raise SystemExit(f"framead needs CPython {_supported}; this is {sys.implementation.name}.")

HEADERS = ["capture/frame_common.h", "capture/frame311.h", "capture/frame312.h",
           "capture/frame313.h", "capture/frameview.h", "capture/ptrmap.h"]

setup(
    ext_modules=[
        Extension(
            "framead.capture._evalframe",
            sources=["capture/_evalframe.c"],
            include_dirs=["capture", numpy.get_include()],
            depends=HEADERS,
            extra_compile_args=["-std=gnu11", "-O2", "-Wall", "-Wno-unused-function"],
        ),
        # the reverse pass of real scalar nodes (framead/reverse.py); -ffp-contract=off: no
        # fused multiply-add, so its arithmetic rounds as Python's does, bit for bit
        Extension(
            "framead.capture._scalar_tape",
            sources=["capture/_scalar_tape.c"],
            include_dirs=[numpy.get_include()],
            libraries=["m"],
            extra_compile_args=["-std=gnu11", "-O2", "-Wall", "-ffp-contract=off",
                                "-fno-fast-math"],
        ),
    ]
)
