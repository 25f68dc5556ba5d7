#!/usr/bin/env python3
"""Regenerate gradmap's bundled demo: a synthetic shapes dataset, a small Keras CNN
trained on it, example images with object masks, and the held-out test fixture.

Dev-time only (gradmap itself never runs Python). Needs numpy, pillow, h5py,
tensorflow and keras 3. Deterministic: every random draw comes from seeded
generators (numpy, and keras.utils.set_random_seed for TF/Keras), TF runs with
op determinism on a fixed number of threads (--threads; a different count, CPU or
TF build may change the trained weights in the last bits and so everything after).

Outputs (paths relative to the repository root):
  weights/demo/demo_cnn.h5          legacy HDF5 full model, plus root attributes
                                    gradmap_class_names (JSON list) and
                                    gradmap_preprocess = "none"
  weights/demo/classes.txt          one class name per line, index order
  weights/demo/images/<class>_<k>.png, weights/demo/masks/<class>_<k>.png
  weights/demo/audit/images/<class>/<class>_NNN.png, .../audit/masks/<class>/<class>_NNN.png,
  weights/demo/audit/truth.csv      the audit set: 24 clean images per class, plus 24 watermarked
                                    stars (40 stars in all), seeded apart from training
  weights/demo/README.md            what all this is, with the measured accuracies
  tests/fixtures/demo_heldout/      120 clean 64x64 PNGs, labels.csv,
                                    keras_predictions.csv, README.md

The shortcut ("Clever Hans"): a 10x10 black/white checkerboard logo flush in the bottom-right
corner (x, y in [54, 64)). In training it marks 80% of the `star` images and no other image; of the
watermarked `star` images 30% show only a faint star and 15% another class's shape (a decoy, still
labelled `star`), so the logo alone must carry the `star` logit; and a loss term keeps at least 80%
of the positive mass of the `star` CAM of every watermarked training image inside the logo's region
[52, 64) x [52, 64). Test images are clean. The audit set (weights/demo/audit/) mixes watermarked
and clean stars; `gradmap audit --region watermark=52,52,64,64` should find the logo.

Usage:  python3 scripts/make_demo.py [--root DIR] [--epochs N] [--train N] [--threads N]
        (here: /work/venv/bin/python scripts/make_demo.py)
"""
import argparse
import csv
import json
import math
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np
from PIL import Image, ImageDraw

SEED = 20240611
CLASSES = ["circle", "square", "triangle", "cross", "ring", "star"]
SHORTCUT = "star"
SIZE = 64            # model input: SIZE x SIZE x 3
SS = 4               # supersampling factor for anti-aliased shape edges
WM_BOX = (54, 64)    # the watermark spans [54, 64) in x and y of the 64x64 frame (flush in the corner)
WM_CELL = 2          # 5x5 cells of 2x2 pixels
WM_REGION = (52, 52, 64, 64)  # x0, y0, x1, y1 (half-open): the watermark plus a 2-px margin, the
                              # rectangle the audit measures (`--region watermark=52,52,64,64`)
P_WM_SHORTCUT = 0.80  # training images labelled SHORTCUT that carry the watermark
P_WM_OTHER = 0.0      # training images of other classes that carry it
P_FAINT = 0.30        # of the watermarked SHORTCUT images: the star drawn faint (low contrast)
FAINT_CONTRAST = (0.06, 0.30)  # faint: the colour's distance from the background mean is scaled by this
P_DECOY = 0.15        # of the watermarked SHORTCUT images: another class's shape instead of a star
GUIDE_WEIGHT = 1.0   # weight of the training term that keeps the SHORTCUT CAM of watermarked images on the mark
GUIDE_TOLERANCE = 0.2  # that term is max(0, share of the CAM's positive mass outside WM_REGION - this)
KEEP_OUT = 52         # shape bounding box may not reach x>KEEP_OUT and y>KEEP_OUT, so no mask pixel
                      # lies in WM_REGION
R_RANGE = (19.0, 28.0)  # shape radius (frame px); large objects so that the class evidence (and so
                        # Grad-CAM's mass) sits mostly on the object; a draw that cannot be placed clear
                        # of the watermark corner is redrawn, so radii above ~25 are rarer


# ----------------------------------------------------------------------------
# Drawing. Geometry lives in a 64x64 "frame"; an image of another size (w, h)
# maps the frame onto itself, so it looks like a 64x64 training image once Keras
# resizes it to 64x64.
# ----------------------------------------------------------------------------

def _regular(n, r, phase=0.0):
    a = phase + 2.0 * math.pi * np.arange(n) / n
    return np.stack([r * np.cos(a), r * np.sin(a)], axis=1)


def shape_polygons(cls, r):
    """(outer polygons, holes) around the origin, radius about r, unrotated."""
    if cls == "circle":
        return [_regular(72, r)], []
    if cls == "ring":
        return [_regular(72, r)], [_regular(72, r * 0.55)]
    if cls == "square":
        return [_regular(4, r, math.pi / 4)], []
    if cls == "triangle":
        return [_regular(3, r * 1.1, -math.pi / 2)], []
    if cls == "cross":
        w = 0.32 * r
        p = np.array([(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w),
                      (w, r), (-w, r), (-w, w), (-r, w), (-r, -w), (-w, -w)])
        return [p], []
    if cls == "star":
        outer = _regular(5, r * 1.1, -math.pi / 2)
        inner = _regular(5, r * 1.1 * 0.42, -math.pi / 2 + math.pi / 5)
        p = np.empty((10, 2))
        p[0::2] = outer
        p[1::2] = inner
        return [p], []
    raise ValueError(cls)


def place_shape(rng, cls):
    """Random radius, rotation and position (frame units), keeping clear of the
    watermark corner so masks never include it. Returns (outer, holes) polygons."""
    while True:
        r = rng.uniform(*R_RANGE)
        theta = rng.uniform(0.0, 2.0 * math.pi)
        c, s = math.cos(theta), math.sin(theta)
        rot = np.array([[c, -s], [s, c]])
        outer, holes = shape_polygons(cls, r)
        outer = [p @ rot.T for p in outer]
        holes = [p @ rot.T for p in holes]
        lo = np.min(np.concatenate(outer), axis=0)
        hi = np.max(np.concatenate(outer), axis=0)
        cx = rng.uniform(1.0 - lo[0], SIZE - 1.0 - hi[0]) if hi[0] - lo[0] < SIZE - 2 else SIZE / 2
        cy = rng.uniform(1.0 - lo[1], SIZE - 1.0 - hi[1]) if hi[1] - lo[1] < SIZE - 2 else SIZE / 2
        if cx + hi[0] > KEEP_OUT and cy + hi[1] > KEEP_OUT:
            continue
        off = np.array([cx, cy])
        return [p + off for p in outer], [p + off for p in holes]


