//! Batched pairwise distances.

/// Squared Euclidean distances between every row of `a` (na x dim) and every row of `b`
/// (nb x dim), written to `out` (na x nb, row-major).
pub fn pairwise_sq_dists(a: &[f32], b: &[f32], dim: usize, out: &mut [f32]) {
    let nb = b.len() / dim;
    debug_assert_eq!(out.len(), (a.len() / dim) * nb);
    for (ra, orow) in a.chunks_exact(dim).zip(out.chunks_exact_mut(nb)) {
        for (rb, o) in b.chunks_exact(dim).zip(orow.iter_mut()) {
            let mut s = 0f32;
            for k in 0..dim {
                let d = ra[k] - rb[k];
                s += d * d;
            }
            *o = s;
        }
    }
}

/// Distances |x_i - x_j| between all unordered particle pairs i < j of each configuration in a
/// batch (`n` particles of `spatial_dim` each): `out` holds n(n-1)/2 values per configuration.
pub fn interparticle_distances(x: &[f32], n: usize, spatial_dim: usize, out: &mut Vec<f32>) {
    out.clear();
    let cfg = n * spatial_dim;
    for c in x.chunks_exact(cfg) {
        for i in 0..n {
            for j in i + 1..n {
                let mut s = 0f32;
                for k in 0..spatial_dim {
                    let d = c[i * spatial_dim + k] - c[j * spatial_dim + k];
                    s += d * d;
                }
                out.push(s.sqrt());
            }
        }
    }
}

/// Subtracts each configuration's particle mean (centre of mass) in place.
pub fn remove_mean(x: &mut [f32], n: usize, spatial_dim: usize) {
    for c in x.chunks_exact_mut(n * spatial_dim) {
        for k in 0..spatial_dim {
            let m = (0..n).map(|i| c[i * spatial_dim + k]).sum::<f32>() / n as f32;
            for i in 0..n {
                c[i * spatial_dim + k] -= m;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_distances() {
        let a = [0.0, 0.0, 3.0, 4.0];
        let mut out = [0f32; 4];
        pairwise_sq_dists(&a, &a, 2, &mut out);
        assert_eq!(out, [0.0, 25.0, 25.0, 0.0]);
        let tri = [0.0, 0.0, 3.0, 0.0, 0.0, 4.0];
        let mut d = Vec::new();
        interparticle_distances(&tri, 3, 2, &mut d);
        assert_eq!(d, vec![3.0, 4.0, 5.0]);
        let mut y = tri;
        remove_mean(&mut y, 3, 2);
        assert!((y[0] + y[2] + y[4]).abs() < 1e-6 && (y[1] + y[3] + y[5]).abs() < 1e-6);
    }
}
