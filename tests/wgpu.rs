//! wgpu agrees with the CPU: a small forward and backward through G and the discriminator.
//! CI has no GPU: it runs this on Mesa's lavapipe (Vulkan on the CPU). Kept tiny, since every
//! new kernel is compiled on first use there.

mod common;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Bytes;
use common::*;
use dinfogan::model::{Discriminator, Generator};
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

    let gpu = match Device::wgpu_options().init() {
        Ok(device) => device,
        Err(e) => panic!(
            "no wgpu adapter ({e}): install a Vulkan driver (on Debian: apt-get install \
             mesa-vulkan-drivers, the lavapipe software adapter)"
        ),
    };
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
