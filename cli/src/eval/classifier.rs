//! The classifier of the paper's separation protocol: scikit-learn's `LogisticRegression()`
//! scored by `cross_val_score(cv=5)`, re-implemented so that the numbers match.
//!
//! - Folds: `StratifiedKFold(5)` without shuffling (what `cross_val_score` uses for a classifier)
//!   on the rows in a seeded random order, as the public scripts' shuffled loader hands them over.
//! - Two classes: one weight vector (linfa's `LogisticRegression`), as scikit-learn fits a binary
//!   problem; a two-class softmax with the same penalty would regularise half as much.
//! - More classes: the multinomial (softmax) model, as scikit-learn's default `lbfgs` solver.
//! - L2 penalty with C = 1 (linfa's alpha = 1/C on the weights, the intercept not penalised),
//!   L-BFGS with at most 100 iterations, features not standardised.

use anyhow::{bail, Result};
use linfa::prelude::*;
use linfa_logistic::{LogisticRegression, MultiLogisticRegression};
use ndarray::{Array1, Array2};
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

/// scikit-learn's `LogisticRegression()` default iteration budget.
pub const MAX_ITERATIONS: u64 = 100;

/// The test fold of every sample under scikit-learn's `StratifiedKFold(folds)` without
/// shuffling. Classes are numbered in order of first appearance; the number of test samples of
/// each class in each fold comes from dealing the class-sorted labels round robin over the
/// folds; then each class's members, in their order, fill fold 0 first, then fold 1, and so on
/// (contiguous blocks, not round robin).
pub fn stratified_folds(y: &[usize], folds: usize) -> Vec<usize> {
    // Classes by first appearance.
    let mut order: Vec<usize> = Vec::new();
    let encoded: Vec<usize> = y
        .iter()
        .map(|c| match order.iter().position(|o| o == c) {
            Some(k) => k,
            None => {
                order.push(*c);
                order.len() - 1
            }
        })
        .collect();
    let classes = order.len();
    let mut sorted = encoded.clone();
    sorted.sort_unstable();
    // allocation[f][k]: test samples of class k in fold f.
    let mut allocation = vec![vec![0usize; classes]; folds];
    for (i, &k) in sorted.iter().enumerate() {
        allocation[i % folds][k] += 1;
    }
    let mut next_fold = vec![0usize; classes];
    let mut used = vec![0usize; classes];
    encoded
        .iter()
        .map(|&k| {
            while used[k] == allocation[next_fold[k]][k] {
                next_fold[k] += 1;
                used[k] = 0;
            }
            used[k] += 1;
            next_fold[k]
        })
        .collect()
}

/// Fits with at most `MAX_ITERATIONS` L-BFGS iterations, stopping where scipy's L-BFGS (behind
/// scikit-learn) stops when its line search fails: at the last good iterate. The More-Thuente
/// search fails typically once the fit has converged and rounding makes the next direction
/// fail to descend, as on well-separated classes. argmin 0.11 (linfa-logistic 0.8) stops its
/// L-BFGS there itself; should the fit still end in an argmin error, the largest iteration
/// budget that ends without it gives that iterate (found by bisection: the iterations are
/// deterministic), which is what argmin 0.9 (linfa-logistic 0.7) needed: the two give the same
/// bits on 3,000 random data sets, about 40 of them with such a stop.
fn fit_like_scipy<M>(
    fit: impl Fn(u64) -> std::result::Result<M, linfa_logistic::error::Error>,
) -> Result<M> {
    use linfa_logistic::error::Error;
    let failed = |e: Error| anyhow::anyhow!("the logistic regression failed ({e})");
    match fit(MAX_ITERATIONS) {
        Ok(model) => Ok(model),
        Err(Error::ArgMinError(_)) => {
            // fit(lo) succeeds, fit(hi) fails.
            let (mut lo, mut hi) = (0, MAX_ITERATIONS);
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                match fit(mid) {
                    Ok(_) => lo = mid,
                    Err(Error::ArgMinError(_)) => hi = mid,
                    Err(e) => return Err(failed(e)),
                }
            }
            fit(lo).map_err(failed)
        }
        Err(e) => Err(failed(e)),
    }
}

