//! One training step's mini-batch and the score-regression loss of the trained members.
//!
//! Per step, with the `dem-batch` stream of the step: x_0 (B rows) from the buffer or the prior
//! N(0, h(1) I); t_i ~ U(0, 1); J noisy copies x^{ij} = x_0^i + sqrt(h(t_i)) eps^{ij}
//! (centre-of-mass free for particles). iDEM and pDEM are J = 1.

use crate::settings::Lambda;
use crate::state::{DiffusionState, X0Source};
use nsamp_core::candle::{Device, Tensor};
use nsamp_core::numerics::rng::{fill_normal, Rng};
use nsamp_core::rand::Rng as _;
use nsamp_core::{Context, ScoreModel};

/// One step's mini-batch: B clean points, their times, and J noisy copies of each.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// x_0, B x dim.
    pub x0: Vec<f32>,
    /// t_i, B.
    pub t: Vec<f32>,
    /// h(t_i), B.
    pub h: Vec<f32>,
    /// x^{ij}, (B J) x dim, copy j of row i at row i J + j.
    pub xt: Vec<f32>,
    /// h(t_i) repeated for each copy, B J.
    pub h_rep: Vec<f32>,
    /// t_i repeated for each copy, B J.
    pub t_rep: Vec<f32>,
}

impl DiffusionState {
    /// Draws step `step`'s batch of `b` rows with `copies` noisy copies each into `batch`.
    pub fn draw_batch(
        &self,
        step: u64,
        b: usize,
        copies: usize,
        cx: &Context<'_>,
        batch: &mut Batch,
    ) {
        let d = self.dim;
        batch.x0.resize(b * d, 0.0);
        batch.t.resize(b, 0.0);
        batch.h.resize(b, 0.0);
        batch.xt.resize(b * copies * d, 0.0);
        let mut rng: Rng = cx.streams.stream("dem-batch", step);
        match (&self.buffer, self.source) {
            (Some(buf), X0Source::Buffer) => buf.sample_into(&mut rng, &mut batch.x0),
            _ => {
                fill_normal(&mut rng, &mut batch.x0);
                self.com_free(&mut batch.x0);
                let sd = self.sde.schedule.h(1.0).sqrt() as f32;
                batch.x0.iter_mut().for_each(|v| *v *= sd);
            }
        }
        for (t, h) in batch.t.iter_mut().zip(batch.h.iter_mut()) {
            *t = rng.random::<f32>();
            *h = self.sde.schedule.h(*t as f64) as f32;
        }
        fill_normal(&mut rng, &mut batch.xt);
        self.com_free(&mut batch.xt);
        for (i, (x0, &h)) in batch.x0.chunks_exact(d).zip(&batch.h).enumerate() {
            let sd = h.sqrt();
            for j in 0..copies {
                let row = &mut batch.xt[(i * copies + j) * d..(i * copies + j + 1) * d];
                for (a, &b0) in row.iter_mut().zip(x0) {
                    *a = b0 + sd * *a;
                }
            }
        }
        batch.h_rep = batch
            .h
            .iter()
            .flat_map(|&h| std::iter::repeat_n(h, copies))
            .collect();
        batch.t_rep = batch
            .t
            .iter()
            .flat_map(|&t| std::iter::repeat_n(t, copies))
            .collect();
    }
}

/// The score-regression loss over a batch of B J rows (copy j of buffer sample i at row i J + j):
///   (1/B) sum_{ij} w^{ij} lambda(t_i) mean_d (s_theta(t_i, x^{ij}) - S_K(x^{ij}))^2,
/// with w = 1 when `weights` is None (iDEM: J = 1). Computed as J times the mean over rows, so
/// iDEM and IW-SM with J = 1 perform the same operations and give the same bits.
pub fn regression_loss(
    score: &dyn ScoreModel,
    batch: &Batch,
    target_score: &[f32],
    weights: Option<&[f32]>,
    lambda: Lambda,
    device: &Device,
) -> anyhow::Result<Tensor> {
    let rows = batch.t_rep.len();
    let copies = rows / batch.t.len();
    let d = batch.xt.len() / rows;
    let pred = score.score(
        &Tensor::from_slice(&batch.t_rep, rows, device)?,
        &Tensor::from_slice(&batch.xt, (rows, d), device)?,
    )?;
    let target = Tensor::from_slice(target_score, (rows, d), device)?;
    let coef: Vec<f32> = match weights {
        Some(w) => w
            .iter()
            .zip(&batch.h_rep)
            .map(|(&w, &h)| w * lambda.weight(h))
            .collect(),
        None => batch.h_rep.iter().map(|&h| lambda.weight(h)).collect(),
    };
    let per_row = (pred - target)?.sqr()?.mean(1)?;
    let loss = (per_row * Tensor::from_vec(coef, rows, device)?)?.mean_all()?;
    // x * 1.0 is exact, so J = 1 keeps iDEM's bits.
    Ok((loss * copies as f64)?)
}
