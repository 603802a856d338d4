"""Programs run only by the fresh-interpreter test (test_classic_corpus.py::
test_first_import_under_capture): their imports must happen for the first time inside a
capture. Kept out of the main corpus so the test process does not load torch."""

from registry import scalar


def torch_imported_inside(x):
    """Legacy code that imports torch (to check for a GPU, say) and then computes in
    plain Python."""
    import math

    import torch

    scale = 2.0 if torch.cuda.is_available() else 1.0
    return math.sin(x) * scale + x * x


LAZY_CASES = [("torch_imported_inside", torch_imported_inside, scalar(0.2, 2.0))]
