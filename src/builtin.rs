//! The built-in contrastive dataset, generated from a seed with no download.
//!
//! Background images X are coloured sinusoidal gratings whose *common* factors are the hue, the
//! orientation, the frequency and the phase. Target images Y are drawn from the same common
//! distribution with a white dSprites-style sprite on top, whose *salient* factors are its shape
//! (square, ellipse, heart), scale (6 levels as in dSprites), rotation and position. Every image
//! is a pure function of (seed, domain, index), with its ground-truth factors, so an evaluation
//! can check that z reads the grating and s the sprite.

use rand::{rngs::StdRng, RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use std::f32::consts::{PI, TAU};

/// Which of the two sets an image belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Domain {
    /// X: only common factors (label 0).
    Background,
    /// Y: common and salient factors (label 1).
    Target,
}

impl Domain {
    pub const BOTH: [Domain; 2] = [Domain::Background, Domain::Target];

    /// 0 for background, 1 for target: C's label, and the byte dataset files store.
    pub fn label(self) -> u8 {
        match self {
            Domain::Background => 0,
            Domain::Target => 1,
        }
    }

    /// The domain of a stored label, `None` for anything but 0 or 1.
    pub fn from_label(label: u8) -> Option<Self> {
        match label {
            0 => Some(Domain::Background),
            1 => Some(Domain::Target),
            _ => None,
        }
    }
}

/// The sprite shapes of dSprites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpriteShape {
    Square,
    Ellipse,
    Heart,
}

impl SpriteShape {
    pub const ALL: [SpriteShape; 3] = [
        SpriteShape::Square,
        SpriteShape::Ellipse,
        SpriteShape::Heart,
    ];

    /// The shape's place in [`SpriteShape::ALL`] (dSprites' order: its class label).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The factors shared by both domains: the grating.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CommonFactors {
    /// Hue of the grating's colours, in [0, 1).
    pub hue: f32,
    /// Direction of the stripes' normal, in [0, π).
    pub orientation: f32,
    /// Cycles across the image, in [1, 3].
    pub frequency: f32,
    /// Phase of the sinusoid, in [0, 2π).
    pub phase: f32,
}

/// The factors only target images have: the sprite.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpriteFactors {
    pub shape: SpriteShape,
    /// One of dSprites' 6 scales, 0.5 to 1.
    pub scale: f32,
    /// Rotation in [0, 2π).
    pub rotation: f32,
    /// Centre, as a fraction of the image side, in [0.25, 0.75].
    pub x: f32,
    pub y: f32,
}

impl SpriteFactors {
    /// The sprite drawn on a `side x side` image: for each pixel (row-major) the fraction of
    /// its `sub x sub` sample points inside the shape (`sub = 1`: the pixel centre only, a
    /// binary mask). The one renderer of sprites: the built-in data and the dSprites recipes
    /// both draw with it.
    pub fn coverage(&self, side: usize, sub: usize) -> Vec<f32> {
        let n = side as f32;
        let half = 0.16 * self.scale;
        let (cos, sin) = (self.rotation.cos(), self.rotation.sin());
        let samples = (sub * sub) as f32;
        let mut out = vec![0.0f32; side * side];
        for row in 0..side {
            for col in 0..side {
                let mut covered = 0usize;
                for sy in 0..sub {
                    for sx in 0..sub {
                        let px = (col as f32 + (sx as f32 + 0.5) / sub as f32) / n - self.x;
                        let py = (row as f32 + (sy as f32 + 0.5) / sub as f32) / n - self.y;
                        // Into the sprite's frame: rotate by -rotation, scale by the half-size.
                        let u = (cos * px + sin * py) / half;
                        let v = (-sin * px + cos * py) / half;
                        covered += inside(self.shape, u, v) as usize;
                    }
                }
                out[row * side + col] = covered as f32 / samples;
            }
        }
        out
    }
}

/// The ground truth of one image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BuiltinFactors {
    pub domain: Domain,
    pub common: CommonFactors,
    /// `Some` exactly for target images.
    pub sprite: Option<SpriteFactors>,
}

