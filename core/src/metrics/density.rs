//! Density metrics of a flow (they need the model's log q; other samplers get an error):
//!
//! - `Nll`: NLL = -mean_{x in reference} log q(x) (nats; for an exact reference, the cross-entropy
//!   of p to q, whose minimum is the entropy of p).
//! - `Rnll`: RNLL = -mean_{x ~ q} log p~(x) = mean E(x) over the model's own samples (before any
//!   corrector): the unnormalised reverse NLL. `rnll_normalised` = RNLL + log Z where log Z is known.
//! - `Ess`: effective sample size of the importance weights w = p~ / q of the model's own samples,
//!   ESS = (sum w)^2 / sum w^2 / n = exp(2 LSE(log w) - LSE(2 log w)) / n in (0, 1], and
//!   `log_z_estimate` = LSE(log w) - log n (unbiased in Z, not in log Z).

use crate::metric::{Metric, MetricConfig, MetricInput, ModelDensity};
use crate::numerics::lse::{ess_fraction, log_sum_exp_f64};

fn density<'a>(i: &'a MetricInput<'_>, name: &str) -> anyhow::Result<&'a ModelDensity> {
    i.density.ok_or_else(|| {
        anyhow::anyhow!("{name} needs a model with a density (a flow such as RealNvp)")
    })
}

crate::config! {
    /// `Nll()`.
    pub struct Nll {}
}

crate::config! {
    /// `Rnll()`.
    pub struct Rnll {}
}

crate::config! {
    /// `Ess()`.
    pub struct Ess {}
}

fn mean(v: &[f32]) -> f64 {
    v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64
}

impl Metric for Nll {
    fn needs_density(&self) -> bool {
        true
    }
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        let d = density(i, "Nll")?;
        Ok(vec![("nll".into(), -mean(&d.reference_log_q))])
    }
}

impl Metric for Rnll {
    fn needs_density(&self) -> bool {
        true
    }
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        let d = density(i, "Rnll")?;
        let r = mean(&d.sample_energy);
        let mut out = vec![("rnll".into(), r)];
        if let Some(lz) = i.target.log_z() {
            out.push(("rnll_normalised".into(), r + lz));
        }
        Ok(out)
    }
}

/// log w = -E(x) - log q(x) of the model's samples.
pub fn log_weights(d: &ModelDensity) -> Vec<f64> {
    d.sample_energy
        .iter()
        .zip(&d.sample_log_q)
        .map(|(&e, &l)| -(e as f64) - l as f64)
        .collect()
}

impl Metric for Ess {
    fn needs_density(&self) -> bool {
        true
    }
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        let lw = log_weights(density(i, "Ess")?);
        let n = lw.len() as f64;
        Ok(vec![
            ("ess".into(), ess_fraction(&lw)),
            ("log_z_estimate".into(), log_sum_exp_f64(&lw) - n.ln()),
        ])
    }
}

macro_rules! build_self {
    ($($t:ty),*) => {$(
        impl MetricConfig for $t {
            fn build(&self) -> anyhow::Result<Box<dyn Metric>> {
                Ok(Box::new(self.clone()))
            }
        }
    )*};
}
build_self!(Nll, Rnll, Ess);

crate::register!(
    Metric,
    "Nll",
    Nll,
    "flows: NLL = -mean log q(x) over the reference set"
);
crate::register!(
    Metric,
    "Rnll",
    Rnll,
    "flows: RNLL = -mean log p~(x) = mean E(x) over the model's own samples (+ log Z where known)"
);
crate::register!(
    Metric,
    "Ess",
    Ess,
    "flows: ESS of the weights p~/q of the model's own samples, (sum w)^2 / sum w^2 / n, and the IS estimate of log Z"
);

#[cfg(test)]
mod tests {
    use super::*;

    /// q = p exactly (log w constant): ESS 1 and the log Z estimate exact; one dominant weight: ESS 1/n.
    #[test]
    fn ess_of_known_weights() {
        let d = ModelDensity {
            sample_log_q: vec![-1.0, -2.0, -3.0],
            sample_energy: vec![1.5, 2.5, 3.5],
            reference_log_q: vec![],
        };
        let lw = log_weights(&d);
        assert!((ess_fraction(&lw) - 1.0).abs() < 1e-12);
        assert!((log_sum_exp_f64(&lw) - 3f64.ln() - (-0.5)).abs() < 1e-12);
        let lw = vec![0.0, -800.0, -900.0, -1000.0];
        assert!((ess_fraction(&lw) - 0.25).abs() < 1e-12);
    }
}
