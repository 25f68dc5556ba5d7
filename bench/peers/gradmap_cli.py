"""gradmap's side of the comparison, through its command line only (the peers script links
nothing): `gradmap explain` for the reference maps and target classes of the agreement check, and
`gradmap bench` for the timings, whose JSON lines (field names: host/cli/bench_report.c, a
contract: fields are added, never renamed) are parsed here.
"""
import json
import os
import shutil
import subprocess

BENCH_METHOD = {"saliency+gradcam": "saliency,gradcam"}   # case name -> gradmap --method


def _run(cmd, timeout):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout} s"
    return p.returncode, p.stdout, p.stderr


def _last_line(text):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def version(gradmap):
    rc, out, err = _run([gradmap, "--version"], 60)
    return (out or err).strip().splitlines()[0] if rc == 0 and (out or err).strip() else "unknown"


def explain(gradmap, model, list_file, methods, out_dir, threads, timeout):
    """Raw maps of `methods` for every image of list_file, top-1 targets, caffe preprocessing
    given explicitly (both model files would pick it anyway). Returns (results.h5 path, command)."""
    shutil.rmtree(out_dir, ignore_errors=True)   # gradmap refuses a folder with results (no --resume)
    cmd = [gradmap, "explain", model, list_file, "--method", ",".join(methods), "--out", out_dir,
           "--png", "none", "--class", "top1", "--preprocess", "caffe", "--batch", "8",
           "--threads", str(threads), "--device", "cpu", "--quiet"]
    rc, out, err = _run(cmd, timeout)
    if rc != 0:
        raise RuntimeError(f"gradmap explain failed ({rc}): {_last_line(err or out)}")
    return os.path.join(out_dir, "results.h5"), cmd


def bench(gradmap, model, method, batches, precision, images_dir, iters, warmup, threads, json_path,
          timeout):
    """Runs one `gradmap bench` (all batch sizes of a case). Returns (records, error, command):
    records = the parsed JSON lines (one per batch size), error = None or the reason."""
    if os.path.exists(json_path):
        os.remove(json_path)
    cmd = [gradmap, "bench", "--model", model, "--method", BENCH_METHOD.get(method, method),
           "--batch", ",".join(str(b) for b in batches), "--device", "cpu", "--precision", precision,
           "--images", images_dir, "--iters", str(iters), "--warmup", str(warmup),
           "--threads", str(threads), "--json", json_path]
    rc, out, err = _run(cmd, timeout)
    records = []
    if os.path.exists(json_path):
        with open(json_path) as f:
            records = [json.loads(ln) for ln in f if ln.strip()]
    if rc != 0:
        return records, f"exit {rc}: {_last_line(err or out)}", cmd
    return records, None, cmd


def ips(record):
    return (record.get("images_per_s") or {}).get("median")


def compute_ips(record, stages=("forward", "backward", "maps")):
    """images/s over the compute stages only (no decode, preprocess, post-processing or PNG
    writing), the work the raw-map peers do."""
    st = record.get("stages_s") or {}
    secs = sum(st.get(s) or 0.0 for s in stages)
    return record["case"]["batch"] / secs if secs > 0 else None


def check_text(record):
    """gradmap's own correctness check (its bf16 against its CPU fp32) as a short string."""
    c = record.get("check") or {}
    ref = c.get("reference")
    if ref == "self":
        return "maps finite" if c.get("maps_finite") else "NON-FINITE maps"
    if ref != "cpu fp32":
        return f"reference ({ref})" if ref else ""
    parts = []
    for m, rho in (c.get("spearman") or {}).items():
        err = (c.get("max_abs_err_normalized") or {}).get(m)
        parts.append(f"{m} vs own fp32: err {err:.2g}, rho {rho:.5f}" if rho is not None and err is not None
                     else f"{m}: n/a")
    return "; ".join(parts)
