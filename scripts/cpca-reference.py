"""Reference numbers for the Rust cPCA tests, from the `contrastive` package (1.2.0).

The data come from a tiny generator (splitmix64 + Irwin-Hall normals) that the Rust test
reimplements bit for bit, so the test needs no data constants. Values are rounded to f32,
as the Rust fit takes f32 buffers; the package then works on the same numbers in f64.
"""
import numpy as np
from numpy import linalg as LA
from sklearn.decomposition import PCA
from contrastive import CPCA

MASK = (1 << 64) - 1


class SplitMix:
    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def normal(self):
        # Irwin-Hall: sum of 12 uniforms minus 6 (mean 0, variance 1); exact in f64 in this order.
        acc = 0.0
        for _ in range(12):
            acc += self.uniform()
        return acc - 6.0


D = 20
N = 200


def std(j):
    return 3.0 * 0.85 ** j


def make_sets():
    r3 = 1.0 / np.sqrt(3.0)
    r2 = 1.0 / np.sqrt(2.0)
    g = SplitMix(11)
    bg = []
    for _ in range(N):
        bg.append([0.05 * (j % 5) + std(j) * g.normal() for j in range(D)])
    g = SplitMix(22)
    fg = []
    for _ in range(N):
        row = [-0.03 * (j % 7) + std(j) * g.normal() for j in range(D)]
        a = 2.5 * g.normal()
        b = 1.5 * g.normal()
        for j in (5, 6, 7):
            row[j] += a * r3
        row[10] += b * r2
        row[11] -= b * r2
        fg.append(row)
    return (np.array(bg, dtype=np.float32).astype(np.float64),
            np.array(fg, dtype=np.float32).astype(np.float64))


bg, fg = make_sets()
print("bg[0][:4]", bg[0][:4].tolist(), "fg[199][-3:]", fg[199][-3:].tolist())

cp = CPCA(n_components=2, standardize=False)
cp.fit(fg, bg)

# Salient directions for alpha = 2, exactly as cpca_alpha picks them.
alpha = 2.0
w, v = LA.eig(cp.fg_cov - alpha * cp.bg_cov)
idx = np.argpartition(w, -2)[-2:]
idx = idx[np.argsort(-w[idx])]
print("eig dtype", w.dtype, "top eigenvalues", np.real(w[idx]).tolist())
V = np.real(v[:, idx])
print("SALIENT_ALPHA2 (20x2, row-major) =", np.round(V, 9).ravel().tolist())

pca = PCA(n_components=3).fit(bg)
print("COMMON3 (20x3, row-major) =", np.round(pca.components_.T, 9).ravel().tolist())
print("COMMON3 variances", pca.explained_variance_.tolist())

cp.create_affinity_matrix(max_log_alpha=3, n_alphas=40)
A = cp.affinity_matrix
alphas = np.concatenate(([0], np.logspace(-1, 3, 40)))
print("affinity dtype", A.dtype, "shape", A.shape, "symmetric", np.allclose(A, A.T))
for r in (0, 1, 20, 40):
    print(f"AFF_ROW_{r} =", np.round(A[r], 9).tolist())
sums = A[1:, 1:].sum(axis=0)
print("AFF_SUB_COLSUMS =", np.round(sums, 9).tolist())
best = 1 + int(np.argmax(sums))
print("single-cluster medoid index", best, "alpha", repr(alphas[best]))
# The Rust rule: the package's spectral clustering (4 clusters, precomputed affinity) with
# sklearn's deterministic label assignment 'cluster_qr' in place of k-means, the package's
# exemplar per cluster that does not hold alpha = 0, then the largest exemplar whose top-2
# eigenvalues of fg_cov - alpha*bg_cov are both positive.
from sklearn import cluster
sc = cluster.SpectralClustering(n_clusters=4, affinity='precomputed', assign_labels='cluster_qr').fit(A)
ex = []
for c in range(4):
    idx = np.where(sc.labels_ == c)[0]
    if len(idx) and 0 not in idx:
        ex.append(int(idx[np.argmax(A[idx][:, idx].sum(axis=0))]))
ex.sort()
lam2 = [np.sort(LA.eigvalsh(cp.fg_cov - alphas[i] * cp.bg_cov))[::-1][1] for i in ex]
print("cluster_qr labels", sc.labels_.tolist())
print("EXEMPLARS =", ex, "alphas", [repr(alphas[i]) for i in ex], "second eigenvalues", lam2)
chosen = [i for i, l in zip(ex, lam2) if l > 0][-1]
print("CHOSEN index", chosen, "alpha", repr(alphas[chosen]))
# The package's own automatic mode (spectral clustering, 4 clusters; k-means inside is random).
for seed in (0, 1, 2):
    np.random.seed(seed)
    best_alphas, _, _, labels = cp.find_spectral_alphas(40, 3, 4)
    print("package spectral alphas (np seed", seed, "):", [0.0] + list(best_alphas), "labels", labels.tolist())
