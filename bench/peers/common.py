"""Shared by the orchestrator and every peer: architecture constants, the seeded test images, Keras
"caffe" preprocessing, the job protocol and the timing loop. Needs numpy only, because it runs in
every interpreter (the TensorFlow venv and the PyTorch venv are different Pythons here).

Layouts: images are NHWC uint8 RGB; model inputs are NHWC float32 BGR minus the ImageNet means
(exactly what keras.applications.{vgg16,resnet50}.preprocess_input produces and what gradmap's
caffe mode produces bit for bit), so every tool differentiates the same function of the same floats.
"""
import json
import os
import resource
import struct
import sys
import time
import zlib

import numpy as np

IMAGE_SIZE = 224
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)
IMAGE_SEED = 20260501
RESULT_TAG = "PEER_RESULT "          # stdout lines a peer emits for the orchestrator

# Keras layer names gradmap and the TF recipes use; map_hw is the target layer's spatial size.
ARCHS = {
    "vgg16": {"target_layer": "block5_conv3", "map_hw": 14, "file": "vgg16_full.h5"},
    "resnet50": {"target_layer": "conv5_block3_out", "map_hw": 7, "file": "resnet50_full.h5"},
}


# ---- images -----------------------------------------------------------------------------------

def synthetic_images(n, seed=IMAGE_SEED, size=IMAGE_SIZE):
    """uint8 RGB images: smooth colour waves, a disc and noise, so random-weight models pick
    varied classes and gradients are not degenerate. Same seed, same pixels on every machine."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    out = np.empty((n, size, size, 3), np.float64)
    for i in range(n):
        for c in range(3):
            a, b, p = rng.uniform(-1, 1, 3)
            base = 128 + 90 * np.sin(3.0 * (a * xx + b * yy) + 6.0 * p)
            cy, cx, r = rng.uniform(0.2, 0.8, 2).tolist() + [rng.uniform(0.1, 0.3)]
            disc = ((yy - cy) ** 2 + (xx - cx) ** 2) < r * r
            base = np.where(disc, rng.uniform(0, 255), base)
            out[i, :, :, c] = base + rng.normal(0, 12, (size, size))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def write_png(path, rgb):
    """Minimal 8-bit RGB PNG writer (no Pillow needed; lossless, so gradmap decodes these exact
    pixels). Filter type 0 on every row."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def caffe_preprocess(rgb):
    """keras.applications.imagenet_utils 'caffe' mode: RGB->BGR, minus the BGR means, float32."""
    return rgb[..., ::-1].astype(np.float32) - CAFFE_MEAN_BGR


# ---- job protocol -----------------------------------------------------------------------------

def read_job(argv):
    """A peer is started as `python peer_x.py JOB.json`; the job says what to run (see
    run_peers.make_job for the fields)."""
    if len(argv) != 2:
        sys.exit(f"usage: {os.path.basename(argv[0])} JOB.json")
    with open(argv[1]) as f:
        return json.load(f)


def emit(record):
    print(RESULT_TAG + json.dumps(record), flush=True)


def peak_rss_mb():
    """This process's resident high-water mark. VmHWM, not ru_maxrss: Linux carries ru_maxrss
    across fork and execve, so a child started by a big parent reports at least the parent's RSS."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0                       # kB
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: KiB


def limit_threads(n):
    """Set before numpy/torch/TF start their pools; the orchestrator also sets the environment."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)


def allocator_info():
    """Which malloc this process runs on: {"allocator": "glibc"} or, when libjemalloc is mapped
    (LD_PRELOAD), its version and the decay settings it actually parsed from MALLOC_CONF (read back
    with mallctl), so a -jemalloc variant proves its configuration in the JSON lines."""
    try:
        with open("/proc/self/maps") as f:
            je = any("jemalloc" in ln for ln in f)
    except OSError:
        je = False
    if not je:
        return {"allocator": "glibc"}
    info = {"allocator": "jemalloc"}
    try:
        import ctypes
        lib = ctypes.CDLL(None)
        for key in ("opt.dirty_decay_ms", "opt.muzzy_decay_ms"):
            v, sz = ctypes.c_ssize_t(), ctypes.c_size_t(ctypes.sizeof(ctypes.c_ssize_t))
            if lib.mallctl(key.encode(), ctypes.byref(v), ctypes.byref(sz), None, ctypes.c_size_t(0)) == 0:
                info[key[4:]] = v.value
        s, sz = ctypes.c_char_p(), ctypes.c_size_t(ctypes.sizeof(ctypes.c_char_p))
        if lib.mallctl(b"version", ctypes.byref(s), ctypes.byref(sz), None, ctypes.c_size_t(0)) == 0:
            info["jemalloc_version"] = s.value.decode().split("-")[0]
    except (OSError, AttributeError, ValueError):
        pass
    return info


# ---- running a job ------------------------------------------------------------------------------

def time_batches(fn, x, t, batch, warmup, iters, budget_s):
    """Warm-up calls, then up to `iters` timed calls of fn on the first `batch` images, stopping
    early once budget_s is spent: after 2 timings, or after 1 when that one call alone outlasted
    the budget (VGG16 at batch 32: a call of 20-40 s already averages 32 images). Returns
    images/s statistics."""
    xb, tb = x[:batch], t[:batch]
    for _ in range(warmup):
        fn(xb, tb)
    secs, start = [], time.perf_counter()
    while len(secs) < iters:
        t0 = time.perf_counter()
        fn(xb, tb)
        secs.append(time.perf_counter() - t0)
        if (len(secs) >= 2 or secs[0] > budget_s) and time.perf_counter() - start > budget_s:
            break
    ips = sorted(batch / s for s in secs)
    return {"ips_median": float(np.median(ips)), "ips_min": ips[0], "ips_max": ips[-1],
            "iters": len(secs)}


def run_job(job, fn, to_input, extra=None):
    """The body every peer shares. fn(xb, tb) -> {method: numpy maps (N,h,w)} (or {"logits": ..})
    computes one batch; to_input turns the NHWC float32 numpy inputs into the peer's own input
    object once, so the conversion is not timed (gradmap's decode/preprocess is timed, so this
    favours the peers). First the maps of the first agree_n images are saved for the agreement
    check, then each batch size is timed, smallest first (peak RSS is a running maximum)."""
    x_np = np.load(job["inputs"])
    t_np = np.load(job["targets"]).astype(np.int64)
    n = max(job["batches"] + [job["agree_n"]])
    x = to_input(x_np[:n])
    base = {"peer": job["peer"], "arch": job["arch"], "method": job["method"],
            "precision": job["precision"], "threads": job["threads"]}
    base.update(extra or {})
    base.update(allocator_info())
    if job.get("channels_last"):
        base["memory_format"] = "channels_last"
    k = job["agree_n"]
    if k:
        maps = fn(x[:k], t_np[:k])
        path = job["maps_out"]
        np.savez(path, **{m: np.asarray(v, np.float32) for m, v in maps.items()})
        emit(dict(base, kind="maps", path=path, n=k))
    for b in sorted(job["batches"]):
        r = time_batches(fn, x, t_np, b, job["warmup"], job["iters"], job["budget_s"])
        emit(dict(base, kind="timing", batch=b, peak_rss_mb=peak_rss_mb(), **r))
