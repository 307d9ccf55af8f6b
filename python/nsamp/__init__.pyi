"""Type stubs of nsamp's Python package (the native module ``nsamp._nsamp``, re-exported)."""

import os
from typing import Any, Dict, List, Mapping, Optional, Tuple, TypedDict, Union

import numpy as np
import numpy.typing as npt

from . import metrics as metrics
from .runs import load_run as load_run

RecipeSource = Union[str, "os.PathLike[str]"]
"""A recipe: a path to a ``.ron`` file, or the recipe's RON text."""
Overrides = Mapping[str, Union[str, bool, int, float]]
"""``--set`` overrides: ``{"train.steps": 100, "target": "Gmm40(std: 2.0)"}`` (str values are RON
text; bools and numbers are written as RON)."""

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

def reference(
    source: Union[Target, str, "os.PathLike[str]"],
    n: Optional[int] = None,
    seed: Optional[int] = None,
    sampler: Optional[str] = None,
    overrides: Optional[Overrides] = None,
) -> Tuple[npt.NDArray[np.float64], Dict[str, Any]]:
    """A reference set and its provenance dict.

    ``source`` is a :class:`Target` (or its RON string) or a recipe. For a recipe, its
    ``eval.reference``: exact samples (``n`` defaults to ``eval.samples``), a file, or an MCMC set
    drawn once and cached (``n`` and ``sampler`` replace the recipe's). For a target: exact samples
    where it has an exact sampler, else ``sampler`` (default ``"Mala()"``) drawn once and cached
    (``n`` defaults to 10,000). ``seed`` defaults to the recipe's ``eval.reference_seed`` (0 for a
    target). MCMC sets live in nsamp's cache (``NSAMP_CACHE``, else ``~/.cache/nsamp``).

    The provenance has ``kind`` (``"exact"``, ``"file"`` or ``"mcmc"``) and ``description``; an
    exact set its target, n, dim and seed; an MCMC set nsamp's version, the target and sampler
    configs, n, dim, seed, the sampler's report (acceptance, tau, ESS, energy mean +- error), the
    energy evaluations, the seconds it took, when it was drawn and its cache file."""

def evaluate(
    recipe: RecipeSource,
    samples: npt.ArrayLike,
    overrides: Optional[Overrides] = None,
    reference: Optional["os.PathLike[str] | str"] = None,
) -> Dict[str, Any]:
    """Scores ``samples`` under the recipe's evaluation protocol (reference, metrics, floor) as a
    run does (the first ``eval.samples`` rows; the nsamp-protocol TVDs the first
    ``eval.tvd_samples`` rows): the dict ``nsamp eval RECIPE --samples FILE --json`` prints
    (``samples``, ``metrics``, ``exact_floor``, ``split_half_floor``, ``n_samples``,
    ``n_reference``, ``tvd_samples``, ``tvd_reference``, ``reference``), with ``samples`` set to
    ``"<array>"``. ``reference`` replaces the recipe's reference with an ``.npy`` file."""

def run(
    recipe: RecipeSource,
    overrides: Optional[Overrides] = None,
    out: Optional["os.PathLike[str] | str"] = None,
    threads: Optional[int] = None,
    progress: bool = True,
) -> Dict[str, Any]:
    """Trains, samples and evaluates ``recipe`` into the run directory ``out`` (default
    ``runs/<name>``), exactly as ``nsamp run`` does, and returns the report (``metrics.json``'s
    content plus ``run_dir``). The GIL is released while it runs; progress goes to
    ``sys.stderr`` (a terminal or a notebook) unless ``progress=False``. Ctrl-C stops training at
    the next step with a checkpoint and raises ``KeyboardInterrupt`` (:func:`resume` goes on).
    ``threads`` sizes nsamp's worker pool, which a process builds once (a warning says so if it
    already has another size). Bad recipes raise ``ValueError``; a failed run ``RuntimeError``
    (its run directory keeps the log and the last checkpoint)."""

def resume(
    run_dir: "os.PathLike[str] | str", threads: Optional[int] = None, progress: bool = True
) -> Dict[str, Any]:
    """Goes on from the last checkpoint of an interrupted run, as ``nsamp resume``; the report as
    :func:`run` returns it."""

def set_threads(threads: int) -> int:
    """Sets the size of nsamp's worker pool (energies, metrics, training; default: one thread per
    core, or what a run's recipe or threads= asks at the first use) and returns the size in use. The pool is built
    once per process, so call this before anything else; a warning says if it was too late."""
