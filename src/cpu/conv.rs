//! The networks' convolutions on the CPU (burn-flex), as matrix products over the batch.
//!
//! burn-flex convolves image by image, so many of its products are thin: a 4x4 head is a
//! matrix-vector product per image, a weight gradient (computed by burn as a convolution whose
//! output is the 4x4 kernel) has 16 columns, and so has a transposed convolution from a 4x4 map.
//! Profiled on the 64x64 iteration, those thin products took about half the time. Here every
//! convolution of the model is im2col + products + col2im, forward and backward, with the
//! gradients registered through burn's autodiff extension API ([`Backward`]): small maps (up to
//! 8x8 positions) are transposed to channel-major and multiplied a chunk of images at a time,
//! large ones image by image where they lie; either way each thread takes a run of images with
//! its own buffers (one fork per layer instead of one per product; BENCHMARKS.md has what the
//! second core gives).
//! Other devices (wgpu, WebGPU) and convolutions with bias, groups, dilation or uneven padding
//! keep burn's own operations.
//!
//! With `X` the activations `[C, batch * positions]` and `col(I)` the im2col of an image tensor
//! `I` under the convolution's geometry (`[C_img * k * k, batch * positions]`):
//! - conv forward: `Y = W col(X)`; gradients `dW = dY col(X)^T`, `dX = col2im(W^T dY)`;
//! - transposed conv forward: `Y = col2im(W^T X)`; `dW = X col(dY)^T`, `dX = W col(dY)`.
//!
//! So two kernels serve both: [`through_columns`] (`W col(I)` and `A col(I)^T` from one im2col)
//! and [`scatter`] (`col2im(W^T A)`). The results equal burn's up to float rounding (tested).

#[cfg(feature = "train")]
use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::NoCheckpointing},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::flex::FlexTensor;
#[cfg(feature = "train")]
use burn::backend::Autodiff;
use burn::backend::Flex;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use rayon::prelude::*;

use super::buffer::{copied, with_scratch, written, zeroed};
use super::tensor::{dense, flex, on_flex, values};
use std::mem::MaybeUninit;

/// The geometry of a convolution seen from its image side: `image` is the convolution's input
/// (or the transposed convolution's output), `positions` the other side's spatial size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub batch: usize,
    /// Channels of the image side.
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    /// Spatial size of the other side: `(height + 2 padding - kernel) / stride + 1`.
    pub out_height: usize,
    pub out_width: usize,
}