impl BuiltinFactors {
    /// Names of the values of [`BuiltinFactors::values`].
    pub const NAMES: [&'static str; 9] = [
        "hue",
        "orientation",
        "frequency",
        "phase",
        "shape",
        "scale",
        "rotation",
        "x",
        "y",
    ];

    /// The factors as numbers (shape as its index 0..3); the sprite's are NaN for backgrounds.
    pub fn values(&self) -> [f32; 9] {
        let c = self.common;
        let (shape, scale, rotation, x, y) = match self.sprite {
            Some(s) => (s.shape.index() as f32, s.scale, s.rotation, s.x, s.y),
            None => (f32::NAN, f32::NAN, f32::NAN, f32::NAN, f32::NAN),
        };
        [
            c.hue,
            c.orientation,
            c.frequency,
            c.phase,
            shape,
            scale,
            rotation,
            x,
            y,
        ]
    }
}

/// A procedural dataset of `len` background and `len` target images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltinDataset {
    pub seed: u64,
    /// Images per domain.
    pub len: usize,
}

impl BuiltinDataset {
    pub fn new(seed: u64, len: usize) -> Self {
        Self { seed, len }
    }

    /// The ground-truth factors of image `index` of `domain` (any index is valid: the set is
    /// infinite, `len` only says how much of it one epoch uses).
    pub fn factors(&self, domain: Domain, index: usize) -> BuiltinFactors {
        // SplitMix-style mixing so that neighbouring (seed, domain, index) give unrelated streams.
        let mut key = self
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(index as u64)
            .wrapping_mul(0xBF58_476D_1CE4_E5B9)
            ^ (domain.label() as u64 + 1).wrapping_mul(0x94D0_49BB_1331_11EB);
        key ^= key >> 31;
        let mut rng = StdRng::seed_from_u64(key);
        let common = CommonFactors {
            hue: rng.random::<f32>(),
            orientation: rng.random::<f32>() * PI,
            frequency: 1.0 + 2.0 * rng.random::<f32>(),
            phase: rng.random::<f32>() * TAU,
        };
        let sprite = (domain == Domain::Target).then(|| SpriteFactors {
            shape: SpriteShape::ALL[rng.random_range(0..3)],
            scale: 0.5 + 0.1 * rng.random_range(0..6) as f32,
            rotation: rng.random::<f32>() * TAU,
            x: 0.25 + 0.5 * rng.random::<f32>(),
            y: 0.25 + 0.5 * rng.random::<f32>(),
        });
        BuiltinFactors {
            domain,
            common,
            sprite,
        }
    }

    /// Image `index` of `domain`: `channels x side x side` values in [-1, 1], channel-major.
    pub fn image(&self, domain: Domain, index: usize, side: usize, channels: usize) -> Vec<f32> {
        render(&self.factors(domain, index), side, channels)
    }
}

/// HSV (all in [0, 1]) to RGB.
fn hsv(h: f32, s: f32, v: f32) -> [f32; 3] {
    let h6 = (h.rem_euclid(1.0)) * 6.0;
    let c = v * s;
    let x = c * (1.0 - ((h6 % 2.0) - 1.0).abs());
    let (r, g, b) = match h6 as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [r + m, g + m, b + m]
}

/// Whether the point (u, v), in sprite coordinates (centred, unrotated, in units of the
/// sprite's half-size), is inside the shape.
pub fn inside(shape: SpriteShape, u: f32, v: f32) -> bool {
    match shape {
        SpriteShape::Square => u.abs() <= 0.85 && v.abs() <= 0.85,
        SpriteShape::Ellipse => u * u + (v / 0.55) * (v / 0.55) <= 1.0,
        SpriteShape::Heart => {
            // (x² + y² - 1)³ - x² y³ <= 0, spanning about [-1.14, 1.14] x [-1, 1.25].
            let (x, y) = (u * 1.15, -v * 1.15 + 0.1);
            let a = x * x + y * y - 1.0;
            a * a * a - x * x * y * y * y <= 0.0
        }
    }
}

