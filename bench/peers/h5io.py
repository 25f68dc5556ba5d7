"""HDF5 access for the orchestrator (needs h5py; the peers do not): the Keras model file's weights
exported to one .npz keyed "layer/weight" in Keras layouts (the PyTorch twin permutes them itself),
and gradmap's results.h5 (maps at native resolution, targets, logits) read back for the agreement
check. Layouts: Keras conv kernels HWIO, dense IO; results.h5 maps (N, targets, h, w) float32.
"""
import os
import subprocess
import sys

import h5py
import numpy as np


def _names(attrs, key):
    """Keras splits long name lists into key0, key1, ... attributes; join them back."""
    if key in attrs:
        vals = list(attrs[key])
    else:
        vals, i = [], 0
        while f"{key}{i}" in attrs:
            vals += list(attrs[f"{key}{i}"])
            i += 1
    return [v.decode() if isinstance(v, bytes) else str(v) for v in vals]


def export_keras_weights(h5_path, npz_path):
    """Writes npz_path once (skipped when newer than the model file); returns it."""
    if os.path.exists(npz_path) and os.path.getmtime(npz_path) >= os.path.getmtime(h5_path):
        return npz_path
    out = {}
    with h5py.File(h5_path, "r") as f:
        g = f["model_weights"] if "model_weights" in f else f
        for layer in _names(g.attrs, "layer_names"):
            lg = g[layer]
            for wname in _names(lg.attrs, "weight_names"):
                short = wname.split("/")[-1].split(":")[0]
                out[f"{layer}/{short}"] = np.asarray(lg[wname], np.float32)
    np.savez(npz_path, **out)
    return npz_path


def export_in_subprocess(h5_path, npz_path):
    """The export holds a whole model in memory; doing it in a child keeps the orchestrator small,
    which matters because Linux's ru_maxrss (gradmap bench's peak RSS) starts at the RSS of the
    parent that forked the process."""
    subprocess.run([sys.executable, os.path.abspath(__file__), h5_path, npz_path], check=True)
    return npz_path


def read_gradmap_results(path):
    """{'target_class': (N,), 'target_logit': (N,), 'topk_class', 'topk_prob', 'maps': {method:
    (N,h,w)}} from gradmap explain's results.h5 (first target of each image)."""
    with h5py.File(path, "r") as f:
        status = np.asarray(f["status"])
        if (status != 1).any():   # 1 ok, 0 failed (host/results.h)
            raise RuntimeError(f"{path}: {int((status != 1).sum())} images failed in gradmap explain")
        res = {"target_class": np.asarray(f["target_class"])[:, 0].astype(np.int64),
               "target_logit": np.asarray(f["target_logit"])[:, 0].astype(np.float32),
               "topk_class": np.asarray(f["topk_class"]), "topk_prob": np.asarray(f["topk_prob"]),
               "paths": [p.decode() if isinstance(p, bytes) else p for p in f["path"][:]],
               "maps": {m: np.asarray(f["maps"][m])[:, 0] for m in f["maps"]}}
    return res


if __name__ == "__main__":
    export_keras_weights(sys.argv[1], sys.argv[2])