impl Geometry {
    fn new(
        [batch, channels, height, width]: [usize; 4],
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Option<Self> {
        let span = |side: usize| {
            (side + 2 * padding)
                .checked_sub(kernel)
                .map(|d| d / stride + 1)
        };
        Some(Self {
            batch,
            channels,
            height,
            width,
            kernel,
            stride,
            padding,
            out_height: span(height)?,
            out_width: span(width)?,
        })
    }

    fn positions(&self) -> usize {
        self.out_height * self.out_width
    }

    /// Rows of an im2col matrix: `channels * kernel * kernel`.
    fn rows(&self) -> usize {
        self.channels * self.kernel * self.kernel
    }

    fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether the kernel covers the whole unpadded image (the discriminator's heads on its
    /// 4x4 features, the generator's first layer from 1x1): one position, and the im2col of
    /// images `[B, C k k]` is their transpose, which the products then read where it lies.
    fn is_whole(&self) -> bool {
        self.padding == 0 && self.height == self.kernel && self.width == self.kernel
    }

    /// Images per chunk: the im2col buffer stays under ~16 MiB, whatever the batch.
    fn chunk(&self) -> usize {
        const BUDGET: usize = 1 << 22;
        (BUDGET / (self.rows() * self.positions()).max(1)).clamp(1, self.batch.max(1))
    }
}

/// The output positions `o` whose input index `o stride + offset - padding` falls in
/// `0..size`: the loops below then run without a bound check per element.
fn valid(g: &Geometry, offset: usize, size: usize, outputs: usize) -> std::ops::Range<usize> {
    let (s, p) = (g.stride, g.padding);
    let first = p.saturating_sub(offset).div_ceil(s);
    // o s + offset - p <= size - 1  <=>  o <= (size - 1 + p - offset) / s
    let end = (size + p)
        .checked_sub(offset + 1)
        .map_or(0, |top| top / s + 1)
        .min(outputs);
    first.min(end)..end
}

/// im2col of images `[b1 - b0, C, H, W]` (the chunk `b0..b1` of `image`) into `cols`
/// (`[C k k, (b1 - b0) P]`), every entry written (padding as zeros), on the calling thread:
/// the buffer is reused from chunk to chunk, since fresh large allocations cost a page fault
/// per 4 KiB.
fn im2col(image: &[f32], g: &Geometry, b0: usize, b1: usize, cols: &mut [f32]) {
    let width = (b1 - b0) * g.positions();
    cols[..g.rows() * width]
        .chunks_mut(g.kernel * width)
        .enumerate()
        .for_each(|(kernel_row, out)| im2col_rows(image, g, b0, kernel_row, out));
}

/// The `k` rows of [`im2col`] of one kernel row (`kernel_row = c k + ky`: the taps
/// `(c, ky, 0..k)`), for the images from `b0` that `out` (`k` rows of equal length) has room
/// for.
fn im2col_rows(image: &[f32], g: &Geometry, b0: usize, kernel_row: usize, out: &mut [f32]) {
    let (k, p, ow) = (g.kernel, g.positions(), g.out_width);
    let width = out.len() / k;
    if g.stride != 2 || g.width + 2 * g.padding + 2 > LINE {
        for (kx, row) in out.chunks_mut(width).enumerate() {
            im2col_row(image, g, b0, kernel_row * k + kx, row);
        }
        return;
    }
    // Stride 2: each image line is copied once between zeros (its padding), then split into
    // its even and odd phases, from which every tap of the kernel row is a contiguous copy
    // (tap `kx` of output `o` reads padded position `2 o + kx`). A gather per tap from a
    // line clipped at the edges left most values to a scalar remainder loop.
    let (c, ky) = (kernel_row / k, kernel_row % k);
    let rows = valid(g, ky, g.height, g.out_height);
    let mut padded = [0f32; LINE];
    let (mut even, mut odd) = ([0f32; LINE / 2], [0f32; LINE / 2]);
    let half = (g.width + 2 * g.padding + 2) / 2;
    for b in 0..width / p {
        let plane =
            &image[((b0 + b) * g.channels + c) * g.height * g.width..][..g.height * g.width];
        for oy in 0..g.out_height {
            let at = b * p + oy * ow;
            if !rows.contains(&oy) {
                for row in out.chunks_mut(width) {
                    row[at..][..ow].fill(0.0);
                }
                continue;
            }
            let line = &plane[(oy * 2 + ky - g.padding) * g.width..][..g.width];
            copy_short(&mut padded[g.padding..][..g.width], line);
            for ((pair, e), o) in padded.chunks_exact(2).zip(&mut even[..half]).zip(&mut odd) {
                (*e, *o) = (pair[0], pair[1]);
            }
            for (kx, row) in out.chunks_mut(width).enumerate() {
                let phase = if kx % 2 == 0 { &even } else { &odd };
                copy_short(&mut row[at..][..ow], &phase[kx / 2..][..ow]);
            }
        }
    }
}

/// `dst.copy_from_slice(src)`, inline for the short lines of small maps (up to 16 values): as
/// calls to libc's memmove, im2col's copies took 7% of the one-thread 32x32 iteration, mostly in
/// the call. Blocks of 4, so that lines of 4 values are one block too; longer lines go to
/// memmove, whose wide copies (AVX-512 where there is) beat this crate's baseline 4-wide ones.
#[inline(always)]
fn copy_short(dst: &mut [f32], src: &[f32]) {
    if src.len() > 16 {
        return dst.copy_from_slice(src);
    }
    assert_eq!(dst.len(), src.len());
    let mut dst = dst.chunks_exact_mut(4);
    let mut src = src.chunks_exact(4);
    for (d, s) in (&mut dst).zip(&mut src) {
        let d: &mut [f32; 4] = d.try_into().expect("chunks of 4");
        *d = s.try_into().expect("chunks of 4");
    }
    for (d, s) in dst.into_remainder().iter_mut().zip(src.remainder()) {
        *d = *s;
    }
}

/// One row of [`im2col`] (kernel offset `row` of one channel, for the images from `b0`
/// that `out` has room for), for strides other than 2 (see [`im2col_rows`]).
fn im2col_row(image: &[f32], g: &Geometry, b0: usize, row: usize, out: &mut [f32]) {
    let (k, p, s) = (g.kernel, g.positions(), g.stride);
    let (c, ky, kx) = (row / (k * k), (row / k) % k, row % k);
    let (rows, xs) = (
        valid(g, ky, g.height, g.out_height),
        valid(g, kx, g.width, g.out_width),
    );
    for (b, out) in out.chunks_mut(p).enumerate() {
        let plane =
            &image[((b0 + b) * g.channels + c) * g.height * g.width..][..g.height * g.width];
        for (oy, dst) in out.chunks_mut(g.out_width).enumerate() {
            if !rows.contains(&oy) {
                dst.fill(0.0);
                continue;
            }
            let line = &plane[(oy * s + ky - g.padding) * g.width..][..g.width];
            dst[..xs.start].fill(0.0);
            dst[xs.end..].fill(0.0);
            let dst = &mut dst[xs.clone()];
            let base = xs.start * s + kx - g.padding;
            if s == 1 {
                dst.copy_from_slice(&line[base..base + dst.len()]);
            } else {
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = line[base + i * s];
                }
            }
        }
    }
}

/// Values of a padded line that the stride-2 path of [`im2col_rows`] holds on the stack (lines
/// up to ~256 wide).
const LINE: usize = 288;

/// Values of the four stride phases of a padded plane that [`col2im_plane_stride2`] holds on
/// the stack (planes up to 70x70; 20 KiB).
const PHASES: usize = 4 * 36 * 36;

/// The images `[nb, C, H, W]` that columns `[C k k, nb P]` were taken from, summed back.
fn col2im(cols: &[f32], g: &Geometry, nb: usize, image: &mut [MaybeUninit<f32>]) {
    image
        .chunks_mut(g.height * g.width)
        .enumerate()
        .for_each(|(plane_index, plane)| col2im_plane(cols, g, nb, plane_index, plane));
}

/// One plane (image `plane_index / C`, channel `plane_index % C`) of [`col2im`], every value
/// written.
fn col2im_plane(
    cols: &[f32],
    g: &Geometry,
    nb: usize,
    plane_index: usize,
    plane: &mut [MaybeUninit<f32>],
) {
    let (k, p, s) = (g.kernel, g.positions(), g.stride);
    let (b, c) = (plane_index / g.channels, plane_index % g.channels);
    if s == 2 {
        return col2im_plane_stride2(cols, g, nb, b, c, plane);
    }
    let plane = zeroed(plane);
    for ky in 0..k {
        let rows = valid(g, ky, g.height, g.out_height);
        for kx in 0..k {
            let xs = valid(g, kx, g.width, g.out_width);
            let row = &cols[((c * k + ky) * k + kx) * nb * p + b * p..][..p];
            for oy in rows.clone() {
                let line = &mut plane[(oy * s + ky - g.padding) * g.width..][..g.width];
                let src = &row[oy * g.out_width..][xs.clone()];
                let base = xs.start * s + kx - g.padding;
                let dst = &mut line[base..base + (src.len().max(1) - 1) * s + 1];
                if s == 1 {
                    for (d, &v) in dst.iter_mut().zip(src) {
                        *d += v;
                    }
                } else {
                    for (i, &v) in src.iter().enumerate() {
                        dst[i * s] += v;
                    }
                }
            }
        }
    }
}

/// The four stride phases of a plane padded by the convolution's padding: phase `(py, px)`
/// holds padded position `(2 i + py, 2 j + px)` at `(i, j)`, `height` by `width`. Tap
/// `(ky, kx)` of output `(oy, ox)` reads (or, transposed, adds onto) padded position
/// `(2 oy + ky, 2 ox + kx)`: phase `(ky % 2, kx % 2)` at `(oy + ky / 2, ox + kx / 2)`, inside
/// the phase for every tap, so no tap is clipped at the edges.
#[derive(Debug, Clone, Copy)]
struct Phases {
    height: usize,
    width: usize,
}

impl Phases {
    fn of(g: &Geometry) -> Self {
        // Room for every tap's reach and for every image position.
        let side = |outputs: usize, image: usize| {
            (outputs + (g.kernel - 1) / 2).max((image - 1 + g.padding) / 2 + 1)
        };
        Phases {
            height: side(g.out_height, g.height),
            width: side(g.out_width, g.width),
        }
    }