/// Draws the image of `factors`: `channels x side x side` values in [-1, 1].
pub fn render(factors: &BuiltinFactors, side: usize, channels: usize) -> Vec<f32> {
    let c = factors.common;
    // Two colours of one hue, kept below 0.7 so that the white sprite always stands out.
    let light = hsv(c.hue, 0.65, 0.68);
    let dark = hsv(c.hue + 0.08, 0.8, 0.22);
    let (dir_x, dir_y) = (c.orientation.cos(), c.orientation.sin());
    let n = side as f32;
    // 4x4 supersampling of the sprite edge keeps it smooth at 32x32.
    let sprite = factors.sprite.map(|s| s.coverage(side, 4));
    let mut out = vec![0.0f32; channels * side * side];
    for row in 0..side {
        for col in 0..side {
            let u = (col as f32 + 0.5) / n - 0.5;
            let v = (row as f32 + 0.5) / n - 0.5;
            let wave = 0.5 + 0.5 * (TAU * c.frequency * (u * dir_x + v * dir_y) + c.phase).sin();
            let mut rgb = [0.0f32; 3];
            for k in 0..3 {
                rgb[k] = dark[k] + (light[k] - dark[k]) * wave;
            }
            if let Some(alpha) = &sprite {
                let alpha = alpha[row * side + col];
                for value in &mut rgb {
                    *value += (1.0 - *value) * alpha;
                }
            }
            let pixel = row * side + col;
            if channels == 1 {
                let grey = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
                out[pixel] = grey * 2.0 - 1.0;
            } else {
                for k in 0..channels.min(3) {
                    out[k * side * side + pixel] = rgb[k] * 2.0 - 1.0;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_images_other_seed_other_images() {
        let a = BuiltinDataset::new(7, 100);
        let b = BuiltinDataset::new(8, 100);
        assert_eq!(
            a.image(Domain::Target, 3, 32, 3),
            a.image(Domain::Target, 3, 32, 3)
        );
        assert_ne!(
            a.image(Domain::Target, 3, 32, 3),
            b.image(Domain::Target, 3, 32, 3)
        );
        assert_ne!(
            a.image(Domain::Target, 3, 32, 3),
            a.image(Domain::Target, 4, 32, 3)
        );
    }

    #[test]
    fn factors_are_in_range_and_only_targets_have_sprites() {
        let data = BuiltinDataset::new(1, 500);
        let mut shapes = [0usize; 3];
        for i in 0..500 {
            let bg = data.factors(Domain::Background, i);
            assert!(bg.sprite.is_none());
            let t = data.factors(Domain::Target, i);
            let s = t.sprite.expect("targets have a sprite");
            shapes[s.shape.index()] += 1;
            assert!((0.5..=1.0).contains(&s.scale));
            assert!((0.25..=0.75).contains(&s.x) && (0.25..=0.75).contains(&s.y));
            assert!((1.0..=3.0).contains(&t.common.frequency));
        }
        assert!(shapes.iter().all(|&n| n > 120), "{shapes:?}");
    }

    #[test]
    fn the_sprite_is_white_on_a_darker_grating() {
        let data = BuiltinDataset::new(5, 10);
        for i in 0..10 {
            let f = data.factors(Domain::Target, i);
            let s = f.sprite.unwrap();
            let img = render(&f, 64, 3);
            // The centre of every shape is inside it: white there.
            let (cx, cy) = ((s.x * 64.0) as usize, (s.y * 64.0) as usize);
            let centre: Vec<f32> = (0..3).map(|k| img[k * 4096 + cy * 64 + cx]).collect();
            assert!(centre.iter().all(|&v| v > 0.95), "centre {centre:?}");
            // The background image with the same index has no white pixel at all.
            let bg = data.image(Domain::Background, i, 64, 3);
            assert!(bg.iter().all(|&v| (-1.0..0.5).contains(&v)));
        }
        // Grey images have one channel.
        assert_eq!(data.image(Domain::Target, 0, 32, 1).len(), 32 * 32);
    }
}
