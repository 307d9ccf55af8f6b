//! The plot of `nsamp curve`: each chosen metric against training steps (left) and against
//! energy evaluations (right), one colour per run, the floor (exact or split-half) dashed.

use super::plots::{ensure_font, err, padded_range, PlotResult, PALETTE};
use crate::cmd::curve::Curve;
use plotters::prelude::*;
use std::path::Path;

/// One row per metric in `metrics`; the columns share the y range of their row.
pub fn metric_curves(path: &Path, curves: &[Curve], metrics: &[String]) -> PlotResult {
    ensure_font();
    anyhow::ensure!(!metrics.is_empty(), "no metric to plot");
    let points = curves.iter().flat_map(|c| &c.points);
    let (mut s_hi, mut e_hi) = (1f64, 1f64);
    for p in points {
        s_hi = s_hi.max(p.snapshot.step as f64);
        e_hi = e_hi.max(p.snapshot.energy_evals as f64);
    }
    let (s_hi, e_hi) = (s_hi * 1.02, e_hi * 1.02);
    let root = BitMapBackend::new(path, (1200, 320 * metrics.len() as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((metrics.len(), 2));
    for (row, metric) in metrics.iter().enumerate() {
        let value = |p: &nsamp_core::experiment::curve::CurvePoint| {
            p.metrics.get(metric).copied().filter(|v| v.is_finite())
        };
        let floor = curves
            .iter()
            .find_map(|c| {
                let f = c.floor.as_ref()?;
                Some((f.metrics.get(metric).copied()?, f.kind.label()))
            })
            .filter(|(v, _)| v.is_finite());
        let y = padded_range(
            curves
                .iter()
                .flat_map(|c| c.points.iter().filter_map(value))
                .chain(floor.as_ref().map(|f| f.0)),
        );
        // Left: against steps.
        let mut chart = ChartBuilder::on(&panels[2 * row])
            .caption(format!("{metric} against steps"), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..s_hi, y.clone())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("training steps")
            .draw()
            .map_err(err)?;
        draw_lines(&mut chart, curves, floor.as_ref(), (0.0, s_hi), |p| {
            value(p).map(|v| (p.snapshot.step as f64, v))
        })?;
        // Right: against energy evaluations.
        let mut chart = ChartBuilder::on(&panels[2 * row + 1])
            .caption(
                format!("{metric} against energy evaluations"),
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..e_hi, y)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("energy evaluations (training, initialisation included)")
            .x_label_formatter(&|v| format!("{v:.1e}"))
            .draw()
            .map_err(err)?;
        draw_lines(&mut chart, curves, floor.as_ref(), (0.0, e_hi), |p| {
            value(p).map(|v| (p.snapshot.energy_evals as f64, v))
        })?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Each curve as a line with markers, the floor dashed across `x_range`, and the legend.
fn draw_lines<'a, X, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    curves: &[Curve],
    floor: Option<&(f64, &'static str)>,
    x_range: (f64, f64),
    point: impl Fn(&nsamp_core::experiment::curve::CurvePoint) -> Option<(f64, f64)>,
) -> PlotResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    if let Some((f, label)) = floor {
        let f = *f;
        chart
            .draw_series(DashedLineSeries::new(
                [(x_range.0, f), (x_range.1, f)],
                6,
                4,
                BLACK.mix(0.6).stroke_width(1),
            ))
            .map_err(err)?
            .label(*label)
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.6)));
    }
    for (i, c) in curves.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let pts: Vec<(f64, f64)> = c.points.iter().filter_map(&point).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(c.label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}
