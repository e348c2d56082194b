"""Synthetic brain MRI volumes in the BraTS layout, for trying `data build brats`, the Table 5
network and `eval lesion` end to end without patient data (no BraTS download is needed).

Each subject is a head of random shape (an ellipsoid skull, the brain inside it with a smooth
random texture, two ventricles of random size) in a 96 x 112 x 80 volume of 1.5 mm voxels; most
subjects also have a tumour: a ball of random centre (inside the brain), radius and intensity
(brighter or darker than the brain), with its BraTS-style segmentation (labels 1, 4, 2 from the
core out). Healthy subjects have no `_seg` file, like control subjects.

    pip install numpy nibabel
    python3 scripts/synthetic-brats.py OUT_DIR [--subjects 120] [--healthy 0.2] [--seed 0]

These are geometric toys: a model that localises their tumours shows that the path works, not
that it works on real brains.
"""

import argparse
from pathlib import Path

import nibabel as nib
import numpy as np

DIMS = (96, 112, 80)
VOXEL_MM = 1.5


def smooth_noise(rng, shape, scale):
    """Low-frequency noise in [-1, 1]: random values on a coarse grid, upsampled linearly."""
    coarse = rng.uniform(-1, 1, size=tuple(max(2, s // scale) for s in shape))
    for axis, size in enumerate(shape):
        old = np.linspace(0, 1, coarse.shape[axis])
        new = np.linspace(0, 1, size)
        coarse = np.apply_along_axis(lambda v: np.interp(new, old, v), axis, coarse)
    return coarse


def subject(rng, tumour):
    x, y, z = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in DIMS), indexing="ij")
    centre = np.array(DIMS, dtype=np.float32) / 2 + rng.normal(0, 1.5, 3)
    radii = np.array(DIMS, dtype=np.float32) * 0.42 * rng.uniform(0.9, 1.05, 3)

    def inside(c, r):
        return ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2 <= 1

    image = np.zeros(DIMS, dtype=np.float32)
    image[inside(centre, radii)] = 300
    brain = inside(centre, radii * 0.86)
    texture = smooth_noise(rng, DIMS, 8)
    image[brain] = 600 + 60 * texture[brain]
    spread = rng.uniform(0.14, 0.22)
    ventricle = radii * np.array([rng.uniform(0.10, 0.16), rng.uniform(0.25, 0.35), rng.uniform(0.2, 0.3)])
    for side in (-1, 1):
        image[inside(centre + np.array([side * spread * radii[0], 0, 0]), ventricle)] = 150
    seg = np.zeros(DIMS, dtype=np.float32)
    if tumour:
        # A centre well inside the brain, away from the ventricles' plane.
        while True:
            t = centre + rng.uniform(-0.6, 0.6, 3) * radii * 0.86
            if abs(t[0] - centre[0]) > 0.15 * radii[0]:
                break
        r = rng.uniform(5, 13)
        d = np.sqrt((x - t[0]) ** 2 + (y - t[1]) ** 2 + (z - t[2]) ** 2)
        ball = (d <= r) & brain
        contrast = rng.choice([-1, 1]) * rng.uniform(0.3, 0.6)
        image[ball] = 600 * (1 + contrast) + 40 * texture[ball]
        seg[ball & (d <= 0.4 * r)] = 1
        seg[ball & (d > 0.4 * r) & (d <= 0.7 * r)] = 4
        seg[ball & (d > 0.7 * r)] = 2
    image += rng.normal(0, 8, DIMS).astype(np.float32) * (image > 0)
    return image, seg


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--subjects", type=int, default=120)
    ap.add_argument("--healthy", type=float, default=0.2, help="share of subjects without a tumour")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    affine = np.diag([VOXEL_MM, VOXEL_MM, VOXEL_MM, 1.0])
    for k in range(args.subjects):
        name = f"Synthetic_{k:05d}"
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        tumour = rng.uniform() >= args.healthy
        image, seg = subject(rng, tumour)
        nib.save(nib.Nifti1Image(image, affine), folder / f"{name}_t1.nii.gz")
        if tumour:
            nib.save(nib.Nifti1Image(seg, affine), folder / f"{name}_seg.nii.gz")
    print(f"wrote {args.subjects} subjects to {args.out}")


if __name__ == "__main__":
    main()
