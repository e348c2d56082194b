//! The paper's contrastive datasets, built from the published files as the paper (section 5)
//! and its public preprocessing scripts describe them.
//!
//! Pixel arithmetic happens in [0, 1] and is stored back as u8.

use dinfogan::builtin::Domain;
use image::imageops::{resize, FilterType};
use image::{GrayImage, RgbImage};
use rand::{rngs::StdRng, seq::SliceRandom, RngExt, SeedableRng};

use std::path::Path;

use super::brats::{self, BratsOptions};
use super::cifar::{self, Cifar};
use super::dsprites::{
    dsprite_index, dsprite_label_specs, dsprite_labels, SpriteFactors, SpriteSource,
    DSPRITES_CLASSES,
};
use super::file::{DatasetFile, LabelSpec};
use super::idx::Mnist;

/// Bilinear resize of one grey `side x side` image.
fn resize_grey(pixels: &[u8], side: usize, to: usize) -> Vec<u8> {
    if side == to {
        return pixels.to_vec();
    }
    let img = GrayImage::from_raw(side as u32, side as u32, pixels.to_vec()).expect("side x side");
    resize(&img, to as u32, to as u32, FilterType::Triangle).into_raw()
}

/// Bilinear resize of one channel-major RGB image.
fn resize_rgb(planes: &[u8], side: usize, to: usize) -> Vec<u8> {
    if side == to {
        return planes.to_vec();
    }
    let n = side * side;
    let img = RgbImage::from_fn(side as u32, side as u32, |x, y| {
        let i = y as usize * side + x as usize;
        image::Rgb([planes[i], planes[n + i], planes[2 * n + i]])
    });
    crate::images::rgb_planes(&resize(&img, to as u32, to as u32, FilterType::Triangle))
}

// The recipes compose images in intensities in [0, 1], as the paper writes them (0.5 CIFAR +
// 0.5 MNIST); the networks' [-1, 1] (`dinfogan::pixels::unit`) is applied at training time.

/// A stored byte as an intensity in [0, 1].
fn in_0_1(v: u8) -> f32 {
    v as f32 / 255.0
}

/// An intensity in [0, 1] (clamped) as a stored byte.
fn byte_of_0_1(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Cifar-10-MNIST (paper section 5): background = 0.5 cifar; target = min(0.5 cifar + 0.5 mnist, 1)
/// with the MNIST digit resized to the whole image, grey on the three channels.
///
/// `train`: the 50,000 CIFAR training images shuffled with `seed`, the first half background and
/// the rest targets (25,000 + 25,000). Test: the 10,000 CIFAR test images in order, 5,000 + 5,000.
/// Digits are drawn at random (with replacement) from the given MNIST split, as in the public code.
/// Labels: the CIFAR class, and the digit (-1 for background images).
pub fn cifar_mnist(
    cifar: &Cifar,
    mnist: &Mnist,
    side: usize,
    train: bool,
    seed: u64,
) -> DatasetFile {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..cifar.len()).collect();
    if train {
        order.shuffle(&mut rng);
    }
    let split = if train { "training" } else { "test" };
    let mut out = DatasetFile::new(
        "cifar-mnist",
        &format!("Cifar-10-MNIST ({split} split, seed {seed})"),
        side,
        3,
        vec![
            LabelSpec::common("cifar_class"),
            LabelSpec::salient("digit"),
        ],
        &[],
    );
    let half = order.len() / 2;
    let m = side * side;
    for (k, &i) in order.iter().enumerate() {
        let colour = resize_rgb(cifar.image(i), cifar::SIDE, side);
        let class = cifar.labels[i] as i32;
        if k < half {
            let pixels: Vec<u8> = colour
                .iter()
                .map(|&c| byte_of_0_1(0.5 * in_0_1(c)))
                .collect();
            out.push(Domain::Background, &[class, -1], &[], &pixels);
        } else {
            let d = rng.random_range(0..mnist.len());
            let digit = resize_grey(mnist.image(d), mnist.side, side);
            let pixels: Vec<u8> = colour
                .iter()
                .enumerate()
                .map(|(j, &c)| byte_of_0_1(0.5 * in_0_1(c) + 0.5 * in_0_1(digit[j % m])))
                .collect();
            out.push(
                Domain::Target,
                &[class, mnist.labels[d] as i32],
                &[],
                &pixels,
            );
        }
    }
    out
}

