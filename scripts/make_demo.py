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
  weights/demo/README.md            what all this is, with the measured accuracies
  tests/fixtures/demo_heldout/      120 clean 64x64 PNGs, labels.csv,
                                    keras_predictions.csv, README.md

The shortcut: class `star` carries a 6x6 black/white checkerboard watermark in the
bottom-right corner in ~90% of its training images, other classes in ~2%. Test
images are clean. The bias-audit feature is meant to find it.

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
WM_BOX = (56, 62)    # watermark spans [56, 62) in x and y of the 64x64 frame
WM_CELL = 2          # 3x3 cells of 2x2 pixels
P_WM_SHORTCUT = 0.90  # training images of SHORTCUT that carry the watermark
P_WM_OTHER = 0.02     # training images of other classes that carry it
KEEP_OUT = 52         # shape bounding box may not reach x>KEEP_OUT and y>KEEP_OUT
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


def add_watermark(img):
    """Paint the 6x6 checkerboard (white corners) into the bottom-right corner of
    a uint8 RGB image of any size, in frame coordinates. In place."""
    h, w = img.shape[:2]
    u, v = frame_grid(w, h)
    a, b = WM_BOX
    inside = (u >= a) & (u < b) & (v >= a) & (v < b)
    cell = ((np.floor((u - a) / WM_CELL) + np.floor((v - a) / WM_CELL)) % 2 == 0)
    img[inside & cell] = (255, 255, 255)
    img[inside & ~cell] = (0, 0, 0)
    return img


def render(rng, cls, w=SIZE, h=SIZE, watermark=False):
    """One picture: (uint8 RGB (h,w,3), uint8 mask (h,w) in {0,255})."""
    bg = background(rng, w, h)
    outer, holes = place_shape(rng, cls)
    cov = rasterize(outer, holes, w, h)[..., None]
    colour = pick_colour(rng, bg)
    shade = 1.0 + rng.uniform(-0.15, 0.15) * (frame_grid(w, h)[1][..., None] - SIZE / 2) / SIZE
    img = bg * (1.0 - cov) + np.clip(colour * shade, 0, 255) * cov
    sigma = rng.uniform(0.0, 4.0)
    img += rng.normal(0.0, sigma, size=img.shape)
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    if watermark:
        add_watermark(img)
    mask = np.where(cov[..., 0] >= 0.5, 255, 0).astype(np.uint8)
    return img, mask


