"""Agreement of a peer's maps with gradmap's, on the same inputs and target classes.

Per image: the max abs error after scaling both maps by the reference map's max |value| (raw maps
have arbitrary scale: saliency ~1e-5, CAM ~10; "relative max error"), and Spearman's rank
correlation of the flattened maps (average ranks for ties: ReLU'd CAMs have many exact zeros).
Reported: the median over images of each. Raw peers are compared with gradmap's raw maps; for
pytorch-grad-cam, whose output is post-processed, gradmap's raw map first goes through the same
post-processing (pgc_postprocess). Needs numpy; cv2 for that resize (a numpy fallback matches
OpenCV's INTER_LINEAR half-pixel rule for upscaling).
"""
import numpy as np


def _ranks(v):
    """Average ranks (ties share the mean of their positions), 0-based."""
    order = np.argsort(v, kind="mergesort")
    sv = v[order]
    starts = np.concatenate(([0], np.flatnonzero(sv[1:] != sv[:-1]) + 1, [len(v)]))
    r = np.empty(len(v), np.float64)
    for a, b in zip(starts[:-1], starts[1:]):
        r[order[a:b]] = 0.5 * (a + b - 1)
    return r


def spearman(a, b):
    ra, rb = _ranks(a.ravel().astype(np.float64)), _ranks(b.ravel().astype(np.float64))
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def _resize_linear(m, size):
    """OpenCV INTER_LINEAR (half-pixel centres, edge clamp) for one 2-D map, upscaling."""
    h, w = m.shape

    def axis(n_in, n_out):
        src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, (src - i0).astype(np.float32)

    y0, y1, fy = axis(h, size[0])
    x0, x1, fx = axis(w, size[1])
    rows = m[y0] * (1 - fy)[:, None] + m[y1] * fy[:, None]
    return rows[:, x0] * (1 - fx) + rows[:, x1] * fx


def _minmax(m):
    m = m - m.min()
    return m / (1e-7 + m.max())


def pgc_postprocess(maps, size):
    """pytorch-grad-cam 1.5.7 after its ReLU: scale_cam_image (x - min, / (1e-7 + max), cv2.resize),
    then aggregate_multi_layers (mean over the one layer, ReLU) scales once more without resize, which
    matters: the upscaled map's max is below 1 (no output pixel lands on a source centre)."""
    try:
        import cv2
    except ImportError:
        cv2 = None
    out = []
    for m in np.maximum(maps.astype(np.float32), 0):
        m = _minmax(m)
        m = cv2.resize(m, (size[1], size[0])) if cv2 else _resize_linear(m, size)
        out.append(_minmax(np.maximum(m, 0)))
    return np.stack(out).astype(np.float32)


def compare(peer_maps, ref_maps):
    """{'max_err': median relative max error, 'spearman': median rho, 'n': images}."""
    errs, rhos = [], []
    for p, r in zip(peer_maps, ref_maps):
        scale = float(np.abs(r).max()) or 1.0
        errs.append(float(np.abs(p.astype(np.float64) - r).max()) / scale)
        rhos.append(spearman(p, r))
    return {"max_err": float(np.median(errs)), "spearman": float(np.median(rhos)), "n": len(errs)}


def logits_agreement(peer_logits, ref_logit, ref_class):
    """Twin check against gradmap: the peer's logit of gradmap's target class, relative to it, and
    whether the peer's top-1 is that class."""
    got = peer_logits[np.arange(len(ref_class)), ref_class]
    rel = np.abs(got - ref_logit) / np.maximum(np.abs(ref_logit), 1e-6)
    return {"logit_rel_err": float(rel.max()),
            "top1_same": int((peer_logits.argmax(1) == ref_class).sum()), "n": len(ref_class)}


def full_logits_agreement(a, b):
    """Two peers' full logit matrices (e.g. the PyTorch twin vs Keras): max |a-b| / max |b|."""
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-12))
