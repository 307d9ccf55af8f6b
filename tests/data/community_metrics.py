"""Reference values of the community's evaluation figures on fixed inputs.

The numbers printed here are written into `core/src/metrics/community.rs` (test
`reproduces_the_community_code_on_fixed_inputs`). Each figure follows the formula of the
community code (jarridrb/DEM at 8e9531987b0bfe4e770d5009c10a56b8434c0f0a, jiajunhe98/DiKL at
11876a5bed4c03d2a7ffe1786fada9c5946a3a33) written in numpy/scipy; POT's `emd2` between equal-size
uniform sets is computed by scipy's `linear_sum_assignment` (the same optimum) and POT's
`emd2_1d` by a linear program (scipy's HiGHS), independently of nsamp's quantile walk.

Run: python tests/data/community_metrics.py   (numpy, scipy)
"""

import numpy as np
from scipy.optimize import linear_sum_assignment, linprog


def lcg(rows, cols, seed, mult, inc, mod, scale, shift):
    """Dyadic values (exact in float32) from a linear congruential sequence:
    x_{t+1} = (mult x_t + inc) % mod, x_0 = seed; value t = x_{t+1} / scale - shift, row-major."""
    out = np.empty(rows * cols)
    x = seed
    for t in range(rows * cols):
        x = (mult * x + inc) % mod
        out[t] = x / scale - shift
    return out.astype(np.float32).reshape(rows, cols)


def cdist(x, y):
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    return np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))


def emd2_equal(m):
    r, c = linear_sum_assignment(m)
    return m[r, c].sum() / m.shape[0]


def wasserstein(a, b, power):
    m = cdist(a, b)
    if power == 2:
        return np.sqrt(emd2_equal(m**2))
    return emd2_equal(m)


def linear_mmd2(x, y):
    x, y = x.astype(np.float64), y.astype(np.float64)
    delta = x - y
    return np.mean((delta[:-1] * delta[1:]).sum(1))


def poly_mmd2(x, y, d=2, alpha=1.0, c=2.0):
    x, y = x.astype(np.float64), y.astype(np.float64)
    k = lambda p, q: (alpha * (p[:-1] * q[1:]).sum(1) + c) ** d
    return k(x, x).mean() + k(y, y).mean() - k(x, y).mean() - k(y, x).mean()


def mix_rbf_mmd2(x, y, sigmas=(0.01, 0.1, 1, 10, 100)):
    m = len(x)
    z = np.concatenate([x, y]).astype(np.float64)
    d2 = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    kern = sum(np.exp(-d2 / (2 * s**2)) for s in sigmas)
    kxx, kxy, kyy = kern[:m, :m], kern[:m, m:], kern[m:, m:]
    return (kxx.sum() + kyy.sum() - 2 * kxy.sum()) / (m * m)


def total_variation_distance(samples1, samples_test, bins=200):
    # DiKL evaluation/metric.py == DEM dem_module.py::_compute_total_var
    h_data, edges = np.histogram(samples_test, bins=bins)
    h_gen, _ = np.histogram(samples1, bins=edges)
    return 0.5 * np.abs(h_data / h_data.sum() - h_gen / h_gen.sum()).sum()


