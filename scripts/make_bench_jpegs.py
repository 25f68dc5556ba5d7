#!/usr/bin/env python3
"""Write N seeded synthetic JPEG photographs for `gradmap bench --images DIR` (the end-to-end
figure: files decoded and preprocessed on the loader thread while the batch before is computed).

Dev-time only: the bench itself never runs Python. Needs numpy and pillow (Debian's
/usr/bin/python3 has both). The pictures are like the bench's synthetic images (smooth colour
waves plus pixel noise, so the codec meets something between a flat image and pure noise), at a
photograph's size (default 500x375, ImageNet's most common), so that decoding and resizing to the
model's input cost what they cost for real photographs. Deterministic: same arguments, same files.

usage: scripts/make_bench_jpegs.py OUT_DIR [--count 32] [--width 500] [--height 375]
                                           [--quality 90] [--seed 0]
"""
import argparse
import os

import numpy as np
from PIL import Image


def picture(rng, width, height):
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = []
    for _ in range(3):
        fx, fy = rng.uniform(0.01, 0.1, size=2)
        px, py = rng.uniform(0.0, 2.0 * np.pi, size=2)
        channels.append(128.0 + 90.0 * np.sin(fx * x + px) * np.cos(fy * y + py))
    rgb = np.stack(channels, axis=-1) + 32.0 * (rng.random((height, width, 3)) - 0.5)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--width", type=int, default=500)
    ap.add_argument("--height", type=int, default=375)
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    for i in range(a.count):
        path = os.path.join(a.out_dir, f"bench_{i:04d}.jpg")
        Image.fromarray(picture(rng, a.width, a.height)).save(path, quality=a.quality)
    print(f"wrote {a.count} JPEGs of {a.width}x{a.height} to {a.out_dir}")


if __name__ == "__main__":
    main()