    fn len(&self) -> usize {
        self.height * self.width
    }
}

/// [`col2im_plane`] for stride 2. Strided adds into the image lines run one scalar at a time;
/// here every tap's columns add, a whole output row at a time (contiguous, vectorised, never
/// clipped), into one of the four stride phases of the padded plane, held on the stack; one
/// interleaving pass then writes the image's positions from the phases.
fn col2im_plane_stride2(
    cols: &[f32],
    g: &Geometry,
    nb: usize,
    b: usize,
    c: usize,
    plane: &mut [MaybeUninit<f32>],
) {
    let (k, p, ow) = (g.kernel, g.positions(), g.out_width);
    let phases = Phases::of(g);
    let (len, pw) = (phases.len(), phases.width);
    // On the stack, zeroed only as far as used; larger planes (Table 5's 128x128) on the heap.
    let mut stack = [MaybeUninit::<f32>::uninit(); PHASES];
    let mut heap = Vec::new();
    let buffer = if 4 * len <= PHASES {
        zeroed(&mut stack[..4 * len])
    } else {
        heap.resize(4 * len, 0.0);
        &mut heap[..]
    };
    for ky in 0..k {
        for kx in 0..k {
            let phase = &mut buffer[((ky % 2) * 2 + kx % 2) * len..][..len];
            let row = &cols[((c * k + ky) * k + kx) * nb * p + b * p..][..p];
            for (oy, src) in row.chunks_exact(ow).enumerate() {
                let dst = &mut phase[(oy + ky / 2) * pw + kx / 2..][..ow];
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d += v;
                }
            }
        }
    }
    // Image position x lies at padded x + padding: phase (x + padding) % 2, index
    // (x + padding) / 2.
    let pad = g.padding;
    for (y, line) in plane.chunks_exact_mut(g.width).enumerate() {
        let (py, i) = ((y + pad) % 2, (y + pad) / 2);
        let even = &buffer[(py * 2) * len + i * pw..][..pw];
        let odd = &buffer[(py * 2 + 1) * len + i * pw..][..pw];
        let mut line = line;
        let mut j = pad / 2;
        if pad % 2 == 1 {
            let (first, rest) = line
                .split_first_mut()
                .expect("a line of at least one value");
            first.write(odd[j]);
            line = rest;
            j += 1;
        }
        let last = j + line.len() / 2;
        let mut pairs = line.chunks_exact_mut(2);
        for (pair, (&e, &o)) in (&mut pairs).zip(even[j..].iter().zip(&odd[j..])) {
            pair[0].write(e);
            pair[1].write(o);
        }
        if let [x] = pairs.into_remainder() {
            x.write(even[last]);
        }
    }
}

/// A strided view of a row-major or transposed matrix for [`product`].
#[derive(Clone, Copy)]
struct View<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    /// Row-major, rows `stride` apart.
    fn rows(data: &'a [f32], stride: usize) -> Self {
        Self {
            data,
            row_stride: stride,
            col_stride: 1,
        }
    }

    /// The transpose of a row-major matrix whose rows are `stride` apart.
    fn transposed(data: &'a [f32], stride: usize) -> Self {
        Self {
            data,
            row_stride: 1,
            col_stride: stride,
        }
    }
}

/// Where a product goes: `[m, n]` row-major, rows `stride` apart.
enum Out<'a> {
    /// Overwritten; what is there is never read (it may be uninitialised).
    Set {
        data: &'a mut [MaybeUninit<f32>],
        stride: usize,
    },
    /// Added to what is there.
    Add { data: &'a mut [f32], stride: usize },
    /// Overwritten: a column slab of a matrix that tasks on other threads write other
    /// columns of ([`Slab::columns`]).
    Columns(Slab<'a>),
}

/// Columns `start..start + n` of an `[m, stride]` row-major matrix that several threads fill,
/// each its own columns: gemm's own threads write a product's blocks the same way, through a
/// pointer, since slices of the columns would overlap.
#[derive(Clone, Copy)]
struct Slab<'a> {
    ptr: *mut f32,
    len: usize,
    stride: usize,
    _matrix: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: a `Slab` is only a pointer to memory that the matrix's borrow keeps alive; tasks
// given slabs of one matrix write disjoint columns (see `Slab::columns`).
unsafe impl Send for Slab<'_> {}
unsafe impl Sync for Slab<'_> {}

impl<'a> Slab<'a> {
    /// The whole `[m, stride]` matrix `data`, to be cut into columns.
    fn of(data: &'a mut [MaybeUninit<f32>], stride: usize) -> Self {
        Slab {
            ptr: data.as_mut_ptr().cast(),
            len: data.len(),
            stride,
            _matrix: std::marker::PhantomData,
        }
    }

    /// Columns from `start` on, for a product of at most `stride - start` columns.
    ///
    /// # Safety
    /// No two tasks writing at the same time may be given overlapping column ranges.
    unsafe fn columns(self, start: usize) -> Out<'a> {
        assert!(start <= self.stride && start <= self.len);
        Out::Columns(Slab {
            // SAFETY: `start` is within the matrix (asserted).
            ptr: unsafe { self.ptr.add(start) },
            len: self.len - start,
            ..self
        })
    }
}

impl<'a> Out<'a> {
    /// Overwriting values already there.
    fn set(data: &'a mut [f32], stride: usize) -> Self {
        // SAFETY: MaybeUninit<f32> has f32's layout, and only gemm writes through this view,
        // with finite or IEEE values, never uninitialised ones.
        let data = unsafe { &mut *(data as *mut [f32] as *mut [MaybeUninit<f32>]) };
        Out::Set { data, stride }
    }
}

/// Whether gemm may split a product over the thread pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    /// Over the pool when the product is large enough to pay for the fork.
    Auto,
    /// On the calling thread: the caller already runs products in parallel.
    Single,
}

