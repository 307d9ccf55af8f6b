//! Stable log-sum-exp and softmax.

/// log sum_i exp(v_i), computed as m + ln sum exp(v_i - m) with m = max v (f64 accumulation).
/// Returns -inf for an empty slice or all -inf.
pub fn log_sum_exp(v: &[f32]) -> f32 {
    let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !m.is_finite() {
        return m;
    }
    let s: f64 = v.iter().map(|&a| ((a - m) as f64).exp()).sum();
    m + s.ln() as f32
}

/// log sum_i exp(v_i) in f64.
pub fn log_sum_exp_f64(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|&a| (a - m).exp()).sum::<f64>().ln()
}

/// In place: v <- softmax(v). Returns the log-sum-exp of the input.
pub fn softmax_in_place(v: &mut [f32]) -> f32 {
    let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut s = 0f64;
    for a in v.iter_mut() {
        *a = (*a - m).exp();
        s += *a as f64;
    }
    let inv = (1.0 / s) as f32;
    for a in v.iter_mut() {
        *a *= inv;
    }
    m + s.ln() as f32
}

/// Effective sample size from log weights, as a fraction of n:
/// exp(2 LSE(log w) - LSE(2 log w)) / n = (sum w)^2 / (n sum w^2).
pub fn ess_fraction(log_w: &[f64]) -> f64 {
    let n = log_w.len() as f64;
    let two: Vec<f64> = log_w.iter().map(|a| 2.0 * a).collect();
    (2.0 * log_sum_exp_f64(log_w) - log_sum_exp_f64(&two)).exp() / n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lse_is_stable_and_exact() {
        let v = [1000.0f32, 1000.0];
        assert!((log_sum_exp(&v) - (1000.0 + 2f32.ln())).abs() < 1e-3);
        let w = [0.1f32, -0.3, 2.0];
        let direct = w.iter().map(|a| (*a as f64).exp()).sum::<f64>().ln();
        assert!((log_sum_exp(&w) as f64 - direct).abs() < 1e-6);
        assert_eq!(log_sum_exp(&[]), f32::NEG_INFINITY);
    }

    #[test]
    fn softmax_sums_to_one_for_far_apart_values() {
        let mut v = [-800.0f32, 0.0, -1.0];
        softmax_in_place(&mut v);
        assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(v[0], 0.0);
    }

    #[test]
    fn ess_of_equal_and_degenerate_weights() {
        assert!((ess_fraction(&[0.3; 10]) - 1.0).abs() < 1e-12);
        let mut lw = vec![-1e3; 10];
        lw[3] = 0.0;
        assert!((ess_fraction(&lw) - 0.1).abs() < 1e-12);
    }
}
