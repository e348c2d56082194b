//! Fuzzing the exported model file, which the web page loads from any URL or dropped file:
//! random bytes, and a valid file with bytes overwritten, inserted or cut off. Loading must end
//! in a model or an error, never a panic or an allocation the file merely claims.
//! `PROPTEST_CASES=20000 cargo test --release --workspace --test fuzz` hunts longer.

mod common;

use common::*;
use dinfogan::{InferenceModel, Method, TrainConfig, Trainer};
use proptest::prelude::*;

fn model_file() -> Vec<u8> {
    let config = tiny_config();
    let trainer = Trainer::new(config, &cpu(), 3).unwrap();
    trainer.inference_model().to_bytes().unwrap()
}

/// A baseline's file: a VAE's (MM-cVAE) or cPCA's (fitted on a few built-in images).
fn baseline_file(method: Method) -> Vec<u8> {
    let config = TrainConfig {
        method,
        ..tiny_config()
    };
    if method != Method::Cpca {
        let trainer = dinfogan::trainer(config, &cpu(), 3).unwrap();
        return trainer.inference_model().to_bytes().unwrap();
    }
    let m = &config.model;
    let d = m.channels * m.image_size * m.image_size;
    let host = |domain| values(builtin_batch(&config, domain, 0, 12, &cpu()));
    let fit = dinfogan::methods::cpca::fit(
        &host(dinfogan::builtin::Domain::Background),
        &host(dinfogan::builtin::Domain::Target),
        d,
        m.common_dim,
        m.salient_dim,
        &Default::default(),
    )
    .unwrap();
    let cpca =
        dinfogan::methods::cpca::CpcaModel::from_host(m, fit.mean, fit.common, fit.salient, &cpu());
    InferenceModel::from_cpca(m.clone(), cpca, cpu())
        .to_bytes()
        .unwrap()
}

fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = seed.len();
    // Most mutations land in the first bytes: the magic, the version, the header length and
    // the JSON header, where the sizes are declared.
    let position = prop_oneof![3 => 0..len.min(512), 1 => 0..len];
    (
        proptest::collection::vec((position.clone(), any::<u8>()), 0..6),
        proptest::collection::vec((position, any::<u8>()), 0..3),
        proptest::option::of(0..len),
    )
        .prop_map(move |(overwrite, insert, cut)| {
            let mut bytes = seed.clone();
            for (at, value) in overwrite {
                bytes[at] = value;
            }
            for (at, value) in insert {
                bytes.insert(at, value);
            }
            if let Some(cut) = cut {
                bytes.truncate(cut);
            }
            bytes
        })
}

/// `default` cases per parser, or `PROPTEST_CASES` for a longer hunt: a config that names its
/// cases ignores the variable, so it is read here.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(128))]

    #[test]
    fn fuzz_model_file(bytes in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        mutated(model_file()),
        mutated(baseline_file(Method::MmCvae)),
        mutated(baseline_file(Method::Cpca)),
    ]) {
        if let Ok(model) = InferenceModel::from_bytes(&bytes, &cpu()) {
            // What loaded works: it encodes, and generates at its declared size if it can.
            let c = model.config().clone();
            let images = burn::prelude::Tensor::<4>::zeros(
                [1, c.channels, c.image_size, c.image_size],
                &cpu(),
            );
            let (z, s) = model.encode(images).unwrap();
            prop_assert_eq!(z.dims(), [1, c.common_dim]);
            if model.generates() {
                prop_assert_eq!(model.generate(z, s).unwrap().dims(), [1, c.channels, c.image_size, c.image_size]);
            }
        }
    }
}

/// The mutations are worth their name: a fair share of them still loads (they reach the
/// weights and the checks behind the header) and a fair share is refused.
#[test]
fn mutations_reach_both_outcomes() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = mutated(model_file());
    let (mut loaded, mut refused) = (0, 0);
    for _ in 0..400 {
        let bytes = strategy.new_tree(&mut runner).unwrap().current();
        match InferenceModel::from_bytes(&bytes, &cpu()) {
            Ok(_) => loaded += 1,
            Err(_) => refused += 1,
        }
    }
    assert!(
        loaded >= 20 && refused >= 20,
        "{loaded} loaded, {refused} refused"
    );
}

/// Found by `PROPTEST_CASES=20000`: a record whose tensor claims another type than f32 (here
/// the first `F32` in the burnpack metadata rewritten to `I32`) made burn panic ("Expected float
/// dtype"). It now loads, the values converted, or is refused: never a panic.
#[test]
fn a_record_claiming_an_integer_tensor_does_not_panic() {
    let mut bytes = model_file();
    let at = bytes
        .windows(9)
        .position(|w| w == b"dtypecF32")
        .expect("the record names its tensors' types");
    bytes[at + 6] = b'I';
    let outcome = std::panic::catch_unwind(|| InferenceModel::from_bytes(&bytes, &cpu()).is_ok());
    assert!(outcome.is_ok(), "loading panicked");
}
