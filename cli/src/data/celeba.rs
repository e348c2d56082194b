//! CelebA with accessories (the dataset of MM-cVAE, used by the paper): `img_align_celeba/`
//! with `list_attr_celeba.txt` (a count line, a line of 40 attribute names, then one line per
//! image: file name and +1/-1 per attribute).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dinfogan::builtin::Domain;
use image::imageops::{crop_imm, resize, FilterType};

use super::file::{DatasetFile, LabelSpec};

/// The attribute table: file names and, per file, the attribute values (+1 / -1).
pub struct Attributes {
    pub names: Vec<String>,
    pub files: Vec<String>,
    pub values: Vec<Vec<i8>>,
}

impl Attributes {
    pub fn parse(text: &str) -> Result<Self> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let count: usize = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .context("the first line must be the number of images")?;
        let names: Vec<String> = lines
            .next()
            .context("the second line must name the attributes")?
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let mut files = Vec::with_capacity(count);
        let mut values = Vec::with_capacity(count);
        for (n, line) in lines.enumerate() {
            let mut fields = line.split_whitespace();
            let file = fields.next().expect("non-empty line").to_string();
            let row: Vec<i8> = fields
                .map(|v| match v {
                    "1" => Ok(1),
                    "-1" => Ok(-1),
                    other => bail!("line {}: attribute value {other:?} is not 1 or -1", n + 3),
                })
                .collect::<Result<_>>()?;
            if row.len() != names.len() {
                bail!(
                    "line {} has {} attribute values for {} attribute names",
                    n + 3,
                    row.len(),
                    names.len()
                );
            }
            files.push(file);
            values.push(row);
        }
        if files.len() != count {
            bail!(
                "the file announces {count} images but lists {}",
                files.len()
            );
        }
        Ok(Self {
            names,
            files,
            values,
        })
    }

    pub fn column(&self, name: &str) -> Result<usize> {
        self.names
            .iter()
            .position(|n| n == name)
            .with_context(|| format!("the attribute column {name} is missing"))
    }
}

/// The folder of aligned images and the attribute file, given either the CelebA root (holding
/// both) or the image folder itself (the attribute file beside or inside it).
fn locate(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let candidates = [
        (
            dir.join("img_align_celeba"),
            dir.join("list_attr_celeba.txt"),
        ),
        (dir.to_path_buf(), dir.join("list_attr_celeba.txt")),
        (
            dir.to_path_buf(),
            dir.parent().unwrap_or(dir).join("list_attr_celeba.txt"),
        ),
    ];
    for (images, attributes) in candidates {
        if images.is_dir() && attributes.is_file() {
            return Ok((images, attributes));
        }
    }
    bail!(
        "{} does not hold CelebA: expected img_align_celeba/ and list_attr_celeba.txt",
        dir.display()
    )
}

/// Centre crop `crop x crop`, then bilinear resize to `side`, channel-major RGB bytes.
pub fn crop_and_resize(img: &image::RgbImage, crop: u32, side: usize) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let c = crop.min(w).min(h);
    let cropped = crop_imm(img, (w - c) / 2, (h - c) / 2, c, c).to_image();
    crate::images::rgb_planes(&resize(
        &cropped,
        side as u32,
        side as u32,
        FilterType::Triangle,
    ))
}

/// The paper's training split: the first 10,000 background, 5,000 glasses and 5,000 hat images
/// of the attribute file (section 5).
pub const TRAIN_COUNTS: [usize; 3] = [10_000, 5_000, 5_000];
/// The test split: the images that follow the training split (5,000 glasses and 5,000 hat in
/// the paper, and 1,000 background images as in the public evaluation).
pub const TEST_COUNTS: [usize; 3] = [1_000, 5_000, 5_000];
const CLASSES: [&str; 3] = ["background", "glasses", "hat"];

/// Which part of CelebA with accessories to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

/// The rows of the attribute table in each class (background, glasses, hat) of `split`, in the
/// file's order, at most `limit` per class. glasses = Eyeglasses and not Wearing_Hat; hat =
/// Wearing_Hat and not Eyeglasses; background = neither. The test split always starts after
/// the whole training split, whatever `limit` is, so the two never share an image.
pub fn select(table: &Attributes, split: Split, limit: Option<usize>) -> Result<[Vec<usize>; 3]> {
    let (glasses, hat) = (table.column("Eyeglasses")?, table.column("Wearing_Hat")?);
    let mut lists: [Vec<usize>; 3] = Default::default();
    for (i, row) in table.values.iter().enumerate() {
        let class = match (row[glasses] > 0, row[hat] > 0) {
            (false, false) => 0,
            (true, false) => 1,
            (false, true) => 2,
            (true, true) => continue,
        };
        lists[class].push(i);
    }
    let mut chosen: [Vec<usize>; 3] = Default::default();
    for class in 0..3 {
        let (start, count) = match split {
            Split::Train => (0, TRAIN_COUNTS[class]),
            Split::Test => (TRAIN_COUNTS[class], TEST_COUNTS[class]),
        };
        let count = limit.map_or(count, |l| count.min(l));
        chosen[class] = lists[class]
            .iter()
            .copied()
            .skip(start)
            .take(count)
            .collect();
        if chosen[class].is_empty() && count > 0 {
            bail!(
                "the attribute file lists {} {} images, none left for the {} split (it starts \
                 after the first {start})",
                lists[class].len(),
                CLASSES[class],
                match split {
                    Split::Train => "training",
                    Split::Test => "test",
                }
            );
        }
    }
    Ok(chosen)
}