/// `out[m, n] (+)= lhs[m, k] rhs[k, n]`.
fn product(m: usize, n: usize, k: usize, out: Out, lhs: View, rhs: View, split: Split) {
    let (dst, len, ldd, accumulate) = match out {
        Out::Set { data, stride } => (data.as_mut_ptr().cast::<f32>(), data.len(), stride, false),
        Out::Add { data, stride } => (data.as_mut_ptr(), data.len(), stride, true),
        Out::Columns(slab) => (slab.ptr, slab.len, slab.stride, false),
    };
    if m == 0 || n == 0 {
        return;
    }
    let last =
        |v: &View, rows: usize, cols: usize| (rows - 1) * v.row_stride + (cols - 1) * v.col_stride;
    assert!(k == 0 || last(&lhs, m, k) < lhs.data.len());
    assert!(k == 0 || last(&rhs, k, n) < rhs.data.len());
    assert!((m - 1) * ldd + n - 1 < len);
    let parallelism = if split == Split::Auto && m * n * k >= 1 << 21 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above keep every index gemm forms inside the three slices; dst does
    // not alias the inputs (it is borrowed mutably), and gemm reads it only when accumulating,
    // which only initialised values (`Out::Add`) ask for.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            ldd as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// How the other side's activations `[R, B P]` are laid out in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// As burn stores them, `[B, R, P]`: one product per image, `P` columns each, the images
    /// split over the threads. Used when an image has enough positions for a product to be
    /// fat, and saves two transposing copies.
    BatchMajor,
    /// Transposed to `[R, B P]`: one product per chunk of images, the batch's runs of chunks
    /// split over the threads (small maps: 1x1 to 8x8).
    ChannelMajor,
}

impl Order {
    fn of(g: &Geometry) -> Self {
        if g.positions() >= 256 {
            Order::BatchMajor
        } else {
            Order::ChannelMajor
        }
    }

    /// `[B, R, P]` activations in this order.
    fn arrange<'a>(self, x: &'a [f32], r: usize, g: &Geometry) -> std::borrow::Cow<'a, [f32]> {
        match self {
            Order::BatchMajor => x.into(),
            Order::ChannelMajor => channel_major(x, g.batch, r, g.positions()).into(),
        }
    }

    /// Back to `[B, R, P]`.
    fn restore(self, x: Vec<f32>, r: usize, g: &Geometry) -> Vec<f32> {
        match self {
            Order::BatchMajor => x,
            Order::ChannelMajor => batch_major(&x, g.batch, r, g.positions()),
        }
    }
}

/// The two products that read the im2col of `image` (`[B, C, H, W]`), from one im2col:
/// `W col(image)` (`weights [R, C k k]` -> `[R, B P]` in `order`) when `weights` is given,
/// and `A col(image)^T` (`a [R, B P]` in `order` -> `[R, C k k]`) when `a` is given.
fn through_columns(
    image: &[f32],
    g: &Geometry,
    r: usize,
    order: Order,
    weights: Option<&[f32]>,
    a: Option<&[f32]>,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    match order {
        Order::BatchMajor => through_columns_by_image(image, g, r, weights, a),
        Order::ChannelMajor => through_columns_by_chunk(image, g, r, weights, a),
    }
}

/// `col2im(W^T A)`: `weights [R, C k k]`, `a [R, B P]` in `order` -> images `[B, C, H, W]`.
fn scatter(weights: &[f32], r: usize, a: &[f32], order: Order, g: &Geometry) -> Vec<f32> {
    match order {
        Order::BatchMajor => scatter_by_image(weights, r, a, g),
        Order::ChannelMajor => scatter_by_chunk(weights, r, a, g),
    }
}

/// [`through_columns`] for small maps (`Order::ChannelMajor`): the batch is cut into runs of
/// images, one per thread ([`images_per_run`]); each run takes its images a chunk at a time,
/// one im2col and one product per chunk, on its own thread; the weight gradient is summed per
/// run, then over runs. (Each im2col, product and col2im split over the threads in turn, a
/// fork and a join each, was 4-5% slower at two threads and 32x32: BENCHMARKS.md.)
fn through_columns_by_chunk(
    image: &[f32],
    g: &Geometry,
    r: usize,
    weights: Option<&[f32]>,
    a: Option<&[f32]>,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    if g.is_whole() {
        return through_whole_images(image, g, r, weights, a);
    }
    let (p, rows, batch) = (g.positions(), g.rows(), g.batch);
    let per = images_per_run(batch);
    let chunk = g.chunk().min(per);
    let mut gathered = weights.map(|_| Vec::with_capacity(r * batch * p));
    let slab = gathered
        .as_mut()
        .map(|out| Slab::of(&mut out.spare_capacity_mut()[..r * batch * p], batch * p));
    let partial: Vec<Option<Vec<f32>>> = (0..batch.div_ceil(per))
        .into_par_iter()
        .map(|run| {
            let (b0, b1) = (run * per, ((run + 1) * per).min(batch));
            let mut grad = a.map(|_| vec![0.0f32; rows * r]);
            with_scratch(rows * chunk * p, |buffer| {
                for c0 in (b0..b1).step_by(chunk) {
                    let c1 = (c0 + chunk).min(b1);
                    let n = (c1 - c0) * p;
                    im2col(image, g, c0, c1, buffer);
                    let cols = View::rows(&buffer[..rows * n], n);
                    if let (Some(slab), Some(w)) = (slab, weights) {
                        // SAFETY: the runs, and the chunks within a run, take disjoint images:
                        // columns `c0 P..c1 P` are this chunk's alone.
                        let out = unsafe { slab.columns(c0 * p) };
                        product(r, n, rows, out, View::rows(w, rows), cols, Split::Single);
                    }
                    if let (Some(grad), Some(a)) = (grad.as_mut(), a) {
                        // The transpose `col A^T` ([C k k, R]): gemm then packs `A`, not the
                        // columns (C k k / R times as many values).
                        let a = View::transposed(&a[c0 * p..], batch * p);
                        let out = match c0 == b0 {
                            true => Out::set(grad, r),
                            false => Out::Add {
                                data: grad,
                                stride: r,
                            },
                        };
                        product(rows, r, n, out, cols, a, Split::Single);
                    }
                }
            });
            grad
        })
        .collect();
    if let Some(out) = gathered.as_mut() {
        // SAFETY: the chunks' products wrote columns `c0 P..c1 P` of every one of the `r`
        // rows, for chunks covering `0..batch`: all `r batch P` values.
        unsafe { out.set_len(r * batch * p) };
    }
    let grad = a.map(|_| {
        let parts: Vec<Vec<f32>> = partial.into_iter().flatten().collect();
        transposed_sum(&parts, rows, r)
    });
    (gathered, grad)
}

