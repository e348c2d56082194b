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

/// PyTorch's name of the parameter at record path `path` of G or D (with `blocks` blocks).
fn paper_name(part: StatePart, path: &str, blocks: usize) -> Option<String> {
    match part {
        StatePart::Generator => generator_name(path, blocks),
        _ => discriminator_name(path),
    }
}

/// One tensor of a burnpack record: its record path, type, shape and little-endian bytes.
struct Record {
    path: String,
    dtype: burn::tensor::DType,
    shape: Vec<usize>,
    bytes: Bytes,
}

/// The tensors of a burnpack record, or a sentence naming the network (`what`).
fn record_tensors(bytes: Bytes, what: &str) -> Result<Vec<Record>> {
    let fail = |e: burn_pack::Error| anyhow::anyhow!("could not read {what}: {e}");
    burn_pack::Reader::from_bytes(bytes)
        .map_err(fail)?
        .into_tensors()
        .map_err(fail)?
        .into_iter()
        .map(|tensor| {
            let (path, dtype, shape, _, bytes) = tensor.into_parts().map_err(fail)?;
            Ok(Record {
                path,
                dtype,
                shape: shape.to_vec(),
                bytes,
            })
        })
        .collect()
}

/// G's and D's tensors of a checkpoint, renamed to the PyTorch layout, with the
/// `num_batches_tracked` counter PyTorch keeps beside each batch norm (0: not counted here;
/// with a momentum, PyTorch does not use it) so that a strict `load_state_dict` accepts them.
fn torch_tensors(config: &TrainConfig, state: &mut TrainerState) -> Result<Vec<Named>> {
    let blocks = config.model.blocks();
    let mut out = Vec::new();
    for part in [StatePart::Generator, StatePart::Discriminator] {
        let bytes = state.take(part).map_err(anyhow::Error::msg)?;
        for Record {
            path,
            dtype,
            shape,
            bytes,
        } in record_tensors(Bytes::from_bytes_vec(bytes), part.describe())?
        {
            let Some(name) = paper_name(part, &path, blocks) else {
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

/// `dinfogan import`: a model trained with the paper's public PyTorch code (or exported by
/// `export --format safetensors`) as a model file the CLI, the page and the widget open.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A PyTorch Lightning checkpoint (.ckpt: its `state_dict`), a plain state dict saved with
    /// `torch.save(module.state_dict(), ...)` (.pt, .pth), or a safetensors file, with the
    /// parameter names of the public code's Lightning module (`generator.main.0.weight`,
    /// `discriminator.conv1.weight`, ...).
    pub file: std::path::PathBuf,
    /// The model file to write (e.g. model.bpk).
    #[arg(long)]
    pub out: crate::args::OutputFile,
}

/// The container a file to import turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    /// A PyTorch Lightning checkpoint: the state dict under `state_dict`, beside the optimiser
    /// states and the trainer's counters.
    Lightning,
    /// A state dict saved by `torch.save`.
    StateDict,
    /// A safetensors file.
    Safetensors,
}

impl Container {
    fn describe(self) -> &'static str {
        match self {
            Container::Lightning => "a PyTorch Lightning checkpoint",
            Container::StateDict => "a PyTorch state dict",
            Container::Safetensors => "a safetensors file",
        }
    }
}

/// One tensor of a file to import, read only once its shape is known to fit.
struct Found {
    dtype: String,
    shape: Vec<usize>,
    read: Box<dyn FnOnce() -> Result<Vec<f32>>>,
}

/// G's and D's tensors of a file, by the paper's names, and what else it held.
struct PaperFile {
    container: Container,
    tensors: HashMap<String, Found>,
    /// The model configuration `export --format safetensors` writes in its metadata.
    model: Option<dinfogan::ModelConfig>,
    /// Tensors of other modules (a regulariser, optimiser states), not imported.
    ignored: usize,
}

/// f32s from little- or native-endian bytes of 32- or 64-bit floats.
fn floats(bytes: &[u8], wide: bool, little: bool) -> Vec<f32> {
    if wide {
        bytes
            .chunks_exact(8)
            .map(|b| {
                let b: [u8; 8] = b.try_into().unwrap();
                (if little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_ne_bytes(b)
                }) as f32
            })
            .collect()
    } else {
        bytes
            .chunks_exact(4)
            .map(|b| {
                let b: [u8; 4] = b.try_into().unwrap();
                if little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_ne_bytes(b)
                }
            })
            .collect()
    }
}

/// Keeps the tensors of G and D (the Lightning module's `generator.` and `discriminator.`),
/// counting the others; `num_batches_tracked` is PyTorch's own counter, not a weight.
fn keep(name: &str) -> bool {
    (name.starts_with("generator.") || name.starts_with("discriminator."))
        && !name.ends_with(".num_batches_tracked")
}

