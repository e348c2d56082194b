//! The paper's PyTorch layout: the names its public code (Florence-C/Double_InfoGAN,
//! `models/G_DCGAN.py` and `models/D_DCGAN.py`) gives G's and D's parameters, as its Lightning
//! module's state dict holds them (`generator.main.0.weight`, `discriminator.conv1.weight`,
//! ...), and `dinfogan export --format safetensors`, which writes a trained model that way.
//!
//! The Table 4 networks here are the paper's layer for layer, so only the names differ; the
//! tensors' layouts are PyTorch's already (Conv2d `[out, in, k, k]`, ConvTranspose2d `[in, out,
//! k, k]`, no biases). At 32x32 the networks have one block fewer; the names follow the same
//! pattern (the validity head keeps its upstream name `conv5`), as `bench/paper_code` builds them.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use burn::tensor::Bytes;
use dinfogan::{Architecture, Method, StatePart, TrainConfig, TrainerState};

use crate::io::write_atomic;

/// One tensor in the PyTorch layout: its name, type, shape and little-endian bytes.
struct Named {
    name: String,
    dtype: safetensors::Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// A batch norm's parameter in PyTorch's words (burn: gamma and beta; PyTorch: weight, bias).
fn norm_parameter(name: &str) -> Option<&'static str> {
    Some(match name {
        "gamma" => "weight",
        "beta" => "bias",
        "running_mean" => "running_mean",
        "running_var" => "running_var",
        _ => return None,
    })
}

/// PyTorch's name of G's parameter at record path `path` (G with `blocks` ConvT blocks):
/// `main` is one Sequential of ConvT, BatchNorm and ReLU per block, then the last ConvT.
fn generator_name(path: &str, blocks: usize) -> Option<String> {
    let parts: Vec<&str> = path.split('.').collect();
    let index = |s: &str| s.parse::<usize>().ok().filter(|&i| i < blocks);
    Some(match parts.as_slice() {
        ["blocks", i, "weight"] => format!("generator.main.{}.weight", 3 * index(i)?),
        ["norms", i, p] => format!(
            "generator.main.{}.{}",
            3 * index(i)? + 1,
            norm_parameter(p)?
        ),
        ["output", "weight"] => format!("generator.main.{}.weight", 3 * blocks),
        _ => return None,
    })
}

/// PyTorch's name of D's parameter at record path `path`: `conv1`... for the trunk's
/// convolutions, `bn2`... for the batch norms after the second one on, and the four heads.
fn discriminator_name(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('.').collect();
    let index = |s: &str| s.parse::<usize>().ok();
    Some(match parts.as_slice() {
        ["encoder", "trunk", "convs", i, "weight"] => {
            format!("discriminator.conv{}.weight", index(i)? + 1)
        }
        ["encoder", "trunk", "norms", i, p] => {
            format!("discriminator.bn{}.{}", index(i)? + 2, norm_parameter(p)?)
        }
        ["encoder", "common", "weight"] => "discriminator.z_conv.weight".into(),
        ["encoder", "salient", "weight"] => "discriminator.s_conv.weight".into(),
        ["adversarial", "weight"] => "discriminator.conv5.weight".into(),
        ["class", "weight"] => "discriminator.class_conv.weight".into(),
        _ => return None,
    })
}

