// Generator output to screen pixels, on the GPU, before read back: a quarter of the bytes of the
// f32 RGB planes (three f32 per pixel become one u32).
//
// In:  images [N, C, H, W] f32 in [-1, 1] (the generator's tanh range), C = 1 or 3, contiguous.
// Out: texels [N, H, W] u32, RGBA8 with R in the low byte and A = 255 (grey repeated), which
//      read back as little-endian bytes are exactly R, G, B, A.
//
// Launched by dinfogan::gpu::pack_rgba as a precompiled kernel (cubecl 0.11): buffers bind at 0, 1
// in the order they are passed, the info words at the next binding. Tensor buffers are read_write:
// cubecl sub-allocates tensors from shared wgpu buffers, and read plus read_write use of one
// buffer in a dispatch is a WebGPU usage conflict.
@group(0) @binding(0) var<storage, read_write> images: array<f32>;
@group(0) @binding(1) var<storage, read_write> texels: array<u32>;
// u64 words seen as u32 pairs: [0] N*H*W, [1] H*W, [2] C, [3] 0.
@group(0) @binding(2) var<storage, read> info: array<u32>;

const WORKGROUP: u32 = {{ workgroup_size }}u;

// The CPU reference's expression (dinfogan::pixels::byte): floor(x + 0.5), not round(), which
// rounds halves to even in WGSL. NaN gives 0, tested on its bits (WGSL's clamp of NaN is not
// defined).
fn to_byte(v: f32) -> u32 {
    if ((bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) {
        return 0u;
    }
    return u32(floor((clamp(v, -1.0, 1.0) + 1.0) * 127.5 + 0.5));
}

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let pixel = (group.y * groups.x + group.x) * WORKGROUP + local;
    let pixels = info[0];
    // cubecl turns wgpu's bounds checks off: the last workgroup guards itself.
    if (pixel >= pixels) {
        return;
    }
    let plane = info[1];
    let channels = info[2];
    let image = pixel / plane;
    let base = image * channels * plane + (pixel - image * plane);
    let r = to_byte(images[base]);
    var g = r;
    var b = r;
    if (channels == 3u) {
        g = to_byte(images[base + plane]);
        b = to_byte(images[base + 2u * plane]);
    }
    texels[pixel] = r | (g << 8u) | (b << 16u) | (255u << 24u);
}
