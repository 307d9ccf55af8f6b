"""nsamp.Target from Python: GMM-40 energies and gradients against numpy, input handling, errors."""

import numpy as np
import pytest

import nsamp

# The 40 means of the standard GMM-40 benchmark (plugins/gmm/src/presets.rs, GMM40_MEANS).
GMM40_MEANS = np.array(
    [
        [-0.299473, 21.457745], [-32.921806, -29.437561], [-15.406175, 10.726295],
        [-0.792527, 31.715580], [-3.549762, 10.584502], [-12.088523, -7.862616],
        [-38.213940, -26.491283], [-16.488924, 1.481743], [15.813408, 24.000912],
        [-27.117643, -17.418514], [14.528685, 33.215519], [-8.232007, 29.932470],
        [-6.447334, 4.232564], [36.219048, -37.106815], [-25.181519, -10.126610],
        [-15.591998, 34.560032], [-25.927185, -18.413315], [-27.945618, -37.462440],
        [-23.349619, 34.383923], [17.848736, 19.386902], [2.103662, -20.507339],
        [6.767387, -37.347790], [-28.902649, -20.621201], [25.237518, 23.452850],
        [-17.739801, -1.443295], [25.582428, 39.765324], [15.875287, 5.403714],
        [26.819454, -23.552094], [7.453761, -31.012220], [-27.723446, -20.663342],
        [18.098923, 16.086416], [-23.694099, 12.084284], [21.958881, -5.048695],
        [1.527262, 9.268188], [24.815063, 38.407764], [-30.824944, -14.658790],
        [15.720396, 33.141975], [34.808292, 35.294270], [7.960582, -34.783306],
        [3.679700, -25.024214],
    ],
    dtype=np.float64,
)
# Per-axis standard deviation softplus(1) = log(1 + e); equal weights 1/40.
GMM40_STD = np.log1p(np.e)


def gmm40_energy_and_grad(x):
    """E(x) = -log sum_k (1/40) N(x; mu_k, std^2 I) and its gradient, in float64."""
    x = np.asarray(x, dtype=np.float64)
    diff = x[:, None, :] - GMM40_MEANS[None, :, :]  # (n, K, 2)
    d = x.shape[1]
    logc = (
        -0.5 * np.sum(diff**2, axis=-1) / GMM40_STD**2
        - d * np.log(GMM40_STD)
        - 0.5 * d * np.log(2 * np.pi)
        - np.log(len(GMM40_MEANS))
    )  # (n, K)
    m = logc.max(axis=1, keepdims=True)
    w = np.exp(logc - m)
    s = w.sum(axis=1, keepdims=True)
    energy = -(m[:, 0] + np.log(s[:, 0]))
    resp = w / s  # posterior responsibilities
    grad = np.einsum("nk,nkd->nd", resp, diff) / GMM40_STD**2
    return energy, grad


@pytest.fixture(scope="module")
def gmm():
    return nsamp.Target("Gmm40()")


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(0)
    near = GMM40_MEANS[rng.integers(0, 40, 300)] + GMM40_STD * rng.standard_normal((300, 2))
    wide = rng.uniform(-50.0, 50.0, (300, 2))
    return np.concatenate([near, wide, [[0.0, 0.0]]])


def test_metadata(gmm):
    assert gmm.name == "Gmm40"
    assert gmm.dim == 2
    assert gmm.particles is None
    assert gmm.log_z == 0.0
    assert gmm.has_exact_sampler
    assert "Gmm40" in repr(gmm)


def test_energy_matches_numpy(gmm, points):
    e = gmm.energy(points)
    assert isinstance(e, np.ndarray) and e.dtype == np.float64 and e.shape == (len(points),)
    ref, _ = gmm40_energy_and_grad(points)
    np.testing.assert_allclose(e, ref, rtol=1e-4, atol=1e-4)


