"""A `dinfogan export --format safetensors` file in PyTorch: G and D laid out as the paper's
public code lays them out (Florence-C/Double_InfoGAN, models/G_DCGAN.py and models/D_DCGAN.py:
`generator.main.N`, `discriminator.conv1`... `bn2`... `conv5`, `class_conv`, `z_conv`,
`s_conv`), at the exported model's size, width and code sizes (at 32x32 one block fewer, as
`bench/paper_code` builds them). The keys are those of the paper's Lightning module's state
dict, so its own `generator` and `discriminator` load the file too (`load_state_dict` of the
keys under each prefix).

    import paper_layout
    generator, discriminator, config = paper_layout.load("model.safetensors")
    images = generator(torch.cat([z, s], 1))          # [n, channels, side, side] in [-1, 1]
    validity, target, z, s = discriminator(images)    # logits, logits, codes (eval: no noise)

As a command, for the test that checks the export against the CLI (cli/tests/torch_layout.rs):

    python3 bench/paper_layout.py model.safetensors --codes codes.csv --images-out g.npy \\
        --encode-out encoded.csv

draws G(z, s) for the z_* and s_* columns of a codes CSV (as `dinfogan encode` writes it) into a
.npy array of bytes (the CLI's pixel conversion), and encodes the CSV's `image` files (PNG) with
D into a CSV of z_* and s_* in the same row order. `--lightning-out FILE.ckpt` and
`--state-dict-out FILE.pt` also save the loaded networks as the paper's code would have them
(the Lightning module's state dict in a checkpoint laid out as Lightning's `save_checkpoint`
writes it, and as a plain state dict in PyTorch's legacy pickle format), for `dinfogan import`.

    python3 bench/paper_layout.py --fixture cli/tests/fixtures

writes the files `dinfogan import`'s test reads without torch: networks initialised by PyTorch
with a fixed seed (32x32, grey, width 4, L = 2, M = 3; batch-norm weights and statistics drawn
too, so that a misplaced tensor shows), saved both ways, and what PyTorch computes with them
(`paper-32-expected.safetensors`: codes, G's images of them, D's codes of those images).
"""

import argparse
import csv
import json
import sys

import numpy as np
import torch
from torch import nn


class Generator(nn.Module):
    """G_DCGAN.py's Generator at any size: ConvT/BN/ReLU blocks in `main`, then ConvT and tanh."""

    def __init__(self, size, width, channels, common_dim, salient_dim):
        super().__init__()
        blocks = {32: 3, 64: 4}[size]
        layers, c_in = [], common_dim + salient_dim
        for i in range(blocks):
            c_out = width << (blocks - 1 - i)
            first = i == 0
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 1 if first else 2, 0 if first else 1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(True)]
            c_in = c_out
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, latent):
        return self.main(latent.view(latent.shape[0], -1, 1, 1))


class Discriminator(nn.Module):
    """D_DCGAN.py's Discriminator at any size, without its noise layers (an exported model is
    used for inference): conv1 -> LeakyReLU, then conv -> BN -> LeakyReLU, and four 4x4 heads.
    Returns logits for validity and class (the upstream applies a sigmoid) and the codes."""

    def __init__(self, size, width, channels, common_dim, salient_dim):
        super().__init__()
        self.blocks = {32: 3, 64: 4}[size]
        c_in = channels
        for i in range(1, self.blocks + 1):
            c_out = width << (i - 1)
            setattr(self, f"conv{i}", nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False))
            if i > 1:
                setattr(self, f"bn{i}", nn.BatchNorm2d(c_out))
            c_in = c_out
        self.lrelu = nn.LeakyReLU(0.2)
        self.conv5 = nn.Conv2d(c_in, 1, 4, 1, 0, bias=False)
        self.class_conv = nn.Conv2d(c_in, 1, 4, 1, 0, bias=False)
        self.z_conv = nn.Conv2d(c_in, common_dim, 4, 1, 0, bias=False)
        self.s_conv = nn.Conv2d(c_in, salient_dim, 4, 1, 0, bias=False)

    def forward(self, images):
        x = self.lrelu(self.conv1(images))
        for i in range(2, self.blocks + 1):
            x = self.lrelu(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x)))
        return tuple(head(x).flatten(1) for head in (self.conv5, self.class_conv, self.z_conv, self.s_conv))


def load(path):
    """(generator, discriminator, model configuration) of an exported file, in eval mode.
    Strict: a tensor missing, extra or of another shape raises with PyTorch's own message."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(path, "pt") as f:
        metadata = f.metadata() or {}
    if "dinfogan_model" not in metadata:
        raise ValueError(f"{path} was not written by `dinfogan export --format safetensors` (no dinfogan_model metadata)")
    config = json.loads(metadata["dinfogan_model"])
    shape = (config["image_size"], config["width"], config["channels"], config["common_dim"], config["salient_dim"])
    tensors = load_file(path)
    generator, discriminator = Generator(*shape), Discriminator(*shape)
    for prefix, module in (("generator.", generator), ("discriminator.", discriminator)):
        module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, strict=True)
        module.eval()
    return generator, discriminator, config


def state_dict(generator, discriminator):
    """The Lightning module's state dict: G's and D's under their attribute names."""
    out = {}
    for prefix, module in (("generator.", generator), ("discriminator.", discriminator)):
        out.update({prefix + k: v for k, v in module.state_dict().items()})
    return out


