//! A step updates only the network it is meant to, and every loss term behaves.

mod common;

use common::*;
use dinfogan::builtin::Domain;
use dinfogan::LossTerm;
use dinfogan::Trainer;

fn trainer() -> (Trainer, burn::prelude::Tensor<4>, burn::prelude::Tensor<4>) {
    trainer_of(tiny_config())
}

fn trainer_of(
    config: dinfogan::TrainConfig,
) -> (Trainer, burn::prelude::Tensor<4>, burn::prelude::Tensor<4>) {
    let trainer = Trainer::new(config.clone(), &cpu(), 1).unwrap();
    let bg = builtin_batch(&config, Domain::Background, 0, 4, trainer.device());
    let t = builtin_batch(&config, Domain::Target, 0, 4, trainer.device());
    (trainer, bg, t)
}

fn snapshot(t: &Trainer) -> [Vec<Vec<f32>>; 3] {
    [
        trainable_parameters(&t.generator),
        trainable_parameters(&t.discriminator),
        trainable_parameters(t.regulariser.as_ref().unwrap()),
    ]
}

fn changed(before: &[Vec<f32>], after: &[Vec<f32>]) -> usize {
    before.iter().zip(after).filter(|(a, b)| a != b).count()
}

#[test]
fn generator_step_changes_only_the_generator() {
    let (mut trainer, bg, t) = trainer();
    let before = snapshot(&trainer);
    // G: 4 ConvT weights + gamma and beta of 3 batch norms; D: trunk (3 convs, 2 norms) + 4 heads.
    assert_eq!((before[0].len(), before[1].len()), (4 + 6, 3 + 4 + 4));
    let mut losses = trainer.iteration_losses();
    trainer.generator_step(bg, t, &mut losses);
    let after = snapshot(&trainer);
    assert_eq!(
        changed(&before[0], &after[0]),
        before[0].len(),
        "every G parameter moves"
    );
    assert_eq!(
        changed(&before[1], &after[1]),
        0,
        "no discriminator parameter moves"
    );
    assert_eq!(changed(&before[2], &after[2]), 0, "no H parameter moves");
}

/// The same isolation on the Table 5 network. One exception, by design: the attention
/// block's output is x + gamma * o(...) with gamma = 0 at initialisation, so its four
/// convolutions get a zero gradient (and Adam no update) until gamma has moved.
#[test]
fn table_5_steps_change_only_their_network() {
    let (mut trainer, bg, t) = trainer_of(tiny_mri_config());
    let before = snapshot(&trainer);
    // G: FC, 6 conv blocks (weight, gamma, beta), attention (4 convs + gamma), output conv
    // (weight, bias); D: 5 SN convs (weight, bias), Qz and Qs (2 SN-FC each, the second with
    // bias), D and C (FC weight and bias).
    assert_eq!(
        (before[0].len(), before[1].len()),
        (1 + 18 + 5 + 2, 10 + 6 + 4)
    );
    let mut losses = trainer.iteration_losses();
    trainer.generator_step(bg.clone(), t.clone(), &mut losses);
    let after_g = snapshot(&trainer);
    assert_eq!(
        changed(&before[0], &after_g[0]),
        before[0].len() - 4,
        "every G parameter but the attention's convolutions moves"
    );
    assert_eq!(changed(&before[1], &after_g[1]), 0);
    assert_eq!(changed(&before[2], &after_g[2]), 0);
    trainer.discriminator_step(bg, t, &mut losses);
    let after_d = snapshot(&trainer);
    assert_eq!(changed(&after_g[0], &after_d[0]), 0);
    assert_eq!(changed(&after_g[1], &after_d[1]), before[1].len());
    assert_eq!(changed(&after_g[2], &after_d[2]), 0);
    trainer.regulariser_step(&mut losses);
    let after_h = snapshot(&trainer);
    assert_eq!(changed(&after_d[0], &after_h[0]), 0);
    assert_eq!(changed(&after_d[1], &after_h[1]), 0);
    assert_eq!(changed(&after_d[2], &after_h[2]), before[2].len());
    for (name, v) in losses.values().iter() {
        assert!(v.is_finite(), "{name} = {v}");
    }
}

#[test]
fn discriminator_step_changes_only_the_discriminator() {
    let (mut trainer, bg, t) = trainer();
    let before = snapshot(&trainer);
    let mut losses = trainer.iteration_losses();
    trainer.discriminator_step(bg, t, &mut losses);
    let after = snapshot(&trainer);
    assert_eq!(changed(&before[0], &after[0]), 0, "no G parameter moves");
    assert_eq!(
        changed(&before[1], &after[1]),
        before[1].len(),
        "the trunk and all four heads move"
    );
    assert_eq!(changed(&before[2], &after[2]), 0, "no H parameter moves");
}

#[test]
fn regulariser_step_changes_only_h() {
    let (mut trainer, _, _) = trainer();
    let before = snapshot(&trainer);
    let mut losses = trainer.iteration_losses();
    trainer.regulariser_step(&mut losses);
    let after = snapshot(&trainer);
    assert_eq!(changed(&before[0], &after[0]), 0);
    assert_eq!(changed(&before[1], &after[1]), 0);
    assert_eq!(changed(&before[2], &after[2]), before[2].len());
    let cr = losses.values()[LossTerm::RegulariserContrastive];
    // Cross-entropy over M = 3 classes starts near ln 3.
    assert!((cr - 3f32.ln()).abs() < 0.5, "h_contrastive {cr}");
}

