//! Writing a 2D field as a colour-mapped PNG, and beside it an SVG that reads as a
//! matplotlib user's `imshow` with a colour bar: the image, a title, axis labels and ticks,
//! and the colour scale with its values.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ndarray::ArrayView2;

/// How values map to colours: the gradient over `[low, high]`, logarithmic or linear, and
/// what the values are (the colour bar's label).
pub struct ColourScale {
    pub gradient: colorous::Gradient,
    pub low: f64,
    pub high: f64,
    pub log: bool,
    pub label: String,
}

impl ColourScale {
    /// Where `v` falls on the scale, in [0, 1] (below `low`: 0).
    pub fn unit(&self, v: f64) -> f64 {
        let t = if self.log {
            let low = self.low.max(f64::MIN_POSITIVE);
            (v.max(low) / low).log10() / (self.high / low).log10()
        } else {
            (v - self.low) / (self.high - self.low)
        };
        if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// The colour bar's ticks: the decades of a log scale, five even steps of a linear one.
    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (self.low.max(f64::MIN_POSITIVE).log10(), self.high.log10());
            (a.ceil() as i32..=b.floor() as i32)
                .map(|e| 10f64.powi(e))
                .collect()
        } else {
            (0..=4)
                .map(|i| self.low + (self.high - self.low) * f64::from(i) / 4.0)
                .collect()
        }
    }
}

/// What the figure says around the image.
pub struct Figure<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
}

/// Writes `values` (row 0 at the top) as an RGB PNG at `path` through `scale`, and the
/// figure (title, labelled axes, colour bar) as an SVG beside it with the PNG embedded.
/// Creates the parent directory if needed. Returns the SVG's path.
pub fn write_heat_map(
    path: &Path,
    values: ArrayView2<'_, f64>,
    scale: &ColourScale,
    figure: &Figure<'_>,
) -> std::io::Result<PathBuf> {
    write_png(path, values, scale.gradient, |v| scale.unit(v))?;
    let png = std::fs::read(path)?;
    let svg_path = path.with_extension("svg");
    let (rows, cols) = values.dim();
    std::fs::write(&svg_path, figure_svg(&png, rows, cols, scale, figure))?;
    Ok(svg_path)
}

/// A number as a tick label: short, in scientific notation outside [0.01, 10⁴).
fn tick_label(v: f64) -> String {
    if v == 0.0 || (0.01..1e4).contains(&v.abs()) {
        format!("{}", (v * 1000.0).round() / 1000.0)
    } else {
        format!("{v:.0e}")
    }
}

fn figure_svg(png: &[u8], rows: usize, cols: usize, scale: &ColourScale, f: &Figure<'_>) -> String {
    // The image is drawn in a 480-unit square's worth of area, keeping its aspect.
    let side = 480.0;
    let (w, h) = if cols >= rows {
        (side, side * rows as f64 / cols.max(1) as f64)
    } else {
        (side * cols as f64 / rows.max(1) as f64, side)
    };
    let (left, top) = (70.0, 50.0);
    let bar_x = left + w + 30.0;
    let (width, height) = (bar_x + 110.0, top + h + 60.0);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="28" text-anchor="middle" font-size="15" font-weight="bold">{}</text>
<image x="{left}" y="{top}" width="{w}" height="{h}" preserveAspectRatio="none" style="image-rendering:pixelated" href="data:image/png;base64,{}"/>
<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="black"/>
"#,
        width / 2.0,
        escape(f.title),
        base64::engine::general_purpose::STANDARD.encode(png),
    );
    // Axis ticks at the first, middle and last cell.
    for (i, c) in [0, cols / 2, cols.saturating_sub(1)]
        .into_iter()
        .enumerate()
    {
        let x = left + (c as f64 + 0.5) * w / cols.max(1) as f64;
        let _ = write!(
            svg,
            r#"<text x="{x}" y="{}" text-anchor="middle">{c}</text>"#,
            top + h + 16.0
        );
        let r = [0, rows / 2, rows.saturating_sub(1)][i];
        let y = top + (r as f64 + 0.5) * h / rows.max(1) as f64;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{r}</text>"#,
            left - 6.0,
            y + 4.0
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text><text x="20" y="{}" text-anchor="middle" transform="rotate(-90 20 {})">{}</text>"#,
        left + w / 2.0,
        top + h + 36.0,
        escape(f.x_label),
        top + h / 2.0,
        top + h / 2.0,
        escape(f.y_label),
    );
    svg.push_str(&colour_bar(scale, bar_x, top, h));
    svg.push_str("</svg>\n");
    svg
}

/// The colour bar: the gradient from `high` (top) to `low`, ticks and the scale's label.
fn colour_bar(scale: &ColourScale, x: f64, top: f64, h: f64) -> String {
    let mut out = String::from(r#"<defs><linearGradient id="bar" x1="0" y1="1" x2="0" y2="0">"#);
    for i in 0..=16 {
        let t = f64::from(i) / 16.0;
        let c = scale.gradient.eval_continuous(t);
        let _ = write!(
            out,
            r#"<stop offset="{t}" stop-color="rgb({},{},{})"/>"#,
            c.r, c.g, c.b
        );
    }
    let _ = write!(
        out,
        r#"</linearGradient></defs><rect x="{x}" y="{top}" width="18" height="{h}" fill="url(#bar)" stroke="black"/>"#
    );
    for v in scale.ticks() {
        let y = top + h * (1.0 - scale.unit(v));
        let _ = write!(
            out,
            r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="black"/><text x="{}" y="{}">{}</text>"#,
            x + 18.0,
            x + 23.0,
            x + 26.0,
            y + 4.0,
            tick_label(v)
        );
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(90 {} {})">{}</text>"#,
        x + 95.0,
        top + h / 2.0,
        x + 95.0,
        top + h / 2.0,
        escape(&scale.label)
    );
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes `values` (row 0 at the top) as an RGB PNG, mapping each value through `to_unit`
/// (which must return a number in [0, 1]) and then through `gradient`. Creates the parent
/// directory if needed.
pub fn write_png(
    path: &Path,
    values: ArrayView2<'_, f64>,
    gradient: colorous::Gradient,
    to_unit: impl Fn(f64) -> f64,
) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let (rows, cols) = values.dim();
    let too_big = |n: usize| u32::try_from(n).map_err(std::io::Error::other);
    let mut encoder = png::Encoder::new(
        std::io::BufWriter::new(std::fs::File::create(path)?),
        too_big(cols)?,
        too_big(rows)?,
    );
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut rgb = Vec::with_capacity(rows * cols * 3);
    for &v in values {
        let t = to_unit(v);
        let colour = gradient.eval_continuous(if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        });
        rgb.extend_from_slice(&[colour.r, colour.g, colour.b]);
    }
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer
        .write_image_data(&rgb)
        .map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}
