//! The NIfTI-1 reader: one 3-D volume from a single-file `.nii` or `.nii.gz`, with the affine
//! that places it and the RAS+ orientation that affine implies. How a BraTS volume becomes
//! slices (slices, display, intensities, square and size, tumour) is in [`super::brats`].
//!
//! The reader is self-contained (single-file `.nii` or `.nii.gz`, gzip recognised by content;
//! datatypes uint8, int8, int16, uint16, int32, uint32, float32, float64; either byte order;
//! `scl_slope`/`scl_inter` applied). Everything read from a file is untrusted: each dimension
//! is at most [`MAX_DIM`] and a volume at most [`MAX_VOXELS`] voxels before anything is
//! allocated, and a gzip stream is read no further than the header announces.
//!
//! Conventions (what docs/guide/medical-images.md states):
//! - Orientation: each volume is brought to RAS+ (x to the patient's Right, y Anterior, z
//!   Superior) like nibabel's `as_closest_canonical`, by permuting and flipping axes only (no
//!   resampling). The affine is the sform when `sform_code > 0`, else the qform when
//!   `qform_code > 0`, else the diagonal of `pixdim` (NIfTI "method 1": no flip).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

/// Largest size of one dimension accepted from a file.
pub const MAX_DIM: usize = 4096;
/// Largest number of voxels in one volume accepted from a file (1 GiB as float32).
pub const MAX_VOXELS: usize = 1 << 28;
/// Largest `vox_offset` accepted: header extensions beyond this are not skipped.
const MAX_VOX_OFFSET: usize = 1 << 26;
/// Size of the NIfTI-1 header proper.
const HEADER_SIZE: usize = 348;

/// Where a volume's voxel-to-world affine came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AffineSource {
    Sform,
    Qform,
    Pixdim,
}

/// A 3-D NIfTI-1 volume as read: voxels scaled by `scl_slope`/`scl_inter`, all finite.
#[derive(Clone, Debug, PartialEq)]
pub struct Volume {
    /// Sizes along the file's i, j, k axes.
    pub dims: [usize; 3],
    /// NIfTI order: i fastest.
    pub data: Vec<f32>,
    /// Voxel (i, j, k) to world millimetres: rows x, y, z of a 3x4 matrix.
    pub affine: [[f64; 4]; 3],
    pub affine_source: AffineSource,
}

/// How a volume's axes map onto RAS+: canonical axis `o` (0 = R, 1 = A, 2 = S) is the file's
/// axis `axes[o]`, reversed when `flips[o]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Orientation {
    pub axes: [usize; 3],
    pub flips: [bool; 3],
}

/// The closest RAS+ axis permutation and flips of an affine, or `None` when it is degenerate.
/// Each column of the 3x3 part is normalised (removing the voxel size), then the largest
/// remaining |entry| assigns its file axis to its world axis, greedily, three times. nibabel's
/// `io_orientation` first replaces the matrix by its closest orthogonal one (SVD); the two
/// agree except for strongly sheared or near-45-degree oblique affines.
pub fn orientation(affine: &[[f64; 4]; 3]) -> Option<Orientation> {
    let mut m = [[0f64; 3]; 3];
    for col in 0..3 {
        let norm = (0..3)
            .map(|row| affine[row][col] * affine[row][col])
            .sum::<f64>()
            .sqrt();
        if !norm.is_finite() || norm == 0.0 {
            return None;
        }
        for row in 0..3 {
            m[row][col] = affine[row][col] / norm;
        }
    }
    let mut axes = [usize::MAX; 3];
    let mut flips = [false; 3];
    let mut used_cols = [false; 3];
    for _ in 0..3 {
        let mut best: Option<(usize, usize, f64)> = None;
        for row in (0..3).filter(|&r| axes[r] == usize::MAX) {
            for col in (0..3).filter(|&c| !used_cols[c]) {
                if best.is_none_or(|(_, _, v)| m[row][col].abs() > v.abs()) {
                    best = Some((row, col, m[row][col]));
                }
            }
        }
        let (row, col, value) = best?;
        if value.abs() < 1e-6 {
            return None;
        }
        axes[row] = col;
        flips[row] = value < 0.0;
        used_cols[col] = true;
    }
    Some(Orientation { axes, flips })
}

/// A volume seen in RAS+ order without copying it.
pub(crate) struct CanonicalView<'a> {
    data: &'a [f32],
    /// Sizes along x (R), y (A) and z (S).
    pub(crate) dims: [usize; 3],
    strides: [isize; 3],
    offset: isize,
}

