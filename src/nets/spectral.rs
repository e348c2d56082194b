//! Spectral normalisation (Miyato et al., ICLR 2018), as the paper's 128x128 brain MRI network
//! (Supplementary Table 5) uses it on every convolution and linear layer of its discriminator:
//! a weight W is divided by an estimate of its largest singular value sigma(W), so that the
//! layer is about 1-Lipschitz.
//!
//! The estimate is PyTorch's `spectral_norm`: W seen as a `[rows, rest]` matrix (rows = output
//! channels), a left singular vector estimate u kept between steps, and one power iteration per
//! training forward pass, outside the gradient:
//!
//! ```text
//! v = normalise(Wᵀ u),  u = normalise(W v),  sigma = uᵀ W v   (gradient through W only)
//! ```
//!
//! u and the last sigma are running state (like batch norm's statistics): saved in the record,
//! so that a resumed run and an exported model go on exactly where training stopped, and
//! inference divides by the stored sigma without iterating.

use burn::module::{Param, RunningState};
use burn::nn::Initializer;
use burn::prelude::*;
use burn::tensor::Distribution;

use super::init::dcgan_init;

/// Guards the normalisations against a zero vector (as PyTorch's `eps`).
const EPS: f32 = 1e-12;

/// The running state of one spectrally normalised weight.
#[derive(Module, Debug)]
pub struct SpectralNorm {
    /// The left singular vector estimate, one value per row of W.
    pub u: RunningState<Tensor<1>>,
    /// sigma(W) from the last training forward pass (1 before any).
    pub sigma: RunningState<Tensor<1>>,
}

fn normalised<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let norm = x.clone().powi_scalar(2).sum().sqrt().add_scalar(EPS);
    x.div(norm.unsqueeze())
}

impl SpectralNorm {
    /// State for a weight with `rows` rows (output channels / features); u starts at a random
    /// unit vector, as in PyTorch.
    pub fn new(rows: usize, device: &Device) -> Self {
        let u = Tensor::<1>::random([rows], Distribution::Normal(0.0, 1.0), device);
        Self {
            u: RunningState::new(normalised(u)),
            sigma: RunningState::new(Tensor::ones([1], device)),
        }
    }

    /// `weight / sigma(weight)`. On an autodiff device (training) this runs one power
    /// iteration and stores the new u and sigma; elsewhere (inference) it divides by the stored
    /// sigma and changes nothing.
    pub fn normalise<const D: usize>(&self, weight: Tensor<D>) -> Tensor<D> {
        let device = weight.device();
        if !device.is_autodiff() {
            let sigma = self.sigma.value().to_device(&device);
            return weight.div(sigma.reshape([1; D]));
        }
        let dims = weight.dims();
        let w = weight.clone().reshape([dims[0] as i32, -1]);
        let fixed = w.clone().detach();
        let u = self.u.value_sync().to_device(&device).unsqueeze_dim::<2>(1);
        let v = normalised(fixed.clone().transpose().matmul(u));
        let u = normalised(fixed.matmul(v.clone()));
        // sigma = uᵀ W v with u and v constants: the gradient reaches W through sigma too.
        let sigma = u.clone().transpose().matmul(w.matmul(v)).reshape([1]);
        self.u.update(u.reshape([dims[0]]).detach());
        self.sigma.update(sigma.clone().detach());
        weight.div(sigma.reshape([1; D]))
    }

    /// Folds the last training update into the stored values (burn applies running-state
    /// updates lazily): call before taking a record.
    pub fn sync(&self) {
        let _ = self.u.value_sync();
        let _ = self.sigma.value_sync();
    }
}

/// A 2-D convolution whose weight is spectrally normalised (`nn.utils.spectral_norm(Conv2d)`).
#[derive(Module, Debug)]
pub struct SnConv2d {
    /// `[out, in, k, k]`, before normalisation.
    pub weight: Param<Tensor<4>>,
    pub bias: Option<Param<Tensor<1>>>,
    pub norm: SpectralNorm,
    pub stride: usize,
    pub padding: usize,
}

