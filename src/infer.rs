//! Inference with a trained model: encode real images into (z, s), generate, reconstruct,
//! swap salient factors, remove them (the "healthy counterpart"), and traverse one salient
//! dimension. For Double InfoGAN it holds only G and the encoder path (trunk, Qz, Qs) of the
//! discriminator; for the VAE baselines their encoders (posterior means) and decoder; for
//! cPCA its projections (no generator: drawing answers [`Error::NoGenerator`]). Everything is
//! in evaluation mode (running batch-norm statistics, no noise), and travels as one
//! self-describing file (see [`InferenceModel::to_bytes`]) that needs no file system. Callers
//! never ask which method a model is: only this file does.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{load_module, StatePart, TrainerState};
use crate::config::{Method, ModelConfig, SalientPrior, TrainConfig};
use crate::container::Format;
use crate::error::{Error, Result};
use crate::latent::{sample_common, sample_salient, seeded_normal, seeded_salient};
use crate::methods::cpca::CpcaModel;
use crate::nets::vae::ContrastiveVae;
use crate::nets::{Discriminator, Encoder, Generator};

/// Double InfoGAN's networks in an exported model: G and the encoder.
#[derive(Module, Debug)]
pub struct GanNetworks {
    pub generator: Generator,
    pub encoder: Encoder,
}

/// The networks of a model, by method (boxed: the module structs are large and unequal).
#[derive(Debug, Clone)]
enum Networks {
    DoubleInfogan(Box<GanNetworks>),
    /// MM-cVAE or cVAE: the same networks.
    Vae(Box<ContrastiveVae>),
    Cpca(Box<CpcaModel>),
}

/// How new networks' weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Their methods' initialisation (DCGAN's N(0, 0.02) for the GAN).
    Drawn,
    /// Zeros, for networks that a file's weights are loaded into next (nothing drawn).
    LoadTarget,
}

impl Start {
    fn apply<M: Module>(self, module: M) -> M {
        match self {
            Start::Drawn => module,
            Start::LoadTarget => crate::nets::init::zeroed(module),
        }
    }
}

impl Networks {
    /// New networks of `method` in evaluation mode.
    fn new(method: Method, config: &ModelConfig, device: &Device, start: Start) -> Self {
        match method {
            Method::DoubleInfogan => Networks::DoubleInfogan(Box::new(
                start
                    .apply(GanNetworks {
                        generator: Generator::new(config, device),
                        encoder: Encoder::new(config, device),
                    })
                    .valid(),
            )),
            Method::MmCvae | Method::Cvae => Networks::Vae(Box::new(
                start.apply(ContrastiveVae::new(config, device)).valid(),
            )),
            Method::Cpca => Networks::Cpca(Box::new(CpcaModel::new(config, device))),
        }
    }

    fn record_bytes(&self) -> std::result::Result<Bytes, burn::store::RecordError> {
        match self {
            Networks::DoubleInfogan(n) => n.as_ref().clone().into_record().into_bytes(),
            Networks::Vae(n) => n.as_ref().clone().into_record().into_bytes(),
            Networks::Cpca(n) => n.as_ref().clone().into_record().into_bytes(),
        }
    }

    fn load(self, bytes: Vec<u8>) -> Result<Self> {
        Ok(match self {
            Networks::DoubleInfogan(n) => {
                Networks::DoubleInfogan(Box::new(load_module(*n, bytes, "model")?.valid()))
            }
            Networks::Vae(n) => Networks::Vae(Box::new(load_module(*n, bytes, "model")?.valid())),
            Networks::Cpca(n) => Networks::Cpca(Box::new(load_module(*n, bytes, "model")?)),
        })
    }
}

/// The exported model file: the project's container (see [`crate::container`]) holding a JSON
/// [`Header`] and the networks' weights as a burnpack record. Version 2 added the method
/// (version 1 files are Double InfoGAN models and load unchanged).
pub const FORMAT: Format = Format {
    magic: b"DINFOGAN",
    versions: 1..=2,
    what: "Double InfoGAN model file",
    how_to_make: "export one with `dinfogan export`",
};

/// The JSON header of an exported file: everything needed to rebuild the networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    #[serde(default)]
    method: Method,
    model: ModelConfig,
    salient_prior: SalientPrior,
}