/// [`through_columns_by_chunk`] when the kernel covers the whole image ([`Geometry::is_whole`]):
/// the columns `[C k k, B]` are the images `[B, C k k]` read transposed, so no im2col is
/// written, and the weight gradient comes out `[R, C k k]` without a transposing copy.
fn through_whole_images(
    image: &[f32],
    g: &Geometry,
    r: usize,
    weights: Option<&[f32]>,
    a: Option<&[f32]>,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    let (rows, batch) = (g.rows(), g.batch);
    let gathered = weights.map(|w| {
        let write = |out: &mut [MaybeUninit<f32>]| {
            let out = Out::Set {
                data: out,
                stride: batch,
            };
            let cols = View::transposed(image, rows);
            product(r, batch, rows, out, View::rows(w, rows), cols, Split::Auto);
        };
        // SAFETY: the product writes all `r batch` values.
        unsafe { written(r * batch, write) }
    });
    let grad = a.map(|a| {
        let write = |out: &mut [MaybeUninit<f32>]| {
            let out = Out::Set {
                data: out,
                stride: rows,
            };
            let (a, images) = (View::rows(a, batch), View::rows(image, rows));
            product(r, rows, batch, out, a, images, Split::Auto);
        };
        // SAFETY: the product writes all `r rows` values.
        unsafe { written(r * rows, write) }
    });
    (gathered, grad)
}

/// [`scatter`] for small maps (`Order::ChannelMajor`): runs of images, one per thread, as in
/// [`through_columns_by_chunk`]; each run takes its images a chunk at a time, one product and
/// one col2im per chunk, on its own thread.
fn scatter_by_chunk(weights: &[f32], r: usize, a: &[f32], g: &Geometry) -> Vec<f32> {
    let (p, rows, batch) = (g.positions(), g.rows(), g.batch);
    if g.is_whole() {
        // col2im is the transpose: image `b` is `a[.., b]^T W`, written where it goes.
        let write = |image: &mut [MaybeUninit<f32>]| {
            let out = Out::Set {
                data: image,
                stride: rows,
            };
            let (a, w) = (View::transposed(a, batch), View::rows(weights, rows));
            product(batch, rows, r, out, a, w, Split::Auto);
        };
        // SAFETY: the product writes all `batch rows` values, the whole images.
        return unsafe { written(batch * g.image_len(), write) };
    }
    let per = images_per_run(batch);
    let chunk = g.chunk().min(per);
    let write = |image: &mut [MaybeUninit<f32>]| {
        image
            .par_chunks_mut(per * g.image_len())
            .enumerate()
            .for_each(|(run, images)| {
                with_scratch(rows * chunk * p, |buffer| {
                    for (i, images) in images.chunks_mut(chunk * g.image_len()).enumerate() {
                        let c0 = run * per + i * chunk;
                        let nb = images.len() / g.image_len();
                        let n = nb * p;
                        let (w, a) = (
                            View::transposed(weights, rows),
                            View::rows(&a[c0 * p..], batch * p),
                        );
                        let out = Out::set(&mut buffer[..rows * n], n);
                        product(rows, n, r, out, w, a, Split::Single);
                        col2im(&buffer[..rows * n], g, nb, images);
                    }
                })
            });
    };
    // SAFETY: col2im writes every plane of the chunks, which cover the batch.
    unsafe { written(batch * g.image_len(), write) }
}

/// Images per run when the batch is cut into as many runs of consecutive images as the pool
/// has threads: each run is one task with its own buffers, so the grouping (and with it every
/// sum) depends on the thread count only, not on scheduling.
fn images_per_run(batch: usize) -> usize {
    // At least one: an empty batch is then no run at all (not a division by zero).
    batch
        .div_ceil(rayon::current_num_threads().clamp(1, batch.max(1)))
        .max(1)
}

/// [`through_columns`] for large maps (`Order::BatchMajor`): each task takes a run of images
/// and, image by image, writes its im2col into a buffer of one image (which stays in cache)
/// and multiplies there on its own thread; the weight gradient is summed per run, then over
/// runs. One fork for the whole batch instead of one per product.
fn through_columns_by_image(
    image: &[f32],
    g: &Geometry,
    r: usize,
    weights: Option<&[f32]>,
    a: Option<&[f32]>,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    let (p, rows, per) = (g.positions(), g.rows(), images_per_run(g.batch));
    let mut gathered = weights.map(|_| Vec::with_capacity(r * g.batch * p));
    let outputs: Vec<Option<&mut [MaybeUninit<f32>]>> = match gathered.as_mut() {
        Some(out) => out.spare_capacity_mut()[..r * g.batch * p]
            .chunks_mut(per * r * p)
            .map(Some)
            .collect(),
        None => (0..g.batch.div_ceil(per)).map(|_| None).collect(),
    };
    let partial: Vec<Option<Vec<f32>>> = outputs
        .into_par_iter()
        .enumerate()
        .map(|(run, mut out)| {
            let (b0, b1) = (run * per, ((run + 1) * per).min(g.batch));
            let mut grad = a.map(|_| vec![0.0f32; r * rows]);
            with_scratch(rows * p, |cols| {
                for b in b0..b1 {
                    for (kernel_row, lines) in cols.chunks_mut(g.kernel * p).enumerate() {
                        im2col_rows(image, g, b, kernel_row, lines);
                    }
                    if let (Some(out), Some(w)) = (out.as_deref_mut(), weights) {
                        let out = Out::Set {
                            data: &mut out[(b - b0) * r * p..],
                            stride: p,
                        };
                        let (w, cols) = (View::rows(w, rows), View::rows(cols, p));
                        product(r, p, rows, out, w, cols, Split::Single);
                    }
                    if let (Some(grad), Some(a)) = (grad.as_mut(), a) {
                        // The transpose `col A^T` ([C k k, R], as by chunk): gemm then packs
                        // `A`, not the columns (C k k / R times as many values at the wide
                        // layers), and reads the columns where they lie.
                        let out = match b == b0 {
                            true => Out::set(grad, r),
                            false => Out::Add {
                                data: grad,
                                stride: r,
                            },
                        };
                        let a = View::transposed(&a[b * r * p..], p);
                        product(rows, r, p, out, View::rows(cols, p), a, Split::Single);
                    }
                }
            });
            grad
        })
        .collect();
    if let Some(out) = gathered.as_mut() {
        // SAFETY: each run's products wrote all `r P` values of each of its images, and the
        // runs cover the batch.
        unsafe { out.set_len(r * g.batch * p) };
    }
    let grad = a.map(|_| {
        let parts: Vec<Vec<f32>> = partial.into_iter().flatten().collect();
        transposed_sum(&parts, rows, r)
    });
    (gathered, grad)
}