/// CelebA with accessories: the images of [`select`], centre crop 108x108, resized to `side`
/// (64). Label: accessory (0 none, 1 glasses, 2 hat), salient and scored on the targets
/// (glasses vs hat, the paper's Table 1).
pub fn celeba(dir: &Path, side: usize, split: Split, limit: Option<usize>) -> Result<DatasetFile> {
    let (images, attributes) = locate(dir)?;
    let text = std::fs::read_to_string(&attributes)
        .with_context(|| format!("could not read {}", attributes.display()))?;
    let table = Attributes::parse(&text)
        .with_context(|| format!("{} is not a CelebA attribute file", attributes.display()))?;
    let chosen = select(&table, split, limit)?;
    let name = match split {
        Split::Train => "training",
        Split::Test => "test",
    };
    let mut out = DatasetFile::new(
        "celeba-accessories",
        &format!("CelebA with accessories ({name} split)"),
        side,
        3,
        // Table 1 scores glasses vs hat on the target images only.
        vec![LabelSpec::salient("accessory")],
        &[],
    );
    for (class, rows) in chosen.iter().enumerate() {
        for &i in rows {
            let path = images.join(&table.files[i]);
            let img = image::open(&path)
                .with_context(|| format!("could not decode the image {}", path.display()))?
                .to_rgb8();
            let pixels = crop_and_resize(&img, 108, side);
            let domain = if class > 0 {
                Domain::Target
            } else {
                Domain::Background
            };
            out.push(domain, &[class as i32], &[], &pixels);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_attribute_table() {
        let text = "3\nEyeglasses Smiling Wearing_Hat\n000001.jpg -1  1 -1\n000002.jpg  1 -1 -1\n000003.jpg -1 -1  1\n";
        let t = Attributes::parse(text).unwrap();
        assert_eq!(t.files[1], "000002.jpg");
        assert_eq!(t.values[2], vec![-1, -1, 1]);
        assert_eq!(t.column("Wearing_Hat").unwrap(), 2);
        assert!(t
            .column("Bald")
            .unwrap_err()
            .to_string()
            .contains("Bald is missing"));
        assert!(Attributes::parse("2\nA B\nx.jpg 1 -1\n").is_err());
        assert!(Attributes::parse("1\nA B\nx.jpg 1 0\n").is_err());
    }

    #[test]
    fn test_and_training_splits_never_share_an_image() {
        // 40,000 rows cycling none, glasses, hat, both, none: 16,000 background, 8,000 of each
        // accessory (rows with both are dropped).
        let mut text = String::from("40000\nEyeglasses Wearing_Hat\n");
        for i in 0..40_000 {
            let (g, h) = [(-1, -1), (1, -1), (-1, 1), (1, 1), (-1, -1)][i % 5];
            text += &format!("{i:06}.jpg {g} {h}\n");
        }
        let table = Attributes::parse(&text).unwrap();
        for limit in [None, Some(1), Some(5_000), Some(20_000)] {
            let train = select(&table, Split::Train, limit).unwrap();
            let test = select(&table, Split::Test, limit).unwrap();
            let train: std::collections::HashSet<usize> = train.into_iter().flatten().collect();
            for (class, rows) in test.iter().enumerate() {
                assert!(!rows.is_empty(), "class {class}, limit {limit:?}");
                assert!(
                    rows.iter().all(|r| !train.contains(r)),
                    "class {class} with limit {limit:?} overlaps the training split"
                );
            }
        }
        let full = select(&table, Split::Test, None).unwrap();
        // What is left after 10,000 / 5,000 / 5,000: 1,000 background (of 6,000), 3,000 of each
        // accessory (the hat slice falls short of 5,000, as it may in CelebA).
        assert_eq!(full.clone().map(|r| r.len()), [1_000, 3_000, 3_000]);
        // Classes follow the attributes; the first test background row is the 10,001st one.
        assert_eq!(full[0][0], 25_000);
    }

    #[test]
    fn centre_crop_then_resize() {
        // 178x218 with a red centre square of 108: the crop is all red.
        let img = image::RgbImage::from_fn(178, 218, |x, y| {
            let inside = (35..143).contains(&x) && (55..163).contains(&y);
            image::Rgb(if inside { [255, 0, 0] } else { [0, 0, 255] })
        });
        let planes = crop_and_resize(&img, 108, 16);
        assert!(planes[..256].iter().all(|&r| r == 255));
        assert!(planes[512..].iter().all(|&b| b == 0));
    }
}