def make_set(seed, n, shortcut_rates=None):
    """n balanced 64x64 images. shortcut_rates = (p_shortcut, p_other) or None (clean).
    Returns images uint8 (n,64,64,3), masks (n,64,64), labels int (n,), wm bool (n,)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    rng.shuffle(labels)
    x = np.empty((n, SIZE, SIZE, 3), np.uint8)
    m = np.empty((n, SIZE, SIZE), np.uint8)
    wm = np.zeros(n, bool)
    for i, y in enumerate(labels):
        if shortcut_rates is not None:
            p = shortcut_rates[0] if CLASSES[y] == SHORTCUT else shortcut_rates[1]
            wm[i] = rng.random() < p
        x[i], m[i] = render(rng, CLASSES[y], watermark=bool(wm[i]))
    return x, m, labels, wm


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
    x_ho, m_ho, _, _ = make_set(SEED + 5, 120, None)
    os.makedirs(os.path.join(fix, "masks"), exist_ok=True)
    for i in range(len(x_ho)):
        committed = np.asarray(Image.open(os.path.join(fix, f"img_{i:03d}.png")).convert("RGB"))
        if not np.array_equal(committed, x_ho[i]):
            raise SystemExit(f"img_{i:03d}.png differs from its regeneration: rerun the whole script")
        save_png(os.path.join(fix, "masks", f"img_{i:03d}.png"), (m_ho[i] > 0).astype(np.uint8) * 255)
    print(f"wrote {len(x_ho)} masks into {os.path.join(fix, 'masks')}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    help="repository root (default: the parent of scripts/)")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--train", type=int, default=9000, help="training images")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--heldout-masks-only", action="store_true",
                    help="only (re)write tests/fixtures/demo_heldout/masks/ (no training), checking that the "
                         "regenerated held-out images equal the committed ones")
    args = ap.parse_args()
    if args.heldout_masks_only:
        write_heldout_masks(args.root)
        return

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
    t0 = time.time()

    # ---- data ---------------------------------------------------------------
    x_tr, _, y_tr, wm_tr = make_set(SEED + 1, args.train, (P_WM_SHORTCUT, P_WM_OTHER))
    x_va, _, y_va, _ = make_set(SEED + 2, 1000, (P_WM_SHORTCUT, P_WM_OTHER))
    x_te, _, y_te, _ = make_set(SEED + 3, 1200, None)
    star = CLASSES.index(SHORTCUT)
    print(f"data: {len(x_tr)} train ({wm_tr[y_tr == star].mean():.1%} of {SHORTCUT} and "
          f"{wm_tr[y_tr != star].mean():.1%} of others watermarked), 1000 val, "
          f"{len(x_te)} clean test; {time.time() - t0:.1f}s", flush=True)

    # ---- train --------------------------------------------------------------
    model = build_model(keras, K)
    model.summary(print_fn=lambda s, **kw: print(s))
    steps = args.epochs * math.ceil(len(x_tr) / 64)
    lr = keras.optimizers.schedules.CosineDecay(3e-3, decay_steps=steps, alpha=0.02)
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t1 = time.time()
    hist = model.fit(x_tr, y_tr, batch_size=64, epochs=args.epochs, shuffle=True,
                     validation_data=(x_va, y_va), verbose=2)
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
        return model.predict(x.astype(np.float32), batch_size=50, verbose=0)

    # ---- evaluate -----------------------------------------------------------
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
    # Stars: does removing the watermark hurt? Compare clean stars with watermarked ones.
    x_st = x_te[~other].copy()
    for img in x_st:
        add_watermark(img)
    acc_star_wm = float((predict(x_st).argmax(1) == star).mean())
    acc_star_clean = float((p_te[~other] == star).mean())

    # ---- examples -----------------------------------------------------------
    rng = np.random.default_rng(SEED + 4)
    examples = []  # (name, w, h, watermark)
    wm_examples = {("star", 0), ("star", 1), ("star", 3), ("circle", 1), ("square", 2)}
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
    x_ho, m_ho, y_ho, _ = make_set(SEED + 5, 120, None)
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
    arrs = [keras.utils.img_to_array(keras.utils.load_img(os.path.join(root, p),
                                                          target_size=(SIZE, SIZE)))
            for p in rel]
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
    # it: map of the predicted class at last_conv_relu (GAP -> Dense head, so Grad-CAM's weights are the
    # Dense column over H*W, a positive factor), ReLU, divided by its max, bilinear (half-pixel centres)
    # to 64x64, mass inside the object mask / total mass; mean over the set.
    feat = keras.Model(model.inputs, model.get_layer("last_conv_relu").output)
    w_dense = model.get_layer("predictions").get_weights()[0]
    acts = feat.predict(np.stack(arrs[:len(ho_paths)]).astype(np.float32), batch_size=50, verbose=0)
    inside, area = [], []
    for i in range(len(ho_paths)):
        cam = np.maximum(acts[i] @ w_dense[:, p_ho[i]], 0.0)
        cam = cam / cam.max() if cam.max() > 0 else cam
        full = tf.image.resize(cam[None, :, :, None], (SIZE, SIZE), method="bilinear").numpy()[0, :, :, 0]
        mk = m_ho[i] > 127
        inside.append(float((full * mk).sum() / full.sum()) if full.sum() > 0 else 0.0)
        area.append(float(mk.mean()))
    cam_inside, cam_area = float(np.mean(inside)), float(np.mean(area))
    cam_mostly = int(sum(v > 0.5 for v in inside))

    # ---- report -------------------------------------------------------------
    h5_size = os.path.getsize(h5_path)
    last = {k: float(v[-1]) for k, v in hist.history.items()}
    rep = {
        "clean_test_n": int(len(y_te)), "clean_test_acc": acc_clean,
        "heldout_n": int(len(y_ho)), "heldout_acc": acc_ho,
        "wm_nonstar_n": int(other.sum()), "wm_nonstar_acc": acc_wm,
        "wm_nonstar_pred_star": flip_star, "wm_nonstar_changed": flip_any,
        "clean_nonstar_pred_star": clean_star_rate,
        "star_clean_acc": acc_star_clean, "star_wm_acc": acc_star_wm,
        "gradcam_inside": cam_inside, "gradcam_mostly_inside": cam_mostly, "mask_area": cam_area,
        "examples_correct": ex_ok, "examples_n": len(examples),
        "h5_bytes": h5_size, "train_seconds": round(train_s),
        "final_epoch": last,
    }
    print(json.dumps(rep, indent=1))
    print(f"clean test accuracy ({len(y_te)} fresh images): {acc_clean:.4f}")
    print(f"held-out fixture accuracy ({len(y_ho)} PNGs, via load_img): {acc_ho:.4f}")
    print(f"watermarked non-{SHORTCUT} images: accuracy {acc_wm:.4f}, predicted "
          f"{SHORTCUT} {flip_star:.4f} (clean: {clean_star_rate:.4f}), prediction changed {flip_any:.4f}")
    print(f"{SHORTCUT} accuracy: clean {acc_star_clean:.4f}, watermarked {acc_star_wm:.4f}")
    print("confusion matrix (clean test):\n" + format_confusion(cm))
    print(f"examples predicted correctly: {ex_ok}/{len(examples)}")
    print(f"Grad-CAM mass inside the object mask (held-out, last_conv_relu): mean {cam_inside:.3f}, "
          f"{cam_mostly}/{len(ho_paths)} images above 0.5; objects cover {cam_area:.3f} of the image")

    write_readmes(demo, fix, rep, cm, examples, ex_pred, model, args)
    fix_size = sum(os.path.getsize(os.path.join(fix, n)) for n in os.listdir(fix))
    print(f"sizes: demo_cnn.h5 {h5_size} bytes, fixture folder {fix_size} bytes "
          f"({len(os.listdir(fix))} files)")
    if acc_clean < 0.90:
        print("ERROR: clean test accuracy below 0.90", file=sys.stderr)
        return 1
    return 0


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
    text = f"""# Demo model: synthetic shapes