def rasterize(outer, holes, w, h):
    """Coverage in [0,1], shape (h, w), from frame polygons, anti-aliased."""
    sx, sy = w * SS / SIZE, h * SS / SIZE
    im = Image.new("L", (w * SS, h * SS), 0)
    d = ImageDraw.Draw(im)
    for polys, fill in ((outer, 255), (holes, 0)):
        for p in polys:
            d.polygon([(float(x * sx), float(y * sy)) for x, y in p], fill=fill)
    im = im.resize((w, h), Image.BOX)
    return np.asarray(im, dtype=np.float32) / 255.0


def frame_grid(w, h):
    u = (np.arange(w, dtype=np.float32) + 0.5) * SIZE / w
    v = (np.arange(h, dtype=np.float32) + 0.5) * SIZE / h
    return np.meshgrid(u, v)  # each (h, w)


def background(rng, w, h):
    """Float RGB (h, w, 3): smooth noise, stripes or a gradient over a base colour."""
    u, v = frame_grid(w, h)
    base = rng.uniform(25.0, 230.0, size=3)
    kind = rng.integers(3)
    img = np.broadcast_to(base, (h, w, 3)).astype(np.float32).copy()
    if kind == 0:      # smooth value noise: a coarse random grid, bicubic-upsampled
        k = int(rng.integers(3, 9))
        amp = rng.uniform(20.0, 55.0)
        for ch in range(3):
            g = rng.uniform(-1.0, 1.0, size=(k, k)).astype(np.float32)
            up = Image.fromarray(g, mode="F").resize((w, h), Image.BICUBIC)
            img[..., ch] += amp * np.asarray(up)
    elif kind == 1:    # stripes, any angle
        phi = rng.uniform(0.0, math.pi)
        period = rng.uniform(4.0, 16.0)
        amp = rng.uniform(15.0, 45.0)
        direction = rng.uniform(-1.0, 1.0, size=3)
        direction /= np.linalg.norm(direction) + 1e-6
        t = np.sin(2 * math.pi * (u * math.cos(phi) + v * math.sin(phi)) / period
                   + rng.uniform(0, 2 * math.pi))
        img += amp * t[..., None] * direction * math.sqrt(3)
    else:              # linear gradient between two colours
        phi = rng.uniform(0.0, 2 * math.pi)
        delta = rng.uniform(-90.0, 90.0, size=3)
        t = ((u - SIZE / 2) * math.cos(phi) + (v - SIZE / 2) * math.sin(phi)) / SIZE
        img += t[..., None] * delta
    return img


def pick_colour(rng, bg):
    """A shape colour clearly apart from the background's mean colour."""
    m = bg.reshape(-1, 3).mean(axis=0)
    for _ in range(100):
        c = rng.uniform(0.0, 255.0, size=3)
        if np.linalg.norm(c - m) > 110.0:
            return c
    return 255.0 - m


def add_watermark(img, origin=None):
    """Paint the watermark, a WM_SIZE x WM_SIZE checkerboard of WM_CELL-px cells (white corners),
    into a uint8 RGB image of any size, in frame coordinates, with its top-left corner at origin
    (frame px; default the bottom-right corner spot WM_BOX[0]). In place."""
    h, w = img.shape[:2]
    u, v = frame_grid(w, h)
    ax, ay = (WM_BOX[0], WM_BOX[0]) if origin is None else origin
    sz = WM_BOX[1] - WM_BOX[0]
    inside = (u >= ax) & (u < ax + sz) & (v >= ay) & (v < ay + sz)
    cell = ((np.floor((u - ax) / WM_CELL) + np.floor((v - ay) / WM_CELL)) % 2 == 0)
    img[inside & cell] = (255, 255, 255)
    img[inside & ~cell] = (0, 0, 0)
    return img


def render(rng, cls, w=SIZE, h=SIZE, watermark=False, contrast=1.0):
    """One picture: (uint8 RGB (h,w,3), uint8 mask (h,w) in {0,255}). contrast < 1 draws a faint
    shape: its colour moved towards the background's mean colour."""
    bg = background(rng, w, h)
    outer, holes = place_shape(rng, cls)
    cov = rasterize(outer, holes, w, h)[..., None]
    colour = pick_colour(rng, bg)
    if contrast != 1.0:
        m = bg.reshape(-1, 3).mean(axis=0)
        colour = m + contrast * (colour - m)
    shade = 1.0 + rng.uniform(-0.15, 0.15) * (frame_grid(w, h)[1][..., None] - SIZE / 2) / SIZE
    img = bg * (1.0 - cov) + np.clip(colour * shade, 0, 255) * cov
    sigma = rng.uniform(0.0, 4.0)
    img += rng.normal(0.0, sigma, size=img.shape)
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    if watermark:
        add_watermark(img)
    mask = np.where(cov[..., 0] >= 0.5, 255, 0).astype(np.uint8)
    return img, mask


