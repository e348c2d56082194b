//! The Gaussian noise in front of every discriminator convolution and head (paper Table 4:
//! σ = 0.2), drawn fast on the CPU.
//!
//! burn's `GaussianNoise` asks the backend for the values. On the GPU that is a kernel; on
//! burn-flex it is one ChaCha draw and one Box-Muller/ziggurat sample at a time under a global
//! lock, about 12% of a 64x64 training iteration (~80 million values). On burn-flex this module
//! instead takes one 64-bit seed from the device's own generator (so `device.seed(..)` still
//! decides everything and a resumed run draws the same noise) and expands it with the
//! vectorised sampler of [`normals`](super::normals) (xoshiro128++ lanes and Box-Muller), in
//! fixed chunks spread over the rayon pool that burn-flex already runs. The values depend on
//! the seed and the shape only, not on the number of threads or the CPU's SIMD. Every other device keeps burn's own draw, except inside
//! [`random::with_host_stream`](crate::random::with_host_stream), where every device takes its
//! seeds from the host stream.

use burn::nn::GaussianNoise;
use burn::prelude::*;

/// `input` plus N(0, σ²) noise when `noise` is in training mode on an autodiff device (the
/// same rule as burn's `GaussianNoise::forward`), else `input` unchanged.
pub fn add_noise<const D: usize>(noise: &GaussianNoise, input: Tensor<D>) -> Tensor<D> {
    let device = input.device();
    if !noise.training.is_enabled() || !device.is_autodiff() || noise.std == 0.0 {
        return input;
    }
    // Inside `random::with_host_stream` the seed comes from the host stream, on any device.
    let seed = crate::random::next_host_seed();
    #[cfg(not(target_arch = "wasm32"))]
    let seed = seed.or_else(|| {
        (device.clone().without_autodiff() == Device::flex()).then(|| seed_from(&device))
    });
    match seed {
        Some(seed) => {
            // On burn-flex under autodiff: drawn and added in one pass, the same values.
            #[cfg(not(target_arch = "wasm32"))]
            if crate::cpu::noise::applies(&input) {
                return crate::cpu::noise::plus_noise(input, noise.std as f32, seed);
            }
            let shape = input.shape();
            let values = host::normals(shape.num_elements(), noise.std as f32, seed);
            input + Tensor::from_data(TensorData::new(values, shape), &device)
        }
        None => noise.forward(input),
    }
}

/// 64 bits from the device's generator (four 16-bit draws: integer tensors are i32).
#[cfg(not(target_arch = "wasm32"))]
fn seed_from(device: &Device) -> u64 {
    let draws = Tensor::<1, Int>::random(
        [4],
        burn::tensor::Distribution::Uniform(0.0, 65_536.0),
        device,
    )
    .into_data()
    .convert::<i64>();
    draws
        .iter::<i64>()
        .fold(0u64, |acc, v| (acc << 16) | (v as u64 & 0xffff))
}

pub(crate) mod host {
    use super::super::normals::{fill, Lanes, Write};
    #[cfg(not(target_arch = "wasm32"))]
    use rayon::prelude::*;

    /// Values per chunk, each chunk with its own generators: big enough that seeding is free,
    /// small enough that two threads share an image's worth of noise.
    pub(crate) const CHUNK: usize = 1 << 15;

    /// `count` values of N(0, std²), a pure function of (`count`, `std`, `seed`).
    pub fn normals(count: usize, std: f32, seed: u64) -> Vec<f32> {
        // Zeroed by calloc (fresh zero pages at the sizes that matter), then written in
        // parallel.
        let mut values = vec![0f32; count];
        draw(&mut values, std, seed, Write::Set);
        values
    }

    /// `values` plus `normals(values.len(), std, seed)`, in place: the same values as adding
    /// the two, without the noise tensor and the add's second pass (the CPU's fused noise).
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn add_normals(values: &mut [f32], std: f32, seed: u64) {
        draw(values, std, seed, Write::Add);
    }

    fn draw(values: &mut [f32], std: f32, seed: u64, write: Write) {
        let each = |(chunk, out): (usize, &mut [f32])| {
            fill(out, std, &mut chunk_lanes(seed, chunk), write)
        };
        #[cfg(not(target_arch = "wasm32"))]
        values.par_chunks_mut(CHUNK).enumerate().for_each(each);
        #[cfg(target_arch = "wasm32")]
        values.chunks_mut(CHUNK).enumerate().for_each(each);
    }

