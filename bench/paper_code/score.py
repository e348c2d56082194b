#!/usr/bin/env python3
"""Scores codes CSVs (`dinfogan encode`, or bench/paper_code/adapter.py) with the paper's
protocol, in scikit-learn:

    python3 bench/paper_code/score.py --data TEST.dat codes-a.csv [codes-b.csv ...] [--seed 0] [--csv OUT]

For every label of the dataset file's header that is scored (not bookkeeping) and for the
domain label `target` (background 0 / target 1, salient, scored on every image), on the images
its header entry says (`scored_on`: all, target or background images; label -1 = none), and for
each space (s, then z): LogisticRegression() with scikit-learn's defaults (L2, C = 1, lbfgs,
max_iter 100, no standardisation) under 5-fold cross_val_score (StratifiedKFold without
shuffling), as the public evaluation scripts (eval/eval_target_sep_*_infogan.py) do. Those
scripts read the codes through a DataLoader with shuffle=True, so the rows reach the classifier
in a shuffled order: here the rows are put in file order (by the index that ends each image
name, `path:index`, so a CSV written domain by domain and one written in file order give the
same rows), then permuted by numpy's RandomState(--seed).permutation, before each label picks
its images. Prints mean ± std (population std, numpy's) of the fold accuracies and the
majority-class rate, as a Markdown table; --csv OUT writes the same rows.
"""

import argparse
import csv
import os
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import datfile  # noqa: E402


def read_codes(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path} is empty")
    head, body = rows[0], rows[1:]
    for need in ("image", "domain", "label"):
        if need not in head:
            raise ValueError(f"{path} has no {need} column: is it a codes CSV?")
    if any(len(r) != len(head) for r in body):
        raise ValueError(f"{path} has rows of the wrong length")
    # File order, when every image name ends in a distinct ":index".
    try:
        idx = [int(r[head.index("image")].rsplit(":", 1)[1]) for r in body]
        if len(set(idx)) == len(idx):
            body = [r for _, r in sorted(zip(idx, body), key=lambda t: t[0])]
    except (IndexError, ValueError):
        pass
    col = {name: i for i, name in enumerate(head)}
    z = [i for i, n in enumerate(head) if n.startswith("z_")]
    s = [i for i, n in enumerate(head) if n.startswith("s_")]
    if not z or not s:
        raise ValueError(f"{path} has no z_* or s_* columns")
    arr = lambda cols: np.array([[float(r[i]) for i in cols] for r in body], dtype=np.float64)
    return {
        "z": arr(z),
        "s": arr(s),
        "domain": np.array([int(r[col["label"]]) for r in body]),
        "labels": {n[len("label_"):]: np.array([int(r[i]) if r[i] != "" else -1 for r in body])
                   for n, i in col.items() if n.startswith("label_")},
    }


def label_specs(header, only):
    specs = [{"name": "target", "role": "salient", "scored_on": "all"}]
    specs += [l for l in header["labels"] if l["role"] != "bookkeeping"]
    if only:
        specs = [l for l in specs if any(l["name"].startswith(o) for o in only)]
    return specs


def score(codes, header, seed, folds, only):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    n = len(codes["domain"])
    perm = np.random.RandomState(seed).permutation(n)
    out = []
    for spec in label_specs(header, only):
        if spec["name"] == "target":
            y_all = codes["domain"]
        elif spec["name"] in codes["labels"]:
            y_all = codes["labels"][spec["name"]]
        else:
            print(f"skipped {spec['name']}: no label_{spec['name']} column", file=sys.stderr)
            continue
        dom = codes["domain"]
        scored = {"all": np.ones(n, bool), "target": dom == 1, "background": dom == 0}[spec["scored_on"]]
        keep = perm[(scored & (y_all >= 0))[perm]]
        y = y_all[keep]
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            print(f"skipped {spec['name']}: fewer than two classes", file=sys.stderr)
            continue
        for space in ("s", "z"):
            x = codes[space][keep]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # lbfgs stops at 100 iterations, as in the paper's runs
                try:
                    acc = cross_val_score(LogisticRegression(), x, y, cv=folds)
                except ValueError as e:
                    print(f"skipped {spec['name']} ({space}): {e}", file=sys.stderr)
                    continue
            salient = spec["role"] == "salient"
            out.append({
                "label": spec["name"], "role": spec["role"], "scored_on": spec["scored_on"], "space": space,
                "images": int(len(y)), "classes": int(len(classes)),
                "accuracy_mean": float(acc.mean()), "accuracy_std": float(acc.std()),
                "majority_class": float(counts.max() / len(y)),
                "desired": "high" if (space == "s") == salient else "chance",
            })
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("codes", nargs="+", help="codes CSVs")
    ap.add_argument("--data", required=True, help="the dataset file the codes are of (for its label roles)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the row permutation")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--labels", nargs="*", default=[], help="only labels starting with these names")
    ap.add_argument("--csv", default=None, help="also write the rows to this CSV")
    args = ap.parse_args(argv)
    try:
        header = datfile.read_header(args.data)
    except datfile.DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    table = []
    for path in args.codes:
        try:
            codes = read_codes(path)
        except (OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        if len(codes["domain"]) != header["count"]:
            print(f"note: {path} has {len(codes['domain'])} rows, {args.data} {header['count']} images",
                  file=sys.stderr)
        for row in score(codes, header, args.seed, args.folds, args.labels):
            table.append({"codes": path, **row})
    cols = ["codes", "label", "role", "scored_on", "space", "images", "classes", "accuracy_mean",
            "accuracy_std", "majority_class", "desired"]
    print(f"Logistic regression, {args.folds}-fold stratified CV, rows permuted with seed {args.seed}\n")
    print("| codes | label | space | images | classes | accuracy | majority class | desired |")
    print("|---|---|---|---:|---:|---|---:|---|")
    for r in table:
        print(f"| {os.path.basename(r['codes'])} | {r['label']} ({r['role']}, {r['scored_on']}) | {r['space']} | "
              f"{r['images']} | {r['classes']} | {100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f} | "
              f"{100 * r['majority_class']:.2f} | {'↑' if r['desired'] == 'high' else '↓ (chance)'} |")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
            w.writeheader()
            w.writerows(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