/// A trained model in evaluation mode, on a plain (non-autodiff) device.
#[derive(Debug, Clone)]
pub struct InferenceModel {
    method: Method,
    config: ModelConfig,
    salient_prior: SalientPrior,
    networks: Networks,
    device: Device,
}

impl InferenceModel {
    /// A Double InfoGAN model with freshly initialised networks (DCGAN init): useful for tests
    /// and as a load target.
    pub fn new(config: ModelConfig, salient_prior: SalientPrior, device: &Device) -> Result<Self> {
        Self::initialised(Method::DoubleInfogan, config, salient_prior, device)
    }

    /// A model of `method` with initialised networks.
    pub fn initialised(
        method: Method,
        config: ModelConfig,
        salient_prior: SalientPrior,
        device: &Device,
    ) -> Result<Self> {
        Self::started(method, config, salient_prior, device, Start::Drawn)
    }

    fn started(
        method: Method,
        config: ModelConfig,
        salient_prior: SalientPrior,
        device: &Device,
        start: Start,
    ) -> Result<Self> {
        config.validate().map_err(Error::InvalidConfig)?;
        let device = device.clone().without_autodiff();
        Ok(Self {
            networks: Networks::new(method, &config, &device, start),
            method,
            salient_prior: prior_of(method, salient_prior),
            config,
            device,
        })
    }

    #[cfg_attr(not(feature = "train"), allow(dead_code))]
    pub(crate) fn from_networks(
        config: ModelConfig,
        salient_prior: SalientPrior,
        generator: Generator,
        encoder: Encoder,
        device: Device,
    ) -> Self {
        Self {
            method: Method::DoubleInfogan,
            config,
            salient_prior,
            networks: Networks::DoubleInfogan(Box::new(GanNetworks { generator, encoder })),
            device,
        }
    }

    /// A VAE baseline's networks, already in evaluation mode.
    #[cfg_attr(not(feature = "train"), allow(dead_code))]
    pub(crate) fn from_vae(
        method: Method,
        config: ModelConfig,
        vae: ContrastiveVae,
        device: Device,
    ) -> Self {
        Self {
            method,
            config,
            salient_prior: SalientPrior::Normal,
            networks: Networks::Vae(Box::new(vae)),
            device,
        }
    }

    /// A fitted cPCA model.
    pub fn from_cpca(config: ModelConfig, cpca: CpcaModel, device: Device) -> Self {
        Self {
            method: Method::Cpca,
            config,
            salient_prior: SalientPrior::Normal,
            networks: Networks::Cpca(Box::new(cpca)),
            device: device.without_autodiff(),
        }
    }

    /// The model of a training checkpoint of `config`: the parts
    /// [`StatePart::for_inference`] names (the rest of `state` is not read).
    pub fn from_checkpoint(
        config: &TrainConfig,
        mut state: TrainerState,
        device: &Device,
    ) -> Result<Self> {
        config.model.validate().map_err(Error::InvalidConfig)?;
        let (method, model) = (config.method, &config.model);
        let device = device.clone().without_autodiff();
        let mut take = |part: StatePart| state.take(part);
        // Only the networks the records go into are built (G and the whole discriminator for
        // Double InfoGAN, whose encoder is then kept).
        let networks = match method {
            Method::DoubleInfogan => {
                let generator = load_module(
                    Start::LoadTarget.apply(Generator::new(model, &device)),
                    take(StatePart::Generator)?,
                    StatePart::Generator.describe(),
                )?;
                let discriminator = load_module(
                    Start::LoadTarget.apply(Discriminator::new(model, &device)),
                    take(StatePart::Discriminator)?,
                    StatePart::Discriminator.describe(),
                )?;
                Networks::DoubleInfogan(Box::new(
                    GanNetworks {
                        generator,
                        encoder: discriminator.into_encoder(),
                    }
                    .valid(),
                ))
            }
            Method::MmCvae | Method::Cvae => {
                Networks::new(method, model, &device, Start::LoadTarget)
                    .load(take(StatePart::Vae)?)?
            }
            Method::Cpca => Networks::new(method, model, &device, Start::LoadTarget)
                .load(take(StatePart::Cpca)?)?,
        };
        Ok(Self {
            method,
            config: model.clone(),
            salient_prior: prior_of(method, config.salient_prior),
            networks,
            device,
        })
    }