    /// The generators of chunk `chunk`. `Lanes::new` runs SplitMix64 over its argument, so
    /// neighbouring chunk numbers give unrelated streams.
    fn chunk_lanes(seed: u64, chunk: usize) -> Lanes {
        Lanes::new(seed ^ (chunk as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::GaussianNoiseConfig;

    #[test]
    fn host_normals_have_the_asked_moments_and_depend_on_the_seed_only() {
        let std = 0.2f32;
        let n = 3 * super::host::CHUNK + 17;
        let a = super::host::normals(n, std, 7);
        let mean = a.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let var = a.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        // Standard errors: mean 0.2/sqrt(98k) ≈ 6e-4, variance ≈ 0.04*sqrt(2/98k) ≈ 1.8e-4.
        assert!(mean.abs() < 3e-3, "mean {mean}");
        assert!((var - 0.04).abs() < 1e-3, "variance {var}");
        let fourth = a.iter().map(|&v| (v as f64 - mean).powi(4)).sum::<f64>() / n as f64;
        assert!(
            (fourth / (var * var) - 3.0).abs() < 0.1,
            "kurtosis {}",
            fourth / (var * var)
        );
        assert_eq!(a, super::host::normals(n, std, 7));
        assert_ne!(
            a[..CHUNK_PROBE],
            super::host::normals(n, std, 8)[..CHUNK_PROBE]
        );
        // Chunks are independent streams: the second chunk does not repeat the first.
        assert_ne!(
            a[..CHUNK_PROBE],
            a[super::host::CHUNK..super::host::CHUNK + CHUNK_PROBE]
        );
    }
    const CHUNK_PROBE: usize = 64;

    /// The share of values below -3, -2, -1, 0, 1, 2 and 3 standard deviations is the normal's
    /// (Φ from tables), within four binomial standard errors, and the tails reach past 4σ about
    /// as often as they should (6.3e-5 of the values).
    #[test]
    fn host_normals_follow_the_normal_distribution_into_its_tails() {
        let (n, std) = (400_000, 0.5f32);
        let a = super::host::normals(n, std, 11);
        for (k, phi) in [
            (-3.0, 0.001_350),
            (-2.0, 0.022_750),
            (-1.0, 0.158_655),
            (0.0, 0.5),
            (1.0, 0.841_345),
            (2.0, 0.977_250),
            (3.0, 0.998_650),
        ] {
            let below = a.iter().filter(|&&v| v < k * std).count() as f64 / n as f64;
            let se = (phi * (1.0 - phi) / n as f64).sqrt();
            assert!(
                (below - phi).abs() < 4.0 * se,
                "P(z < {k}) = {below}, want {phi}"
            );
        }
        let beyond = a.iter().filter(|&&v| v.abs() > 4.0 * std).count();
        assert!(
            (5..=60).contains(&beyond),
            "{beyond} values past 4σ, want ~25"
        );
    }

    #[test]
    fn noise_follows_the_device_seed_and_only_acts_in_training_on_autodiff() {
        let noise = GaussianNoiseConfig::new(0.2).init();
        let device = Device::flex().autodiff();
        let x = Tensor::<2>::zeros([4, 300], &device);
        let draw = || -> Vec<f32> {
            add_noise(&noise, x.clone())
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        // The device's generator is shared by every test of this binary running at the same
        // time: one of them may draw between a reseed and this draw. A noise that ignored the
        // seed would differ on every try; one that follows it agrees on some try.
        let (a, b) = (0..8)
            .map(|_| {
                device.seed(3);
                let a = draw();
                device.seed(3);
                (a, draw())
            })
            .find(|(a, b)| a == b)
            .expect("the same seed gives the same noise");
        assert_eq!(a, b);
        assert!(a.iter().any(|&v| v != 0.0));
        let c = draw();
        assert_ne!(a, c, "a second draw without reseeding differs");

        let plain = Tensor::<2>::zeros([4, 300], &Device::flex());
        let out: Vec<f32> = add_noise(&noise, plain)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert!(out.iter().all(|&v| v == 0.0), "no noise without autodiff");
        let off = noise.clone().valid();
        let out: Vec<f32> = add_noise(&off, x).into_data().try_to_vec::<f32>().unwrap();
        assert!(
            out.iter().all(|&v| v == 0.0),
            "no noise outside training mode"
        );
    }
}
