//! PNG plots of a run: samples over the reference with filled density contours (2-D targets;
//! beside the sampler's raw output when a corrector ran), energy and distance histograms of
//! samples and reference, the share per mixture component, the loss curve and diagnostics.

use super::LogFile;
use nsamp_core::eval::energies;
use nsamp_core::experiment::{Checkpoint, SampleSet};
use nsamp_core::train::StepRecord;
use nsamp_core::{Observer, RunReport, Target};
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

static FONT: Once = Once::new();

pub(crate) fn ensure_font() {
    FONT.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}

/// Line and marker colours of the plots that compare several runs.
pub(crate) const PALETTE: [RGBColor; 9] = [
    BLUE,
    RED,
    BLACK,
    GREEN,
    MAGENTA,
    CYAN,
    RGBColor(255, 140, 0),
    RGBColor(128, 0, 128),
    RGBColor(139, 69, 19),
];

/// The range of `ys` widened by 10% each side (0..1 when empty), for a value axis.
pub(crate) fn padded_range(ys: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.1).max(1e-9);
    (lo - pad)..(hi + pad)
}

pub(crate) type PlotResult = anyhow::Result<()>;

pub(crate) fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("plot: {e}")
}

/// Writes the plots of a run as it goes on: loss.png and diagnostics.png when training ends,
/// samples.png (2-D targets), distance_hist.png (particles) and energy_hist.png once sampled,
/// occupancy.png (mixtures) at the end. A plot that fails is a warning in the log, not an error.
pub struct Plots {
    dir: PathBuf,
    log: LogFile,
    /// Particle paths of a particle sampler's trace, drawn once the target is known.
    paths: Vec<Vec<(f32, f32)>>,
}

impl Plots {
    /// Plots go into `dir`; warnings are appended to its log.txt and printed.
    pub fn new(dir: &Path) -> anyhow::Result<Self> {
        Ok(Plots {
            dir: dir.to_path_buf(),
            log: LogFile::open(dir)?,
            paths: Vec::new(),
        })
    }

    fn warn(&mut self, what: &str, r: PlotResult) {
        if let Err(e) = r {
            let line = format!("warning: {what} not written: {e:#}");
            eprintln!("{line}");
            self.log.line(&line);
        }
    }
}

impl Observer for Plots {
    fn checkpoint(&mut self, cp: &Checkpoint<'_>) -> anyhow::Result<()> {
        if !cp.last || cp.history.is_empty() {
            return Ok(());
        }
        if cp.history.iter().any(|r| !r.diagnostics.is_empty()) {
            let r = diagnostics(&self.dir.join("diagnostics.png"), cp.history);
            self.warn("diagnostics plot", r);
        }
        let r = loss_curve(&self.dir.join("loss.png"), cp.history);
        self.warn("loss plot", r);
        Ok(())
    }
    fn trace(&mut self, trace: &nsamp_core::Trace) -> anyhow::Result<()> {
        let r = trace_plot(&self.dir.join("trace.png"), trace);
        self.warn("trace plot", r);
        self.paths = trace.paths.clone();
        Ok(())
    }
    fn samples(&mut self, set: &SampleSet<'_>) -> anyhow::Result<()> {
        let r = write_all(&self.dir, set);
        self.warn("plots", r);
        if !self.paths.is_empty() {
            let path = self.dir.join("trajectories.png");
            let r = trajectories(&path, set.target, &self.paths, set.reference);
            self.warn("trajectory plot", r);
        }
        Ok(())
    }
    fn finished(&mut self, report: &RunReport) -> anyhow::Result<()> {
        if let Some(o) = &report.mode_occupancy {
            let path = self.dir.join("occupancy.png");
            let r = occupancy(&path, &o.weights, &o.samples, o.before_corrector.as_deref());
            self.warn("occupancy plot", r);
        }
        Ok(())
    }
}

