//! Helpers shared by the integration tests.
#![allow(dead_code)]

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use dinfogan::builtin::{BuiltinDataset, Domain};
use dinfogan::{ModelConfig, TrainConfig};

/// Serialises the tests of one binary that seed or draw from the CPU device's random numbers:
/// the device's generator is one per process, and tests run on parallel threads, so a test
/// that seeds it could otherwise see another test's draws between its seed and its own.
pub fn device_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The CPU device. burn creates loaded optimiser state on `Device::default()`, which follows
/// `BURN_DEVICE`: keep it on the CPU too (wgpu is compiled into the test binaries).
pub fn cpu() -> Device {
    std::env::set_var("BURN_DEVICE", "flex");
    Device::flex()
}

/// A tiny model that still has every part of the paper's (CR included).
pub fn tiny_config() -> TrainConfig {
    let mut config = TrainConfig {
        model: ModelConfig {
            image_size: 32,
            channels: 3,
            width: 4,
            common_dim: 4,
            salient_dim: 3,
            noise_std: 0.2,
            ..Default::default()
        },
        batch_size: 4,
        ..TrainConfig::default()
    };
    config.loss.contrastive = 1.0;
    config.loop_regulariser = 1;
    config
}

/// The same at 128x128: the Table 5 network (spectral norm, self-attention), grey.
pub fn tiny_mri_config() -> TrainConfig {
    let mut config = tiny_config();
    config.model.image_size = 128;
    config.model.channels = 1;
    config.model.width = 2;
    config
}

/// `batch` built-in images of one domain as a tensor on `device`.
pub fn builtin_batch(
    config: &TrainConfig,
    domain: Domain,
    start: usize,
    batch: usize,
    device: &Device,
) -> Tensor<4> {
    let (side, c) = (config.model.image_size, config.model.channels);
    let data = BuiltinDataset::new(11, 10_000);
    let pixels: Vec<f32> = (start..start + batch)
        .flat_map(|i| data.image(domain, i, side, c))
        .collect();
    Tensor::from_data(TensorData::new(pixels, [batch, c, side, side]), device)
}

/// Every float tensor of a module (weights and batch-norm running statistics), in visiting order.
pub fn parameters<M: Module>(module: &M) -> Vec<Vec<f32>> {
    collect(module, false)
}

/// The trainable parameters only (those that require a gradient on an autodiff device): what
/// an optimiser updates, without the running statistics that every forward pass moves.
pub fn trainable_parameters<M: Module>(module: &M) -> Vec<Vec<f32>> {
    collect(module, true)
}

fn collect<M: Module>(module: &M, trainable_only: bool) -> Vec<Vec<f32>> {
    struct Collect(Vec<Vec<f32>>, bool);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            if !self.1 || value.is_require_grad() {
                self.0.push(
                    value
                        .into_data()
                        .convert::<f32>()
                        .try_to_vec::<f32>()
                        .unwrap(),
                );
            }
        }
    }
    let mut collect = Collect(Vec::new(), trainable_only);
    module.visit(&mut collect);
    collect.0
}

pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
