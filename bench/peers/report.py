"""The one table of a peers run (markdown), its header (machine, library versions, the exact
command) and the raw JSON lines file. Rows: one per (case, tool); a case is arch / method / batch /
precision. ratio = gradmap images/s / peer images/s, so > 1 means gradmap is faster.
"""
import json
import os
import platform

TABLE_HEAD = ("| arch | method | batch | prec | tool | images/s | ratio e2e | ratio compute | "
              "peak RSS MiB | agreement with gradmap |")
TABLE_RULE = "|---|---|---:|---|---|---:|---:|---:|---:|---|"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_flags(wanted=("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")):
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((ln.split(":", 1)[1].split() for ln in f if ln.startswith("flags")), [])
    except OSError:
        flags = []
    return " ".join(w for w in wanted if w in flags)


def _fmt(v, spec):
    return "" if v is None else format(v, spec)


def agreement_text(a):
    """a: {'maps': {method: compare()}} or {'logits': ...} or {'error': ...}; compact text."""
    if not a:
        return ""
    if "error" in a:
        return a["error"]
    parts = []
    if "logits" in a:
        lg = a["logits"]
        parts.append(f"logit rel err {lg['logit_rel_err']:.1e}, top-1 {lg['top1_same']}/{lg['n']}")
        if lg.get("vs_keras") is not None:
            parts.append(f"vs Keras logits {lg['vs_keras']:.1e}")
    for m, c in (a.get("maps") or {}).items():
        parts.append(f"{m}: err {c['max_err']:.1e}, rho {c['spearman']:.6f}")
    if a.get("note"):
        parts.append(a["note"])
    return "; ".join(parts)


def table_rows(rows):
    """rows: dicts with arch, method, batch, precision, tool, ips, ratio, ratio_compute, rss,
    agreement (text) — sorted into case order with gradmap first within each case."""
    order = {"vgg16": 0, "resnet50": 1}
    methods = ["forward", "saliency", "gradcam", "gradcam++", "cam", "saliency+gradcam"]

    def key(r):
        m = methods.index(r["method"]) if r["method"] in methods else 99
        return (order.get(r["arch"], 9), m, r["precision"] != "fp32", r["precision"], r["batch"],
                "gradmap" not in r["tool"], r["tool"])

    out = [TABLE_HEAD, TABLE_RULE]
    for r in sorted(rows, key=key):
        ips = r.get("ips")
        ips_text = _fmt(ips, ".3g") if isinstance(ips, (int, float)) else (ips or "")
        out.append(f"| {r['arch']} | {r['method']} | {r['batch']} | {r['precision']} | {r['tool']} | "
                   f"{ips_text} | {_fmt(r.get('ratio'), '.2f')} | {_fmt(r.get('ratio_compute'), '.2f')} | "
                   f"{_fmt(r.get('rss'), '.0f')} | {r.get('agreement', '')} |")
    return out


def header(command, versions, gradmap_version, args_text, loads):
    lines = ["# gradmap vs peers", "",
             f"- machine: {cpu_model()}, {os.cpu_count()} cores ({cpu_flags()}), "
             f"{platform.system()} {platform.release()}",
             f"- gradmap: {gradmap_version}",
             "- peers: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
             f"- settings: {args_text}",
             f"- load average (1 min) at start / end: {loads[0]:.2f} / {loads[1]:.2f} (anything else "
             "running on the machine skews every figure)",
             f"- command: `{command}`", "",
             "images/s: median over the timed iterations. gradmap: end to end (decode, preprocess, "
             "forward, backward, maps, post-processing, PNG writing); the peers: computing the maps "
             "from preprocessed tensors already in memory. ratio e2e = gradmap end-to-end images/s / "
             "peer images/s; ratio compute = gradmap's forward+backward+maps stages only / peer "
             "(> 1: gradmap faster). Agreement: the peer's maps vs gradmap's on the first images "
             "(median over images of the max abs error relative to gradmap's map maximum, and of "
             "Spearman's rho); see bench/README.md.", ""]
    return lines


def targets_section(lines, peak=None):
    """The "Targets (issue 7)" table: one line per target and case (targets.compute)."""
    out = ["## Targets (issue 7)", "",
           "Same run, best batch size of each side. gradmap's images/s is its compute figure (forward, "
           "backward, maps), like the peers'; its end-to-end ratio is shown beside it. PyTorch best = the "
           "largest images/s over default, channels_last (-cl) and jemalloc without decay (-jemalloc). "
           "value: the ratio (gradmap / PyTorch for speed, gradmap / PyTorch for memory), or the figure "
           "the threshold applies to. n/a: not measured in this run (never a figure from elsewhere)."]
    pk = (peak or {}).get("peak") or {}
    if pk:
        out.append(f"Machine peaks (`gradmap bench --peak`, this run): conv 3x3 fp32 "
                   f"{_fmt(pk.get('conv3x3_fp32_gflops'), '.1f')} GFLOP/s ({pk.get('conv3x3_fp32_impl', '?')}), "
                   f"bf16 {_fmt(pk.get('conv3x3_bf16_gflops'), '.1f')} ({pk.get('conv3x3_bf16_impl', '?')}), "
                   f"sgemm {_fmt(pk.get('sgemm_gflops'), '.1f')}.")
    out += ["", "| target | case | figures (images/s@batch unless said) | value | threshold | result |",
            "|---|---|---|---:|---|---|"]
    for t in lines:
        out.append(f"| {t['target']} | {t['case']} | {t['figures']} | {t['value']} | {t['threshold']} | "
                   f"{'**' + t['result'] + '**' if t['result'] == 'MISS' else t['result']} |")
    n = {r: sum(t["result"] == r for t in lines) for r in ("PASS", "MISS", "n/a")}
    out += ["", f"{n['PASS']} PASS, {n['MISS']} MISS, {n['n/a']} n/a.", ""]
    return out


def write(path, jsonl_path, head_lines, rows, notes, records, targets_lines=None):
    body = (targets_lines + ["## All measurements", ""]) if targets_lines else []
    text = "\n".join(head_lines + body + table_rows(rows) + [""] + [f"- {n}" for n in notes]) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    with open(jsonl_path, "w") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
    return text