/// Writes samples.png (2-D targets), distance_hist.png (particle targets), energy_hist.png.
pub fn write_all(dir: &Path, set: &SampleSet<'_>) -> PlotResult {
    let (target, samples) = (set.target, &set.samples.x[..]);
    if target.dim() == 2 {
        samples_2d(
            &dir.join("samples.png"),
            target,
            samples,
            set.raw,
            set.reference,
        )?;
    }
    if target.particles().is_some() {
        distance_histogram(
            &dir.join("distance_hist.png"),
            target,
            samples,
            set.reference,
        )?;
    }
    histogram_png(
        &dir.join("energy_hist.png"),
        "energy histogram: samples (red) vs reference (black)",
        "E(x)",
        &energies(target, samples)?,
        set.reference_energy,
    )
}

/// The plot window of a 2-D target: for a mixture the square [-h, h]^2 with h the largest
/// |mean| + 4 std of any component and at least the sampler's length unit (GMM-40: 50, the
/// prior's scale; MOG-8: 7); otherwise the reference's range.
fn window(target: &dyn Target, reference: &[f32]) -> ((f32, f32), (f32, f32)) {
    match target.mixture() {
        Some(mix) => {
            let h = mix
                .means
                .iter()
                .zip(&mix.stds)
                .map(|(m, s)| m.abs() + 4.0 * s)
                .fold(target.natural_scale(), f32::max);
            ((-h, h), (-h, h))
        }
        None => {
            let lo = reference.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = reference.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            ((lo, hi), (lo, hi))
        }
    }
}

/// Points of `x` (pairs) inside the window, and how many fall outside it.
pub fn inside(x: &[f32], w: ((f32, f32), (f32, f32))) -> (Vec<(f32, f32)>, usize) {
    let ((x0, x1), (y0, y1)) = w;
    let pts: Vec<(f32, f32)> = x
        .chunks_exact(2)
        .map(|p| (p[0], p[1]))
        .filter(|&(a, b)| (x0..=x1).contains(&a) && (y0..=y1).contains(&b))
        .collect();
    let outside = x.len() / 2 - pts.len();
    (pts, outside)
}

