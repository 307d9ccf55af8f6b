//! Diffusive KL (DiKL, He et al. 2025): a one-step generator trained by the reverse diffusive KL with an auxiliary score network (DESIGN.md "Baselines").
