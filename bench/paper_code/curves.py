"""Training curves of the paper's code (adapter.py's metrics.csv) beside this project's
(`dinfogan train`'s metrics.csv), the same loss terms on the same axes:

    python3 bench/paper_code/curves.py --paper runs/paper-*/ --ours runs/ours-*/ --steps 4000 --out curves.png

Both log the loss terms weighted by domain (w_bg, w_t) and unweighted by term, so they compare
directly: G adversarial, G info (z and s), G image reconstruction, D adversarial, D class, D info.
Each curve is a moving average over --smooth steps.
"""

import argparse
import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# term: (our metrics.csv column, the paper code's logged names whose sum is the same quantity)
TERMS = {
    "G adversarial": ("g_adversarial", ["g_loss/g_adv_loss"]),
    "G info (z + s)": ("g_info", ["g_loss/g_info_loss_z", "g_loss/g_info_loss_s"]),
    "G image": ("g_image", ["g_loss/g_img_recon_loss"]),
    "D adversarial": ("d_adversarial", ["d_loss/d_adv_loss"]),
    "D class": ("d_class", ["d_loss/d_class_loss"]),
    "D info (z + s)": ("d_info", ["d_loss/d_info_loss_z", "d_loss/d_info_loss_s"]),
}


def read(path, columns, steps):
    out = []
    with open(os.path.join(path, "metrics.csv")) as f:
        for row in csv.DictReader(f):
            if int(row["step"]) > steps:
                break
            out.append(sum(float(row[c]) for c in columns))
    return out


def smooth(values, k):
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= k:
            total -= values[i - k]
        out.append(total / min(i + 1, k))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--paper", nargs="+", required=True, help="adapter.py run folders")
    p.add_argument("--ours", nargs="+", required=True, help="dinfogan run folders")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--smooth", type=int, default=100)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, (title, (ours, paper)) in zip(axes.flat, TERMS.items()):
        for i, run in enumerate(a.paper):
            v = smooth(read(run, paper, a.steps), a.smooth)
            ax.plot(range(1, len(v) + 1), v, color="tab:orange", lw=1,
                    label="paper's code" if i == 0 else None)
        for i, run in enumerate(a.ours):
            v = smooth(read(run, [ours], a.steps), a.smooth)
            ax.plot(range(1, len(v) + 1), v, color="tab:blue", lw=1,
                    label="dinfogan" if i == 0 else None)
        ax.set_title(title)
        ax.set_xlabel("step")
    axes.flat[0].legend()
    fig.tight_layout()
    fig.savefig(a.out, dpi=80)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
