#!/usr/bin/env python3
"""Runs the paper's own PyTorch code (Florence-C/Double_InfoGAN at UPSTREAM_COMMIT) on this
project's dataset files, so that it and `dinfogan train` train on the same data with the same
configuration and budget and are scored by the same scorer (bench/paper_code/score.py).

The upstream files are imported from --upstream (never copied into this repository; see
README.md beside this file for the list). What this adapter changes, and only that:

- input: this project's dataset files (datfile.py) instead of the upstream .npy loaders, pixels
  to [-1, 1] as src/pixels.rs does (byte / 127.5 - 1);
- networks: the upstream DCGAN classes are written for 64x64 with 64 base channels; at another
  side or --width the adapter builds subclasses with the same layer pattern (one block fewer at
  32x32, channels width, 2 width, ... as src/nets/dcgan.rs), the upstream GaussianNoise class, and the
  upstream initialisation (create_model's weights_init_normal). 64x64 at width 64 uses the
  upstream classes untouched;
- the training loop: PyTorch Lightning 1.x's automatic optimisation with several optimisers
  (toggle, training_step, zero_grad, backward, step, untoggle for each optimiser that
  configure_optimizers returns, in order), since Lightning 2.x refuses that module;
- `cr_copy_index.copy_index` hard-codes `.cuda()`: the call passes cuda=<the tensors are on a
  GPU>, so the same code runs on the CPU (on a GPU the call is unchanged);
- device, seed, thread count, and the outputs (metrics.csv, run.json, codes CSVs, state.pt).

The losses, update order, optimisers and noise are the upstream module's own code: each update
calls its `training_step(batch, batch_idx, optimizer_idx)`.

    python3 bench/paper_code/adapter.py --upstream /work/upstream/Double_InfoGAN \
        --train dsm32-train.dat --test dsm32-test.dat --steps 16000 --batch 32 --lr 2e-4 \
        --width 32 --loop-g 1 --loop-d 1 --loop-cr 0 --w-cr 0 --wi-z 1 --seed 0 \
        --device cuda --threads 1 --codes-every 4000 --out runs/paper-code
"""

import argparse
import contextlib
import csv
import hashlib
import json
import math
import os
import platform
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import datfile  # noqa: E402

UPSTREAM_REPO = "Florence-C/Double_InfoGAN"
UPSTREAM_COMMIT = "3aaadbfe77fd6b5b1a8361c73b0c334c04724213"
UPSTREAM_FILES = [
    "models/double_InfoGAN.py",
    "models/load_model.py",
    "models/G_DCGAN.py",
    "models/D_DCGAN.py",
    "models/CR_DCGAN.py",
    "models/cr_copy_index.py",
    "utils.py",
]
# The upstream display batch: 64 background and 64 target images of the test split.
DISPLAY_PER_DOMAIN = 64
# The upstream evaluation scripts encode with batches of 128.
ENCODE_BATCH = 128