impl<'a> CanonicalView<'a> {
    pub(crate) fn new(volume: &'a Volume, path: &Path) -> Result<Self> {
        let orientation = orientation(&volume.affine).ok_or_else(|| {
            anyhow!(
                "{} has a degenerate {} affine ({:?}), so its orientation is unknown; fix the \
                 header (e.g. with nibabel) before reading it",
                path.display(),
                match volume.affine_source {
                    AffineSource::Sform => "sform",
                    AffineSource::Qform => "qform",
                    AffineSource::Pixdim => "pixdim",
                },
                volume.affine
            )
        })?;
        let [nx, ny, _] = volume.dims;
        let native_strides = [1isize, nx as isize, (nx * ny) as isize];
        let mut dims = [0; 3];
        let mut strides = [0; 3];
        let mut offset = 0;
        for o in 0..3 {
            let axis = orientation.axes[o];
            dims[o] = volume.dims[axis];
            if orientation.flips[o] {
                strides[o] = -native_strides[axis];
                offset += (volume.dims[axis] as isize - 1) * native_strides[axis];
            } else {
                strides[o] = native_strides[axis];
            }
        }
        Ok(CanonicalView {
            data: &volume.data,
            dims,
            strides,
            offset,
        })
    }

    pub(crate) fn get(&self, x: usize, y: usize, z: usize) -> f32 {
        let at = self.offset
            + x as isize * self.strides[0]
            + y as isize * self.strides[1]
            + z as isize * self.strides[2];
        self.data[at as usize]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DataType {
    U8,
    I8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
}

impl DataType {
    fn from_code(code: i16) -> Option<DataType> {
        Some(match code {
            2 => DataType::U8,
            256 => DataType::I8,
            4 => DataType::I16,
            512 => DataType::U16,
            8 => DataType::I32,
            768 => DataType::U32,
            16 => DataType::F32,
            64 => DataType::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            DataType::U8 | DataType::I8 => 1,
            DataType::I16 | DataType::U16 => 2,
            DataType::I32 | DataType::U32 | DataType::F32 => 4,
            DataType::F64 => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            DataType::U8 => "uint8",
            DataType::I8 => "int8",
            DataType::I16 => "int16",
            DataType::U16 => "uint16",
            DataType::I32 => "int32",
            DataType::U32 => "uint32",
            DataType::F32 => "float32",
            DataType::F64 => "float64",
        }
    }

    /// Appends the values of `bytes` (whole values) to `out` as `v * slope + inter`.
    fn decode(self, bytes: &[u8], big: bool, slope: f64, inter: f64, out: &mut Vec<f32>) {
        fn run<const N: usize>(
            bytes: &[u8],
            out: &mut Vec<f32>,
            value: impl Fn([u8; N]) -> f64,
            slope: f64,
            inter: f64,
        ) {
            for chunk in bytes.chunks_exact(N) {
                let mut raw = [0u8; N];
                raw.copy_from_slice(chunk);
                out.push((value(raw) * slope + inter) as f32);
            }
        }
        macro_rules! num {
            ($t:ty) => {
                |b| {
                    f64::from(if big {
                        <$t>::from_be_bytes(b)
                    } else {
                        <$t>::from_le_bytes(b)
                    })
                }
            };
        }
        match self {
            DataType::U8 => run::<1>(bytes, out, num!(u8), slope, inter),
            DataType::I8 => run::<1>(bytes, out, num!(i8), slope, inter),
            DataType::I16 => run::<2>(bytes, out, num!(i16), slope, inter),
            DataType::U16 => run::<2>(bytes, out, num!(u16), slope, inter),
            DataType::I32 => run::<4>(bytes, out, num!(i32), slope, inter),
            DataType::U32 => run::<4>(bytes, out, num!(u32), slope, inter),
            DataType::F32 => run::<4>(bytes, out, num!(f32), slope, inter),
            DataType::F64 => run::<8>(bytes, out, num!(f64), slope, inter),
        }
    }
}

/// The fields of a NIfTI-1 header this reader uses.
struct Header {
    big_endian: bool,
    dims: [usize; 3],
    datatype: DataType,
    vox_offset: usize,
    slope: f64,
    inter: f64,
    affine: [[f64; 4]; 3],
    affine_source: AffineSource,
}

/// Reads a 3-D single-file NIfTI-1 volume, `.nii` or `.nii.gz` (gzip recognised by content).
/// A 4th to 7th dimension of size 1 is accepted. Every error names the file.
pub fn read_nifti(path: &Path) -> Result<Volume> {
    let file = File::open(path).with_context(|| format!("could not open {}", path.display()))?;
    let file_len = file.metadata().map(|m| m.len()).ok();
    let mut buffered = BufReader::new(file);
    let gzip = buffered
        .fill_buf()
        .with_context(|| format!("could not read {}", path.display()))?
        .starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let read_error = |e: std::io::Error| {
        if gzip {
            anyhow!(
                "{} is a corrupt gzip file ({e}); download or decompress it again",
                path.display()
            )
        } else {
            anyhow!("could not read {}: {e}", path.display())
        }
    };

    let mut raw = [0u8; HEADER_SIZE];
    let got = read_up_to(&mut reader, &mut raw).map_err(read_error)?;
    if got < HEADER_SIZE {
        bail!(
            "{} is too short to be a NIfTI-1 file: it has {got} bytes{}, and a NIfTI-1 header \
             alone has 348; the file is truncated or not NIfTI",
            path.display(),
            if gzip { " once decompressed" } else { "" }
        );
    }
    let header = parse_header(&raw, path)?;

    // Header extensions (and the 4-byte extension flag) lie between header and voxels.
    let skip = (header.vox_offset - HEADER_SIZE) as u64;
    let skipped =
        std::io::copy(&mut (&mut reader).take(skip), &mut std::io::sink()).map_err(read_error)?;
    let [nx, ny, nz] = header.dims;
    let count = nx * ny * nz;
    let size = header.datatype.size();
    let truncated = |bytes: usize| {
        anyhow!(
            "{} is truncated: its header announces {} {} voxels ({} bytes from byte {}), but \
             only {bytes} bytes of voxel data are there; download or copy it again",
            path.display(),
            shape(header.dims),
            header.datatype.name(),
            count * size,
            header.vox_offset
        )
    };
    if skipped < skip {
        return Err(truncated(0));
    }
    let data_len = (count * size) as u64;
    if let (false, Some(file_len)) = (gzip, file_len) {
        let present = file_len.saturating_sub(header.vox_offset as u64);
        if present < data_len {
            return Err(truncated(present as usize));
        }
    }

    // Memory follows the data that actually arrives: a plain file's size was checked above,
    // but a gzip stream's length is known only once read, so its buffer grows as it comes
    // rather than trusting the header's dimensions.
    let no_memory = || {
        anyhow!(
            "there is not enough memory for the {} voxels of {}",
            shape(header.dims),
            path.display()
        )
    };
    let mut data: Vec<f32> = Vec::new();
    let initial = if gzip { count.min(1 << 22) } else { count };
    data.try_reserve_exact(initial).map_err(|_| no_memory())?;
    // Reads in chunks so that a float64 volume never sits in memory twice.
    let mut chunk = vec![0u8; size * 65536];
    let mut remaining = count * size;
    while remaining > 0 {
        let want = remaining.min(chunk.len());
        let got = read_up_to(&mut reader, &mut chunk[..want]).map_err(read_error)?;
        if got < want {
            return Err(truncated(count * size - remaining + got));
        }
        data.try_reserve(want / size).map_err(|_| no_memory())?;
        header.datatype.decode(
            &chunk[..want],
            header.big_endian,
            header.slope,
            header.inter,
            &mut data,
        );
        remaining -= want;
    }
    data.shrink_to_fit();

    let bad = data.iter().filter(|v| !v.is_finite()).count();
    if let Some(first) = data.iter().position(|v| !v.is_finite()) {
        bail!(
            "{} has {bad} NaN or infinite voxels (the first at voxel ({}, {}, {})); replace them \
             (e.g. by 0) before reading it",
            path.display(),
            first % nx,
            first / nx % ny,
            first / (nx * ny)
        );
    }
    Ok(Volume {
        dims: header.dims,
        data,
        affine: header.affine,
        affine_source: header.affine_source,
    })
}

/// Reads until `buf` is full or the stream ends; a stream cut short (as a truncated gzip
/// file reports it) counts as its end, so that the caller can say "truncated".
fn read_up_to(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn parse_header(raw: &[u8; HEADER_SIZE], path: &Path) -> Result<Header> {
    let sizeof_le = i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let sizeof_be = i32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let big_endian = match (sizeof_le, sizeof_be) {
        (348, _) => false,
        (_, 348) => true,
        (540, _) | (_, 540) => bail!(
            "{} is a NIfTI-2 file, which this reader does not take; convert it to NIfTI-1 \
             (e.g. nibabel's Nifti1Image)",
            path.display()
        ),
        _ => bail!(
            "{} is not a NIfTI-1 file (it does not start with the header size 348); pass a \
             .nii or .nii.gz volume",
            path.display()
        ),
    };
    let i16_at = |at: usize| {
        let b = [raw[at], raw[at + 1]];
        if big_endian {
            i16::from_be_bytes(b)
        } else {
            i16::from_le_bytes(b)
        }
    };
    let f32_at = |at: usize| {
        let b = [raw[at], raw[at + 1], raw[at + 2], raw[at + 3]];
        f64::from(if big_endian {
            f32::from_be_bytes(b)
        } else {
            f32::from_le_bytes(b)
        })
    };

    match &raw[344..348] {
        b"n+1\0" => {}
        b"ni1\0" => bail!(
            "{} is the header of a .hdr/.img pair; this reader takes single-file NIfTI-1 \
             (.nii or .nii.gz): convert it, e.g. with nibabel",
            path.display()
        ),
        _ => bail!(
            "{} has no NIfTI-1 magic (\"n+1\"); it may be an Analyze 7.5 file, which this \
             reader does not take: convert it to NIfTI-1",
            path.display()
        ),
    }

    let dim: Vec<i64> = (0..8).map(|i| i64::from(i16_at(40 + 2 * i))).collect();
    let ndim = dim[0];
    if !(1..=7).contains(&ndim) {
        bail!(
            "{} has a corrupt header: {ndim} dimensions (NIfTI allows 1 to 7)",
            path.display()
        );
    }
    let ndim = ndim as usize;
    let sizes = &dim[1..=ndim];
    let listed = sizes
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x");
    if sizes.iter().any(|&d| d < 1) {
        bail!(
            "{} has a corrupt header: its dimensions {listed} include one below 1",
            path.display()
        );
    }
    if ndim < 3 {
        bail!(
            "{} is {ndim}-D ({listed}); a 3-D volume is expected",
            path.display()
        );
    }
    if sizes[3..].iter().any(|&d| d != 1) {
        bail!(
            "{} is {ndim}-D ({listed}); one 3-D volume per file is expected (BraTS keeps each \
             modality in its own file): split it first",
            path.display()
        );
    }
    let dims = [dim[1] as usize, dim[2] as usize, dim[3] as usize];
    if dims.iter().any(|&d| d > MAX_DIM) || dims.iter().product::<usize>() > MAX_VOXELS {
        bail!(
            "{} is {} voxels, beyond this reader's limits ({MAX_DIM} per dimension, {} in \
             all); crop or resample it",
            path.display(),
            shape(dims),
            MAX_VOXELS
        );
    }

    let code = i16_at(70);
    let datatype = DataType::from_code(code).ok_or_else(|| {
        anyhow!(
            "{} has NIfTI datatype code {code}, which this reader does not take; supported: \
             uint8, int8, int16, uint16, int32, uint32, float32, float64",
            path.display()
        )
    })?;

    let vox_offset = f32_at(108);
    if !vox_offset.is_finite()
        || vox_offset < HEADER_SIZE as f64
        || vox_offset > MAX_VOX_OFFSET as f64
    {
        bail!(
            "{} has a corrupt header: the voxels are said to start at byte {vox_offset}, not \
             between 348 and {MAX_VOX_OFFSET}",
            path.display()
        );
    }

    // As nibabel: a slope of 0 or not finite means no scaling; an intercept not finite is 0.
    let (mut slope, mut inter) = (f32_at(112), f32_at(116));
    if slope == 0.0 || !slope.is_finite() {
        (slope, inter) = (1.0, 0.0);
    }
    if !inter.is_finite() {
        inter = 0.0;
    }

    let pixdim: Vec<f64> = (0..8).map(|i| f32_at(76 + 4 * i)).collect();
    let (qform_code, sform_code) = (i16_at(252), i16_at(254));
    let (affine, affine_source) = if sform_code > 0 {
        let mut affine = [[0f64; 4]; 3];
        for (row, values) in affine.iter_mut().enumerate() {
            for (col, v) in values.iter_mut().enumerate() {
                *v = f32_at(280 + 16 * row + 4 * col);
            }
        }
        (affine, AffineSource::Sform)
    } else if qform_code > 0 {
        let q = [f32_at(256), f32_at(260), f32_at(264)];
        let offset = [f32_at(268), f32_at(272), f32_at(276)];
        (qform_affine(q, offset, &pixdim), AffineSource::Qform)
    } else {
        let size = |p: f64| {
            if p.is_finite() && p != 0.0 {
                p.abs()
            } else {
                1.0
            }
        };
        let affine = [
            [size(pixdim[1]), 0.0, 0.0, 0.0],
            [0.0, size(pixdim[2]), 0.0, 0.0],
            [0.0, 0.0, size(pixdim[3]), 0.0],
        ];
        (affine, AffineSource::Pixdim)
    };

    Ok(Header {
        big_endian,
        dims,
        datatype,
        vox_offset: vox_offset as usize,
        slope,
        inter,
        affine,
        affine_source,
    })
}

/// The qform affine of the NIfTI-1 standard (as `nifti_quatern_to_mat44`): a rotation from
/// quaternion (a, b, c, d) with a = sqrt(1 - b² - c² - d²), columns scaled by the voxel sizes
/// (1 where not positive) and the third by qfac = pixdim[0] (-1, else 1).
fn qform_affine(q: [f64; 3], offset: [f64; 3], pixdim: &[f64]) -> [[f64; 4]; 3] {
    let [mut b, mut c, mut d] = q;
    let squares = b * b + c * c + d * d;
    let a = if squares > 1.0 {
        // Not a unit quaternion: normalise (b, c, d) and use a = 0, as nifti1_io does.
        let norm = squares.sqrt();
        (b, c, d) = (b / norm, c / norm, d / norm);
        0.0
    } else {
        (1.0 - squares).sqrt()
    };
    let size = |p: f64| if p > 0.0 { p } else { 1.0 };
    let qfac = if pixdim[0] < 0.0 { -1.0 } else { 1.0 };
    let zooms = [size(pixdim[1]), size(pixdim[2]), size(pixdim[3]) * qfac];
    let r = [
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        ],
    ];
    let mut affine = [[0f64; 4]; 3];
    for row in 0..3 {
        for col in 0..3 {
            affine[row][col] = r[row][col] * zooms[col];
        }
        affine[row][3] = offset[row];
    }
    affine
}

/// A volume's dimensions as `XxYxZ`, for messages.
pub(crate) fn shape(dims: [usize; 3]) -> String {
    format!("{}x{}x{}", dims[0], dims[1], dims[2])
}

#[cfg(test)]
#[path = "synthetic_nifti.rs"]
pub(crate) mod synthetic_nifti;

#[cfg(test)]
mod tests {
    use super::synthetic_nifti::{
        write_raw, RawHeader, DT_FLOAT64, DT_INT16, DT_INT32, DT_UINT8, IDENTITY,
    };
    use super::*;

    #[test]
    fn datatypes_byte_orders_and_scaling_read_right() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v.nii");
        let dims = [3, 2, 2];
        let raw: Vec<i32> = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100];
        for big in [false, true] {
            for (code, bitpix) in [
                (DT_UINT8, 8),
                (DT_INT16, 16),
                (DT_INT32, 32),
                (DT_FLOAT64, 64),
            ] {
                let mut header = RawHeader::float32(dims, IDENTITY);
                (header.datatype, header.bitpix) = (code, bitpix);
                (header.scl_slope, header.scl_inter) = (0.5, 10.0);
                let data: Vec<u8> = raw
                    .iter()
                    .flat_map(|&v| match (code, big) {
                        (DT_UINT8, _) => vec![v as u8],
                        (DT_INT16, false) => (v as i16).to_le_bytes().to_vec(),
                        (DT_INT16, true) => (v as i16).to_be_bytes().to_vec(),
                        (DT_INT32, false) => v.to_le_bytes().to_vec(),
                        (DT_INT32, true) => v.to_be_bytes().to_vec(),
                        (_, false) => f64::from(v).to_le_bytes().to_vec(),
                        (_, true) => f64::from(v).to_be_bytes().to_vec(),
                    })
                    .collect();
                write_raw(&path, &header, big, &data);
                let volume = read_nifti(&path).expect("read");
                let expected: Vec<f32> = raw.iter().map(|&v| v as f32 * 0.5 + 10.0).collect();
                assert_eq!(volume.data, expected, "datatype {code}, big-endian {big}");
                assert_eq!(volume.dims, dims);
            }
        }
        // A slope of 0 means no scaling.
        let mut header = RawHeader::float32(dims, IDENTITY);
        header.scl_slope = 0.0;
        header.scl_inter = 5.0;
        let data: Vec<u8> = raw.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect();
        write_raw(&path, &header, false, &data);
        let expected: Vec<f32> = raw.iter().map(|&v| v as f32).collect();
        assert_eq!(read_nifti(&path).expect("read").data, expected);
    }

    #[test]
    fn a_fourth_dimension_of_one_is_accepted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v.nii");
        let mut header = RawHeader::float32([2, 2, 2], IDENTITY);
        (header.dim[0], header.dim[4]) = (4, 1);
        let data: Vec<u8> = (0..8).flat_map(|v| (v as f32).to_le_bytes()).collect();
        write_raw(&path, &header, false, &data);
        assert_eq!(read_nifti(&path).expect("read").dims, [2, 2, 2]);
    }
}
