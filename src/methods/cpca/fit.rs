//! Contrastive PCA (cPCA) fitted on host `f32` buffers.
//!
//! # Method
//!
//! cPCA (Abid, Zhang, Bagaria & Zou, "Exploring patterns enriched in a dataset with contrastive
//! principal component analysis", Nature Communications 9, 2134, 2018; reference package
//! `contrastive` 1.2.0 on PyPI, repository zou-group/contrastive) looks for directions `v` with
//! much more variance in a *target* set `Y` than in a *background* set `X`: the top eigenvectors
//! of `C_Y - alpha * C_X`, where `C_X`, `C_Y` are the sample covariances (each set centred by its
//! own mean, divided by `n - 1`, as the package does) and `alpha >= 0` trades target variance
//! against background variance (`alpha = 0` is plain PCA of the target).
//!
//! [`fit`] returns two linear encoders for the Double InfoGAN baseline:
//! * `common` (`z`, D x L): the top-L principal directions of the background (plain PCA of `X`),
//! * `salient` (`s`, D x M): the top-M eigenvectors of `C_Y - alpha C_X`,
//!
//! both orthonormal in R^D, and one `mean` to subtract before projecting:
//! `z = (v - mean) · common`, `s = (v - mean) · salient`.
//!
//! # Reduction
//!
//! An image of 3x64x64 has D = 12,288 values; a D x D covariance would take 600 MB and a dense
//! eigen-decomposition hours on one core. Like the package (which runs a PCA to 1,000 dimensions
//! on the stacked, per-set-centred data when D > 1,000), the fit first finds the top-K principal
//! directions `P` (D x K, default K = 256) of the stacked centred data `Z = [X - mean_X; Y - mean_Y]`
//! and does all the cPCA work on the K x K matrices `P^T C_X P`, `P^T C_Y P`; directions are mapped
//! back with `P`, so they stay orthonormal in R^D. `P` comes from a seeded randomized subspace
//! iteration (Halko, Martinsson & Tropp 2011): `Q <- orth(Z^T Z Q)` from a random start with
//! K + 16 columns, `1 + power_iterations` times (the basic range finder plus Halko's `q` power
//! iterations), then a Rayleigh-Ritz step on the exact scatter of `Z Q`. The data are read in
//! blocks of rows and never copied whole; the products `Z Q` and `Z^T (Z Q)` run in `f32` (the
//! inputs are `f32`; this is the only expensive part) and everything after them in `f64`. When K + 16 >= D the basis is the identity and the covariances are exact;
//! with `reduce_dim: None` nothing is reduced at all (exact, but O(D^3): small D only). When K is
//! at least the rank of `Z` the reduction loses nothing and the result equals the unreduced fit.
//!
//! # Automatic alpha
//!
//! The package's automatic mode (`CPCA.transform(alpha_selection='auto')`):
//! 1. candidates `alphas = [0] ++ logspace(-1, max_log_alpha, n_alphas)` (defaults 40 and 3);
//! 2. for each candidate, the top-M eigenvectors `V_a`, the target projected on them `Y V_a`, and
//!    an orthonormal basis of its column space (QR). Note: the package measures the subspaces in
//!    the *target-data* space (R^n_target), not in feature space;
//! 3. `affinity[i][j]` = product of the cosines of the principal angles between those column spaces
//!    (singular values of `Q_i^T Q_j`), diagonal 1, NaN replaced by 0;
//! 4. spectral clustering of the affinity matrix (sklearn `SpectralClustering`, 4 clusters,
//!    `affinity='precomputed'`, k-means label assignment), and for each cluster that does not
//!    contain `alpha = 0` its exemplar: the member whose column of the cluster's affinity
//!    sub-matrix has the largest sum (first one on ties); it returns `[0] + sorted(exemplars)`.
//!
//! This module reproduces steps 1-4, with the differences below, then picks one alpha:
//! * step 2 is computed without the `n_target x M` matrices: `(Y V_i)^T (Y V_j) = (n - 1) V_i^T C_Y V_j`,
//!   so the principal angles between `col(Y V_i)` and `col(Y V_j)` equal those between
//!   `col(F_i)`, `col(F_j)` with `F = Λ^{1/2} U^T V` where `C_Y = U Λ U^T`; same numbers, K x M work;
//! * step 3: the package's code multiplies only the two largest cosines (`s[0]*s[1]`), which is the
//!   product of *all* cosines for its default of 2 components, and fails for 1. The default here,
//!   [`AffinityCosines::All`], is the product of all M cosines (identical to the package for
//!   M = 2, and defined for every M); [`AffinityCosines::TopTwo`] is the package's literal code.
//!   With M = 15 the two largest cosines are close to 1 for almost every pair of candidates, so
//!   the top-two affinity would leave the clustering little to work with, hence the default;
//! * step 4: k-means is random (the package passes no `random_state`), so the labels are assigned
//!   with sklearn's deterministic alternative `assign_labels='cluster_qr'` (Damle, Minden & Ying
//!   2019), on the same spectral embedding (bottom `n_clusters` eigenvectors of the normalised
//!   Laplacian, rows divided by the square-root degrees, self-affinities ignored). On the tests'
//!   data and on the package's own demo the exemplars match the k-means ones (but for a neighbour
//!   in the large-alpha plateau);
//! * one alpha: of the exemplars, the **largest whose M top eigenvalues of `C_Y - alpha C_X` are all
//!   positive**, i.e. the most contrastive exemplar whose every salient direction still has more
//!   target variance than `alpha` times its background variance; if no exemplar qualifies, the
//!   smallest exemplar. The large-alpha exemplar usually sits on a plateau where the subspace has
//!   converged to the background's *least*-variance directions, with negative eigenvalues: there
//!   the target is not enriched at all. Taking "the medoid of all non-zero candidates" (one
//!   cluster) lands on that plateau (log spacing puts half the candidates there): on the tests'
//!   planted example it picks alpha = 22.9 whose subspace misses the planted directions (cosines
//!   0.06, 0.01), whereas this rule picks 1.34 (cosines 0.99, 0.98).
//!
//! All of it is reported in [`CpcaFit`] (candidates, affinity, clusters, exemplars, eigenvalues),
//! so a caller can refit with a fixed `alpha` taken from the exemplars.
//!
//! # Mean
//!
//! The covariances use per-set means (as the package). For encoding, one mean is needed: `mean`
//! is the pooled mean of all `n_x + n_y` images. The encoder is applied to background and target
//! images alike; the pooled mean is the centre of the stacked data the reduction basis describes
//! and favours neither set, so both sets' codes stay near zero and their offset along a direction
//! (`mean_Y - mean_X`) shows symmetrically. `background_mean` and `target_mean` are reported too,
//! for a caller who wants e.g. background salient codes centred exactly on 0.
//!
//! # Other differences from the package
//!
//! * no standardisation (the package divides each feature by its standard deviation by default):
//!   pixel scaling would amplify near-constant pixels and the encoder would need a scale vector;
//!   call the package with `standardize=False` to compare;
//! * the eigen-problems are solved as symmetric (the matrix is symmetrised first): the package calls
//!   the general `numpy.linalg.eig`, which can return complex pairs / NaN for near-degenerate
//!   eigenvalues;
//! * directions get a deterministic sign: the entry of largest magnitude is positive.
//!
//! Results are deterministic for a given `seed` on a given platform (the `f32` matrix products
//! may round differently with other SIMD kernels, e.g. on wasm32). No I/O, no threads.

