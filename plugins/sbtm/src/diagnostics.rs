//! Convergence diagnostics of a particle sampler (DESIGN.md, "SBTM"):
//!
//! - relative Fisher information I = (1/n) sum_i |s(x_i) - grad log pi(x_i)|^2, with s the learned
//!   score (SBTM) or a KDE score (ULA); along the exact flow dKL/dt = -I;
//! - KL(f | pi) by a Gaussian kernel density estimate with Scott's bandwidth,
//!   mean_i [log f_KDE(x_i) - log pi(x_i)], where pi's log Z is known;
//! - for a Gaussian target N(mu, sigma^2 I), the KL of the Gaussian fitted to the particles,
//!   1/2 [tr(S) / sigma^2 + |m - mu|^2 / sigma^2 - d + d ln sigma^2 - ln det S];
//! - for that target and a prior N(mu, s^2 I) without annealing, the exact law of the flow,
//!   N(mu, v(t) I) with v(t) = sigma^2 + (s^2 - sigma^2) exp(-2 t / sigma^2), its KL
//!   (d/2)(v/sigma^2 - 1 - ln(v/sigma^2)) and Fisher information d (v - sigma^2)^2 / (v sigma^4)
//!   (the Gaussian heat flow check: s^2 = K(t0), sigma = 1 gives v = K(t + t0)).

use nsamp_core::numerics::lse::log_sum_exp_f64;

/// Mean squared distance between two row sets of scores: (1/n) sum_i |a_i - b_i|^2.
pub fn fisher(a: &[f32], b: &[f32], dim: usize) -> f64 {
    let n = a.len() / dim;
    let s: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| {
            let d = (x - y) as f64;
            d * d
        })
        .sum();
    s / n.max(1) as f64
}

/// Per-coordinate mean and variance of the rows.
fn moments(x: &[f32], dim: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (x.len() / dim) as f64;
    let mut m = vec![0f64; dim];
    for r in x.chunks_exact(dim) {
        m.iter_mut().zip(r).for_each(|(a, v)| *a += *v as f64 / n);
    }
    let mut v = vec![0f64; dim];
    for r in x.chunks_exact(dim) {
        v.iter_mut()
            .zip(r.iter().zip(&m))
            .for_each(|(a, (x, mu))| *a += (*x as f64 - mu).powi(2) / (n - 1.0).max(1.0));
    }
    (m, v)
}

/// log f_KDE at every particle: a Gaussian kernel of diagonal covariance h^2 diag(var), Scott's
/// factor h = n^(-1/(d+4)) (scipy's `gaussian_kde` default, per coordinate); the particle's own
/// kernel is included, as in scipy. Costs n^2 d.
pub fn kde_log_density(x: &[f32], dim: usize) -> Vec<f64> {
    let n = x.len() / dim;
    let (_, var) = moments(x, dim);
    let h2 = (n as f64).powf(-2.0 / (dim as f64 + 4.0));
    let bw: Vec<f64> = var.iter().map(|v| (v * h2).max(1e-300)).collect();
    let log_norm = -0.5
        * bw.iter()
            .map(|b| (2.0 * std::f64::consts::PI * b).ln())
            .sum::<f64>()
        - (n as f64).ln();
    let mut terms = vec![0f64; n];
    (0..n)
        .map(|i| {
            let xi = &x[i * dim..(i + 1) * dim];
            for (j, t) in terms.iter_mut().enumerate() {
                let xj = &x[j * dim..(j + 1) * dim];
                *t = -0.5
                    * xi.iter()
                        .zip(xj)
                        .zip(&bw)
                        .map(|((a, b), w)| ((a - b) as f64).powi(2) / w)
                        .sum::<f64>();
            }
            log_sum_exp_f64(&terms) + log_norm
        })
        .collect()
}

/// KL(f | pi) ~ mean_i [log f_KDE(x_i) + E(x_i) + log Z] from the particles' energies.
pub fn kde_kl(x: &[f32], dim: usize, energy: &[f32], log_z: f64) -> f64 {
    let lf = kde_log_density(x, dim);
    let n = lf.len() as f64;
    lf.iter()
        .zip(energy)
        .map(|(l, e)| l + *e as f64 + log_z)
        .sum::<f64>()
        / n
}

/// KL(N(m, S) | N(mu, sigma^2 I)) of the Gaussian fitted to the particles (full covariance S).
pub fn gaussian_fit_kl(x: &[f32], dim: usize, mu: &[f32], sigma2: f64) -> f64 {
    let n = x.len() / dim;
    let (m, _) = moments(x, dim);
    let mut s = vec![0f64; dim * dim];
    for r in x.chunks_exact(dim) {
        for a in 0..dim {
            for b in 0..dim {
                s[a * dim + b] +=
                    (r[a] as f64 - m[a]) * (r[b] as f64 - m[b]) / (n as f64 - 1.0).max(1.0);
            }
        }
    }
    let trace: f64 = (0..dim).map(|a| s[a * dim + a]).sum();
    let shift: f64 = m.iter().zip(mu).map(|(a, b)| (a - *b as f64).powi(2)).sum();
    let d = dim as f64;
    0.5 * (trace / sigma2 + shift / sigma2 - d + d * sigma2.ln() - log_det(&mut s, dim))
}