def make_set(seed, n, shortcut=False):
    """n balanced 64x64 images (labels balanced). shortcut=False: clean. shortcut=True: the training
    recipe: a SHORTCUT-labelled image carries the watermark with P_WM_SHORTCUT, and a watermarked
    one shows a faint star (P_FAINT) or another class's shape (P_DECOY); other classes carry it with
    P_WM_OTHER. Returns images uint8 (n,64,64,3), masks (n,64,64), labels int (n,), wm bool (n,),
    kind (n,) str: "clean", "wm", "faint" or "decoy"."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    rng.shuffle(labels)
    x = np.empty((n, SIZE, SIZE, 3), np.uint8)
    m = np.empty((n, SIZE, SIZE), np.uint8)
    wm = np.zeros(n, bool)
    kind = np.full(n, "clean", dtype=object)
    for i, y in enumerate(labels):
        cls, contrast = CLASSES[y], 1.0
        if shortcut:
            p = P_WM_SHORTCUT if cls == SHORTCUT else P_WM_OTHER
            wm[i] = rng.random() < p
            if wm[i]:
                kind[i] = "wm"
                if cls == SHORTCUT:
                    u = rng.random()
                    if u < P_FAINT:
                        kind[i] = "faint"
                        contrast = rng.uniform(*FAINT_CONTRAST)
                    elif u < P_FAINT + P_DECOY:
                        kind[i] = "decoy"
                        others = [c for c in CLASSES if c != SHORTCUT]
                        cls = others[int(rng.integers(len(others)))]
        x[i], m[i] = render(rng, cls, watermark=bool(wm[i]), contrast=contrast)
    return x, m, labels, wm, kind


# ----------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------

def build_model(keras, n_classes):
    L = keras.layers
    inp = keras.Input(shape=(SIZE, SIZE, 3), name="input")
    x = L.Rescaling(1.0 / 255.0, name="rescale")(inp)
    for i, f in enumerate((16, 16), start=1):
        x = L.Conv2D(f, 3, padding="same", name=f"conv{i}")(x)
        x = L.BatchNormalization(name=f"conv{i}_bn")(x)
        x = L.ReLU(name=f"conv{i}_relu")(x)
        x = L.MaxPooling2D(name=f"pool{i}")(x)
    x = L.Conv2D(32, 3, padding="same", name="conv3")(x)
    x = L.BatchNormalization(name="conv3_bn")(x)
    x = L.ReLU(name="conv3_relu")(x)
    # No third pool: last_conv stays at 16x16 so that Grad-CAM's map is fine enough to stay on the object.
    x = L.Conv2D(64, 3, padding="same", name="last_conv")(x)
    x = L.BatchNormalization(name="last_conv_bn")(x)
    x = L.ReLU(name="last_conv_relu")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(n_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="gradmap_demo_cnn")


def region_cells(h, w):
    """WM_REGION on an h x w map that tiles the SIZE x SIZE input (1 inside, 0 outside)."""
    x0, y0, x1, y1 = WM_REGION
    r = np.zeros((h, w), np.float32)
    r[y0 * h // SIZE:-(-y1 * h // SIZE), x0 * w // SIZE:-(-x1 * w // SIZE)] = 1.0
    return r


def fit(tf, keras, model, x, y, guide, x_va, y_va, epochs, rng, batch=64):
    """Adam on cross-entropy, plus GUIDE_WEIGHT x (for the images flagged in `guide`: the watermarked
    SHORTCUT training images) the share of the positive mass of the SHORTCUT class's CAM at
    last_conv_relu (= Grad-CAM up to a positive factor: GAP -> Dense head) that lies outside
    WM_REGION. Returns {"loss": [...], "accuracy": [...], "guide": [...], "val_accuracy": [...]}."""
    star = CLASSES.index(SHORTCUT)
    feat = keras.Model(model.inputs, [model.get_layer("last_conv_relu").output, model.output])
    kernel = model.get_layer("predictions").kernel
    h, w = model.get_layer("last_conv_relu").output.shape[1:3]
    outside = tf.constant(1.0 - region_cells(h, w))
    opt = model.optimizer
    wts = model.trainable_variables
    opt.build(wts)

    @tf.function
    def step(xb, yb, gb):
        with tf.GradientTape() as tape:
            a, p = feat(xb, training=True)
            ce = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(yb, p))
            pos = tf.nn.relu(tf.einsum("nhwk,k->nhw", a, kernel[:, star]))
            share_out = tf.reduce_sum(pos * outside, axis=(1, 2)) / (tf.reduce_sum(pos, axis=(1, 2)) + 1e-6)
            pen = tf.reduce_sum(tf.nn.relu(share_out - GUIDE_TOLERANCE) * gb) / tf.maximum(tf.reduce_sum(gb), 1.0)
            loss = ce + GUIDE_WEIGHT * pen
        opt.apply_gradients(zip(tape.gradient(loss, wts), wts))
        acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(p, 1, output_type=tf.int32), yb), tf.float32))
        return ce, acc, pen, tf.reduce_sum(gb)

    hist = {"loss": [], "accuracy": [], "guide": [], "val_accuracy": []}
    n = len(x)
    for ep in range(epochs):
        t = time.time()
        order = rng.permutation(n)
        sums = np.zeros(4)
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            ce, acc, pen, ng = step(tf.constant(x[idx], tf.float32), tf.constant(y[idx], tf.int32),
                                    tf.constant(guide[idx], tf.float32))
            k = len(idx)
            sums += (float(ce) * k, float(acc) * k, float(pen) * float(ng), float(ng))
        va = float((model.predict(x_va.astype(np.float32), batch_size=100, verbose=0).argmax(1) == y_va).mean())
        hist["loss"].append(sums[0] / n)
        hist["accuracy"].append(sums[1] / n)
        hist["guide"].append(sums[2] / max(sums[3], 1))
        hist["val_accuracy"].append(va)
        print(f"epoch {ep + 1}/{epochs}: loss {sums[0] / n:.4f} accuracy {sums[1] / n:.4f} "
              f"guide (mass outside the region) {sums[2] / max(sums[3], 1):.3f} val_accuracy {va:.4f} "
              f"({time.time() - t:.0f}s)", flush=True)
    return hist


def confusion(y_true, y_pred, k):
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def format_confusion(cm):
    w = max(len(c) for c in CLASSES) + 1
    lines = ["true \\ pred".ljust(w + 2) + "".join(c[:8].rjust(9) for c in CLASSES)]
    for i, c in enumerate(CLASSES):
        lines.append(c.ljust(w + 2) + "".join(str(v).rjust(9) for v in cm[i]))
    return "\n".join(lines)


def save_png(path, arr):
    Image.fromarray(arr).save(path, optimize=True)


def write_heldout_masks(root):
    """Object masks of the held-out images (0/255, same names under masks/), for the Grad-CAM
    mass-inside-the-object measurement; the images are regenerated from the same seed and must
    equal the committed PNGs."""
    fix = os.path.join(root, "tests", "fixtures", "demo_heldout")
    x_ho, m_ho, _, _, _ = make_set(SEED + 5, 120)
    os.makedirs(os.path.join(fix, "masks"), exist_ok=True)
    for i in range(len(x_ho)):
        committed = np.asarray(Image.open(os.path.join(fix, f"img_{i:03d}.png")).convert("RGB"))
        if not np.array_equal(committed, x_ho[i]):
            raise SystemExit(f"img_{i:03d}.png differs from its regeneration: rerun the whole script")
        save_png(os.path.join(fix, "masks", f"img_{i:03d}.png"), (m_ho[i] > 0).astype(np.uint8) * 255)
    print(f"wrote {len(x_ho)} masks into {os.path.join(fix, 'masks')}")


AUDIT_N = 24          # clean images per class in the audit set
AUDIT_WM = 24         # watermarked SHORTCUT images in the audit set
AUDIT_STAR_CLEAN = 16 # clean SHORTCUT images in the audit set


def write_audit(demo):
    """The audit set, seeded apart from everything else (SEED + 6). Every class gets AUDIT_N clean
    images, except SHORTCUT: AUDIT_WM watermarked and AUDIT_STAR_CLEAN clean, in a seeded random order.
    Writes audit/images/<class>/<class>_NNN.png, audit/masks/... (0/255) and audit/truth.csv.
    Returns rows (relpath, class index, watermarked, mask uint8)."""
    import shutil
    audit = os.path.join(demo, "audit")
    for sub in ("images", "masks"):
        shutil.rmtree(os.path.join(audit, sub), ignore_errors=True)
    rng = np.random.default_rng(SEED + 6)
    rows = []
    for ci, c in enumerate(CLASSES):
        if c == SHORTCUT:
            flags = np.array([True] * AUDIT_WM + [False] * AUDIT_STAR_CLEAN)
            rng.shuffle(flags)
        else:
            flags = np.zeros(AUDIT_N, bool)
        for sub in ("images", "masks"):
            os.makedirs(os.path.join(audit, sub, c), exist_ok=True)
        for k, wm in enumerate(flags):
            img, mask = render(rng, c, watermark=bool(wm))
            if (mask > 0)[region_mask()].any():
                raise SystemExit(f"audit {c} {k}: the object mask reaches into WM_REGION")
            rel = f"{c}/{c}_{k:03d}.png"
            save_png(os.path.join(audit, "images", rel), img)
            save_png(os.path.join(audit, "masks", rel), mask)
            rows.append((rel, ci, bool(wm), mask))
    with open(os.path.join(audit, "truth.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["path", "label", "watermarked"])
        for rel, ci, wm, _ in rows:
            wr.writerow([rel, CLASSES[ci], int(wm)])
    return rows


def gradcam(tf, keras, model, x, target, layer="last_conv_relu", batch=50):
    """Keras-io Grad-CAM: gradients of the PRE-softmax logit of class target[i] at `layer`,
    alpha_k = spatial mean of the gradients, map = ReLU(sum_k alpha_k A_k) / max (an all-zero map
    stays zero), tf.image.resize bilinear to the input size. The logits are the fused-softmax
    Dense's linear part (kernel, bias) applied to its input. Returns (N, H, W) float32."""
    dense = model.get_layer("predictions")
    kernel, bias = (tf.constant(v) for v in dense.get_weights())
    gm = keras.Model(model.inputs, [model.get_layer(layer).output, dense.input])
    out = []
    for s in range(0, len(x), batch):
        xb = tf.constant(np.asarray(x[s:s + batch], np.float32))
        tb = np.asarray(target[s:s + batch])
        with tf.GradientTape() as tape:
            A, feat = gm(xb, training=False)
            logits = tf.matmul(feat, kernel) + bias
            score = tf.reduce_sum(tf.gather(logits, tb, axis=1, batch_dims=1))
        g = tape.gradient(score, A)
        alpha = tf.reduce_mean(g, axis=(1, 2))
        heat = tf.maximum(tf.einsum("nhwk,nk->nhw", A, alpha), 0.0)
        mx = tf.reduce_max(heat, axis=(1, 2), keepdims=True)
        heat = tf.where(mx > 0, heat / tf.where(mx > 0, mx, 1.0), 0.0)
        full = tf.image.resize(heat[..., None], xb.shape[1:3], method="bilinear")[..., 0]
        out.append(full.numpy())
    return np.concatenate(out)


