//! dSprites (Matthey et al. 2017): its factor grid (3 shapes x 6 scales x 40 orientations x
//! 32 x 32 positions, shape slowest), the labels the evaluation reads from its factors, this
//! project's procedural regeneration of its images, and the official file,
//! `dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`: `imgs` (u8, [737280, 64, 64], 0 or 1),
//! `latents_classes` (i64, [n, 6]) and `latents_values` (f64, [n, 6]), the six latents being
//! colour, shape (1..3), scale, orientation, x and y. The official file's 3 GB of images are
//! streamed in index order, never held in memory at once.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use npyz::NpyFile;

use dinfogan::builtin::SpriteShape;

use super::file::LabelSpec;

/// dSprites' factor grid: 3 shapes x 6 scales x 40 orientations x 32 x 32 positions.
pub const DSPRITES_COUNT: usize = 3 * 6 * 40 * 32 * 32;

/// The five factors of a dSprites image, as the official file's latents give them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpriteFactors {
    /// 0 square, 1 ellipse, 2 heart.
    pub shape: usize,
    /// 0.5 to 1 in 6 steps.
    pub scale: f32,
    /// 0 to 2π in 40 steps.
    pub orientation: f32,
    /// 0 to 1 in 32 steps.
    pub x: f32,
    pub y: f32,
}

impl SpriteFactors {
    /// The values a dataset file stores, in the order of its factor names.
    pub fn values(&self) -> [f32; 5] {
        [
            self.shape as f32,
            self.scale,
            self.orientation,
            self.x,
            self.y,
        ]
    }
}

/// The factors of dSprites image `index`, in the official ordering (shape slowest, y fastest).
pub fn dsprite_factors(index: usize) -> SpriteFactors {
    let y = index % 32;
    let x = (index / 32) % 32;
    let orientation = (index / (32 * 32)) % 40;
    let scale = (index / (32 * 32 * 40)) % 6;
    let shape = index / (32 * 32 * 40 * 6);
    SpriteFactors {
        shape,
        scale: 0.5 + 0.1 * scale as f32,
        orientation: orientation as f32 * std::f32::consts::TAU / 39.0,
        x: x as f32 / 31.0,
        y: y as f32 / 31.0,
    }
}

/// The sprite this project draws for dSprites factors (`None` for a shape other than 0, 1, 2):
/// centres span [0.2, 0.8] of the image, like the official sprites. `eval swap` draws the
/// true sprite of a dSprites-MNIST target from its stored factors with it.
pub fn drawn_sprite(f: SpriteFactors) -> Option<dinfogan::builtin::SpriteFactors> {
    Some(dinfogan::builtin::SpriteFactors {
        shape: *SpriteShape::ALL.get(f.shape)?,
        scale: f.scale,
        rotation: f.orientation,
        x: 0.2 + 0.6 * f.x,
        y: 0.2 + 0.6 * f.y,
    })
}

/// A procedural regeneration of dSprites image `index`: 64x64, binary (0 or 255). The same
/// factor grid and ordering as the official file, drawn with this project's shapes (not
/// pixel-identical to it).
pub fn dsprite(index: usize) -> Vec<u8> {
    drawn_sprite(dsprite_factors(index))
        .expect("the grid's shapes are 0, 1, 2")
        .coverage(64, 1)
        .iter()
        .map(|&c| if c > 0.5 { 255 } else { 0 })
        .collect()
}

/// Classes of the five dSprites factors, in index order: shape, scale, orientation, x, y.
pub const DSPRITES_CLASSES: [usize; 5] = [3, 6, 40, 32, 32];

/// The index of the dSprites image with these factor classes.
pub fn dsprite_index(classes: [usize; 5]) -> usize {
    classes
        .iter()
        .zip(DSPRITES_CLASSES)
        .fold(0, |index, (&c, n)| index * n + c)
}

/// The labels of a dSprites-MNIST target, which the evaluation reads from z and s: the shape,
/// the scale level (6), and the orientation, x and y in 4 equal bins each (the bins make
/// chance a fair 0.25 and a good model's accuracy reachable; 32 classes of position would
/// measure precision rather than which space holds the factor).
pub const DSPRITE_LABELS: [&str; 5] = [
    "shape",
    "scale",
    "orientation (4 bins)",
    "x (4 bins)",
    "y (4 bins)",
];

pub(super) fn dsprite_label_specs() -> Vec<LabelSpec> {
    DSPRITE_LABELS
        .iter()
        .map(|n| LabelSpec::salient(n))
        .collect()
}

/// The class of each [`DSPRITE_LABELS`] from the factor values of [`dsprite_factors`] (or of
/// the official file's latents, which use the same grid).
pub fn dsprite_labels(f: SpriteFactors) -> [i32; 5] {
    let bin4 = |v: f32| ((v * 4.0).floor() as i32).clamp(0, 3);
    [
        f.shape as i32,
        (((f.scale - 0.5) / 0.1).round() as i32).clamp(0, 5),
        bin4(f.orientation / std::f32::consts::TAU),
        bin4(f.x),
        bin4(f.y),
    ]
}

/// The dSprites images in index order: calls `keep(index)` for every index and, right after a
/// `true`, `visit(index, 64x64 bytes)`. Either [`procedural_dsprites`] or the official file.
pub type SpriteSource<'a> = dyn FnMut(&mut dyn FnMut(usize) -> bool, &mut dyn FnMut(usize, Vec<u8>)) -> anyhow::Result<()>
    + 'a;

/// The procedural sprites of [`dsprite`] as a [`SpriteSource`].
pub fn procedural_dsprites(
    keep: &mut dyn FnMut(usize) -> bool,
    visit: &mut dyn FnMut(usize, Vec<u8>),
) -> anyhow::Result<()> {
    for index in 0..DSPRITES_COUNT {
        if keep(index) {
            visit(index, dsprite(index));
        }
    }
    Ok(())
}

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

    #[test]
    fn dsprite_labels_bin_the_grid_evenly() {
        let mut counts = [[0usize; 6]; 5];
        for index in 0..DSPRITES_COUNT {
            for (k, &c) in dsprite_labels(dsprite_factors(index)).iter().enumerate() {
                counts[k][c as usize] += 1;
            }
        }
        let n = DSPRITES_COUNT;
        assert_eq!(counts[0][..3], [n / 3; 3]);
        assert_eq!(counts[1], [n / 6; 6]);
        // 40 orientations -> 10 per bin; 32 positions -> 8 per bin.
        for (k, count) in counts.iter().enumerate().skip(2) {
            assert_eq!(count[..4], [n / 4; 4], "label {k}");
            assert_eq!(count[4..], [0, 0], "label {k}");
        }
    }

    #[test]
    fn dsprites_grid_ordering_and_shapes() {
        assert_eq!(dsprite_factors(0).values(), [0.0, 0.5, 0.0, 0.0, 0.0]);
        let last = dsprite_factors(DSPRITES_COUNT - 1);
        assert_eq!(last.shape, 2);
        assert!((last.scale - 1.0).abs() < 1e-6 && (last.x - 1.0).abs() < 1e-6);
        assert_eq!(dsprite_factors(1).y, 1.0 / 31.0, "y is the fastest factor");
        // Bigger scale, more pixels; every sprite is binary and non-empty.
        let small = dsprite(0).iter().filter(|&&p| p == 255).count();
        let big = dsprite(5 * 40 * 32 * 32)
            .iter()
            .filter(|&&p| p == 255)
            .count();
        assert!(small > 0 && big > 2 * small, "{small} {big}");
        assert!(dsprite(12345).iter().all(|&p| p == 0 || p == 255));
    }

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