/// Test accuracy of a classifier fitted on `train` and scored on `test`.
fn fold_accuracy(
    train: (Array2<f64>, Array1<usize>),
    test: (Array2<f64>, Array1<usize>),
    classes: usize,
) -> Result<f64> {
    let data = Dataset::new(train.0, train.1);
    let predicted = if classes == 2 {
        fit_like_scipy(|iterations| {
            LogisticRegression::default()
                .alpha(1.0)
                .max_iterations(iterations)
                .fit(&data)
        })?
        .predict(&test.0)
    } else {
        fit_like_scipy(|iterations| {
            MultiLogisticRegression::default()
                .alpha(1.0)
                .max_iterations(iterations)
                .fit(&data)
        })?
        .predict(&test.0)
    };
    let correct = predicted
        .iter()
        .zip(test.1.iter())
        .filter(|(a, b)| a == b)
        .count();
    Ok(correct as f64 / test.1.len() as f64)
}

/// The test fold of every sample when the rows are first put in a seeded random order and then
/// split by [`stratified_folds`], as the paper's public evaluation does (its codes come from a
/// shuffled `DataLoader`, then `cross_val_score(cv=folds)` splits them in that order). On a
/// file in factor-grid order (dSprites-MNIST), unshuffled folds would test each fold on a block
/// of factor values that the training folds never saw. Also returns the order.
pub fn shuffled_folds(y: &[usize], folds: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let in_order: Vec<usize> = order.iter().map(|&i| y[i]).collect();
    let mut assignment = vec![0; y.len()];
    for (j, fold) in stratified_folds(&in_order, folds).into_iter().enumerate() {
        assignment[order[j]] = fold;
    }
    (assignment, order)
}

/// Mean and standard deviation (numpy's, ddof 0) of the test accuracy over stratified folds of
/// the rows in a random order seeded by `seed` (see [`shuffled_folds`]):
/// `cross_val_score(LogisticRegression(), x[p], y[p], cv=folds)` for a permutation p.
pub fn cross_validate(x: &[Vec<f32>], y: &[usize], folds: usize, seed: u64) -> Result<(f64, f64)> {
    if folds < 2 {
        bail!("cross-validation needs at least 2 folds, not {folds}");
    }
    let classes = y.iter().collect::<std::collections::HashSet<_>>().len();
    if classes < 2 {
        bail!("a label needs at least two classes to be read");
    }
    let (assignment, order) = shuffled_folds(y, folds, seed);
    cross_validate_assigned(x, y, folds, &assignment, &order)
}