def save_lightning(generator, discriminator, path):
    """A checkpoint laid out as Lightning's `Trainer.save_checkpoint` writes one: the state dict
    beside the counters, the optimisers' states (Adam after one step, as the public code's
    three optimisers hold them) and the hyper-parameters."""
    optimiser = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    for p in generator.parameters():
        p.grad = torch.zeros_like(p)
    optimiser.step()
    optimiser.zero_grad()
    torch.save({
        "epoch": 1,
        "global_step": 1,
        "pytorch-lightning_version": "2.1.0",
        "state_dict": state_dict(generator, discriminator),
        "loops": {},
        "callbacks": {},
        "optimizer_states": [optimiser.state_dict()],
        "lr_schedulers": [],
        "hyper_parameters": {"latent_dim_z": 2, "lr": 2e-4},
    }, path)


def save_state_dict(generator, discriminator, path):
    """The plain state dict, in the pickle format PyTorch wrote before 1.6 (no zip)."""
    torch.save(state_dict(generator, discriminator), path, _use_new_zipfile_serialization=False)


def write_fixture(folder):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    shape = (32, 4, 1, 2, 3)
    generator, discriminator = Generator(*shape), Discriminator(*shape)
    for module in (generator, discriminator):
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                nn.init.uniform_(m.weight, 0.5, 1.5)
                nn.init.normal_(m.bias, 0.0, 0.2)
                m.running_mean.normal_(0.0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
        module.eval()
    save_lightning(generator, discriminator, f"{folder}/paper-32.ckpt")
    save_state_dict(generator, discriminator, f"{folder}/paper-32-state-dict.pt")
    codes = torch.randn(6, 5)
    with torch.no_grad():
        images = generator(codes)
        _, _, z, s = discriminator(images)
    save_file({"codes": codes, "images": images.contiguous(), "encoded": torch.cat([z, s], 1).contiguous()},
              f"{folder}/paper-32-expected.safetensors")


def to_bytes(images):
    """The CLI's pixel conversion (src/pixels.rs `byte`): round((clamp(v, -1, 1) + 1) * 127.5), halves up."""
    return np.floor((images.clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).numpy()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?")
    ap.add_argument("--codes", help="a CSV with z_* and s_* columns (and image, for --encode-out)")
    ap.add_argument("--images-out", help=".npy of G(z, s) as bytes, [n, channels, side, side]")
    ap.add_argument("--encode-out", help="CSV of D's z_* and s_* for the PNG files of the codes' image column")
    ap.add_argument("--lightning-out", help="also save the networks as a Lightning checkpoint (.ckpt)")
    ap.add_argument("--state-dict-out", help="also save them as a plain state dict (.pt, legacy pickle)")
    ap.add_argument("--fixture", help="write the import test's fixture files into this folder, and nothing else")
    args = ap.parse_args(argv)
    if args.fixture:
        write_fixture(args.fixture)
        return 0
    if not (args.model and args.codes and args.images_out):
        ap.error("a model, --codes and --images-out are needed (or --fixture)")
    generator, discriminator, config = load(args.model)
    if args.lightning_out:
        save_lightning(generator, discriminator, args.lightning_out)
    if args.state_dict_out:
        save_state_dict(generator, discriminator, args.state_dict_out)
    L, M = config["common_dim"], config["salient_dim"]
    with open(args.codes, newline="") as f:
        rows = list(csv.DictReader(f))
    z = torch.tensor([[float(r[f"z_{i}"]) for i in range(L)] for r in rows])
    s = torch.tensor([[float(r[f"s_{i}"]) for i in range(M)] for r in rows])
    with torch.no_grad():
        np.save(args.images_out, to_bytes(generator(torch.cat([z, s], 1))))
        if args.encode_out:
            from PIL import Image

            def pixels(file):
                image = Image.open(file).convert("L" if config["channels"] == 1 else "RGB")
                a = np.asarray(image, dtype=np.float32).reshape(config["image_size"], config["image_size"], -1)
                return torch.from_numpy(a / 127.5 - 1).permute(2, 0, 1)

            images = torch.stack([pixels(r["image"]) for r in rows])
            _, _, z_hat, s_hat = discriminator(images)
            with open(args.encode_out, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow([f"z_{i}" for i in range(L)] + [f"s_{i}" for i in range(M)])
                for a, b in zip(z_hat.tolist(), s_hat.tolist()):
                    w.writerow([repr(v) for v in a + b])
    return 0


if __name__ == "__main__":
    sys.exit(main())
