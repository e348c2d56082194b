//! Images on disk: PNG/JPEG in, PNG sheets out. Pixels travel as `channels x side x side`
//! floats in [-1, 1] (the generator's tanh range).

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use burn::prelude::*;
use image::{DynamicImage, GenericImageView, RgbImage};

/// Reads one image and checks it fits the model: `side x side`, 1 (grey) or 3 (colour) channels.
pub fn load(path: &Path, side: usize, channels: usize) -> Result<Vec<f32>> {
    let img = image::open(path).with_context(|| {
        format!(
            "could not read the image {} (is it a PNG or JPEG file?)",
            path.display()
        )
    })?;
    from_dynamic(&img, side, channels).with_context(|| format!("{}", path.display()))
}

/// Reads one image for training: the largest centred square, resized (bilinear) to
/// `side x side`, in grey or colour as the model wants (whatever the file holds).
pub fn load_resized(path: &Path, side: usize, channels: usize) -> Result<Vec<f32>> {
    let img = image::open(path).with_context(|| {
        format!(
            "could not decode the image {} (PNG or JPEG expected)",
            path.display()
        )
    })?;
    let (w, h) = img.dimensions();
    let c = w.min(h);
    let square = img.crop_imm((w - c) / 2, (h - c) / 2, c, c);
    let resized = if c as usize == side {
        square
    } else {
        square.resize_exact(
            side as u32,
            side as u32,
            image::imageops::FilterType::Triangle,
        )
    };
    let converted = if channels == 1 {
        DynamicImage::ImageLuma8(resized.to_luma8())
    } else {
        DynamicImage::ImageRgb8(resized.to_rgb8())
    };
    from_dynamic(&converted, side, channels)
}

/// Checks and converts a decoded image (see [`load`]).
pub fn from_dynamic(img: &DynamicImage, side: usize, channels: usize) -> Result<Vec<f32>> {
    let (w, h) = img.dimensions();
    if w as usize != side || h as usize != side {
        bail!("the image is {w}x{h} pixels but the model works on {side}x{side}: resize it first");
    }
    let has = if img.color().has_color() { 3 } else { 1 };
    if has != channels {
        let name = |c| {
            if c == 1 {
                "grey (1 channel)"
            } else {
                "colour (3 channels)"
            }
        };
        bail!(
            "the image is {} but the model works on {} images",
            name(has),
            name(channels)
        );
    }
    let n = side * side;
    let mut out = vec![0.0f32; channels * n];
    if channels == 1 {
        for (i, p) in img.to_luma8().pixels().enumerate() {
            out[i] = dinfogan::pixels::unit(p.0[0]);
        }
    } else {
        for (i, p) in img.to_rgb8().pixels().enumerate() {
            for k in 0..3 {
                out[k * n + i] = dinfogan::pixels::unit(p.0[k]);
            }
        }
    }
    Ok(out)
}

/// An RGB image as channel-major bytes (red plane, green plane, blue plane).
pub fn rgb_planes(img: &RgbImage) -> Vec<u8> {
    let n = (img.width() * img.height()) as usize;
    let mut planes = vec![0u8; 3 * n];
    for (i, p) in img.pixels().enumerate() {
        for k in 0..3 {
            planes[k * n + i] = p.0[k];
        }
    }
    planes
}

/// One `channels x side x side` image in [-1, 1] to 8-bit RGB (grey repeated).
pub fn to_rgb(pixels: &[f32], channels: usize, side: usize) -> RgbImage {
    let n = side * side;
    let byte = dinfogan::pixels::byte;
    RgbImage::from_fn(side as u32, side as u32, |x, y| {
        let i = y as usize * side + x as usize;
        if channels == 1 {
            let g = byte(pixels[i]);
            image::Rgb([g, g, g])
        } else {
            image::Rgb([
                byte(pixels[i]),
                byte(pixels[n + i]),
                byte(pixels[2 * n + i]),
            ])
        }
    })
}

/// A batch of generated (or real) images on any device, one RGB image each. On wgpu the
/// project's WGSL kernel packs the pixels on the GPU before read back (`dinfogan::gpu`); other
/// devices convert on the CPU, with the same rounding.
pub fn tensor_to_rgb(images: Tensor<4>) -> Result<Vec<RgbImage>> {
    let [_, channels, side, _] = images.dims();
    let rgba = match dinfogan::gpu::pack_rgba(&images) {
        Some(packed) => dinfogan::gpu::texel_bytes_blocking(packed).map_err(|e| anyhow!(e))?,
        None => dinfogan::pixels::rgba_from_images(&crate::io::read(images)?, channels, side),
    };
    Ok(rgba
        .chunks_exact(side * side * 4)
        .map(|image| {
            RgbImage::from_fn(side as u32, side as u32, |x, y| {
                let i = (y as usize * side + x as usize) * 4;
                image::Rgb([image[i], image[i + 1], image[i + 2]])
            })
        })
        .collect())
}

/// How many times a sheet of `side`-pixel tiles is enlarged when saved: 32x32 tiles twice, so
/// that they can be seen; larger ones as they are.
pub fn sheet_scale(side: usize) -> u32 {
    if side <= 32 {
        2
    } else {
        1
    }
}

/// Rows of equally sized tiles on a dark background with 2-pixel gaps; rows may differ in length.
pub fn grid(rows: &[Vec<RgbImage>]) -> RgbImage {
    const GAP: u32 = 2;
    let Some(first) = rows.iter().flatten().next() else {
        return RgbImage::new(1, 1);
    };
    let (tw, th) = first.dimensions();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let width = cols * (tw + GAP) + GAP;
    let height = rows.len() as u32 * (th + GAP) + GAP;
    let mut sheet = RgbImage::from_pixel(width, height, image::Rgb([24, 24, 24]));
    for (r, row) in rows.iter().enumerate() {
        for (c, tile) in row.iter().enumerate() {
            let x = GAP + c as u32 * (tw + GAP);
            let y = GAP + r as u32 * (th + GAP);
            image::imageops::replace(&mut sheet, tile, x as i64, y as i64);
        }
    }
    sheet
}

/// Tiles side by side in one row, without gaps (the example strips the browser viewer slices).
pub fn strip(tiles: &[RgbImage]) -> RgbImage {
    let Some(first) = tiles.first() else {
        return RgbImage::new(1, 1);
    };
    let (tw, th) = first.dimensions();
    let mut out = RgbImage::new(tw * tiles.len() as u32, th);
    for (c, tile) in tiles.iter().enumerate() {
        image::imageops::replace(&mut out, tile, (c as u32 * tw) as i64, 0);
    }
    out
}

/// Writes a PNG atomically (a temporary file renamed over the target), enlarging small tiles
/// `scale` times with nearest-neighbour so that 32x32 images stay visible.
pub fn save_png(sheet: &RgbImage, path: &Path, scale: u32) -> Result<()> {
    let img = if scale > 1 {
        image::imageops::resize(
            sheet,
            sheet.width() * scale,
            sheet.height() * scale,
            image::imageops::FilterType::Nearest,
        )
    } else {
        sheet.clone()
    };
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .context("could not encode the PNG")?;
    crate::io::write_atomic(path, &bytes)
}
