//! The browser face of dinfogan: an exported model (`dinfogan export`) loaded from bytes,
//! running on WebGPU through burn's wgpu backend, or on the CPU through burn-flex compiled to
//! WebAssembly. The page (`web/www/`) drives a [`Viewer`] from a Web Worker, so neither path
//! blocks the page; every read back from the GPU is asynchronous (a synchronous read panics
//! on WebGPU).
//!
//! Pixels cross the boundary as RGBA bytes, `side x side` per image, images concatenated.

#[cfg(feature = "webgpu")]
use std::cell::RefCell;

use burn::prelude::*;
use dinfogan::builtin::{BuiltinDataset, Domain};
use dinfogan::{pixels, InferenceModel};
use wasm_bindgen::prelude::*;

/// Seed of the bundled examples: the built-in data of a seed no training uses (the one
/// `dinfogan eval separation --data builtin` holds out).
const EXAMPLES_SEED: u64 = 0x5EED_0E7A;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

#[cfg(feature = "webgpu")]
thread_local! {
    /// The WebGPU device, once started: burn registers one wgpu runtime per adapter selector,
    /// so a second model reuses it.
    static WEBGPU: RefCell<Option<(Device, String)>> = const { RefCell::new(None) };
}

#[cfg(not(feature = "webgpu"))]
async fn webgpu() -> Result<(Device, String), String> {
    Err("this is the CPU-only module".into())
}

#[cfg(feature = "webgpu")]
async fn webgpu() -> Result<(Device, String), String> {
    if let Some(found) = WEBGPU.with(|gpu| gpu.borrow().clone()) {
        return Ok(found);
    }
    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|e| e.to_string())?;
    // Browsers may hide the adapter's name (the page then asks `GPUAdapter.info` itself).
    let info = setup.adapter.get_info();
    let name = [info.name.as_str(), info.driver.as_str()]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or_default()
        .to_string();
    WEBGPU.with(|gpu| *gpu.borrow_mut() = Some((device.clone(), name.clone())));
    Ok((device, name))
}

fn js_error(message: impl std::fmt::Display) -> JsError {
    JsError::new(&message.to_string())
}

/// Latent codes, row-major: `n x L` common values and `n x M` salient values.
#[wasm_bindgen(getter_with_clone)]
pub struct Latents {
    pub common: Vec<f32>,
    pub salient: Vec<f32>,
}

/// A loaded model and the device it runs on.
#[wasm_bindgen]
pub struct Viewer {
    model: InferenceModel,
    backend: String,
    gpu: bool,
    gpu_pixels: bool,
}

#[wasm_bindgen]
impl Viewer {
    /// Loads a model file. `backend`: `"auto"` (WebGPU when the browser has an adapter, else
    /// the CPU), `"webgpu"` (fails without WebGPU) or `"cpu"`.
    pub async fn load(bytes: Vec<u8>, backend: String) -> Result<Viewer, JsError> {
        let (device, name, gpu) = match backend.as_str() {
            "cpu" => (Device::flex(), "CPU (WebAssembly)".to_string(), false),
            "webgpu" | "auto" => match webgpu().await {
                Ok((device, adapter)) if adapter.is_empty() => (device, "WebGPU".into(), true),
                Ok((device, adapter)) => (device, format!("WebGPU ({adapter})"), true),
                // The CPU-only module says nothing about WebGPU: the page decides whether the
                // WebGPU module follows.
                Err(_) if backend == "auto" && !cfg!(feature = "webgpu") => {
                    (Device::flex(), "CPU (WebAssembly)".into(), false)
                }
                Err(e) if backend == "auto" => {
                    let why = if e.contains("No adapter available") {
                        "the browser offers no adapter".to_string()
                    } else {
                        e
                    };
                    let name = format!("CPU (WebAssembly; WebGPU unavailable: {why})");
                    (Device::flex(), name, false)
                }
                Err(e) => return Err(js_error(format!("WebGPU could not start: {e}"))),
            },
            other => {
                return Err(js_error(format!(
                    "unknown backend \"{other}\": use auto, webgpu or cpu"
                )))
            }
        };
        let model = InferenceModel::from_bytes(&bytes, &device).map_err(js_error)?;
        if !model.generates() {
            // Every panel of the page draws images: say so now rather than fail in each.
            return Err(js_error(dinfogan::Error::NoGenerator {
                method: model.method(),
            }));
        }
        Ok(Viewer {
            model,
            backend: name,
            gpu,
            gpu_pixels: true,
        })
    }

    /// What runs the model, for people: `WebGPU (adapter)` or `CPU (WebAssembly)`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// Whether the model runs on WebGPU.
    #[wasm_bindgen(getter)]
    pub fn gpu(&self) -> bool {
        self.gpu
    }

    /// Whether generated images are packed into RGBA on the GPU (WebGPU only; on by default).
    /// Off, they are read back as f32 and converted on the CPU: for comparisons.
    #[wasm_bindgen(js_name = setGpuPixels)]
    pub fn set_gpu_pixels(&mut self, on: bool) {
        self.gpu_pixels = on;
    }

