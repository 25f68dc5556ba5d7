"""Issue 7's targets (CPU speed), computed from one peers run: which cases the --targets preset
measures (PLAN) and, after the run, one line per target with its figures, the same-run value, the
threshold and PASS / MISS / n/a. Nothing here measures: a figure the run does not have gives n/a,
never a number from elsewhere.

Conventions (bench/README.md, "Targets"):
- best batch size of each side: the largest images/s over the batches measured (the preset: 8, 32);
- gradmap's images/s is its compute figure (forward, backward and maps stages; `compute_images_per_s`
  when gradmap bench writes it), the like of the peers', which time maps from tensors in memory;
  the end-to-end ratio is shown beside it, and T7 holds end to end to the compute figure;
- "PyTorch default" is the `pytorch` peer (NCHW, glibc malloc); "PyTorch best" the largest
  images/s over it and its tuned variants (-cl channels_last, -jemalloc without decay) — the same
  for pytorch-grad-cam (`pgc`, `pgc-cl`, `pgc-jemalloc`).
"""
import math

# The --targets preset: arch -> {(method, precision): who runs}. "gradmap" is `gradmap bench` (its
# forward row is the forward stage of another case); "X:agree" runs peer X for its maps / logits
# only (no timing: VGG16's forward is no target, but the PyTorch twin is checked on its logits).
PLAN = {
    "vgg16": {
        ("forward", "fp32"): ("pytorch:agree",),
        ("saliency", "fp32"): ("gradmap", "pytorch", "pytorch-cl", "pytorch-jemalloc"),
        ("gradcam", "fp32"): ("gradmap", "pytorch", "pytorch-cl", "pytorch-jemalloc"),
        ("saliency", "bf16"): ("gradmap", "pytorch"),
    },
    "resnet50": {
        ("forward", "fp32"): ("gradmap", "pytorch", "pytorch-cl", "pytorch-jemalloc"),
        ("saliency", "fp32"): ("gradmap", "pytorch", "pytorch-cl", "pytorch-jemalloc"),
        ("gradcam", "fp32"): ("gradmap", "pytorch", "pytorch-cl", "pytorch-jemalloc",
                              "pgc", "pgc-cl", "pgc-jemalloc"),
        ("saliency", "bf16"): ("gradmap", "pytorch"),
        ("gradcam", "bf16"): ("gradmap",),
    },
}
PEERS = ("pytorch", "pytorch-cl", "pytorch-jemalloc", "pgc", "pgc-cl", "pgc-jemalloc")
PRESET = {"arch": "vgg16,resnet50", "method": "forward,saliency,gradcam", "batch": "8,32",
          "precision": "fp32,bf16", "peers": ",".join(PEERS)}
FAULTS_MAX = 100          # T5 "(almost) no page faults": at most this many minor faults per iteration
NAMES = {"vgg16": "VGG16", "resnet50": "ResNet50"}
CAMS = ("gradcam", "gradcam++", "cam", "scorecam", "layercam")


def want(plan, arch, method, prec, who):
    """'time', 'agree' or None: whether `who` (gradmap or a peer name) runs this case."""
    if plan is None:
        return "time"
    entries = plan.get(arch, {}).get((method, prec), ())
    return "time" if who in entries else "agree" if f"{who}:agree" in entries else None


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _f(v, spec=".3g"):
    return format(v, spec) if _num(v) else "n/a"


class Figures:
    """Looks up the run's measurements."""

    def __init__(self, run):
        self.meas, self.gm_records = run.meas, run.gm_records
        self.bf16_error = run.gm_bf16_error

    def best(self, arch, method, prec, who, key="ips"):
        """(images/s, batch) of the best batch of `who` (gradmap or a peer name), or (None, None)."""
        rows = [m for m in self.meas if m["arch"] == arch and m["method"] == method and m["precision"] == prec
                and (m["tool"] == "gradmap" if who == "gradmap" else m.get("peer") == who) and _num(m.get(key))]
        if not rows:
            return None, None
        r = max(rows, key=lambda m: m[key])
        return r[key], r["batch"]

    def at(self, arch, method, prec, who, batch, key):
        for m in self.meas:
            if (m["arch"], m["method"], m["precision"], m["batch"]) == (arch, method, prec, batch) and \
                    (m["tool"] == "gradmap" if who == "gradmap" else m.get("peer") == who) and _num(m.get(key)):
                return m[key]
        return None

    def gm_missing(self, prec):
        return f"gradmap {prec}: {self.bf16_error}" if prec != "fp32" and self.bf16_error else "gradmap: not measured"