/// ln det of a symmetric positive-definite matrix by Cholesky (overwrites `a`); -inf if singular.
fn log_det(a: &mut [f64], n: usize) -> f64 {
    let mut ld = 0.0;
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= 0.0 {
            return f64::NEG_INFINITY;
        }
        let l = d.sqrt();
        a[j * n + j] = l;
        ld += 2.0 * l.ln();
        for i in j + 1..n {
            let mut v = a[i * n + j];
            for k in 0..j {
                v -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = v / l;
        }
    }
    ld
}

/// The exact law of the flow from N(mu, s2 I) towards N(mu, sigma2 I) at time t: its variance v,
/// KL and relative Fisher information (module documentation).
pub fn exact_gaussian_flow(s2: f64, sigma2: f64, dim: usize, t: f64) -> (f64, f64, f64) {
    let v = sigma2 + (s2 - sigma2) * (-2.0 * t / sigma2).exp();
    let r = v / sigma2;
    let d = dim as f64;
    let kl = 0.5 * d * (r - 1.0 - r.ln());
    let fisher = d * (v - sigma2).powi(2) / (v * sigma2 * sigma2);
    (v, kl, fisher)
}

/// The score of the KDE, for ULA's Fisher information: grad log f_KDE(x_i) =
/// sum_j w_ij (x_j - x_i) / bw, with w_ij the kernel weights at x_i.
pub fn kde_score(x: &[f32], dim: usize, out: &mut [f32]) {
    let n = x.len() / dim;
    let (_, var) = moments(x, dim);
    let h2 = (n as f64).powf(-2.0 / (dim as f64 + 4.0));
    let bw: Vec<f64> = var.iter().map(|v| (v * h2).max(1e-300)).collect();
    let mut logw = vec![0f64; n];
    for i in 0..n {
        let xi = &x[i * dim..(i + 1) * dim];
        for (j, lw) in logw.iter_mut().enumerate() {
            let xj = &x[j * dim..(j + 1) * dim];
            *lw = -0.5
                * xi.iter()
                    .zip(xj)
                    .zip(&bw)
                    .map(|((a, b), w)| ((a - b) as f64).powi(2) / w)
                    .sum::<f64>();
        }
        let lse = log_sum_exp_f64(&logw);
        let o = &mut out[i * dim..(i + 1) * dim];
        o.iter_mut().for_each(|v| *v = 0.0);
        let mut acc = vec![0f64; dim];
        for (j, lw) in logw.iter().enumerate() {
            let w = (lw - lse).exp();
            let xj = &x[j * dim..(j + 1) * dim];
            for k in 0..dim {
                acc[k] += w * (xj[k] - xi[k]) as f64 / bw[k];
            }
        }
        o.iter_mut().zip(&acc).for_each(|(v, a)| *v = *a as f32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Gaussian-fit KL of a set is 0 against its own moments, and matches the closed form
    /// for a scaled set; the exact flow starts at s2 and tends to sigma2.
    #[test]
    fn gaussian_kl_and_exact_flow() {
        let x: Vec<f32> = vec![-1.0, 0.0, 1.0, 0.0, 0.0, -1.0, 0.0, 1.0];
        // Mean 0, covariance diag(2/3, 2/3) (n - 1 = 3).
        let kl = gaussian_fit_kl(&x, 2, &[0.0, 0.0], 2.0 / 3.0);
        assert!(kl.abs() < 1e-12, "{kl}");
        let r: f64 = (2.0 / 3.0) / 1.0;
        let want = 0.5 * 2.0 * (r - 1.0 - r.ln());
        assert!((gaussian_fit_kl(&x, 2, &[0.0, 0.0], 1.0) - want).abs() < 1e-12);
        let (v0, kl0, _) = exact_gaussian_flow(0.25, 1.0, 3, 0.0);
        assert!((v0 - 0.25).abs() < 1e-15 && kl0 > 0.0);
        let (v, kl, fi) = exact_gaussian_flow(0.25, 1.0, 3, 50.0);
        assert!((v - 1.0).abs() < 1e-12 && kl.abs() < 1e-12 && fi.abs() < 1e-12);
    }

    /// d KL / dt = -I along the exact flow (finite difference of the closed forms).
    #[test]
    fn exact_flow_dissipates_kl_at_the_fisher_rate() {
        let (s2, dim) = (0.181, 5);
        for t in [0.01, 0.3, 1.0] {
            let h = 1e-5;
            let (_, a, _) = exact_gaussian_flow(s2, 1.0, dim, t - h);
            let (_, b, _) = exact_gaussian_flow(s2, 1.0, dim, t + h);
            let (_, _, fi) = exact_gaussian_flow(s2, 1.0, dim, t);
            assert!(
                ((b - a) / (2.0 * h) + fi).abs() < 1e-5 * fi.max(1.0),
                "t {t}"
            );
        }
    }
}
