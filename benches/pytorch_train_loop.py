"""The PyTorch baseline for benches/train_vs_pytorch.sh: the pytorch/examples
fast_neural_style training loop, with the same network as nst-train (Johnson et al.:
reflection padding, instance norm, nearest upsampling + conv, 127.5*(tanh+1) output),
the same VGG-19 weights (weights/vgg19.safetensors), layers, losses, image size and batch.

Prints one line: `pytorch <images/s>` measured after `--warmup` iterations.
"""
import argparse
import os
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file

MEAN_BGR = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
LAYERS = ["relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3", "relu3_4",
          "relu4_1", "relu4_2", "relu4_3", "relu4_4", "relu5_1", "relu5_2", "relu5_3", "relu5_4"]


class Vgg19(nn.Module):
    def __init__(self, path):
        super().__init__()
        w = load_file(path)
        self.convs = nn.ModuleList()
        for b, n in [(1, 2), (2, 2), (3, 4), (4, 4), (5, 4)]:
            for c in range(1, n + 1):
                conv = nn.Conv2d(w[f"block{b}_conv{c}.weight"].shape[1], w[f"block{b}_conv{c}.weight"].shape[0], 3, padding=1)
                conv.weight.data = w[f"block{b}_conv{c}.weight"]
                conv.bias.data = w[f"block{b}_conv{c}.bias"]
                self.convs.append(conv)
        for p in self.parameters():
            p.requires_grad = False

    def forward(self, rgb, wanted):
        x = rgb.flip(1) - MEAN_BGR
        last = max(wanted)
        out = {}
        for i, conv in enumerate(self.convs[: last + 1]):
            x = F.relu(conv(x))
            if i in wanted:
                out[i] = x
            if i in (1, 3, 7, 11) and i < last:
                x = F.max_pool2d(x, 2)
        return [out[i] for i in wanted]


class Conv(nn.Module):
    def __init__(self, cin, cout, k, stride=1, up=1):
        super().__init__()
        self.conv, self.k, self.up = nn.Conv2d(cin, cout, k, stride), k, up

    def forward(self, x):
        if self.up > 1:
            x = F.interpolate(x, scale_factor=self.up, mode="nearest")
        return self.conv(F.pad(x, [self.k // 2] * 4, mode="reflect"))


def cna(cin, cout, k, stride=1, up=1, relu=True):
    layers = [Conv(cin, cout, k, stride, up), nn.InstanceNorm2d(cout, affine=True)]
    return nn.Sequential(*(layers + [nn.ReLU()] if relu else layers))


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a, self.b = cna(c, c, 3), cna(c, c, 3, relu=False)

    def forward(self, x):
        return x + self.b(self.a(x))


class TransformerNet(nn.Module):
    def __init__(self, c=32, blocks=5):
        super().__init__()
        self.body = nn.Sequential(cna(3, c, 9), cna(c, 2 * c, 3, 2), cna(2 * c, 4 * c, 3, 2),
                                  *[Residual(4 * c) for _ in range(blocks)],
                                  cna(4 * c, 2 * c, 3, 1, 2), cna(2 * c, c, 3, 1, 2), Conv(c, 3, 9))

    def forward(self, x):
        return (torch.tanh(self.body(x)) + 1) * 127.5


def gram(f):
    n, c, h, w = f.shape
    f = f.view(n, c, h * w)
    return f.bmm(f.transpose(1, 2)) / (h * w)


def load_crop(path, size, rng):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    side = int(round(min(w, h) * rng.uniform(0.75, 1.0)))
    x, y = rng.randint(0, w - side), rng.randint(0, h - side)
    img = img.crop((x, y, x + side, y + side)).resize((size, size), Image.BICUBIC)
    if rng.random() < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    return torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(size, size, 3).permute(2, 0, 1).float()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--style", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--style-size", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--iterations", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--vgg", default="weights/vgg19.safetensors")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    exts = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(args.dataset) for f in fs if f.lower().endswith(exts))

    vgg = Vgg19(args.vgg)
    content_idx = [LAYERS.index("relu4_2")]
    style_idx = [LAYERS.index(l) for l in ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]]
    style = Image.open(args.style).convert("RGB")
    scale = args.style_size / max(style.size)
    style = style.resize((round(style.size[0] * scale), round(style.size[1] * scale)), Image.BICUBIC)
    style_t = torch.frombuffer(bytearray(style.tobytes()), dtype=torch.uint8).view(style.size[1], style.size[0], 3).permute(2, 0, 1).float()[None]
    style_grams = [gram(f) for f in vgg(style_t, style_idx)]

    net = TransformerNet()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    all_idx = content_idx + style_idx
    start = None
    for it in range(args.iterations):
        if it == args.warmup:
            start = time.perf_counter()
        batch = torch.stack([load_crop(rng.choice(files), args.image_size, rng) for _ in range(args.batch_size)])
        opt.zero_grad()
        y = net(batch)
        feats_y = vgg(y, all_idx)
        feats_x = vgg(batch, all_idx)  # the examples' way: one full pass for x as well
        content = 5.0 * F.mse_loss(feats_y[0], feats_x[0])
        style_loss = 0.0
        for f, g in zip(feats_y[1:], style_grams):
            gy = gram(f)
            style_loss = style_loss + F.mse_loss(gy, g.expand_as(gy)) / gy.shape[1] ** 2
        tv = (y[:, :, 1:] - y[:, :, :-1]).abs().mean() + (y[:, :, :, 1:] - y[:, :, :, :-1]).abs().mean()
        loss = content + 10.0 * style_loss + 0.5 * tv
        loss.backward()
        opt.step()
    elapsed = time.perf_counter() - start
    print(f"pytorch {(args.iterations - args.warmup) * args.batch_size / elapsed:.3f}")


if __name__ == "__main__":
    main()
