//! Flow annealed importance sampling bootstrap (FAB, Midgley et al. 2023): a flow trained by the alpha = 2 divergence with AIS and a prioritised replay buffer (DESIGN.md "Baselines").
