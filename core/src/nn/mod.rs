//! Network building blocks shared by model plugins.

pub mod gelu;
pub mod tanh;