use nalgebra::{DMatrix, DMatrixView, SymmetricEigen, SVD};

/// How the affinity between two M-dimensional subspaces is built from the cosines of their
/// principal angles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AffinityCosines {
    /// Product of all M cosines (equal to the package's code for M = 2).
    #[default]
    All,
    /// Product of the two largest cosines (the package's code, `s[0]*s[1]`); the single cosine
    /// when M = 1.
    TopTwo,
}

/// Options of [`fit`].
#[derive(Clone, Debug, PartialEq)]
pub struct CpcaOptions {
    /// Contrast strength; `None` selects it automatically (see the module documentation).
    pub alpha: Option<f64>,
    /// K: work in the span of the top-K principal directions of the stacked, per-set-centred
    /// data. `None` works in the full D dimensions (exact, O(D^3): only for small D).
    pub reduce_dim: Option<usize>,
    /// Power iterations `q` of the randomized range finder (Halko et al.): it multiplies by
    /// `Z^T Z` `q + 1` times, each time reading the data twice. On synthetic 5,000 + 5,000 images
    /// of 3x32x32, q = 3 gave 95 common directions whose smallest principal cosine to those of
    /// q = 7 was 0.99998 (q = 2: 0.9998, q = 0: 0.88).
    pub power_iterations: usize,
    /// Seed of the random start of the range finder.
    pub seed: u64,
    /// Number of log-spaced candidate alphas in `[0.1, 10^max_log_alpha]` (package: 40).
    pub n_alphas: usize,
    /// Largest candidate alpha is `10^max_log_alpha` (package: 3).
    pub max_log_alpha: f64,
    /// Clusters of the spectral clustering (package: `n_alphas_to_return` = 4).
    pub n_clusters: usize,
    /// Affinity between subspaces.
    pub affinity: AffinityCosines,
}

impl Default for CpcaOptions {
    fn default() -> Self {
        Self {
            alpha: None,
            reduce_dim: Some(256),
            power_iterations: 3,
            seed: 0,
            n_alphas: 40,
            max_log_alpha: 3.0,
            n_clusters: 4,
            affinity: AffinityCosines::All,
        }
    }
}

/// A fitted cPCA encoder.
#[derive(Clone, Debug, PartialEq)]
pub struct CpcaFit {
    /// D, the values per image.
    pub dim: usize,
    /// L, the common (background PCA) directions.
    pub common_dim: usize,
    /// M, the salient (contrastive) directions.
    pub salient_dim: usize,
    /// Subtracted before projecting: the pooled mean of all images (see the module docs).
    pub mean: Vec<f32>,
    /// Mean of the background images.
    pub background_mean: Vec<f32>,
    /// Mean of the target images.
    pub target_mean: Vec<f32>,
    /// D x L, row-major: the top-L principal directions of the background, orthonormal columns.
    pub common: Vec<f32>,
    /// D x M, row-major: the top-M eigenvectors of `C_Y - alpha C_X`, orthonormal columns.
    pub salient: Vec<f32>,
    /// L background variances along `common` (eigenvalues of `C_X`, descending).
    pub common_variances: Vec<f32>,
    /// M eigenvalues of `C_Y - alpha C_X` along `salient`, descending.
    pub salient_eigenvalues: Vec<f32>,
    /// The alpha used.
    pub alpha: f64,
    /// Candidate alphas: `[0] ++ logspace(-1, max_log_alpha, n_alphas)`; `[alpha]` when fixed.
    pub alphas: Vec<f64>,
    /// Index of `alpha` in `alphas` (0 when fixed).
    pub alpha_index: usize,
    /// For each candidate, the M-th (smallest kept) eigenvalue of `C_Y - a C_X`: positive when all
    /// M salient directions have more target variance than `a` times background variance.
    pub candidate_min_eigenvalues: Vec<f64>,
    /// Affinity between the candidates' subspaces, `alphas.len()` squared, row-major; empty when
    /// alpha is fixed.
    pub affinity: Vec<f64>,
    /// Spectral cluster of each candidate; empty when alpha is fixed.
    pub clusters: Vec<usize>,
    /// Indices into `alphas` of the clusters' exemplars (clusters without alpha = 0), ascending;
    /// what the package's automatic mode returns besides 0. Empty when alpha is fixed.
    pub exemplars: Vec<usize>,
    /// K, the dimension the cPCA was solved in (D when not reduced).
    pub reduced_dim: usize,
    /// Share of the stacked centred data's variance inside the K-dimensional space (1 if exact).
    pub retained_variance: f64,
}

impl CpcaFit {
    /// Host encoding of one image: `((v - mean) · common, (v - mean) · salient)`.
    ///
    /// # Panics
    /// If `row.len() != self.dim`.
    #[must_use]
    pub fn encode_host(&self, row: &[f32]) -> (Vec<f32>, Vec<f32>) {
        assert_eq!(
            row.len(),
            self.dim,
            "encode_host: the image has the wrong size"
        );
        let project = |dirs: &[f32], k: usize| -> Vec<f32> {
            let mut out = vec![0f64; k];
            for (j, (&v, &m)) in row.iter().zip(&self.mean).enumerate() {
                let c = f64::from(v) - f64::from(m);
                for (o, &d) in out.iter_mut().zip(&dirs[j * k..(j + 1) * k]) {
                    *o += c * f64::from(d);
                }
            }
            out.into_iter().map(|v| v as f32).collect()
        };
        (
            project(&self.common, self.common_dim),
            project(&self.salient, self.salient_dim),
        )
    }
}

/// Extra columns of the range finder beyond K (Halko et al. recommend 5-10; more is cheap here).
const OVERSAMPLE: usize = 16;
/// Rows of data centred and multiplied at a time (bounds the scratch memory to ROWS x D values).
const BLOCK_ROWS: usize = 256;
/// Lower end of the candidate alphas, `10^-1`, hard-coded in the package.
const MIN_LOG_ALPHA: f64 = -1.0;