/// The cross-validation of [`cross_validate`] with the fold of each row given, each fold's rows
/// taken in `order`.
fn cross_validate_assigned(
    x: &[Vec<f32>],
    y: &[usize],
    folds: usize,
    assignment: &[usize],
    order: &[usize],
) -> Result<(f64, f64)> {
    let dims = x.first().map_or(0, Vec::len);
    let mut scores = Vec::with_capacity(folds);
    for fold in 0..folds {
        let split = |test: bool| {
            let rows: Vec<usize> = order
                .iter()
                .copied()
                .filter(|&i| (assignment[i] == fold) == test)
                .collect();
            let records = Array2::from_shape_fn((rows.len(), dims), |(r, c)| x[rows[r]][c] as f64);
            let targets = Array1::from_iter(rows.iter().map(|&i| y[i]));
            (records, targets)
        };
        let (train, test) = (split(false), split(true));
        if test.1.is_empty() {
            continue;
        }
        let train_classes = train
            .1
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len();
        if train_classes < 2 {
            bail!(
                "too few samples for {folds}-fold cross-validation: a training fold has one class"
            );
        }
        scores.push(fold_accuracy(train, test, train_classes)?);
    }
    if scores.is_empty() {
        bail!("too few samples for {folds}-fold cross-validation");
    }
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / scores.len() as f64;
    Ok((mean, var.sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shuffled folds are scikit-learn's `StratifiedKFold` on the permuted rows, and on data in
    /// blocks (a factor grid) each test fold mixes the blocks, where file order would give each
    /// fold a block of its own.
    #[test]
    fn folds_are_stratified_on_a_seeded_permutation() {
        // 5 blocks of 100 rows, two classes alternating inside each.
        let y: Vec<usize> = (0..500).map(|i| i % 2).collect();
        let (assignment, order) = shuffled_folds(&y, 5, 7);
        let permuted: Vec<usize> = order.iter().map(|&i| y[i]).collect();
        let expected = stratified_folds(&permuted, 5);
        for (j, &i) in order.iter().enumerate() {
            assert_eq!(assignment[i], expected[j]);
        }
        let blocks_in = |fold: usize, a: &[usize]| {
            let mut blocks: Vec<usize> = (0..500)
                .filter(|&i| a[i] == fold)
                .map(|i| i / 100)
                .collect();
            blocks.dedup();
            blocks.sort_unstable();
            blocks.dedup();
            blocks.len()
        };
        assert_eq!(
            blocks_in(0, &stratified_folds(&y, 5)),
            1,
            "file order: one block"
        );
        assert_eq!(blocks_in(0, &assignment), 5, "shuffled: every block");
        assert_eq!(
            shuffled_folds(&y, 5, 7),
            (assignment.clone(), order.clone()),
            "seeded"
        );
        assert_ne!(shuffled_folds(&y, 5, 8).0, assignment);

        // The accuracy is that of the unshuffled protocol on the permuted rows.
        let mut rng = StdRng::seed_from_u64(1);
        let x: Vec<Vec<f32>> = y
            .iter()
            .map(|&c| vec![c as f32 + rng.random::<f32>(), rng.random::<f32>()])
            .collect();
        let px: Vec<Vec<f32>> = order.iter().map(|&i| x[i].clone()).collect();
        let identity: Vec<usize> = (0..500).collect();
        let unshuffled = cross_validate_assigned(
            &px,
            &permuted,
            5,
            &stratified_folds(&permuted, 5),
            &identity,
        )
        .unwrap();
        assert_eq!(cross_validate(&x, &y, 5, 7).unwrap(), unshuffled);
    }
    use rand::{rngs::StdRng, RngExt, SeedableRng};

    #[test]
    fn reads_separable_data_and_not_noise() {
        let mut rng = StdRng::seed_from_u64(5);
        let y: Vec<usize> = (0..300).map(|i| i % 3).collect();
        let separable: Vec<Vec<f32>> = y
            .iter()
            .map(|&c| vec![c as f32 * 3.0 + rng.random::<f32>(), rng.random::<f32>()])
            .collect();
        let (mean, _) = cross_validate(&separable, &y, 5, 0).unwrap();
        assert!(mean > 0.97, "separable data: {mean}");
        let noise: Vec<Vec<f32>> = (0..300).map(|_| vec![rng.random(), rng.random()]).collect();
        let (mean, _) = cross_validate(&noise, &y, 5, 0).unwrap();
        assert!(mean < 0.5, "noise: {mean}");
        assert!(cross_validate(&noise, &y, 1, 0).is_err());
    }

    #[test]
    fn a_line_search_that_stalls_keeps_the_last_good_iterate() {
        // Two classes far apart in 20 dimensions: the fit converges within a few iterations,
        // after which argmin's line search may refuse to continue (a failure that scipy's
        // L-BFGS turns into a stop at the last iterate, as fit_like_scipy does).
        let mut rng = StdRng::seed_from_u64(9);
        let y: Vec<usize> = (0..400).map(|i| i % 2).collect();
        let x: Vec<Vec<f32>> = y
            .iter()
            .map(|&c| {
                (0..20)
                    .map(|d| {
                        rng.random::<f32>() * 0.01 + if d == 0 { 40.0 * c as f32 } else { 0.0 }
                    })
                    .collect()
            })
            .collect();
        let (mean, _) = cross_validate(&x, &y, 5, 0).unwrap();
        assert_eq!(mean, 1.0);
    }

    #[test]
    fn multinomial_agrees_with_scikit_learn() {
        // scikit-learn 1.9.1: LogisticRegression(C=1.0, max_iter=10000, tol=1e-12) on
        // x_i = (sin i, cos 1.7 i), y_i = i mod 3, i < 30; predict_proba of the first 4 rows.
        let expected = [
            [0.30594, 0.35662, 0.33744],
            [0.340822, 0.339059, 0.320119],
            [0.365301, 0.319314, 0.315385],
            [0.323505, 0.343223, 0.333272],
        ];
        let x = Array2::from_shape_fn((30, 2), |(i, j)| {
            let i = i as f64;
            if j == 0 {
                i.sin()
            } else {
                (1.7 * i).cos()
            }
        });
        let y = Array1::from_iter((0..30).map(|i| i % 3));
        let model = MultiLogisticRegression::default()
            .alpha(1.0)
            .max_iterations(1000)
            .fit(&Dataset::new(x.clone(), y))
            .unwrap();
        let p = model.predict_probabilities(&x);
        for (r, row) in expected.iter().enumerate() {
            for (c, &e) in row.iter().enumerate() {
                assert!(
                    (p[[r, c]] - e).abs() < 1e-3,
                    "row {r} class {c}: {} vs {e}",
                    p[[r, c]]
                );
            }
        }
    }

    #[test]
    fn two_classes_fit_one_weight_vector_as_scikit_learn() {
        // scikit-learn 1.9.1:
        //   i = np.arange(30.0); y = (i % 2).astype(int)
        //   X = np.stack([np.sin(i) + 1.5 * y, np.cos(1.7 * i)], 1)
        //   LogisticRegression(C=1.0, max_iter=10000, tol=1e-12).fit(X, y).predict_proba(X[:4])[:, 1]
        // (a two-class softmax with the same penalty gives 0.184939, 0.958295, 0.536409,
        // 0.854644: what scikit-learn gives with C = 2).
        let expected = [0.219245, 0.93434, 0.532367, 0.816832];
        let x = Array2::from_shape_fn((30, 2), |(i, j)| {
            let label = (i % 2) as f64;
            let i = i as f64;
            if j == 0 {
                i.sin() + 1.5 * label
            } else {
                (1.7 * i).cos()
            }
        });
        let y = Array1::from_iter((0..30).map(|i| i % 2));
        let model = LogisticRegression::default()
            .alpha(1.0)
            .max_iterations(1000)
            .fit(&Dataset::new(x.clone(), y))
            .unwrap();
        // linfa's probability is that of its "positive" class.
        let positive_is_one = model.labels().pos.class == 1;
        let p = model.predict_probabilities(&x);
        for (r, &e) in expected.iter().enumerate() {
            let p1 = if positive_is_one { p[r] } else { 1.0 - p[r] };
            assert!((p1 - e).abs() < 1e-3, "row {r}: {p1} vs {e}");
        }
    }

    #[test]
    fn folds_match_scikit_learn_stratified_k_fold() {
        // scikit-learn 1.9.1:
        //   f = np.empty(len(y), int)
        //   for k, (_, te) in enumerate(StratifiedKFold(5).split(np.zeros(len(y)), y)): f[te] = k
        let y = [
            2, 0, 1, 1, 0, 2, 2, 1, 0, 0, 1, 2, 1, 1, 0, 2, 1, 0, 0, 1, 2, 2, 2,
        ];
        let expected = [
            0, 0, 0, 0, 1, 0, 1, 1, 2, 3, 1, 1, 2, 2, 3, 2, 3, 4, 4, 4, 2, 3, 4,
        ];
        assert_eq!(stratified_folds(&y, 5), expected);
        // y = [i % 3 for i in range(17)]: blocks per class, not round robin.
        let y: Vec<usize> = (0..17).map(|i| i % 3).collect();
        assert_eq!(
            stratified_folds(&y, 5),
            [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
        );
    }
}
