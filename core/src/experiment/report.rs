//! The typed report of a finished run: metrics.json and metrics.ron are its serialisation, and
//! `nsamp table` reads it back.

use crate::train::StepRecord;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// Metric name -> value. JSON writes a non-finite value as `null`; reading maps `null` to NaN.
pub type Figures = BTreeMap<String, f64>;

fn nan_figures<'de, D: Deserializer<'de>>(d: D) -> Result<Figures, D::Error> {
    let raw: BTreeMap<String, Option<f64>> = Deserialize::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
        .collect())
}

fn nan_figures_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Figures>, D::Error> {
    let raw: Option<BTreeMap<String, Option<f64>>> = Deserialize::deserialize(d)?;
    Ok(raw.map(|m| {
        m.into_iter()
            .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
            .collect()
    }))
}

/// Energy evaluations per phase (one per configuration, with or without gradient).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnergyEvals {
    /// Training (including the objective's initialisation).
    pub training: u64,
    /// Drawing the final samples.
    pub sampling: u64,
    /// The corrector.
    pub correction: u64,
}

impl EnergyEvals {
    /// The method's whole budget: training + sampling + correction (the evaluation's own
    /// evaluations, e.g. of a reference, are not the method's).
    pub fn total(&self) -> u64 {
        self.training + self.sampling + self.correction
    }
}

/// Wall times per phase, seconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct WallTimes {
    /// Training.
    pub training: f64,
    /// Sampling and correction.
    pub sampling: f64,
    /// Evaluation (both sides of the corrector and the exact floor).
    pub evaluation: f64,
}

/// What the numbers were computed against.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EvalProtocol {
    /// Samples scored (`eval.samples`).
    pub samples: usize,
    /// Where the reference came from.
    pub reference: String,
    /// Reference rows.
    pub n_reference: usize,
    /// Samples the nsamp protocol's histogram TVDs scored (`eval.tvd_samples`; `samples` when
    /// there was no wider set; 0 in reports written before the wide set existed).
    #[serde(default)]
    pub tvd_samples: usize,
    /// Reference rows of those TVDs.
    #[serde(default)]
    pub tvd_reference: usize,
    /// Energy evaluations spent drawing the TVD set's rows beyond `samples` (the evaluation's,
    /// not the method's budget).
    #[serde(default)]
    pub tvd_sampling_energy_evals: u64,
    /// Rows on each side of the floor's TVDs: `tvd_samples` for an exact floor; for a split-half
    /// floor at most half the reference (5,000 against 5,000 for a 10,000-row reference), which
    /// puts that floor above what two sets of `tvd_samples` rows would score. 0: no floor (or a
    /// report written before this field).
    #[serde(default)]
    pub floor_tvd_rows: usize,
}

/// Every mixture component's share of the samples (mixture targets).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModeOccupancy {
    /// The components' true weights.
    pub weights: Vec<f32>,
    /// Shares of the evaluated samples.
    pub samples: Vec<f64>,
    /// Shares of the sampler's own output, when a corrector ran.
    pub before_corrector: Option<Vec<f64>>,
}

/// The report of a finished run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// The recipe's name (the method's row in `nsamp table`).
    pub recipe: String,
    /// The master seed.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
    /// nsamp's version.
    pub nsamp_version: String,
    /// The target's registered name.
    pub target: String,
    /// One line describing the model (or "no model ...").
    pub model: String,
    /// Model parameters.
    pub parameters: usize,
    /// The objective's name (trained methods).
    pub objective: Option<String>,
    /// The training-free sampler's name.
    #[serde(default)]
    pub sampler: Option<String>,
    /// Training steps of the recipe.
    pub train_steps: u64,
    /// Means of the loss, gradient norm and diagnostics over the last 10% of steps.
    #[serde(deserialize_with = "nan_figures")]
    pub train_diagnostics: Figures,
    /// The metrics of the evaluated samples.
    #[serde(deserialize_with = "nan_figures")]
    pub metrics: Figures,
    /// The same metrics for exact samples (targets with an exact sampler).
    #[serde(deserialize_with = "nan_figures_opt")]
    pub exact_floor: Option<Figures>,
    /// Targets without an exact sampler: the same metrics for the reference set's second half
    /// against its first half.
    #[serde(default, deserialize_with = "nan_figures_opt")]
    pub split_half_floor: Option<Figures>,
    /// With a corrector: the metrics of the sampler's own output.
    #[serde(deserialize_with = "nan_figures_opt")]
    pub metrics_before_corrector: Option<Figures>,
    /// Mixture targets: shares per component.
    pub mode_occupancy: Option<ModeOccupancy>,
    /// The corrector's report (acceptance, ESS, ...).
    #[serde(deserialize_with = "nan_figures")]
    pub corrector: Figures,
    /// The training-free sampler's report (acceptance, tau, ...).
    #[serde(default, deserialize_with = "nan_figures")]
    pub sampler_report: Figures,
    /// Energy evaluations per phase of the method (its budget).
    pub energy_evals: EnergyEvals,
    /// Energy evaluations the evaluation spent (not part of the budget).
    #[serde(default)]
    pub evaluation_energy_evals: u64,
    /// Wall times.
    pub wall_time_s: WallTimes,
    /// The evaluation protocol.
    pub eval_protocol: EvalProtocol,
}

impl RunReport {
    /// The floor the run reports, with its name: "exact floor" or "split-half floor".
    pub fn floor(&self) -> Option<(&'static str, &Figures)> {
        crate::eval::named_floor(self.exact_floor.as_ref(), self.split_half_floor.as_ref())
    }

    /// The method's name: the objective's or the training-free sampler's.
    pub fn method(&self) -> &str {
        self.objective
            .as_deref()
            .or(self.sampler.as_deref())
            .unwrap_or("?")
    }
}

/// Means of the loss, gradient norm and the objective's diagnostics over the last 10% of steps.
pub fn final_diagnostics(history: &[StepRecord]) -> Figures {
    let mut out = BTreeMap::new();
    if history.is_empty() {
        return out;
    }
    let tail = &history[history.len() - (history.len() / 10).max(1)..];
    let n = tail.len() as f64;
    out.insert("loss".into(), tail.iter().map(|r| r.loss).sum::<f64>() / n);
    out.insert(
        "grad_norm".into(),
        tail.iter().map(|r| r.grad_norm).sum::<f64>() / n,
    );
    for (i, (k, _)) in tail[0].diagnostics.iter().enumerate() {
        out.insert(
            k.clone(),
            tail.iter().map(|r| r.diagnostics[i].1).sum::<f64>() / n,
        );
    }
    out
}