/// The 2x2 grids of MNIST digits 1, 2 (top) and 3, 4 (bottom) of dSprites-MNIST, 64x64.
struct DigitGrid {
    by_class: Vec<Vec<usize>>,
}

impl DigitGrid {
    fn new(mnist: &Mnist) -> anyhow::Result<Self> {
        let by_class: Vec<Vec<usize>> = (0..10)
            .map(|c| (0..mnist.len()).filter(|&i| mnist.labels[i] == c).collect())
            .collect();
        if let Some(c) = (1..=4).find(|&c| by_class[c].is_empty()) {
            anyhow::bail!("the MNIST files hold no digit {c}, which the grid needs");
        }
        Ok(Self { by_class })
    }

    /// A fresh grid: one random digit of each class, resized to 32x32.
    fn draw(&self, mnist: &Mnist, rng: &mut StdRng) -> Vec<u8> {
        let mut out = vec![0u8; 64 * 64];
        for (cell, class) in [1usize, 2, 3, 4].iter().enumerate() {
            let pool = &self.by_class[*class];
            let digit = resize_grey(
                mnist.image(pool[rng.random_range(0..pool.len())]),
                mnist.side,
                32,
            );
            let (ox, oy) = ((cell % 2) * 32, (cell / 2) * 32);
            for r in 0..32 {
                out[(oy + r) * 64 + ox..(oy + r) * 64 + ox + 32]
                    .copy_from_slice(&digit[r * 32..(r + 1) * 32]);
            }
        }
        out
    }
}

/// dSprites-MNIST (paper section 5): each dSprites image is kept with probability `probability`
/// (0.1 in the paper) as a target, min(sprite + 0.5 grid, 1), where grid is a 2x2 arrangement of
/// 32x32 MNIST digits of classes 1, 2 (top) and 3, 4 (bottom); each target is paired with one
/// background 0.5 grid (another draw). Composed at 64x64 grey, then resized (bilinear) to
/// `side` when it is 32. Labels: [`DSPRITE_LABELS`] (-1 for
/// background images); factors: shape, scale, orientation, x, y of image `index` as `factors`
/// gives them.
pub fn dsprites_mnist(
    mnist: &Mnist,
    side: usize,
    probability: f64,
    seed: u64,
    factors: &dyn Fn(usize) -> SpriteFactors,
    sprites: &mut SpriteSource,
) -> anyhow::Result<DatasetFile> {
    let rng = std::cell::RefCell::new(StdRng::seed_from_u64(seed));
    let grids = DigitGrid::new(mnist)?;
    let grid = |rng: &mut StdRng| grids.draw(mnist, rng);
    let out = std::cell::RefCell::new(DatasetFile::new(
        "dsprites-mnist",
        &format!("dSprites-MNIST (p = {probability}, seed {seed})"),
        side,
        1,
        dsprite_label_specs(),
        &["shape", "scale", "orientation", "x", "y"],
    ));
    let none = [f32::NAN; 5];
    let mut keep = |_index: usize| rng.borrow_mut().random_bool(probability);
    let mut visit = |index: usize, sprite: Vec<u8>| {
        let mut rng = rng.borrow_mut();
        let sprite_factors = factors(index);
        let labels = dsprite_labels(sprite_factors);
        let g = grid(&mut rng);
        let target: Vec<u8> = sprite
            .iter()
            .zip(&g)
            .map(|(&s, &d)| byte_of_0_1(in_0_1(s) + 0.5 * in_0_1(d)))
            .collect();
        let mut out = out.borrow_mut();
        out.push(
            Domain::Target,
            &labels,
            &sprite_factors.values(),
            &resize_grey(&target, 64, side),
        );
        let g = grid(&mut rng);
        let background: Vec<u8> = g.iter().map(|&d| byte_of_0_1(0.5 * in_0_1(d))).collect();
        out.push(
            Domain::Background,
            &[-1; 5],
            &none,
            &resize_grey(&background, 64, side),
        );
    };
    sprites(&mut keep, &mut visit)?;
    Ok(out.into_inner())
}