fn read_paper_file(path: &Path) -> Result<PaperFile> {
    let mut head = [0u8; 4];
    {
        use std::io::Read;
        let mut file = std::fs::File::open(path)
            .with_context(|| format!("could not open {}", path.display()))?;
        let n = file.read(&mut head)?;
        if n < 4 {
            bail!("{} is too short to be a model", path.display());
        }
    }
    // torch.save writes a zip archive (PK..) since PyTorch 1.6, a pickle (0x80) before.
    if head.starts_with(b"PK") || head[0] == 0x80 {
        let reader = pytorch_reader::PytorchReader::new(path).map_err(|e| {
            anyhow::anyhow!("could not read {} as a PyTorch file: {e}", path.display())
        })?;
        let all = reader.into_tensors();
        let lightning = all.keys().any(|k| k.starts_with("state_dict."));
        let (mut tensors, mut ignored) = (HashMap::new(), 0);
        for (name, tensor) in all {
            let name = match (lightning, name.strip_prefix("state_dict.")) {
                (true, Some(rest)) => rest.to_string(),
                (true, None) => {
                    ignored += 1;
                    continue;
                }
                (false, _) => name,
            };
            if !keep(&name) {
                ignored += usize::from(!name.ends_with(".num_batches_tracked"));
                continue;
            }
            let dtype = tensor.dtype();
            let wide = match dtype {
                pytorch_reader::DType::F32 => false,
                pytorch_reader::DType::F64 => true,
                other => bail!(
                    "{} holds `{name}` as {other:?}: import reads 32- and 64-bit floats (convert \
                     with `.float()` before saving)",
                    path.display()
                ),
            };
            let shape = tensor.shape().to_vec();
            let label = name.clone();
            tensors.insert(
                name,
                Found {
                    dtype: format!("{dtype:?}"),
                    shape,
                    read: Box::new(move || {
                        let bytes = tensor
                            .read()
                            .with_context(|| format!("could not read `{label}`"))?;
                        Ok(floats(&bytes, wide, false))
                    }),
                },
            );
        }
        let container = if lightning {
            Container::Lightning
        } else {
            Container::StateDict
        };
        return Ok(PaperFile {
            container,
            tensors,
            model: None,
            ignored,
        });
    }
    let bytes =
        std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is neither a PyTorch file (torch.save) nor a safetensors file ({e})",
            path.display()
        )
    })?;
    let model = match metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get("dinfogan_model"))
    {
        Some(text) => Some(serde_json::from_str(text).with_context(|| {
            format!(
                "{} names a model configuration this version cannot read",
                path.display()
            )
        })?),
        None => None,
    };
    let file = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| anyhow::anyhow!("could not read {}: {e}", path.display()))?;
    let (mut tensors, mut ignored) = (HashMap::new(), 0);
    for (name, view) in file.tensors() {
        if !keep(&name) {
            ignored += usize::from(!name.ends_with(".num_batches_tracked"));
            continue;
        }
        let wide = match view.dtype() {
            safetensors::Dtype::F32 => false,
            safetensors::Dtype::F64 => true,
            other => bail!(
                "{} holds `{name}` as {other:?}: import reads 32- and 64-bit floats",
                path.display()
            ),
        };
        // The whole file is in memory already: its values are converted as they are found.
        let values = floats(view.data(), wide, true);
        tensors.insert(
            name,
            Found {
                dtype: format!("{:?}", view.dtype()),
                shape: view.shape().to_vec(),
                read: Box::new(move || Ok(values)),
            },
        );
    }
    Ok(PaperFile {
        container: Container::Safetensors,
        tensors,
        model,
        ignored,
    })
}

/// The Table 4 networks a file's tensors describe: the trunk's depth gives the image size,
/// `conv1` the width and the channels, the Q heads L and M. The noise in front of D's
/// convolutions is training-only and keeps its default.
fn infer_model(file: &PaperFile, path: &Path) -> Result<dinfogan::ModelConfig> {
    if let Some(model) = &file.model {
        return Ok(model.clone());
    }
    let shape = |name: &str| file.tensors.get(name).map(|t| t.shape.as_slice());
    let Some(first) = shape("discriminator.conv1.weight") else {
        let mut names: Vec<&String> = file.tensors.keys().collect();
        names.sort();
        names.truncate(4);
        bail!(
            "{} has no `discriminator.conv1.weight`: it is not a model of the paper's public code \
             (its Lightning module's state dict names G's and D's parameters `generator.main.0.weight`, \
             `discriminator.conv1.weight`, ...; this file has {} such tensors{}{})",
            path.display(),
            file.tensors.len(),
            if names.is_empty() { "" } else { ", e.g. " },
            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        );
    };
    // conv1 has no batch norm, each later trunk block has one (bn2...); `conv5` is the validity
    // head at every size, not a trunk block.
    let blocks = 1
        + (2..=8)
            .take_while(|i| shape(&format!("discriminator.bn{i}.weight")).is_some())
            .count();
    let head = |name: &str| -> Result<usize> {
        match shape(name) {
            Some([n, ..]) => Ok(*n),
            _ => bail!("{} lacks `{name}`, one of D's four heads", path.display()),
        }
    };
    let [width, channels, ..] = first else {
        bail!(
            "{}: `discriminator.conv1.weight` has shape {first:?}, not [width, channels, 4, 4]",
            path.display()
        );
    };
    let model = dinfogan::ModelConfig {
        image_size: 4 << blocks,
        channels: *channels,
        width: *width,
        common_dim: head("discriminator.z_conv.weight")?,
        salient_dim: head("discriminator.s_conv.weight")?,
        ..Default::default()
    };
    if !(3..=4).contains(&blocks) {
        bail!(
            "{} has {blocks} convolutions in D's trunk: the paper's Table 4 networks have 4 (64x64) \
             or 3 (32x32)",
            path.display()
        );
    }
    model
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(model)
}

