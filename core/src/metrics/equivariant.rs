//! Equivariant transport distance between sets of particle configurations: the distance between
//! two configurations is taken modulo permutations of the particles and rotations (and
//! reflections), then the sets are matched by an exact assignment on that pairwise cost.
//!
//! Two definitions ([`Protocol`]):
//!
//! - **Community** (`community/Eq-EMD2`, DEM's `eot` in
//!   `dem/models/components/distribution_distances.py`, commit 8e95319): for each pair (a, b) of
//!   configurations (a from the samples, b from the reference, n particles in d dimensions),
//!   1. P = `linear_sum_assignment` of the n x n matrix of *Euclidean* particle distances
//!      |a_k - b_l| (uncentred, unrotated); Pb is b reordered, (Pb)_k = b_{P(k)};
//!   2. Kabsch: H = (a - mean a)^T (Pb - mean Pb) (d x d), H = U S V^T, R = V U^T (no
//!      determinant correction: R may be a reflection);
//!   3. c(a, b) = |a - (Pb) R|, the Euclidean norm of the flattened difference, the rotation
//!      applied about the origin with no translation.
//!
//!   Then `pot.emd2` with uniform weights: Eq-EMD2 = min_pi (1/N) sum_i c(a_i, b_pi(i)), the
//!   *mean* aligned distance (a W1 in the quotient, although DEM's name suggests W2). Since the
//!   permutation is chosen before any rotation, a rotated copy of a configuration is in general
//!   *not* at distance 0 (only permuted, or slightly rotated, copies are).
//! - **Nsamp** (`EqW2`): the root-mean-square version with a better alignment. Both
//!   configurations are centred; for each starting orthogonal map Q0 (the identity, and the
//!   2^d maps taking b's principal axes onto a's with every choice of signs), one step
//!   P = assignment on squared particle distances |a_k - (b Q0)_l|^2, then Q = Kabsch map of Pb
//!   onto a (reflections allowed: DW-4 and LJ energies are invariant under O(d)); from the
//!   start with the lowest cost, alternate these two steps while the cost decreases and the
//!   permutation changes (at most [`MAX_ICP_STEPS`] steps in all);
//!   c^2(a, b) = the lowest sum_k |a_k - ((Pb) Q)_k|^2 found. EqW2 = sqrt(min_pi (1/N)
//!   sum_i c^2(a_i, b_pi(i))). Each alternation step cannot increase the cost, so c^2 is an
//!   upper bound on the exact quotient distance, exact (0 up to rounding) for rotated, reflected
//!   and permuted copies of a configuration whose principal moments are distinct.
//!
//! nsamp computes in f64 from the f32 coordinates; DEM's tensors are float32, so its figures
//! agree with nsamp's to float32 rounding (about 1e-6 relative), barring exact ties.
//!
//! Cost: N^2 pairs, each with O(n^3) assignments (one for Community; 1 + 2^d plus at most
//! [`MAX_ICP_STEPS`] - 1 for Nsamp), parallel over rows; memory N^2 f64. Measured at N = 1,000
//! (release, 2 cores shared with other builds): DW-4 (4 x 2) 0.3 s Community, 1.3 s Nsamp;
//! LJ-13 (13 x 3) 2.6 s Community, 42 s Nsamp.

use rayon::prelude::*;

use super::assignment::Lsap;
use super::community::{key, Protocol};
use crate::metric::{Metric, MetricConfig, MetricInput};
use crate::target::Target;

/// The largest set `EqW2` accepts (N^2 pairwise alignments: N = 1,000 is 10^6 of them).
pub const MAX_POINTS: usize = 2000;

/// Most alternation steps (assignment, then Kabsch) from the best start in the Nsamp
/// definition, its first step included.
pub const MAX_ICP_STEPS: usize = 8;

const MAXD: usize = 3;
type Mat = [[f64; MAXD]; MAXD];

crate::config! {
    /// `EqW2(protocol: Nsamp)`: equivariant transport distance between sets of particle
    /// configurations (optimal permutation and rigid alignment per pair, then an exact
    /// assignment between the sets); `Nsamp` reports `EqW2` (root mean square), `Community`
    /// reports DEM's `community/Eq-EMD2` (mean aligned distance).
    pub struct EqW2 {
        /// Which definition (default Nsamp; Community: DEM's `eot`, number for number).
        protocol: Protocol = Protocol::Nsamp,
    }
}

