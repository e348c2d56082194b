//! The FactorVAE disentanglement score of the salient space (Kim and Mnih 2018; the paper's
//! Table 9), on groups of target images that share one fixed factor.

use serde::Serialize;

/// The result of [`factorvae`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FactorVaeScore {
    /// Majority-vote accuracy on the groups the vote table was not built from.
    #[serde(rename = "held_out_score")]
    pub held_out: f64,
    /// Majority-vote accuracy with the table built from every group (the public code's score).
    #[serde(rename = "all_groups_score")]
    pub all: f64,
    /// votes[d][k]: groups whose fixed factor k gave salient dimension d the least variance.
    pub votes: Vec<Vec<usize>>,
    /// Salient dimensions left out because they do not vary on the reference set.
    #[serde(rename = "collapsed_dimensions")]
    pub collapsed: Vec<usize>,
}

/// The first position of the largest value, as numpy's `argmax` (ties go to the first).
fn argmax_first(values: &[usize]) -> usize {
    let mut best = 0;
    for (k, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = k;
        }
    }
    best
}

fn accuracy(votes: &[Vec<usize>], classify: &[Vec<usize>]) -> f64 {
    // Each dimension predicts the factor it received most training votes for.
    let total: usize = classify.iter().flatten().sum();
    if total == 0 {
        return 0.0;
    }
    let correct: usize = votes
        .iter()
        .zip(classify)
        .map(|(train, test)| test.get(argmax_first(train)).copied().unwrap_or(0))
        .sum();
    correct as f64 / total as f64
}

/// The FactorVAE score. `reference`: codes `[n][M]` giving each dimension's scale (its standard
/// deviation); `groups`: (fixed factor, codes of the group's images). In each group the dimension
/// of least variance, after scaling, votes for the group's fixed factor; a dimension then
/// predicts the factor with most votes. Groups alternate between building the vote table and
/// being scored (`held_out`); `all` scores the table on the groups it was built from. Any
/// number of salient dimensions and factors.
pub fn factorvae(
    reference: &[Vec<f32>],
    groups: &[(usize, Vec<Vec<f32>>)],
    factors: usize,
) -> FactorVaeScore {
    let m = reference.first().map_or(0, Vec::len);
    let n = reference.len().max(1) as f64;
    let scale: Vec<f64> = (0..m)
        .map(|d| {
            let mean = reference.iter().map(|c| c[d] as f64).sum::<f64>() / n;
            (reference
                .iter()
                .map(|c| (c[d] as f64 - mean).powi(2))
                .sum::<f64>()
                / n)
                .sqrt()
        })
        .collect();
    let largest = scale.iter().copied().fold(0.0, f64::max);
    let collapsed: Vec<usize> = (0..m)
        .filter(|&d| scale[d] <= 1e-6 * largest.max(1e-12))
        .collect();
    let mut train = vec![vec![0usize; factors]; m];
    let mut test = vec![vec![0usize; factors]; m];
    for (g, (factor, codes)) in groups.iter().enumerate() {
        let count = codes.len().max(1) as f64;
        let variance = |d: usize| {
            let mean = codes.iter().map(|c| c[d] as f64 / scale[d]).sum::<f64>() / count;
            codes
                .iter()
                .map(|c| (c[d] as f64 / scale[d] - mean).powi(2))
                .sum::<f64>()
                / count
        };
        let Some(dim) = (0..m)
            .filter(|d| !collapsed.contains(d))
            .min_by(|&a, &b| variance(a).total_cmp(&variance(b)))
        else {
            continue;
        };
        // Consecutive rounds of `factors` groups alternate, so both halves see every factor.
        let table = if (g / factors.max(1)).is_multiple_of(2) {
            &mut train
        } else {
            &mut test
        };
        table[dim][*factor] += 1;
    }
    let all: Vec<Vec<usize>> = train
        .iter()
        .zip(&test)
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x + y).collect())
        .collect();
    FactorVaeScore {
        held_out: accuracy(&train, &test),
        all: accuracy(&all, &all),
        votes: all,
        collapsed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, RngExt, SeedableRng};

    /// Groups of `per` codes of `m` dimensions; `encode` maps the 5 factor values to a code.
    fn groups(
        encode: &dyn Fn(&[f32; 5], &mut StdRng) -> Vec<f32>,
        count: usize,
        per: usize,
    ) -> Vec<(usize, Vec<Vec<f32>>)> {
        let mut rng = StdRng::seed_from_u64(1);
        (0..count)
            .map(|g| {
                let fixed = g % 5;
                let value: f32 = rng.random();
                let codes = (0..per)
                    .map(|_| {
                        let mut f: [f32; 5] = std::array::from_fn(|_| rng.random());
                        f[fixed] = value;
                        encode(&f, &mut rng)
                    })
                    .collect();
                (fixed, codes)
            })
            .collect()
    }

    #[test]
    fn a_planted_code_scores_one_and_a_random_one_chance() {
        let mut rng = StdRng::seed_from_u64(2);
        let reference: Vec<Vec<f32>> = (0..500)
            .map(|_| (0..7).map(|_| rng.random::<f32>()).collect())
            .collect();
        // Dimensions 0..5 are the factors (any order), 5 and 6 are noise: any M works.
        let planted = groups(
            &|f, rng| vec![f[3], f[0], f[4], f[1], f[2], rng.random(), rng.random()],
            200,
            50,
        );
        let score = factorvae(&reference, &planted, 5);
        assert_eq!(score.held_out, 1.0);
        assert_eq!(score.all, 1.0);
        let random = groups(
            &|_, rng| (0..7).map(|_| rng.random::<f32>()).collect(),
            500,
            50,
        );
        let score = factorvae(&reference, &random, 5);
        assert!(
            score.held_out < 0.4,
            "random encoder scored {}",
            score.held_out
        );
    }

    #[test]
    fn collapsed_dimensions_do_not_vote() {
        let reference: Vec<Vec<f32>> = (0..10).map(|i| vec![i as f32, 0.0]).collect();
        let g = vec![(1, vec![vec![1.0, 0.0], vec![1.0, 0.0]])];
        let score = factorvae(&reference, &g, 5);
        assert_eq!(score.collapsed, vec![1]);
        assert_eq!(score.votes[0][1], 1);
    }

    #[test]
    fn tied_votes_go_to_the_first_factor_as_numpy_argmax() {
        assert_eq!(argmax_first(&[0, 3, 1, 3]), 1);
        // A dimension with as many votes for factor 0 as for factor 1 predicts factor 0: the
        // groups fixing factor 0 count as correct, those fixing factor 1 do not.
        let votes = vec![vec![2, 2, 0]];
        assert_eq!(accuracy(&votes, &votes), 0.5);
        let classify = vec![vec![1, 0, 0]];
        assert_eq!(accuracy(&votes, &classify), 1.0);
    }
}
