//! Where a training step's random numbers come from.
//!
//! Normally from the device's own generator (`Device::seed`): a GPU draws its latents and noise
//! without waiting on the host. But every backend's generator differs, so two devices never
//! see the same step. Inside [`with_host_stream`], every draw of the step (the latents of
//! `latent.rs` and the discriminator's noise) comes instead from one seeded host stream and is
//! uploaded: the same seed then gives the same step on the CPU, a GPU or the browser, which is
//! how `dinfogan bench --check` compares a GPU with the CPU. It costs the uploads, so training
//! does not use it.

use std::cell::RefCell;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

thread_local! {
    static HOST: RefCell<Option<Xoshiro256PlusPlus>> = const { RefCell::new(None) };
}

/// Runs `f` with the step's random numbers drawn from a host stream seeded with `seed`
/// (nested calls start their own stream and restore the outer one).
pub fn with_host_stream<R>(seed: u64, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Xoshiro256PlusPlus>);
    impl Drop for Restore {
        fn drop(&mut self) {
            HOST.with(|host| *host.borrow_mut() = self.0.take());
        }
    }
    let outer = HOST.with(|host| host.replace(Some(Xoshiro256PlusPlus::seed_from_u64(seed))));
    let _restore = Restore(outer);
    f()
}

/// The next seed of the host stream, `None` outside [`with_host_stream`]: a draw then seeds
/// its own host generator with it.
pub(crate) fn next_host_seed() -> Option<u64> {
    HOST.with(|host| host.borrow_mut().as_mut().map(|rng| rng.next_u64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_reproducible_scoped_and_restored() {
        assert_eq!(next_host_seed(), None);
        let a = with_host_stream(9, || (next_host_seed(), next_host_seed()));
        let b = with_host_stream(9, || (next_host_seed(), next_host_seed()));
        assert_eq!(a, b);
        assert_ne!(a.0, a.1);
        let nested = with_host_stream(1, || {
            let first = next_host_seed();
            let inner = with_host_stream(2, next_host_seed);
            (first, inner, next_host_seed())
        });
        let outer_alone = with_host_stream(1, || (next_host_seed(), next_host_seed()));
        assert_eq!(
            (nested.0, nested.2),
            outer_alone,
            "the outer stream resumes"
        );
        assert_eq!(nested.1, with_host_stream(2, next_host_seed));
        assert_eq!(next_host_seed(), None);
    }
}