def _line(target, case, figures, value, threshold, ok, value_spec=".2f"):
    """value: a number (formatted with value_spec), a ready text, or None (n/a)."""
    result = "n/a" if ok is None else ("PASS" if ok else "MISS")
    text = value if isinstance(value, str) else _f(value, value_spec) if value is not None else "n/a"
    return {"target": target, "case": case, "figures": figures, "value": text, "threshold": threshold,
            "result": result}


def _vs(fig, arch, method, prec, peers, label, threshold, target, case, need_tuned=False):
    """gradmap's best compute images/s over the best of `peers` (each at its best batch)."""
    thr_text = f">= {threshold:g}"
    g, gb = fig.best(arch, method, prec, "gradmap", "ips_compute")
    ge, geb = fig.best(arch, method, prec, "gradmap", "ips")
    got = [(p,) + fig.best(arch, method, prec, p) for p in peers]
    got = [x for x in got if x[1] is not None]
    if need_tuned and not any(p != peers[0] for p, _, _ in got):
        return _line(target, case, f"{label}: tuned variants not measured", None, thr_text, None)
    if g is None or not got:
        why = fig.gm_missing(prec) if g is None else f"{label}: not measured"
        return _line(target, case, why, None, thr_text, None)
    p, pv, pb = max(got, key=lambda x: x[1])
    each = ", ".join(f"{q} {_f(v)}@{b}" for q, v, b in got) if len(got) > 1 else ""
    figs = (f"gradmap {_f(g)}@{gb} (e2e {_f(ge)}@{geb}) vs {p} {_f(pv)}@{pb}"
            + (f" [{each}]" if each else "") + f"; e2e ratio {_f(ge / pv, '.2f')}")
    return _line(target, case, figs, g / pv, thr_text, g / pv >= threshold)