impl MetricConfig for EqW2 {
    fn build(&self) -> anyhow::Result<Box<dyn Metric>> {
        Ok(Box::new(self.clone()))
    }
}

impl Metric for EqW2 {
    fn check(&self, target: &dyn Target) -> anyhow::Result<()> {
        let p = target
            .particles()
            .ok_or_else(|| anyhow::anyhow!("EqW2 needs a particle target (DW-4, LJ-13, ...)"))?;
        anyhow::ensure!(
            (1..=MAXD).contains(&p.spatial_dim),
            "EqW2 supports 1 to {MAXD} spatial dimensions, the target has {}",
            p.spatial_dim
        );
        Ok(())
    }
    fn max_samples(&self) -> Option<usize> {
        Some(MAX_POINTS)
    }
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        let p = i
            .target
            .particles()
            .ok_or_else(|| anyhow::anyhow!("EqW2 needs a particle target"))?;
        let v = equivariant_distance(i.samples, i.reference, p.n, p.spatial_dim, self.protocol)?;
        let name = match self.protocol {
            Protocol::Nsamp => "EqW2",
            Protocol::Community => "Eq-EMD2",
        };
        Ok(vec![(key(self.protocol, name), v)])
    }
}

/// The set distance of the module doc between the configurations of `a` and `b` (rows of
/// `n * d` coordinates; the larger set is cut to the first N = min(N_a, N_b) rows).
pub fn equivariant_distance(
    a: &[f32],
    b: &[f32],
    n: usize,
    d: usize,
    protocol: Protocol,
) -> anyhow::Result<f64> {
    anyhow::ensure!(n > 0, "configurations need at least one particle");
    anyhow::ensure!(
        (1..=MAXD).contains(&d),
        "equivariant distance supports 1 to {MAXD} spatial dimensions, got {d}"
    );
    let cfg = n * d;
    anyhow::ensure!(
        a.len().is_multiple_of(cfg) && b.len().is_multiple_of(cfg),
        "equivariant distance: the sets must hold whole configurations of {n} x {d} values \
         (got {} and {} values)",
        a.len(),
        b.len()
    );
    let rows = (a.len() / cfg).min(b.len() / cfg);
    anyhow::ensure!(
        rows > 0,
        "equivariant distance needs at least one configuration on each side"
    );
    anyhow::ensure!(
        rows <= MAX_POINTS,
        "equivariant distance aligns all N^2 pairs of configurations: N = {rows} is above its \
         limit of {MAX_POINTS}; evaluate fewer samples or leave EqW2 out of eval.metrics"
    );
    let load = |x: &[f32]| -> Vec<Vec<[f64; MAXD]>> {
        x.chunks_exact(cfg)
            .take(rows)
            .map(|c| {
                let mut pts: Vec<[f64; MAXD]> = c
                    .chunks_exact(d)
                    .map(|p| {
                        let mut q = [0f64; MAXD];
                        for (qk, pk) in q.iter_mut().zip(p) {
                            *qk = *pk as f64;
                        }
                        q
                    })
                    .collect();
                if protocol == Protocol::Nsamp {
                    centre(&mut pts, d);
                }
                pts
            })
            .collect()
    };
    let (xa, xb) = (load(a), load(b));
    let frames_a: Vec<Mat> = xa.iter().map(|c| principal_axes(c, d)).collect();
    let frames_b: Vec<Mat> = xb.iter().map(|c| principal_axes(c, d)).collect();
    let mut cost = vec![0f64; rows * rows];
    cost.par_chunks_mut(rows).enumerate().for_each_init(
        || Scratch::new(n),
        |s, (i, out)| {
            for (j, o) in out.iter_mut().enumerate() {
                *o = match protocol {
                    Protocol::Community => community_pair(&xa[i], &xb[j], d, s),
                    Protocol::Nsamp => nsamp_pair(&xa[i], &xb[j], &frames_a[i], &frames_b[j], d, s),
                };
            }
        },
    );
    let mean = super::transport::assignment_mean(&cost, rows)?;
    Ok(match protocol {
        Protocol::Community => mean,
        Protocol::Nsamp => mean.max(0.0).sqrt(),
    })
}