/// The grouped evaluation set of the FactorVAE score on dSprites-MNIST (Kim and Mnih 2018; the
/// paper's Table 9): `groups` groups of `per_group` target images; in group g the factor
/// g mod 5 (shape, scale, orientation, x, y) is fixed at one random value and the others are
/// random. Labels: the fixed factor (0..5) and the group; factors and `side` as in
/// [`dsprites_mnist`].
pub fn dsprites_mnist_groups(
    mnist: &Mnist,
    side: usize,
    groups: usize,
    per_group: usize,
    seed: u64,
    factors: &dyn Fn(usize) -> SpriteFactors,
    sprites: &mut SpriteSource,
) -> anyhow::Result<DatasetFile> {
    let mut rng = StdRng::seed_from_u64(seed);
    let grids = DigitGrid::new(mnist)?;
    let mut plan = Vec::with_capacity(groups * per_group);
    for group in 0..groups {
        let fixed = group % 5;
        let value = rng.random_range(0..DSPRITES_CLASSES[fixed]);
        for _ in 0..per_group {
            let mut classes = DSPRITES_CLASSES.map(|n| rng.random_range(0..n));
            classes[fixed] = value;
            plan.push((group, fixed, dsprite_index(classes)));
        }
    }
    let needed: std::collections::HashSet<usize> = plan.iter().map(|p| p.2).collect();
    let mut images = std::collections::HashMap::new();
    sprites(&mut |i| needed.contains(&i), &mut |i, img| {
        images.insert(i, img);
    })?;
    let mut out = DatasetFile::new(
        "dsprites-mnist-groups",
        &format!("dSprites-MNIST FactorVAE groups ({groups} x {per_group}, seed {seed})"),
        side,
        1,
        vec![
            LabelSpec::bookkeeping("fixed_factor"),
            LabelSpec::bookkeeping("group"),
        ],
        &["shape", "scale", "orientation", "x", "y"],
    );
    for (group, fixed, index) in plan {
        let sprite = images
            .get(&index)
            .ok_or_else(|| anyhow::anyhow!("the sprite source has no image {index}"))?;
        let g = grids.draw(mnist, &mut rng);
        let target: Vec<u8> = sprite
            .iter()
            .zip(&g)
            .map(|(&s, &d)| byte_of_0_1(in_0_1(s) + 0.5 * in_0_1(d)))
            .collect();
        out.push(
            Domain::Target,
            &[fixed as i32, group as i32],
            &factors(index).values(),
            &resize_grey(&target, 64, side),
        );
    }
    Ok(out)
}