class AdapterError(Exception):
    """A user's mistake, reported in one sentence."""


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="folder holding the upstream files (models/, utils.py)")
    ap.add_argument("--train", required=True, help="training dataset file (dinfogan data build)")
    ap.add_argument("--test", required=True, help="dataset file whose codes are written")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--steps", type=int, required=True, help="batches to train on (each runs every optimiser once)")
    ap.add_argument("--batch", type=int, default=32, help="real images per batch, both domains mixed")
    ap.add_argument("--lr", type=float, default=2e-4, help="lr_g = lr_d = lr_cr")
    ap.add_argument("--width", type=int, default=None,
                    help="base channel count (D: w, 2w, ...; G the reverse); default 64 at 64x64, 32 at 32x32")
    ap.add_argument("--loop-g", type=int, default=1)
    ap.add_argument("--loop-d", type=int, default=1)
    ap.add_argument("--loop-cr", type=int, default=0)
    ap.add_argument("--w-cr", type=float, default=0.0, help="wcr, weight of the CR term in the G loss")
    ap.add_argument("--wi-z", type=float, default=1.0, help="wi_z, weight of the z info loss")
    ap.add_argument("--wi-s", type=float, default=1.0, help="wi_s, weight of the s info loss")
    ap.add_argument("--common-dim", type=int, default=95, help="background_latent_size (z)")
    ap.add_argument("--salient-dim", type=int, default=15, help="salient_latent_size (s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--codes-every", type=int, default=0, help="write codes every N steps (and always at the end)")
    ap.add_argument("--log-every", type=int, default=500, help="progress line every N steps")
    ap.add_argument("--images", choices=["upstream", "off"], default="upstream",
                    help="upstream: the module saves its image grids into OUT/imgs/ at epochs 0, 10, ... "
                         "as the paper's runs did (display batch: the first 64 background and 64 target "
                         "test images); off: no image grids")
    ap.add_argument("--load-state", default=None,
                    help="a state.pt written by this adapter: with --steps 0, re-make its codes")
    args = ap.parse_args(argv)
    if args.steps < 0 or args.batch < 2 or args.lr <= 0:
        ap.error("--steps must be >= 0, --batch >= 2 and --lr > 0")
    if min(args.loop_g, args.loop_d) < 1 or args.loop_cr < 0:
        ap.error("--loop-g and --loop-d must be >= 1, --loop-cr >= 0")
    if args.load_state and args.steps != 0:
        ap.error("--load-state re-makes the codes of a saved state: use it with --steps 0")
    if args.codes_every < 0 or args.log_every < 1:
        ap.error("--codes-every must be >= 0 and --log-every >= 1")
    return args


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def load_upstream(folder):
    """Imports the upstream modules from `folder` (put first on sys.path). Returns a namespace
    with the modules and the sha256 of each file."""
    folder = os.path.abspath(folder)
    missing = [f for f in UPSTREAM_FILES if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        raise AdapterError(
            f"{folder} lacks the upstream file(s) {', '.join(missing)}: see bench/paper_code/README.md "
            "for how to fetch them")
    sys.path.insert(0, folder)
    import importlib

    mods = {}
    for name in ("utils", "models.cr_copy_index", "models.load_model", "models.G_DCGAN",
                 "models.D_DCGAN", "models.CR_DCGAN", "models.double_InfoGAN"):
        mods[name] = importlib.import_module(name)
        got = os.path.abspath(mods[name].__file__)
        if not got.startswith(folder + os.sep):
            raise AdapterError(f"the module {name} was imported from {got}, not from {folder}")
    hashes = {f: sha256(os.path.join(folder, f)) for f in UPSTREAM_FILES}
    return argparse.Namespace(folder=folder, hashes=hashes, **{k.split(".")[-1]: v for k, v in mods.items()})


def make_config(args, channels, side, width, recipe):
    """The upstream config dict: the keys models/double_InfoGAN.py and models/load_model.py read,
    with the paper's values (Table 6, config/config_double_InfoGAN_*.yml) and this run's
    choices. `image_size` and `width` are the adapter's own keys (the networks' side and base
    width); upstream code does not read them."""
    return {
        "model": "double_infogan",
        "dataset": recipe,
        "seed": args.seed,
        "batch_size": args.batch,
        "latent_distribution": "normal",
        "in_channels": channels,
        "dec_channels": 32,
        "salient_latent_size": args.salient_dim,
        "background_latent_size": args.common_dim,
        "cr": {"model": "DCGAN", "std": 0.1, "gap": 0.0},
        "discriminator": {"model": "DCGAN", "std": 0.2},
        "generator": {"model": "DCGAN", "act_fn": "tanh"},
        "lr_g": args.lr,
        "lr_d": args.lr,
        "lr_cr": args.lr,
        "loop_g": args.loop_g,
        "loop_d": args.loop_d,
        "loop_cr": args.loop_cr,
        "infoloss": "l1",
        "var": 1.0,
        "w_bg": 0.5,
        "w_t": 1.0,
        "wadv": 0.5,
        "wi_z": args.wi_z,
        "wi_s": args.wi_s,
        "wc": 0.5,
        "wii": 1.0,
        "wcr": args.w_cr,
        "wi_real_s": 1.0,
        "save_img_epoch": 10,
        "save_img_linspace_epoch": 50,
        "save_ckpt": 50,
        "image_size": side,
        "width": width,
    }


def network_classes(up, side, width):
    """(Discriminator, Generator, CR_Net) for images of `side` with base width `width`.

    At 64x64 and width 64 these are the upstream classes themselves. Otherwise subclasses of
    them that keep the upstream layer pattern with log2(side) - 2 down/up blocks (the project's
    src/nets/dcgan.rs at 32x32: one block fewer) and channels width << i: the trunk is noise -> conv
    4x4/2 -> LeakyReLU(0.2) (no batch norm after the first conv), then noise -> conv -> BN ->
    LeakyReLU; D's four heads are 4x4 valid convolutions on noise (sigmoid on validity and
    class); the CR net is the same trunk on 2C channels with its own noise level and a 4x4
    head without noise; G is ConvT(4,1,0) then ConvT(4,2,1) blocks with BN and ReLU, and a
    last ConvT to the image channels with tanh. No biases anywhere, as upstream. Attribute names
    and registration order follow the upstream classes (so weights_init_normal visits them in
    the same order)."""
    import torch.nn as nn

    D0, G0, CR0 = up.D_DCGAN.Discriminator, up.G_DCGAN.Generator, up.CR_DCGAN.CR_Net
    if side == 64 and width == 64:
        return D0, G0, CR0
    blocks = side.bit_length() - 3  # log2(side) - 2: 32 -> 3, 64 -> 4
    top = width << (blocks - 1)

    def trunk(module, channels_in, std, noise_class):
        module.GaussNoise = noise_class(std=std)
        module.conv1 = nn.Conv2d(channels_in, width, 4, 2, 1, bias=False)
        module.lrelu = nn.LeakyReLU(0.2, inplace=True)
        for i in range(2, blocks + 1):
            setattr(module, f"conv{i}", nn.Conv2d(width << (i - 2), width << (i - 1), 4, 2, 1, bias=False))
            setattr(module, f"bn{i}", nn.BatchNorm2d(width << (i - 1)))

    def trunk_forward(module, x):
        x = module.lrelu(module.conv1(module.GaussNoise(x)))
        for i in range(2, blocks + 1):
            conv, norm = getattr(module, f"conv{i}"), getattr(module, f"bn{i}")
            x = module.lrelu(norm(conv(module.GaussNoise(x))))
        return x

    class Discriminator(D0):
        def __init__(self, args):
            nn.Module.__init__(self)
            self.args = args
            trunk(self, args["in_channels"], args["discriminator"]["std"], up.D_DCGAN.GaussianNoise)
            self.conv5 = nn.Conv2d(top, 1, 4, 1, 0, bias=False)  # validity head (upstream name)
            self.sigmoid = nn.Sigmoid()
            self.class_conv = nn.Conv2d(top, 1, 4, 1, 0, bias=False)
            self.z_conv = nn.Conv2d(top, args["background_latent_size"], 4, 1, 0, bias=False)
            self.s_conv = nn.Conv2d(top, args["salient_latent_size"], 4, 1, 0, bias=False)

        def forward(self, input):
            features = trunk_forward(self, input)
            # A fresh noise draw in front of each head, in the upstream order.
            heads = [head(self.GaussNoise(features)).flatten(1)
                     for head in (self.conv5, self.class_conv, self.z_conv, self.s_conv)]
            return self.sigmoid(heads[0]), self.sigmoid(heads[1]), heads[2], heads[3]

    class Generator(G0):
        def __init__(self, args):
            nn.Module.__init__(self)
            self.args = args
            channels_in = args["background_latent_size"] + args["salient_latent_size"]
            layers = []
            for i in range(blocks):
                channels_out = width << (blocks - 1 - i)
                first = i == 0
                layers += [
                    nn.ConvTranspose2d(channels_in, channels_out, 4, 1 if first else 2, 0 if first else 1, bias=False),
                    nn.BatchNorm2d(channels_out),
                    nn.ReLU(True),
                ]
                channels_in = channels_out
            layers += [
                nn.ConvTranspose2d(width, args["in_channels"], 4, 2, 1, bias=False),
                nn.Sigmoid() if args["generator"]["act_fn"] == "sigmoid" else nn.Tanh(),
            ]
            self.main = nn.Sequential(*layers)
        # forward: the upstream one (reshape to (B, L+M, 1, 1), then self.main).

    class CR_Net(CR0):
        def __init__(self, args):
            nn.Module.__init__(self)
            self.args = args
            trunk(self, 2 * args["in_channels"], args["cr"]["std"], up.CR_DCGAN.GaussianNoise)
            self.last_layer_conv = nn.Conv2d(top, args["salient_latent_size"], 4, 1, 0, bias=False)

        def forward(self, input):
            return self.last_layer_conv(trunk_forward(self, input)).flatten(1)

    return Discriminator, Generator, CR_Net


def module_class(up):
    """The upstream LightningModule, usable without a Trainer: `log` records into a dict,
    `current_epoch` is the adapter's epoch, and the image grids can be switched off."""
    import torch

    class AdaptedDoubleInfoGAN(up.double_InfoGAN.Double_InfoGAN):
        def __init__(self, config=None, save_path="", batch_test=None):
            super().__init__(config=config, save_path=save_path, batch_test=batch_test)
            self.adapter_epoch = 0
            self.adapter_logged = {}
            self.adapter_images = batch_test is not None

        @property
        def current_epoch(self):
            return self.__dict__.get("adapter_epoch", 0)

        def log(self, name, value, *args, **kwargs):
            self.adapter_logged[name] = value.detach() if torch.is_tensor(value) else torch.tensor(float(value))

        def save_swaped_image(self, batch_test):
            if self.adapter_images:
                super().save_swaped_image(batch_test)

        def save_fake_image(self, batch_test):
            if self.adapter_images:
                super().save_fake_image(batch_test)

        def save_linspace_image(self):
            if self.adapter_images:
                super().save_linspace_image()

    return AdaptedDoubleInfoGAN


def patch_copy_index(up):
    """models/cr_copy_index.copy_index moves an index to the GPU unconditionally (cuda=True by
    default, and double_InfoGAN calls it without the argument). The module's name is rebound to
    a call that passes cuda=<the latents are on a GPU>: on a GPU the call is the upstream one."""
    original = up.cr_copy_index.copy_index

    def copy_index(dy1, dy2, dy3, rand_index, gap=0.9, cuda=True):
        return original(dy1, dy2, dy3, rand_index, gap, cuda=dy1.is_cuda)

    up.double_InfoGAN.copy_index = copy_index


def build_module(up, config, save_path, batch_test, log_file):
    """The upstream Double_InfoGAN with networks at the config's side and width (upstream
    create_model and weights_init_normal do the building and initialisation)."""
    D, G, CR = network_classes(up, config["image_size"], config["width"])
    saved = (up.D_DCGAN.Discriminator, up.G_DCGAN.Generator, up.CR_DCGAN.CR_Net)
    up.D_DCGAN.Discriminator, up.G_DCGAN.Generator, up.CR_DCGAN.CR_Net = D, G, CR
    try:
        with contextlib.redirect_stdout(log_file):
            return module_class(up)(config=config, save_path=save_path, batch_test=batch_test)
    finally:
        up.D_DCGAN.Discriminator, up.G_DCGAN.Generator, up.CR_DCGAN.CR_Net = saved


def unique(optimizers):
    out = []
    for opt in optimizers:
        if not any(opt is o for o in out):
            out.append(opt)
    return out


def toggle(optimizers, optimizer):
    """PyTorch Lightning 1.x `LightningModule.toggle_optimizer`: every parameter of every
    optimiser gets requires_grad=False, then those of `optimizer` get their old flag back.
    Returns the old flags for `untoggle`."""
    state = {}
    for opt in optimizers:
        for group in opt.param_groups:
            for p in group["params"]:
                if p in state:
                    continue
                state[p] = p.requires_grad
                p.requires_grad = False
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.requires_grad = state[p]
    return state


def untoggle(state):
    """PyTorch Lightning 1.x `untoggle_optimizer`: the flags as they were."""
    for p, flag in state.items():
        p.requires_grad = flag


def optimizer_step(module, optimizers, optimizer_idx, batch, batch_idx):
    """One update of PyTorch Lightning 1.x automatic optimisation with several optimisers
    (OptimizerLoop, PL < 1.6): toggle optimiser `optimizer_idx` of the list, step it with the
    closure (training_step, zero_grad, backward), untoggle. Returns the loss (detached)."""
    optimizer = optimizers[optimizer_idx]
    state = toggle(unique(optimizers), optimizer) if len(optimizers) > 1 else {}
    losses = []
    try:
        def closure():
            loss = module.training_step(batch, batch_idx, optimizer_idx)
            optimizer.zero_grad(set_to_none=False)  # torch 1.9's zero_grad()
            loss.backward()
            losses.append(loss.detach())
            return loss

        optimizer.step(closure)
    finally:
        untoggle(state)
    return losses[0]


def train_batch(module, optimizers, batch, batch_idx):
    """One batch: every optimiser in the list configure_optimizers returned, in order
    ([opt_g] * loop_g + [opt_d] * loop_d + [opt_cr] * loop_cr)."""
    return [optimizer_step(module, optimizers, i, batch, batch_idx) for i in range(len(optimizers))]


def fmt(v):
    """An f32 as Rust's `f32::to_string` writes it (shortest round-trip digits, positional)."""
    v = np.float32(v)
    if np.isnan(v):
        return "NaN"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return np.format_float_positional(v, unique=True, trim="-")


def encode(module, pixels, lut, mode, seed, device):
    """Codes (z, s) of every image of `pixels` (uint8 tensor on `device`) by the discriminator's
    z and s heads. mode "train": as the upstream evaluation scripts, D in training mode (noise
    on, batch statistics) on shuffled batches of 128; "eval": D in evaluation mode, in order.
    Leaves no trace: batch-norm buffers, training flags and the random state are restored."""
    import torch

    D = module.discriminator
    n = pixels.shape[0]
    z = np.empty((n, module.background_latent_size), np.float32)
    s = np.empty((n, module.salient_latent_size), np.float32)
    saved = {k: b.detach().clone() for k, b in D.named_buffers()}
    flags = {m: m.training for m in D.modules()}
    devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            if mode == "train":
                D.train()
                order = np.random.RandomState(seed).permutation(n)
            else:
                D.eval()
                order = np.arange(n)
            for start in range(0, n, ENCODE_BATCH):
                idx = order[start:start + ENCODE_BATCH]
                x = lut[pixels[torch.from_numpy(idx).to(device)].long()]
                _, _, zp, sp = module.discriminator_step(x)
                z[idx] = zp.float().cpu().numpy()
                s[idx] = sp.float().cpu().numpy()
    finally:
        for k, b in D.named_buffers():
            b.copy_(saved[k])
        for m, flag in flags.items():
            m.training = flag
    return z, s


def write_codes(path, test, test_name, z, s):
    """The CSV `dinfogan encode` writes: image, domain, label, z_*, s_*, label_<name>...,
    true_<name>...; one row per image of the test file, in file order."""
    h = test.header
    head = ["image", "domain", "label"]
    head += [f"z_{i}" for i in range(z.shape[1])] + [f"s_{i}" for i in range(s.shape[1])]
    head += [f"label_{l['name']}" for l in h["labels"]] + [f"true_{n}" for n in h["factor_names"]]
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(head)
        for i in range(len(test)):
            d = int(test.domains[i])
            row = [f"{test_name}:{i}", "target" if d else "background", str(d)]
            row += [fmt(v) for v in z[i]] + [fmt(v) for v in s[i]]
            row += [str(int(v)) for v in test.labels[i]]
            row += ["" if np.isnan(v) else fmt(v) for v in test.factors[i]]
            w.writerow(row)
    os.replace(tmp, path)


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=2, default=str)
        f.write("\n")
    os.replace(tmp, path)


