//! CelebA with accessories (the dataset of MM-cVAE, used by the paper): `img_align_celeba/`
//! with `list_attr_celeba.txt` (a count line, a line of 40 attribute names, then one line per
//! image: file name and +1/-1 per attribute).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use image::imageops::{crop_imm, resize, FilterType};

use super::file::DatasetFile;

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

/// CelebA with accessories: glasses = Eyeglasses and not Wearing_Hat; hat = Wearing_Hat and not
/// Eyeglasses; background = neither, each list in the attribute file's order. Training takes the
/// first `counts` = (background, glasses, hat) of each list (the paper: 10,000, 5,000, 5,000);
/// the test split the next ones. Centre crop 108x108, resize to `side` (64). Label: accessory
/// (0 none, 1 glasses, 2 hat).
pub fn celeba(dir: &Path, side: usize, counts: [usize; 3], test: bool) -> Result<DatasetFile> {
    let (images, attributes) = locate(dir)?;
    let text = std::fs::read_to_string(&attributes)
        .with_context(|| format!("could not read {}", attributes.display()))?;
    let table = Attributes::parse(&text)
        .with_context(|| format!("{} is not a CelebA attribute file", attributes.display()))?;
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
    let split = if test { "test" } else { "training" };
    let mut out = DatasetFile::new(
        "celeba-accessories",
        &format!("CelebA with accessories ({split} split)"),
        side,
        3,
        &["accessory"],
        &[],
    );
    for (class, list) in lists.iter().enumerate() {
        let start = if test { counts[class] } else { 0 };
        let chosen: Vec<usize> = list
            .iter()
            .copied()
            .skip(start)
            .take(counts[class])
            .collect();
        for i in chosen {
            let path = images.join(&table.files[i]);
            let img = image::open(&path)
                .with_context(|| format!("could not decode the image {}", path.display()))?
                .to_rgb8();
            let pixels = crop_and_resize(&img, 108, side);
            out.push((class > 0) as u8, &[class as i32], &[], &pixels);
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
