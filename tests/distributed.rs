//! The probe behind the missing `train --devices` (docs/architecture.md, "Several devices"):
//! what burn's own distributed engine (`burn::tensor::distributed`, burn 0.22.1) does with the
//! devices this project reaches without CUDA. Each test pins one refusal, as burn words it.
//! When a burn upgrade makes one of them fail, the engine can drive that kind of device and
//! the design in docs/architecture.md can be built and tested on it.

use burn::prelude::*;
use burn::tensor::distributed::{
    all_reduce, DistributedConfig, DistributedContext, ReduceOperation,
};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The message of the panic `f` raises, or `None` when it returns.
fn panic_message(f: impl FnOnce()) -> Option<String> {
    // The panic hook is global: one test at a time swaps it.
    static HOOK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = HOOK.lock().unwrap_or_else(|e| e.into_inner());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // the expected panic is not a failure to print
    let outcome = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    outcome.err().map(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

fn mean() -> DistributedConfig {
    DistributedConfig {
        all_reduce_op: ReduceOperation::Mean,
    }
}

/// burn-flex, the CPU backend, is outside the engine: starting it on two CPU devices is
/// refused (burn-flex has a single device, `Device::flex()`, so there is no second CPU device
/// to pair with either).
#[test]
fn the_engine_refuses_the_cpu_backend() {
    for device in [Device::flex(), Device::flex().autodiff()] {
        let message = panic_message(|| {
            let _context = DistributedContext::init(vec![device.clone(), device.clone()], mean());
        })
        .expect("burn's distributed engine now accepts burn-flex: build `train --devices` on it");
        assert!(
            message.contains("Distributed operations are not supported for device"),
            "{message}"
        );
    }
}

/// wgpu is inside the engine (the context starts on two wgpu devices), but its runtime has no
/// transport between devices, so the all-reduce every distributed backward runs is refused.
/// Two wgpu devices here: wgpu's default adapter and its CPU-type adapter (Mesa's lavapipe in
/// CI: the same adapter twice, as two burn devices).
#[test]
fn wgpu_has_no_transport_for_the_all_reduce() {
    let first = Device::wgpu_options()
        .init()
        .unwrap_or_else(|e| panic!("no wgpu adapter ({e}): install mesa-vulkan-drivers"));
    let second = Device::wgpu(burn::tensor::DeviceKind::Cpu);
    let devices = vec![first.clone(), second];
    let _context = DistributedContext::init(devices.clone(), mean());
    let gradient = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &first);
    let message = panic_message(|| {
        let reduced = all_reduce(gradient, ReduceOperation::Mean, devices).resolve();
        let _ = reduced.into_data();
    })
    .expect("wgpu's all-reduce now runs: build `train --devices` on it and test its equivalence");
    assert!(
        message.contains("no transport between its devices"),
        "{message}"
    );
}