/// Fits cPCA: `background` (X) and `target` (Y) are row-major `n x dim` buffers of images.
///
/// # Errors
/// A sentence a user can act on for: empty or ragged buffers, fewer than 2 images in a set,
/// non-finite values, dimensions that do not fit, invalid options, or an eigen-solver that does
/// not converge.
pub fn fit(
    background: &[f32],
    target: &[f32],
    dim: usize,
    common_dim: usize,
    salient_dim: usize,
    options: &CpcaOptions,
) -> Result<CpcaFit, String> {
    let (nx, ny) = validate(background, target, dim, common_dim, salient_dim, options)?;
    let mean_x = mean_of(background, nx, dim);
    let mean_y = mean_of(target, ny, dim);

    // 1. The working space: K x K covariances and the D x K basis that maps them back.
    let space = working_space(background, &mean_x, target, &mean_y, dim, options)?;
    let k = space.cx.nrows();

    // 2. Common directions: plain PCA of the background.
    let (cvals, cvecs) = sorted_eigen(space.cx.clone(), "the background covariance")?;
    let common_k = cvecs.columns(0, common_dim).into_owned();

    // 3. cPCA for the candidate alphas.
    let alphas = match options.alpha {
        Some(a) => vec![a],
        None => candidate_alphas(options.n_alphas, options.max_log_alpha),
    };
    let mut solutions = Vec::with_capacity(alphas.len());
    for &a in &alphas {
        let sigma = &space.cy - &space.cx * a;
        let (vals, vecs) = sorted_eigen(sigma, "C_target - alpha C_background")?;
        solutions.push((
            vals[..salient_dim].to_vec(),
            vecs.columns(0, salient_dim).into_owned(),
        ));
    }
    let candidate_min_eigenvalues: Vec<f64> =
        solutions.iter().map(|(v, _)| v[salient_dim - 1]).collect();

    // 4. Automatic selection.
    let (alpha_index, affinity, clusters, exemplars) = if options.alpha.is_some() {
        (0, Vec::new(), Vec::new(), Vec::new())
    } else {
        let subspaces: Vec<&DMatrix<f64>> = solutions.iter().map(|(_, v)| v).collect();
        let aff = affinity_matrix(&space.cy, &subspaces, options.affinity)?;
        let n = alphas.len();
        let clusters = spectral_clusters(&aff, n, options.n_clusters)?;
        let exemplars = exemplars(&aff, n, &clusters, options.n_clusters);
        // "Positive" with a tolerance: the f32 products leave ~1e-6 relative noise, and
        // directions outside both sets' spans have eigenvalue 0 up to that noise.
        let scale = space.cy.diagonal().iter().fold(0f64, |m, v| m.max(v.abs()));
        let positive = |i: usize| candidate_min_eigenvalues[i] > 1e-6 * scale;
        let chosen = exemplars
            .iter()
            .rev()
            .copied()
            .find(|&i| positive(i))
            .or_else(|| exemplars.first().copied())
            .unwrap_or_else(|| medoid(&aff, n, &(1..n).collect::<Vec<_>>()));
        (chosen, aff, clusters, exemplars)
    };

    let (svals, svecs_k) = &solutions[alpha_index];
    let common = to_row_major(&space.map_back(&common_k));
    let salient = to_row_major(&space.map_back(svecs_k));
    let pooled: Vec<f32> = mean_x
        .iter()
        .zip(&mean_y)
        .map(|(&a, &b)| ((a * nx as f64 + b * ny as f64) / (nx + ny) as f64) as f32)
        .collect();
    Ok(CpcaFit {
        dim,
        common_dim,
        salient_dim,
        mean: pooled,
        background_mean: mean_x.iter().map(|&v| v as f32).collect(),
        target_mean: mean_y.iter().map(|&v| v as f32).collect(),
        common,
        salient,
        common_variances: cvals[..common_dim].iter().map(|&v| v as f32).collect(),
        salient_eigenvalues: svals.iter().map(|&v| v as f32).collect(),
        alpha: alphas[alpha_index],
        alphas,
        alpha_index,
        candidate_min_eigenvalues,
        affinity,
        clusters,
        exemplars,
        reduced_dim: k,
        retained_variance: space.retained,
    })
}

fn validate(
    background: &[f32],
    target: &[f32],
    dim: usize,
    common_dim: usize,
    salient_dim: usize,
    o: &CpcaOptions,
) -> Result<(usize, usize), String> {
    if dim == 0 {
        return Err("cPCA needs images of at least one value (dim is 0)".into());
    }
    let mut counts = [0usize; 2];
    for (c, (name, data)) in [("background", background), ("target", target)]
        .iter()
        .enumerate()
    {
        if data.len() % dim != 0 {
            return Err(format!(
                "the {name} buffer holds {} values, which is not a whole number of images of {dim} values",
                data.len()
            ));
        }
        let n = data.len() / dim;
        if n < 2 {
            return Err(format!("cPCA needs at least 2 {name} images (got {n})"));
        }
        if let Some(p) = data.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "{name} image {} holds a non-finite value at position {}",
                p / dim,
                p % dim
            ));
        }
        counts[c] = n;
    }
    let [nx, ny] = counts;
    if common_dim == 0 || salient_dim == 0 {
        return Err("cPCA needs at least one common and one salient direction".into());
    }
    let k = match o.reduce_dim {
        Some(0) => return Err("reduce_dim must be at least 1 (or None for no reduction)".into()),
        Some(k) => k.min(dim),
        None => dim,
    };
    for (name, v) in [("common_dim", common_dim), ("salient_dim", salient_dim)] {
        if v > k {
            return Err(format!(
                "{name} = {v} exceeds the working dimension {k} (the smaller of reduce_dim and the \
                 image size); lower {name} or raise reduce_dim"
            ));
        }
    }
    if common_dim > nx - 1 {
        return Err(format!(
            "common_dim = {common_dim} exceeds the rank of the background covariance ({} = \
             background images - 1); use more background images or fewer common directions",
            nx - 1
        ));
    }
    match o.alpha {
        Some(a) if !(a.is_finite() && a >= 0.0) => {
            return Err(format!("alpha must be a finite number >= 0 (got {a})"));
        }
        Some(_) => {}
        None => {
            if o.n_alphas == 0 {
                return Err("automatic alpha selection needs n_alphas >= 1".into());
            }
            if !o.max_log_alpha.is_finite() {
                return Err("max_log_alpha must be finite".into());
            }
            if o.n_clusters < 2 || o.n_clusters > o.n_alphas + 1 {
                return Err(format!(
                    "n_clusters must be between 2 and n_alphas + 1 = {} (got {})",
                    o.n_alphas + 1,
                    o.n_clusters
                ));
            }
        }
    }
    Ok((nx, ny))
}

fn mean_of(data: &[f32], n: usize, dim: usize) -> Vec<f64> {
    let mut m = vec![0f64; dim];
    for row in data.chunks_exact(dim) {
        for (a, &v) in m.iter_mut().zip(row) {
            *a += f64::from(v);
        }
    }
    for v in &mut m {
        *v /= n as f64;
    }
    m
}

/// `0 ++ numpy.logspace(-1, max_log, n)`, with numpy's `linspace` arithmetic
/// (`start + i * step`, last value exactly `stop`).
fn candidate_alphas(n: usize, max_log: f64) -> Vec<f64> {
    let mut out = vec![0.0];
    let step = if n > 1 {
        (max_log - MIN_LOG_ALPHA) / (n - 1) as f64
    } else {
        0.0
    };
    for i in 0..n {
        let e = if n > 1 && i == n - 1 {
            max_log
        } else {
            i as f64 * step + MIN_LOG_ALPHA
        };
        out.push(10f64.powf(e));
    }
    out
}

/// Covariances in the working space and the way back to R^D.
struct Space {
    cx: DMatrix<f64>,
    cy: DMatrix<f64>,
    /// D x K orthonormal basis; `None` = identity (no reduction).
    basis: Option<DMatrix<f64>>,
    retained: f64,
}