impl SnConv2d {
    /// `channels_in -> channels_out`, a `kernel x kernel` window; weights N(0, 0.02) (the
    /// paper's initialisation), bias 0.
    pub fn new(
        channels_in: usize,
        channels_out: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        bias: bool,
        device: &Device,
    ) -> Self {
        let init = dcgan_init();
        Self {
            weight: init.init([channels_out, channels_in, kernel, kernel], device),
            bias: bias.then(|| Initializer::Zeros.init([channels_out], device)),
            norm: SpectralNorm::new(channels_out, device),
            stride,
            padding,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let weight = self.norm.normalise(self.weight.val());
        let bias = self.bias.as_ref().map(Param::val);
        #[cfg(not(target_arch = "wasm32"))]
        return crate::cpu::conv::conv2d_weight(x, weight, bias, self.stride, self.padding);
        #[cfg(target_arch = "wasm32")]
        burn::tensor::module::conv2d(
            x,
            weight,
            bias,
            burn::tensor::ops::ConvOptions::new([self.stride; 2], [self.padding; 2], [1, 1], 1),
        )
    }
}

/// A linear layer whose weight is spectrally normalised (`nn.utils.spectral_norm(Linear)`).
#[derive(Module, Debug)]
pub struct SnLinear {
    /// `[out, in]` (PyTorch's layout, so that u has one value per output, as there).
    pub weight: Param<Tensor<2>>,
    pub bias: Option<Param<Tensor<1>>>,
    pub norm: SpectralNorm,
}

impl SnLinear {
    pub fn new(inputs: usize, outputs: usize, bias: bool, device: &Device) -> Self {
        let init = dcgan_init();
        Self {
            weight: init.init([outputs, inputs], device),
            bias: bias.then(|| Initializer::Zeros.init([outputs], device)),
            norm: SpectralNorm::new(outputs, device),
        }
    }