def compute(run):
    """The Targets lines of a finished run (run_peers.Run after finish_rows)."""
    fig, lines = Figures(run), []
    R, V = "resnet50", "vgg16"
    # T1: fp32 vs PyTorch default
    for arch, method, peer, thr, what in (
            (V, "saliency", "pytorch", 2.0, "VGG16 saliency vs PyTorch autograd"),
            (V, "gradcam", "pytorch", 2.0, "VGG16 Grad-CAM vs PyTorch head-only"),
            (R, "saliency", "pytorch", 1.5, "ResNet50 saliency vs PyTorch autograd"),
            (R, "gradcam", "pytorch", 1.4, "ResNet50 Grad-CAM vs PyTorch head-only"),
            (R, "gradcam", "pgc", 4.5, "ResNet50 Grad-CAM vs pytorch-grad-cam GradCAM")):
        lines.append(_vs(fig, arch, method, "fp32", (peer,), peer, thr, "T1 fp32 vs PyTorch default", what))
    # T2: fp32 vs PyTorch's best configuration
    for arch, method, base, what in (
            (R, "forward", "pytorch", "ResNet50 forward"),
            (R, "saliency", "pytorch", "ResNet50 saliency"),
            (R, "gradcam", "pgc", "ResNet50 Grad-CAM, pytorch-grad-cam style"),
            (R, "gradcam", "pytorch", "ResNet50 Grad-CAM, head-only"),
            (V, "saliency", "pytorch", "VGG16 saliency"),
            (V, "gradcam", "pytorch", "VGG16 Grad-CAM, head-only")):
        peers = (base, f"{base}-cl", f"{base}-jemalloc")
        lines.append(_vs(fig, arch, method, "fp32", peers, f"{base} best of default/cl/jemalloc", 1.0,
                         "T2 fp32 vs PyTorch best", what, need_tuned=True))
    # T3: fp32 efficiency vs the machine's conv 3x3 fp32 peak
    peak = ((run.peak or {}).get("peak") or {}).get("conv3x3_fp32_gflops")
    cases = sorted({(k[0], k[1]) for k in run.gm_records if k[2] == "fp32"}, key=lambda c: (c[0] != V, c[1]))
    if not cases:
        lines.append(_line("T3 fp32 efficiency", "gradmap fp32 cases", "no gradmap fp32 case measured", None,
                           ">= 0.8", None))
    for arch, method in cases:
        recs = [(b, r.get("gflops")) for (a, m, p, b), r in run.gm_records.items()
                if (a, m, p) == (arch, method, "fp32") and _num(r.get("gflops"))]
        what = f"{NAMES.get(arch, arch)} {method} (compute GFLOP/s, whole pass)"
        if not recs or not _num(peak):
            why = ("`gradmap bench --peak` not run" + (f" ({run.peak_error})" if run.peak_error else "")
                   if not _num(peak) else "no GFLOP/s figure")
            lines.append(_line("T3 fp32 efficiency", what, why, None, ">= 0.8", None))
            continue
        b, gf = max(recs, key=lambda x: x[1])
        lines.append(_line("T3 fp32 efficiency", what, f"{_f(gf)} GFLOP/s @{b} vs conv3x3 fp32 peak {_f(peak)}",
                           gf / peak, ">= 0.8", gf / peak >= 0.8))
    # T4: bf16
    g16, b16 = fig.best(R, "gradcam", "bf16", "gradmap", "ips_compute")
    g32, b32 = fig.best(R, "gradcam", "fp32", "gradmap", "ips_compute")
    if g16 is None or g32 is None:
        lines.append(_line("T4 bf16", "ResNet50 Grad-CAM bf16 vs gradmap fp32",
                           fig.gm_missing("bf16") if g16 is None else "gradmap fp32: not measured", None, ">= 3",
                           None))
    else:
        lines.append(_line("T4 bf16", "ResNet50 Grad-CAM bf16 vs gradmap fp32",
                           f"gradmap bf16 {_f(g16)}@{b16} vs fp32 {_f(g32)}@{b32}", g16 / g32, ">= 3", g16 / g32 >= 3))
    for arch in (R, V):
        lines.append(_vs(fig, arch, "saliency", "bf16", ("pytorch",), "pytorch bf16 autocast", 2.5, "T4 bf16",
                         f"{NAMES[arch]} saliency bf16 vs PyTorch bf16 autocast"))
    for arch in (R, V):
        lines.append(_cam_rho(run, arch))
    for arch in (R, V):
        lines.append(_saliency_rho(run, arch))
    # T5: steady state
    for (arch, method, prec) in sorted({k[:3] for k in run.gm_records}, key=lambda c: (c[0] != V, c[1], c[2])):
        lines.append(_steady(run, arch, method, prec))
    for (arch, method, prec) in sorted({k[:3] for k in run.gm_records}, key=lambda c: (c[0] != V, c[1], c[2])):
        a8 = fig.at(arch, method, prec, "gradmap", 8, "ips_compute")
        a32 = fig.at(arch, method, prec, "gradmap", 32, "ips_compute")
        e8, e32 = (fig.at(arch, method, prec, "gradmap", b, "ips") for b in (8, 32))
        what = f"{NAMES.get(arch, arch)} {method} {prec}: batch 32 vs batch 8 per image"
        if a8 is None or a32 is None:
            lines.append(_line("T5 steady state", what, "batch 8 and 32 not both measured", None, ">= 1", None))
        else:
            lines.append(_line("T5 steady state", what,
                               f"compute {_f(a32)} vs {_f(a8)} img/s (e2e {_f(e32)} vs {_f(e8)})",
                               a32 / a8, ">= 1", a32 / a8 >= 1))
    lines.append(_memory(fig))
    lines.append(_e2e(run))
    return lines