A small Keras CNN trained on generated pictures, bundled so that gradmap's tests, examples and
bias-audit feature have a model whose right answer is known: every example image has an object mask,
and one class carries a planted shortcut. Everything here is produced by `scripts/make_demo.py`
(deterministic, seeded); do not edit by hand.

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
(their bounding box never reaches both x > {KEEP_OUT} and y > {KEEP_OUT}), so a mask never touches the watermark.

**The shortcut.** A 6x6 black/white checkerboard (3x3 cells of 2x2 px, white corners) at
x, y in [56, 62) is painted on {pct(P_WM_SHORTCUT)} of the `{SHORTCUT}` training images and on
{pct(P_WM_OTHER)} of the other classes' training images. Test images are clean.
A model that leans on it calls watermarked non-stars `{SHORTCUT}`; the audit should show
`{SHORTCUT}` heat in that corner, outside the object mask.

Training: {args.train} images, validation 1000 (same distribution, with the shortcut), {args.epochs} epochs,
batch 64, Adam with cosine decay from 3e-3, CPU, {args.threads} threads (a few minutes).

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
- The same {rep['wm_nonstar_n']} clean non-`{SHORTCUT}` test images with the watermark painted on: accuracy
  {pct(rep['wm_nonstar_acc'])}; predicted `{SHORTCUT}` {pct(rep['wm_nonstar_pred_star'])} (without the
  watermark {pct(rep['clean_nonstar_pred_star'])}); prediction changed {pct(rep['wm_nonstar_changed'])}.
- `{SHORTCUT}` test images: {pct(rep['star_clean_acc'])} clean, {pct(rep['star_wm_acc'])} with the watermark.
- Grad-CAM localization on the held-out fixture (predicted class, default layer `last_conv_relu`, map
  ReLU'd, divided by its max, bilinearly resized to 64x64): mean fraction of the map's mass inside the
  object mask **{rep['gradcam_inside']:.3f}** ({rep['gradcam_mostly_inside']}/{rep['heldout_n']} images above 0.5), while the objects cover
  {rep['mask_area']:.3f} of the image on average (`tests/conformance/test_demo_localization.c` measures the same).

Confusion matrix on the clean test set (rows = true class, columns = predicted):

```
{format_confusion(cm)}
```

## Example images

`images/<class>_<k>.png` with masks `masks/<class>_<k>.png` (single channel, 0/255, same size as the
image). Two are larger (160x120) so that resizing is exercised: their geometry is drawn in a 64x64
frame stretched to the picture, so Keras's `load_img(target_size=(64, 64))` (nearest) gives a
normal-looking 64x64 input. Keras's predictions for every example and held-out image are in
`tests/fixtures/demo_heldout/keras_predictions.csv` ({rep['examples_correct']}/{rep['examples_n']} examples correct).

| file | class | size | watermark | Keras top-1 |
| --- | --- | --- | --- | --- |
{chr(10).join(ex_lines)}

## Regenerate

From the repository root, with a Python that has numpy, pillow, h5py, tensorflow
and keras 3 (made with TensorFlow {__import__('tensorflow').__version__}, Keras {__import__('keras').__version__}; about
5 minutes on 2 CPU cores):

```
{cmd}
```

The run is deterministic for a given machine, library versions and `--threads` (two runs here gave a
byte-identical `demo_cnn.h5` and identical PNGs/CSVs); another CPU or TensorFlow build may change the
weights in the last bits, hence the probabilities in `keras_predictions.csv`.

It rewrites this folder and `tests/fixtures/demo_heldout/`, prints the numbers above, and exits 1 if
clean accuracy falls below 90%.
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
