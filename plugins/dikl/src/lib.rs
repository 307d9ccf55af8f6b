//! Diffusive KL (DiKL; He, Chen, Zhang, Barber, Hernandez-Lobato, AISTATS 2025;
//! jiajunhe98/DiKL @ 11876a5): a one-step generator x = g(z) trained by the reverse KL between the
//! diffused generator law q_t and the diffused target p_t, sum_t w(t) KL(q_t || p_t), whose gradient
//! needs grad log q_t (an auxiliary score network trained by DSM on generator samples) and
//! grad log p_t (posterior sampling and the mixed score identity). DESIGN.md, "Baselines".
//!
//! Registered: the objective `Dikl`, the generator `GeneratorMlp` and the auxiliary score network
//! `DiklScoreMlp` (named in `Dikl(score_net: ...)`).

pub mod aux_net;
pub mod generator;
pub mod identity;
pub mod objective;
pub mod posterior;
pub mod sampler;
pub mod schedule;
pub mod score_net;
pub mod truncnorm;

pub use generator::{GeneratorMlp, GeneratorMlpConfig};
pub use identity::ScoreIdentity;
pub use objective::{Dikl, DiklConfig, DiklWeight};
pub use posterior::{sample_posterior, Noisy, PosteriorConfig, PosteriorDraw};
pub use score_net::{DiklScoreMlp, DiklScoreMlpConfig};

nsamp_core::register!(
    Objective,
    "Dikl",
    DiklConfig,
    "DiKL: a one-step generator trained by the diffusive reverse KL (auxiliary DSM score net, posterior AIS + MALA target score)"
);
nsamp_core::register!(
    Model,
    "GeneratorMlp",
    GeneratorMlpConfig,
    "one-step generator MLP z -> [SiLU layers] -> x (DiKL's GMM sampler)"
);
nsamp_core::register!(
    Model,
    "DiklScoreMlp",
    DiklScoreMlpConfig,
    "DiKL's auxiliary score MLP: SiLU layers with an added fixed random-Fourier embedding of the integer step t"
);
