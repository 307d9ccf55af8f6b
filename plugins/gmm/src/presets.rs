//! Named presets: the standard GMM-40 benchmark, GMM-80 / GMM-120, and the ring mixtures MOG-4 / MOG-8.

use crate::mixture::Mixture;
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::rand::Rng as _;
use nsamp_core::{Target, TargetConfig};

/// softplus(1) = ln(1 + e): the per-axis standard deviation of the GMM benchmarks.
pub const SOFTPLUS_ONE: f32 = 1.313_261_7;

/// The 40 means of the standard GMM-40 benchmark (FAB / iDEM / DiKL / IW-SM papers: drawn
/// U[-40, 40]^2 from PyTorch's generator with seed 0), written out so the product needs no data file.
#[allow(clippy::excessive_precision)] // verbatim from the published table
pub const GMM40_MEANS: [[f32; 2]; 40] = [
    [-0.299473, 21.457745],
    [-32.921806, -29.437561],
    [-15.406175, 10.726295],
    [-0.792527, 31.715580],
    [-3.549762, 10.584502],
    [-12.088523, -7.862616],
    [-38.213940, -26.491283],
    [-16.488924, 1.481743],
    [15.813408, 24.000912],
    [-27.117643, -17.418514],
    [14.528685, 33.215519],
    [-8.232007, 29.932470],
    [-6.447334, 4.232564],
    [36.219048, -37.106815],
    [-25.181519, -10.126610],
    [-15.591998, 34.560032],
    [-25.927185, -18.413315],
    [-27.945618, -37.462440],
    [-23.349619, 34.383923],
    [17.848736, 19.386902],
    [2.103662, -20.507339],
    [6.767387, -37.347790],
    [-28.902649, -20.621201],
    [25.237518, 23.452850],
    [-17.739801, -1.443295],
    [25.582428, 39.765324],
    [15.875287, 5.403714],
    [26.819454, -23.552094],
    [7.453761, -31.012220],
    [-27.723446, -20.663342],
    [18.098923, 16.086416],
    [-23.694099, 12.084284],
    [21.958881, -5.048695],
    [1.527262, 9.268188],
    [24.815063, 38.407764],
    [-30.824944, -14.658790],
    [15.720396, 33.141975],
    [34.808292, 35.294270],
    [7.960582, -34.783306],
    [3.679700, -25.024214],
];

fn iso(k: usize, std: f32) -> (Vec<f32>, Vec<f32>) {
    (vec![std; 2 * k], vec![1.0; k])
}

nsamp_core::config! {
    /// `Gmm40(std: 1.3132617)`: the standard 40-mode benchmark; equal weights, isotropic std;
    /// sampler unit 50 (normalised units x/50).
    pub struct Gmm40Config {
        /// Per-axis standard deviation of every component (softplus(1)).
        std: f32 = SOFTPLUS_ONE,
    }
}

impl TargetConfig for Gmm40Config {
    fn build(&self) -> anyhow::Result<Box<dyn Target>> {
        let means: Vec<f32> = GMM40_MEANS.iter().flatten().copied().collect();
        let (stds, w) = iso(40, self.std);
        Ok(Box::new(Mixture::new(means, stds, w, 2, 50.0)?))
    }
}

/// Means of the GMM-80 / GMM-120 presets: K points uniform in [-half, half]^2 from the
/// `gmm-means` stream (index K) of seed 0 (Xoshiro256++, see `nsamp_core::numerics::rng`).
pub fn uniform_means(k: usize, half: f32) -> Vec<f32> {
    let mut rng = RngStreams::new(0).stream("gmm-means", k as u64);
    (0..2 * k).map(|_| rng.random_range(-half..half)).collect()
}

macro_rules! uniform_preset {
    ($cfg:ident, $k:expr, $half:expr, $scale:expr) => {
        nsamp_core::config! {
            /// K equal-weight components with means uniform in [-half, half]^2 (fixed seed).
            pub struct $cfg {
                /// Per-axis standard deviation of every component (softplus(1)).
                std: f32 = SOFTPLUS_ONE,
            }
        }
        impl TargetConfig for $cfg {
            fn build(&self) -> anyhow::Result<Box<dyn Target>> {
                let (stds, w) = iso($k, self.std);
                Ok(Box::new(Mixture::new(
                    uniform_means($k, $half),
                    stds,
                    w,
                    2,
                    $scale,
                )?))
            }
        }
    };
}
uniform_preset!(Gmm80Config, 80, 80.0, 100.0);
uniform_preset!(Gmm120Config, 120, 120.0, 150.0);

/// K equal-weight isotropic components evenly spaced on a circle of `radius` (component c at
/// angle 2 pi c / K); sampler unit 1.
fn ring(k: usize, radius: f32, std: f32) -> anyhow::Result<Box<dyn Target>> {
    anyhow::ensure!(radius >= 0.0 && radius.is_finite(), "radius must be >= 0");
    let means: Vec<f32> = (0..k)
        .flat_map(|c| {
            let a = 2.0 * std::f64::consts::PI * c as f64 / k as f64;
            [
                (radius as f64 * a.cos()) as f32,
                (radius as f64 * a.sin()) as f32,
            ]
        })
        .collect();
    let (stds, w) = iso(k, std);
    Ok(Box::new(Mixture::new(means, stds, w, 2, 1.0)?))
}

macro_rules! ring_preset {
    ($cfg:ident, $k:expr) => {
        nsamp_core::config! {
            /// Equal-weight isotropic components evenly on a circle (ScoreNF's MOG-K).
            pub struct $cfg {
                /// Radius of the circle of means.
                radius: f32 = 5.0,
                /// Per-axis standard deviation.
                std: f32 = 0.5,
            }
        }
        impl TargetConfig for $cfg {
            fn build(&self) -> anyhow::Result<Box<dyn Target>> {
                ring($k, self.radius, self.std)
            }
        }
    };
}
ring_preset!(Mog4Config, 4);
ring_preset!(Mog8Config, 8);

nsamp_core::register!(
    Target,
    "Mog4",
    Mog4Config,
    "4 equal-weight isotropic Gaussians evenly on a circle (ScoreNF's MOG-4)"
);
nsamp_core::register!(
    Target,
    "Mog8",
    Mog8Config,
    "8 equal-weight isotropic Gaussians evenly on a circle (ScoreNF's MOG-8)"
);
nsamp_core::register!(
    Target,
    "Gmm40",
    Gmm40Config,
    "the standard 40-mode 2-D benchmark (means in [-40, 40]^2, std softplus(1)); sampler unit 50"
);
nsamp_core::register!(
    Target,
    "Gmm80",
    Gmm80Config,
    "80-mode 2-D mixture, means uniform in [-80, 80]^2 from a fixed seed; sampler unit 100"
);
nsamp_core::register!(
    Target,
    "Gmm120",
    Gmm120Config,
    "120-mode 2-D mixture, means uniform in [-120, 120]^2 from a fixed seed; sampler unit 150"
);
