//! NIfTI-1 writer and synthetic MRI heads for the tests of the NIfTI-1 reader and the BraTS
//! slices (std and flate2 only). Included by path from `nifti.rs` (for its unit tests and
//! `brats.rs`'s) and from the integration tests, so it compiles on its own and not every item
//! is used by every includer.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// Bytes before the voxels of a single-file NIfTI-1: the 348-byte header and the 4-byte
/// extension flag (all zero: no extensions).
pub const HEADER_WITH_EXTENSION: usize = 352;

/// NIfTI-1 datatype codes the writer and tests use.
pub const DT_UINT8: i16 = 2;
pub const DT_INT16: i16 = 4;
pub const DT_INT32: i16 = 8;
pub const DT_FLOAT32: i16 = 16;
pub const DT_FLOAT64: i16 = 64;

/// The header fields a reader looks at; everything else is written as zero. Public so that
/// tests can build odd files (other datatypes, big-endian, qform only, 4-D, bad magic).
#[derive(Clone, Debug, PartialEq)]
pub struct RawHeader {
    /// `dim[0]` is the number of dimensions, `dim[1..=dim[0]]` their sizes.
    pub dim: [i16; 8],
    pub datatype: i16,
    pub bitpix: i16,
    /// `pixdim[0]` is qfac (the sign of the third qform axis), `pixdim[1..=3]` the voxel size.
    pub pixdim: [f32; 8],
    pub vox_offset: f32,
    pub scl_slope: f32,
    pub scl_inter: f32,
    pub qform_code: i16,
    pub sform_code: i16,
    /// quatern_b, quatern_c, quatern_d.
    pub quatern: [f32; 3],
    /// qoffset_x, qoffset_y, qoffset_z.
    pub qoffset: [f32; 3],
    /// srow_x, srow_y, srow_z.
    pub srow: [[f32; 4]; 3],
    /// "n+1\0" for a single file.
    pub magic: [u8; 4],
}

impl RawHeader {
    /// A float32 3-D header with the given sform (code 1), no qform, data at byte 352.
    pub fn float32(dims: [usize; 3], affine: [[f32; 4]; 3]) -> RawHeader {
        let mut dim = [1i16; 8];
        dim[0] = 3;
        for (d, &n) in dim[1..4].iter_mut().zip(&dims) {
            // Saturating: the caller checks the range; tests may want out-of-range sizes.
            *d = i16::try_from(n).unwrap_or(i16::MAX);
        }
        let mut pixdim = [0f32; 8];
        pixdim[0] = 1.0;
        for (axis, p) in pixdim[1..4].iter_mut().enumerate() {
            // The voxel size along an axis is the length of the affine's column.
            *p = (0..3)
                .map(|row| affine[row][axis] * affine[row][axis])
                .sum::<f32>()
                .sqrt();
        }
        RawHeader {
            dim,
            datatype: DT_FLOAT32,
            bitpix: 32,
            pixdim,
            vox_offset: HEADER_WITH_EXTENSION as f32,
            scl_slope: 1.0,
            scl_inter: 0.0,
            qform_code: 0,
            sform_code: 1,
            quatern: [0.0; 3],
            qoffset: [0.0; 3],
            srow: affine,
            magic: *b"n+1\0",
        }
    }

    /// The 348-byte header and the 4-byte extension flag, in either byte order.
    pub fn encode(&self, big_endian: bool) -> Vec<u8> {
        let mut out = vec![0u8; HEADER_WITH_EXTENSION];
        let put = |out: &mut Vec<u8>, at: usize, bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
        };
        let i16b = |v: i16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let i32b = |v: i32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let f32b = |v: f32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        put(&mut out, 0, &i32b(348));
        for (i, &d) in self.dim.iter().enumerate() {
            put(&mut out, 40 + 2 * i, &i16b(d));
        }
        put(&mut out, 70, &i16b(self.datatype));
        put(&mut out, 72, &i16b(self.bitpix));
        for (i, &p) in self.pixdim.iter().enumerate() {
            put(&mut out, 76 + 4 * i, &f32b(p));
        }
        put(&mut out, 108, &f32b(self.vox_offset));
        put(&mut out, 112, &f32b(self.scl_slope));
        put(&mut out, 116, &f32b(self.scl_inter));
        // xyzt_units: millimetres and seconds.
        out[123] = 2 | 8;
        put(&mut out, 252, &i16b(self.qform_code));
        put(&mut out, 254, &i16b(self.sform_code));
        for (i, &q) in self.quatern.iter().chain(&self.qoffset).enumerate() {
            put(&mut out, 256 + 4 * i, &f32b(q));
        }
        for (row, values) in self.srow.iter().enumerate() {
            for (col, &v) in values.iter().enumerate() {
                put(&mut out, 280 + 16 * row + 4 * col, &f32b(v));
            }
        }
        put(&mut out, 344, &self.magic);
        out
    }
}

