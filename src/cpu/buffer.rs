//! Memory the kernels write before they read, handed out without a zero fill.
//!
//! A zero fill is one more pass over every output and scratch buffer, and the kernels did it on
//! the thread that runs the step, before their parallel loops: at the cpu-hour shape (32x32,
//! width 32, B = 32, two threads) memset was 6% of the samples, almost all on that thread.
//! Outputs are now written straight into the vector's spare capacity ([`written`]); the zeros
//! that sums start from are written by the parallel task that owns the plane ([`zeroed`]); the
//! im2col and column buffers are one scratch vector per thread, kept between calls
//! ([`with_scratch`]), so they are neither filled nor faulted in again.
//!
//! An output's pages are now first touched by the parallel writers. Fresh pages faulted in by
//! two threads at once contend (an earlier measurement: col2im of a freshly mapped 4 MiB chunk
//! took 10 ms instead of 1.8 ms); the CLI keeps freed memory for reuse (`mallopt` in
//! `cli/src/main.rs`), so in training most outputs land on pages already mapped, and the
//! measurements in BENCHMARKS.md are with it.

use std::cell::Cell;
use std::mem::MaybeUninit;

/// A vector of `n` values, every one of them written by `write` before the vector exists.
///
/// # Safety
/// `write` must write every element of the slice it is given.
pub(crate) unsafe fn written(n: usize, write: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut values = Vec::with_capacity(n);
    write(&mut values.spare_capacity_mut()[..n]);
    // SAFETY: the caller's `write` initialised all `n` elements.
    unsafe { values.set_len(n) };
    values
}

/// `part` filled with zeros, as values.
pub(crate) fn zeroed(part: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    part.fill(MaybeUninit::new(0.0));
    // SAFETY: every element was just written; MaybeUninit<f32> has f32's layout.
    unsafe { &mut *(part as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// `dst` holding a copy of `src` (of the same length), as values.
pub(crate) fn copied<'a>(dst: &'a mut [MaybeUninit<f32>], src: &[f32]) -> &'a mut [f32] {
    dst.write_copy_of_slice(src)
}

thread_local! {
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` on `n` values of this thread's scratch buffer. They hold whatever the previous
/// user left (finite values, but no particular ones): `f` must write before it reads. The
/// buffer grows to the largest `n` asked of this thread and stays; a nested call (a rayon
/// task stolen while `f` waits) gets a buffer of its own.
pub(crate) fn with_scratch<R>(n: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut buffer = SCRATCH.take();
    if buffer.len() < n {
        buffer.resize(n, 0.0);
    }
    let result = f(&mut buffer[..n]);
    SCRATCH.set(buffer);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_is_reused_and_grows_and_nested_calls_get_their_own() {
        with_scratch(4, |a| a.copy_from_slice(&[1.0, 2.0, 3.0, 4.0]));
        // The same thread's next user sees the previous values (no fill) ...
        with_scratch(2, |a| assert_eq!(a, &[1.0, 2.0]));
        // ... and a larger request keeps them and zero-extends.
        with_scratch(6, |a| {
            assert_eq!(a, &[1.0, 2.0, 3.0, 4.0, 0.0, 0.0]);
            // Nested: a separate buffer, so the outer one is never aliased.
            with_scratch(3, |b| {
                b.fill(9.0);
                assert_eq!(b.len(), 3);
            });
            assert_eq!(a[..4], [1.0, 2.0, 3.0, 4.0]);
        });
    }

    #[test]
    fn written_zeroed_and_copied_initialise_what_they_return() {
        // SAFETY: the closure writes all four elements.
        let v = unsafe {
            written(4, |out| {
                copied(&mut out[..2], &[5.0, 6.0]);
                zeroed(&mut out[2..]);
            })
        };
        assert_eq!(v, [5.0, 6.0, 0.0, 0.0]);
    }
}