    /// `[batch, inputs] -> [batch, outputs]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let y = x.matmul(self.norm.normalise(self.weight.val()).transpose());
        match &self.bias {
            Some(b) => y.add(b.val().unsqueeze()),
            None => y,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn autodiff() -> Device {
        Device::flex().autodiff()
    }

    /// The largest singular value of a row-major `rows x cols` matrix, by many power
    /// iterations on WᵀW in f64 on the host: a computation independent of the module's.
    fn top_singular_value(w: &[f32], rows: usize, cols: usize) -> f64 {
        let mut v = vec![1.0f64; cols];
        let mut sigma = 0.0;
        for _ in 0..2000 {
            let wv: Vec<f64> = (0..rows)
                .map(|r| (0..cols).map(|c| w[r * cols + c] as f64 * v[c]).sum())
                .collect();
            let wtwv: Vec<f64> = (0..cols)
                .map(|c| (0..rows).map(|r| w[r * cols + c] as f64 * wv[r]).sum())
                .collect();
            let norm = wtwv.iter().map(|x| x * x).sum::<f64>().sqrt();
            sigma = norm.sqrt();
            v = wtwv.iter().map(|x| x / norm).collect();
        }
        sigma
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn sigma_converges_to_the_largest_singular_value() {
        let device = autodiff();
        // A conv weight [out 6, in 3, 2, 2] seen as a 6 x 12 matrix.
        let weight = Tensor::<4>::random([6, 3, 2, 2], Distribution::Normal(0.0, 1.0), &device);
        let expected = top_singular_value(&values(weight.clone()), 6, 12);
        let norm = SpectralNorm::new(6, &device);
        let mut normalised_weight = weight.clone();
        for _ in 0..60 {
            normalised_weight = norm.normalise(weight.clone());
        }
        let sigma = values(norm.sigma.value_sync())[0] as f64;
        assert!(
            (sigma - expected).abs() < 1e-3 * expected,
            "sigma {sigma} vs {expected}"
        );
        // The normalised weight's largest singular value is 1.
        let top = top_singular_value(&values(normalised_weight), 6, 12);
        assert!((top - 1.0).abs() < 1e-3, "top singular value {top}");
    }

    #[test]
    fn a_known_spectrum() {
        // diag(3, 2, 1) in a 3 x 4 matrix: sigma = 3 whatever u starts at.
        let device = autodiff();
        let mut w = vec![0.0f32; 12];
        w[0] = 3.0;
        w[5] = -2.0;
        w[10] = 1.0;
        let weight = Tensor::<2>::from_data(TensorData::new(w, [3, 4]), &device);
        let norm = SpectralNorm::new(3, &device);
        for _ in 0..40 {
            let _ = norm.normalise(weight.clone());
        }
        let sigma = values(norm.sigma.value_sync())[0];
        assert!((sigma - 3.0).abs() < 1e-4, "sigma {sigma}");
        // u is the first axis (up to sign).
        let u = values(norm.u.value_sync());
        assert!(
            (u[0].abs() - 1.0).abs() < 1e-4 && u[1].abs() < 1e-3,
            "{u:?}"
        );
    }

    #[test]
    fn inference_divides_by_the_stored_sigma_and_changes_nothing() {
        let device = autodiff();
        let weight = Tensor::<2>::random([4, 5], Distribution::Normal(0.0, 1.0), &device);
        let norm = SpectralNorm::new(4, &device);
        for _ in 0..5 {
            let _ = norm.normalise(weight.clone());
        }
        norm.sync();
        let sigma = values(norm.sigma.value())[0];
        let u = values(norm.u.value());
        let plain = Device::flex();
        let valid = norm.valid();
        let out = values(valid.normalise(weight.clone().inner().to_device(&plain)));
        let expected: Vec<f32> = values(weight.inner()).iter().map(|w| w / sigma).collect();
        assert_eq!(out, expected);
        assert_eq!(values(valid.u.value()), u);
        assert_eq!(values(valid.sigma.value())[0], sigma);
    }

    #[test]
    fn the_gradient_reaches_the_weight_through_sigma() {
        // d/dW sum(W / sigma(W)) differs from 1 / sigma: sigma depends on W.
        let device = autodiff();
        let weight =
            Tensor::<2>::random([3, 3], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let norm = SpectralNorm::new(3, &device);
        for _ in 0..30 {
            let _ = norm.normalise(weight.clone().detach());
        }
        let out = norm.normalise(weight.clone()).sum();
        let grads = out.backward();
        let grad = values(weight.grad(&grads).unwrap());
        let sigma = values(norm.sigma.value_sync())[0];
        let plain = 1.0 / sigma;
        assert!(
            grad.iter().any(|g| (g - plain).abs() > 1e-3),
            "the gradient ignores sigma: {grad:?}"
        );
    }

    #[test]
    fn state_round_trips_through_a_record() {
        let device = autodiff();
        let weight = Tensor::<2>::random([4, 6], Distribution::Normal(0.0, 1.0), &device);
        let norm = SpectralNorm::new(4, &device);
        for _ in 0..3 {
            let _ = norm.normalise(weight.clone());
        }
        norm.sync();
        let restored = SpectralNorm::new(4, &device).load_record(norm.clone().into_record());
        assert_eq!(values(restored.u.value()), values(norm.u.value()));
        assert_eq!(values(restored.sigma.value()), values(norm.sigma.value()));
        // The next training step continues identically.
        let a = values(norm.normalise(weight.clone()));
        let b = values(restored.normalise(weight));
        assert_eq!(a, b);
    }

    #[test]
    fn layers_apply_the_normalised_weight() {
        // Inference with fresh state (sigma 1): the plain layer; after training forwards, the
        // weight divided by the stored sigma.
        let device = autodiff();
        let conv = SnConv2d::new(2, 3, 3, 1, 1, true, &device);
        let x = Tensor::<4>::random([2, 2, 5, 5], Distribution::Normal(0.0, 1.0), &device);
        for _ in 0..3 {
            let _ = conv.forward(x.clone());
        }
        conv.norm.sync();
        let sigma = values(conv.norm.sigma.value())[0];
        let plain = burn::tensor::module::conv2d(
            x.clone().inner(),
            conv.weight.val().inner().div_scalar(sigma),
            conv.bias.as_ref().map(|b| b.val().inner()),
            burn::tensor::ops::ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        );
        let valid = conv.valid();
        let out = valid.forward(x.inner());
        let diff = values(out.sub(plain).abs().max());
        assert!(diff[0] < 1e-6, "{diff:?}");

        let linear = SnLinear::new(4, 2, false, &device);
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 0.0, 0.0], [1, 4]),
            &device,
        );
        let y = values(linear.valid().forward(x.inner()));
        // With sigma 1 and x = e_0: column 0 of W.
        let w = values(linear.weight.val());
        assert_eq!(y, vec![w[0], w[4]]);
    }
}