    /// Whether generated images are in fact packed by the WGSL kernel: WebGPU, packing on, and
    /// a device whose compiler takes WGSL (a one-pixel probe, nothing read back).
    #[wasm_bindgen(js_name = packsOnGpu)]
    pub fn packs_on_gpu(&self) -> bool {
        let c = self.model.config();
        let probe = Tensor::<4>::zeros([1, c.channels, 1, 1], self.model.device());
        #[cfg(feature = "webgpu")]
        return self.gpu_pixels && dinfogan::gpu::pack_rgba(&probe).is_some();
        #[cfg(not(feature = "webgpu"))]
        {
            let _ = (probe, self.gpu_pixels);
            false
        }
    }

    /// The model's configuration and salient prior as JSON.
    #[wasm_bindgen(js_name = configJson)]
    pub fn config_json(&self) -> String {
        let mut config = serde_json::to_value(self.model.config()).expect("config serialises");
        config["salient_prior"] =
            serde_json::to_value(self.model.salient_prior()).expect("prior serialises");
        // Which method the file holds, as the CLI names it and as the paper writes it.
        config["method"] = self.model.method().name().into();
        config["method_label"] = self.model.method().label().into();
        config.to_string()
    }

    /// The latents of the paper's generation grid (rows share z, column 0 has s = 0), drawn
    /// from the seeds exactly as `dinfogan generate --seed C --salient-seed S` draws them.
    #[wasm_bindgen(js_name = gridLatents)]
    pub fn grid_latents(
        &self,
        rows: u32,
        cols: u32,
        common_seed: u32,
        salient_seed: u32,
    ) -> Latents {
        let (common, salient) = dinfogan::infer::grid_latents(
            self.model.config(),
            self.model.salient_prior(),
            rows as usize,
            cols as usize,
            common_seed.into(),
            salient_seed.into(),
        );
        Latents { common, salient }
    }

    /// G(z, s) for `n` codes: RGBA bytes of `n` images.
    pub async fn generate(&self, common: Vec<f32>, salient: Vec<f32>) -> Result<Vec<u8>, JsError> {
        let images = self
            .model
            .generate_from(&common, &salient)
            .map_err(js_error)?;
        self.rgba(images).await
    }

    /// Encodes RGBA images (`side x side` each): their (ẑ, ŝ).
    pub async fn encode(&self, rgba: Vec<u8>) -> Result<Latents, JsError> {
        let images = self.images(&rgba)?;
        let (common, salient) = self.model.encode(images).map_err(js_error)?;
        Ok(Latents {
            common: read(common).await?,
            salient: read(salient).await?,
        })
    }

    /// The swap of the paper (Fig. 3, 5, 7) for one background image x and one target image y
    /// (RGBA, `side x side` each). Returns four RGBA images: the reconstructions G(z_x, 0) and
    /// G(z_y, s_y), then G(z_x, s_y) (x given y's salient features) and G(z_y, 0) (y with its
    /// salient features removed: the "healthy counterpart").
    pub async fn swap(&self, background: Vec<u8>, target: Vec<u8>) -> Result<Vec<u8>, JsError> {
        let background = self.images(&background)?;
        let target = self.images(&target)?;
        if background.dims()[0] != 1 || target.dims()[0] != 1 {
            return Err(js_error("give exactly one background and one target image"));
        }
        let images = self
            .model
            .swap_and_reconstruct(background, target)
            .map_err(js_error)?;
        self.rgba(images).await
    }

    /// `count` background then `count` target images of the built-in data (RGBA) at this
    /// model's size, from a seed no training uses: examples for models trained on it.
    #[wasm_bindgen(js_name = builtinExamples)]
    pub fn builtin_examples(&self, count: u32) -> Vec<u8> {
        let c = self.model.config();
        let data = BuiltinDataset::new(EXAMPLES_SEED, count as usize);
        let mut out = Vec::new();
        for domain in [Domain::Background, Domain::Target] {
            for i in 0..count as usize {
                let image = data.image(domain, i, c.image_size, c.channels);
                out.extend(pixels::rgba_from_images(&image, c.channels, c.image_size));
            }
        }
        out
    }
}

impl Viewer {
    fn images(&self, rgba: &[u8]) -> Result<Tensor<4>, JsError> {
        let c = self.model.config();
        let side = c.image_size;
        let floats = pixels::images_from_rgba(rgba, side, c.channels).ok_or_else(|| {
            js_error(format!(
                "images must be {side}x{side} RGBA ({} bytes each), got {} bytes",
                side * side * 4,
                rgba.len()
            ))
        })?;
        let n = floats.len() / (c.channels * side * side);
        dinfogan::pixels::batch(floats, n, c.channels, side, self.model.device())
            .map_err(|e| js_error(e.to_string()))
    }

    async fn rgba(&self, images: Tensor<4>) -> Result<Vec<u8>, JsError> {
        // On WebGPU the project's WGSL kernel packs RGBA8 before read back (4 bytes per pixel
        // come back instead of 12); elsewhere the CPU converts, with the same rounding.
        #[cfg(feature = "webgpu")]
        if self.gpu_pixels {
            if let Some(packed) = dinfogan::gpu::pack_rgba(&images) {
                return dinfogan::gpu::texel_bytes(packed).await.map_err(js_error);
            }
        }
        let c = self.model.config();
        Ok(pixels::rgba_from_images(
            &read(images).await?,
            c.channels,
            c.image_size,
        ))
    }
}

/// A tensor's values, read back without blocking (synchronous reads panic on WebGPU).
async fn read<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, JsError> {
    let data = tensor
        .into_data_async()
        .await
        .map_err(|e| js_error(format!("the device failed to return a result: {e:?}")))?;
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| js_error(format!("could not read a result: {e:?}")))
}
