//! wgpu agrees with the CPU: a small forward and backward through G and the discriminator, and
//! the project's WGSL pixel kernel (shaders/rgba.wgsl) against its CPU reference.
//! CI has no GPU: it runs this on Mesa's lavapipe (Vulkan on the CPU). Kept tiny, since every
//! new kernel is compiled on first use there.

mod common;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Bytes;
use common::*;
use dinfogan::nets::{Discriminator, Generator};
use dinfogan::ModelConfig;

struct Outcome {
    images: Vec<f32>,
    logits: Vec<f32>,
    grad_first_g_weight: Vec<f32>,
    grad_common: Vec<f32>,
}

fn run(device: &Device, g_bytes: &[u8], d_bytes: &[u8], config: &ModelConfig) -> Outcome {
    let device = device.clone().autodiff();
    let load = |bytes: &[u8]| {
        burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).unwrap()
    };
    let generator = Generator::new(config, &device).load_record(load(g_bytes));
    let discriminator = Discriminator::new(config, &device).load_record(load(d_bytes));
    let z = Tensor::<2>::from_data(
        TensorData::new((0..8).map(|i| (i as f32 * 0.37).sin()).collect(), [2, 4]),
        &device,
    )
    .require_grad();
    let s = Tensor::<2>::from_data(TensorData::new(vec![0.5, -1.0, 0.0, 0.0], [2, 2]), &device);
    let images = generator.forward(z.clone(), s);
    let out = discriminator.forward(images.clone());
    let loss = dinfogan::loss::generator_adversarial(out.adversarial.clone())
        + dinfogan::loss::l1_to_zero(out.salient.clone());
    let mut grads = loss.backward();
    let grad_common = values(z.grad(&grads).expect("z has a gradient"));
    let weight = generator_first_weight(&generator);
    let weight_grad = burn::optim::GradientsParams::from_module(&mut grads, &generator)
        .get::<4>(weight)
        .expect("G's first weight has a gradient");
    Outcome {
        images: values(images.inner()),
        logits: values(out.adversarial.inner()),
        grad_first_g_weight: values(weight_grad),
        grad_common,
    }
}

/// The id of G's first convolution weight (the first 4-d parameter).
fn generator_first_weight(generator: &Generator) -> burn::module::ParamId {
    struct First(Option<burn::module::ParamId>);
    impl burn::module::ModuleVisitor for First {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            if self.0.is_none() && D == 4 {
                self.0 = Some(param.id);
            }
        }
    }
    let mut first = First(None);
    generator.visit(&mut first);
    first.0.expect("G has a 4-d weight")
}

/// The wgpu device: burn registers its runtime once per process, the tests share it.
fn gpu() -> Device {
    static GPU: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    GPU.get_or_init(|| match Device::wgpu_options().init() {
        Ok(device) => device,
        Err(e) => panic!(
            "no wgpu adapter ({e}): install a Vulkan driver (on Debian: apt-get install \
             mesa-vulkan-drivers, the lavapipe software adapter)"
        ),
    })
    .clone()
}

#[test]
fn wgpu_forward_and_backward_match_the_cpu() {
    let config = ModelConfig {
        image_size: 32,
        channels: 1,
        width: 2,
        common_dim: 4,
        salient_dim: 2,
        // Noise is random per device: switched off to compare the deterministic math.
        noise_std: 0.0,
        ..Default::default()
    };
    let cpu = cpu();
    let g = Generator::new(&config, &cpu)
        .into_record()
        .into_bytes()
        .unwrap()
        .to_vec();
    let d = Discriminator::new(&config, &cpu)
        .into_record()
        .into_bytes()
        .unwrap()
        .to_vec();

    let gpu = gpu();
    let on_cpu = run(&cpu, &g, &d, &config);
    let on_gpu = run(&gpu, &g, &d, &config);
    let close = |name: &str, a: &[f32], b: &[f32], tolerance: f32| {
        let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        let diff = max_abs_diff(a, b);
        assert!(
            diff <= tolerance * scale,
            "{name}: max difference {diff} (scale {scale})"
        );
    };
    close("images", &on_cpu.images, &on_gpu.images, 1e-4);
    close("logits", &on_cpu.logits, &on_gpu.logits, 1e-4);
    close(
        "weight gradient",
        &on_cpu.grad_first_g_weight,
        &on_gpu.grad_first_g_weight,
        1e-3,
    );
    close(
        "input gradient",
        &on_cpu.grad_common,
        &on_gpu.grad_common,
        1e-3,
    );
}

