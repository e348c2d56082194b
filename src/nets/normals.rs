//! N(0, σ²) values in bulk, written so that the compiler vectorises them: sixteen
//! xoshiro128++ generators side by side and the Box-Muller transform with branch-free `ln`,
//! `sin` and `cos`.
//!
//! The discriminator's noise needs ~120 million values per 64x64 iteration. rand_distr's
//! ziggurat draws one value at a time with a branch per value: 3.7% of the one-thread 64x64
//! iteration's perf samples and 7% at the cpu-hour shape, where this kernel takes 2%
//! (BENCHMARKS.md). On x86-64 the kernel is compiled three times (AVX-512, AVX2, baseline
//! SSE2) and picked at run time; nothing is fused or reordered between them, so every CPU
//! draws the same values bit for bit (tested). WebAssembly and ARM get their 128-bit SIMD.
//!
//! Box-Muller: with u1 in (0, 1] and u2 in [0, 1), `sqrt(-2 ln u1)` times `cos(2π u2)` and
//! `sin(2π u2)` are two independent standard normals. u1 takes 31 bits (so no value passes
//! 6.55σ, beyond which a normal has 6e-11 of its mass), u2 24. `ln` is Cephes' `logf` and the
//! sine and cosine Cephes' polynomials on [-π/4, π/4] after reducing the turn u2 to its nearest
//! quarter; both are tested against f64 (relative error under 1.2e-7, absolute under 1.5e-7).

/// Generators side by side: one 512-bit register of 32-bit lanes.
const LANES: usize = 16;
/// Values per block: one pair per lane.
const BLOCK: usize = 2 * LANES;

/// Sixteen xoshiro128++ generators (Blackman and Vigna), one per lane, kept as four arrays of
/// state words so that each step is a handful of vector operations.
pub(crate) struct Lanes {
    s: [[u32; LANES]; 4],
}

impl Lanes {
    /// Sixteen generators from one seed, each lane's 128 bits of state from SplitMix64 (never
    /// all zero: SplitMix64 is a bijection of its counter, and two consecutive outputs are not
    /// both zero).
    pub(crate) fn new(seed: u64) -> Self {
        let mut counter = seed;
        // `from_fn` calls its closure in index order: lane 0 takes the first two outputs.
        let words: [[u32; 4]; LANES] = std::array::from_fn(|_| {
            let (a, b) = (splitmix64(&mut counter), splitmix64(&mut counter));
            [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32]
        });
        let s = std::array::from_fn(|word| std::array::from_fn(|lane| words[lane][word]));
        Lanes { s }
    }

    /// One output of every lane.
    #[inline(always)]
    fn next(&mut self) -> [u32; LANES] {
        let mut out = [0u32; LANES];
        let [s0, s1, s2, s3] = &mut self.s;
        for i in 0..LANES {
            out[i] = s0[i].wrapping_add(s3[i]).rotate_left(7).wrapping_add(s0[i]);
            let t = s1[i] << 9;
            s2[i] ^= s0[i];
            s3[i] ^= s1[i];
            s1[i] ^= s2[i];
            s0[i] ^= s3[i];
            s2[i] ^= t;
            s3[i] = s3[i].rotate_left(11);
        }
        out
    }
}