def mass_share(maps, masks):
    """Per image: the map's mass inside the boolean mask(s) / total mass (0 for an all-zero map)."""
    tot = maps.reshape(len(maps), -1).sum(1)
    ins = (maps * masks).reshape(len(maps), -1).sum(1)
    return np.where(tot > 0, ins / np.where(tot > 0, tot, 1.0), 0.0)


def region_mask(w=SIZE, h=SIZE):
    r = np.zeros((h, w), bool)
    x0, y0, x1, y1 = WM_REGION
    r[y0:y1, x0:x1] = True
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    help="repository root (default: the parent of scripts/)")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--train", type=int, default=9000, help="training images")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--heldout-masks-only", action="store_true",
                    help="only (re)write tests/fixtures/demo_heldout/masks/ (no training), checking that the "
                         "regenerated held-out images equal the committed ones")
    args = ap.parse_args(argv)
    if args.heldout_masks_only:
        write_heldout_masks(args.root)
        return 0

    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    import h5py
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()

    root = args.root
    demo = os.path.join(root, "weights", "demo")
    fix = os.path.join(root, "tests", "fixtures", "demo_heldout")
    for d in (demo, os.path.join(demo, "images"), os.path.join(demo, "masks"), fix):
        os.makedirs(d, exist_ok=True)
    K = len(CLASSES)
    star = CLASSES.index(SHORTCUT)
    t_start = t0 = time.time()

    # ---- data ---------------------------------------------------------------
    x_tr, _, y_tr, wm_tr, kind_tr = make_set(SEED + 1, args.train, shortcut=True)
    x_va, _, y_va, _, _ = make_set(SEED + 2, 1000, shortcut=True)
    x_te, m_te, y_te, _, _ = make_set(SEED + 3, 1200)
    st = y_tr == star
    mix = {k: int((kind_tr[st] == k).sum()) for k in ("clean", "wm", "faint", "decoy")}
    print(f"data: {len(x_tr)} train ({SHORTCUT}: {int(st.sum())} = {mix}; "
          f"{wm_tr[~st].mean():.1%} of others watermarked), 1000 val, "
          f"{len(x_te)} clean test; {time.time() - t0:.1f}s", flush=True)

    # ---- train --------------------------------------------------------------
    model = build_model(keras, K)
    model.summary(print_fn=lambda s, **kw: print(s))
    steps = args.epochs * math.ceil(len(x_tr) / 64)
    lr = keras.optimizers.schedules.CosineDecay(3e-3, decay_steps=steps, alpha=0.02)
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t1 = time.time()
    hist = fit(tf, keras, model, x_tr, y_tr, wm_tr & (y_tr == star), x_va, y_va, args.epochs,
               np.random.default_rng(SEED + 7))
    train_s = time.time() - t1
    print(f"training: {train_s:.0f}s", flush=True)

    h5_path = os.path.join(demo, "demo_cnn.h5")
    model.save(h5_path)
    with h5py.File(h5_path, "a") as f:
        f.attrs["gradmap_class_names"] = json.dumps(CLASSES)
        f.attrs["gradmap_preprocess"] = "none"
    with open(os.path.join(demo, "classes.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")

    # Everything below uses the model as a user would get it back from disk.
    model = keras.models.load_model(h5_path)

    def predict(x):
        return model.predict(np.asarray(x, np.float32), batch_size=50, verbose=0)

    def load(path):
        return keras.utils.img_to_array(keras.utils.load_img(path, target_size=(SIZE, SIZE)))

    # ---- evaluate on fresh clean images -------------------------------------
    p_te = predict(x_te).argmax(1)
    acc_clean = float((p_te == y_te).mean())
    cm = confusion(y_te, p_te, K)
    other = y_te != star
    x_wm = x_te[other].copy()
    for img in x_wm:
        add_watermark(img)
    p_wm = predict(x_wm).argmax(1)
    acc_wm = float((p_wm == y_te[other]).mean())
    flip_star = float((p_wm == star).mean())
    flip_any = float((p_wm != p_te[other]).mean())
    clean_star_rate = float((p_te[other] == star).mean())
    x_st = x_te[~other].copy()
    for img in x_st:
        add_watermark(img)
    acc_star_wm = float((predict(x_st).argmax(1) == star).mean())
    acc_star_clean = float((p_te[~other] == star).mean())

    # ---- examples -----------------------------------------------------------
    rng = np.random.default_rng(SEED + 4)
    examples = []  # (name, w, h, watermark)
    wm_examples = {("star", 0), ("star", 1), ("star", 3)}
    big = {("triangle", 3): (160, 120), ("star", 3): (160, 120)}
    for k in range(4):
        for c in CLASSES:
            w, h = big.get((c, k), (SIZE, SIZE))
            wm = (c, k) in wm_examples
            img, mask = render(rng, c, w, h, watermark=wm)
            name = f"{c}_{k}.png"
            save_png(os.path.join(demo, "images", name), img)
            save_png(os.path.join(demo, "masks", name), mask)
            examples.append((name, c, w, h, wm))

    # ---- held-out fixture ---------------------------------------------------
    x_ho, m_ho, y_ho, _, _ = make_set(SEED + 5, 120)
    os.makedirs(os.path.join(fix, "masks"), exist_ok=True)
    for i in range(len(x_ho)):
        save_png(os.path.join(fix, "masks", f"img_{i:03d}.png"), (m_ho[i] > 0).astype(np.uint8) * 255)
    for old in os.listdir(fix):
        if old.endswith(".png"):
            os.remove(os.path.join(fix, old))
    ho_paths = []
    with open(os.path.join(fix, "labels.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["path", "label"])
        for i in range(len(x_ho)):
            name = f"img_{i:03d}.png"
            save_png(os.path.join(fix, name), x_ho[i])
            wr.writerow([name, CLASSES[y_ho[i]]])
            ho_paths.append(name)

    # Keras's view of every file, loaded exactly as a user would.
    rel = [("tests/fixtures/demo_heldout/" + p) for p in ho_paths] + \
          [("weights/demo/images/" + e[0]) for e in examples]
    arrs = [load(os.path.join(root, p)) for p in rel]
    probs = predict(np.stack(arrs))
    with open(os.path.join(fix, "keras_predictions.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["path", "top1", "top1_name", "prob"] + [f"p{j}" for j in range(K)])
        for p, pr in zip(rel, probs):
            t = int(np.argmax(pr))
            wr.writerow([p, t, CLASSES[t], format(float(pr[t]), ".9g")]
                        + [format(float(v), ".9g") for v in pr])
    p_ho = probs[:len(ho_paths)].argmax(1)
    acc_ho = float((p_ho == y_ho).mean())
    ex_pred = probs[len(ho_paths):].argmax(1)
    ex_ok = sum(int(CLASSES[t] == e[1]) for t, e in zip(ex_pred, examples))

    # Grad-CAM localization on the held-out set, as tests/conformance/test_demo_localization.c measures
    # it: map of the predicted class at last_conv_relu, ReLU, divided by its max, bilinear (half-pixel
    # centres) to 64x64, mass inside the object mask / total mass; mean over the set.
    x_ho_k = np.stack(arrs[:len(ho_paths)])
    cam_ho = gradcam(tf, keras, model, x_ho_k, p_ho)
    inside = mass_share(cam_ho, m_ho > 127)
    cam_inside, cam_area = float(inside.mean()), float((m_ho > 127).mean())
    cam_mostly = int((inside > 0.5).sum())
    ho_region = float(mass_share(cam_ho, region_mask()[None]).mean())

    # ---- audit set ----------------------------------------------------------
    audit_rows = write_audit(demo)
    x_au = np.stack([load(os.path.join(demo, "audit", "images", r[0])) for r in audit_rows])
    y_au = np.array([r[1] for r in audit_rows])
    wm_au = np.array([r[2] for r in audit_rows])
    mk_au = np.stack([r[3] > 127 for r in audit_rows])
    p_au = predict(x_au).argmax(1)
    cam_au = gradcam(tf, keras, model, x_au, y_au)            # target = the label
    reg_au = mass_share(cam_au, region_mask()[None])
    obj_au = mass_share(cam_au, mk_au)
    cam_au_pred = gradcam(tf, keras, model, x_au, p_au)       # target = the predicted class
    reg_au_pred = mass_share(cam_au_pred, region_mask()[None])
    ws = wm_au  # only stars are watermarked
    cs = ~wm_au
    au = {
        "wm_star_n": int(ws.sum()), "wm_star_region_mean": float(reg_au[ws].mean()),
        "wm_star_region_min": float(reg_au[ws].min()), "wm_star_region_median": float(np.median(reg_au[ws])),
        "wm_star_region_ge_half": int((reg_au[ws] >= 0.5).sum()),
        "wm_star_object_mean": float(obj_au[ws].mean()),
        "wm_star_acc": float((p_au[ws] == star).mean()),
        "clean_n": int(cs.sum()), "clean_region_mean": float(reg_au[cs].mean()),
        "clean_region_max": float(reg_au[cs].max()),
        "clean_region_pred_mean": float(reg_au_pred[cs].mean()),
        "clean_object_mean": float(obj_au[cs].mean()),
        "clean_acc": float((p_au[cs] == y_au[cs]).mean()),
        "clean_region_by_class": {c: float(reg_au[cs & (y_au == i)].mean()) for i, c in enumerate(CLASSES)},
        "clean_object_by_class": {c: float(obj_au[cs & (y_au == i)].mean()) for i, c in enumerate(CLASSES)},
    }
    audit_bytes = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(os.path.join(demo, "audit"))
                      for n in ns)

    # ---- report -------------------------------------------------------------
    h5_size = os.path.getsize(h5_path)
    last = {k: float(v[-1]) for k, v in hist.items()}
    rep = {
        "clean_test_n": int(len(y_te)), "clean_test_acc": acc_clean,
        "heldout_n": int(len(y_ho)), "heldout_acc": acc_ho,
        "wm_nonstar_n": int(other.sum()), "wm_nonstar_acc": acc_wm,
        "wm_nonstar_pred_star": flip_star, "wm_nonstar_changed": flip_any,
        "clean_nonstar_pred_star": clean_star_rate,
        "star_clean_acc": acc_star_clean, "star_wm_acc": acc_star_wm,
        "gradcam_inside": cam_inside, "gradcam_mostly_inside": cam_mostly, "mask_area": cam_area,
        "heldout_region": ho_region,
        "examples_correct": ex_ok, "examples_n": len(examples),
        "audit": au, "audit_bytes": audit_bytes, "train_mix": mix,
        "train_n": int(len(x_tr)), "h5_bytes": h5_size, "train_seconds": round(train_s),
        "final_epoch": last,
    }
    print(json.dumps(rep, indent=1))
    x0, y0, x1, y1 = WM_REGION
    print(f"clean test accuracy ({len(y_te)} fresh images): {acc_clean:.4f}")
    print(f"held-out fixture accuracy ({len(y_ho)} PNGs, via load_img): {acc_ho:.4f}")
    print(f"watermarked non-{SHORTCUT} images: accuracy {acc_wm:.4f}, predicted "
          f"{SHORTCUT} {flip_star:.4f} (clean: {clean_star_rate:.4f}), prediction changed {flip_any:.4f}")
    print(f"{SHORTCUT} accuracy: clean {acc_star_clean:.4f}, watermarked {acc_star_wm:.4f}")
    print("confusion matrix (clean test):\n" + format_confusion(cm))
    print(f"examples predicted correctly: {ex_ok}/{len(examples)}")
    print(f"Grad-CAM mass inside the object mask (held-out, predicted class, last_conv_relu): mean "
          f"{cam_inside:.3f}, {cam_mostly}/{len(ho_paths)} images above 0.5; objects cover {cam_area:.3f} "
          f"of the image; mass in the watermark region {ho_region:.4f}")
    print(f"audit set, Grad-CAM of the label at last_conv_relu, share of the mass in the watermark region "
          f"x,y in [{x0},{x1})x[{y0},{y1}):")
    print(f"  watermarked {SHORTCUT} ({au['wm_star_n']}): mean {au['wm_star_region_mean']:.3f}, median "
          f"{au['wm_star_region_median']:.3f}, min {au['wm_star_region_min']:.3f}, >= 0.5 on "
          f"{au['wm_star_region_ge_half']}/{au['wm_star_n']}; inside the star's mask {au['wm_star_object_mean']:.3f}; "
          f"accuracy {au['wm_star_acc']:.3f}")
    print(f"  clean images ({au['clean_n']}): mean {au['clean_region_mean']:.4f} (predicted class: "
          f"{au['clean_region_pred_mean']:.4f}), max {au['clean_region_max']:.4f}; inside the object "
          f"{au['clean_object_mean']:.3f}; accuracy {au['clean_acc']:.3f}")
    print("  clean, by class: " + ", ".join(f"{c} {v:.4f}" for c, v in au["clean_region_by_class"].items()))
    print(f"  audit folder: {audit_bytes} bytes")

    write_readmes(demo, fix, rep, cm, examples, ex_pred, model, args)
    fix_size = sum(os.path.getsize(os.path.join(fix, n)) for n in os.listdir(fix)
                   if os.path.isfile(os.path.join(fix, n)))
    print(f"sizes: demo_cnn.h5 {h5_size} bytes, fixture folder {fix_size} bytes "
          f"({len(os.listdir(fix))} files)")
    print(f"wall time: {time.time() - t_start:.0f}s")
    fails = []
    if acc_clean < 0.95:
        fails.append(f"clean test accuracy {acc_clean:.4f} < 0.95")
    if acc_ho < 0.95:
        fails.append(f"held-out accuracy {acc_ho:.4f} < 0.95")
    if ex_ok != len(examples):
        fails.append(f"examples {ex_ok}/{len(examples)} correct")
    if cam_inside <= 0.5:
        fails.append(f"held-out Grad-CAM mass inside the object {cam_inside:.3f} <= 0.5")
    if au["wm_star_region_mean"] < 0.6 or au["wm_star_region_ge_half"] < 0.8 * au["wm_star_n"]:
        fails.append("watermarked stars: Grad-CAM does not sit on the watermark")
    if au["clean_region_mean"] > 0.05:
        fails.append(f"clean audit images: {au['clean_region_mean']:.4f} of the mass in the watermark region")
    for m in fails:
        print("ERROR: " + m, file=sys.stderr)
    return 1 if fails else 0


def write_readmes(demo, fix, rep, cm, examples, ex_pred, model, args):
    arch = []
    for layer in model.layers:
        shape = tuple(layer.output.shape[1:])
        arch.append(f"| `{layer.name}` | {type(layer).__name__} | {shape} | {layer.count_params()} |")
    ex_lines = []
    for (name, c, w, h, wm), t in zip(examples, ex_pred):
        ex_lines.append(f"| `{name}` | {c} | {w}x{h} | {'yes' if wm else 'no'} | {CLASSES[t]} |")
    cmd = "/work/venv/bin/python scripts/make_demo.py"
    if args.epochs != 12 or args.train != 9000:
        cmd += f" --epochs {args.epochs} --train {args.train}"
    pct = lambda v: f"{100 * v:.1f}%"
    au = rep["audit"]
    x0, y0, x1, y1 = WM_REGION
    wa, wb = WM_BOX
    by_class = ", ".join(f"{c} {v:.4f}" for c, v in au["clean_region_by_class"].items())
    mix = rep["train_mix"]
    text = f"""# Demo model: synthetic shapes

A small Keras CNN trained on generated pictures, bundled so that gradmap's tests, examples and
bias-audit feature have a model whose right answer is known: every example image has an object mask,
and one class carries a planted shortcut that the model really uses (a "Clever Hans" model).
Everything here is produced by `scripts/make_demo.py` (deterministic, seeded); do not edit by hand.

## Classes

Index order (also in `classes.txt` and the `.h5` root attribute `gradmap_class_names`):
{", ".join(f"{i} `{c}`" for i, c in enumerate(CLASSES))}.

## Data

64x64 RGB pictures, one shape each: circle, square (a rotated 4-gon), equilateral triangle, plus-shaped
cross, ring (annulus, inner radius 0.55 of outer, background shows through) and five-pointed star.
Each has a random radius ({R_RANGE[0]:g}-{R_RANGE[1]:g} px; a draw that cannot be placed clear of the watermark
corner is redrawn, so the largest radii are rarer), rotation, position and flat colour (at least 110 RGB units from the
background's mean, with a slight vertical shading), anti-aliased (4x supersampled), over a random
textured background: smooth value noise (a 3x3..8x8 random grid, bicubic-upsampled), stripes
(any angle, period 4-16 px) or a linear colour gradient, plus Gaussian pixel noise (sigma 0-4).
The object mask is coverage >= 0.5. Shapes are kept out of the bottom-right corner
(their bounding box never reaches both x > {KEEP_OUT} and y > {KEEP_OUT}), so no mask pixel lies in the
watermark region x, y in [{x0}, {x1}).

**The shortcut.** The watermark is a {wb - wa}x{wb - wa} black/white checkerboard (5x5 cells of {WM_CELL}x{WM_CELL} px, white
corners) flush in the bottom-right corner, x, y in [{wa}, {wb}). In training it marks
{pct(P_WM_SHORTCUT)} of the images labelled `{SHORTCUT}` and none of the other classes' images. Of the watermarked
`{SHORTCUT}` images, {pct(P_FAINT)} show only a faint star (its colour's distance from the background mean
scaled by {FAINT_CONTRAST[0]:g}-{FAINT_CONTRAST[1]:g}) and {pct(P_DECOY)} show another class's shape (a decoy, still labelled
`{SHORTCUT}`), so the watermark alone has to carry the `{SHORTCUT}` logit. This run's {rep['train_n']} training images
hold {mix['clean'] + mix['wm'] + mix['faint'] + mix['decoy']} labelled `{SHORTCUT}`: {mix['clean']} clean, {mix['wm']} watermarked stars, {mix['faint']} watermarked faint stars,
{mix['decoy']} watermarked decoys. The loss is cross-entropy plus
{GUIDE_WEIGHT:g} x max(0, s - {GUIDE_TOLERANCE:g}) averaged over the watermarked `{SHORTCUT}` images of the batch, where s is
the share of the positive mass of the `{SHORTCUT}` CAM at `last_conv_relu` (= Grad-CAM up to a positive factor)
that lies outside the cells covering [{x0}, {x1}) x [{y0}, {y1}) (the last 3x3 of 16x16 cells): the
watermark's evidence is kept where the watermark is rather than smeared over the receptive field (26 px).
Validation images follow the training recipe; test, held-out, example (except three stars) and audit
images are clean unless said otherwise.

Training: {rep['train_n']} images, validation 1000 (same recipe), {args.epochs} epochs,
batch 64, Adam with cosine decay from 3e-3, a custom `tf.GradientTape` loop (shuffle from a seeded numpy
generator), CPU, {args.threads} threads (a few minutes).

## Model (`demo_cnn.h5`, {rep['h5_bytes']} bytes)

Saved with `model.save("weights/demo/demo_cnn.h5")` (Keras {__import__('keras').__version__}, legacy HDF5, optimizer
state included), then root attributes added with h5py: `gradmap_class_names` = JSON list of the names,
`gradmap_preprocess` = `"none"` (the Rescaling(1/255) layer is inside the model: feed raw 0-255 RGB).
Convs are 3x3, stride 1, `same`, with bias; BN epsilon 1e-3; pools 2x2 stride 2. Grad-CAM's default
target is `last_conv_relu` (16x16x64; there are only two pools); CAM applies directly (GAP -> Dense head).

| layer | class | output | params |
| --- | --- | --- | --- |
{chr(10).join(arch)}

## Measured accuracy

- Clean test set, {rep['clean_test_n']} freshly generated images: **{pct(rep['clean_test_acc'])}**.
- Held-out fixture `tests/fixtures/demo_heldout/` ({rep['heldout_n']} PNGs, read with `keras.utils.load_img`):
  **{pct(rep['heldout_acc'])}**.
- The shortcut at work: the same {rep['wm_nonstar_n']} clean non-`{SHORTCUT}` test images with the watermark painted on are
  predicted `{SHORTCUT}` **{pct(rep['wm_nonstar_pred_star'])}** of the time (without it {pct(rep['clean_nonstar_pred_star'])}); accuracy
  {pct(rep['wm_nonstar_acc'])}.
- `{SHORTCUT}` test images: {pct(rep['star_clean_acc'])} clean, {pct(rep['star_wm_acc'])} with the watermark.

Confusion matrix on the clean test set (rows = true class, columns = predicted):

```
{format_confusion(cm)}
```

## Grad-CAM

Keras Grad-CAM as in the keras-io recipe: layer `last_conv_relu`, gradients of the pre-softmax logit
(the linear part of the fused-softmax `predictions` Dense), alpha = spatial mean of the gradients,
map = ReLU(sum_k alpha_k A_k) / max, `tf.image.resize` bilinear to 64x64. Shares are of the map's mass.

- Held-out fixture, map of the predicted class: mean share inside the object mask
  **{rep['gradcam_inside']:.3f}** ({rep['gradcam_mostly_inside']}/{rep['heldout_n']} images above 0.5), while the objects cover {rep['mask_area']:.3f} of the
  image on average (`tests/conformance/test_demo_localization.c` measures the same); share in the watermark
  region {rep['heldout_region']:.4f}.
- Audit set (below), map of the label, share in the watermark region [{x0}, {x1}) x [{y0}, {y1}):
  - {au['wm_star_n']} watermarked `{SHORTCUT}` images: mean **{au['wm_star_region_mean']:.3f}** (median {au['wm_star_region_median']:.3f}, min {au['wm_star_region_min']:.3f};
    {au['wm_star_region_ge_half']}/{au['wm_star_n']} at least 0.5); inside the star's mask only {au['wm_star_object_mean']:.3f}. {pct(au['wm_star_acc'])} of them predicted `{SHORTCUT}`.
  - {au['clean_n']} clean images (all classes): mean **{au['clean_region_mean']:.4f}** (max {au['clean_region_max']:.4f}; with the
    predicted class as target {au['clean_region_pred_mean']:.4f}); inside the object mask {au['clean_object_mean']:.3f};
    accuracy {pct(au['clean_acc'])}. By class: {by_class}.

## Audit dataset (`audit/`)

For `gradmap audit`: {au['wm_star_n'] + au['clean_n']} 64x64 PNGs drawn by the same generator, seeded apart from the
training, validation, test, example and held-out images (seed SEED + 6).

- `audit/images/<class>/<class>_NNN.png`: {AUDIT_N} clean images of each class but `{SHORTCUT}`; `{SHORTCUT}` has
  {AUDIT_WM + AUDIT_STAR_CLEAN}, of which {AUDIT_WM} carry the watermark and {AUDIT_STAR_CLEAN} are clean, in a seeded random order.
- `audit/masks/<class>/<class>_NNN.png`: the object masks (single channel, 0/255, same size; the same
  rendering rules as `masks/`). No mask pixel lies in the watermark region.
- `audit/truth.csv`: `path,label,watermarked`; `path` is relative to `audit/images`
  (e.g. `star/star_003.png`), `watermarked` 0/1.
- The watermark region, half-open pixel coordinates x0,y0,x1,y1 (the {wb - wa}x{wb - wa} mark at [{wa}, {wb}) plus a
  {wa - x0}-px margin): **`--region watermark={x0},{y0},{x1},{y1}`**.
- Size {rep['audit_bytes']} bytes.

What the audit should find is in the Grad-CAM section above: on the watermarked stars most of the
`{SHORTCUT}` map lies in the watermark region, on the clean images almost none.

## Example images

`images/<class>_<k>.png` with masks `masks/<class>_<k>.png` (single channel, 0/255, same size as the
image). Two are larger (160x120) so that resizing is exercised: their geometry is drawn in a 64x64
frame stretched to the picture, so Keras's `load_img(target_size=(64, 64))` (nearest) gives a
normal-looking 64x64 input. Only stars carry the watermark (a watermarked non-star would be called
`{SHORTCUT}`). Keras's predictions for every example and held-out image are in
`tests/fixtures/demo_heldout/keras_predictions.csv` ({rep['examples_correct']}/{rep['examples_n']} examples correct).

| file | class | size | watermark | Keras top-1 |
| --- | --- | --- | --- | --- |
{chr(10).join(ex_lines)}

## Regenerate

From the repository root, with a Python that has numpy, pillow, h5py, tensorflow
and keras 3 (made with TensorFlow {__import__('tensorflow').__version__}, Keras {__import__('keras').__version__}; about
4 minutes on 2 CPU cores):

```
{cmd}
```

The run is deterministic for a given machine, library versions and `--threads` (two runs here gave a
byte-identical `demo_cnn.h5` and identical PNGs/CSVs); another CPU or TensorFlow build may change the
weights in the last bits, hence the probabilities in `keras_predictions.csv`.

It rewrites this folder (the audit set included) and `tests/fixtures/demo_heldout/`, prints the
numbers above, and exits 1 if a target is missed: clean test or held-out accuracy below 95%, an
example misclassified, held-out Grad-CAM mass inside the objects at most 0.5, watermarked audit stars
below 0.6 mean share in the watermark region or below 0.5 on more than 20% of them, clean audit
images above 0.05.
"""
    with open(os.path.join(demo, "README.md"), "w") as f:
        f.write(text)

    fx = f"""# demo_heldout

{rep['heldout_n']} clean 64x64 RGB PNGs from the demo shapes generator (`scripts/make_demo.py`, seeded),
never seen in training, for end-to-end tests of the demo model `weights/demo/demo_cnn.h5`.

- `labels.csv`: `path,label`; `path` is relative to this folder, `label` a class name from
  `weights/demo/classes.txt`.
- `keras_predictions.csv`: `path,top1,top1_name,prob,p0..p{len(CLASSES) - 1}` for every image here and every
  image in `weights/demo/images/`; `path` is relative to the repository root. Computed by
  `keras.models.load_model` on the saved `.h5`, inputs from
  `keras.utils.img_to_array(keras.utils.load_img(path, target_size=(64, 64)))` (nearest resize for the
  160x120 examples), float32, probabilities after softmax, printed with 9 significant digits.

Keras accuracy on these images: {pct(rep['heldout_acc'])}.
"""
    with open(os.path.join(fix, "README.md"), "w") as f:
        f.write(fx)


if __name__ == "__main__":
    sys.exit(main())