/// Buffers reused across the pairs of one row.
struct Scratch {
    cost: Vec<f64>,
    moved: Vec<[f64; MAXD]>,
    pb: Vec<[f64; MAXD]>,
    perm: Vec<usize>,
    prev: Vec<usize>,
    lsap: Lsap,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Scratch {
            cost: vec![0.0; n * n],
            moved: vec![[0.0; MAXD]; n],
            pb: vec![[0.0; MAXD]; n],
            perm: vec![0; n],
            prev: vec![0; n],
            lsap: Lsap::default(),
        }
    }
}

fn centre(pts: &mut [[f64; MAXD]], d: usize) {
    let n = pts.len() as f64;
    for k in 0..d {
        let m = pts.iter().map(|p| p[k]).sum::<f64>() / n;
        pts.iter_mut().for_each(|p| p[k] -= m);
    }
}

fn sq_dist(x: &[f64; MAXD], y: &[f64; MAXD], d: usize) -> f64 {
    (0..d).map(|k| (x[k] - y[k]) * (x[k] - y[k])).sum()
}

/// Optimal particle permutation: `perm[k]` is the particle of `b` matched to particle k of `a`
/// under |a_k - b_l| (squared if `squared`), by scipy's algorithm ([`Lsap`]).
fn assign(s: &mut Scratch, a: &[[f64; MAXD]], b: &[[f64; MAXD]], d: usize, squared: bool) {
    let n = a.len();
    for (k, ak) in a.iter().enumerate() {
        for (l, bl) in b.iter().enumerate() {
            let d2 = sq_dist(ak, bl, d);
            s.cost[k * n + l] = if squared { d2 } else { d2.sqrt() };
        }
    }
    let cost = &s.cost;
    // Only a non-finite coordinate makes the solver fail: keep the identity then (the pair's
    // cost is non-finite anyway, and the assignment between sets reports it).
    match s.lsap.solve(n, |k, l| cost[k * n + l]) {
        Ok(cols) => s.perm.copy_from_slice(cols),
        Err(_) => s.perm.iter_mut().enumerate().for_each(|(k, p)| *p = k),
    }
}

/// The Kabsch map of DEM's `find_rigid_alignment(a, pb)`: R = V U^T with H = U S V^T,
/// H = (a - mean a)^T (pb - mean pb); (pb) R is pb aligned onto a (reflections allowed).
fn kabsch(a: &[[f64; MAXD]], pb: &[[f64; MAXD]], d: usize) -> Mat {
    let n = a.len() as f64;
    let (mut ma, mut mb) = ([0f64; MAXD], [0f64; MAXD]);
    for (p, q) in a.iter().zip(pb) {
        for k in 0..d {
            ma[k] += p[k] / n;
            mb[k] += q[k] / n;
        }
    }
    let mut h: Mat = [[0.0; MAXD]; MAXD];
    for (p, q) in a.iter().zip(pb) {
        for r in 0..d {
            for c in 0..d {
                h[r][c] += (p[r] - ma[r]) * (q[c] - mb[c]);
            }
        }
    }
    let (u, _, v) = svd(&h, d);
    let mut rot: Mat = [[0.0; MAXD]; MAXD];
    for r in 0..d {
        for c in 0..d {
            rot[r][c] = (0..d).map(|k| v[r][k] * u[c][k]).sum();
        }
    }
    rot
}

/// Kabsch map of `b` reordered by `s.perm` onto `a` (filling `s.pb`).
fn permuted_kabsch(s: &mut Scratch, a: &[[f64; MAXD]], b: &[[f64; MAXD]], d: usize) -> Mat {
    for (p, &l) in s.pb.iter_mut().zip(&s.perm) {
        *p = b[l];
    }
    kabsch(a, &s.pb, d)
}

/// `out_k = b_{perm[k]} R` (row vectors times R).
fn apply(out: &mut [[f64; MAXD]], b: &[[f64; MAXD]], perm: &[usize], rot: &Mat, d: usize) {
    for (o, &l) in out.iter_mut().zip(perm) {
        let p = &b[l];
        let mut q = [0f64; MAXD];
        for (c, qc) in q.iter_mut().enumerate().take(d) {
            *qc = (0..d).map(|e| p[e] * rot[e][c]).sum();
        }
        *o = q;
    }
}

