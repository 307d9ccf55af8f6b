//! The blocks of the registered RON examples that several members share: every field at its
//! default, commented. `nsamp list` and schemas/components.md show them; a test parses every
//! example and checks that it documents every field, nested ones included.

/// `schedule: (...)`, as in every member.
macro_rules! schedule_example {
    () => {
        r#"
    // Geometric VE schedule, sampler units: h(t) = sigma_min^2 ((sigma_max/sigma_min)^(2t) - 1).
    schedule: (
        sigma_min: 1e-5,
        sigma_max: 1.0,
    ),"#
    };
}

/// `sde: (...)`, as in every member.
macro_rules! sde_example {
    () => {
        r#"
    // Reverse SDE: Euler-Maruyama steps N and noise scale c (1 = exact).
    sde: (
        steps: 1000,
        noise_scale: 1.0,
    ),"#
    };
}

/// `scale`, as in every member.
macro_rules! scale_example {
    () => {
        r#"
    // Sampler length unit; None = the target's natural scale (GMM-40: 50).
    scale: None,"#
    };
}

/// The fields of `Idem(...)`, shared by `Pdem(...)` and `IwSm(...)`.
macro_rules! settings_example {
    () => {
        concat!(
            $crate::examples::schedule_example!(),
            r#"
    // Monte Carlo target score S_K.
    mc: (
        // K, samples per point.
        samples: 500,
        // Clip of S_K: whole-vector norm (per particle for particle targets); None = no clip.
        clip: Some(70.0),
    ),
    // lambda(t): Variance(eps) = h(t) + eps, or Constant(c).
    lambda: Variance(1e-3),
    // Replay buffer and outer loop (unused by Pdem).
    buffer: (
        // Capacity, initial size, and how the initial buffer is filled: Prior or McScoreSde(steps: N).
        size: 10000,
        initial: 1024,
        init: McScoreSde(steps: 1000),
        // Every refill_every steps, push refill_samples reverse-SDE samples of the network.
        refill_every: 100,
        refill_samples: 1000,
    ),"#,
            $crate::examples::sde_example!(),
            $crate::examples::scale_example!(),
        )
    };
}

pub(crate) use {scale_example, schedule_example, sde_example, settings_example};