impl Space {
    fn map_back(&self, v: &DMatrix<f64>) -> DMatrix<f64> {
        let mut d = match &self.basis {
            Some(b) => b * v,
            None => v.clone(),
        };
        // Deterministic sign: the largest-magnitude entry of each direction is positive.
        for mut col in d.column_iter_mut() {
            let (mut best, mut arg) = (-1f64, 0);
            for (i, v) in col.iter().enumerate() {
                if v.abs() > best {
                    (best, arg) = (v.abs(), i);
                }
            }
            if col[arg] < 0.0 {
                col.neg_mut();
            }
        }
        d
    }
}

fn working_space(
    x: &[f32],
    mx: &[f64],
    y: &[f32],
    my: &[f64],
    dim: usize,
    o: &CpcaOptions,
) -> Result<Space, String> {
    let (nx, ny) = (x.len() / dim, y.len() / dim);
    let k = o.reduce_dim.map_or(dim, |k| k.min(dim));
    let l = (k + OVERSAMPLE).min(dim);
    // Scatter matrices (sums of outer products of centred rows) in the l-dimensional space.
    let (sx, sy, q) = if k == dim || l == dim {
        (exact_scatter(x, mx, dim), exact_scatter(y, my, dim), None)
    } else {
        let q = range_finder(x, mx, y, my, dim, l, o.power_iterations, o.seed);
        let q32 = q.map(|v| v as f32);
        (
            projected_scatter(x, mx, dim, &q32),
            projected_scatter(y, my, dim, &q32),
            Some(q),
        )
    };
    let total: f64 = total_sum_squares(x, mx, dim) + total_sum_squares(y, my, dim);
    let (cx, cy, basis, kept) = if k == dim {
        let kept = sx.trace() + sy.trace();
        (sx / (nx - 1) as f64, sy / (ny - 1) as f64, None, kept)
    } else {
        // Rayleigh-Ritz: the top-K eigenvectors of the pooled scatter inside span(Q).
        let (vals, vecs) = sorted_eigen(&sx + &sy, "the pooled scatter matrix")?;
        let u = vecs.columns(0, k).into_owned();
        let cx = u.transpose() * (&sx * &u) / (nx - 1) as f64;
        let cy = u.transpose() * (&sy * &u) / (ny - 1) as f64;
        let basis = match q {
            Some(q) => q * u,
            None => u,
        };
        (cx, cy, Some(basis), vals[..k].iter().sum())
    };
    let retained = if total > 0.0 {
        (kept / total).min(1.0)
    } else {
        1.0
    };
    Ok(Space {
        cx,
        cy,
        basis,
        retained,
    })
}

/// Calls `f(rows, block)` for consecutive blocks of centred rows, `block` row-major `rows x dim`.
fn for_centred_blocks<T: Copy>(
    data: &[f32],
    mean: &[f64],
    dim: usize,
    cast: impl Fn(f64) -> T,
    mut f: impl FnMut(usize, &[T]),
) {
    let mut buf: Vec<T> = Vec::with_capacity(BLOCK_ROWS * dim);
    for chunk in data.chunks(BLOCK_ROWS * dim) {
        buf.clear();
        for row in chunk.chunks_exact(dim) {
            buf.extend(row.iter().zip(mean).map(|(&v, &m)| cast(f64::from(v) - m)));
        }
        f(chunk.len() / dim, &buf);
    }
}

/// Views of a row-major `rows x dim` block: as `rows x dim` (strided) and as `dim x rows`.
fn block_views<T: nalgebra::Scalar>(
    block: &[T],
    rows: usize,
    dim: usize,
) -> (
    DMatrixView<'_, T, nalgebra::Dyn, nalgebra::Dyn>,
    DMatrixView<'_, T>,
) {
    (
        DMatrixView::from_slice_with_strides(block, rows, dim, dim, 1),
        DMatrixView::from_slice(block, dim, rows),
    )
}

fn exact_scatter(data: &[f32], mean: &[f64], dim: usize) -> DMatrix<f64> {
    let mut s = DMatrix::<f64>::zeros(dim, dim);
    for_centred_blocks(
        data,
        mean,
        dim,
        |v| v,
        |rows, block| {
            let (b, bt) = block_views(block, rows, dim);
            s.gemm(1.0, &bt, &b, 1.0);
        },
    );
    // Symmetric by construction up to rounding; make it exact.
    let t = s.transpose();
    (s + t) * 0.5
}

fn total_sum_squares(data: &[f32], mean: &[f64], dim: usize) -> f64 {
    data.chunks_exact(dim)
        .map(|row| {
            row.iter()
                .zip(mean)
                .map(|(&v, &m)| (f64::from(v) - m).powi(2))
                .sum::<f64>()
        })
        .sum()
}

/// `(Z Q)^T (Z Q)` for one set's centred rows: the product in f32, the sum in f64.
fn projected_scatter(data: &[f32], mean: &[f64], dim: usize, q: &DMatrix<f32>) -> DMatrix<f64> {
    let l = q.ncols();
    let mut s = DMatrix::<f64>::zeros(l, l);
    for_centred_blocks(
        data,
        mean,
        dim,
        |v| v as f32,
        |rows, block| {
            let (b, _) = block_views(block, rows, dim);
            let w = (b * q).map(f64::from);
            let wt = DMatrixView::from_slice_with_strides(w.as_slice(), l, rows, rows, 1);
            s.gemm(1.0, &wt, &w, 1.0);
        },
    );
    let t = s.transpose();
    (s + t) * 0.5
}

/// Orthonormal D x l basis approximating the top principal subspace of the stacked centred data:
/// subspace iteration `Q <- orth(Z^T Z Q)`, `1 + power_iterations` times, from a seeded random
/// start.
#[allow(clippy::too_many_arguments)]
fn range_finder(
    x: &[f32],
    mx: &[f64],
    y: &[f32],
    my: &[f64],
    dim: usize,
    l: usize,
    power_iterations: usize,
    seed: u64,
) -> DMatrix<f64> {
    let mut rng = SplitMix64(seed);
    let start = DMatrix::<f64>::from_fn(dim, l, |_, _| 2.0 * rng.uniform() - 1.0);
    let mut q = start.qr().q();
    for _ in 0..=power_iterations {
        let q32 = q.map(|v| v as f32);
        let mut acc = DMatrix::<f32>::zeros(dim, l);
        for (data, mean) in [(x, mx), (y, my)] {
            for_centred_blocks(
                data,
                mean,
                dim,
                |v| v as f32,
                |rows, block| {
                    let (b, bt) = block_views(block, rows, dim);
                    let w = b * &q32;
                    acc.gemm(1.0, &bt, &w, 1.0);
                },
            );
        }
        q = acc.map(f64::from).qr().q();
    }
    q
}

/// Eigen-decomposition of a symmetric matrix (symmetrised first), eigenvalues descending.
fn sorted_eigen(m: DMatrix<f64>, what: &str) -> Result<(Vec<f64>, DMatrix<f64>), String> {
    let n = m.nrows();
    if m.iter().any(|v| !v.is_finite()) {
        return Err(format!(
            "{what} holds non-finite values (the data overflowed)"
        ));
    }
    let t = m.transpose();
    let sym = (m + t) * 0.5;
    let eig = SymmetricEigen::try_new(sym, f64::EPSILON, 1000 + 100 * n)
        .ok_or_else(|| format!("the eigen-decomposition of {what} did not converge"))?;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        eig.eigenvalues[b]
            .total_cmp(&eig.eigenvalues[a])
            .then(a.cmp(&b))
    });
    let vals = order.iter().map(|&i| eig.eigenvalues[i]).collect();
    let vecs = DMatrix::from_fn(n, n, |r, c| eig.eigenvectors[(r, order[c])]);
    Ok((vals, vecs))
}

