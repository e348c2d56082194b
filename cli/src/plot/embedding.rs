//! Two-dimensional maps of codes for `dinfogan plot codes`: PCA, and t-SNE (Barnes-Hut, the
//! `bhtsne` crate) started from the PCA map as scikit-learn's `TSNE(init="pca")` is.

use nalgebra::{DMatrix, SymmetricEigen};

/// A PCA map: each row's coordinates on the first two principal axes, and the share of the
/// total variance each axis carries.
pub struct Pca {
    pub coords: Vec<[f64; 2]>,
    pub explained: [f64; 2],
}

/// The rows projected on their two directions of largest variance (an axis is 0 where the
/// codes have fewer than two dimensions). Each axis is signed so that its largest component is
/// positive: the same codes give the same picture.
pub fn pca(rows: &[Vec<f32>]) -> Pca {
    let (n, dim) = (rows.len(), rows.first().map_or(0, Vec::len));
    if n == 0 || dim == 0 {
        return Pca {
            coords: vec![[0.0; 2]; n],
            explained: [0.0; 2],
        };
    }
    let mut mean = vec![0.0f64; dim];
    for row in rows {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let centred = DMatrix::from_fn(n, dim, |i, j| rows[i][j] as f64 - mean[j]);
    let covariance = centred.transpose() * &centred / n.max(2) as f64;
    let eigen = SymmetricEigen::new(covariance);
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let total: f64 = eigen.eigenvalues.iter().map(|v| v.max(0.0)).sum();
    let mut coords = vec![[0.0; 2]; n];
    let mut explained = [0.0; 2];
    for (axis, &k) in order.iter().take(2).enumerate() {
        let mut direction = eigen.eigenvectors.column(k).into_owned();
        let largest = direction
            .iter()
            .copied()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
            .unwrap_or(1.0);
        if largest < 0.0 {
            direction = -direction;
        }
        let projected = &centred * direction;
        for (c, p) in coords.iter_mut().zip(projected.iter()) {
            c[axis] = *p;
        }
        if total > 0.0 {
            explained[axis] = eigen.eigenvalues[k].max(0.0) / total;
        }
    }
    Pca { coords, explained }
}

/// Fewer rows than this make no neighbour map (the perplexity needs three neighbours each).
pub const TSNE_MIN_ROWS: usize = 10;

/// A t-SNE map of the rows (Euclidean distance, perplexity 30 or less on small sets, 1,000
/// iterations, Barnes-Hut at theta 0.5, scikit-learn's defaults), started from `init` (the PCA
/// map) scaled to a standard deviation of 1e-4 on its first axis, as scikit-learn does: no
/// random start, so the map follows from the codes. `None` below [`TSNE_MIN_ROWS`] rows.
pub fn tsne(rows: &[Vec<f32>], init: &[[f64; 2]]) -> Option<Vec<[f64; 2]>> {
    let n = rows.len();
    if n < TSNE_MIN_ROWS || init.len() != n {
        return None;
    }
    let perplexity = 30.0f32.min(((n - 1) / 3) as f32);
    let spread = {
        let mean = init.iter().map(|c| c[0]).sum::<f64>() / n as f64;
        (init.iter().map(|c| (c[0] - mean).powi(2)).sum::<f64>() / n as f64).sqrt()
    };
    let scale = if spread > 0.0 { 1e-4 / spread } else { 1.0 };
    let start: Vec<f32> = init
        .iter()
        .flat_map(|c| [(c[0] * scale) as f32, (c[1] * scale) as f32])
        .collect();
    let embedding = bhtsne::tSNE::<f32, Vec<f32>>::new(rows)
        .perplexity(perplexity)
        .epochs(1000)
        .initial_embedding(start)
        .barnes_hut(0.5, |a, b| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y) * (x - y))
                .sum::<f32>()
                .sqrt()
        })
        .embedding();
    Some(
        embedding
            .chunks(2)
            .map(|p| [p[0] as f64, p[1] as f64])
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on the line (1, 2) plus a small perpendicular offset uncorrelated with the position
    /// along it, by hand: the first axis is
    /// the line, carrying all but the offset's variance; the projections are the positions
    /// along it.
    #[test]
    fn pca_finds_the_line() {
        let unit = [1.0 / 5f64.sqrt(), 2.0 / 5f64.sqrt()];
        let normal = [-unit[1], unit[0]];
        let along = [-2.0, -1.0, 0.0, 1.0, 2.0];
        let across = [0.1, -0.1, 0.0, -0.1, 0.1];
        let rows: Vec<Vec<f32>> = along
            .iter()
            .zip(&across)
            .map(|(a, b)| {
                vec![
                    (3.0 + a * unit[0] + b * normal[0]) as f32,
                    (-1.0 + a * unit[1] + b * normal[1]) as f32,
                ]
            })
            .collect();
        let map = pca(&rows);
        // Variances: 10/5 along, 0.04/5 across.
        assert!(
            (map.explained[0] - 2.0 / 2.008).abs() < 1e-5,
            "{:?}",
            map.explained
        );
        assert!((map.explained[1] - 0.008 / 2.008).abs() < 1e-5);
        for (c, (a, b)) in map.coords.iter().zip(along.iter().zip(&across)) {
            // The axis is signed so that its largest component (2/sqrt 5) is positive.
            assert!((c[0] - a).abs() < 1e-5, "{c:?} {a}");
            assert!((c[1].abs() - b.abs()).abs() < 1e-5, "{c:?} {b}");
        }
    }

    #[test]
    fn pca_of_one_dimension_or_constant_codes() {
        let one: Vec<Vec<f32>> = [1.0, 2.0, 3.0].iter().map(|&v| vec![v]).collect();
        let map = pca(&one);
        assert_eq!(map.explained, [1.0, 0.0]);
        assert_eq!(
            map.coords.iter().map(|c| c[0]).collect::<Vec<_>>(),
            [-1.0, 0.0, 1.0]
        );
        let constant = vec![vec![0.5f32; 4]; 6];
        let map = pca(&constant);
        assert_eq!(map.explained, [0.0, 0.0]);
        assert!(map.coords.iter().all(|c| *c == [0.0, 0.0]));
    }

    /// Two tight clusters far apart in 10 dimensions, interleaved in the rows: t-SNE keeps
    /// them apart (every point nearer its own cluster's centre than the other's).
    #[test]
    fn tsne_keeps_clusters_apart() {
        let mut state = 12345u64;
        let mut noise = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let rows: Vec<Vec<f32>> = (0..60)
            .map(|i| {
                let centre = if i % 2 == 0 { 0.0 } else { 5.0 };
                (0..10).map(|_| centre + 0.3 * noise()).collect()
            })
            .collect();
        let map = tsne(&rows, &pca(&rows).coords).expect("enough rows");
        let centre = |parity: usize| {
            let members: Vec<&[f64; 2]> = map.iter().skip(parity).step_by(2).collect();
            let k = members.len() as f64;
            [
                members.iter().map(|c| c[0]).sum::<f64>() / k,
                members.iter().map(|c| c[1]).sum::<f64>() / k,
            ]
        };
        let centres = [centre(0), centre(1)];
        let distance = |a: &[f64; 2], b: &[f64; 2]| (a[0] - b[0]).hypot(a[1] - b[1]);
        for (i, c) in map.iter().enumerate() {
            assert!(
                distance(c, &centres[i % 2]) < distance(c, &centres[1 - i % 2]),
                "point {i} at {c:?}, centres {centres:?}"
            );
        }
        assert!(tsne(&rows[..TSNE_MIN_ROWS - 1], &pca(&rows[..9]).coords).is_none());
    }
}