/// DEM's per-pair cost |a - (Pb) R| (module doc, Community).
fn community_pair(a: &[[f64; MAXD]], b: &[[f64; MAXD]], d: usize, s: &mut Scratch) -> f64 {
    assign(s, a, b, d, false);
    let rot = permuted_kabsch(s, a, b, d);
    apply(&mut s.moved, b, &s.perm, &rot, d);
    a.iter()
        .zip(&s.moved)
        .map(|(p, q)| sq_dist(p, q, d))
        .sum::<f64>()
        .sqrt()
}

/// nsamp's per-pair squared cost (module doc, Nsamp); `a`, `b` centred.
fn nsamp_pair(
    a: &[[f64; MAXD]],
    b: &[[f64; MAXD]],
    fa: &Mat,
    fb: &Mat,
    d: usize,
    s: &mut Scratch,
) -> f64 {
    // Phase 1: one step (assignment, then Kabsch) from every start; phase 2: alternate from
    // the best of them until the permutation repeats.
    let mut best = (f64::INFINITY, [[0.0; MAXD]; MAXD]);
    for start in 0..=(1usize << d) {
        // Start 0: the identity; start 1 + signs: Q0 = F_b diag(s) F_a^T, b's principal axes
        // onto a's (row vectors: b Q0).
        let mut q: Mat = [[0.0; MAXD]; MAXD];
        for r in 0..d {
            for c in 0..d {
                q[r][c] = if start == 0 {
                    if r == c {
                        1.0
                    } else {
                        0.0
                    }
                } else {
                    (0..d)
                        .map(|k| {
                            let sk = if (start - 1) >> k & 1 == 1 { -1.0 } else { 1.0 };
                            fb[r][k] * sk * fa[c][k]
                        })
                        .sum()
                };
            }
        }
        let (c, q) = icp_step(a, b, &q, d, s);
        if c < best.0 {
            best = (c, q);
            s.prev.copy_from_slice(&s.perm);
        }
    }
    // `s.prev` holds the best permutation so far: a step that repeats it has converged.
    let (mut cost, mut q) = best;
    for _ in 1..MAX_ICP_STEPS {
        let (c, next) = icp_step(a, b, &q, d, s);
        if s.perm == s.prev || c >= cost {
            break;
        }
        (cost, q) = (c, next);
        s.prev.copy_from_slice(&s.perm);
    }
    cost
}

/// One alternation step from the map `q`: P = the assignment of a's particles to those of b q
/// (squared distances), then the Kabsch map Q of Pb onto a; returns sum_k |a_k - ((Pb) Q)_k|^2
/// and Q (`s.perm` holds P).
fn icp_step(
    a: &[[f64; MAXD]],
    b: &[[f64; MAXD]],
    q: &Mat,
    d: usize,
    s: &mut Scratch,
) -> (f64, Mat) {
    for (m, p) in s.moved.iter_mut().zip(b) {
        let mut o = [0f64; MAXD];
        for (c, oc) in o.iter_mut().enumerate().take(d) {
            *oc = (0..d).map(|e| p[e] * q[e][c]).sum();
        }
        *m = o;
    }
    let moved = std::mem::take(&mut s.moved);
    assign(s, a, &moved, d, true);
    s.moved = moved;
    let q = permuted_kabsch(s, a, b, d);
    apply(&mut s.moved, b, &s.perm, &q, d);
    let c: f64 = a.iter().zip(&s.moved).map(|(p, r)| sq_dist(p, r, d)).sum();
    (c, q)
}

/// Principal axes of a centred configuration: the columns of the result are the eigenvectors
/// of the scatter matrix sum_k a_k a_k^T, largest eigenvalue first.
fn principal_axes(a: &[[f64; MAXD]], d: usize) -> Mat {
    let mut c: Mat = [[0.0; MAXD]; MAXD];
    for p in a {
        for r in 0..d {
            for k in 0..d {
                c[r][k] += p[r] * p[k];
            }
        }
    }
    let (_, sig, v) = svd(&c, d);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|x, y| sig[*y].total_cmp(&sig[*x]));
    let mut f: Mat = [[0.0; MAXD]; MAXD];
    for (col, &k) in order.iter().enumerate() {
        for r in 0..d {
            f[r][col] = v[r][k];
        }
    }
    f
}