def test_energy_and_grad_matches_numpy(gmm, points):
    e, g = gmm.energy_and_grad(points)
    assert e.shape == (len(points),) and g.shape == (len(points), 2)
    assert e.dtype == np.float64 and g.dtype == np.float64
    ref_e, ref_g = gmm40_energy_and_grad(points)
    np.testing.assert_allclose(e, ref_e, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(g, ref_g, rtol=1e-3, atol=1e-3)
    # energy() and energy_and_grad() agree exactly.
    np.testing.assert_array_equal(gmm.energy(points), e)


def test_gradient_finite_differences(gmm, points):
    x = points[::10]
    _, g = gmm.energy_and_grad(x)
    h = 1e-2
    fd = np.empty_like(x)
    for j in range(x.shape[1]):
        step = np.zeros_like(x)
        step[:, j] = h
        fd[:, j] = (gmm.energy(x + step) - gmm.energy(x - step)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-2, atol=2e-2)


def test_float32_float64_lists_and_array_like(gmm, points):
    x32 = points.astype(np.float32)
    e32 = gmm.energy(x32)
    # The target computes in float32: float64 input rounded to float32 gives the same bits.
    np.testing.assert_array_equal(gmm.energy(x32.astype(np.float64)), e32)
    np.testing.assert_array_equal(gmm.energy(x32.tolist()), e32)

    class ArrayLike:  # anything with __array__ (e.g. a CPU torch tensor)
        def __init__(self, a):
            self.a = a

        def __array__(self, dtype=None, copy=None):
            return self.a if dtype is None else self.a.astype(dtype)

    np.testing.assert_array_equal(gmm.energy(ArrayLike(x32)), e32)
    e, g = gmm.energy_and_grad(ArrayLike(x32))
    np.testing.assert_array_equal(e, e32)
    assert gmm.energy(np.zeros((3, 2), dtype=np.int64)).shape == (3,)


def test_non_contiguous_input(gmm, points):
    ref = gmm.energy(np.ascontiguousarray(points))
    fortran = np.asfortranarray(points)
    assert not fortran.flags.c_contiguous
    np.testing.assert_array_equal(gmm.energy(fortran), ref)
    transposed = np.ascontiguousarray(points.T).T  # (n, 2) view with strides (8, 8n)
    assert not transposed.flags.c_contiguous
    np.testing.assert_array_equal(gmm.energy(transposed), ref)
    strided = np.repeat(points, 2, axis=0)[::2]  # every other row
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(gmm.energy(strided), ref)
    wide = np.zeros((len(points), 5))
    wide[:, [4, 1]] = points  # columns 4 and 1, in that order
    np.testing.assert_array_equal(gmm.energy(wide[:, 4:0:-3]), ref)
    _, g = gmm.energy_and_grad(fortran)
    _, g_ref = gmm.energy_and_grad(points)
    np.testing.assert_array_equal(g, g_ref)


def test_empty_batch(gmm):
    e, g = gmm.energy_and_grad(np.zeros((0, 2)))
    assert e.shape == (0,) and g.shape == (0, 2)


@pytest.mark.parametrize(
    "x", [np.zeros((4, 3)), np.zeros(2), np.zeros((2, 2, 2)), np.float64(1.0), [[0.0, 0.0], [1.0]]]
)
def test_wrong_shape_raises_value_error(gmm, x):
    with pytest.raises(ValueError):
        gmm.energy(x)
    with pytest.raises(ValueError):
        gmm.energy_and_grad(x)


def test_non_numeric_raises_value_error(gmm):
    for bad in ([["a", "b"]], object(), None, {"x": 1}):
        with pytest.raises(ValueError):
            gmm.energy(bad)


@pytest.mark.parametrize(
    "spec, needle",
    [
        ("Gmm40(", ""),
        ("NoSuchTarget()", "Gmm40"),  # the message lists the registered targets
        ("Gmm40(std: -1.0)", "positive"),
        ("Gmm40(stdd: 1.0)", "stdd"),
        ("Idem()", "objective"),  # an objective, not a target
    ],
)
def test_bad_ron_raises_value_error(spec, needle):
    with pytest.raises(ValueError) as info:
        nsamp.Target(spec)
    assert needle in str(info.value)


def test_sample_exact(gmm):
    x = gmm.sample(20000, seed=1)
    assert x.shape == (20000, 2) and x.dtype == np.float64
    np.testing.assert_array_equal(x, gmm.sample(20000, seed=1))
    assert not np.array_equal(x, gmm.sample(20000, seed=2))
    # Every sample lies within a few std of some mean, and the modes are roughly equally used.
    d = np.linalg.norm(x[:, None, :] - GMM40_MEANS[None], axis=-1)
    assert d.min(axis=1).max() < 8 * GMM40_STD
    counts = np.bincount(d.argmin(axis=1), minlength=40)
    assert counts.min() > 0


def test_particle_target_without_exact_sampler():
    lj = nsamp.Target("Lj13()")
    assert lj.particles == (13, 3) and lj.dim == 39
    assert not lj.has_exact_sampler and lj.log_z is None
    x = np.random.default_rng(0).standard_normal((4, 39)) * 1.5
    e, g = lj.energy_and_grad(x)
    assert e.shape == (4,) and g.shape == (4, 39)
    with pytest.raises(ValueError):
        lj.sample(10, 0)
    dw = nsamp.Target("Dw4()")
    assert dw.particles == (4, 2) and dw.dim == 8


def test_components_lists_gmm40():
    comps = nsamp.components()
    assert isinstance(comps, list) and comps
    for c in comps:
        assert set(c) >= {"kind", "name", "doc"}
    targets = {c["name"] for c in comps if c["kind"] == "target"}
    assert {"Gmm40", "Dw4", "Lj13"} <= targets
    gmm = next(c for c in comps if c["name"] == "Gmm40")
    assert gmm["doc"] and gmm["fields"] == ["std"]
    kinds = {c["kind"] for c in comps}
    assert {"target", "model", "objective", "metric"} <= kinds