/// The package's affinity matrix (`create_affinity_matrix`), row-major `n x n`.
fn affinity_matrix(
    cy: &DMatrix<f64>,
    subspaces: &[&DMatrix<f64>],
    rule: AffinityCosines,
) -> Result<Vec<f64>, String> {
    // Target-data metric: (Y V_i)^T (Y V_j) is proportional to F_i^T F_j, F = Λ^{1/2} U^T V.
    let (lam, u) = sorted_eigen(cy.clone(), "the target covariance")?;
    let mut whiten = u.transpose();
    for (mut row, l) in whiten.row_iter_mut().zip(&lam) {
        row *= l.max(0.0).sqrt();
    }
    let bases: Vec<DMatrix<f64>> = subspaces.iter().map(|v| (&whiten * *v).qr().q()).collect();
    let n = bases.len();
    let mut aff = vec![0f64; n * n];
    for i in 0..n {
        aff[i * n + i] = 1.0;
        for j in i + 1..n {
            let m = bases[i].transpose() * &bases[j];
            let s = SVD::try_new(m, false, false, f64::EPSILON, 10_000)
                .ok_or("the SVD between two cPCA subspaces did not converge")?
                .singular_values;
            let cosines = s.as_slice();
            let a: f64 = match rule {
                AffinityCosines::All => cosines.iter().product(),
                AffinityCosines::TopTwo => cosines.iter().take(2).product(),
            };
            // numpy.nan_to_num
            let a = if a.is_nan() { 0.0 } else { a };
            aff[i * n + j] = a;
            aff[j * n + i] = a;
        }
    }
    Ok(aff)
}

/// sklearn `SpectralClustering(affinity='precomputed', assign_labels='cluster_qr')`.
fn spectral_clusters(aff: &[f64], n: usize, k: usize) -> Result<Vec<usize>, String> {
    // scipy csgraph.laplacian(normed=True): self-affinities ignored, degrees d_i, isolated
    // nodes get d = 1; sklearn then sets the diagonal to 1.
    let mut sqrt_deg = vec![0f64; n];
    for i in 0..n {
        let d: f64 = (0..n).filter(|&j| j != i).map(|j| aff[i * n + j]).sum();
        sqrt_deg[i] = if d == 0.0 { 1.0 } else { d.sqrt() };
    }
    let lap = DMatrix::from_fn(n, n, |i, j| {
        if i == j {
            1.0
        } else {
            -aff[i * n + j] / (sqrt_deg[i] * sqrt_deg[j])
        }
    });
    let (_, vecs) = sorted_eigen(lap, "the affinity graph's Laplacian")?;
    // Bottom-k eigenvectors, each row divided by its square-root degree (`embedding / dd`).
    // Their order and signs do not matter: cluster_qr is invariant to rotations of the embedding.
    let emb = DMatrix::from_fn(n, k, |i, c| vecs[(i, n - 1 - c)] / sqrt_deg[i]);
    // cluster_qr: k pivot rows by QR with column pivoting of emb^T (greedy max residual norm) ...
    let mut resid = emb.clone();
    let mut piv = Vec::with_capacity(k);
    for _ in 0..k {
        let p = (0..n)
            .filter(|i| !piv.contains(i))
            .map(|i| (i, resid.row(i).norm_squared()))
            .fold((usize::MAX, -1.0), |b, c| if c.1 > b.1 { c } else { b })
            .0;
        piv.push(p);
        let norm = resid.row(p).norm();
        if norm > 0.0 {
            let dir = resid.row(p) / norm;
            for i in 0..n {
                let updated = resid.row(i) - &dir * resid.row(i).dot(&dir);
                resid.set_row(i, &updated);
            }
        }
    }
    // ... then the orthogonal factor of the pivot rows' SVD rotates the embedding, and each
    // candidate goes to the column of largest magnitude.
    let pivots = DMatrix::from_fn(k, k, |r, c| emb[(piv[c], r)]);
    let svd = SVD::try_new(pivots, true, true, f64::EPSILON, 10_000)
        .ok_or("the SVD of the spectral embedding did not converge")?;
    let rot = svd.u.unwrap() * svd.v_t.unwrap();
    let rotated = emb * rot;
    Ok((0..n)
        .map(|i| {
            let row = rotated.row(i);
            (0..k).fold(0, |b, c| if row[c].abs() > row[b].abs() { c } else { b })
        })
        .collect())
}

/// The member whose column of the members' affinity sub-matrix has the largest sum (first on
/// ties), as the package's `find_spectral_alphas`.
fn medoid(aff: &[f64], n: usize, members: &[usize]) -> usize {
    let mut best = (members[0], f64::NEG_INFINITY);
    for &j in members {
        let s: f64 = members.iter().map(|&i| aff[i * n + j]).sum();
        if s > best.1 {
            best = (j, s);
        }
    }
    best.0
}

/// Exemplars of the clusters that do not contain alpha = 0 (index 0), ascending.
fn exemplars(aff: &[f64], n: usize, clusters: &[usize], k: usize) -> Vec<usize> {
    let mut out: Vec<usize> = (0..k)
        .filter_map(|c| {
            let members: Vec<usize> = (0..n).filter(|&i| clusters[i] == c).collect();
            // The package would fail on an empty cluster (argmax of nothing); skip it.
            (!members.is_empty() && !members.contains(&0)).then(|| medoid(aff, n, &members))
        })
        .collect();
    out.sort_unstable();
    out
}

fn to_row_major(m: &DMatrix<f64>) -> Vec<f32> {
    let (r, c) = m.shape();
    let mut out = Vec::with_capacity(r * c);
    for i in 0..r {
        for j in 0..c {
            out.push(m[(i, j)] as f32);
        }
    }
    out
}