def _cam_rho(run, arch):
    """CAM-family maps of gradmap bf16 vs its fp32: from `gradmap explain --precision bf16` on the
    agreement images (median over images of Spearman, the smallest over the CAM methods), else from
    gradmap bench's own check (its minimum over the first batch)."""
    what = f"{NAMES[arch]} CAM-family rank correlation, gradmap bf16 vs fp32"
    ex = run.gm_bf16_maps.get(arch) or {}
    cams = {m: c["spearman"] for m, c in (ex.get("maps") or {}).items() if m in CAMS and _num(c.get("spearman"))}
    if cams:
        m = min(cams, key=cams.get)
        return _line("T4 bf16", what, f"explain bf16, median over {run.a.agree_images} images: "
                     + ", ".join(f"{k} {v:.5f}" for k, v in cams.items()), cams[m], ">= 0.99",
                     cams[m] >= 0.99, ".4f")
    chk = {}
    for (a, mth, p, b), r in run.gm_records.items():
        c = r.get("check") or {}
        if a == arch and p == "bf16" and c.get("reference") in ("cpu fp32", "cpu fp32 direct"):
            for m, rho in (c.get("spearman") or {}).items():
                if m in CAMS and _num(rho):
                    chk[m] = min(rho, chk.get(m, 1.0))
    if chk:
        m = min(chk, key=chk.get)
        return _line("T4 bf16", what, "gradmap bench check (min over its first batch): "
                     + ", ".join(f"{k} {v:.5f}" for k, v in chk.items()), chk[m], ">= 0.99", chk[m] >= 0.99, ".4f")
    why = ex.get("error") or (f"gradmap bf16: {run.gm_bf16_error}" if run.gm_bf16_error else "bf16 not measured")
    return _line("T4 bf16", what, why, None, ">= 0.99", None)


def _saliency_rho(run, arch):
    """Saliency: gradmap bf16 vs gradmap fp32 must correlate better than PyTorch bf16 vs PyTorch
    fp32, on the same (agreement) images."""
    what = f"{NAMES[arch]} saliency rank correlation bf16 vs own fp32: gradmap > PyTorch"
    pt = run.self_agreement.get((arch, "saliency", "pytorch"))
    pt_rho = pt.get("spearman") if pt else None
    pt_text = (f"PyTorch bf16 vs PyTorch fp32 {pt_rho:.5f} (median over {pt['n']} images)"
               if _num(pt_rho) else "PyTorch bf16 vs fp32: not measured")
    ex = ((run.gm_bf16_maps.get(arch) or {}).get("maps") or {}).get("saliency")
    if ex and _num(ex.get("spearman")):
        g, src = ex["spearman"], f"gradmap bf16 vs gradmap fp32 {ex['spearman']:.5f} (explain, median over {ex['n']} images)"
    else:
        g, src = None, None
        for (a, mth, p, b), r in sorted(run.gm_records.items()):
            c = r.get("check") or {}
            rho = (c.get("spearman") or {}).get("saliency")
            if a == arch and p == "bf16" and c.get("reference") in ("cpu fp32", "cpu fp32 direct") and _num(rho):
                g = rho if g is None else min(g, rho)
        if g is not None:
            src = f"gradmap bf16 vs fp32 {g:.5f} (gradmap bench check, min over its first batch)"
    if g is None:
        why = ((run.gm_bf16_maps.get(arch) or {}).get("error")
               or (f"gradmap bf16: {run.gm_bf16_error}" if run.gm_bf16_error else "gradmap bf16: not measured"))
        return _line("T4 bf16", what, f"{why}; {pt_text}", None, "> PyTorch's", None, ".4f")
    if not _num(pt_rho):
        return _line("T4 bf16", what, f"{src}; {pt_text}", g, "> PyTorch's", None, ".4f")
    return _line("T4 bf16", what, f"{src}; {pt_text}", g, f"> {pt_rho:.4f}", g > pt_rho, ".4f")


def _steady(run, arch, method, prec):
    """Page faults and heap growth per timed iteration from gradmap bench's JSON (every field it has;
    judged on the compute-stage figures when the JSON has them, else on the whole iteration)."""
    what = f"{NAMES.get(arch, arch)} {method} {prec}: per iteration after the first batch"
    per_batch = {b: r for (a, m, p, b), r in sorted(run.gm_records.items()) if (a, m, p) == (arch, method, prec)}
    parts, worst_faults, worst_heap = [], None, None
    for b, r in per_batch.items():
        ss = _steady_fields(r)
        if not ss:
            continue
        parts.append(f"@{b}: " + ", ".join(f"{_short(k)} {v:.4g}" for k, v in ss.items()))
        fk = next((k for k in ss if "minor_faults" in k and "compute" in k), "minor_faults_per_iter")
        if fk in ss:
            worst_faults = ss[fk] if worst_faults is None else max(worst_faults, ss[fk])
        heap = {k: v for k, v in ss.items() if "heap_growth" in k}
        hk = [k for k in heap if "compute" in k and "max" not in k] or [k for k in heap if "max" not in k]
        for k in hk:
            worst_heap = heap[k] if worst_heap is None else max(worst_heap, heap[k])
    if worst_faults is None:
        return _line("T5 steady state", what, "no minor_faults field", None, f"<= {FAULTS_MAX} faults", None, ".4g")
    if worst_heap is None:
        return _line("T5 steady state", what, "; ".join(parts) + "; heap growth: not in gradmap bench's JSON",
                     worst_faults, f"<= {FAULTS_MAX} faults", worst_faults <= FAULTS_MAX, ".4g")
    return _line("T5 steady state", what, "; ".join(parts), f"{worst_faults:.4g} faults, {worst_heap:.4g} B",
                 f"<= {FAULTS_MAX} faults, 0 B", worst_faults <= FAULTS_MAX and worst_heap <= 0)


