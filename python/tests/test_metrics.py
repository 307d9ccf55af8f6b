"""nsamp.metrics and nsamp.reference: known answers, scipy's exact assignment, provenance."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

import nsamp
from nsamp import metrics


@pytest.fixture(scope="module")
def gmm():
    return nsamp.Target("Gmm40()")


def test_w1_w2_equal_scipy_exact_assignment(gmm):
    a = gmm.sample(300, seed=1)
    b = gmm.sample(300, seed=2)
    cost = cdist(a, b)
    rows, cols = linear_sum_assignment(cost)
    w1 = cost[rows, cols].mean()
    rows, cols = linear_sum_assignment(cost**2)
    w2 = np.sqrt((cost[rows, cols] ** 2).mean())
    # nsamp computes in float32 rows with f64 costs: agreement to float32 precision.
    assert metrics.w1(gmm, a, b) == pytest.approx(w1, rel=1e-4)
    assert metrics.w2(gmm, a, b) == pytest.approx(w2, rel=1e-4)


def test_identical_sets_score_zero_and_shifts_give_the_shift(gmm):
    a = gmm.sample(200, seed=3)
    assert metrics.w2(gmm, a, a) == pytest.approx(0.0, abs=1e-6)
    assert metrics.energy_tvd(gmm, a, a) == pytest.approx(0.0, abs=1e-12)
    shift = np.array([3.0, -4.0])
    assert metrics.w2(gmm, a + shift, a) == pytest.approx(5.0, rel=1e-4)
    mmd = metrics.mmd(gmm, a, a)
    assert set(mmd) == {"MMD_linear", "MMD_poly", "MMD_rbf"}
    assert all(abs(v) < 1e-9 for v in mmd.values())
    # MMD_linear is |mean(x) - mean(y)|^2: a constant shift gives |s|^2 exactly.
    assert metrics.mmd(gmm, a + shift, a)["MMD_linear"] == pytest.approx(25.0, rel=1e-4)


def test_mode_coverage_of_exact_samples(gmm):
    cov = metrics.mode_coverage(gmm, gmm.sample(4000, seed=4), gmm.sample(4000, seed=5))
    assert any(v == 40 for v in cov.values()), cov


def test_generic_metric_and_errors(gmm):
    a = gmm.sample(100, seed=6)
    assert metrics.metric("W1()", "Gmm40()", a, a) == {"W1": pytest.approx(0.0, abs=1e-6)}
    with pytest.raises(ValueError, match="shape"):
        metrics.w2(gmm, a[:, :1], a)
    with pytest.raises(ValueError, match="protocol"):
        metrics.w2(gmm, a, a, protocol="papers")
    with pytest.raises(ValueError, match="cannot parse metric"):
        metrics.metric("W3(", gmm, a, a)
    with pytest.raises(ValueError, match="particle"):
        metrics.distance_tvd(gmm, a, a)


def test_reference_of_a_target_with_an_exact_sampler(gmm):
    x, prov = nsamp.reference(gmm, n=500, seed=7)
    assert x.shape == (500, 2)
    assert prov["kind"] == "exact" and prov["n"] == 500 and prov["seed"] == 7
    assert "Gmm40" in prov["target"]
    # The same stream as Target.sample.
    assert np.array_equal(x, gmm.sample(500, seed=7))
    # Overrides belong to recipes; an absurd sample count is refused, not an abort.
    with pytest.raises(ValueError, match="overrides"):
        nsamp.reference(gmm, n=10, overrides={"seed": 1})
    with pytest.raises(ValueError, match="limit"):
        gmm.sample(10**12)


def test_mcmc_reference_is_drawn_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("NSAMP_CACHE", str(tmp_path))
    x, prov = nsamp.reference("Dw4()", n=64, seed=3, sampler="Mala(chains: 16, burn_in: 200, pilot: 200)")
    assert x.shape == (64, 8) and np.isfinite(x).all()
    assert prov["kind"] == "mcmc" and prov["n"] == 64 and prov["seed"] == 3
    assert 0.0 < prov["report"]["acceptance"] <= 1.0
    assert prov["energy_evals"] > 0
    assert prov["cache_file"].startswith(str(tmp_path))
    again, prov2 = nsamp.reference("Dw4()", n=64, seed=3, sampler="Mala(chains: 16, burn_in: 200, pilot: 200)")
    assert np.array_equal(x, again) and prov2["created_unix"] == prov["created_unix"]


def test_reference_of_a_recipe(tmp_path):
    recipe = """Recipe(name: "r", seed: 1, target: Gmm40(), sampler: Mala(),
        eval: (samples: 300, reference_seed: 11, metrics: [W2()]))"""
    x, prov = nsamp.reference(recipe)
    assert x.shape == (300, 2) and prov["seed"] == 11 and prov["kind"] == "exact"
    with pytest.raises(ValueError, match="no recipe file"):
        nsamp.reference(str(tmp_path / "missing.ron"))


def test_community_protocol_on_particles():
    """DW-4: the community figures under their keys; identical sets give 0; DEM's energy W2 is
    the square of nsamp's; rotated and permuted copies are 0 apart under nsamp's equivariant W2."""
    t = nsamp.Target("Dw4()")
    rng = np.random.default_rng(5)
    base = np.array([[-2.0, -2.0], [2.0, -2.0], [2.0, 2.0], [-2.0, 2.0]])
    x = (base[None] + 0.3 * rng.standard_normal((60, 4, 2))).reshape(60, 8)
    y = (base[None] + 0.3 * rng.standard_normal((60, 4, 2))).reshape(60, 8)
    for f in (metrics.energy_tvd, metrics.distance_tvd, metrics.energy_w2, metrics.distance_w2):
        assert f(t, x, x, protocol="community") == pytest.approx(0.0, abs=1e-9)
    e_nsamp = metrics.energy_w2(t, x, y)
    assert metrics.energy_w2(t, x, y, protocol="community") == pytest.approx(e_nsamp**2, rel=1e-6)
    figures = metrics.metric("EqW2(protocol: Community)", t, x, y)
    assert list(figures) == ["community/Eq-EMD2"]
    angle = 0.7
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = np.einsum("ij,npj->npi", rot, x.reshape(60, 4, 2))[:, ::-1, :].reshape(60, 8)
    assert metrics.equivariant_w2(t, moved, x) < 1e-4
    assert metrics.w2(t, moved, x) > 0.5
