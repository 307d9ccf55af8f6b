//! Integrated autocorrelation time of a multi-chain trace, with Sokal's automatic window.
//!
//! tau = 1 + 2 sum_{t=1}^{M} rho(t), where rho is the normalised autocorrelation averaged over
//! chains (each chain centred on its own mean) and M is the smallest lag with M >= c tau (c = 5).
//! In this convention independent draws have tau = 1 and N correlated draws carry N / tau
//! effective samples.

/// Sokal's window constant c.
pub const SOKAL_WINDOW: f64 = 5.0;

/// tau of `trace`, laid out step-major: `trace[t * chains + c]` is chain c at step t.
/// Returns 1 for traces shorter than 4 steps or with zero variance.
pub fn integrated_autocorr_time(trace: &[f64], chains: usize) -> f64 {
    assert!(chains > 0 && trace.len().is_multiple_of(chains));
    let steps = trace.len() / chains;
    if steps < 4 {
        return 1.0;
    }
    // Centre each chain.
    let mut centred = trace.to_vec();
    for c in 0..chains {
        let m = (0..steps).map(|t| trace[t * chains + c]).sum::<f64>() / steps as f64;
        for t in 0..steps {
            centred[t * chains + c] -= m;
        }
    }
    let autocov = |lag: usize| -> f64 {
        let a = &centred[..(steps - lag) * chains];
        let b = &centred[lag * chains..];
        a.iter().zip(b).map(|(u, v)| u * v).sum::<f64>() / ((steps - lag) * chains) as f64
    };
    let c0 = autocov(0);
    if c0 <= 0.0 || !c0.is_finite() {
        return 1.0;
    }
    let mut tau = 1.0;
    for lag in 1..steps / 2 {
        tau += 2.0 * autocov(lag) / c0;
        if lag as f64 >= SOKAL_WINDOW * tau {
            break;
        }
    }
    tau.max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::rng::{fill_normal, RngStreams};

    /// AR(1) x_t = a x_{t-1} + noise has rho(t) = a^t, so tau = (1 + a) / (1 - a).
    #[test]
    fn ar1_has_known_tau() {
        let chains = 256;
        let steps = 4000;
        let a = 0.8f64;
        let mut rng = RngStreams::new(3).stream("ar1", 0);
        let mut noise = vec![0f32; steps * chains];
        fill_normal(&mut rng, &mut noise);
        let mut trace = vec![0f64; steps * chains];
        for c in 0..chains {
            let mut x = 0.0;
            for t in 0..steps {
                x = a * x + noise[t * chains + c] as f64;
                trace[t * chains + c] = x;
            }
        }
        let tau = integrated_autocorr_time(&trace, chains);
        let exact = (1.0 + a) / (1.0 - a);
        assert!((tau - exact).abs() < 0.05 * exact, "tau {tau} vs {exact}");
        let white: Vec<f64> = noise.iter().map(|&v| v as f64).collect();
        let t1 = integrated_autocorr_time(&white, chains);
        assert!((t1 - 1.0).abs() < 0.1, "white noise tau {t1}");
    }
}