def emd2_1d_lp(u, v):
    """POT emd2_1d(u, v) (metric sqeuclidean, uniform weights) as a transport LP."""
    u, v = u.astype(np.float64), v.astype(np.float64)
    n, m = len(u), len(v)
    cost = ((u[:, None] - v[None, :]) ** 2).ravel()
    a_eq = np.zeros((n + m, n * m))
    for i in range(n):
        a_eq[i, i * m:(i + 1) * m] = 1
    for j in range(m):
        a_eq[n + j, j::m] = 1
    b_eq = np.concatenate([np.full(n, 1 / n), np.full(m, 1 / m)])
    res = linprog(cost, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    assert res.status == 0
    return res.fun


def interatomic(x, n, d):
    # float32 throughout, as torch computes it (and as nsamp's interparticle_distances)
    c = x.reshape(-1, n, d)
    iu = np.triu_indices(n, 1)
    diff = c[:, iu[0], :] - c[:, iu[1], :]
    return np.sqrt((diff * diff).sum(-1, dtype=np.float32)).astype(np.float32).ravel()


def find_rigid_alignment(a, b):
    a_c = a - a.mean(0)
    b_c = b - b.mean(0)
    h = a_c.T @ b_c
    u, s, vh = np.linalg.svd(h)  # torch.svd returns V = vh.T
    return vh.T @ u.T


def eot(x0, x1):
    """DEM distribution_distances.py::eot (cdist, linear_sum_assignment, Kabsch, emd2)."""
    x0 = x0.astype(np.float64)
    x1 = x1.astype(np.float64)
    m = np.zeros((len(x0), len(x1)))
    for i in range(len(x0)):
        for j in range(len(x1)):
            _, col = linear_sum_assignment(cdist(x0[i], x1[j]))
            reordered = x1[j][col]
            r = find_rigid_alignment(x0[i], reordered)
            sup = reordered @ r
            m[i, j] = np.sqrt(((x0[i] - sup) ** 2).sum())
    return emd2_equal(m)


# Particle sets: 30 DW-4-like configurations (4 particles in 2-D) per side.
a2 = lcg(30, 8, 1, 1103, 12345, 4093, 256.0, 8.0)
b2 = lcg(30, 8, 2, 1229, 4321, 4091, 256.0, 7.5)
# 20 configurations of 5 particles in 3-D per side.
a3 = lcg(20, 15, 3, 1301, 777, 4079, 512.0, 4.0)
b3 = lcg(20, 15, 4, 1423, 999, 4073, 512.0, 3.5)
# Energies: 50 samples (some outside the reference range) and 40 reference values.
es = lcg(50, 1, 5, 1021, 17, 1031, 64.0, 9.0).ravel()
er = lcg(40, 1, 6, 1051, 29, 1033, 64.0, 7.0).ravel()


def min_condition(x0, x1):
    """Smallest s_min / s_max of DEM's Kabsch matrix H over all pairs (0 = ambiguous rotation)."""
    worst = np.inf
    for p in x0.astype(np.float64):
        for q in x1.astype(np.float64):
            _, col = linear_sum_assignment(cdist(p, q))
            s = np.linalg.svd((p - p.mean(0)).T @ (q[col] - q[col].mean(0)), compute_uv=False)
            worst = min(worst, s[-1] / s[0])
    return worst


out = {}
out["w1"] = wasserstein(a2, b2, 1)
out["w2"] = wasserstein(a2, b2, 2)
out["mmd_linear"] = linear_mmd2(a2, b2)
out["mmd_poly"] = poly_mmd2(a2, b2)
out["mmd_rbf"] = mix_rbf_mmd2(a2, b2)
for name, dt in [("f32", np.float32), ("f64", np.float64)]:
    out[f"etvd200_{name}"] = total_variation_distance(es.astype(dt), er.astype(dt), 200)
    out[f"etvd10_{name}"] = total_variation_distance(es.astype(dt), er.astype(dt), 10)
out["e_w2_squared"] = emd2_1d_lp(es, er)
ds, dr = interatomic(a2, 4, 2), interatomic(b2, 4, 2)
out["dtvd200"] = total_variation_distance(ds, dr, 200)
out["d_w2_squared"] = emd2_equal((ds.astype(np.float64)[:, None] - dr[None, :]) ** 2)
out["eq_emd2_2d"] = eot(a2.reshape(-1, 4, 2), b2.reshape(-1, 4, 2))
out["eq_emd2_3d"] = eot(a3.reshape(-1, 5, 3), b3.reshape(-1, 5, 3))
out["kabsch_min_condition_2d"] = min_condition(a2.reshape(-1, 4, 2), b2.reshape(-1, 4, 2))
out["kabsch_min_condition_3d"] = min_condition(a3.reshape(-1, 5, 3), b3.reshape(-1, 5, 3))
out["dropped_samples"] = int(((es < er.min()) | (es > er.max())).sum())
for k, v in out.items():
    print(f"{k} = {v!r}")
