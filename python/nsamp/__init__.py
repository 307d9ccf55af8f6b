"""nsamp from Python: nsamp's targets (GMM-40, DW-4, LJ-13/55, phi^4, ...) on numpy arrays.

The work is done by the Rust library (the native module ``nsamp._nsamp``); this package
re-exports it. See ``python/README.md`` for what exists so far.
"""

from ._nsamp import Target, components, __version__

__all__ = ["Target", "components", "__version__"]