/// [`scatter`] for large maps (`Order::BatchMajor`, `a` as `[B, R, P]`): each task takes a run
/// of images and, image by image, multiplies into a buffer of one image's columns and adds
/// them onto that image, on its own thread.
fn scatter_by_image(weights: &[f32], r: usize, a: &[f32], g: &Geometry) -> Vec<f32> {
    let (p, rows, per) = (g.positions(), g.rows(), images_per_run(g.batch));
    // `W^T` written out once ([C k k, R]): as a transposed view of `W`, gemm packed it again
    // for every image.
    let weights_t = transposed(weights, r, rows);
    let write = |image: &mut [MaybeUninit<f32>]| {
        image
            .par_chunks_mut(per * g.image_len())
            .enumerate()
            .for_each(|(run, images)| {
                with_scratch(rows * p, |cols| {
                    for (i, one) in images.chunks_mut(g.image_len()).enumerate() {
                        let b = run * per + i;
                        let (w, a) = (View::rows(&weights_t, r), View::rows(&a[b * r * p..], p));
                        product(rows, p, r, Out::set(cols, p), w, a, Split::Single);
                        for (plane_index, plane) in one.chunks_mut(g.height * g.width).enumerate() {
                            col2im_plane(cols, g, 1, plane_index, plane);
                        }
                    }
                })
            });
    };
    // SAFETY: every plane of every image is zeroed (then added onto).
    unsafe { written(g.batch * g.image_len(), write) }
}

/// `[m, n]` -> `[n, m]` (weight gradients), in tiles that stay in cache (read by columns, a
/// row-major matrix of 128k values took 1.7% of the one-thread iteration).
fn transposed(x: &[f32], m: usize, n: usize) -> Vec<f32> {
    transposed_sum(std::slice::from_ref(&x), m, n)
}

/// The sum of the `[m, n]` matrices `parts`, transposed to `[n, m]`, in one pass: each sum
/// in the parts' order (the runs' partial weight gradients: the result depends on the thread
/// count only).
fn transposed_sum(parts: &[impl AsRef<[f32]> + Sync], m: usize, n: usize) -> Vec<f32> {
    const TILE: usize = 16;
    let mut out = vec![0.0f32; m * n];
    // Tiles of output rows in parallel: on one thread this was 0.8% of the two-thread 32x32
    // iteration's samples, all on the step's thread.
    out.par_chunks_mut(TILE * m)
        .enumerate()
        .for_each(|(tile, rows)| {
            let j0 = tile * TILE;
            for i0 in (0..m).step_by(TILE) {
                for (dj, row) in rows.chunks_mut(m).enumerate() {
                    let j = j0 + dj;
                    for (i, o) in row.iter_mut().enumerate().skip(i0).take(TILE) {
                        *o = parts.iter().map(|part| part.as_ref()[i * n + j]).sum();
                    }
                }
            }
        });
    out
}

/// `[B, C, P]` -> `[C, B P]` and back.
fn channel_major(x: &[f32], b: usize, c: usize, p: usize) -> Vec<f32> {
    let write = |out: &mut [MaybeUninit<f32>]| {
        out.par_chunks_mut(b * p).enumerate().for_each(|(ci, row)| {
            for bi in 0..b {
                copied(&mut row[bi * p..][..p], &x[(bi * c + ci) * p..][..p]);
            }
        })
    };
    // SAFETY: each of the `c` rows gets its `b` runs of `p` values.
    unsafe { written(x.len(), write) }
}

fn batch_major(x: &[f32], b: usize, c: usize, p: usize) -> Vec<f32> {
    let write = |out: &mut [MaybeUninit<f32>]| {
        out.par_chunks_mut(c * p)
            .enumerate()
            .for_each(|(bi, image)| {
                for ci in 0..c {
                    copied(&mut image[ci * p..][..p], &x[(ci * b + bi) * p..][..p]);
                }
            })
    };
    // SAFETY: each of the `b` images gets its `c` runs of `p` values.
    unsafe { written(x.len(), write) }
}

/// Which of the two operations, with its geometry and the other side's channels.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `x [B, C, H, W]`, `weight [R, C, k, k]` -> `[B, R, OH, OW]`.
    Conv,
    /// `x [B, R, OH, OW]`, `weight [R, C, k, k]` -> `[B, C, H, W]`.
    Transposed,
}

#[derive(Debug, Clone, Copy)]
struct Op {
    kind: Kind,
    geometry: Geometry,
    /// Channels of the side that is not the image (`R` above).
    other: usize,
}

impl Op {
    fn output_shape(&self) -> [usize; 4] {
        let g = &self.geometry;
        match self.kind {
            Kind::Conv => [g.batch, self.other, g.out_height, g.out_width],
            Kind::Transposed => [g.batch, g.channels, g.height, g.width],
        }
    }

    fn forward(&self, x: &[f32], weight: &[f32]) -> Vec<f32> {
        let (g, r) = (&self.geometry, self.other);
        if g.batch == 0 {
            // The kernels cut the batch into runs and chunks, which an empty one has none of.
            return Vec::new();
        }
        let order = Order::of(g);
        match self.kind {
            Kind::Conv => {
                let (y, _) = through_columns(x, g, r, order, Some(weight), None);
                order.restore(y.unwrap_or_default(), r, g)
            }
            Kind::Transposed => scatter(weight, r, &order.arrange(x, r, g), order, g),
        }
    }

    /// (dx, dweight) for the gradient `dy` of the output.
    fn backward(
        &self,
        x: &[f32],
        weight: &[f32],
        dy: &[f32],
        want_x: bool,
        want_weight: bool,
    ) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
        let (g, r) = (&self.geometry, self.other);
        if g.batch == 0 {
            // No image: an empty input gradient and a weight gradient of zeros.
            return (
                want_x.then(Vec::new),
                want_weight.then(|| vec![0.0; weight.len()]),
            );
        }
        let order = Order::of(g);
        match self.kind {
            Kind::Conv => {
                let dy = order.arrange(dy, r, g);
                let dx = want_x.then(|| scatter(weight, r, &dy, order, g));
                let dw = want_weight
                    .then(|| through_columns(x, g, r, order, None, Some(&dy)).1)
                    .flatten();
                (dx, dw)
            }
            Kind::Transposed => {
                // One im2col of dy per chunk serves both gradients.
                let x = want_weight.then(|| order.arrange(x, r, g));
                let (dx, dw) =
                    through_columns(dy, g, r, order, want_x.then_some(weight), x.as_deref());
                (dx.map(|dx| order.restore(dx, r, g)), dw)
            }
        }
    }
}

