"""The training iteration of `dinfogan bench` in PyTorch, for side-by-side speed ratios.

Same networks (the paper's Table 4: DCGAN generator, a discriminator trunk with Gaussian noise
of std 0.2 before every convolution and head, four heads D, C, Qz, Qs; at --size 128 its
Table 5: upsampling 3x3 convolutions and self-attention in G, spectral normalisation and fully
connected heads in D, as src/nets/mri.rs builds them), same losses (eq. 4-8
with Table 6's weights, no CR), same batch (B background + B target real images, B fakes per
domain), one G step and one D step per iteration, Adam (0.5, 0.999, eps 1e-8).

Two variants:
  public  the paper's public code: the G step also computes weight gradients of the
          discriminator (nothing is frozen, only G's optimiser steps), the D step
          backpropagates into G (fakes not detached), and each real batch goes through the
          discriminator twice (once for D and C, once more for the reconstruction codes).
  saving  the work this project's step saves: the frozen network gets no weight gradients,
          fakes are detached in the D step, one discriminator pass per real batch.

    python3 bench/pytorch_reference.py --variant saving --size 64 --batch 64 --iters 3
    python3 bench/pytorch_reference.py --variant saving --size 128 --channels 1 --batch 32

prints one line per iteration and a final `mean ... s per iteration` line, like
`dinfogan bench`. Needs torch (CPU is enough); threads: all cores unless --threads;
`--device cuda` runs it on an NVIDIA GPU (scripts/gpu-check.sh). Each iteration ends by
reading a loss (`.item()`), which waits for the GPU.
"""

import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

L, M, NOISE = 95, 15, 0.2
W = dict(bg=0.5, t=1.0, adv=0.5, cls=0.5, im=1.0, iz=1.0, is_=1.0, ireal=1.0)


class Noise(nn.Module):
    def forward(self, x):
        return x + NOISE * torch.randn_like(x) if self.training else x


class Generator(nn.Module):
    def __init__(self, size, width, channels):
        super().__init__()
        blocks = 4 if size == 64 else 3
        widths = [width << i for i in reversed(range(blocks))]
        layers, c_in = [], L + M
        for i, c_out in enumerate(widths):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 1, 0, bias=False)
                if i == 0
                else nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
            ]
            c_in = c_out
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z, s):
        return self.net(torch.cat([z, s], 1)[:, :, None, None])


class Discriminator(nn.Module):
    def __init__(self, size, width, channels):
        super().__init__()
        blocks = 4 if size == 64 else 3
        layers, c_in = [], channels
        for i in range(blocks):
            c_out = width << i
            layers += [Noise(), nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)]
            if i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2))
            c_in = c_out
        self.trunk = nn.Sequential(*layers)
        self.noise = Noise()
        self.heads = nn.ModuleList(nn.Conv2d(c_in, k, 4, 1, 0, bias=False) for k in (1, 1, L, M))

    def forward(self, x):
        f = self.trunk(x)
        adv, cls, z, s = (h(self.noise(f)).flatten(1) for h in self.heads)
        return adv[:, 0], cls[:, 0], z, s


SN = nn.utils.parametrizations.spectral_norm


class UpBlock(nn.Module):
    def __init__(self, c_in, c_out, up):
        super().__init__()
        self.up = up
        self.conv = nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)
        self.norm = nn.BatchNorm2d(c_out)

    def forward(self, x):
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return F.relu(self.norm(self.conv(x)))


