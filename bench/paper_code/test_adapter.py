#!/usr/bin/env python3
"""Tests of the paper-code adapter on a small synthetic dataset file (CPU, about a minute):

    python3 bench/paper_code/test_adapter.py --upstream /work/upstream/Double_InfoGAN

1. the dataset reader reads what the writer wrote and refuses truncated or hostile files;
2. PyTorch Lightning 1.x semantics: a G update changes only G's parameters, a D update only
   D's (the Q heads included), a CR update only the CR net's; requires_grad flags come back;
3. the networks at 32x32 have the project's channel counts (src/nets/dcgan.rs), and 64x64 at width
   64 keeps the upstream classes;
4. a 30-step run (codes every 15 steps): finite losses in metrics.csv, the codes CSVs in the
   format of `dinfogan encode`, run.json, state.pt; re-making the codes from state.pt gives the
   same evaluation-mode codes; score.py scores them.

Skips (exit 0, with a message) when torch or the upstream folder is missing.
"""

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
try:
    import numpy as np
    import datfile
except ImportError as e:  # reported by main()
    np = None
    MISSING = e.name

FAILED = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILED.append(what)


def synthetic(path, n, seed, side=32, channels=3):
    """A small contrastive set: backgrounds are coloured gradients (common factor: hue, 3
    classes), targets add a bright square or cross (salient label: shape) at a random place."""
    rng = np.random.RandomState(seed)
    domains = np.arange(n) % 2
    rng.shuffle(domains)
    pixels = np.zeros((n, channels, side, side), np.uint8)
    labels = np.full((n, 2), -1, np.int32)
    factors = np.full((n, 2), np.nan, np.float32)
    yy, xx = np.mgrid[0:side, 0:side] / side
    for i in range(n):
        hue = rng.randint(3)
        base = np.stack([0.4 * (c == hue) + 0.3 * (xx if c % 2 else yy) for c in range(channels)])
        img = base
        labels[i, 1] = hue
        if domains[i]:
            shape = rng.randint(2)
            x, y = rng.randint(4, side - 12), rng.randint(4, side - 12)
            if shape == 0:
                img[:, y:y + 8, x:x + 8] = 1.0
            else:
                img[:, y + 3:y + 5, x:x + 8] = 1.0
                img[:, y:y + 8, x + 3:x + 5] = 1.0
            labels[i, 0] = shape
            factors[i] = (x / side, y / side)
        pixels[i] = np.clip(img * 255 + rng.randint(0, 8, img.shape), 0, 255).astype(np.uint8)
    header = {
        "recipe": "test",
        "description": "synthetic squares and crosses on gradients",
        "side": side,
        "channels": channels,
        "labels": [
            {"name": "shape", "role": "salient", "scored_on": "target"},
            {"name": "hue", "role": "common", "scored_on": "all"},
        ],
        "factor_names": ["x", "y"],
    }
    datfile.write(path, header, domains, labels, factors, pixels)


def test_reader(tmp):
    path = os.path.join(tmp, "r.dat")
    synthetic(path, 10, 1)
    ds = datfile.Dataset(path)
    check(len(ds) == 10 and ds.side == 32 and ds.channels == 3, "reader: count, side, channels")
    check(ds.labels.shape == (10, 2) and ds.factors.shape == (10, 2), "reader: labels and factors")
    check(np.isnan(ds.factors[ds.domains == 0]).all(), "reader: NaN factors of background images")
    u = datfile.unit_table()
    check(u[0] == -1.0 and u[255] == 1.0 and u.dtype == np.float32, "pixels: byte / 127.5 - 1 in [-1, 1]")
    raw = open(path, "rb").read()
    for what, bytes_ in [("truncated", raw[:-1]), ("not ours", b"PNG" + raw[3:]),
                         ("huge header", raw[:12] + (1 << 30).to_bytes(4, "little") + raw[16:])]:
        bad = os.path.join(tmp, "bad.dat")
        open(bad, "wb").write(bytes_)
        try:
            datfile.Dataset(bad)
            check(False, f"reader refuses a {what} file")
        except datfile.DatasetError as e:
            check(len(str(e)) > 0, f"reader refuses a {what} file: {e}")
    # A header claiming more images than the file holds is refused before reading.
    h = json.loads(raw[16:16 + int.from_bytes(raw[12:16], "little")])
    h["count"] = 10 ** 12
    hb = json.dumps(h).encode()
    bad = os.path.join(tmp, "bad.dat")
    open(bad, "wb").write(raw[:12] + len(hb).to_bytes(4, "little") + hb)
    try:
        datfile.Dataset(bad)
        check(False, "reader refuses a header claiming 10^12 images")
    except datfile.DatasetError as e:
        check("truncated or corrupt" in str(e), "reader refuses a header claiming 10^12 images")