def _short(key):
    """Compact names of gradmap bench's steady-state fields for the table."""
    for a, b in (("minor_faults_per_iter", "faults"), ("heap_growth_bytes_per_iter", "heap B"),
                 ("heap_growth", "heap"), (".", " "), ("_", " ")):
        key = key.replace(a, b)
    return key


def _steady_fields(r):
    out = {}
    for k, v in r.items():
        if "minor_faults" in k or "heap_growth" in k:
            if _num(v):
                out[k] = v
            elif isinstance(v, dict):
                out.update({f"{k}.{k2}": v2 for k2, v2 in v.items() if _num(v2)})
    return out


def _memory(fig):
    """VGG16 saliency fp32: gradmap's peak RSS over PyTorch's (default) at batch 32."""
    what = "VGG16 saliency fp32 batch 32: gradmap peak RSS / PyTorch's"
    batches = sorted({m["batch"] for m in fig.meas if m["arch"] == "vgg16" and m["method"] == "saliency"
                      and m["precision"] == "fp32"})
    both = [b for b in batches if fig.at("vgg16", "saliency", "fp32", "gradmap", b, "rss") is not None
            and fig.at("vgg16", "saliency", "fp32", "pytorch", b, "rss") is not None]
    if not both:
        return _line("T6 memory", what, "not measured", None, "<= 0.333", None)
    b = 32 if 32 in both else max(both)
    g, p = fig.at("vgg16", "saliency", "fp32", "gradmap", b, "rss"), fig.at("vgg16", "saliency", "fp32", "pytorch", b, "rss")
    figs = f"gradmap {g:.0f} MiB vs PyTorch autograd {p:.0f} MiB @{b}"
    if b != 32:
        return _line("T6 memory", what, figs + " (batch 32 not measured: no verdict)", g / p, "<= 0.333", None, ".3f")
    return _line("T6 memory", what, figs, g / p, "<= 0.333", g / p <= 1 / 3, ".3f")


def _e2e(run):
    """ResNet50 saliency batch 8 from JPEG files on disk: gradmap's files-to-maps images/s over its
    compute images/s in the same process (judged: robust to this machine's drift, and the compute
    figure is the one T1-T4 use, also from --images runs). Shown beside it: the compute figure of
    the same case on synthetic in-memory images, run right after (no loader thread disturbing it)."""
    import gradmap_cli
    r, syn = run.jpeg_record, getattr(run, "synthetic_record", None)
    what = "ResNet50 saliency batch 8, JPEG files: end to end / compute"
    if not r:
        return _line("T7 end to end", what, run.jpeg_error or "not run (--jpeg 0)", None, ">= 0.9", None)
    e, ek = gradmap_cli.e2e_ips_field(r)
    c, ck = gradmap_cli.compute_ips_field(r)
    sc, sck = gradmap_cli.compute_ips_field(syn) if syn else (None, None)
    if not _num(e) or not _num(c):
        return _line("T7 end to end", what, f"fields missing (end to end: {ek}, compute: {ck})", None, ">= 0.9", None)
    st = r.get("stages_s") or {}
    figs = (f"{ek} {_f(e)} vs {ck} {_f(c)}"
            + (f"; vs the synthetic-image run's {sck} {_f(sc)}: {_f(e / sc, '.2f')}" if _num(sc) else "")
            + f"; {run.jpeg_desc}; loader decode {_f(st.get('decode'), '.3f')} s, preprocess "
            f"{_f(st.get('preprocess'), '.3f')} s per batch"
            + (f", load wait {_f(r.get('load_wait_s'), '.3g')} s" if _num(r.get("load_wait_s")) else ""))
    return _line("T7 end to end", what, figs, e / c, ">= 0.9", e / c >= 0.9)