/// Samples (red) over the reference (grey) and filled contours of log p (bands of 2 nats).
/// With `raw` (a corrector ran), the sampler's own output is drawn in a left panel and the
/// corrected samples in a right one. Samples outside the window are counted in each caption,
/// not drawn.
pub fn samples_2d(
    path: &Path,
    target: &dyn Target,
    samples: &[f32],
    raw: Option<&[f32]>,
    reference: &[f32],
) -> PlotResult {
    ensure_font();
    let w = window(target, reference);
    let bands = density_bands(target, w)?;
    let width = if raw.is_some() { 1800 } else { 900 };
    let root = BitMapBackend::new(path, (width, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    match raw {
        Some(raw) => {
            let (left, right) = root.split_horizontally(900);
            panel(
                &left,
                "sampler output, before the corrector",
                w,
                &bands,
                raw,
                reference,
            )?;
            panel(&right, "after the corrector", w, &bands, samples, reference)?;
        }
        None => panel(&root, "samples", w, &bands, samples, reference)?,
    }
    root.present().map_err(err)?;
    Ok(())
}

/// A grid cell (x0, y0, x1, y1) and its log-density band.
type Band = (f32, f32, f32, f32, u8);

/// Cells of a 180 x 180 grid over the window with their log-density band (0..12, 2 nats each).
fn density_bands(target: &dyn Target, w: ((f32, f32), (f32, f32))) -> anyhow::Result<Vec<Band>> {
    let ((x0, x1), (y0, y1)) = w;
    let g = 180usize;
    let (dx, dy) = ((x1 - x0) / g as f32, (y1 - y0) / g as f32);
    let grid: Vec<f32> = (0..g * g)
        .flat_map(|i| {
            [
                x0 + (i % g) as f32 * dx + dx / 2.0,
                y0 + (i / g) as f32 * dy + dy / 2.0,
            ]
        })
        .collect();
    let e = energies(target, &grid)?;
    let emin = e.iter().copied().fold(f32::INFINITY, f32::min);
    Ok((0..g * g)
        .filter_map(|i| {
            let band = ((e[i] - emin) / 2.0).floor();
            let (cx, cy) = (x0 + (i % g) as f32 * dx, y0 + (i / g) as f32 * dy);
            (0.0..12.0)
                .contains(&band)
                .then_some((cx, cy, cx + dx, cy + dy, band as u8))
        })
        .collect())
}

/// The bands as filled cells: lighter blue for lower density.
fn band_cells(bands: &[Band]) -> impl Iterator<Item = Rectangle<(f32, f32)>> + '_ {
    bands.iter().map(|&(a, b, c, d, band)| {
        let shade = 1.0 - 0.45 * (1.0 - band as f64 / 12.0);
        let col = RGBColor((255.0 * shade) as u8, (255.0 * shade) as u8, 255);
        Rectangle::new([(a, b), (c, d)], col.filled())
    })
}

/// One scatter panel: bands, reference (grey), samples (red); the caption counts the samples
/// outside the window.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    w: ((f32, f32), (f32, f32)),
    bands: &[Band],
    samples: &[f32],
    reference: &[f32],
) -> PlotResult {
    let ((x0, x1), (y0, y1)) = w;
    let (pts, outside) = inside(samples, w);
    let (refs, _) = inside(reference, w);
    let caption = format!(
        "{title}: {} samples (red; {outside} outside the window) over the reference (grey)",
        samples.len() / 2
    );
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart.configure_mesh().disable_mesh().draw().map_err(err)?;
    chart.draw_series(band_cells(bands)).map_err(err)?;
    chart
        .draw_series(
            refs.into_iter()
                .map(|p| Circle::new(p, 2, RGBColor(120, 120, 120).filled())),
        )
        .map_err(err)?;
    chart
        .draw_series(
            pts.into_iter()
                .map(|p| Circle::new(p, 1, RGBColor(220, 30, 30).filled())),
        )
        .map_err(err)?;
    Ok(())
}

/// Overlaid histograms of all interparticle distances (particle targets).
pub fn distance_histogram(
    path: &Path,
    target: &dyn Target,
    samples: &[f32],
    reference: &[f32],
) -> PlotResult {
    let p = target
        .particles()
        .ok_or_else(|| anyhow::anyhow!("distance histogram needs a particle target"))?;
    let (mut ds, mut dr) = (Vec::new(), Vec::new());
    nsamp_core::numerics::pairwise::interparticle_distances(samples, p.n, p.spatial_dim, &mut ds);
    nsamp_core::numerics::pairwise::interparticle_distances(reference, p.n, p.spatial_dim, &mut dr);
    histogram_png(
        path,
        "interparticle distances: samples (red) vs reference (black)",
        "|x_i - x_j|",
        &ds,
        &dr,
    )
}

