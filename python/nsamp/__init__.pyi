"""Type stubs of nsamp's Python package (the native module ``nsamp._nsamp``, re-exported)."""

from typing import Any, List, Optional, Tuple, TypedDict

import numpy as np
import numpy.typing as npt

__version__: str

class Component(TypedDict):
    """One registered component, as ``nsamp list`` shows it."""

    kind: str
    """The family: ``"target"``, ``"model"``, ``"objective"``, ``"sampler"``, ``"corrector"`` or ``"metric"``."""
    name: str
    """The registered name a recipe uses, e.g. ``"Gmm40"``."""
    doc: str
    """One-line description."""
    fields: List[str]
    """The config's field names, in declaration order."""
    example: str
    """The commented RON example, every field at its default (``nsamp list --full``)."""

class Target:
    """A registered nsamp target: an unnormalised density p(x) = exp(-E(x)) / Z.

    Built from a RON component string through nsamp's registry, exactly as a recipe's
    ``target: ...`` is built (CPU energies), e.g. ``Target("Gmm40()")``,
    ``Target("Gmm40(std: 2.0)")``, ``Target("Lj13()")``. A string that does not parse or names no
    registered target raises ``ValueError`` with nsamp's message (which lists the known names).

    Inputs ``x`` of ``energy`` and ``energy_and_grad`` may be anything numpy accepts: a numpy
    array of any float or int dtype, C-contiguous or not, nested lists, or any object with
    ``__array__`` (a CPU torch tensor without grad). They are converted with
    ``numpy.asarray(x, dtype=numpy.float64)`` semantics, then to float32 rows, which is what nsamp's
    energies compute in; results come back as float64 arrays (holding float32-precision values).
    ``x`` must have shape ``(n, dim)``; any other shape raises ``ValueError``. The GIL is released
    while the energies are computed.
    """

    def __init__(self, spec: str) -> None:
        """Builds the target named by the RON component string ``spec`` (``ValueError`` if bad)."""
    @property
    def name(self) -> str:
        """The registered name, e.g. ``"Gmm40"``."""
    @property
    def spec(self) -> str:
        """The RON string the target was built from."""
    @property
    def dim(self) -> int:
        """Dimension of one configuration (GMM-40: 2, DW-4: 8, LJ-13: 39)."""
    @property
    def particles(self) -> Optional[Tuple[int, int]]:
        """``(n_particles, spatial_dim)`` for particle targets (DW-4: ``(4, 2)``), else ``None``.

        A configuration is stored row-major ``[x0, y0, (z0), x1, ...]``."""
    @property
    def log_z(self) -> Optional[float]:
        """log Z where known exactly (mixtures: 0.0, they are normalised), else ``None``."""
    @property
    def has_exact_sampler(self) -> bool:
        """Whether ``sample`` works (the target has an exact sampler: the mixtures)."""
    def energy(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """E(x) for each row of ``x`` (shape ``(n, dim)``): a float64 array of shape ``(n,)``."""
    def energy_and_grad(
        self, x: npt.ArrayLike
    ) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(E, grad)``: E(x) of shape ``(n,)`` and grad_x E(x) of shape ``(n, dim)``, float64."""
    def sample(self, n: int, seed: int = 0) -> npt.NDArray[np.float64]:
        """``n`` exact independent samples, shape ``(n, dim)``.

        Drawn from the random stream that nsamp's exact reference set uses for ``seed``.
        Raises ``ValueError`` if the target has no exact sampler."""
    def __repr__(self) -> str: ...

def components() -> List[Component]:
    """Every registered component (targets, models, objectives, samplers, correctors, metrics),
    grouped by family then sorted by name, as ``nsamp list`` shows them."""
