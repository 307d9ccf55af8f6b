//! phi^4 observables of a set of configurations, and the `Phi4Observables` metric.
//!
//! With Mbar = (1/V) sum_x phi_x:
//! - `abs_magnetisation` <|Mbar|>;
//! - `chi2`, the two-point susceptibility sum_x G_c(x) = V (<Mbar^2> - <Mbar>^2), and
//!   `chi2_err`, its blocked-jackknife error over 20 contiguous blocks;
//! - `positive_share`, the share of configurations with Mbar > 0 (1/2 for a sampler that covers
//!   both modes of the broken phase);
//! - `action_per_site` <S> / V;
//! - `g_c(r)`, the connected two-point function at lattice distance r along an axis,
//!   G_c(r) = (1/V) sum_x <phi_x phi_{x + r e_1}> - <Mbar>^2, averaged over both axes.

use nsamp_core::metric::{Metric, MetricConfig, MetricInput};
use nsamp_core::Target;

/// Observables of `n` configurations on an L x L lattice (row-major sites).
#[derive(Debug, Clone, PartialEq)]
pub struct Observables {
    /// <|Mbar|>.
    pub abs_magnetisation: f64,
    /// V (<Mbar^2> - <Mbar>^2).
    pub chi2: f64,
    /// Share of configurations with Mbar > 0.
    pub positive_share: f64,
    /// G_c(r) for r = 0 .. L/2.
    pub g_c: Vec<f64>,
}

/// Computes the observables (f64 sums).
pub fn observables(phi: &[f32], l: usize) -> Observables {
    let v = l * l;
    let n = phi.len() / v;
    let (mut m1, mut m2, mut abs, mut pos) = (0f64, 0f64, 0f64, 0usize);
    let mut corr = vec![0f64; l / 2 + 1];
    for c in phi.chunks_exact(v) {
        let m = c.iter().map(|&p| p as f64).sum::<f64>() / v as f64;
        m1 += m;
        m2 += m * m;
        abs += m.abs();
        pos += (m > 0.0) as usize;
        for (r, g) in corr.iter_mut().enumerate() {
            let mut s = 0f64;
            for i in 0..l {
                for j in 0..l {
                    let p = c[i * l + j] as f64;
                    s += p * (c[i * l + (j + r) % l] as f64 + c[((i + r) % l) * l + j] as f64);
                }
            }
            *g += s / (2.0 * v as f64);
        }
    }
    let nf = n as f64;
    let mean = m1 / nf;
    Observables {
        abs_magnetisation: abs / nf,
        chi2: v as f64 * (m2 / nf - mean * mean),
        positive_share: pos as f64 / nf,
        g_c: corr.iter().map(|g| g / nf - mean * mean).collect(),
    }
}

/// Blocked-jackknife standard error of chi_2 over `blocks` contiguous blocks of configurations
/// (valid when a block is much longer than the autocorrelation time of an ordered chain such
/// as IMH's; for independent rows any blocking is valid). NaN with fewer than 2 rows a block.
///
/// chi_2 without block b is V (S2_b / n_b - (S1_b / n_b)^2) with S1_b, S2_b the sums of Mbar and
/// Mbar^2 over the other blocks (n_b rows), so one pass over the configurations suffices.
pub fn chi2_error(phi: &[f32], l: usize, blocks: usize) -> f64 {
    let v = l * l;
    let n = phi.len() / v;
    if blocks < 2 || n < 2 * blocks {
        return f64::NAN;
    }
    let size = n / blocks;
    // Per block: (sum of Mbar, sum of Mbar^2); rows past blocks * size are left out.
    let sums: Vec<(f64, f64)> = phi[..blocks * size * v]
        .chunks_exact(size * v)
        .map(|block| {
            block.chunks_exact(v).fold((0.0, 0.0), |(s1, s2), c| {
                let m = c.iter().map(|&p| p as f64).sum::<f64>() / v as f64;
                (s1 + m, s2 + m * m)
            })
        })
        .collect();
    let (t1, t2) = sums
        .iter()
        .fold((0.0, 0.0), |(a, b), &(s1, s2)| (a + s1, b + s2));
    let rest = ((blocks - 1) * size) as f64;
    let loo: Vec<f64> = sums
        .iter()
        .map(|&(s1, s2)| {
            let mean = (t1 - s1) / rest;
            v as f64 * ((t2 - s2) / rest - mean * mean)
        })
        .collect();
    let mean = loo.iter().sum::<f64>() / blocks as f64;
    ((blocks - 1) as f64 / blocks as f64 * loo.iter().map(|x| (x - mean).powi(2)).sum::<f64>())
        .sqrt()
}

nsamp_core::config! {
    /// `Phi4Observables()`: the observables of the samples and of the reference set.
    pub struct Phi4Observables {}
}

impl Metric for Phi4Observables {
    fn check(&self, target: &dyn Target) -> anyhow::Result<()> {
        anyhow::ensure!(
            target.lattice_side().is_some(),
            "Phi4Observables needs a lattice target (Phi4)"
        );
        Ok(())
    }
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        self.check(i.target)?;
        let l = i.target.lattice_side().unwrap_or(0);
        let v = (l * l) as f64;
        let mut out = Vec::new();
        for (tag, x, e) in [
            ("", i.samples, i.sample_energy),
            ("_reference", i.reference, i.reference_energy),
        ] {
            let o = observables(x, l);
            let action = e.iter().map(|&s| s as f64).sum::<f64>() / e.len().max(1) as f64 / v;
            out.push((format!("abs_magnetisation{tag}"), o.abs_magnetisation));
            out.push((format!("chi2{tag}"), o.chi2));
            out.push((format!("chi2_err{tag}"), chi2_error(x, l, 20)));
            out.push((format!("positive_share{tag}"), o.positive_share));
            out.push((format!("action_per_site{tag}"), action));
            out.push((
                format!("g_c1{tag}"),
                o.g_c.get(1).copied().unwrap_or(f64::NAN),
            ));
        }
        Ok(out)
    }
}

impl MetricConfig for Phi4Observables {
    fn build(&self) -> anyhow::Result<Box<dyn Metric>> {
        Ok(Box::new(self.clone()))
    }
}

nsamp_core::register!(
    Metric,
    "Phi4Observables",
    Phi4Observables,
    "phi^4 observables of samples and reference: <|Mbar|>, chi_2 = V(<Mbar^2> - <Mbar>^2), share with Mbar > 0, action per site, G_c(1)"
);