class Attention(nn.Module):
    """SAGAN/BigGAN self-attention: SN 1x1 theta, phi (C/8), g (C/2), o; 2x2 max-pool on phi
    and g; gamma starts at 0."""

    def __init__(self, c):
        super().__init__()
        one = lambda a, b: SN(nn.Conv2d(a, b, 1, bias=False))
        self.theta, self.phi, self.g, self.o = one(c, c // 8), one(c, c // 8), one(c, c // 2), one(c // 2, c)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        b, c, h, w = x.shape
        theta = self.theta(x).view(b, c // 8, h * w)
        phi = F.max_pool2d(self.phi(x), 2).view(b, c // 8, h * w // 4)
        g = F.max_pool2d(self.g(x), 2).view(b, c // 2, h * w // 4)
        beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), -1)
        o = self.o(torch.bmm(g, beta.transpose(1, 2)).view(b, c // 2, h, w))
        return x + self.gamma * o


class Generator128(nn.Module):
    def __init__(self, width, channels):
        super().__init__()
        w = width
        self.w = w
        self.input = nn.Linear(L + M, 8 * w * 16, bias=False)
        self.early = nn.Sequential(UpBlock(8 * w, 16 * w, True), UpBlock(16 * w, 8 * w, True), UpBlock(8 * w, 4 * w, True))
        self.attention = Attention(4 * w)
        self.late = nn.Sequential(UpBlock(4 * w, 4 * w, True), UpBlock(4 * w, 2 * w, False), UpBlock(2 * w, w, True))
        self.output = nn.Conv2d(w, channels, 3, 1, 1)

    def forward(self, z, s):
        x = self.input(torch.cat([z, s], 1)).view(-1, 8 * self.w, 4, 4)
        return torch.tanh(self.output(self.late(self.attention(self.early(x)))))


class Discriminator128(nn.Module):
    def __init__(self, width, channels):
        super().__init__()
        w = width
        chans = [channels, w, 2 * w, 4 * w, 8 * w, 8 * w]
        layers = []
        for a, b in zip(chans, chans[1:]):
            layers += [Noise(), SN(nn.Conv2d(a, b, 4, 2, 1)), nn.LeakyReLU(0.2)]
        self.trunk = nn.Sequential(*layers, nn.Flatten())
        f = 8 * w * 16
        self.noise = Noise()
        self.adv, self.cls = nn.Linear(f, 1), nn.Linear(f, 1)
        q = lambda k: nn.Sequential(
            Noise(), SN(nn.Linear(f, 128, bias=False)), nn.LeakyReLU(0.2), Noise(), SN(nn.Linear(128, k)), nn.LeakyReLU(0.2)
        )
        self.qz, self.qs = q(L), q(M)

    def forward(self, x):
        f = self.trunk(x)
        return self.adv(self.noise(f))[:, 0], self.cls(self.noise(f))[:, 0], self.qz(f), self.qs(f)


def nll(logits, label):  # -log sigmoid, stable: the paper's BCE on probabilities
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


def iteration(g, d, opt_g, opt_d, bg, t, variant):
    b = bg.shape[0]
    saving = variant == "saving"
    dev = bg.device
    zeros = torch.zeros(b, M, device=dev)

    # G step
    for p in d.parameters():
        p.requires_grad_(not saving)
    z_bg, z_t, s_t = torch.randn(b, L, device=dev), torch.randn(b, L, device=dev), torch.randn(b, M, device=dev)
    a_bg, c_bg, qz_bg, qs_bg = d(g(z_bg, zeros))
    a_t, c_t, qz_t, qs_t = d(g(z_t, s_t))
    adv = W["bg"] * nll(a_bg, 1) + W["t"] * nll(a_t, 1)
    cls = W["bg"] * nll(c_bg, 0) + W["t"] * nll(c_t, 1)
    info = W["bg"] * ((qz_bg - z_bg).abs().mean() + qs_bg.abs().mean()) + W["t"] * (
        (qz_t - z_t).abs().mean() + (qs_t - s_t).abs().mean()
    )
    with torch.no_grad() if saving else torch.enable_grad():
        _, _, ez_bg, _ = d(bg)
        _, _, ez_t, es_t = d(t)
    im = W["bg"] * (g(ez_bg.detach(), zeros) - bg).abs().mean() + W["t"] * (
        g(ez_t.detach(), es_t.detach()) - t
    ).abs().mean()
    loss = W["adv"] * adv + W["cls"] * cls + info + W["im"] * im
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    for p in d.parameters():
        p.requires_grad_(True)

    # D step
    for p in g.parameters():
        p.requires_grad_(not saving)
    z_bg, z_t, s_t = torch.randn(b, L, device=dev), torch.randn(b, L, device=dev), torch.randn(b, M, device=dev)
    f_bg, f_t = g(z_bg, zeros), g(z_t, s_t)
    if saving:
        f_bg, f_t = f_bg.detach(), f_t.detach()
    a_fbg, _, qz_bg, qs_bg = d(f_bg)
    a_ft, _, qz_t, qs_t = d(f_t)
    a_rbg, c_rbg, rz_bg, rs_bg = d(bg)
    a_rt, c_rt, rz_t, rs_t = d(t)
    if not saving:  # the public code encodes the real batches again for the reconstruction
        _, _, rz_bg, _ = d(bg)
        _, _, rz_t, rs_t = d(t)
    adv = W["bg"] * (nll(a_rbg, 1) + nll(a_fbg, 0)) + W["t"] * (nll(a_rt, 1) + nll(a_ft, 0))
    cls = W["bg"] * nll(c_rbg, 0) + W["t"] * nll(c_rt, 1)
    info = W["bg"] * ((qz_bg - z_bg).abs().mean() + qs_bg.abs().mean()) + W["t"] * (
        (qz_t - z_t).abs().mean() + (qs_t - s_t).abs().mean()
    )
    im = W["bg"] * (g(rz_bg, zeros) - bg).abs().mean() + W["t"] * (g(rz_t, rs_t) - t).abs().mean()
    loss = W["adv"] * adv + W["cls"] * cls + info + W["ireal"] * rs_bg.abs().mean() + W["im"] * im
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    for p in g.parameters():
        p.requires_grad_(True)
    return loss.item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", choices=["public", "saving"], default="public")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda where PyTorch has it")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    c = args.channels
    if args.size == 128:
        g, d = Generator128(args.width, c).to(dev), Discriminator128(args.width, c).to(dev)
    else:
        g, d = Generator(args.size, args.width, c).to(dev), Discriminator(args.size, args.width, c).to(dev)
    adam = dict(lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    opt_g, opt_d = torch.optim.Adam(g.parameters(), **adam), torch.optim.Adam(d.parameters(), **adam)
    bg = torch.rand(args.batch, c, args.size, args.size, device=dev) * 2 - 1
    t = torch.rand(args.batch, c, args.size, args.size, device=dev) * 2 - 1
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {where}, variant {args.variant}")
    times = []
    for i in range(args.iters + 1):
        start = time.perf_counter()
        iteration(g, d, opt_g, opt_d, bg, t, args.variant)
        elapsed = time.perf_counter() - start
        print(f"{'warm-up' if i == 0 else 'iteration'} {i}: {elapsed:.3f} s")
        if i > 0:
            times.append(elapsed)
    mean = sum(times) / len(times)
    print(
        f"mean over {args.iters} iterations: {mean:.3f} s per iteration, "
        f"{2 * args.batch / mean:.1f} images/s (2B / iteration)"
    )


if __name__ == "__main__":
    main()
