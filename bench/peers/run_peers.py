#!/usr/bin/env python3
"""gradmap side by side with the Python libraries people use, in one run, on the same architecture,
weights (the same Keras .h5; the PyTorch twin gets them converted) and images (seeded synthetic
224x224 PNGs: gradmap decodes them, the peers get the identical caffe-preprocessed floats).

Installs nothing. Runs every peer whose modules some given interpreter can import (--python,
repeatable: here TensorFlow and PyTorch live in different virtualenvs), each (peer, case) in its own
subprocess so memory figures, thread pools and crashes stay separate. Order per architecture:
`gradmap explain` (reference maps and top-1 targets), then per precision and method: `gradmap bench`
and each peer (agreement with gradmap's maps first, then the timings). Needs numpy and h5py here.
See bench/README.md. Example:
  /work/venv/bin/python bench/peers/run_peers.py --gradmap build/gradmap \
      --python /work/venv/bin/python --python /work/venv-torch/bin/python --quick
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np

import agreement
import common
import gradmap_cli
import h5io
import report
from registry import LABELS, METHODS, PEERS, probe

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SPLIT = {"saliency+gradcam": ["saliency", "gradcam"]}   # a combined case -> its reference maps
TWIN_TOLERANCE = 1e-3       # relative logit error above which the PyTorch twin is not trusted


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gradmap", default=os.path.join(REPO, "build", "gradmap"))
    ap.add_argument("--models", default=os.path.join(REPO, "tests", "fixtures", "full"),
                    help="folder with vgg16_full.h5 / resnet50_full.h5")
    ap.add_argument("--python", action="append", help="interpreter to run peers with (repeatable); "
                    "default: this one")
    ap.add_argument("--arch", default="vgg16,resnet50")
    ap.add_argument("--method", default=",".join(METHODS))
    ap.add_argument("--batch", default="1,8,32")
    ap.add_argument("--precision", default="fp32,bf16")
    ap.add_argument("--peers", default=",".join(p["name"] for p in PEERS))
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--budget", type=float, default=10.0, help="seconds of timed calls per batch size "
                    "before a peer stops early (after 2 timings, or 1 if that call alone took longer)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--agree-images", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="batch 1,8 only")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per subprocess")
    ap.add_argument("--workdir", help="scratch folder (default: a new temporary one, kept)")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "RESULTS.partial.md"))
    a = ap.parse_args()
    if a.quick:
        a.batch = "1,8"
    # forward is always run: the PyTorch twin is checked on its fp32 logits before anything else
    a.archs, a.methods = a.arch.split(","), [m for m in METHODS if m in a.method.split(",") + ["forward"]]
    a.batches = sorted(int(b) for b in a.batch.split(","))
    a.precisions = sorted(a.precision.split(","), key=lambda p: p != "fp32")   # fp32 first
    a.python = a.python or [sys.executable]
    return a


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def prepare_images(work, n):
    """n seeded PNGs (for gradmap) + their preprocessed floats (for the peers) + a list file."""
    img_dir = os.path.join(work, "images")
    os.makedirs(img_dir, exist_ok=True)
    for old in os.listdir(img_dir):          # a reused work folder: gradmap bench cycles the whole folder
        os.remove(os.path.join(img_dir, old))
    rgb = common.synthetic_images(n)
    paths = [os.path.join(img_dir, f"img{i:03d}.png") for i in range(n)]
    for p, im in zip(paths, rgb):
        common.write_png(p, im)
    np.save(os.path.join(work, "inputs.npy"), common.caffe_preprocess(rgb))
    with open(os.path.join(work, "images.txt"), "w") as f:
        f.write("\n".join(paths) + "\n")
    return paths


def run_peer(a, py, spec, job, work):
    """Runs one peer subprocess; returns (maps .npz path or None, {batch: timing record}, error or
    None, every record it printed)."""
    path = os.path.join(work, f"job_{spec['name']}_{job['arch']}_{job['method']}_{job['precision']}.json")
    with open(path, "w") as f:
        json.dump(job, f)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads),
               TF_CPP_MIN_LOG_LEVEL="2")
    try:
        p = subprocess.run([py, os.path.join(HERE, spec["script"]), path], capture_output=True, text=True,
                           timeout=a.timeout, env=env)
        out, err, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:        # keep what it measured before the limit
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err, rc = f"timed out after {a.timeout} s", 124
    recs = [json.loads(ln[len(common.RESULT_TAG):]) for ln in out.splitlines() if ln.startswith(common.RESULT_TAG)]
    maps = next((r["path"] for r in recs if r["kind"] == "maps"), None)
    timings = {r["batch"]: r for r in recs if r["kind"] == "timing"}
    error = None if rc == 0 else f"exit {rc}: " + ([ln for ln in err.strip().splitlines() if ln.strip()] or [""])[-1]
    return maps, timings, error, recs


def peer_agreement(spec, method, maps_path, ref, k):
    z = np.load(maps_path)
    if method == "forward":
        return {"logits": agreement.logits_agreement(z["logits"], ref["target_logit"][:k], ref["target_class"][:k]),
                "raw_logits": z["logits"]}
    res = {}
    for m in z.files:
        r = ref["maps"][m][:k]
        if spec["compare"] == "pgc":
            r = agreement.pgc_postprocess(r, z[m].shape[1:])
        res[m] = agreement.compare(z[m], r)
    return {"maps": res}


class Run:
    """One peers run: the settings, the peers found, and everything measured so far."""

    def __init__(self, a, work, peers):
        self.a, self.work, self.peers = a, work, peers
        self.meas, self.records, self.notes = [], [], []
        self.gm_bf16_error = None      # set once gradmap refuses bf16 (its CPU backend is fp32 only)

    def arch(self, arch, paths):
        a = self.a
        model = os.path.join(a.models, common.ARCHS[arch]["file"])
        if not os.path.exists(model):
            self.notes.append(f"{arch}: {model} missing (tests/fixtures/make_fixtures.py --full)")
            return
        methods = [m for m in a.methods if m != "cam" or arch == "resnet50"]
        ref_methods = sorted({x for m in methods if m != "forward" for x in SPLIT.get(m, [m])})
        log(f"{arch}: gradmap explain {','.join(ref_methods)} on {len(paths)} images")
        try:
            h5, _ = gradmap_cli.explain(a.gradmap, model, os.path.join(self.work, "images.txt"), ref_methods,
                                        os.path.join(self.work, f"explain_{arch}"), a.threads, a.timeout)
            ref = h5io.read_gradmap_results(h5)
        except (RuntimeError, OSError, KeyError) as e:
            self.notes.append(f"{arch}: no reference maps, nothing measured: {e}")
            return
        assert ref["paths"] == paths, "gradmap explain reordered the images"
        np.save(os.path.join(self.work, f"targets_{arch}.npy"), ref["target_class"])
        npz = (h5io.export_in_subprocess(model, os.path.join(self.work, f"{arch}.npz"))
               if any("torch" in s["needs"] for s, _ in self.peers) else None)
        twin_bad = None
        if "fp32" not in a.precisions:
            self.notes.append(f"{arch}: the PyTorch twin is verified on fp32 logits only; not verified in this run")
        for prec in a.precisions:
            for method in methods:
                self.gradmap_case(arch, model, method, prec)
                for spec, py in self.peers:
                    if method in spec["tools"] and prec in spec["prec"] and not (twin_bad and "torch" in spec["needs"]):
                        self.peer_case(spec, py, arch, model, npz, method, prec, ref)
                if method == "forward" and prec == "fp32":
                    twin_bad = check_twin(self.meas, arch, self.notes)

    def gradmap_case(self, arch, model, method, prec):
        a, gm = self.a, {}
        if method != "forward" and not (prec != "fp32" and self.gm_bf16_error):
            log(f"{arch} {method} {prec}: gradmap bench")
            recs, err, cmd = gradmap_cli.bench(a.gradmap, model, method, a.batches, prec, os.path.join(self.work, "images"),
                                               a.iters, a.warmup, a.threads, os.path.join(self.work, "gm.jsonl"), a.timeout)
            self.records += [dict(r, source="gradmap bench", command=" ".join(cmd)) for r in recs]
            gm = {r["case"]["batch"]: r for r in recs}
            if err and prec != "fp32":
                self.gm_bf16_error = err
            elif err:
                self.notes.append(f"gradmap bench {arch} {method} {prec}: {err}")
        for b in a.batches:
            r = gm.get(b)
            why = "derive" if method == "forward" else (self.gm_bf16_error if prec != "fp32" else "failed")
            self.meas.append({"arch": arch, "method": method, "batch": b, "precision": prec, "tool": "gradmap",
                              "ips": gradmap_cli.ips(r) if r else None,
                              "ips_compute": gradmap_cli.compute_ips(r) if r else None,
                              "rss": r.get("peak_rss_mib") if r else None,
                              "agreement": {"note": gradmap_cli.check_text(r)} if r else {},
                              "forward_s": (r.get("stages_s") or {}).get("forward") if r else None,
                              "gm_error": None if r else why})

    def peer_case(self, spec, py, arch, model, npz, method, prec, ref):
        a = self.a
        batches = [b for b in a.batches if b <= spec.get("max_batch", b)]
        job = {"peer": spec["name"], "arch": arch, "method": method, "precision": prec, "threads": a.threads,
               "weights": npz, "model_file": model, "mode": spec.get("mode"),
               "inputs": os.path.join(self.work, "inputs.npy"),
               "targets": os.path.join(self.work, f"targets_{arch}.npy"), "batches": batches,
               "warmup": a.warmup, "iters": a.iters, "budget_s": a.budget, "agree_n": a.agree_images,
               "maps_out": os.path.join(self.work, f"maps_{spec['name']}_{arch}_{method}_{prec}.npz")}
        log(f"{arch} {method} {prec}: {spec['tools'][method]} (batches {batches})")
        maps, timings, err, recs = run_peer(a, py, spec, job, self.work)
        self.records += [dict(r, source=spec["name"]) for r in recs]
        try:
            agr = peer_agreement(spec, method, maps, ref, a.agree_images) if maps else {"error": err}
        except (KeyError, ValueError, OSError) as e:          # keep the timings of a peer whose maps are odd
            agr = {"error": f"agreement not computed: {e!r}"}
        if err and maps:
            agr["note"] = err
        for b in batches:
            t = timings.get(b)
            self.meas.append({"arch": arch, "method": method, "batch": b, "precision": prec,
                              "tool": spec["tools"][method], "peer": spec["name"],
                              "ips": t["ips_median"] if t else (err or "no result"),
                              "rss": t["peak_rss_mb"] if t else None, "agreement": agr})


def find_peers(a, probes, notes):
    """[(peer spec, interpreter)] for the selected peers some interpreter can run."""
    peers = []
    for spec in PEERS:
        if spec["name"] not in a.peers.split(","):
            continue
        py = next((py for py, mods in probes.items() if all(m in mods for m in spec["needs"])), None)
        if py:
            peers.append((spec, py))
        else:
            notes.append(f"{spec['name']}: not run (no interpreter given imports {', '.join(spec['needs'])})")
    return peers


def main():
    a = parse_args()
    command = " ".join(shlex.quote(x) for x in [sys.executable] + sys.argv)
    load_start = os.getloadavg()[0]
    work = a.workdir or tempfile.mkdtemp(prefix="gradmap-peers-")
    os.makedirs(work, exist_ok=True)
    log(f"work folder: {work}")
    probes, versions, notes = probe(a.python), {}, []
    for mods in probes.values():
        for mod, ver in mods.items():
            versions.setdefault(LABELS.get(mod, mod), set()).add(ver)
    run = Run(a, work, find_peers(a, probes, notes))
    run.notes += notes
    log("peers: " + ", ".join(f"{s['name']} ({py})" for s, py in run.peers))
    paths = prepare_images(work, max(a.batches + [a.agree_images]))
    for arch in a.archs:
        run.arch(arch, paths)
    rows = finish_rows(run.meas, run.gm_bf16_error)
    run.notes.append(f"this script's own peak RSS: {common.peak_rss_mb():.0f} MiB. gradmap's peak RSS is its "
                     "ru_maxrss, which Linux carries across fork and exec, so it cannot read below that figure; "
                     "the peers report VmHWM")
    run.records += [dict({k: v for k, v in m.items() if k != "agreement"},
                         agreement=report.agreement_text(m["agreement"])) for m in run.meas]
    args_text = (f"arch {a.arch}; methods {','.join(a.methods)}; batches {a.batch}; precisions {a.precision}; "
                 f"iters {a.iters} (warm-up {a.warmup}, budget {a.budget:g} s); threads {a.threads}; "
                 f"agreement on {a.agree_images} images; work folder {work}")
    head = report.header(command, {k: " / ".join(sorted(v)) for k, v in versions.items()},
                         gradmap_cli.version(a.gradmap), args_text, (load_start, os.getloadavg()[0]))
    print(report.write(a.out, os.path.splitext(a.out)[0] + ".jsonl", head, rows, run.notes, run.records))


def check_twin(meas, arch, notes):
    """Before any timing is trusted: the PyTorch twin's logits vs gradmap's and Keras's."""
    fw = {m.get("peer"): m["agreement"] for m in meas if m["arch"] == arch and m["method"] == "forward"
          and m["precision"] == "fp32" and "logits" in m.get("agreement", {})}
    if "pytorch" in fw and "tf-batched" in fw:
        fw["pytorch"]["logits"]["vs_keras"] = agreement.full_logits_agreement(
            fw["pytorch"].get("raw_logits"), fw["tf-batched"].get("raw_logits"))
    for ag in fw.values():
        ag.pop("raw_logits", None)
    tw = fw.get("pytorch")
    if tw is None:
        return None
    lg = tw["logits"]
    log(f"{arch}: PyTorch twin vs gradmap: logit rel err {lg['logit_rel_err']:.2e}, top-1 {lg['top1_same']}/{lg['n']}"
        + (f"; vs Keras logits {lg['vs_keras']:.2e}" if lg.get("vs_keras") is not None else ""))
    if lg["logit_rel_err"] > TWIN_TOLERANCE or lg["top1_same"] != lg["n"]:
        notes.append(f"{arch}: the PyTorch twin disagrees with gradmap (logit rel err {lg['logit_rel_err']:.2e}): "
                     "its peers were not timed")
        return True
    return None


