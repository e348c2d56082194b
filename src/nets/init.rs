//! How every network's parameters start: DCGAN's N(0, 0.02), and all of them materialised at
//! once (burn initialises parameters lazily); or zeros, for a network that is only a target to
//! load weights into.

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::nn::Initializer;
use burn::prelude::*;

/// Initialises every (lazy) parameter of a module now. Needed before training with burn 0.22.1:
/// the `require_grad` of a parameter not yet initialised lives in state shared by all its
/// clones, so the `no_grad()` copy a step makes of another network would freeze the original.
pub fn initialized<M: Module>(module: M) -> M {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Touch);
    module
}

/// Every parameter not initialised yet set to zeros, without drawing its initial values: for a
/// module that weights are about to be loaded into. Loading reads each parameter's type (which
/// initialises a lazy parameter) and `valid()` materialises them all; on a page, drawing the
/// DCGAN init of a model's ~800,000 weights only to overwrite them took ~40 ms of the first
/// grid's time.
pub fn zeroed<M: Module>(module: M) -> M {
    struct Zeros;
    impl ModuleMapper for Zeros {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let zeros = Tensor::zeros(param.lazy_shape(), &param.lazy_device());
            let id = param.id;
            param.transform_for_load(zeros, id)
        }
    }
    module.map(&mut Zeros)
}

/// DCGAN initialisation, N(0, 0.02), for every convolution and linear layer (the paper's
/// networks, Table 4 and Table 5).
pub(crate) fn dcgan_init() -> Initializer {
    Initializer::Normal {
        mean: 0.0,
        std: 0.02,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};

    #[test]
    fn zeroed_sets_lazy_parameters_to_zeros_of_their_shapes_and_keeps_their_ids() {
        let device = Device::flex();
        let lazy: Linear = LinearConfig::new(3, 5)
            .with_initializer(dcgan_init())
            .init(&device);
        let id = lazy.weight.id;
        let zeroed = zeroed(lazy);
        assert_eq!(zeroed.weight.id, id);
        let weight = zeroed.weight.val().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(zeroed.weight.val().dims(), [3, 5]);
        assert!(weight.iter().all(|&w| w == 0.0));
        let bias = zeroed.bias.unwrap().val();
        assert_eq!(bias.dims(), [5]);
        assert!(bias
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
            .iter()
            .all(|&b| b == 0.0));
    }
}
