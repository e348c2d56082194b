//! How every network's parameters start: DCGAN's N(0, 0.02), and all of them materialised at
//! once (burn initialises parameters lazily).

use burn::module::{ModuleVisitor, Param};
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

/// DCGAN initialisation, N(0, 0.02), for every convolution and linear layer (the paper's
/// networks, Table 4 and Table 5).
pub(crate) fn dcgan_init() -> Initializer {
    Initializer::Normal {
        mean: 0.0,
        std: 0.02,
    }
}