#[test]
fn an_iteration_reports_every_enabled_term() {
    let (mut trainer, bg, t) = trainer();
    let values = trainer.iteration(bg, t).values();
    for (name, v) in values.iter() {
        assert!(v.is_finite() && v > 0.0, "{name} = {v}");
    }
    // At DCGAN init D outputs about 1/2: the D adversarial loss is near
    // w_bg·2 ln 2 + w_t·2 ln 2 = 1.5 · 1.386.
    let d_adv = values[LossTerm::DiscriminatorAdversarial];
    assert!(
        (d_adv - 1.5 * 2.0 * 2f32.ln()).abs() < 0.5,
        "d_adversarial {d_adv}"
    );
}

#[test]
fn a_zero_weight_switches_its_term_off() {
    let mut config = tiny_config();
    config.loss.class = 0.0;
    config.loss.image = 0.0;
    config.loss.contrastive = 0.0;
    let mut trainer = Trainer::new(config.clone(), &cpu(), 2).unwrap();
    assert!(trainer.regulariser.is_none(), "no H without CR");
    let bg = builtin_batch(&config, Domain::Background, 0, 4, trainer.device());
    let t = builtin_batch(&config, Domain::Target, 0, 4, trainer.device());
    let values = trainer.iteration(bg, t).values();
    for term in [
        LossTerm::GeneratorClass,
        LossTerm::DiscriminatorClass,
        LossTerm::GeneratorImage,
        LossTerm::DiscriminatorImage,
        LossTerm::GeneratorContrastive,
        LossTerm::RegulariserContrastive,
    ] {
        assert_eq!(values[term], 0.0, "{term} is off");
    }
    for term in [
        LossTerm::GeneratorAdversarial,
        LossTerm::DiscriminatorAdversarial,
        LossTerm::GeneratorInfo,
        LossTerm::DiscriminatorInfo,
        LossTerm::DiscriminatorInfoReal,
    ] {
        assert!(values[term] > 0.0, "{term} is on");
    }
}

#[test]
fn invalid_configurations_are_refused_with_a_sentence() {
    let mut config = tiny_config();
    config.model.image_size = 48;
    let error = Trainer::new(config, &cpu(), 0).err().unwrap().to_string();
    assert!(error.contains("32 or 64"), "{error}");
}

/// Inside `random::with_host_stream` every draw of an iteration (latents, contrastive pairs,
/// the discriminator's noise) comes from the host stream: two trainers with the same weights
/// but differently seeded devices compute the same losses.
#[test]
fn a_host_stream_decides_every_random_number_of_an_iteration() {
    let (mut first, bg, t) = trainer();
    let (mut second, _, _) = trainer();
    second.load_state(first.state().unwrap()).unwrap();
    first.device().seed(10);
    second.device().seed(20);
    let run = |trainer: &mut Trainer| {
        dinfogan::random::with_host_stream(5, || trainer.iteration(bg.clone(), t.clone())).values()
    };
    let (a, b) = (run(&mut first), run(&mut second));
    assert_eq!(a, b);
    // Outside the stream the devices' own generators decide again, and they differ.
    let (c, d) = (
        first.iteration(bg.clone(), t.clone()).values(),
        second.iteration(bg.clone(), t.clone()).values(),
    );
    assert_ne!(c, d);
}

/// The two additions beyond the paper act where they say: under one host stream and from the
/// same weights, `info_common_encoder` changes only the D step's info term (the G step's stays
/// the paper's), and `common_mmd` adds a positive term to the D total and to nothing else.
#[test]
fn the_encoder_options_change_only_the_d_step() {
    // One set of weights for every run (initialisation draws from the device's generator,
    // which parallel tests share); every draw of the iteration comes from the host stream.
    let (reference, _, _) = trainer();
    let weights = reference.state().unwrap();
    let run = |edit: &dyn Fn(&mut dinfogan::TrainConfig)| {
        let mut config = tiny_config();
        edit(&mut config);
        let (mut edited, bg, t) = trainer_of(config);
        edited.load_state(weights.clone()).unwrap();
        dinfogan::random::with_host_stream(3, || edited.iteration(bg, t)).values()
    };
    let paper = run(&|_| {});
    let encoder = run(&|c| c.loss.info_common_encoder = Some(c.loss.info_common * 4.0));
    let mmd = run(&|c| c.loss.common_mmd = 10.0);
    for term in LossTerm::of(dinfogan::Method::DoubleInfogan) {
        let generator_side = !matches!(
            term,
            LossTerm::DiscriminatorInfo | LossTerm::DiscriminatorTotal
        );
        if generator_side {
            assert_eq!(encoder[*term], paper[*term], "{term} is the paper's");
        }
        if *term != LossTerm::DiscriminatorTotal {
            assert_eq!(mmd[*term], paper[*term], "{term} is the paper's");
        }
    }
    assert!(
        encoder[LossTerm::DiscriminatorInfo] > paper[LossTerm::DiscriminatorInfo],
        "a stronger w_Info^z in the D step: {} vs {}",
        encoder[LossTerm::DiscriminatorInfo],
        paper[LossTerm::DiscriminatorInfo]
    );
    let added = mmd[LossTerm::DiscriminatorTotal] - paper[LossTerm::DiscriminatorTotal];
    assert!(added > 0.0, "the MMD adds to the D total: {added}");
}