    /// Which method this model is.
    pub fn method(&self) -> Method {
        self.method
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn salient_prior(&self) -> SalientPrior {
        self.salient_prior
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Checks that `images` is `[batch, channels, side, side]` for this model.
    pub fn check_images(&self, images: &Tensor<4>) -> Result<()> {
        let [batch, c, h, w] = images.dims();
        let (side, channels) = (self.config.image_size, self.config.channels);
        if c != channels || h != side || w != side {
            return Err(Error::Shape(format!(
                "this model works on {channels}x{side}x{side} images (channels x height x \
                 width), not {c}x{h}x{w}"
            )));
        }
        if batch == 0 {
            return Err(Error::Shape("no images were given".into()));
        }
        Ok(())
    }

    /// (ẑ, ŝ): `[batch, L]`, `[batch, M]`. Double InfoGAN: (Qz(images), Qs(images)); the
    /// VAEs: the posterior means (as the paper evaluated its baselines); cPCA: the projections.
    pub fn encode(&self, images: Tensor<4>) -> Result<(Tensor<2>, Tensor<2>)> {
        self.check_images(&images)?;
        Ok(match &self.networks {
            Networks::DoubleInfogan(n) => n.encoder.forward(images),
            Networks::Vae(vae) => vae.encode(images),
            Networks::Cpca(cpca) => cpca.encode(images),
        })
    }

    /// (ẑ, ŝ) with the encoder in *training* mode: Gaussian noise on and batch-norm statistics
    /// of this very batch, as the paper's public evaluation scripts encode (they never switch
    /// the discriminator to evaluation mode). The codes then depend on the noise (seeded with
    /// `seed`) and on which images share the batch. [`InferenceModel::encode`] is the
    /// deterministic default.
    #[cfg(feature = "train")]
    pub fn encode_training_mode(
        &self,
        images: Tensor<4>,
        seed: u64,
    ) -> Result<(Tensor<2>, Tensor<2>)> {
        self.check_images(&images)?;
        let Networks::DoubleInfogan(networks) = &self.networks else {
            return Err(Error::Unsupported(format!(
                "encoding in training mode reproduces the public Double InfoGAN evaluation \
                 scripts; a {} model encodes with its inference-mode encoder only (leave out \
                 --encoder train)",
                self.method.label()
            )));
        };
        let device = self.device.clone().autodiff();
        device.seed(seed);
        // `train` restores the training flags `valid` switched off (noise, batch statistics);
        // they act on an autodiff device only.
        let encoder = networks.encoder.clone().to_device(&device).train();
        let (common, salient) = encoder.forward(images.autodiff());
        Ok((common.inner(), salient.inner()))
    }

    /// Whether this model can draw images ([`InferenceModel::generate`]).
    pub fn generates(&self) -> bool {
        self.method.generates()
    }

    /// G(z, s) (the VAEs: their decoder): `[batch, channels, side, side]` in [-1, 1].
    pub fn generate(&self, common: Tensor<2>, salient: Tensor<2>) -> Result<Tensor<4>> {
        match &self.networks {
            Networks::DoubleInfogan(n) => Ok(n.generator.forward(common, salient)),
            Networks::Vae(vae) => Ok(vae.decoder.forward(common, salient)),
            Networks::Cpca(_) => Err(Error::NoGenerator {
                method: self.method,
            }),
        }
    }

    /// G(z, 0) for background images, G(z, s) for target images, with (z, s) = Q(images).
    pub fn reconstruct(&self, images: Tensor<4>, target: bool) -> Result<Tensor<4>> {
        let (common, salient) = self.encode(images)?;
        let salient = if target {
            salient
        } else {
            salient.zeros_like()
        };
        self.generate(common, salient)
    }

    /// The salient swap of the paper (Fig. 3, 5, 7), pairing background and target images
    /// row by row: returns (G(z_x, s_y), G(z_y, 0)), the background given the target's salient
    /// features and the target with its salient features removed.
    pub fn swap(&self, background: Tensor<4>, target: Tensor<4>) -> Result<(Tensor<4>, Tensor<4>)> {
        let (bg_common, _) = self.encode(background)?;
        let (t_common, t_salient) = self.encode(target)?;
        let gained = self.generate(bg_common, t_salient.clone())?;
        let removed = self.generate(t_common, t_salient.zeros_like())?;
        Ok((gained, removed))
    }

    /// [`InferenceModel::swap`] with both reconstructions, from one encoding and one generator
    /// pass (the browser viewer's swap panel). Returns `[4 * n, ...]`: G(z_x, 0), G(z_y, s_y),
    /// G(z_x, s_y), G(z_y, 0), `n` images each, for `n` background and `n` target images.
    pub fn swap_and_reconstruct(
        &self,
        background: Tensor<4>,
        target: Tensor<4>,
    ) -> Result<Tensor<4>> {
        let n = background.dims()[0];
        if target.dims()[0] != n {
            return Err(Error::Shape(format!(
                "a swap pairs images in order: {n} background and {} target images were given",
                target.dims()[0]
            )));
        }
        let (common, salient) = self.encode(Tensor::cat(vec![background, target], 0))?;
        let z_x = common.clone().narrow(0, 0, n);
        let z_y = common.narrow(0, n, n);
        let s_y = salient.narrow(0, n, n);
        let zero = s_y.zeros_like();
        self.generate(
            Tensor::cat(vec![z_x.clone(), z_y.clone(), z_x, z_y], 0),
            Tensor::cat(vec![zero.clone(), s_y.clone(), s_y, zero], 0),
        )
    }

    /// G(z, s) with salient dimension `dim` set to each of `values` in turn, z and the other
    /// salient values fixed (paper Fig. 9). `common`: `[1, L]`, `salient`: `[1, M]`.
    /// Returns `[values.len(), channels, side, side]`.
    pub fn traverse(
        &self,
        common: Tensor<2>,
        salient: Tensor<2>,
        dim: usize,
        values: &[f32],
    ) -> Result<Tensor<4>> {
        let m = self.config.salient_dim;
        if dim >= m {
            return Err(Error::Shape(format!(
                "salient dimension {dim} does not exist: this model has {m} (0 to {})",
                m - 1
            )));
        }
        let n = values.len();
        let common = common.repeat_dim(0, n);
        let column = Tensor::<1>::from_floats(values, &self.device).reshape([n, 1]);
        let mut salient = salient.repeat_dim(0, n);
        salient = salient.slice_assign([0..n, dim..dim + 1], column);
        self.generate(common, salient)
    }

    /// Random latents from the training priors: z ~ N(0, I), s ~ P_y(s) (`[batch, L]`, `[batch, M]`).
    pub fn sample_latents(&self, batch: usize) -> (Tensor<2>, Tensor<2>) {
        (
            sample_common(batch, self.config.common_dim, &self.device),
            sample_salient(
                batch,
                self.config.salient_dim,
                self.salient_prior,
                &self.device,
            ),
        )
    }

    /// Latents of the paper's Fig. 4/6 grid: `rows` rows sharing one z each; column 0 has
    /// s = 0 (background), the other columns a different s != 0 each (the same s down a
    /// column). Drawn on the host from the seeds (see [`seeded_normal`]), so every backend, the
    /// CLI and the browser show the same grid. Returns (`[rows * cols, L]`, `[rows * cols, M]`),
    /// row-major.
    pub fn grid_latents(
        &self,
        rows: usize,
        cols: usize,
        common_seed: u64,
        salient_seed: u64,
    ) -> (Tensor<2>, Tensor<2>) {
        let (common, salient) = grid_latents(
            &self.config,
            self.salient_prior,
            rows,
            cols,
            common_seed,
            salient_seed,
        );
        let (l, m) = (self.config.common_dim, self.config.salient_dim);
        (self.codes(common, l), self.codes(salient, m))
    }

    /// The images of [`InferenceModel::grid_latents`]: `[rows * cols, channels, side, side]`.
    pub fn sample_grid(
        &self,
        rows: usize,
        cols: usize,
        common_seed: u64,
        salient_seed: u64,
    ) -> Result<Tensor<4>> {
        let (common, salient) = self.grid_latents(rows, cols, common_seed, salient_seed);
        self.generate(common, salient)
    }

    /// G(z, s) from latents given as host numbers (row-major `[n, L]` and `[n, M]`).
    pub fn generate_from(&self, common: &[f32], salient: &[f32]) -> Result<Tensor<4>> {
        let (l, m) = (self.config.common_dim, self.config.salient_dim);
        let n = common.len() / l;
        if n == 0 || common.len() != n * l || salient.len() != n * m {
            return Err(Error::Shape(format!(
                "latents must hold a whole number of codes: {l} common and {m} salient values \
                 each, got {} and {}",
                common.len(),
                salient.len()
            )));
        }
        self.generate(
            self.codes(common.to_vec(), l),
            self.codes(salient.to_vec(), m),
        )
    }

    /// Host numbers, `width` per code, as a `[n, width]` tensor on the model's device.
    fn codes(&self, values: Vec<f32>, width: usize) -> Tensor<2> {
        let n = values.len() / width;
        Tensor::from_data(TensorData::new(values, [n, width]), &self.device)
    }

    /// One self-describing file ([`FORMAT`]): the method and model configuration in the
    /// header, then the burnpack record of the networks.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = serde_json::to_vec(&Header {
            method: self.method,
            model: self.config.clone(),
            salient_prior: self.salient_prior,
        })
        .expect("the header serialises");
        let record = self.networks.record_bytes().map_err(|e| Error::Weights {
            what: "model".into(),
            reason: e.to_string(),
        })?;
        let mut out = FORMAT.frame(&header, record.len());
        out.extend_from_slice(&record);
        Ok(out)
    }

    /// Reads a file written by [`InferenceModel::to_bytes`] onto `device`.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self> {
        let file = FORMAT
            .unframe(bytes)
            .map_err(|e| Error::NotAModelFile(e.to_string()))?;
        let header: Header = serde_json::from_slice(file.header).map_err(|e| {
            Error::NotAModelFile(format!("the model file's header is corrupt ({e})"))
        })?;
        header.model.validate().map_err(Error::InvalidConfig)?;
        if header.method == Method::Cpca {
            // Its projections are sized by the header alone (up to 1.6 GB at the bounds): a
            // file must hold them before anything is allocated for them.
            let m = &header.model;
            let floats =
                m.channels * m.image_size * m.image_size * (m.common_dim + m.salient_dim + 1);
            if file.body.len() < floats * 4 {
                return Err(Error::NotAModelFile(format!(
                    "the model file is truncated or corrupt: its cPCA projections take {} bytes, \
                     it holds {}",
                    floats * 4,
                    file.body.len()
                )));
            }
        }
        let mut model = Self::started(
            header.method,
            header.model,
            header.salient_prior,
            device,
            Start::LoadTarget,
        )?;
        model.networks = model.networks.clone().load(file.body.to_vec())?;
        Ok(model)
    }
}