#[cfg(feature = "train")]
#[derive(Debug)]
struct OpBackward;

#[cfg(feature = "train")]
impl Backward<Flex, 2> for OpBackward {
    type State = (FlexTensor, FlexTensor, Op);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, weight, op) = ops.state;
        let dy = dense(&dy);
        let (dx, dw) = op.backward(
            values(&x),
            values(&weight),
            values(&dy),
            node_x.is_some(),
            node_weight.is_some(),
        );
        if let (Some(node), Some(dx)) = (node_x, dx) {
            grads.register::<Flex>(node.id, flex(dx, x.layout().shape().dims::<4>()));
        }
        if let (Some(node), Some(dw)) = (node_weight, dw) {
            grads.register::<Flex>(node.id, flex(dw, weight.layout().shape().dims::<4>()));
        }
    }
}

/// Runs `op` on burn-flex (with or without autodiff); `None` when `x` or `weight` lives elsewhere.
fn run(op: Op, x: Tensor<4>, weight: Tensor<4>) -> Option<Tensor<4>> {
    if !on_flex(&x) || !on_flex(&weight) {
        return None;
    }
    let device = x.device();
    if !device.is_autodiff() {
        let x = x.try_into_primitive::<Flex>().ok()?;
        let weight = weight.try_into_primitive::<Flex>().ok()?;
        let (x, weight) = (dense(&x), dense(&weight));
        let out = op.forward(values(&x), values(&weight));
        return Some(Tensor::from_primitive::<Flex>(flex(out, op.output_shape())));
    }
    #[cfg(not(feature = "train"))]
    return None;
    #[cfg(feature = "train")]
    {
        let x = x.try_into_primitive::<Autodiff<Flex>>().ok()?;
        let weight = weight.try_into_primitive::<Autodiff<Flex>>().ok()?;
        let prep = OpBackward
            .prepare::<NoCheckpointing>([x.node(), weight.node()])
            .compute_bound()
            .stateful();
        let (x, weight) = (x.into_primitive(), weight.into_primitive());
        let out = flex(op.forward(values(&x), values(&weight)), op.output_shape());
        let out = match prep {
            OpsKind::Tracked(prep) => prep.finish((x, weight, op), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        };
        Some(Tensor::from_primitive::<Autodiff<Flex>>(out))
    }
}

/// `conv.forward(x)`, batched on burn-flex when the convolution is one this module handles
/// (square kernel, equal strides and symmetric padding, no bias, no groups or dilation).
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    conv_op(conv, x.dims())
        .and_then(|op| run(op, x.clone(), conv.weight.val()))
        .unwrap_or_else(|| conv.forward(x))
}

/// `conv.forward(x)` for a transposed convolution, batched on burn-flex under the same
/// conditions as [`conv2d`] (and no output padding).
pub fn conv_transpose2d(conv: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    transposed_op(conv, x.dims())
        .and_then(|op| run(op, x.clone(), conv.weight.val()))
        .unwrap_or_else(|| conv.forward(x))
}

/// A convolution of `x` by a weight tensor `[R, C, k, k]` (square kernel, the same stride and
/// padding on both axes), plus `bias`: batched on burn-flex like [`conv2d`], else burn's own.
/// For weights computed in the forward pass (spectral normalisation), which no `Conv2d` holds.
pub fn conv2d_weight(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    let [channels_out, weight_in, k, k1] = weight.dims();
    let op = (k == k1 && x.dims()[1] == weight_in)
        .then(|| Geometry::new(x.dims(), k, stride, padding))
        .flatten()
        .map(|geometry| Op {
            kind: Kind::Conv,
            geometry,
            other: channels_out,
        });
    match op.and_then(|op| run(op, x.clone(), weight.clone())) {
        Some(y) => match bias {
            Some(b) => y.add(b.reshape([1, channels_out, 1, 1])),
            None => y,
        },
        None => burn::tensor::module::conv2d(
            x,
            weight,
            bias,
            burn::tensor::ops::ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1),
        ),
    }
}

fn conv_op(conv: &Conv2d, x: [usize; 4]) -> Option<Op> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => 0,
        PaddingConfig2d::Explicit(t, l, b, r) if t == l && l == b && b == r => t,
        _ => return None,
    };
    let [k, k1] = conv.kernel_size;
    let [stride, s1] = conv.stride;
    let [channels_out, weight_in, _, _] = conv.weight.dims();
    let plain = conv.bias.is_none() && conv.groups == 1 && conv.dilation == [1, 1];
    if !plain || k != k1 || stride != s1 || x[1] != weight_in {
        return None;
    }
    let geometry = Geometry::new(x, k, stride, padding)?;
    Some(Op {
        kind: Kind::Conv,
        geometry,
        other: channels_out,
    })
}

