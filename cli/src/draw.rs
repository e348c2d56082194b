//! Text drawn with plotters on the command line's figures and sheets, with the bundled font:
//! the plots (`plot`) and the labelled comparison sheets (`eval compare`).

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The bundled font (DejaVu Sans, free licence: `cli/assets/DejaVuSans-LICENSE.txt`): the
/// plots need no system fonts.
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the bundled font under plotters' `sans-serif`.
fn register_font() -> Result<()> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| anyhow::anyhow!("the bundled font could not be read"))
}

/// Rows of tiles with a label left of each row, light text on the sheet's dark background:
/// the comparison sheets, where each row is a model's output. Tiles are enlarged `scale`
/// times (nearest neighbour) before the labels are set beside them.
pub fn labelled_rows(
    rows: &[(String, Vec<image::RgbImage>)],
    scale: u32,
) -> Result<image::RgbImage> {
    const FONT_SIZE: f64 = 18.0;
    let tiles: Vec<Vec<image::RgbImage>> = rows.iter().map(|(_, tiles)| tiles.clone()).collect();
    let sheet = crate::images::grid(&tiles);
    let sheet = image::imageops::resize(
        &sheet,
        sheet.width() * scale,
        sheet.height() * scale,
        image::imageops::FilterType::Nearest,
    );
    let longest = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    // At most half the font size per character of DejaVu Sans, plus a margin.
    let margin = (longest as f64 * FONT_SIZE * 0.5) as u32 + 16;
    let (width, height) = (sheet.width() + margin, sheet.height());
    register_font()?;
    let mut buffer = vec![24u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        let row_height = sheet.height() as f64 / rows.len().max(1) as f64;
        let style = ("sans-serif", FONT_SIZE)
            .into_font()
            .color(&RGBColor(230, 230, 230))
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            ));
        for (r, (label, _)) in rows.iter().enumerate() {
            let y = (row_height * (r as f64 + 0.5)) as i32;
            root.draw(&Text::new(label.as_str(), (8, y), &style))
                .map_err(draw_error)?;
        }
        root.present().map_err(draw_error)?;
    }
    let mut out =
        image::RgbImage::from_raw(width, height, buffer).expect("buffer of the sheet size");
    image::imageops::replace(&mut out, &sheet, margin as i64, 0);
    Ok(out)
}

/// A figure of `size` pixels on white, drawn by `draw` and saved as a PNG at `out`: the one
/// place the plots set up the font, the bitmap and the file.
pub fn save_figure(
    out: &Path,
    size: (u32, u32),
    draw: impl for<'a> FnOnce(&DrawingArea<BitMapBackend<'a>, Shift>) -> Result<()>,
) -> Result<()> {
    register_font()?;
    let mut buffer = vec![0u8; (size.0 * size.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        draw(&root)?;
        root.present().map_err(draw_error)?;
    }
    let image =
        image::RgbImage::from_raw(size.0, size.1, buffer).expect("buffer of the figure size");
    crate::images::save_png(&image, out, 1)
}

pub fn draw_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("could not draw the plot: {e:?}")
}
