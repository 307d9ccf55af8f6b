"""nsamp from Python: nsamp's targets, reference sets, metrics and runs on numpy arrays.

The work is done by the Rust library (the native module ``nsamp._nsamp``); this package
re-exports it. See ``python/README.md``.
"""

from ._nsamp import Target, components, evaluate, reference, run, resume, set_threads, __version__
from . import metrics
from .runs import load_run

__all__ = [
    "Target",
    "components",
    "evaluate",
    "reference",
    "run",
    "resume",
    "set_threads",
    "load_run",
    "metrics",
    "__version__",
]
