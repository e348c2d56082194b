//! Picks the compute device once, at start-up, from `--backend`. Never `Device::default()`:
//! that one follows compile-time feature order and does not look for a GPU.

use anyhow::{bail, Result};
use burn::prelude::Device;
use clap::ValueEnum;
use serde::Serialize;

use crate::io::print_json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// A real GPU through wgpu when one exists, else the CPU.
    Auto,
    /// wgpu with the best graphics API of the platform (Vulkan, Metal, DX12).
    Wgpu,
    /// wgpu pinned to Vulkan (builds with `--features vulkan`).
    Vulkan,
    /// wgpu pinned to Metal (builds with `--features metal`).
    Metal,
    /// The CPU through burn-flex.
    Cpu,
    /// The CPU through the deprecated burn-ndarray (builds with `--features ndarray`; for
    /// benchmark comparisons).
    Ndarray,
}

/// The device and a sentence saying what it is.
pub struct Selected {
    pub device: Device,
    pub description: String,
}

/// Where burn must create tensors it does not place itself (it reads `BURN_DEVICE`: the
/// optimiser state loaded on resume goes to `Device::default()`, which would otherwise open
/// a GPU in a CPU run).
fn pin_default(name: &str) {
    // Called at start-up, before any thread exists.
    std::env::set_var("BURN_DEVICE", name);
}

/// The threads of the CPU backend's pool (`on_pool` in main.rs): `RAYON_NUM_THREADS` when
/// set, else every core.
pub fn cpu_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn cpu() -> Selected {
    pin_default("flex");
    let threads = cpu_threads();
    Selected {
        device: Device::flex(),
        description: format!(
            "CPU (burn-flex, {threads} thread{})",
            if threads == 1 { "" } else { "s" }
        ),
    }
}

/// A wgpu instance on the graphics APIs burn computes on (Vulkan, Metal, DX12). Never wgpu's
/// default instance: that one also starts the OpenGL backend, which on Linux loads Mesa's EGL
/// and probes Wayland and X11 displays; a `dinfogan devices` with it once died in the test
/// suite of a double free, and none of those adapters is ever used here.
fn primary_instance() -> burn::tensor::wgpu::wgpu::Instance {
    use burn::tensor::wgpu::wgpu::{Backends, Instance, InstanceDescriptor};
    Instance::new(InstanceDescriptor {
        backends: Backends::PRIMARY,
        ..InstanceDescriptor::new_without_display_handle()
    })
}

/// The adapter wgpu would open by default (the high-performance one among Vulkan, Metal and
/// DX12), looked up without opening it; `Err` says why there is none.
fn default_adapter() -> std::result::Result<burn::tensor::wgpu::wgpu::AdapterInfo, String> {
    use burn::tensor::wgpu::wgpu::{PowerPreference, RequestAdapterOptions};
    let instance = primary_instance();
    let options = RequestAdapterOptions {
        power_preference: PowerPreference::HighPerformance,
        ..Default::default()
    };
    futures_lite::future::block_on(instance.request_adapter(&options))
        .map(|adapter| adapter.get_info())
        .map_err(|e| e.to_string())
}

/// Why `--backend auto` passes over wgpu for the CPU.
enum PassedOver {
    /// No adapter, or none that opened (wgpu's reason).
    NoAdapter(String),
    /// The only adapter is a software rasteriser (its name).
    SoftwareOnly(String),
}

impl PassedOver {
    /// Says why on stderr; the CPU is then used.
    fn say(self) -> Result<Option<Selected>> {
        match self {
            Self::NoAdapter(why) => eprintln!("no GPU adapter found through wgpu ({why})"),
            Self::SoftwareOnly(name) => eprintln!(
                "the only wgpu adapter is a software rasteriser ({name}), slower than the CPU backend"
            ),
        }
        Ok(None)
    }
}

/// Initialises wgpu on its default adapter; `Ok(None)` when the only adapter is a software
/// rasteriser and `allow_software` is false.
fn wgpu(allow_software: bool) -> Result<Option<Selected>> {
    use burn::tensor::wgpu::wgpu::DeviceType;
    if !allow_software {
        // Looked up first, so that a machine without a GPU never opens one: a wgpu device and
        // its runtime threads cost time for nothing, and on Mesa's lavapipe a process that
        // exits while those threads are still up has (rarely) died of a signal instead of
        // returning its exit code.
        match default_adapter() {
            Err(e) => return PassedOver::NoAdapter(e).say(),
            Ok(info) if info.device_type == DeviceType::Cpu => {
                return PassedOver::SoftwareOnly(info.name).say()
            }
            Ok(_) => {}
        }
    }
    let (device, setup) = match Device::wgpu_options().init_with_setup() {
        Ok(found) => found,
        Err(e) if !allow_software => return PassedOver::NoAdapter(e.to_string()).say(),
        Err(e) => bail!(
            "no GPU adapter could be opened through wgpu ({e}); install a Vulkan, Metal or \
             DX12 driver, or train with --backend cpu"
        ),
    };
    let info = setup.adapter.get_info();
    let software = info.device_type == DeviceType::Cpu;
    if software && !allow_software {
        return PassedOver::SoftwareOnly(info.name).say();
    }
    pin_default("wgpu");
    Ok(Some(Selected {
        device,
        description: format!(
            "GPU through wgpu: {} ({:?}, {:?}{})",
            info.name,
            info.backend,
            info.device_type,
            if software { ", software" } else { "" }
        ),
    }))
}