def finish_rows(meas, gm_bf16_error):
    """Table rows with ratios; the gradmap row of a forward case is its forward stage of another
    case with the same arch, batch and precision."""
    gm = {(m["arch"], m["method"], m["batch"], m["precision"]): m for m in meas if m["tool"] == "gradmap"}
    rows = []
    for m in meas:
        key = (m["arch"], m["method"], m["batch"], m["precision"])
        g = gm.get(key)
        if m["tool"] == "gradmap" and m.get("gm_error") == "derive":
            src = next((x for x in gm.values() if x["arch"] == m["arch"] and x["batch"] == m["batch"]
                        and x["precision"] == m["precision"] and x.get("forward_s")), None)
            if src:
                m.update(ips=m["batch"] / src["forward_s"], ips_compute=m["batch"] / src["forward_s"],
                         rss=src["rss"], gm_error=None, agreement={"note": f"forward stage of its {src['method']} case"})
        row = dict(m, agreement=report.agreement_text(m.get("agreement")))
        if m["tool"] == "gradmap":
            row["tool"] = "**gradmap**"
            if m["ips"] is None:
                row["ips"] = ("n/a (fp32 only on CPU)" if m["precision"] != "fp32" and gm_bf16_error
                              else "n/a")
        elif g is not None and isinstance(g["ips"], (int, float)) and isinstance(m["ips"], (int, float)):
            row["ratio"] = g["ips"] / m["ips"]
            row["ratio_compute"] = g["ips_compute"] / m["ips"] if g.get("ips_compute") else None
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