/// The prior of s a model of `method` samples from: the configured one for Double InfoGAN; the
/// VAEs' is N(0, I) whatever a configuration says (cPCA samples nothing).
fn prior_of(method: Method, configured: SalientPrior) -> SalientPrior {
    if method == Method::DoubleInfogan {
        configured
    } else {
        SalientPrior::Normal
    }
}

/// The host numbers behind [`InferenceModel::grid_latents`]: (`rows * cols * L`,
/// `rows * cols * M`), row-major, row r column c holding (z_r, s_c) with s_0 = 0.
pub fn grid_latents(
    config: &ModelConfig,
    prior: SalientPrior,
    rows: usize,
    cols: usize,
    common_seed: u64,
    salient_seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    let (l, m) = (config.common_dim, config.salient_dim);
    let z = seeded_normal(rows * l, common_seed);
    let s = seeded_salient(cols.saturating_sub(1), m, prior, salient_seed);
    let mut common = Vec::with_capacity(rows * cols * l);
    let mut salient = Vec::with_capacity(rows * cols * m);
    for r in 0..rows {
        for c in 0..cols {
            common.extend_from_slice(&z[r * l..(r + 1) * l]);
            if c == 0 {
                // The background column: s = 0 exactly.
                salient.extend(std::iter::repeat_n(0.0, m));
            } else {
                salient.extend_from_slice(&s[(c - 1) * m..c * m]);
            }
        }
    }
    (common, salient)
}
