//! The official dSprites file, `dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`: `imgs` (u8,
//! [737280, 64, 64], 0 or 1), `latents_classes` (i64, [n, 6]) and `latents_values` (f64, [n, 6]),
//! the six latents being colour, shape (1..3), scale, orientation, x and y.
//!
//! The 3 GB of images are streamed in index order, never held in memory at once.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use npyz::NpyFile;

use super::recipes::SpriteFactors;

/// The factors of every image.
#[derive(Debug)]
pub struct DspritesLatents {
    pub factors: Vec<SpriteFactors>,
}

fn archive(path: &Path) -> Result<zip::ZipArchive<BufReader<File>>> {
    let file = File::open(path).with_context(|| format!("could not read {}", path.display()))?;
    zip::ZipArchive::new(BufReader::new(file))
        .with_context(|| format!("{} is not an npz (zip) file", path.display()))
}

fn array<'a, R: Read + std::io::Seek>(
    archive: &'a mut zip::ZipArchive<R>,
    name: &str,
) -> Result<NpyFile<zip::read::ZipFile<'a>>> {
    let entry = archive
        .by_name(&format!("{name}.npy"))
        .with_context(|| format!("the npz has no array {name:?}: it is not the dSprites file"))?;
    NpyFile::new(entry).with_context(|| format!("the array {name:?} is not a valid npy array"))
}

/// Reads the latents (small) of the official file.
pub fn latents(path: &Path) -> Result<DspritesLatents> {
    let mut zip = archive(path)?;
    let classes = array(&mut zip, "latents_classes")?;
    if classes.shape().len() != 2 || classes.shape()[1] != 6 {
        bail!(
            "latents_classes has shape {:?}, not [n, 6]",
            classes.shape()
        );
    }
    let classes: Vec<i64> = classes
        .into_vec()
        .context("latents_classes could not be read as integers")?;
    let values: Vec<f64> = array(&mut zip, "latents_values")?
        .into_vec()
        .context("latents_values could not be read as floats")?;
    if values.len() != classes.len() {
        bail!("latents_values and latents_classes differ in length");
    }
    let factors = classes
        .chunks_exact(6)
        .zip(values.chunks_exact(6))
        .map(|(c, v)| SpriteFactors {
            shape: c[1].clamp(0, 2) as usize,
            scale: v[2] as f32,
            orientation: v[3] as f32,
            x: v[4] as f32,
            y: v[5] as f32,
        })
        .collect();
    Ok(DspritesLatents { factors })
}

/// Calls `visit(index, image)` for the images of the official file whose index `keep`
/// accepts, in index order; `image` is 64x64 bytes, 0 or 255.
pub fn stream_images(
    path: &Path,
    expected: usize,
    keep: &mut dyn FnMut(usize) -> bool,
    visit: &mut dyn FnMut(usize, Vec<u8>),
) -> Result<()> {
    let mut zip = archive(path)?;
    let imgs = array(&mut zip, "imgs")?;
    let shape = imgs.shape().to_vec();
    if shape.len() != 3 || shape[1] != 64 || shape[2] != 64 || shape[0] as usize != expected {
        bail!("imgs has shape {shape:?}, not [{expected}, 64, 64] like the latents");
    }
    let mut data = imgs
        .data::<u8>()
        .map_err(|e| anyhow::anyhow!("imgs is not an array of bytes ({e})"))?;
    for index in 0..expected {
        let wanted = keep(index);
        let mut image = Vec::with_capacity(if wanted { 4096 } else { 0 });
        for _ in 0..4096 {
            let value = data
                .next()
                .context("imgs ends early: the file is truncated")?
                .context("imgs could not be read: the file is corrupt")?;
            if wanted {
                image.push(if value > 0 { 255 } else { 0 });
            }
        }
        if wanted {
            visit(index, image);
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use npyz::WriterBuilder;
    use std::io::Write;

    fn npy<T: npyz::AutoSerialize + Copy>(shape: &[u64], data: &[T]) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(&mut buf)
            .begin_nd()
            .unwrap();
        writer.extend(data.iter().copied()).unwrap();
        writer.finish().unwrap();
        buf
    }

    /// A small file in the official layout: 3 images, image i has pixel i set.
    pub fn write_small_npz(path: &Path) {
        let mut imgs = vec![0u8; 3 * 4096];
        for i in 0..3 {
            imgs[i * 4096 + i] = 1;
        }
        let classes: Vec<i64> = (0..3).flat_map(|i| [0, i, 5, 39, 31, 0]).collect();
        let values: Vec<f64> = (0..3)
            .flat_map(|i| [1.0, (i + 1) as f64, 1.0, 6.2, 1.0, 0.0])
            .collect();
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        let options =
            zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in [
            ("imgs.npy", npy(&[3, 64, 64], &imgs)),
            ("latents_classes.npy", npy(&[3, 6], &classes)),
            ("latents_values.npy", npy(&[3, 6], &values)),
        ] {
            zip.start_file(name, options).unwrap();
            zip.write_all(&bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn reads_the_official_layout_streaming() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dsprites.npz");
        write_small_npz(&path);
        let read = latents(&path).unwrap();
        assert_eq!(read.factors.len(), 3);
        assert_eq!(read.factors[2].values(), [2.0, 1.0, 6.2, 1.0, 0.0]);
        let mut seen = Vec::new();
        stream_images(&path, 3, &mut |i| i != 1, &mut |i, img| {
            assert_eq!(img[i], 255);
            assert_eq!(img.iter().filter(|&&p| p == 255).count(), 1);
            seen.push(i);
        })
        .unwrap();
        assert_eq!(seen, vec![0, 2]);
        let err = stream_images(&path, 4, &mut |_| true, &mut |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("not [4, 64, 64]"), "{err}");
        std::fs::write(&path, b"not a zip").unwrap();
        assert!(latents(&path)
            .unwrap_err()
            .to_string()
            .contains("not an npz"));
    }
}