/// Writes the Double InfoGAN model of a file in the paper's PyTorch layout as a model file.
pub fn import(args: ImportArgs) -> Result<()> {
    let path = &args.file;
    let mut file = read_paper_file(path)?;
    let model = infer_model(&file, path)?;
    if model.architecture() != Architecture::Dcgan {
        bail!(
            "{} describes a {0}x{0} model: import reads the paper's Table 4 networks (32x32 or 64x64)",
            model.image_size
        );
    }
    let config = TrainConfig {
        model: model.clone(),
        ..TrainConfig::default()
    };
    let device = crate::backend::select(crate::backend::Backend::Cpu)?.device;
    let blocks = model.blocks();
    let mut state = TrainerState::default();
    let fresh = [
        (
            StatePart::Generator,
            burn::module::Module::into_record(dinfogan::nets::Generator::new(&model, &device))
                .into_bytes(),
        ),
        (
            StatePart::Discriminator,
            burn::module::Module::into_record(dinfogan::nets::Discriminator::new(&model, &device))
                .into_bytes(),
        ),
    ];
    for (part, bytes) in fresh {
        let bytes =
            bytes.map_err(|e| anyhow::anyhow!("could not lay out {}: {e}", part.describe()))?;
        let mut tensors = Vec::new();
        for Record {
            path: record,
            shape,
            ..
        } in record_tensors(bytes, part.describe())?
        {
            let name = paper_name(part, &record, blocks)
                .with_context(|| format!("no name in the paper's layout for `{record}`"))?;
            let Some(found) = file.tensors.remove(&name) else {
                bail!(
                    "{} lacks `{name}` ({} of a {}x{} model with width {}, L = {}, M = {}): the \
                     file is incomplete or of another network",
                    path.display(),
                    part.describe(),
                    model.image_size,
                    model.image_size,
                    model.width,
                    model.common_dim,
                    model.salient_dim
                );
            };
            if found.shape.as_slice() != shape.as_slice() {
                bail!(
                    "{}: `{name}` has shape {:?} ({}), and the paper's network with this file's \
                     width {}, channels {}, L = {} and M = {} needs {:?}",
                    path.display(),
                    found.shape,
                    found.dtype,
                    model.width,
                    model.channels,
                    model.common_dim,
                    model.salient_dim,
                    shape.as_slice()
                );
            }
            let values = (found.read)()?;
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            tensors.push(burn_pack::Tensor::new(
                record,
                burn::tensor::DType::F32,
                shape,
                None,
                Bytes::from_bytes_vec(bytes),
            ));
        }
        let bytes = burn_pack::Writer::new(tensors)
            .into_bytes()
            .map_err(|e| anyhow::anyhow!("could not lay out {}: {e}", part.describe()))?;
        state.insert(part, bytes.to_vec());
    }
    if !file.tensors.is_empty() {
        let mut extra: Vec<String> = file.tensors.into_keys().collect();
        extra.sort();
        bail!(
            "{} holds tensors the paper's {}x{} networks do not have: {} (another architecture?)",
            path.display(),
            model.image_size,
            model.image_size,
            extra
                .iter()
                .take(6)
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let inference = dinfogan::InferenceModel::from_checkpoint(&config, state, &device)
        .with_context(|| format!("could not load the networks of {}", path.display()))?;
    let bytes = inference.to_bytes()?;
    write_atomic(&args.out, &bytes)?;
    eprintln!(
        "read G and D from {} ({}; {}x{}, {} channel{}, width {}, L = {}, M = {}{}); wrote {} ({} KiB)",
        path.display(),
        file.container.describe(),
        model.image_size,
        model.image_size,
        model.channels,
        if model.channels == 1 { "" } else { "s" },
        model.width,
        model.common_dim,
        model.salient_dim,
        if file.ignored > 0 {
            format!("; {} other tensors not imported", file.ignored)
        } else {
            String::new()
        },
        args.out.display(),
        bytes.len() / 1024
    );
    Ok(())
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