pub fn select(backend: Backend) -> Result<Selected> {
    match backend {
        Backend::Cpu => Ok(cpu()),
        Backend::Wgpu => Ok(wgpu(true)?.expect("software adapters are accepted")),
        Backend::Auto => Ok(match wgpu(false)? {
            Some(gpu) => gpu,
            None => cpu(),
        }),
        Backend::Ndarray => {
            #[cfg(feature = "ndarray")]
            {
                pin_default("ndarray");
                #[allow(deprecated)]
                let device = Device::ndarray();
                Ok(Selected {
                    device,
                    description: "CPU (burn-ndarray, deprecated)".into(),
                })
            }
            #[cfg(not(feature = "ndarray"))]
            bail!("this build has no burn-ndarray backend: rebuild with `--features ndarray` (it is only useful for benchmark comparisons; --backend cpu is faster)")
        }
        Backend::Vulkan => {
            #[cfg(feature = "vulkan")]
            {
                pin_default("vulkan");
                Ok(Selected {
                    device: Device::vulkan(Default::default()),
                    description: "GPU through wgpu, pinned to Vulkan".into(),
                })
            }
            #[cfg(not(feature = "vulkan"))]
            bail!("this build has no pinned Vulkan backend: rebuild with `--features vulkan`, or use --backend wgpu (which uses Vulkan where it is the best API)")
        }
        Backend::Metal => {
            #[cfg(feature = "metal")]
            {
                pin_default("metal");
                Ok(Selected {
                    device: Device::metal(Default::default()),
                    description: "GPU through wgpu, pinned to Metal".into(),
                })
            }
            #[cfg(not(feature = "metal"))]
            bail!("this build has no pinned Metal backend: rebuild with `--features metal`, or use --backend wgpu (which uses Metal on macOS)")
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct DevicesArgs {
    /// Print the devices as one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One device `dinfogan devices` lists.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum DeviceEntry {
    /// A wgpu adapter (its backend and type as wgpu names them, e.g. `Vulkan`, `DiscreteGpu`).
    Wgpu {
        name: String,
        backend: String,
        device_type: String,
        driver: String,
        driver_info: String,
    },
    /// The CPU backend and the threads it runs.
    Cpu { name: &'static str, threads: usize },
}

impl DeviceEntry {
    fn line(&self) -> String {
        match self {
            Self::Wgpu {
                name,
                backend,
                device_type,
                driver,
                driver_info,
            } => format!("wgpu: {name} ({backend}, {device_type}; driver {driver} {driver_info})"),
            Self::Cpu { name, threads } => format!("cpu: {name}, {threads} threads"),
        }
    }
}

/// What `dinfogan devices` finds: the text and `--json` both come from it.
#[derive(Debug, Serialize)]
struct DeviceList {
    /// The wgpu adapters (the first GPU is what `--backend wgpu` and `--backend auto` open),
    /// then the CPU.
    devices: Vec<DeviceEntry>,
}

/// `dinfogan devices`: every wgpu adapter this machine offers (the first GPU is what
/// `--backend wgpu` and `--backend auto` open), and the CPU.
pub fn list_devices(args: DevicesArgs) -> Result<()> {
    use burn::tensor::wgpu::wgpu::Backends;
    let adapters =
        futures_lite::future::block_on(primary_instance().enumerate_adapters(Backends::PRIMARY));
    let mut devices: Vec<DeviceEntry> = adapters
        .iter()
        .map(|adapter| {
            let info = adapter.get_info();
            DeviceEntry::Wgpu {
                name: info.name,
                backend: format!("{:?}", info.backend),
                device_type: format!("{:?}", info.device_type),
                driver: info.driver,
                driver_info: info.driver_info,
            }
        })
        .collect();
    devices.push(DeviceEntry::Cpu {
        name: "burn-flex",
        threads: cpu_threads(),
    });
    let list = DeviceList { devices };
    if args.json {
        return print_json(&list);
    }
    if adapters.is_empty() {
        println!("wgpu: no adapter (install a Vulkan, Metal or DX12 driver for a GPU)");
    }
    for device in &list.devices {
        println!("{}", device.line());
    }
    Ok(())
}
