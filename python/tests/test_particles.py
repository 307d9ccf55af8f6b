"""DW-4 and LJ-13 energies and gradients against numpy implementations written here from the
conventions in nsamp's README (the community's: DEM / IW-SM), and against finite differences."""

import numpy as np
import pytest

import nsamp


def pair_distances(x, n, d):
    """(m, n, n, d) differences and (m, n, n) distances of configurations x (m, n*d)."""
    p = np.asarray(x, dtype=np.float64).reshape(len(x), n, d)
    diff = p[:, :, None, :] - p[:, None, :, :]
    return p, diff, np.sqrt((diff**2).sum(-1))


def dw4_energy_and_grad(x):
    """E = sum_{i<j} 0.9 (r - 4)^4 - 4 (r - 4)^2, r = |x_i - x_j| (4 particles in 2-D)."""
    n, d = 4, 2
    _, diff, r = pair_distances(x, n, d)
    iu = np.triu_indices(n, 1)
    u = r[:, iu[0], iu[1]] - 4.0
    energy = (0.9 * u**4 - 4.0 * u**2).sum(1)
    # dE/dr per pair, spread to both particles along the unit vector.
    dedr = 3.6 * (r - 4.0) ** 3 - 8.0 * (r - 4.0)
    safe = np.where(r > 0, r, 1.0)
    coef = np.where(np.eye(n, dtype=bool)[None], 0.0, dedr / safe)
    grad = (coef[..., None] * diff).sum(2)
    return energy, grad.reshape(len(x), n * d)


def lj13_energy_and_grad(x):
    """E = 2 sum_{i<j} [(1/r)^12 - 2 (1/r)^6] + 0.5 sum_i |x_i - mean|^2, r^2 softened by 1e-6."""
    n, d = 13, 3
    p, diff, _ = pair_distances(x, n, d)
    r2 = (diff**2).sum(-1) + 1e-6
    off = ~np.eye(n, dtype=bool)[None]
    inv6 = np.where(off, r2**-3, 0.0)
    inv12 = inv6**2
    # Summed over ordered pairs (each unordered pair twice) = 2 x sum over i < j.
    energy = (inv12 - 2 * inv6).sum((1, 2))
    centred = p - p.mean(1, keepdims=True)
    energy += 0.5 * (centred**2).sum((1, 2))
    # d/dx_i of sum over ordered pairs: 2 x sum_j dphi/d(r2) * 2 (x_i - x_j).
    dphi = np.where(off, -6 * inv12 / r2 + 6 * inv6 / r2, 0.0)
    grad = 4 * (dphi[..., None] * diff).sum(2) + centred
    return energy, grad.reshape(len(x), n * d)


def jittered_lattice(rng, m, n, d, spacing):
    """m configurations near a cubic lattice (no two particles close), float64."""
    side = int(np.ceil(n ** (1 / d)))
    grid = np.stack(np.meshgrid(*[np.arange(side)] * d, indexing="ij"), -1).reshape(-1, d)[:n]
    x = spacing * grid[None] + 0.15 * spacing * rng.standard_normal((m, n, d))
    return x.reshape(m, n * d)


@pytest.mark.parametrize(
    "spec, reference, n, d, spacing",
    [("Dw4()", dw4_energy_and_grad, 4, 2, 4.0), ("Lj13()", lj13_energy_and_grad, 13, 3, 1.1)],
)
def test_energy_and_grad_match_numpy(spec, reference, n, d, spacing):
    t = nsamp.Target(spec)
    assert t.particles == (n, d) and t.dim == n * d
    x = jittered_lattice(np.random.default_rng(1), 64, n, d, spacing)
    e_ref, g_ref = reference(x)
    e, g = t.energy_and_grad(x)
    assert np.allclose(e, t.energy(x))
    scale = np.abs(e_ref).max()
    assert np.allclose(e, e_ref, rtol=1e-5, atol=1e-5 * scale), np.abs(e - e_ref).max()
    gscale = np.abs(g_ref).max()
    assert np.allclose(g, g_ref, rtol=1e-4, atol=1e-5 * gscale), np.abs(g - g_ref).max()


@pytest.mark.parametrize("spec, n, d, spacing", [("Dw4()", 4, 2, 4.0), ("Lj13()", 13, 3, 1.1)])
def test_gradient_against_finite_differences(spec, n, d, spacing):
    """Central differences of the numpy energy (float64) against nsamp's gradient (float32)."""
    t = nsamp.Target(spec)
    ref = dw4_energy_and_grad if spec == "Dw4()" else lj13_energy_and_grad
    x = jittered_lattice(np.random.default_rng(2), 8, n, d, spacing)
    _, g = t.energy_and_grad(x)
    h = 1e-5
    fd = np.empty_like(x)
    for k in range(x.shape[1]):
        step = np.zeros(x.shape[1])
        step[k] = h
        fd[:, k] = (ref(x + step)[0] - ref(x - step)[0]) / (2 * h)
    assert np.allclose(g, fd, rtol=1e-3, atol=1e-4 * np.abs(fd).max()), np.abs(g - fd).max()


def test_lj13_virial_identity_on_the_shared_test_split():
    """<x . grad E> = 3 (N - 1) = 36 on the community's LJ-13 test split (when present)."""
    import os

    path = os.path.join(os.path.dirname(__file__), "../../../shared/data/test_split_LJ13-1000.npy")
    if not os.path.exists(path):
        pytest.skip("../shared/data is not present (the product does not need it)")
    x = np.load(path)[:2000]
    _, g = nsamp.Target("Lj13()").energy_and_grad(x)
    virial = (x.astype(np.float64) * g).sum(1)
    assert abs(virial.mean() - 36.0) < 4 * virial.std() / np.sqrt(len(x)) + 0.05
