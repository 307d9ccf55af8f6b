"""nsamp's metrics on numpy arrays, each under a named evaluation protocol.

Every function takes the target (an :class:`nsamp.Target` or its RON string), the samples and the
reference set (array-likes of shape ``(n, dim)``), and ``protocol``:

- ``"nsamp"``: nsamp's strict definitions (the figures ``nsamp run`` prints by default);
- ``"community"``: the definitions of the DEM evaluation code (jarridrb/DEM), which the GMM,
  DW-4 and LJ tables of the DEM, IW-SM and DiKL papers were computed with, number for number.

Particle configurations are compared centre-of-mass free, as in a run. The figures are the ones
``nsamp eval`` reports under the same names (README, "Metrics").
"""

from typing import Any, Dict

from . import _nsamp

PROTOCOLS = ("nsamp", "community")


def _spec(name: str, protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}: use one of {PROTOCOLS}")
    # W1 and W2 have one definition: at equal sizes POT's exact emd2, which the community code
    # calls, is the optimal assignment nsamp computes.
    if protocol == "nsamp" or name in ("W1", "W2"):
        return f"{name}()"
    return f"{name}(protocol: Community)"


def metric(spec: str, target: Any, samples: Any, reference: Any) -> Dict[str, float]:
    """Any registered metric by its RON string (``"W2()"``, ``"Mmd(biased: false)"``, ...):
    a dict of the figures it reports."""
    return _nsamp.metric(spec, target, samples, reference)


def _one(name: str, target: Any, samples: Any, reference: Any, protocol: str) -> float:
    figures = _nsamp.metric(_spec(name, protocol), target, samples, reference)
    (value,) = figures.values()
    return value


def w1(target: Any, samples: Any, reference: Any, protocol: str = "nsamp") -> float:
    """Exact 1-Wasserstein distance between the two equal-size sets (Euclidean cost, optimal
    assignment), in data units. Both protocols: the community's POT ``emd2`` at equal sizes is the
    same optimum."""
    return _one("W1", target, samples, reference, protocol)


def w2(target: Any, samples: Any, reference: Any, protocol: str = "nsamp") -> float:
    """Exact 2-Wasserstein distance: sqrt of the mean squared cost of the optimal assignment (both
    protocols, as :func:`w1`)."""
    return _one("W2", target, samples, reference, protocol)


def energy_tvd(target: Any, samples: Any, reference: Any, protocol: str = "nsamp") -> float:
    """Total variation between the energy histograms of samples and reference (``"nsamp"``: edges
    from the reference with under/overflow bins; ``"community"``: 200 equal bins over the
    reference's range, samples outside it dropped, as DiKL's evaluation)."""
    return _one("ETvd", target, samples, reference, protocol)


def distance_tvd(target: Any, samples: Any, reference: Any, protocol: str = "nsamp") -> float:
    """Total variation between the histograms of all interparticle distances (particle
    targets; ``"community"``: DEM's ``dist_total_var``, 200 bins, out-of-range dropped)."""
    return _one("DTvd", target, samples, reference, protocol)


def energy_w2(target: Any, samples: Any, reference: Any, protocol: str = "nsamp") -> float:
    """1-D W2 between the samples' and the reference's energies (``"community"``: DEM's
    ``energy_w2``, which is the *squared* W2)."""
    return _one("EnergyW2", target, samples, reference, protocol)


def distance_w2(target: Any, samples: Any, reference: Any, protocol: str = "nsamp") -> float:
    """1-D W2 between the pooled interparticle distances (particle targets; ``"community"``: DEM's
    ``dist_w2``, the squared W2)."""
    return _one("DistanceW2", target, samples, reference, protocol)


def mmd(target: Any, samples: Any, reference: Any) -> Dict[str, float]:
    """Squared MMD as DEM's evaluation code computes it: ``MMD_linear``, ``MMD_poly`` (linear-time,
    consecutive rows) and ``MMD_rbf`` (mixture of RBF kernels, bandwidths 0.01 to 100). There is one
    definition, the community's, so no ``protocol``."""
    return _nsamp.metric("Mmd()", target, samples, reference)


def mode_coverage(target: Any, samples: Any, reference: Any) -> Dict[str, float]:
    """For mixture targets: the share of components holding at least their share of samples, the
    number of modes covered, the occupancy TVD to the weights and the share between modes."""
    return _nsamp.metric("ModeCoverage()", target, samples, reference)


def equivariant_w2(target: Any, samples: Any, reference: Any, protocol: str = "nsamp") -> float:
    """For particle targets: W2 with each pair's cost minimised over particle permutations and
    rotations and reflections, centred (``"community"``: DEM's ``Eq-EMD2``: Hungarian matching on
    particle distances, then a Kabsch rotation, per pair; the mean aligned distance)."""
    return _one("EqW2", target, samples, reference, protocol)


__all__ = [
    "PROTOCOLS",
    "metric",
    "w1",
    "w2",
    "energy_tvd",
    "distance_tvd",
    "energy_w2",
    "distance_w2",
    "mmd",
    "mode_coverage",
    "equivariant_w2",
]