/// SVD of a d x d matrix (d <= 3) by one-sided Jacobi rotations: h = U diag(s) V^T with U, V
/// orthogonal. Columns of U whose singular value is 0 are completed to an orthonormal basis.
fn svd(h: &Mat, d: usize) -> (Mat, [f64; MAXD], Mat) {
    let mut w = *h;
    let mut v: Mat = [[0.0; MAXD]; MAXD];
    (0..d).for_each(|k| v[k][k] = 1.0);
    for _sweep in 0..60 {
        let mut rotated = false;
        for p in 0..d {
            for q in p + 1..d {
                let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
                for row in w.iter().take(d) {
                    alpha += row[p] * row[p];
                    beta += row[q] * row[q];
                    gamma += row[p] * row[q];
                }
                if gamma == 0.0 || gamma.abs() <= 1e-15 * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for m in [&mut w, &mut v] {
                    for row in m.iter_mut().take(d) {
                        let (xp, xq) = (row[p], row[q]);
                        row[p] = c * xp - s * xq;
                        row[q] = s * xp + c * xq;
                    }
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let mut sig = [0f64; MAXD];
    let mut u: Mat = [[0.0; MAXD]; MAXD];
    let scale = (0..d)
        .map(|k| (0..d).map(|r| w[r][k] * w[r][k]).sum::<f64>().sqrt())
        .fold(0f64, f64::max);
    let mut have = [false; MAXD];
    for k in 0..d {
        sig[k] = (0..d).map(|r| w[r][k] * w[r][k]).sum::<f64>().sqrt();
        if sig[k] > 1e-300 && sig[k] > 1e-14 * scale {
            (0..d).for_each(|r| u[r][k] = w[r][k] / sig[k]);
            have[k] = true;
        }
    }
    // Complete missing columns with unit vectors orthogonalised against the columns already set.
    for k in 0..d {
        if have[k] {
            continue;
        }
        for e in 0..d {
            let mut col = [0f64; MAXD];
            col[e] = 1.0;
            for j in 0..d {
                if have[j] {
                    let dot: f64 = (0..d).map(|r| col[r] * u[r][j]).sum();
                    (0..d).for_each(|r| col[r] -= dot * u[r][j]);
                }
            }
            let norm = (0..d).map(|r| col[r] * col[r]).sum::<f64>().sqrt();
            if norm > 1e-6 {
                (0..d).for_each(|r| u[r][k] = col[r] / norm);
                have[k] = true;
                break;
            }
        }
    }
    (u, sig, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::transport::wasserstein;
    use crate::numerics::rng::{fill_normal, RngStreams};

    fn gaussian_configs(seed: u64, rows: usize, n: usize, d: usize) -> Vec<f32> {
        let mut rng = RngStreams::new(seed).stream("eq", 0);
        let mut v = vec![0f32; rows * n * d];
        fill_normal(&mut rng, &mut v);
        crate::numerics::pairwise::remove_mean(&mut v, n, d);
        v
    }

    /// An orthogonal 3 x 3 map: rotation by `t` about the axis (1, 2, 2)/3, times `flip`
    /// (-1: a reflection); 2-D: rotation by `t`, the y axis times `flip`.
    fn orthogonal(d: usize, t: f64, flip: f64) -> Mat {
        let mut m: Mat = [[0.0; MAXD]; MAXD];
        let (c, s) = (t.cos(), t.sin());
        if d == 2 {
            m[0] = [c, -s * flip, 0.0];
            m[1] = [s, c * flip, 0.0];
        } else {
            let k = [1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0];
            // Rodrigues: R = c I + s [k]x + (1 - c) k k^T.
            let kx = [[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]];
            for r in 0..3 {
                for q in 0..3 {
                    let id = if r == q { 1.0 } else { 0.0 };
                    m[r][q] = c * id + s * kx[r][q] + (1.0 - c) * k[r] * k[q];
                }
            }
            for row in m.iter_mut() {
                row[2] *= flip;
            }
        }
        m
    }

    /// Each configuration of `x` rotated by its own orthogonal map (every other one reflected if
    /// `reflect`), its particles permuted, and the configurations in reverse order.
    fn scrambled(
        x: &[f32],
        n: usize,
        d: usize,
        reflect: bool,
        angle: impl Fn(usize) -> f64,
    ) -> Vec<f32> {
        let cfg = n * d;
        let rows = x.len() / cfg;
        let mut out = Vec::with_capacity(x.len());
        for (i, c) in x.chunks_exact(cfg).enumerate().rev() {
            let flip = if reflect && i % 2 == 1 { -1.0 } else { 1.0 };
            let m = orthogonal(d, angle(i), flip);
            for l in 0..n {
                let p = &c[((l * 3 + i) % n) * d..][..d];
                for row in m.iter().take(d) {
                    let v: f64 = (0..d).map(|q| row[q] * p[q] as f64).sum();
                    out.push(v as f32);
                }
            }
        }
        assert_eq!(out.len(), rows * cfg);
        out
    }

    #[test]
    fn svd_reconstructs_and_kabsch_is_orthogonal() {
        let h: Mat = [[2.0, -1.0, 0.5], [0.3, 4.0, -2.0], [1.0, 1.0, 1.0]];
        let (u, s, v) = svd(&h, 3);
        for r in 0..3 {
            for c in 0..3 {
                let x: f64 = (0..3).map(|k| u[r][k] * s[k] * v[c][k]).sum();
                assert!((x - h[r][c]).abs() < 1e-13, "{x} {}", h[r][c]);
                let uu: f64 = (0..3).map(|k| u[k][r] * u[k][c]).sum();
                let vv: f64 = (0..3).map(|k| v[k][r] * v[k][c]).sum();
                let id = if r == c { 1.0 } else { 0.0 };
                assert!((uu - id).abs() < 1e-13 && (vv - id).abs() < 1e-13);
            }
        }
        // Rank 1: the missing columns of U are completed to an orthonormal basis.
        let h1: Mat = [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 0.0, 0.0]];
        let (u, _, _) = svd(&h1, 3);
        for r in 0..3 {
            for c in 0..3 {
                let uu: f64 = (0..3).map(|k| u[k][r] * u[k][c]).sum();
                let id = if r == c { 1.0 } else { 0.0 };
                assert!((uu - id).abs() < 1e-12, "{u:?}");
            }
        }
    }

    #[test]
    fn identical_sets_give_zero() {
        for (n, d) in [(4, 2), (13, 3)] {
            let a = gaussian_configs(1, 12, n, d);
            for p in [Protocol::Nsamp, Protocol::Community] {
                let v = equivariant_distance(&a, &a, n, d, p).unwrap();
                assert!(v.abs() < 1e-6, "{p:?} {v}");
            }
        }
    }

    #[test]
    fn rotated_reflected_permuted_copies_give_zero_under_nsamp() {
        for (n, d) in [(4, 2), (13, 3)] {
            let a = gaussian_configs(2, 16, n, d);
            let b = scrambled(&a, n, d, true, |i| 0.4 + 0.37 * i as f64);
            let eq = equivariant_distance(&a, &b, n, d, Protocol::Nsamp).unwrap();
            let plain = wasserstein(&a, &b, n * d, 2).unwrap();
            assert!(eq < 1e-5, "n = {n}: EqW2 {eq}");
            assert!(plain > 0.5, "n = {n}: W2 {plain}");
            // DEM's definition permutes before rotating: large rotations are not undone.
            let c = equivariant_distance(&a, &b, n, d, Protocol::Community).unwrap();
            assert!(c > 0.1, "n = {n}: Eq-EMD2 {c}");
            // Small proper rotations are: the nearest-particle permutation is then the right one.
            let small = scrambled(&a, n, d, false, |i| 0.002 * (1 + i) as f64);
            let c = equivariant_distance(&a, &small, n, d, Protocol::Community).unwrap();
            assert!(c < 1e-5, "n = {n}: Eq-EMD2 {c}");
        }
    }

    #[test]
    fn nsamp_is_translation_invariant_and_community_is_not() {
        let (n, d) = (4, 2);
        let a = gaussian_configs(3, 10, n, d);
        let b = gaussian_configs(4, 10, n, d);
        let shifted: Vec<f32> = b
            .iter()
            .enumerate()
            .map(|(k, v)| v + [3.0, -2.0][k % 2])
            .collect();
        let (u, v) = (
            equivariant_distance(&a, &b, n, d, Protocol::Nsamp).unwrap(),
            equivariant_distance(&a, &shifted, n, d, Protocol::Nsamp).unwrap(),
        );
        assert!((u - v).abs() < 1e-5, "{u} {v}");
        let c = equivariant_distance(&a, &shifted, n, d, Protocol::Community).unwrap();
        assert!(c > u + 1.0, "{c} {u}");
    }

    #[test]
    fn known_answers() {
        // Two particles on a line at +-1 against +-2: sqrt(1 + 1) under both definitions.
        let (a, b) = ([-1.0f32, 1.0], [2.0f32, -2.0]);
        for p in [Protocol::Nsamp, Protocol::Community] {
            let v = equivariant_distance(&a, &b, 2, 1, p).unwrap();
            assert!((v - 2f64.sqrt()).abs() < 1e-12, "{p:?} {v}");
        }
        // Equilateral triangles of circumradius 1 and 2, the second rotated by 1 radian and
        // reflected: each particle 1 apart after alignment, EqW2 = sqrt(3).
        let tri = |r: f64, t0: f64, flip: f64| -> Vec<f32> {
            (0..3)
                .flat_map(|k| {
                    let t = t0 + k as f64 * 2.0 * std::f64::consts::PI / 3.0;
                    [(r * t.cos()) as f32, (flip * r * t.sin()) as f32]
                })
                .collect()
        };
        let v = equivariant_distance(
            &tri(1.0, 0.0, 1.0),
            &tri(2.0, 1.0, -1.0),
            3,
            2,
            Protocol::Nsamp,
        )
        .unwrap();
        assert!((v - 3f64.sqrt()).abs() < 1e-6, "{v}");
        // Sets: {a1, a2} against {copy of a2, copy of a1 scaled}: the assignment pairs copies.
        let a = gaussian_configs(5, 2, 4, 2);
        let mut b = a[8..].to_vec();
        b.extend(a[..8].iter().map(|v| v * 2.0));
        let norm2: f64 = a[..8].iter().map(|v| (*v as f64).powi(2)).sum();
        let v = equivariant_distance(&a, &b, 4, 2, Protocol::Nsamp).unwrap();
        // Scaling by 2 about the centre: the best alignment is the identity, cost |a1|^2.
        assert!(
            (v - (norm2 / 2.0).sqrt()).abs() < 1e-5,
            "{v} {}",
            (norm2 / 2.0).sqrt()
        );
    }

    #[test]
    fn limits_are_clear() {
        let a = vec![0f32; (MAX_POINTS + 1) * 2];
        let e = equivariant_distance(&a, &a, 2, 1, Protocol::Nsamp)
            .unwrap_err()
            .to_string();
        assert!(e.contains("limit of 2000"), "{e}");
        assert!(equivariant_distance(&[0.0; 8], &[0.0; 8], 2, 4, Protocol::Nsamp).is_err());
        // Two whole 2 x 2 configurations and a partial third are refused, not truncated.
        let e = equivariant_distance(&[0.0; 10], &[0.0; 8], 2, 2, Protocol::Nsamp)
            .unwrap_err()
            .to_string();
        assert!(e.contains("whole configurations"), "{e}");
    }

    /// Timing at N = 1,000 (DW-4 and LJ-13 shapes): `cargo test --release -p nsamp-core --lib
    /// equivariant::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        for (n, d) in [(4, 2), (13, 3)] {
            let a = gaussian_configs(6, 1000, n, d);
            let b = gaussian_configs(7, 1000, n, d);
            for p in [Protocol::Community, Protocol::Nsamp] {
                let t = std::time::Instant::now();
                let v = equivariant_distance(&a, &b, n, d, p).unwrap();
                println!(
                    "n = {n}, d = {d}, {p:?}: {v} in {:.2} s",
                    t.elapsed().as_secs_f64()
                );
            }
        }
    }
}
