"""Build the C extension framead.capture._evalframe (needs numpy's headers)."""

import numpy
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "framead.capture._evalframe",
            sources=["capture/_evalframe.c"],
            include_dirs=["capture", numpy.get_include()],
            depends=["capture/frame311.h", "capture/ptrmap.h"],
            extra_compile_args=["-std=gnu11", "-O2", "-Wall", "-Wno-unused-function"],
        )
    ]
)