/// Writes `bytes` to `path`, gzip-compressed when asked.
pub fn write_bytes(path: &Path, bytes: &[u8], gzip: bool) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    if gzip {
        let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        encoder.write_all(bytes)?;
        encoder.finish()?.sync_all()
    } else {
        let mut file = file;
        file.write_all(bytes)?;
        file.sync_all()
    }
}

/// Writes `data` after a custom header (datatype, byte order, transforms), uncompressed;
/// panics when the file cannot be written, as a test wants.
pub fn write_raw(path: &Path, header: &RawHeader, big_endian: bool, data: &[u8]) {
    let mut bytes = header.encode(big_endian);
    bytes.extend_from_slice(data);
    write_bytes(path, &bytes, false).expect("write");
}

/// A float32 little-endian NIfTI-1 file: sform_code 1 with `affine` (the rows srow_x, srow_y,
/// srow_z), qform_code 0, data at byte 352. `voxels` are in NIfTI order (x fastest).
pub fn write_nifti(
    path: &Path,
    dims: [usize; 3],
    voxels: &[f32],
    affine: [[f32; 4]; 3],
    gzip: bool,
) -> std::io::Result<()> {
    let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
    if dims.iter().any(|&n| n == 0 || n > i16::MAX as usize) {
        return Err(invalid(format!(
            "dimensions {dims:?} do not fit a NIfTI-1 header (1 to 32767 each)"
        )));
    }
    let count: usize = dims.iter().product();
    if voxels.len() != count {
        return Err(invalid(format!(
            "{} voxels given for dimensions {dims:?} ({count} expected)",
            voxels.len()
        )));
    }
    let mut bytes = RawHeader::float32(dims, affine).encode(false);
    bytes.reserve(4 * count);
    for v in voxels {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_bytes(path, &bytes, gzip)
}

/// The identity affine (1 mm voxels, RAS+ axes).
pub const IDENTITY: [[f32; 4]; 3] = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
];

/// Image intensities of the synthetic head.
pub const SKULL: f32 = 300.0;
pub const BRAIN: f32 = 600.0;
pub const VENTRICLE: f32 = 150.0;
pub const TUMOUR: f32 = 1000.0;

/// Whether voxel `(x, y, z)` lies in the ellipsoid of `centre` and `radii` (voxel units).
fn in_ellipsoid(p: [f32; 3], centre: [f32; 3], radii: [f32; 3]) -> bool {
    (0..3)
        .map(|a| ((p[a] - centre[a]) / radii[a]).powi(2))
        .sum::<f32>()
        <= 1.0
}

/// Whether voxel `p` lies in the tumour ball (the rule the tests use to know where it is).
pub fn in_ball(p: [f32; 3], centre: [f32; 3], radius: f32) -> bool {
    (0..3).map(|a| (p[a] - centre[a]).powi(2)).sum::<f32>() <= radius * radius
}

/// A synthetic head in NIfTI order (x fastest), all in voxel coordinates: a skull shell, the
/// brain inside it, two ventricles, and, when given, a bright tumour ball (`centre`, `radius`)
/// drawn over them. The segmentation labels the ball like BraTS: 1 (necrotic core) within 0.4
/// of the radius, 4 (enhancing) up to 0.7, 2 (oedema) up to the radius, 0 elsewhere; without a
/// tumour it is all zero.
pub fn synthetic_head(dims: [usize; 3], tumour: Option<([f32; 3], f32)>) -> (Vec<f32>, Vec<f32>) {
    let count: usize = dims.iter().product();
    let mut image = vec![0f32; count];
    let mut seg = vec![0f32; count];
    let half = dims.map(|n| n as f32 / 2.0);
    let centre = half.map(|h| h - 0.5);
    let head = half.map(|h| h * 0.92);
    let brain = half.map(|h| h * 0.80);
    let ventricle = [half[0] * 0.12, half[1] * 0.30, half[2] * 0.25];
    let ventricle_centres = [
        [centre[0] - half[0] * 0.18, centre[1], centre[2]],
        [centre[0] + half[0] * 0.18, centre[1], centre[2]],
    ];
    for z in 0..dims[2] {
        for y in 0..dims[1] {
            for x in 0..dims[0] {
                let p = [x as f32, y as f32, z as f32];
                let i = x + dims[0] * (y + dims[1] * z);
                let mut v = 0.0;
                if in_ellipsoid(p, centre, head) {
                    v = SKULL;
                }
                if in_ellipsoid(p, centre, brain) {
                    v = BRAIN;
                }
                if ventricle_centres
                    .iter()
                    .any(|&c| in_ellipsoid(p, c, ventricle))
                {
                    v = VENTRICLE;
                }
                if let Some((t_centre, radius)) = tumour {
                    if in_ball(p, t_centre, radius) {
                        v = TUMOUR;
                        let d = (0..3)
                            .map(|a| (p[a] - t_centre[a]).powi(2))
                            .sum::<f32>()
                            .sqrt();
                        seg[i] = if d <= 0.4 * radius {
                            1.0
                        } else if d <= 0.7 * radius {
                            4.0
                        } else {
                            2.0
                        };
                    }
                }
                image[i] = v;
            }
        }
    }
    (image, seg)
}
