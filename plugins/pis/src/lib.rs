//! Path integral sampler (PIS, Zhang and Chen 2022): a controlled SDE trained by the path-space reverse KL (DESIGN.md "Baselines").