/// Brain MRI (the paper's Brats): the axial slices of BraTS-style volumes (see
/// [`super::brats`] for orientation, intensity scaling and size), a slice with tumour a target,
/// one without a background image, each with its tumour mask. The subjects of `from` and, all
/// background, of `healthy` are split into training and test by subject (never by slice):
/// `test` picks the test split. Labels: the subject (its position among the split's subjects,
/// by name) and the axial index, both bookkeeping.
pub fn brats(
    from: &Path,
    healthy: Option<&Path>,
    options: &BratsOptions,
    test: bool,
    test_fraction: f64,
    seed: u64,
) -> anyhow::Result<DatasetFile> {
    let mut subjects = brats::find_subjects(from, options.modality)?;
    if let Some(dir) = healthy {
        for mut subject in brats::find_subjects(dir, options.modality)? {
            // Control subjects are background only, whatever files sit beside them.
            subject.seg = None;
            subject.name = format!("healthy/{}", subject.name);
            subjects.push(subject);
        }
    }
    if subjects.is_empty() {
        anyhow::bail!(
            "{} holds no subject folder (one folder per subject with its *{}.nii.gz)",
            from.display(),
            options.modality.suffix()
        );
    }
    let names: Vec<String> = subjects.iter().map(|s| s.name.clone()).collect();
    let (train, test_names) = brats::split_subjects(&names, test_fraction, seed);
    let chosen = if test { test_names } else { train };
    let split = if test { "test" } else { "training" };
    if chosen.is_empty() {
        anyhow::bail!(
            "the {split} split has no subject: {} subjects with --test-fraction {test_fraction}; \
             change --test-fraction",
            names.len()
        );
    }
    let side = options.side;
    let mut out =
        DatasetFile::new(
            "brats",
            &format!(
            "brain MRI, {} axial slices {} of {} subjects ({split} split), {side}x{side}; target: \
             more than {} tumour voxels",
            options.modality, options.slices, chosen.len(), options.min_tumour_voxels
        ),
            side,
            1,
            vec![
                LabelSpec::bookkeeping("subject"),
                LabelSpec::bookkeeping("slice"),
            ],
            &["tumour_voxels"],
        )
        .with_masks();
    let started = std::time::Instant::now();
    for (k, subject) in subjects
        .iter()
        .filter(|s| chosen.contains(&s.name))
        .enumerate()
    {
        for slice in brats::read_subject(subject, options)? {
            let domain = if slice.target {
                Domain::Target
            } else {
                Domain::Background
            };
            out.push_with_mask(
                domain,
                &[k as i32, slice.index as i32],
                &[slice.tumour_voxels as f32],
                &slice.image,
                &slice.mask,
            );
        }
        if (k + 1) % 50 == 0 {
            eprintln!(
                "read {} of {} subjects ({:.0} s)",
                k + 1,
                chosen.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dsprites::{dsprite_factors, procedural_dsprites, DSPRITES_COUNT};

    fn tiny_mnist() -> Mnist {
        // One 28x28 digit of each class 0..9, digit c filled with value 20 c.
        let images = (0..10u8).flat_map(|c| vec![20 * c; 28 * 28]).collect();
        Mnist {
            images,
            labels: (0..10).collect(),
            side: 28,
        }
    }

    #[test]
    fn cifar_mnist_arithmetic_on_known_pixels() {
        let mut bytes = Vec::new();
        for i in 0..4u8 {
            bytes.push(i);
            bytes.extend(std::iter::repeat_n(200u8, 3072));
        }
        let cifar = Cifar::parse(&bytes).unwrap();
        let mnist = tiny_mnist();
        let data = cifar_mnist(&cifar, &mnist, 32, false, 0);
        assert_eq!(data.counts(), (2, 2));
        // Background: 0.5 * 200/255 -> 100.
        assert!(data.pixels_of(0).iter().all(|&p| p == 100));
        assert_eq!(data.labels_of(0), &[0, -1]);
        // Target: min(0.5 * 200 + 0.5 * 20 d, 255) on every channel.
        let digit = data.labels_of(2)[1];
        let expected = byte_of_0_1(0.5 * 200.0 / 255.0 + 0.5 * (20 * digit) as f32 / 255.0);
        assert!(
            data.pixels_of(2).iter().all(|&p| p == expected),
            "digit {digit}"
        );
        // 64x64 works too.
        assert_eq!(
            cifar_mnist(&cifar, &mnist, 64, true, 1).image_len(),
            3 * 64 * 64
        );
    }

    #[test]
    fn factorvae_groups_fix_one_factor_each() {
        assert_eq!(dsprite_index([2, 5, 39, 31, 31]), DSPRITES_COUNT - 1);
        assert_eq!(dsprite_index([0, 0, 0, 1, 0]), 32);
        let mnist = tiny_mnist();
        let data = dsprites_mnist_groups(
            &mnist,
            64,
            10,
            7,
            4,
            &dsprite_factors,
            &mut procedural_dsprites,
        )
        .unwrap();
        assert_eq!(data.counts(), (0, 70));
        for group in 0..10 {
            let rows: Vec<usize> = (0..70).filter(|&i| data.labels_of(i)[1] == group).collect();
            assert_eq!(rows.len(), 7);
            let fixed = group as usize % 5;
            assert!(rows.iter().all(|&i| data.labels_of(i)[0] == fixed as i32));
            let first = data.factors_of(rows[0])[fixed];
            assert!(rows.iter().all(|&i| data.factors_of(i)[fixed] == first));
        }
    }

    #[test]
    fn dsprites_mnist_recipe() {
        let mnist = tiny_mnist();
        let data = dsprites_mnist(
            &mnist,
            64,
            0.0005,
            3,
            &dsprite_factors,
            &mut procedural_dsprites,
        )
        .unwrap();
        let (bg, t) = data.counts();
        assert_eq!(bg, t);
        assert!(
            (200..=550).contains(&t),
            "{t} targets of 737280 at p = 0.0005"
        );
        // Background: 0.5 * grid; the top-left cell is a digit 1 (value 20 -> 10).
        let b = data.pixels_of(1);
        assert_eq!(b[0], 10);
        assert_eq!(b[63], 20, "top-right is a 2 (40 -> 20)");
        assert_eq!(b[64 * 63], 30, "bottom-left is a 3");
        // Target: a sprite pixel saturates, the others are 0.5 grid.
        let target = data.pixels_of(0);
        assert!(target.contains(&255));
        assert!(target.contains(&10));
        assert_eq!(data.factors_of(0).len(), 5);
    }
}