/// Values around every byte threshold (k + 0.5) / 127.5 - 1, the ends, beyond them, NaN, ±inf.
#[cfg(feature = "gpu-pixels")]
fn tricky_values(count: usize) -> Vec<f32> {
    let special = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -1.0,
        1.0,
        0.0,
        -1.5,
        2.0,
    ];
    (0..count)
        .map(|i| match i % 4 {
            0 => special[(i / 4) % special.len()],
            1 => ((i % 256) as f32 + 0.5) / 127.5 - 1.0,
            2 => f32::from_bits((((i % 256) as f32 + 0.5) / 127.5 - 1.0).to_bits() + 1),
            _ => (i as f32 * 0.731).sin(),
        })
        .collect()
}

#[cfg(feature = "gpu-pixels")]
#[test]
fn wgsl_pixel_kernel_matches_the_cpu_reference() {
    use dinfogan::gpu::{pack_rgba, texel_bytes_blocking};
    use dinfogan::pixels::rgba_from_images;
    let gpu = gpu();
    for (n, c, side) in [(3, 3, 7), (2, 1, 5), (1, 3, 32)] {
        let values = tricky_values(n * c * side * side);
        let images =
            Tensor::<4>::from_data(TensorData::new(values.clone(), [n, c, side, side]), &gpu);
        let packed = pack_rgba(&images).expect("a wgpu f32 tensor is packed on the GPU");
        assert_eq!(packed.dims(), [n, side, side]);
        let bytes = texel_bytes_blocking(packed).unwrap();
        assert_eq!(
            bytes,
            rgba_from_images(&values, c, side),
            "{n}x{c}x{side}x{side}"
        );
    }
    // A non-contiguous view (a transposed tensor) is made contiguous first.
    let values = tricky_values(2 * 3 * 4 * 6);
    let images =
        Tensor::<4>::from_data(TensorData::new(values, [2, 3, 6, 4]), &gpu).swap_dims(2, 3);
    let cpu_copy = values_of(images.clone());
    let packed = pack_rgba(&images).unwrap();
    assert_eq!(packed.dims(), [2, 4, 6]);
    let bytes = texel_bytes_blocking(packed).unwrap();
    // Not square (4 x 6): checked texel by texel against the CPU's bytes of the same view.
    let plane = 24;
    for image in 0..2 {
        for pixel in 0..plane {
            for k in 0..3 {
                let v = cpu_copy[(image * 3 + k) * plane + pixel];
                assert_eq!(
                    bytes[(image * plane + pixel) * 4 + k],
                    dinfogan::pixels::byte(v)
                );
            }
            assert_eq!(bytes[(image * plane + pixel) * 4 + 3], 255);
        }
    }
    // Other devices are left to the CPU conversion.
    let on_cpu = Tensor::<4>::zeros([1, 3, 2, 2], &cpu());
    assert!(pack_rgba(&on_cpu).is_none());
}

#[cfg(feature = "gpu-pixels")]
fn values_of(t: Tensor<4>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// Two full training iterations (every loss term, CR on, optimiser updates) on wgpu and on the
/// CPU from the same weights, with every random number drawn from one host stream: the same
/// check `dinfogan bench --check` makes on a real GPU.
#[test]
fn training_iterations_on_wgpu_match_the_cpu() {
    use dinfogan::builtin::Domain;
    use dinfogan::Trainer;
    let config = tiny_config();
    let mut reference = Trainer::new(config.clone(), &cpu(), 1).unwrap();
    let mut other = Trainer::new(config.clone(), &gpu(), 2).unwrap();
    other.load_state(reference.state().unwrap()).unwrap();
    for iteration in 1..=2u64 {
        let losses = |trainer: &mut Trainer| {
            let bg = builtin_batch(&config, Domain::Background, 0, 4, trainer.device());
            let t = builtin_batch(&config, Domain::Target, 0, 4, trainer.device());
            dinfogan::random::with_host_stream(iteration, || trainer.iteration(bg, t)).values()
        };
        let (expected, got) = (losses(&mut reference), losses(&mut other));
        for ((name, e), (_, g)) in expected.iter().zip(got.iter()) {
            assert!(
                (e - g).abs() <= 1e-4 * e.abs().max(1.0),
                "iteration {iteration}, {name}: CPU {e}, wgpu {g}"
            );
        }
        assert!(
            expected.iter().filter(|(_, v)| *v != 0.0).count() >= 10,
            "{expected:?}"
        );
    }
}
