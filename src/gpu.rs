//! RGBA packing on the GPU: the project's WGSL kernel (`shaders/rgba.wgsl`) launched on a burn
//! wgpu tensor, so that generated images come back as 4 bytes per pixel instead of 12 (three
//! f32). Used by the browser viewer on WebGPU and by the CLI's PNG output on wgpu; it must agree
//! with the CPU reference [`pixels::rgba_from_images`](crate::pixels::rgba_from_images) exactly
//! (tested on lavapipe and in the browser).
//!
//! The kernel is raw WGSL, so it runs only where cubecl compiles WGSL: wgpu's default build and
//! WebGPU. On SPIR-V (`--features vulkan`), MSL, fused backends or the CPU, [`pack_rgba`]
//! returns `None` and callers convert on the CPU.

#![cfg_attr(feature = "fusion", allow(unused_imports, dead_code))]

use burn::backend::wgpu::{
    into_contiguous, CubeBackend, CubeTensor, KernelSource, SourceKernel, SourceTemplate,
};
use burn::cubecl::{
    ir::attributes::BufferIOAttr,
    prelude::KernelId,
    server::{KernelArguments, MetadataBindingInfo},
    CubeCount, CubeDim, RuntimeId,
};
use burn::tensor::{DType, Int, Shape, Tensor};

/// Threads per workgroup: WebGPU's default `maxComputeInvocationsPerWorkgroup`.
const WORKGROUP: u32 = 256;
/// WebGPU's default `maxComputeWorkgroupsPerDimension`.
const MAX_GROUPS_X: u32 = 65_535;

struct PackRgba;

impl KernelSource for PackRgba {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(include_str!("../shaders/rgba.wgsl"))
            .register("workgroup_size", WORKGROUP.to_string())
    }

    fn id(&self) -> KernelId {
        // Pipelines are cached by id: it names every template parameter.
        KernelId::new::<Self>().info(WORKGROUP)
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// `[N, C, H, W]` f32 images in [-1, 1] (C = 1 or 3) to `[N, H, W]` u32 texels, RGBA8 with R in
/// the low byte and alpha 255. `None` (and nothing launched) when the tensor is not an f32
/// tensor on a wgpu device that compiles WGSL, when C is not 1 or 3, or when it is empty or too
/// large for u32 indexing. Autodiff tensors are read through their inner value.
#[cfg(not(feature = "fusion"))]
pub fn pack_rgba(images: &Tensor<4>) -> Option<Tensor<3, Int>> {
    let input: CubeTensor = images
        .clone()
        .inner()
        .try_into_primitive::<CubeBackend>()
        .ok()?;
    if input.device.runtime() != RuntimeId::Wgpu || input.client.name() != "wgpu<wgsl>" {
        return None;
    }
    if input.dtype != DType::F32 || input.qparams.is_some() {
        return None;
    }
    let [n, c, h, w] = input.meta.shape().dims::<4>();
    let plane = h * w;
    let pixels = n * plane;
    if (c != 1 && c != 3) || pixels == 0 || pixels * c > u32::MAX as usize {
        return None;
    }
    let input = into_contiguous(input);
    let client = input.client.clone();
    let output = CubeTensor::new_contiguous(
        client.clone(),
        input.device.clone(),
        Shape::new([n, h, w]),
        client.empty(pixels * 4),
        DType::U32,
    );
    let groups = (pixels as u32).div_ceil(WORKGROUP);
    let x = groups.min(MAX_GROUPS_X);
    let y = groups.div_ceil(x);
    let info = vec![(pixels as u64) | ((plane as u64) << 32), c as u64];
    client.launch(
        Box::new(SourceKernel::new(PackRgba, CubeDim::new_1d(WORKGROUP))),
        CubeCount::Static(x, y, 1),
        KernelArguments::new()
            // Failure bookkeeping only: a failed launch taints the output, not the input.
            .with_buffer_io(input.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(output.handle.clone().binding(), BufferIOAttr::WriteOnly)
            .with_info(MetadataBindingInfo::custom(info)),
    );
    Some(Tensor::<3, Int>::from_primitive::<CubeBackend>(output))
}

/// With kernel fusion a wgpu tensor is a lazy fused value, not a buffer the kernel could bind:
/// the callers' CPU conversion runs instead.
#[cfg(feature = "fusion")]
pub fn pack_rgba(_images: &Tensor<4>) -> Option<Tensor<3, Int>> {
    None
}

/// The bytes of packed texels (`N * H * W * 4`: R, G, B, A per pixel), read without blocking
/// (synchronous reads panic on WebGPU).
pub async fn texel_bytes(packed: Tensor<3, Int>) -> Result<Vec<u8>, String> {
    let data = packed
        .into_data_async()
        .await
        .map_err(|e| format!("the device failed to return a result: {e:?}"))?;
    texels_to_bytes(data)
}

/// Native, blocking: the bytes of packed texels.
#[cfg(not(target_family = "wasm"))]
pub fn texel_bytes_blocking(packed: Tensor<3, Int>) -> Result<Vec<u8>, String> {
    let data = packed
        .try_into_data()
        .map_err(|e| format!("the device failed to return a result: {e:?}"))?;
    texels_to_bytes(data)
}

fn texels_to_bytes(data: burn::tensor::TensorData) -> Result<Vec<u8>, String> {
    if data.dtype() != DType::U32 {
        return Err(format!(
            "packed texels came back as {:?}, not u32",
            data.dtype()
        ));
    }
    // Little-endian u32 words: the bytes are already R, G, B, A.
    let words = data
        .try_into_vec::<u32>()
        .map_err(|e| format!("could not read packed texels: {e:?}"))?;
    Ok(words.iter().flat_map(|w| w.to_le_bytes()).collect())
}