fn splitmix64(counter: &mut u64) -> u64 {
    *counter = counter.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *counter;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How a block's values meet the output.
#[derive(Clone, Copy)]
pub(crate) enum Write {
    /// `out = value`.
    Set,
    /// `out += value` (the CPU backend's fused noise, native only).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    Add,
}

/// Fills (or adds onto) `out` with N(0, std²) values from `lanes`: a function of the lanes'
/// state and `out.len()` only, whichever kernel the CPU runs.
pub(crate) fn fill(out: &mut [f32], std: f32, lanes: &mut Lanes, write: Write) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { fill_avx512(out, std, lanes, write) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { fill_avx2(out, std, lanes, write) };
        }
    }
    fill_kernel(out, std, lanes, write)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fill_avx512(out: &mut [f32], std: f32, lanes: &mut Lanes, write: Write) {
    fill_kernel(out, std, lanes, write)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn fill_avx2(out: &mut [f32], std: f32, lanes: &mut Lanes, write: Write) {
    fill_kernel(out, std, lanes, write)
}

/// The kernel, inlined into each compiled variant (a call would run the baseline code).
#[inline(always)]
fn fill_kernel(out: &mut [f32], std: f32, lanes: &mut Lanes, write: Write) {
    let mut blocks = out.chunks_exact_mut(BLOCK);
    for chunk in &mut blocks {
        let values = block(lanes, std);
        match write {
            Write::Set => chunk.copy_from_slice(&values),
            Write::Add => chunk.iter_mut().zip(values).for_each(|(o, v)| *o += v),
        }
    }
    let rest = blocks.into_remainder();
    if !rest.is_empty() {
        let values = block(lanes, std);
        let values = &values[..rest.len()];
        match write {
            Write::Set => rest.copy_from_slice(values),
            Write::Add => rest.iter_mut().zip(values).for_each(|(o, v)| *o += v),
        }
    }
}

/// One block: each lane's pair, the cosines first, then the sines.
#[inline(always)]
fn block(lanes: &mut Lanes, std: f32) -> [f32; BLOCK] {
    let (radius_bits, turn_bits) = (lanes.next(), lanes.next());
    let mut out = [0f32; BLOCK];
    for i in 0..LANES {
        // Conversions from i32 (not u32), the one every SIMD level has.
        let u1 = ((radius_bits[i] >> 1) as i32 as f32 + 1.0) * (1.0 / 2_147_483_648.0);
        let u2 = ((turn_bits[i] >> 8) as i32 as f32) * (1.0 / 16_777_216.0);
        let r = std * (-2.0 * ln(u1)).sqrt();
        let (sin, cos) = sin_cos_turn(u2);
        out[i] = r * cos;
        out[LANES + i] = r * sin;
    }
    out
}

/// ln(x) for normal, positive, finite x (Cephes' `logf`): the exponent and a mantissa in
/// [√½, √2) taken from the bits, a degree-8 polynomial in the mantissa minus one.
#[inline(always)]
fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    let e = ((bits >> 23) as i32 - 126) as f32;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000); // in [0.5, 1)
    let low = m < std::f32::consts::FRAC_1_SQRT_2;
    let e = if low { e - 1.0 } else { e };
    let m = if low { m + m - 1.0 } else { m - 1.0 };
    let z = m * m;
    let p = ((((((((7.037_683_6e-2 * m - 1.151_461e-1) * m + 1.167_699_9e-1) * m
        - 1.242_014_1e-1)
        * m
        + 1.424_932_3e-1)
        * m
        - 1.666_805_8e-1)
        * m
        + 2.000_071_5e-1)
        * m
        - 2.499_999_4e-1)
        * m
        + 3.333_333e-1)
        * m
        * z;
    // ln 2 split in two (0.693359375 exact in few bits) keeps e ln 2 exact to f32.
    m + (p + e * -2.121_944_4e-4 - 0.5 * z) + e * 0.693_359_4
}