fn transposed_op(conv: &ConvTranspose2d, x: [usize; 4]) -> Option<Op> {
    let [k, k1] = conv.kernel_size;
    let [stride, s1] = conv.stride;
    let [padding, p1] = conv.padding;
    let [batch, channels_in, h, w] = x;
    let [weight_in, channels_out, _, _] = conv.weight.dims();
    let plain = conv.bias.is_none()
        && conv.groups == 1
        && conv.dilation == [1, 1]
        && conv.padding_out == [0, 0];
    if !plain || k != k1 || stride != s1 || padding != p1 || channels_in != weight_in {
        return None;
    }
    if h == 0 || w == 0 {
        return None;
    }
    // The image side is the output, (n - 1) stride - 2 padding + k; the convolution from it
    // must land back on the input's size.
    let side = |n: usize| ((n - 1) * stride + k).checked_sub(2 * padding);
    let geometry = Geometry::new(
        [batch, channels_out, side(h)?, side(w)?],
        k,
        stride,
        padding,
    )?;
    (geometry.out_height == h && geometry.out_width == w).then_some(Op {
        kind: Kind::Transposed,
        geometry,
        other: channels_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
    use burn::tensor::Distribution;

    fn close(a: &Tensor<4>, b: &Tensor<4>, what: &str) {
        let a: Vec<f32> = a.clone().into_data().try_to_vec::<f32>().unwrap();
        let b: Vec<f32> = b.clone().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-4 * scale,
                "{what}[{i}]: {x} vs burn's {y}"
            );
        }
    }

    /// Output, input gradient and weight gradient against burn-flex's own operations.
    fn check(
        x_shape: [usize; 4],
        forward_ours: impl Fn(Tensor<4>) -> Tensor<4>,
        forward_burn: impl Fn(Tensor<4>) -> Tensor<4>,
        weight: impl Fn() -> Tensor<4>,
    ) {
        let device = Device::flex().autodiff();
        device.seed(5);
        let x0 = Tensor::<4>::random(x_shape, Distribution::Normal(0.0, 1.0), &device);
        let run = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
            let x = x0.clone().require_grad();
            let y = f(x.clone());
            let r = Tensor::<4>::ones(y.dims(), &device).mul(
                Tensor::arange(0..y.dims().iter().product::<usize>() as i64, &device)
                    .float()
                    .reshape(y.dims())
                    .sin(),
            );
            let grads = (y.clone() * r).sum().backward();
            let w = weight();
            (y.inner(), x.grad(&grads).unwrap(), w.grad(&grads).unwrap())
        };
        let ours = run(&forward_ours);
        let theirs = run(&forward_burn);
        close(&ours.0, &theirs.0, "output");
        close(&ours.1, &theirs.1, "input gradient");
        close(&ours.2, &theirs.2, "weight gradient");
    }

    #[test]
    fn convolutions_match_burn_forward_and_backward() {
        let device = Device::flex().autodiff();
        for (stride, padding, side, kernel) in [
            (2, 1, 8, 4),
            (1, 0, 4, 4),
            (2, 0, 4, 4),
            (1, 1, 5, 3),
            (2, 0, 7, 3),
            (2, 1, 32, 4),
            (2, 1, 33, 4),
            (1, 1, 16, 3),
        ] {
            let conv = Conv2dConfig::new([3, 5], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(if padding == 0 {
                    PaddingConfig2d::Valid
                } else {
                    PaddingConfig2d::Explicit(padding, padding, padding, padding)
                })
                .with_bias(false)
                .init(&device);
            let conv = crate::nets::init::initialized(conv);
            check(
                [3, 3, side, side],
                |x| conv2d(&conv, x),
                |x| conv.forward(x),
                || conv.weight.val(),
            );
        }
        for (stride, padding, side) in [(2, 1, 4), (1, 0, 1), (2, 0, 1), (2, 1, 3), (2, 1, 16)] {
            let conv = ConvTranspose2dConfig::new([5, 3], [4, 4])
                .with_stride([stride, stride])
                .with_padding([padding, padding])
                .with_bias(false)
                .init(&device);
            let conv = crate::nets::init::initialized(conv);
            check(
                [2, 5, side, side],
                |x| conv_transpose2d(&conv, x),
                |x| conv.forward(x),
                || conv.weight.val(),
            );
        }
    }

    /// Small maps whose batch takes several chunks per run (each image's columns 4096 x 64
    /// values, so a chunk holds 16 images and a run of 20, on two threads, takes two): the
    /// chunks' column slabs, the weight gradient's accumulation over chunks and the col2im
    /// per chunk, against burn. On a pool of two threads, whatever the machine.
    #[test]
    fn batches_of_several_chunks_per_run_match_burn() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(several_chunks_per_run_match_burn);
    }

    fn several_chunks_per_run_match_burn() {
        let device = Device::flex().autodiff();
        let g = Geometry::new([40, 256, 16, 16], 4, 2, 1).unwrap();
        assert_eq!(Order::of(&g), Order::ChannelMajor);
        assert!(
            g.chunk() < images_per_run(g.batch),
            "one chunk per run: {g:?}"
        );
        let conv = Conv2dConfig::new([256, 4], [4, 4])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(false)
            .init(&device);
        let conv = crate::nets::init::initialized(conv);
        check(
            [40, 256, 16, 16],
            |x| conv2d(&conv, x),
            |x| conv.forward(x),
            || conv.weight.val(),
        );
        let conv = ConvTranspose2dConfig::new([4, 256], [4, 4])
            .with_stride([2, 2])
            .with_padding([1, 1])
            .with_bias(false)
            .init(&device);
        let conv = crate::nets::init::initialized(conv);
        check(
            [40, 4, 8, 8],
            |x| conv_transpose2d(&conv, x),
            |x| conv.forward(x),
            || conv.weight.val(),
        );
    }

    /// An empty batch (an empty file encoded, say) gives an empty output, on small and large
    /// maps, forward and backward.
    #[test]
    fn an_empty_batch_gives_an_empty_output() {
        let device = Device::flex().autodiff();
        for side in [8, 32] {
            let conv = Conv2dConfig::new([3, 5], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(&device);
            let conv = crate::nets::init::initialized(conv);
            let x = Tensor::<4>::zeros([0, 3, side, side], &device).require_grad();
            let y = conv2d(&conv, x.clone());
            assert_eq!(y.dims(), [0, 5, side / 2, side / 2]);
            let grads = y.sum().backward();
            assert_eq!(x.grad(&grads).map(|g| g.dims()), Some([0, 3, side, side]));
            let dw = conv.weight.val().grad(&grads).expect("a weight gradient");
            assert_eq!(dw.dims(), [5, 3, 4, 4]);
            let dw = dw.into_data().try_to_vec::<f32>().unwrap();
            assert!(dw.iter().all(|&v| v == 0.0), "{dw:?}");
            let transposed = ConvTranspose2dConfig::new([5, 3], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_bias(false)
                .init(&device);
            let transposed = crate::nets::init::initialized(transposed);
            let x = Tensor::<4>::zeros([0, 5, side / 2, side / 2], &device);
            assert_eq!(conv_transpose2d(&transposed, x).dims(), [0, 3, side, side]);
        }
    }

    /// The weight-tensor entry with a bias (Table 5's spectrally normalised convolutions).
    #[test]
    fn weight_tensor_convolution_with_bias_matches_burn() {
        let device = Device::flex().autodiff();
        for (stride, padding, side, kernel) in [(2, 1, 8, 4), (1, 1, 5, 3), (1, 0, 4, 1)] {
            let conv = Conv2dConfig::new([3, 5], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(
                    padding, padding, padding, padding,
                ))
                .with_initializer(burn::nn::Initializer::Normal {
                    mean: 0.0,
                    std: 0.5,
                })
                .init(&device);
            let conv = crate::nets::init::initialized(conv);
            let bias = || conv.bias.as_ref().map(|b| b.val());
            check(
                [3, 3, side, side],
                |x| conv2d_weight(x, conv.weight.val(), bias(), stride, padding),
                |x| conv.forward(x),
                || conv.weight.val(),
            );
        }
    }
}
