//! Pixels in and out of the networks. The networks see `[batch, channels, side, side]` floats in
//! [-1, 1] (the generator's tanh range); screens and files see 8-bit RGBA, row-major.
//!
//! These are the CPU reference conversions. On wgpu the same packing runs on the GPU as the
//! project's WGSL kernel (`shaders/rgba.wgsl`, see `dinfogan::gpu`), which must agree with
//! [`byte`] exactly.

use burn::prelude::*;

use crate::error::{Error, Result};

/// `count` images of `channels x side x side` values in [-1, 1], one after another on the host,
/// as the networks' `[count, channels, side, side]` batch on `device`: the one way pixels
/// become a batch (the trainer's, every tool's, the viewer's). A sentence, not a panic, when
/// the values are not that many.
pub fn batch(
    values: Vec<f32>,
    count: usize,
    channels: usize,
    side: usize,
    device: &Device,
) -> Result<Tensor<4>> {
    let expected = count * channels * side * side;
    if values.len() != expected {
        return Err(Error::Shape(format!(
            "{} pixel values do not make {count} images of {channels} x {side} x {side} \
             ({expected} values)",
            values.len()
        )));
    }
    Ok(Tensor::from_data(
        TensorData::new(values, [count, channels, side, side]),
        device,
    ))
}

/// One byte to the network's range [-1, 1]: `b / 127.5 - 1` (the inverse of [`byte`] on bytes).
pub fn unit(byte: u8) -> f32 {
    byte as f32 / 127.5 - 1.0
}

/// One value in [-1, 1] to a byte: `round((clamp(v, -1, 1) + 1) * 127.5)`, halves rounded up.
pub fn byte(value: f32) -> u8 {
    // floor(x + 0.5) rather than `round`: WGSL's round() goes to even on halves, this does not
    // and the shader uses the same expression. NaN maps to 0 (clamp keeps NaN, `as` saturates).
    ((value.clamp(-1.0, 1.0) + 1.0) * 127.5 + 0.5).floor() as u8
}

/// `[batch, channels, side, side]` floats (flattened) to `batch` RGBA images of `side x side`,
/// concatenated (`batch * side * side * 4` bytes). Grey images repeat their channel; alpha 255.
pub fn rgba_from_images(images: &[f32], channels: usize, side: usize) -> Vec<u8> {
    assert!(channels == 1 || channels == 3, "1 or 3 channels");
    let plane = side * side;
    let mut out = Vec::with_capacity(images.len() / channels * 4);
    for image in images.chunks_exact(channels * plane) {
        for i in 0..plane {
            let (r, g, b) = if channels == 1 {
                let v = byte(image[i]);
                (v, v, v)
            } else {
                (
                    byte(image[i]),
                    byte(image[plane + i]),
                    byte(image[2 * plane + i]),
                )
            };
            out.extend_from_slice(&[r, g, b, 255]);
        }
    }
    out
}

/// RGBA images of `side x side` (concatenated, alpha ignored) to the networks' input:
/// `[batch, channels, side, side]` floats in [-1, 1]. For grey models the colour is reduced to
/// luma with the Rec. 709 weights (as the `image` crate does). Returns `None` when the length is
/// not a whole number of images.
pub fn images_from_rgba(rgba: &[u8], side: usize, channels: usize) -> Option<Vec<f32>> {
    assert!(channels == 1 || channels == 3, "1 or 3 channels");
    let plane = side * side;
    if plane == 0 || rgba.is_empty() || !rgba.len().is_multiple_of(plane * 4) {
        return None;
    }
    let mut out = Vec::with_capacity(rgba.len() / 4 * channels);
    for image in rgba.chunks_exact(plane * 4) {
        if channels == 1 {
            out.extend(image.chunks_exact(4).map(|p| {
                let luma =
                    (2126 * p[0] as u32 + 7152 * p[1] as u32 + 722 * p[2] as u32 + 5000) / 10000;
                unit(luma as u8)
            }));
        } else {
            for k in 0..3 {
                out.extend(image.chunks_exact(4).map(|p| unit(p[k])));
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_become_a_batch_or_a_sentence() {
        let device = Device::flex();
        let values: Vec<f32> = (0..16).map(|v| v as f32 / 8.0 - 1.0).collect();
        let t = batch(values.clone(), 2, 2, 2, &device).unwrap();
        assert_eq!(t.dims(), [2, 2, 2, 2]);
        assert_eq!(t.into_data().try_to_vec::<f32>().unwrap(), values);
        let err = batch(values, 3, 1, 2, &device).unwrap_err().to_string();
        assert_eq!(
            err,
            "16 pixel values do not make 3 images of 1 x 2 x 2 (12 values)"
        );
    }

    #[test]
    fn every_byte_survives_the_trip_through_the_network_range() {
        for b in 0..=255u8 {
            assert_eq!(byte(unit(b)), b);
            assert!((-1.0..=1.0).contains(&unit(b)));
        }
    }

    #[test]
    fn bytes_cover_the_range_and_round_halves_up() {
        assert_eq!(byte(-1.0), 0);
        assert_eq!(byte(1.0), 255);
        assert_eq!(byte(-7.0), 0);
        assert_eq!(byte(7.0), 255);
        assert_eq!(byte(0.0), 128); // 127.5 rounds up
        assert_eq!(byte(f32::NAN), 0);
        // 2/255 - 1 is exactly byte 1 after the round trip.
        assert_eq!(byte(1.0 / 127.5 - 1.0), 1);
    }

    #[test]
    fn rgba_round_trip_of_colour_and_grey() {
        let side = 2;
        let rgba: Vec<u8> = (0..2 * side * side * 4)
            .map(|i| {
                if i % 4 == 3 {
                    255
                } else {
                    (i * 37 % 256) as u8
                }
            })
            .collect();
        let floats = images_from_rgba(&rgba, side, 3).unwrap();
        assert_eq!(floats.len(), 2 * 3 * side * side);
        // Channel-major: the first plane is red.
        assert_eq!(floats[1], rgba[4] as f32 / 127.5 - 1.0);
        assert_eq!(rgba_from_images(&floats, 3, side), rgba);

        let grey = images_from_rgba(&[10, 10, 10, 0, 200, 200, 200, 9], 1, 1).unwrap();
        assert_eq!(
            rgba_from_images(&grey, 1, 1),
            vec![10, 10, 10, 255, 200, 200, 200, 255]
        );
        assert!(images_from_rgba(&[1, 2, 3], 1, 1).is_none());
    }
}