/// G's and D's tensors of a checkpoint, renamed to the PyTorch layout, with the
/// `num_batches_tracked` counter PyTorch keeps beside each batch norm (0: not counted here;
/// with a momentum, PyTorch does not use it) so that a strict `load_state_dict` accepts them.
fn torch_tensors(config: &TrainConfig, state: &mut TrainerState) -> Result<Vec<Named>> {
    let blocks = config.model.blocks();
    let mut out = Vec::new();
    for (part, rename) in [
        (
            StatePart::Generator,
            &(|p: &str| generator_name(p, blocks)) as &dyn Fn(&str) -> Option<String>,
        ),
        (StatePart::Discriminator, &discriminator_name),
    ] {
        let bytes = state.take(part).map_err(anyhow::Error::msg)?;
        let reader = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(|e| anyhow::anyhow!("could not read {}: {e}", part.describe()))?;
        for tensor in reader
            .into_tensors()
            .map_err(|e| anyhow::anyhow!("could not read {}: {e}", part.describe()))?
        {
            let (path, dtype, shape, _, bytes) = tensor
                .into_parts()
                .map_err(|e| anyhow::anyhow!("could not read {}: {e}", part.describe()))?;
            let Some(name) = rename(&path) else {
                bail!(
                    "{} holds a parameter `{path}` the paper's layout has no name for",
                    part.describe()
                );
            };
            if dtype != burn::tensor::DType::F32 {
                bail!(
                    "{} holds `{path}` as {dtype:?}, not 32-bit floats",
                    part.describe()
                );
            }
            if name.ends_with(".running_var") {
                out.push(Named {
                    name: name.replace(".running_var", ".num_batches_tracked"),
                    dtype: safetensors::Dtype::I64,
                    shape: vec![],
                    bytes: 0i64.to_le_bytes().to_vec(),
                });
            }
            out.push(Named {
                name,
                dtype: safetensors::Dtype::F32,
                shape: shape.to_vec(),
                bytes: bytes.to_vec(),
            });
        }
    }
    // Table 4: per block a ConvT and 5 batch-norm tensors in G, plus its output ConvT; in D a
    // conv per block, 5 batch-norm tensors per block but the first, and the four heads.
    let expected = 6 * blocks + 1 + blocks + 5 * (blocks - 1) + 4;
    if out.len() != expected {
        bail!(
            "the checkpoint holds {} tensors of G and D, not the {expected} of the paper's networks",
            out.len()
        );
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Writes G and D of a Double InfoGAN checkpoint (Table 4 networks) as one safetensors file in
/// the paper's PyTorch layout, the configuration in its metadata; returns its size in bytes.
pub fn export_safetensors(
    config: &TrainConfig,
    mut state: TrainerState,
    out: &Path,
) -> Result<usize> {
    if config.method != Method::DoubleInfogan {
        bail!(
            "--format safetensors writes the paper's Double InfoGAN networks, and this run trained \
             {}: export it as a model file (the default format)",
            config.method.label()
        );
    }
    if config.model.architecture() != Architecture::Dcgan {
        bail!(
            "--format safetensors writes the paper's Table 4 networks (32x32 or 64x64); its public \
             code has no {0}x{0} network: export this model as a model file (the default format)",
            config.model.image_size
        );
    }
    let tensors = torch_tensors(config, &mut state)?;
    let views = tensors
        .iter()
        .map(|t| {
            safetensors::tensor::TensorView::new(t.dtype, t.shape.clone(), &t.bytes)
                .map(|view| (t.name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .context("could not lay out the tensors")?;
    let metadata = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        (
            "layout".to_string(),
            "Florence-C/Double_InfoGAN models/G_DCGAN.py and models/D_DCGAN.py (G ends in tanh; \
             inputs in [-1, 1]; D's heads give logits)"
                .to_string(),
        ),
        (
            "dinfogan_method".to_string(),
            config.method.name().to_string(),
        ),
        (
            "dinfogan_model".to_string(),
            serde_json::to_string(&config.model).context("could not describe the model")?,
        ),
    ]);
    let bytes = safetensors::tensor::serialize(views, Some(metadata))
        .context("could not write the safetensors file")?;
    write_atomic(out, &bytes)?;
    Ok(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_paths_map_to_the_upstream_names() {
        // 64x64: four blocks, as G_DCGAN.py's `main` and D_DCGAN.py's conv1-conv4, bn2-bn4.
        assert_eq!(
            generator_name("blocks.0.weight", 4).unwrap(),
            "generator.main.0.weight"
        );
        assert_eq!(
            generator_name("norms.0.gamma", 4).unwrap(),
            "generator.main.1.weight"
        );
        assert_eq!(
            generator_name("norms.3.beta", 4).unwrap(),
            "generator.main.10.bias"
        );
        assert_eq!(
            generator_name("blocks.3.weight", 4).unwrap(),
            "generator.main.9.weight"
        );
        assert_eq!(
            generator_name("output.weight", 4).unwrap(),
            "generator.main.12.weight"
        );
        assert_eq!(generator_name("blocks.4.weight", 4), None);
        assert_eq!(
            generator_name("norms.0.running_mean", 3).unwrap(),
            "generator.main.1.running_mean"
        );
        assert_eq!(
            discriminator_name("encoder.trunk.convs.0.weight").unwrap(),
            "discriminator.conv1.weight"
        );
        assert_eq!(
            discriminator_name("encoder.trunk.norms.0.running_var").unwrap(),
            "discriminator.bn2.running_var"
        );
        assert_eq!(
            discriminator_name("encoder.trunk.norms.2.gamma").unwrap(),
            "discriminator.bn4.weight"
        );
        assert_eq!(
            discriminator_name("adversarial.weight").unwrap(),
            "discriminator.conv5.weight"
        );
        assert_eq!(
            discriminator_name("class.weight").unwrap(),
            "discriminator.class_conv.weight"
        );
        assert_eq!(
            discriminator_name("encoder.common.weight").unwrap(),
            "discriminator.z_conv.weight"
        );
        assert_eq!(
            discriminator_name("encoder.salient.weight").unwrap(),
            "discriminator.s_conv.weight"
        );
        assert_eq!(discriminator_name("encoder.trunk.norms.0.bias"), None);
    }
}