def test_semantics(upstream, tmp):
    import torch
    import adapter

    up = adapter.load_upstream(upstream)
    adapter.patch_copy_index(up)
    args = adapter.parse_args(["--upstream", upstream, "--train", "x", "--test", "x", "--out", tmp,
                               "--steps", "1", "--batch", "8", "--loop-g", "1", "--loop-d", "1",
                               "--loop-cr", "1", "--w-cr", "1"])
    torch.manual_seed(0)
    config = adapter.make_config(args, 3, 32, 32, "test")
    with open(os.devnull, "w") as devnull:
        module = adapter.build_module(up, config, os.path.join(tmp, "sem") + os.sep, None, devnull)
        optimizers, _ = module.configure_optimizers()
    module.train()

    # The project's channel counts at 32x32, width 32 (src/nets/dcgan.rs).
    d_convs = [m for n, m in module.discriminator.named_modules() if isinstance(m, torch.nn.Conv2d)]
    check([(c.in_channels, c.out_channels) for c in d_convs] ==
          [(3, 32), (32, 64), (64, 128), (128, 1), (128, 1), (128, 95), (128, 15)],
          "D at 32x32: 3->32->64->128, heads 128->1, 1, 95, 15")
    g_convs = [m for m in module.generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    check([(c.in_channels, c.out_channels) for c in g_convs] == [(110, 128), (128, 64), (64, 32), (32, 3)],
          "G at 32x32: 110->128->64->32->3")
    check(not any(getattr(m, "bias", None) is not None for m in module.modules()
                  if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))), "no biases, as upstream")
    x = torch.rand(8, 3, 32, 32) * 2 - 1
    v, c, z, s = module.discriminator(x)
    check(tuple(v.shape) == (8, 1) and tuple(z.shape) == (8, 95) and tuple(s.shape) == (8, 15)
          and bool(((v > 0) & (v < 1)).all()), "D outputs: sigmoid validity and class, z and s")
    check(tuple(module.generator(torch.randn(8, 110)).shape) == (8, 3, 32, 32), "G output 32x32")
    check(tuple(module.cr_net(torch.cat([x, x], 1)).shape) == (8, 15), "CR net output: 15 logits")
    D64, G64, CR64 = adapter.network_classes(up, 64, 64)
    check((D64, G64, CR64) == (up.D_DCGAN.Discriminator, up.G_DCGAN.Generator, up.CR_DCGAN.CR_Net),
          "64x64 at width 64: the upstream classes untouched")
    check([type(o).__name__ for o in optimizers] == ["Adam"] * 3
          and all(o.defaults["betas"] == (0.5, 0.999) and o.defaults["eps"] == 1e-8 for o in optimizers),
          "optimisers: [opt_g, opt_d, opt_cr], Adam betas (0.5, 0.999), eps 1e-8")

    nets = {"G": module.generator, "D": module.discriminator, "CR": module.cr_net}
    labels = torch.tensor([0, 1] * 4)
    batch = (torch.rand(8, 3, 32, 32) * 2 - 1, labels)
    for idx, owner in enumerate(["G", "D", "CR"]):
        before = {k: [p.detach().clone() for p in n.parameters()] for k, n in nets.items()}
        flags = [p.requires_grad for p in module.parameters()]
        loss = adapter.optimizer_step(module, optimizers, idx, batch, 1)
        changed = {k: any(not torch.equal(a, b) for a, b in zip(before[k], n.parameters()))
                   for k, n in nets.items()}
        check(changed == {k: k == owner for k in nets},
              f"optimizer_idx {idx} ({owner} step) changes only {owner}'s parameters: {changed}")
        check(bool(torch.isfinite(loss)), f"{owner} step loss finite ({float(loss):.4f})")
        check(flags == [p.requires_grad for p in module.parameters()], f"{owner} step: requires_grad restored")
    logged = module.adapter_logged
    check("Loss/g_loss" in logged and "Loss/d_loss" in logged and "Loss/cr_loss" in logged
          and "g_loss/g_cr_loss" in logged, "training_step logs are recorded without a Trainer")


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_run(upstream, tmp):
    train, test = os.path.join(tmp, "train.dat"), os.path.join(tmp, "test.dat")
    synthetic(train, 200, 2)
    synthetic(test, 100, 3)
    out = os.path.join(tmp, "run")
    cmd = [sys.executable, os.path.join(HERE, "adapter.py"), "--upstream", upstream, "--train", train,
           "--test", test, "--steps", "30", "--batch", "32", "--width", "8", "--seed", "1",
           "--threads", "1", "--codes-every", "15", "--log-every", "10", "--out", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    print(r.stdout[-2000:], r.stderr[-3000:])
    check(r.returncode == 0, "30-step run exits 0")
    if r.returncode:
        return
    check(r.stdout.count(" s/step ") >= 3, "a progress line every 10 steps")
    m = rows(os.path.join(out, "metrics.csv"))
    head, body = m[0], m[1:]
    check(len(body) == 30 and head[:2] == ["step", "seconds"], "metrics.csv: 30 steps")
    check({"Loss/g_loss", "Loss/d_loss", "g_loss/g_adv_loss", "d_loss/d_info_loss_s_real_bg"} <= set(head),
          "metrics.csv: every logged loss")
    check(all(math.isfinite(float(v)) for row in body for v in row), "metrics.csv: all finite")
    want = (["image", "domain", "label"] + [f"z_{i}" for i in range(95)] + [f"s_{i}" for i in range(15)]
            + ["label_shape", "label_hue", "true_x", "true_y"])
    ds = datfile.Dataset(test)
    codes = {}
    for step in (15, 30):
        for mode in ("train", "eval"):
            p = os.path.join(out, f"codes-step-{step:06d}-{mode}.csv")
            ok = os.path.isfile(p)
            check(ok, f"codes-step-{step:06d}-{mode}.csv written")
            if not ok:
                continue
            c = rows(p)
            codes[(step, mode)] = c
            check(c[0] == want, f"  header image,domain,label,z_0..z_94,s_0..s_14,label_*,true_*")
            check(len(c) == 101 and all(len(r_) == len(want) for r_ in c), "  one row per test image")
            check([r_[0] for r_ in c[1:]] == [f"{test}:{i}" for i in range(100)], "  file order, image = path:index")
            check([r_[1] for r_ in c[1:]] == ["target" if d else "background" for d in ds.domains]
                  and [r_[2] for r_ in c[1:]] == [str(d) for d in ds.domains], "  domain and label columns")
            check([r_[c[0].index("label_shape")] for r_ in c[1:]] == [str(v) for v in ds.labels[:, 0]],
                  "  label_shape as integers (-1 none)")
            check(all(r_[-1] == "" for r_, d in zip(c[1:], ds.domains) if d == 0), "  NaN factors empty")
            check(all(math.isfinite(float(v)) for r_ in c[1:] for v in r_[3:113]), "  codes finite")
    if (30, "train") in codes and (30, "eval") in codes:
        check(codes[(30, "train")][1][3:113] != codes[(30, "eval")][1][3:113], "train-mode codes differ from eval-mode codes")
    info = json.load(open(os.path.join(out, "run.json")))
    check(info["upstream"]["commit"] == "3aaadbfe77fd6b5b1a8361c73b0c334c04724213" and info["steps_done"] == 30
          and info["config"]["salient_latent_size"] == 15 and info["config"]["wadv"] == 0.5,
          "run.json: upstream commit, steps, config")
    check(os.path.isdir(os.path.join(out, "imgs")) and any(f.endswith(".png") for f in os.listdir(os.path.join(out, "imgs"))),
          "the upstream image grids of epoch 0 are saved")
    check(os.path.isfile(os.path.join(out, "state.pt")), "state.pt written")

    again = os.path.join(tmp, "again")
    r = subprocess.run([sys.executable, os.path.join(HERE, "adapter.py"), "--upstream", upstream, "--train", train,
                        "--test", test, "--steps", "0", "--width", "8", "--seed", "1", "--threads", "1",
                        "--load-state", os.path.join(out, "state.pt"), "--images", "off", "--out", again],
                       capture_output=True, text=True)
    check(r.returncode == 0, "re-making the codes from state.pt exits 0" + ("" if r.returncode == 0 else r.stderr[-2000:]))
    p = os.path.join(again, "codes-step-000030-eval.csv")
    if os.path.isfile(p) and (30, "eval") in codes:
        check(rows(p) == codes[(30, "eval")], "the re-made evaluation-mode codes are the same")
        check(rows(os.path.join(again, "codes-step-000030-train.csv")) == codes[(30, "train")],
              "the re-made training-mode codes are the same (seeded)")

    r = subprocess.run([sys.executable, os.path.join(HERE, "score.py"), "--data", test,
                        os.path.join(out, "codes-step-000030-eval.csv"), os.path.join(out, "codes-step-000030-train.csv"),
                        "--csv", os.path.join(tmp, "score.csv")], capture_output=True, text=True)
    print(r.stdout, r.stderr[-2000:])
    check(r.returncode == 0, "score.py exits 0")
    sc = rows(os.path.join(tmp, "score.csv")) if r.returncode == 0 else [[]]
    labels_spaces = {(row[1], row[4]) for row in sc[1:]}
    check({("target", "s"), ("target", "z"), ("shape", "s"), ("shape", "z"), ("hue", "s"), ("hue", "z")} <= labels_spaces,
          "score.py scores target, shape and hue from s and z")

    bad = subprocess.run([sys.executable, os.path.join(HERE, "adapter.py"), "--upstream", upstream, "--train",
                          os.path.join(tmp, "missing.dat"), "--test", test, "--steps", "1", "--out", os.path.join(tmp, "x")],
                         capture_output=True, text=True)
    check(bad.returncode == 1 and bad.stderr.startswith("error: "), "a missing file: one error sentence, exit 1")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", default=os.environ.get("DOUBLE_INFOGAN_UPSTREAM", "/work/upstream/Double_InfoGAN"))
    args = ap.parse_args()
    if np is None:
        print(f"skipped: {MISSING} is not installed (needs numpy, torch, torchvision, pytorch-lightning, scikit-learn)")
        return 0
    try:
        import torch  # noqa: F401
        import pytorch_lightning  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as e:
        print(f"skipped: {e.name} is not installed (needs torch, torchvision, pytorch-lightning, scikit-learn)")
        return 0
    if not os.path.isfile(os.path.join(args.upstream, "models", "double_InfoGAN.py")):
        print(f"skipped: no upstream Double_InfoGAN files in {args.upstream} (see bench/paper_code/README.md)")
        return 0
    upstream = os.path.abspath(args.upstream)
    with tempfile.TemporaryDirectory() as tmp:
        test_reader(tmp)
        test_semantics(upstream, tmp)
        test_run(upstream, tmp)
    n = len(FAILED)
    print(f"{'all checks passed' if not n else f'{n} check(s) failed: ' + '; '.join(FAILED)}")
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main())
