//! Log-log plots of a sweep, one line per backend flavour, crossovers marked.

use std::path::Path;

use plotters::prelude::*;

use hpnum::crossover::Point;

/// Every backend flavour, in the order tables and legends list them.
pub const FLAVOURS: [&str; 7] = [
    "scalar",
    "simd",
    "rayon",
    "gpu",
    "gpu-resident",
    "gpu-readback",
    "auto",
];

const COLOURS: [RGBColor; 7] = [
    RGBColor(120, 120, 120),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(23, 190, 207),
];

/// Draws `value(point)` against size for every flavour into an SVG at `path`, with a
/// dashed vertical line at each `(size, label)` crossover.
pub fn plot(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[&Point],
    value: impl Fn(&Point) -> f64,
    crossovers: &[(usize, String)],
) -> Result<(), Box<dyn std::error::Error>> {
    let finite: Vec<&Point> = points
        .iter()
        .copied()
        .filter(|p| value(p).is_finite() && value(p) > 0.0)
        .collect();
    if finite.is_empty() {
        return Ok(());
    }
    let (x_min, x_max) = finite.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
        (lo.min(p.size as f64), hi.max(p.size as f64))
    });
    let (y_min, y_max) = finite.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
        (lo.min(value(p)), hi.max(value(p)))
    });
    // Ticks at the measured sizes.
    let mut sizes: Vec<f64> = finite.iter().map(|p| p.size as f64).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    let sizes_len = sizes.len();
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(
            (x_min / 1.2..x_max * 1.2)
                .log_scale()
                .with_key_points(sizes),
            (y_min / 2.0..y_max * 2.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_labels(sizes_len)
        .y_labels(8)
        .light_line_style(WHITE)
        .x_label_formatter(&|v| {
            if *v >= 1e5 {
                format!("{v:.0e}")
            } else {
                format!("{v:.0}")
            }
        })
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()?;
    let mut flavours: Vec<&str> = finite.iter().map(|p| p.backend.as_str()).collect();
    flavours.dedup();
    flavours.sort_unstable();
    flavours.dedup();
    for flavour in &flavours {
        // The same colour for a backend in every plot.
        let i = FLAVOURS
            .iter()
            .position(|f| f == flavour)
            .unwrap_or(FLAVOURS.len());
        let colour = COLOURS[i % COLOURS.len()];
        let mut line: Vec<(f64, f64)> = finite
            .iter()
            .filter(|p| p.backend == *flavour)
            .map(|p| (p.size as f64, value(p)))
            .collect();
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(line.clone(), colour.stroke_width(2)))?
            .label(*flavour)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        chart.draw_series(
            line.iter()
                .map(|&(x, y)| Circle::new((x, y), 3, colour.filled())),
        )?;
    }
    for (size, label) in crossovers {
        let x = *size as f64;
        chart.draw_series(DashedLineSeries::new(
            vec![(x, y_min / 2.0), (x, y_max * 2.0)],
            6,
            4,
            BLACK.stroke_width(1),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            label.clone(),
            (x * 1.03, y_max),
            ("sans-serif", 14).into_font(),
        )))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