def describe(ds, path):
    bg = int((ds.domains == 0).sum())
    return {"path": path, "images": len(ds), "background": bg, "target": len(ds) - bg,
            "header": ds.header}


def display_batch(test, lut_np):
    """The upstream display batch (run_experiment.py: the first batch of 128 of the unshuffled
    test loader, 64 background + 64 target images in the paper's files): here the first 64
    background and the first 64 target images of the test file."""
    import torch

    bg = np.flatnonzero(test.domains == 0)[:DISPLAY_PER_DOMAIN]
    t = np.flatnonzero(test.domains == 1)[:DISPLAY_PER_DOMAIN]
    if len(bg) == 0 or len(t) == 0:
        return None
    idx = np.concatenate([bg, t])
    x = torch.from_numpy(lut_np[test.pixels[idx]])
    labels = torch.from_numpy(test.domains[idx].astype(np.int64))
    return x, labels


def run(args):
    import torch
    import pytorch_lightning as pl

    up = load_upstream(args.upstream)
    try:
        train = datfile.Dataset(args.train)
        test = datfile.Dataset(args.test)
    except datfile.DatasetError as e:
        raise AdapterError(str(e)) from None
    side, channels = train.side, train.channels
    if (test.side, test.channels) != (side, channels):
        raise AdapterError(
            f"{args.test} holds {test.channels}x{test.side}x{test.side} images and {args.train} "
            f"{channels}x{side}x{side}: encode data built at the training data's size")
    if side not in (32, 64):
        raise AdapterError(f"{args.train} holds {side}x{side} images: the DCGAN networks take 32x32 or 64x64")
    width = args.width or (64 if side == 64 else 32)
    if width < 1:
        raise AdapterError("--width must be at least 1")
    if len(test) == 0:
        raise AdapterError(f"{args.test} holds no image")
    steps_per_epoch = len(train) // args.batch
    if args.steps > 0 and steps_per_epoch == 0:
        raise AdapterError(f"{args.train} holds {len(train)} images, fewer than one batch of {args.batch}")
    if args.steps > 0 and ((train.domains == 0).all() or (train.domains == 1).all()):
        raise AdapterError(f"{args.train} needs images of both domains (background and target)")

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AdapterError("--device cuda was asked for, but this torch sees no CUDA device")
    os.makedirs(args.out, exist_ok=True)
    out = os.path.abspath(args.out)

    # Upstream seeding (utils.set_seeds: python, numpy, torch, CUDA; cuDNN deterministic).
    up.utils.set_seeds(args.seed)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    patch_copy_index(up)

    config = make_config(args, channels, side, width, train.header["recipe"])
    lut_np = datfile.unit_table()
    batch_test = display_batch(test, lut_np) if args.images == "upstream" else None
    with open(os.path.join(out, "upstream-stdout.log"), "a") as log_file:
        module = build_module(up, config, out + os.sep, batch_test, log_file)
        module.to(device)
        module.train()
        with contextlib.redirect_stdout(log_file):
            optimizers, _ = module.configure_optimizers()
    every = unique(optimizers)

    step = 0
    if args.load_state:
        try:
            state = torch.load(args.load_state, map_location=device, weights_only=False)
            module.load_state_dict(state["module"])
        except (OSError, RuntimeError, KeyError, TypeError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise AdapterError(
                f"{args.load_state} is not a state this configuration can load (give the --width, "
                f"--common-dim and --salient-dim it was trained with): {first}") from None
        step = int(state.get("step", 0))

    lut = torch.from_numpy(lut_np).to(device)
    train_pixels = torch.from_numpy(np.array(train.pixels)).to(device)
    train_domains = torch.from_numpy(train.domains.astype(np.int64)).to(device)
    test_pixels = torch.from_numpy(np.array(test.pixels)).to(device)

    run_info = {
        "upstream": {"repository": UPSTREAM_REPO, "commit": UPSTREAM_COMMIT, "folder": up.folder,
                     "sha256": up.hashes},
        "adapter": "bench/paper_code/adapter.py",
        "args": vars(args),
        "config": config,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "pytorch_lightning": pl.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "train": describe(train, args.train),
        "test": describe(test, args.test),
        "steps_per_epoch": steps_per_epoch,
        "batching": "mixed: shuffled batches of the whole training file, both domains, labels 0 background / 1 target, drop_last",
        "optimizers": [type(o).__name__ + f"(lr={o.defaults['lr']}, betas={o.defaults['betas']}, eps={o.defaults['eps']})"
                       for o in optimizers],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json(os.path.join(out, "run.json"), run_info)

    def codes(at_step):
        for mode in ("train", "eval"):
            z, s = encode(module, test_pixels, lut, mode, args.seed, device)
            write_codes(os.path.join(out, f"codes-step-{at_step:06d}-{mode}.csv"), test, args.test, z, s)

    metrics_path = os.path.join(out, "metrics.csv")
    metrics_file = open(metrics_path, "w", newline="")
    metrics = csv.writer(metrics_file, lineterminator="\n")
    keys = None
    order_gen = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    last_log = (start, step)
    diverged = None
    last_codes = None
    epoch = 0
    target_steps = step + args.steps
    try:
        while step < target_steps:
            perm = torch.randperm(len(train), generator=order_gen).to(device)
            for batch_idx in range(steps_per_epoch):
                if step >= target_steps:
                    break
                idx = perm[batch_idx * args.batch:(batch_idx + 1) * args.batch]
                batch = (lut[train_pixels[idx].long()], train_domains[idx])
                module.adapter_epoch = epoch
                module.adapter_logged = {}
                train_batch(module, optimizers, batch, batch_idx)
                step += 1
                names = list(module.adapter_logged)
                values = torch.stack([v.float().reshape(()) for v in module.adapter_logged.values()]).cpu().tolist()
                logged = dict(zip(names, values))
                if keys is None:
                    keys = names
                    metrics.writerow(["step", "seconds"] + keys)
                now = time.perf_counter()
                metrics.writerow([step, f"{now - start:.3f}"] + [repr(logged.get(k, float("nan"))) for k in keys])
                bad = [k for k in ("Loss/g_loss", "Loss/d_loss", "Loss/cr_loss")
                       if k in logged and not math.isfinite(logged[k])]
                if bad:
                    diverged = {"step": step, "losses": {k: logged[k] for k in bad}}
                    print(f"step {step}: {', '.join(bad)} not finite; stopping", flush=True)
                    break
                if step % args.log_every == 0:
                    per_step = (now - last_log[0]) / (step - last_log[1])
                    last_log = (now, step)
                    metrics_file.flush()
                    print(f"step {step}  {per_step:.4f} s/step  g_loss {logged.get('Loss/g_loss', float('nan')):.4f}  "
                          f"d_loss {logged.get('Loss/d_loss', float('nan')):.4f}", flush=True)
                if args.codes_every and step % args.codes_every == 0:
                    codes(step)
                    last_codes = step
            if diverged:
                break
            epoch += 1
    finally:
        metrics_file.close()
    seconds = time.perf_counter() - start
    if last_codes != step:
        codes(step)
    torch.save({"module": module.state_dict(), "optimizers": [o.state_dict() for o in every],
                "config": config, "step": step, "epoch": epoch, "upstream_commit": UPSTREAM_COMMIT},
               os.path.join(out, "state.pt"))
    run_info.update({"finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "steps_done": step,
                     "train_seconds": round(seconds, 3), "diverged": diverged})
    write_json(os.path.join(out, "run.json"), run_info)
    if diverged:
        write_json(os.path.join(out, "diverged.json"), diverged)
        return 1
    trained = step - (target_steps - args.steps)
    if trained:
        print(f"trained {trained} steps in {seconds:.1f} s ({seconds / trained:.4f} s/step); wrote {out}", flush=True)
    else:
        print(f"wrote the codes of step {step} into {out}", flush=True)
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args)
    except AdapterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
