//! Writing a 2D field as a colour-mapped PNG.

use std::path::Path;

use ndarray::ArrayView2;

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