/// Two overlaid normalised histograms over the reference's range (to its 99.5% quantile).
fn histogram_png(path: &Path, title: &str, xlabel: &str, es: &[f32], er: &[f32]) -> PlotResult {
    ensure_font();
    let mut sorted: Vec<f32> = er.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    anyhow::ensure!(!sorted.is_empty(), "no finite reference values");
    let lo = sorted[0];
    let hi = sorted[(sorted.len() * 995 / 1000).min(sorted.len() - 1)];
    let (lo, hi) = (lo - 0.05 * (hi - lo + 1.0), hi + 0.15 * (hi - lo + 1.0));
    let bins = 60usize;
    let w = (hi - lo) / bins as f32;
    let hist = |v: &[f32]| {
        let mut h = vec![0f32; bins];
        for &x in v {
            if x.is_finite() && x >= lo && x < hi {
                h[((x - lo) / w) as usize] += 1.0;
            }
        }
        let n = v.len().max(1) as f32;
        h.iter_mut().for_each(|c| *c /= n * w);
        h
    };
    let (hs, hr) = (hist(es), hist(er));
    let top = hs.iter().chain(&hr).copied().fold(0f32, f32::max) * 1.1 + 1e-6;
    let root = BitMapBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(lo..hi, 0f32..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(xlabel)
        .y_desc("density")
        .draw()
        .map_err(err)?;
    let step = |h: &[f32]| -> Vec<(f32, f32)> {
        h.iter()
            .enumerate()
            .flat_map(|(i, &c)| [(lo + i as f32 * w, c), (lo + (i + 1) as f32 * w, c)])
            .collect()
    };
    chart
        .draw_series(LineSeries::new(step(&hr), BLACK.stroke_width(2)))
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(step(&hs), RED.stroke_width(2)))
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Mixture targets: the share of samples in each component (red bars; before the corrector,
/// grey bars on the left of each component) against the component weights (black ticks).
pub fn occupancy(
    path: &Path,
    weights: &[f32],
    after: &[f64],
    before: Option<&[f64]>,
) -> PlotResult {
    ensure_font();
    let k = weights.len();
    let top = after
        .iter()
        .chain(before.unwrap_or(&[]))
        .copied()
        .chain(weights.iter().map(|&w| w as f64))
        .fold(0f64, f64::max)
        * 1.15
        + 1e-6;
    let root = BitMapBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let title = if before.is_some() {
        "share per component: after (red) / before (grey) the corrector; weights (black)"
    } else {
        "share of samples per component (red) vs weights (black)"
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(-0.5f64..k as f64 - 0.5, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("component")
        .y_desc("share of samples")
        .x_labels(k.min(40))
        .x_label_formatter(&|v| format!("{}", v.round() as i64))
        .draw()
        .map_err(err)?;
    let bars = |shares: &[f64], lo: f64, hi: f64, color: RGBColor| {
        shares
            .iter()
            .enumerate()
            .map(move |(c, &o)| {
                let x = c as f64;
                Rectangle::new([(x + lo, 0.0), (x + hi, o)], color.filled())
            })
            .collect::<Vec<_>>()
    };
    if let Some(b) = before {
        chart
            .draw_series(bars(b, -0.4, 0.0, RGBColor(150, 150, 150)))
            .map_err(err)?;
        chart
            .draw_series(bars(after, 0.0, 0.4, RGBColor(220, 30, 30)))
            .map_err(err)?;
    } else {
        chart
            .draw_series(bars(after, -0.4, 0.4, RGBColor(220, 30, 30)))
            .map_err(err)?;
    }
    for (c, &w) in weights.iter().enumerate() {
        let x = c as f64;
        chart
            .draw_series(LineSeries::new(
                [(x - 0.45, w as f64), (x + 0.45, w as f64)],
                BLACK.stroke_width(3),
            ))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// The training loss per step (log scale when positive).
pub fn loss_curve(path: &Path, history: &[StepRecord]) -> PlotResult {
    ensure_font();
    let pts: Vec<(f64, f64)> = history
        .iter()
        .filter(|r| r.loss.is_finite() && r.loss > 0.0)
        .map(|r| (r.step as f64, r.loss))
        .collect();
    anyhow::ensure!(!pts.is_empty(), "no positive finite losses");
    let (lo, hi) = pts
        .iter()
        .fold((f64::INFINITY, 0f64), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let root = BitMapBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("training loss", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            0f64..pts.last().unwrap().0.max(1.0),
            (lo * 0.8..hi * 1.25).log_scale(),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("loss")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(pts, BLUE.mix(0.6)))
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// One panel per diagnostic of the objective (e.g. IW-SM's ESS and max weight) against the step.
pub fn diagnostics(path: &Path, history: &[StepRecord]) -> PlotResult {
    ensure_font();
    let names: Vec<String> = history[0]
        .diagnostics
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    anyhow::ensure!(!names.is_empty(), "no diagnostics");
    let root = BitMapBackend::new(path, (900, 300 * names.len() as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let last = history.last().unwrap().step as f64;
    for (i, panel) in root.split_evenly((names.len(), 1)).iter().enumerate() {
        let pts: Vec<(f64, f64)> = history
            .iter()
            .map(|r| (r.step as f64, r.diagnostics[i].1))
            .filter(|p| p.1.is_finite())
            .collect();
        let y = padded_range(pts.iter().map(|p| p.1));
        let mut chart = ChartBuilder::on(panel)
            .caption(&names[i], ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..last.max(1.0), y)
            .map_err(err)?;
        chart.configure_mesh().x_desc("step").draw().map_err(err)?;
        chart
            .draw_series(LineSeries::new(pts, BLUE.mix(0.6)))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// A few particles' paths (blue lines, start o, end x) over the target's log-density bands.
pub fn trajectories(
    path: &Path,
    target: &dyn Target,
    paths: &[Vec<(f32, f32)>],
    reference: &[f32],
) -> PlotResult {
    ensure_font();
    let w = window(target, reference);
    let bands = density_bands(target, w)?;
    let root = BitMapBackend::new(path, (900, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let ((x0, x1), (y0, y1)) = w;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("paths of {} particles over the log-density", paths.len()),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart.configure_mesh().disable_mesh().draw().map_err(err)?;
    chart.draw_series(band_cells(&bands)).map_err(err)?;
    for p in paths.iter().filter(|p| !p.is_empty()) {
        chart
            .draw_series(LineSeries::new(p.iter().copied(), BLUE.stroke_width(2)))
            .map_err(err)?;
        chart
            .draw_series([Circle::new(p[0], 4, BLACK.filled())])
            .map_err(err)?;
        chart
            .draw_series([Cross::new(p[p.len() - 1], 5, RED.stroke_width(2))])
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// A particle sampler's trace: one panel per quantity (columns grouped by the name before the
/// first `_`: `kl_gauss`, `kl_kde`, `kl_exact` share a panel, so do `fisher`, `fisher_exact`), each
/// series against the first column (time), with a legend.
pub fn trace_plot(path: &Path, trace: &nsamp_core::Trace) -> PlotResult {
    traces_plot(path, &[(String::new(), trace.clone())])
}

/// Several runs' traces on one figure (e.g. SBTM, ULA and the exact flow): per quantity a panel,
/// per run and column a series labelled `run: column`, each against its own run's time.
pub fn traces_plot(path: &Path, runs: &[(String, nsamp_core::Trace)]) -> PlotResult {
    ensure_font();
    anyhow::ensure!(
        runs.iter()
            .all(|(_, t)| t.columns.len() >= 2 && !t.rows.is_empty()),
        "empty trace"
    );
    // (panel key, [(run, column)]) in first-seen order.
    let mut groups: Vec<(String, Vec<(usize, usize)>)> = Vec::new();
    for (r, (_, trace)) in runs.iter().enumerate() {
        for (c, name) in trace.columns.iter().enumerate().skip(1) {
            let key = name.split('_').next().unwrap_or(name).to_string();
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, cols)) => cols.push((r, c)),
                None => groups.push((key, vec![(r, c)])),
            }
        }
    }
    let root = BitMapBackend::new(path, (900, 300 * groups.len() as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let t_end = runs
        .iter()
        .filter_map(|(_, t)| t.rows.last().map(|r| r[0]))
        .fold(1e-12, f64::max);
    let colors = [BLUE, RED, BLACK, GREEN, MAGENTA, CYAN];
    for (panel, (key, cols)) in root.split_evenly((groups.len(), 1)).iter().zip(&groups) {
        let series: Vec<Vec<(f64, f64)>> = cols
            .iter()
            .map(|&(r, c)| {
                runs[r]
                    .1
                    .rows
                    .iter()
                    .map(|row| (row[0], row[c]))
                    .filter(|p| p.1.is_finite())
                    .collect()
            })
            .collect();
        let y = padded_range(series.iter().flatten().map(|p| p.1));
        let mut chart = ChartBuilder::on(panel)
            .caption(key, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..t_end, y)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(runs[0].1.columns[0].as_str())
            .draw()
            .map_err(err)?;
        for ((pts, &(r, c)), color) in series.into_iter().zip(cols).zip(colors.iter().cycle()) {
            let color = *color;
            let (run, trace) = &runs[r];
            let label = match run.as_str() {
                "" => trace.columns[c].clone(),
                run => format!("{run}: {}", trace.columns[c]),
            };
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Each metric of each run against the run's energy evaluations (log axis): one panel per
/// metric, one colour per method (recipe name), the first exact floor as a dashed line.
pub fn budget_plot(path: &Path, reports: &[RunReport]) -> PlotResult {
    ensure_font();
    let mut methods: Vec<&str> = Vec::new();
    let mut metrics: Vec<&str> = Vec::new();
    for r in reports {
        if !methods.contains(&r.recipe.as_str()) {
            methods.push(&r.recipe);
        }
        for (k, v) in &r.metrics {
            if v.is_finite() && !metrics.contains(&k.as_str()) {
                metrics.push(k);
            }
        }
    }
    anyhow::ensure!(!metrics.is_empty(), "no finite metric to plot");
    let evals: Vec<f64> = reports
        .iter()
        .map(|r| (r.energy_evals.total() as f64).max(1.0))
        .collect();
    let (e_lo, e_hi) = evals
        .iter()
        .fold((f64::INFINITY, 0f64), |(a, b), &e| (a.min(e), b.max(e)));
    let (e_lo, e_hi) = (e_lo / 3.0, e_hi * 3.0);
    let cols = 2usize.min(metrics.len());
    let rows = metrics.len().div_ceil(cols);
    let root = BitMapBackend::new(path, (600 * cols as u32, 320 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let color_of =
        |m: &str| PALETTE[methods.iter().position(|x| *x == m).unwrap_or(0) % PALETTE.len()];
    for (panel, metric) in root.split_evenly((rows, cols)).iter().zip(&metrics) {
        let value = |r: &RunReport| r.metrics.get(*metric).copied().filter(|v| v.is_finite());
        let (floor_label, floor) = reports
            .iter()
            .find_map(|r| {
                let (label, f) = r.floor()?;
                Some((label, f.get(*metric).copied()?))
            })
            .filter(|(_, v)| v.is_finite())
            .unzip();
        let y = padded_range(reports.iter().filter_map(value).chain(floor));
        let mut chart = ChartBuilder::on(panel)
            .caption(*metric, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d((e_lo..e_hi).log_scale(), y)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("energy evaluations (training + sampling + correction)")
            .x_label_formatter(&|v| format!("{v:.0e}"))
            .draw()
            .map_err(err)?;
        if let Some(f) = floor {
            chart
                .draw_series(DashedLineSeries::new(
                    [(e_lo, f), (e_hi, f)],
                    6,
                    4,
                    BLACK.mix(0.6).stroke_width(1),
                ))
                .map_err(err)?
                .label(floor_label.unwrap_or("floor"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.6)));
        }
        for m in &methods {
            let color = color_of(m);
            let pts: Vec<(f64, f64)> = reports
                .iter()
                .zip(&evals)
                .filter(|(r, _)| r.recipe == *m)
                .filter_map(|(r, &e)| value(r).map(|v| (e, v)))
                .collect();
            chart
                .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))
                .map_err(err)?
                .label(*m)
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::inside;

    /// Points outside the window are counted, not kept; the border belongs to the window.
    #[test]
    fn points_outside_the_window_are_counted() {
        let x = [0.0, 0.0, 1.0, 1.0, 1.5, 0.0, -0.5, 0.5, 0.5, 2.0];
        let (pts, outside) = inside(&x, ((0.0, 1.0), (0.0, 1.0)));
        assert_eq!(pts, vec![(0.0, 0.0), (1.0, 1.0)]);
        assert_eq!(outside, 3);
    }
}
