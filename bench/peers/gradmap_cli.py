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


def explain(gradmap, model, list_file, methods, out_dir, threads, timeout, precision="fp32"):
    """Raw maps of `methods` for every image of list_file, top-1 targets, caffe preprocessing
    given explicitly (both model files would pick it anyway). Returns (results.h5 path, command).
    precision other than fp32: `--precision P` (the bf16 maps compared with the fp32 ones)."""
    shutil.rmtree(out_dir, ignore_errors=True)   # gradmap refuses a folder with results (no --resume)
    cmd = [gradmap, "explain", model, list_file, "--method", ",".join(methods), "--out", out_dir,
           "--png", "none", "--class", "top1", "--preprocess", "caffe", "--batch", "8",
           "--threads", str(threads), "--device", "cpu", "--quiet"]
    if precision != "fp32":
        cmd += ["--precision", precision]
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
           "--iters", str(iters), "--warmup", str(warmup), "--threads", str(threads), "--json", json_path]
    if images_dir:                      # else gradmap's synthetic in-memory images (decode 0)
        cmd += ["--images", images_dir]
    rc, out, err = _run(cmd, timeout)
    records = []
    if os.path.exists(json_path):
        with open(json_path) as f:
            records = [json.loads(ln) for ln in f if ln.strip()]
    if rc != 0:
        return records, f"exit {rc}: {_last_line(err or out)}", cmd
    return records, None, cmd


def peak(gradmap, threads, json_path, timeout):
    """`gradmap bench --peak`: the machine's oneDNN conv 3x3 fp32/bf16 and sgemm GFLOP/s. Returns
    (record or None, error or None, command)."""
    if os.path.exists(json_path):
        os.remove(json_path)
    cmd = [gradmap, "bench", "--peak", "--threads", str(threads), "--json", json_path]
    rc, out, err = _run(cmd, timeout)
    rec = None
    if os.path.exists(json_path):
        with open(json_path) as f:
            rec = next((r for r in (json.loads(ln) for ln in f if ln.strip()) if "peak" in r), None)
    if rc != 0 or rec is None:
        return rec, f"exit {rc}: {_last_line(err or out)}", cmd
    return rec, None, cmd


def check_text(record):
    """gradmap's own correctness check (a reduced precision or another convolution algorithm against
    its CPU fp32 direct reference) as a short string."""
    c = record.get("check") or {}
    ref = c.get("reference")
    if ref == "self":
        return "maps finite" if c.get("maps_finite") else "NON-FINITE maps"
    if ref not in ("cpu fp32", "cpu fp32 direct"):
        return f"reference ({ref})" if ref else ""
    parts = []
    for m, rho in (c.get("spearman") or {}).items():
        err = (c.get("max_abs_err_normalized") or {}).get(m)
        parts.append(f"{m} vs own fp32 direct: err {err:.2g}, rho {rho:.5f}" if rho is not None and err is not None
                     else f"{m}: n/a")
    return "; ".join(parts)


def _number(v):
    """A figure that is a number or an object with a median (images_per_s style)."""
    if isinstance(v, dict):
        v = v.get("median")
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def find_field(record, names=(), contains=()):
    """(value, key) of the first field named in `names`, else of the first whose name contains one
    of `contains` (top level, then one object down); value is a number or a median. Fields are
    added to gradmap bench's JSON over time (never renamed): the harness reads what exists."""
    for n in names:
        v = _number(record.get(n))
        if v is not None:
            return v, n
    for k, v in record.items():
        if any(c in k for c in contains) and _number(v) is not None:
            return _number(v), k
    for k, sub in record.items():
        if isinstance(sub, dict) and k not in ("case", "machine", "libs", "check", "stages_s"):
            for k2, v in sub.items():
                if any(c in k2 for c in contains) and _number(v) is not None:
                    return _number(v), f"{k}.{k2}"
    return None, None


def ips(record):
    return (record.get("images_per_s") or {}).get("median")


def compute_ips(record, stages=("forward", "backward", "maps")):
    """images/s over the compute stages only (no decode, preprocess, post-processing or PNG
    writing), the work the raw-map peers do: gradmap's own compute figure when its JSON has one,
    else the batch over the median seconds of those stages."""
    v, _ = compute_ips_field(record, stages)
    return v


def compute_ips_field(record, stages=("forward", "backward", "maps")):
    v, k = find_field(record, ("compute_images_per_s", "compute_ips"))
    if v is not None:
        return v, k
    st = record.get("stages_s") or {}
    secs = sum(st.get(s) or 0.0 for s in stages)
    return (record["case"]["batch"] / secs, "stages_s forward+backward+maps") if secs > 0 else (None, None)


def e2e_ips_field(record):
    """(images/s from files to maps, the field it came from): a dedicated end-to-end field when
    gradmap bench writes one, else images_per_s (end to end by its contract: decode, preprocess,
    compute, post-processing and PNG writing)."""
    v, k = find_field(record, ("files_to_maps_images_per_s", "files_to_maps_ips", "e2e_images_per_s",
                               "end_to_end_images_per_s"), ("files_to_maps", "e2e"))
    if v is not None:
        return v, k
    return ips(record), "images_per_s"