/// (sin, cos) of 2π `turn` for `turn` in [0, 1]: the turn less its nearest quarter j/4, a
/// polynomial each for the sine and cosine of the rest (in [-π/4, π/4]), then rotated by j
/// quarters.
#[inline(always)]
fn sin_cos_turn(turn: f32) -> (f32, f32) {
    // Adding 1.5 2^23 rounds to an integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let shifted = turn * 4.0 + ROUND;
    let quarter = shifted.to_bits(); // its low two bits are j mod 4
    let x = (turn - (shifted - ROUND) * 0.25) * std::f32::consts::TAU;
    let z = x * x;
    let sin = ((-1.951_529_6e-4 * z + 8.332_161e-3) * z - 1.666_665_5e-1) * z * x + x;
    let cos = ((2.443_315_7e-5 * z - 1.388_731_6e-3) * z + 4.166_664_6e-2) * z * z - 0.5 * z + 1.0;
    // Rotating by j quarters: odd j swaps the two; the sine is negative for j = 2, 3 and the
    // cosine for j = 1, 2.
    let (s, c) = if quarter & 1 == 0 {
        (sin, cos)
    } else {
        (cos, sin)
    };
    let sin_sign = (quarter & 2) << 30;
    let cos_sign = (quarter.wrapping_add(1) & 2) << 30;
    (
        f32::from_bits(s.to_bits() ^ sin_sign),
        f32::from_bits(c.to_bits() ^ cos_sign),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cephes' `logf` within 1.2e-7 relative of f64's ln over every u1 the sampler can make
    /// below 2^-7 in steps (and a sweep above).
    #[test]
    fn ln_is_within_a_ulp_or_so_of_f64() {
        let mut worst = 0f64;
        let mut check = |x: f32| {
            let want = (x as f64).ln();
            let got = ln(x) as f64;
            let err = if want == 0.0 {
                got.abs()
            } else {
                ((got - want) / want).abs()
            };
            worst = worst.max(err);
        };
        for k in (0..(1u32 << 31)).step_by(997) {
            check((k as i32 as f32 + 1.0) * (1.0 / 2_147_483_648.0));
        }
        for k in 0..100_000 {
            check((k + 1) as f32 * (1.0 / 2_147_483_648.0));
        }
        check(1.0);
        assert!(worst < 1.2e-7, "worst relative error {worst:e}");
    }

    /// sin and cos of 2π u within 1.5e-7 of f64's over every 7th u2 the sampler can make
    /// (2^24 of them), and exact at the quarters (either sign of zero).
    #[test]
    fn sin_cos_of_a_turn_agree_with_f64() {
        let mut worst = 0f64;
        for k in (0..(1u32 << 24)).step_by(7) {
            let u = k as f32 / 16_777_216.0;
            let (s, c) = sin_cos_turn(u);
            let t = u as f64 * std::f64::consts::TAU;
            worst = worst
                .max((s as f64 - t.sin()).abs())
                .max((c as f64 - t.cos()).abs());
        }
        assert!(worst < 1.5e-7, "worst absolute error {worst:e}");
        for (u, s, c) in [
            (0.0, 0.0, 1.0),
            (0.25, 1.0, 0.0),
            (0.5, 0.0, -1.0),
            (0.75, -1.0, 0.0),
        ] {
            let (gs, gc) = sin_cos_turn(u);
            assert!(gs == s && gc == c, "turn {u}: ({gs}, {gc})");
        }
    }

    /// The same lanes give the same values whichever kernel runs, and the same values set as
    /// added onto zeros; a remainder shorter than a block takes the block's first values.
    #[test]
    fn every_kernel_draws_the_same_values() {
        let n = 10 * BLOCK + 7;
        let mut reference = vec![0f32; n];
        fill_kernel(&mut reference, 0.3, &mut Lanes::new(9), Write::Set);
        let mut dispatched = vec![0f32; n];
        fill(&mut dispatched, 0.3, &mut Lanes::new(9), Write::Set);
        assert_eq!(reference, dispatched);
        let mut added = vec![0f32; n];
        fill(&mut added, 0.3, &mut Lanes::new(9), Write::Add);
        assert_eq!(reference, added);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut v = vec![0f32; n];
                // SAFETY: checked just above.
                unsafe { fill_avx2(&mut v, 0.3, &mut Lanes::new(9), Write::Set) };
                assert_eq!(reference, v, "AVX2");
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                let mut v = vec![0f32; n];
                // SAFETY: checked just above.
                unsafe { fill_avx512(&mut v, 0.3, &mut Lanes::new(9), Write::Set) };
                assert_eq!(reference, v, "AVX-512");
            }
        }
        let mut short = vec![0f32; 5];
        fill(&mut short, 0.3, &mut Lanes::new(9), Write::Set);
        assert_eq!(short, reference[..5]);
    }
}