/// splitmix64: a tiny, seedable, platform-independent generator for the random start.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Irwin-Hall normal (12 uniforms - 6): exact in f64, so the Python reference
    /// (`scripts/cpca-reference.py`; its key lines are in the comment of
    /// `agrees_with_the_contrastive_package`) regenerates the very same data.
    fn normal(g: &mut SplitMix64) -> f64 {
        let mut acc = 0.0;
        for _ in 0..12 {
            acc += g.uniform();
        }
        acc - 6.0
    }

    /// Cosines of the principal angles between the column spaces of two orthonormal
    /// `d x k` row-major matrices.
    fn cosines(a: &[f32], b: &[f64], d: usize, k: usize) -> Vec<f64> {
        let a = DMatrix::from_fn(d, k, |r, c| f64::from(a[r * k + c]));
        let b = DMatrix::from_fn(d, b.len() / d, |r, c| b[r * (b.len() / d) + c]);
        (a.transpose() * b)
            .singular_values()
            .iter()
            .copied()
            .collect()
    }

    fn assert_same_subspace(a: &[f32], b: &[f64], d: usize, k: usize, what: &str) {
        for c in cosines(a, b, d, k) {
            assert!((1.0 - c).abs() < 1e-4, "{what}: principal cosine {c}");
        }
    }

    fn opts(alpha: Option<f64>) -> CpcaOptions {
        CpcaOptions {
            alpha,
            ..CpcaOptions::default()
        }
    }

    #[test]
    fn planted_direction_is_salient_and_background_axes_are_common() {
        // Background: std 3 along e1, 2 along e2, 0.1 elsewhere. Target: the same plus std 3
        // along e3. So PCA(background) = span(e1, e2), and with alpha = 5 C_Y - 5 C_X is ~9 along
        // e3 and negative elsewhere (-36 along e1, -16 along e2): s = e3.
        let (d, n) = (5, 200);
        let mut g = SplitMix64(1);
        let mut draw = |extra: f64| -> Vec<f32> {
            (0..n)
                .flat_map(|_| {
                    let s = [3.0, 2.0, extra, 0.1, 0.1];
                    let v: Vec<f32> = s
                        .iter()
                        .map(|s| (0.5 + s * normal(&mut g)) as f32)
                        .collect();
                    v
                })
                .collect()
        };
        let (x, y) = (draw(0.1), draw(3.0));
        let fit = fit(&x, &y, d, 2, 1, &opts(Some(5.0))).unwrap();
        assert!(fit.salient[2] > 0.999, "salient {:?}", fit.salient);
        let e12 = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        for c in cosines(&fit.common, &e12, d, 2) {
            assert!(c > 0.999, "common {:?}", fit.common);
        }
        assert!(
            fit.common[0] > 0.99 && fit.common[3] > 0.99,
            "sign or order: {:?}",
            fit.common
        );
        assert!((fit.common_variances[0] / 9.0 - 1.0).abs() < 0.3);
        assert!((fit.salient_eigenvalues[0] / 9.0 - 1.0).abs() < 0.3);
        assert_eq!((fit.reduced_dim, fit.retained_variance), (5, 1.0));
        // Encoding: the mean maps to 0, a step of 2 along e3 to s = 2 (s ~ e3).
        let (z, s) = fit.encode_host(&fit.mean);
        assert!(z.iter().chain(&s).all(|v| v.abs() < 1e-5));
        let mut v = fit.mean.clone();
        v[2] += 2.0;
        let (z, s) = fit.encode_host(&v);
        assert!(
            (s[0] - 2.0).abs() < 0.01 && z.iter().all(|v| v.abs() < 0.05),
            "{z:?} {s:?}"
        );
        // The automatic alpha keeps e3 (it is salient for every candidate).
        let auto = super::fit(&x, &y, d, 2, 1, &opts(None)).unwrap();
        assert!(auto.salient[2] > 0.999);
        assert!(auto.exemplars.contains(&auto.alpha_index));
        assert_eq!(auto.alphas.len(), 41);
        assert_eq!(auto.alphas[auto.alpha_index], auto.alpha);
    }

    /// The data of `scripts/cpca-reference.py`: D = 20, 200 background and 200 target images; both have
    /// std 3 * 0.85^j along e_j, the target adds std 2.5 along (e5+e6+e7)/sqrt 3 and std 1.5
    /// along (e10-e11)/sqrt 2; small per-set mean offsets.
    fn reference_sets() -> (Vec<f32>, Vec<f32>) {
        let (d, n) = (20, 200);
        let std = |j: usize| 3.0 * 0.85f64.powf(j as f64);
        let (r3, r2) = (1.0 / 3f64.sqrt(), 1.0 / 2f64.sqrt());
        let mut g = SplitMix64(11);
        let mut bg = Vec::with_capacity(n * d);
        for _ in 0..n {
            for j in 0..d {
                bg.push((0.05 * (j % 5) as f64 + std(j) * normal(&mut g)) as f32);
            }
        }
        let mut g = SplitMix64(22);
        let mut fg = Vec::with_capacity(n * d);
        for _ in 0..n {
            let mut row: Vec<f64> = (0..d)
                .map(|j| -0.03 * (j % 7) as f64 + std(j) * normal(&mut g))
                .collect();
            let (a, b) = (2.5 * normal(&mut g), 1.5 * normal(&mut g));
            for j in [5, 6, 7] {
                row[j] += a * r3;
            }
            row[10] += b * r2;
            row[11] -= b * r2;
            fg.extend(row.iter().map(|&v| v as f32));
        }
        (bg, fg)
    }

    /// Numbers from `contrastive` 1.2.0 (numpy 2, scikit-learn 1.9), printed by
    /// `scripts/cpca-reference.py` with the data of `reference_sets` (as float32, then float64):
    /// ```python
    /// cp = CPCA(n_components=2, standardize=False); cp.fit(fg, bg)
    /// w, v = LA.eig(cp.fg_cov - 2.0 * cp.bg_cov)              # as cpca_alpha does
    /// idx = np.argpartition(w, -2)[-2:]; idx = idx[np.argsort(-w[idx])]
    /// SALIENT_ALPHA2 = np.real(v[:, idx])                      # 20 x 2
    /// COMMON3 = PCA(n_components=3).fit(bg).components_.T      # 20 x 3
    /// cp.create_affinity_matrix(max_log_alpha=3, n_alphas=40); A = cp.affinity_matrix
    /// AFF_ROW_r = A[r]                                         # r = 0, 1, 20, 40
    /// AFF_SUB_COLSUMS = A[1:, 1:].sum(axis=0)
    /// sc = cluster.SpectralClustering(n_clusters=4, affinity='precomputed',
    ///                                 assign_labels='cluster_qr').fit(A)
    /// # exemplar of each cluster without index 0, as find_spectral_alphas:
    /// #   idx[np.argmax(A[idx][:, idx].sum(axis=0))]  ->  [12, 20, 28]
    /// # their second eigenvalues of fg_cov - alpha*bg_cov: 2.004, -0.111, -1.070 -> index 12
    /// ```
    /// The package's own k-means clustering (np seeds 0, 1, 2) returns alphas
    /// [0, 1.3434, 8.8862, 46.4159]: exemplars 12, 20, 27.
    #[test]
    fn agrees_with_the_contrastive_package() {
        #[rustfmt::skip]
        const SALIENT_ALPHA2: [f64; 40] = [
            -0.019695399, -0.043771351, -0.024268108, 0.00274005, 0.006657076, 0.008880946,
            0.039844641, 0.030486852, 0.076732902, 0.028350121, -0.478677229, 0.030892326,
            -0.603862653, 0.089466852, -0.615076808, -0.066209489, 0.085793723, 0.037970506,
            0.019119669, -0.079696926, 0.04579265, -0.667160357, 0.07574757, 0.725588766,
            0.014206123, -0.035183239, -0.002050184, -0.00513314, -0.042754325, 0.041296728,
            -0.002238757, -0.005103045, -0.035937766, 0.012422721, 0.002842923, 0.012004212,
            0.008276826, 0.006688271, -0.020831883, -0.014421352,
        ];
        #[rustfmt::skip]
        const COMMON3: [f64; 60] = [
            0.989454608, 0.122977613, -0.003072122, -0.11545459, 0.974646906, 0.038025919,
            0.013543687, -0.028236913, 0.982276946, 0.0745174, -0.074123406, -0.128403996,
            0.020638415, -0.121532196, 0.077512085, 0.004650931, -0.084988446, 0.088259359,
            -0.011722073, -0.058063867, -0.000623745, 0.005152744, -0.025753832, 0.002330582,
            0.027244446, -0.044712696, 0.044555303, -0.011809085, -0.011500978, -0.033006783,
            -0.004378892, -0.011947531, -0.014613663, 0.017014315, 0.010782438, 0.001640786,
            0.003112093, 0.004323465, -0.005453057, 0.001941781, 0.005564388, -0.006426061,
            -0.006543857, 0.010297382, -0.0008997, -0.005534439, 0.003759607, -0.000387831,
            0.001194008, 0.006462762, -0.004225694, 0.001939696, -0.002158238, 0.000542336,
            -0.003625136, -0.003622807, -6.4519e-05, -0.002528866, -0.00080732, 0.002080789,
        ];
        #[rustfmt::skip]
        const AFF_ROW_0: [f64; 41] = [
            1.0, 0.981099581, 0.97200953, 0.959716284, 0.943945979, 0.924737326,
            0.902054063, 0.874176509, 0.831536291, 0.738672231, 0.458620462, 0.242276196,
            0.169965937, 0.135981364, 0.116576142, 0.104202032, 0.095707704, 0.089478327,
            0.084945432, 0.067815102, 0.046184997, 0.021640409, 0.033004817, 0.033474539,
            0.032327803, 0.03111141, 0.030089499, 0.029277655, 0.02864319, 0.028149393,
            0.027765024, 0.027465363, 0.027231288, 0.027048102, 0.026904503, 0.026791778,
            0.026703185, 0.026633492, 0.026578625, 0.026535403, 0.026501338,
        ];
        #[rustfmt::skip]
        const AFF_ROW_1: [f64; 41] = [
            0.981099581, 1.0, 0.999097135, 0.995925391, 0.98989786, 0.98063686,
            0.96769322, 0.949020504, 0.914490203, 0.824965127, 0.517323555, 0.275291578,
            0.194711855, 0.156905551, 0.135304897, 0.121487196, 0.111934942, 0.104814879,
            0.099328057, 0.080076673, 0.055840617, 0.020488239, 0.034833454, 0.036219073,
            0.035397134, 0.034306144, 0.033332618, 0.032536981, 0.031904909, 0.031407766,
            0.031017993, 0.030712553, 0.030473065, 0.030285117, 0.030137472, 0.030021382,
            0.029930032, 0.0298581, 0.029801427, 0.029756757, 0.029721534,
        ];
        #[rustfmt::skip]
        const AFF_ROW_20: [f64; 41] = [
            0.046184997, 0.055840617, 0.058006574, 0.060574935, 0.063670231, 0.067596186,
            0.07311547, 0.082305069, 0.102204844, 0.172391105, 0.466219696, 0.542059711,
            0.555220905, 0.561349632, 0.565788663, 0.569801296, 0.574186923, 0.581481227,
            0.664777947, 0.945267514, 1.0, 0.495913892, 0.336119164, 0.259679967,
            0.217866079, 0.192622778, 0.176239041, 0.165049817, 0.157126277, 0.151366007,
            0.147096479, 0.143885665, 0.141444374, 0.139572536, 0.138128024, 0.137007698,
            0.136135421, 0.135454214, 0.134920961, 0.134502753, 0.134174292,
        ];
        #[rustfmt::skip]
        const AFF_ROW_40: [f64; 41] = [
            0.026501338, 0.029721534, 0.030182829, 0.030555787, 0.030730506, 0.030533513,
            0.029645987, 0.027324396, 0.021449214, 0.006888687, 0.012199219, 0.015904651,
            0.016875256, 0.017753057, 0.018836818, 0.020129932, 0.021416553, 0.021769357,
            0.025375312, 0.069646609, 0.134174292, 0.64444093, 0.885553262, 0.955106738,
            0.979540726, 0.989785131, 0.994603416, 0.997045414, 0.998346158, 0.999062598,
            0.99946609, 0.999696521, 0.999829064, 0.999905379, 0.999949083, 0.999973786,
            0.999987417, 0.999994632, 0.999998171, 0.999999646, 1.0,
        ];
        #[rustfmt::skip]
        const AFF_SUB_COLSUMS: [f64; 40] = [
            11.096887849, 11.220977723, 11.340785989, 11.449196679, 11.543054439, 11.626263907,
            11.709547246, 11.808298941, 12.224948808, 14.791492447, 13.613650954, 12.957826759,
            12.631003549, 12.449869033, 12.343632052, 12.27324838, 12.187318879, 12.220237672,
            12.00066379, 11.436163985, 16.615862148, 19.8192128, 20.423921077, 20.488758985,
            20.439900318, 20.37129568, 20.307254191, 20.253191312, 20.209215991, 20.174015671,
            20.146050024, 20.1239128, 20.106420299, 20.092609548, 20.081709557, 20.073107874,
            20.066319889, 20.060962885, 20.056734879, 20.05339767,
        ];
        let (bg, fg) = reference_sets();
        // The Python script prints these (float32 values as float64): same data bit for bit.
        let first = [
            -2.896_089_315_414_428_7,
            5.950_495_243_072_51,
            4.163_264_751_434_326,
        ];
        let last = [
            -0.069_130_130_112_171_17,
            -0.111_924_692_988_395_69,
            -0.054_048_452_526_330_95,
        ];
        assert!(bg[..3].iter().zip(first).all(|(&a, b)| f64::from(a) == b));
        assert!(fg[fg.len() - 3..]
            .iter()
            .zip(last)
            .all(|(&a, b)| f64::from(a) == b));
        let d = 20;

        let fixed = fit(&bg, &fg, d, 3, 2, &opts(Some(2.0))).unwrap();
        assert_same_subspace(&fixed.salient, &SALIENT_ALPHA2, d, 2, "salient, alpha = 2");
        assert_same_subspace(&fixed.common, &COMMON3, d, 3, "common");
        let ev = [3.390_550_420_885_514_6, 1.800_403_494_176_542_6];
        for (a, b) in fixed.salient_eigenvalues.iter().zip(ev) {
            assert!((f64::from(*a) - b).abs() < 1e-4, "{a} vs {b}");
        }
        let var = [
            10.659_315_095_842_19,
            6.800_611_498_081_881,
            4.708_278_492_253_776,
        ];
        for (a, b) in fixed.common_variances.iter().zip(var) {
            assert!((f64::from(*a) - b).abs() < 1e-4, "{a} vs {b}");
        }

        let auto = fit(&bg, &fg, d, 3, 2, &opts(None)).unwrap();
        let n = 41;
        assert_eq!(auto.affinity.len(), n * n);
        let rows = [
            (0, &AFF_ROW_0),
            (1, &AFF_ROW_1),
            (20, &AFF_ROW_20),
            (40, &AFF_ROW_40),
        ];
        let mut worst = 0f64;
        for (r, want) in rows {
            for (j, w) in want.iter().enumerate() {
                worst = worst.max((auto.affinity[r * n + j] - w).abs());
            }
        }
        for (j, w) in AFF_SUB_COLSUMS.iter().enumerate() {
            let s: f64 = (1..n).map(|i| auto.affinity[i * n + j + 1]).sum();
            worst = worst.max((s - w).abs() / 40.0);
        }
        assert!(worst < 1e-4, "affinity differs by {worst}");
        // sklearn cluster_qr labels: [2]*10 + [1]*9 + [0]*4 + [3]*18 (same partition).
        let want = [(0, 10), (10, 19), (19, 23), (23, 41)];
        for (a, b) in want {
            assert!(auto.clusters[a..b].iter().all(|&c| c == auto.clusters[a]));
        }
        let firsts: Vec<usize> = want.iter().map(|&(a, _)| auto.clusters[a]).collect();
        assert!((0..4).all(|c| firsts.contains(&c)), "{:?}", auto.clusters);
        assert_eq!(auto.exemplars, [12, 20, 28]);
        assert_eq!(auto.alpha_index, 12);
        assert!(
            (auto.alpha - 1.343_399_332_598_9).abs() < 1e-12,
            "{}",
            auto.alpha
        );
        assert!((auto.alphas[40] - 1000.0).abs() < 1e-9 && (auto.alphas[1] - 0.1).abs() < 1e-15);
        // For M = 2 the package's literal two-cosine product is the same affinity.
        let top_two = CpcaOptions {
            affinity: AffinityCosines::TopTwo,
            ..opts(None)
        };
        assert_eq!(
            fit(&bg, &fg, d, 3, 2, &top_two).unwrap().affinity,
            auto.affinity
        );
    }

    #[test]
    fn reduction_matches_the_full_problem_when_k_covers_the_rank() {
        // D = 60 with 12 + 12 images: the stacked centred data have rank <= 22 <= K = 30, and
        // K + 16 < D, so the randomized range finder runs (f32 products) and must lose nothing.
        let (d, n) = (60, 12);
        let mut g = SplitMix64(5);
        let mut draw = |planted: bool| -> Vec<f32> {
            let mut out = Vec::new();
            for _ in 0..n {
                let (a, b) = (5.0 * normal(&mut g), 3.0 * normal(&mut g));
                for j in 0..d {
                    let mut v = 0.2 + (1.0 + (j % 4) as f64) * 0.3 * normal(&mut g);
                    if planted && j < 10 {
                        v += a / 10f64.sqrt();
                    }
                    if planted && (30..40).contains(&j) {
                        v += b * if j % 2 == 0 { 1.0 } else { -1.0 } / 10f64.sqrt();
                    }
                    out.push(v as f32);
                }
            }
            out
        };
        let (x, y) = (draw(false), draw(true));
        let full = CpcaOptions {
            reduce_dim: None,
            ..opts(None)
        };
        let reduced = CpcaOptions {
            reduce_dim: Some(30),
            ..opts(None)
        };
        let a = fit(&x, &y, d, 3, 2, &full).unwrap();
        let b = fit(&x, &y, d, 3, 2, &reduced).unwrap();
        assert_eq!((a.reduced_dim, b.reduced_dim), (60, 30));
        assert!(
            (b.retained_variance - 1.0).abs() < 1e-5,
            "{}",
            b.retained_variance
        );
        let f64s = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
        assert_same_subspace(&b.common, &f64s(&a.common), d, 3, "common");
        assert_eq!(a.alpha_index, b.alpha_index);
        assert_same_subspace(&b.salient, &f64s(&a.salient), d, 2, "salient");
        let worst = a
            .affinity
            .iter()
            .zip(&b.affinity)
            .map(|(p, q)| (p - q).abs());
        assert!(worst.fold(0.0, f64::max) < 1e-4);
        for alpha in [0.5, 50.0] {
            let a = fit(
                &x,
                &y,
                d,
                3,
                2,
                &CpcaOptions {
                    alpha: Some(alpha),
                    ..full.clone()
                },
            );
            let b = fit(
                &x,
                &y,
                d,
                3,
                2,
                &CpcaOptions {
                    alpha: Some(alpha),
                    ..reduced.clone()
                },
            );
            let (a, b) = (a.unwrap(), b.unwrap());
            assert_same_subspace(&b.salient, &f64s(&a.salient), d, 2, "salient, fixed alpha");
        }
        // Deterministic for a seed.
        assert_eq!(fit(&x, &y, d, 3, 2, &reduced).unwrap(), b);
    }

    #[test]
    fn errors_are_sentences() {
        let err =
            |x: &[f32], y: &[f32], d, l, m, o: &CpcaOptions| fit(x, y, d, l, m, o).unwrap_err();
        let o = CpcaOptions::default();
        let four = [0.0, 1.0, 2.0, 4.0];
        assert_eq!(
            err(&[], &four, 2, 1, 1, &o),
            "cPCA needs at least 2 background images (got 0)"
        );
        assert_eq!(
            err(&four, &four[..2], 2, 1, 1, &o),
            "cPCA needs at least 2 target images (got 1)"
        );
        assert_eq!(
            err(&four[..3], &four, 2, 1, 1, &o),
            "the background buffer holds 3 values, which is not a whole number of images of 2 values"
        );
        assert_eq!(
            err(&four, &four, 0, 1, 1, &o),
            "cPCA needs images of at least one value (dim is 0)"
        );
        let nan = [0.0, 1.0, f32::NAN, 4.0];
        assert_eq!(
            err(&four, &nan, 2, 1, 1, &o),
            "target image 1 holds a non-finite value at position 0"
        );
        assert!(err(&four, &four, 2, 3, 1, &o)
            .starts_with("common_dim = 3 exceeds the working dimension 2"));
        let k1 = CpcaOptions {
            reduce_dim: Some(1),
            ..o.clone()
        };
        assert!(err(&four, &four, 2, 1, 2, &k1)
            .starts_with("salient_dim = 2 exceeds the working dimension 1"));
        let six = [0.0, 1.0, 2.0, 4.0, 3.0, 3.0];
        assert!(err(&six, &six, 3, 2, 1, &o)
            .starts_with("common_dim = 2 exceeds the rank of the background covariance (1"));
        assert_eq!(
            err(&four, &four, 2, 0, 1, &o),
            "cPCA needs at least one common and one salient direction"
        );
        let neg = CpcaOptions {
            alpha: Some(-1.0),
            ..o.clone()
        };
        assert_eq!(
            err(&four, &four, 2, 1, 1, &neg),
            "alpha must be a finite number >= 0 (got -1)"
        );
        let k0 = CpcaOptions {
            reduce_dim: Some(0),
            ..o.clone()
        };
        assert_eq!(
            err(&four, &four, 2, 1, 1, &k0),
            "reduce_dim must be at least 1 (or None for no reduction)"
        );
        let c = CpcaOptions { n_clusters: 1, ..o };
        assert_eq!(
            err(&four, &four, 2, 1, 1, &c),
            "n_clusters must be between 2 and n_alphas + 1 = 41 (got 1)"
        );
    }
}
