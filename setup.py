"""Build the C extension framead.capture._evalframe (needs numpy's headers)."""

import sys

import numpy
from setuptools import Extension, setup

if sys.version_info[:2] != (3, 11):
    raise SystemExit(
        f"framead's capture is written for CPython 3.11 (capture/frame311.h, "
        f"capture/opcodes311.py); this is {sys.version.split()[0]}. Support for 3.12/3.13 "
        "means adding frame312.h/opcodes312.py beside them.")

setup(
    ext_modules=[
        Extension(
            "framead.capture._evalframe",
            sources=["capture/_evalframe.c"],
            include_dirs=["capture", numpy.get_include()],
            depends=["capture/frame311.h", "capture/frameview311.h", "capture/ptrmap.h"],
            extra_compile_args=["-std=gnu11", "-O2", "-Wall", "-Wno-unused-function"],
        )
    ]
)
