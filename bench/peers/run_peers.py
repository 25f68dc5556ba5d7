#!/usr/bin/env python3
"""gradmap side by side with the Python libraries people use, in one run, on the same architecture,
weights (the same Keras .h5; the PyTorch twin gets them converted) and images (seeded synthetic
224x224 PNGs: gradmap decodes them, the peers get the identical caffe-preprocessed floats).

Installs nothing. Runs every peer whose modules some given interpreter can import (--python,
repeatable: here TensorFlow and PyTorch live in different virtualenvs), each (peer, case) in its own
subprocess so memory figures, thread pools and crashes stay separate. Order per architecture:
`gradmap explain` (reference maps and top-1 targets), then per precision and method: `gradmap bench`
and each peer (agreement with gradmap's maps first, then the timings). Needs numpy and h5py here.
--targets: issue 7's cases only (targets.PLAN: fp32 and bf16, batches 8 and 32, PyTorch default and
its tuned variants), plus `gradmap bench --peak` and a JPEG end-to-end case, and the "Targets (issue
7)" table with each target's same-run value and PASS / MISS / n/a.
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
import time

import numpy as np

import agreement
import common
import gradmap_cli
import h5io
import registry
import report
import targets
from registry import DEFAULT_PEERS, LABELS, METHODS, PEERS, probe

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SPLIT = {"saliency+gradcam": ["saliency", "gradcam"]}   # a combined case -> its reference maps
TWIN_TOLERANCE = 1e-3       # relative logit error above which the PyTorch twin is not trusted
JPEG_SIZE = (500, 375)      # T7's JPEG files: ImageNet's typical size (gradmap decodes and resizes them)
JPEG_QUALITY = 90


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gradmap", default=os.path.join(REPO, "build", "gradmap"))
    ap.add_argument("--models", default=os.path.join(REPO, "tests", "fixtures", "full"),
                    help="folder with vgg16_full.h5 / resnet50_full.h5")
    ap.add_argument("--python", action="append", help="interpreter to run peers with (repeatable); "
                    "default: this one")
    ap.add_argument("--targets", action="store_true", help="issue 7's preset: only the cases its targets "
                    "need (batch 8,32; fp32/bf16; PyTorch default + tuned variants), --peak, --jpeg 32 and "
                    "the Targets table; --arch/--method/--batch/--precision/--peers still narrow it")
    ap.add_argument("--arch", help="default vgg16,resnet50")
    ap.add_argument("--method", help="default " + ",".join(METHODS))
    ap.add_argument("--batch", help="default 1,8,32 (--targets: 8,32)")
    ap.add_argument("--precision", help="default fp32,bf16")
    ap.add_argument("--peers", help="default " + ",".join(DEFAULT_PEERS) + "; tuned variants: " +
                    ",".join(p["name"] for p in PEERS if p.get("variant")))
    ap.add_argument("--jemalloc", default=registry.JEMALLOC, help="libjemalloc for the -jemalloc variants")
    ap.add_argument("--peak", action="store_true", help="run `gradmap bench --peak` once (T3)")
    ap.add_argument("--jpeg", type=int, help="T7: write N JPEG files and run gradmap bench on them "
                    "(ResNet50 saliency, batch 8); default 0 (--targets: 32)")
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
    preset = targets.PRESET if a.targets else {"arch": "vgg16,resnet50", "method": ",".join(METHODS),
                                               "batch": "1,8,32", "precision": "fp32,bf16",
                                               "peers": ",".join(DEFAULT_PEERS)}
    for k, v in preset.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.quick:
        a.batch = "1,8"
    if a.jpeg is None:                         # T7's case is ResNet50's
        a.jpeg = 32 if a.targets and "resnet50" in a.arch.split(",") else 0
    a.peak = a.peak or a.targets
    a.plan = targets.PLAN if a.targets else None
    registry.set_jemalloc(a.jemalloc)
    # forward is always run: the PyTorch twin is checked on its fp32 logits before anything else
    a.archs, a.methods = a.arch.split(","), [m for m in METHODS if m in a.method.split(",") + ["forward"]]
    a.batches = sorted(int(b) for b in a.batch.split(","))
    a.precisions = sorted(a.precision.split(","), key=lambda p: p != "fp32")   # fp32 first
    a.python = a.python or [sys.executable]
    return a


START = time.monotonic()


def log(msg):
    """Progress on stderr, with the minutes:seconds since the run started."""
    t = int(time.monotonic() - START)
    print(f"[{t // 60:3d}:{t % 60:02d}] {msg}", file=sys.stderr, flush=True)


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
    env.update(spec.get("env", {}))          # a tuned variant's allocator (LD_PRELOAD, MALLOC_CONF)
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
        self.gm_records = {}           # (arch, method, precision, batch) -> gradmap bench JSON line
        self.maps = {}                 # (arch, method, precision, peer) -> its maps .npz (agreement images)
        self.fw_agreement = {}         # (arch, peer) -> fp32 logits agreement (the twin check)
        self.gm_bf16_maps = {}         # arch -> {"maps": {method: compare()}} gradmap bf16 vs fp32, or {"error"}
        self.self_agreement = {}       # (arch, method, peer) -> compare() of its bf16 maps vs its fp32 maps
        self.peak = self.peak_error = None
        self.jpeg_record = self.jpeg_error = self.synthetic_record = None
        self.jpeg_desc = ""

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
        if "bf16" in a.precisions and any(targets.want(a.plan, arch, m, "bf16", "gradmap") for m in methods):
            self.gradmap_bf16_maps(arch, model, ref_methods, paths, ref)
        for prec in a.precisions:
            for method in methods:
                if targets.want(a.plan, arch, method, prec, "gradmap"):
                    self.gradmap_case(arch, model, method, prec)
                for spec, py in self.peers:
                    how = targets.want(a.plan, arch, method, prec, spec["name"])
                    if how and method in spec["tools"] and prec in spec["prec"] and \
                            not (twin_bad and "torch" in spec["needs"]):
                        self.peer_case(spec, py, arch, model, npz, method, prec, ref, timed=how == "time")
                if method == "forward" and prec == "fp32":
                    twin_bad = check_twin(self.fw_agreement, arch, self.notes)
        self.bf16_self_agreement(arch)

    def gradmap_bf16_maps(self, arch, model, ref_methods, paths, ref):
        """`gradmap explain --precision bf16` on the agreement images vs its fp32 maps (T4: CAM-family
        and saliency rank correlation on the same images as PyTorch's bf16 vs fp32)."""
        a, k = self.a, self.a.agree_images
        lst = os.path.join(self.work, "images_agree.txt")
        with open(lst, "w") as f:
            f.write("\n".join(paths[:k]) + "\n")
        log(f"{arch}: gradmap explain --precision bf16 {','.join(ref_methods)} on {k} images")
        try:
            h5, _ = gradmap_cli.explain(a.gradmap, model, lst, ref_methods, os.path.join(self.work, f"explain_{arch}_bf16"),
                                        a.threads, a.timeout, precision="bf16")
            got = h5io.read_gradmap_results(h5)
            self.gm_bf16_maps[arch] = {"maps": {m: agreement.compare(got["maps"][m][:k], ref["maps"][m][:k])
                                                for m in ref_methods if m in got["maps"]}}
        except (RuntimeError, OSError, KeyError) as e:
            self.gm_bf16_maps[arch] = {"error": f"gradmap explain bf16: {e}"}

    def bf16_self_agreement(self, arch):
        """Each peer's bf16 maps vs its own fp32 maps on the agreement images (T4: PyTorch bf16 saliency
        vs PyTorch fp32)."""
        for (a_, method, prec, peer), path in self.maps.items():
            fp32 = self.maps.get((arch, method, "fp32", peer))
            if a_ != arch or prec != "bf16" or not fp32 or method == "forward":
                continue
            try:
                z16, z32 = np.load(path), np.load(fp32)
                for m in z16.files:          # by map: a combined case gives saliency and gradcam
                    if m in z32.files:
                        self.self_agreement.setdefault((arch, m, peer), agreement.compare(z16[m], z32[m]))
            except (OSError, ValueError, KeyError) as e:
                self.notes.append(f"{arch} {method} {peer}: bf16 vs fp32 maps not compared: {e!r}")

    def gradmap_case(self, arch, model, method, prec):
        a, gm = self.a, {}
        if method != "forward" and not (prec != "fp32" and self.gm_bf16_error):
            log(f"{arch} {method} {prec}: gradmap bench")
            recs, err, cmd = gradmap_cli.bench(a.gradmap, model, method, a.batches, prec, os.path.join(self.work, "images"),
                                               a.iters, a.warmup, a.threads, os.path.join(self.work, "gm.jsonl"), a.timeout)
            self.records += [dict(r, source="gradmap bench", command=" ".join(cmd)) for r in recs]
            gm = {r["case"]["batch"]: r for r in recs}
            for b, r in gm.items():
                self.gm_records[(arch, method, prec, b)] = r
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

    def peer_case(self, spec, py, arch, model, npz, method, prec, ref, timed=True):
        a = self.a
        batches = [b for b in a.batches if b <= spec.get("max_batch", b)] if timed else []
        job = {"peer": spec["name"], "arch": arch, "method": method, "precision": prec, "threads": a.threads,
               "weights": npz, "model_file": model, "mode": spec.get("mode"),
               "inputs": os.path.join(self.work, "inputs.npy"),
               "targets": os.path.join(self.work, f"targets_{arch}.npy"), "batches": batches,
               "warmup": a.warmup, "iters": a.iters, "budget_s": a.budget, "agree_n": a.agree_images,
               "maps_out": os.path.join(self.work, f"maps_{spec['name']}_{arch}_{method}_{prec}.npz")}
        job.update(spec.get("job", {}))          # a tuned variant's settings (channels_last)
        log(f"{arch} {method} {prec}: {spec['tools'][method]} "
            + (f"(batches {batches})" if batches else "(maps / logits only, not timed)"))
        maps, timings, err, recs = run_peer(a, py, spec, job, self.work)
        self.records += [dict(r, source=spec["name"]) for r in recs]
        if maps:
            self.maps[(arch, method, prec, spec["name"])] = maps
        if spec.get("variant") == "jemalloc":
            alloc = next((r for r in recs if r.get("allocator")), None)
            if alloc and alloc.get("allocator") != "jemalloc":
                self.notes.append(f"{spec['name']} {arch} {method} {prec}: LD_PRELOAD did not take "
                                  f"(allocator {alloc.get('allocator')})")
        try:
            agr = peer_agreement(spec, method, maps, ref, a.agree_images) if maps else {"error": err}
        except (KeyError, ValueError, OSError) as e:          # keep the timings of a peer whose maps are odd
            agr = {"error": f"agreement not computed: {e!r}"}
        if err and maps:
            agr["note"] = err
        if method == "forward" and prec == "fp32" and "logits" in agr:
            self.fw_agreement[(arch, spec["name"])] = agr
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
        if spec.get("needs_file") and not os.path.exists(spec["needs_file"]):
            notes.append(f"{spec['name']}: not run ({spec['needs_file']} missing; --jemalloc PATH)")
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
    if a.peak:
        log("gradmap bench --peak")
        run.peak, run.peak_error, cmd = gradmap_cli.peak(a.gradmap, a.threads, os.path.join(work, "peak.jsonl"),
                                                         a.timeout)
        if run.peak:
            run.records.append(dict(run.peak, source="gradmap bench --peak", command=" ".join(cmd)))
    for arch in a.archs:
        run.arch(arch, paths)
    if a.jpeg:
        jpeg_case(run)
    rows = finish_rows(run.meas, run.gm_bf16_error)
    run.notes.append(f"the run took {(time.monotonic() - START) / 60:.1f} min")
    run.notes.append(f"this script's own peak RSS: {common.peak_rss_mb():.0f} MiB. gradmap's peak RSS is its "
                     "ru_maxrss, which Linux carries across fork and exec, so it cannot read below that figure; "
                     "the peers report VmHWM")
    run.records += [dict({k: v for k, v in m.items() if k != "agreement"},
                         agreement=report.agreement_text(m["agreement"])) for m in run.meas]
    args_text = (f"arch {a.arch}; methods {','.join(a.methods)}; batches {a.batch}; precisions {a.precision}; "
                 f"iters {a.iters} (warm-up {a.warmup}, budget {a.budget:g} s); threads {a.threads}; "
                 f"agreement on {a.agree_images} images; work folder {work}")
    if a.targets:
        args_text = "--targets preset (bench/peers/targets.py PLAN); " + args_text
    if a.peak:
        args_text += "; gradmap bench --peak once"
    if a.jpeg:
        args_text += f"; T7: {run.jpeg_desc or 'JPEG case'}"
    head = report.header(command, {k: " / ".join(sorted(v)) for k, v in versions.items()},
                         gradmap_cli.version(a.gradmap), args_text, (load_start, os.getloadavg()[0]))
    tgt = targets.compute(run)
    run.records += [dict(t, source="targets") for t in tgt]
    print(report.write(a.out, os.path.splitext(a.out)[0] + ".jsonl", head, rows, run.notes, run.records,
                       report.targets_section(tgt, run.peak)))


def write_jpegs(folder, n):
    """n seeded synthetic photographs as JPEG files of JPEG_SIZE: with scripts/make_bench_jpegs.py
    (the files bench/README.md's end-to-end recipe uses) when the checkout has it, else this
    harness's own images through PIL or OpenCV. Returns what wrote them."""
    os.makedirs(folder, exist_ok=True)
    for old in os.listdir(folder):
        os.remove(os.path.join(folder, old))
    script = os.path.join(REPO, "scripts", "make_bench_jpegs.py")
    if os.path.exists(script):
        p = subprocess.run([sys.executable, script, folder, "--count", str(n), "--width", str(JPEG_SIZE[0]),
                            "--height", str(JPEG_SIZE[1]), "--quality", str(JPEG_QUALITY)],
                           capture_output=True, text=True)
        if p.returncode == 0 and len(os.listdir(folder)) >= n:
            return "scripts/make_bench_jpegs.py"
    rgb = common.synthetic_images(n)
    try:
        from PIL import Image
        for i, im in enumerate(rgb):
            Image.fromarray(im).resize(JPEG_SIZE, Image.BICUBIC).save(
                os.path.join(folder, f"img{i:03d}.jpg"), quality=JPEG_QUALITY)
        return "PIL"
    except ImportError:
        import cv2
        for i, im in enumerate(rgb):
            cv2.imwrite(os.path.join(folder, f"img{i:03d}.jpg"),
                        cv2.resize(im[..., ::-1], JPEG_SIZE, interpolation=cv2.INTER_CUBIC),
                        [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        return "OpenCV"


def jpeg_case(run, arch="resnet50", method="saliency", batch=8):
    """T7: gradmap bench with JPEG files from disk (decoded, resized and preprocessed by its loader),
    and right after it the same case on synthetic in-memory images (an undisturbed compute figure)."""
    a = run.a
    model = os.path.join(a.models, common.ARCHS[arch]["file"])
    if not os.path.exists(model):
        run.jpeg_error = f"{model} missing"
        return
    folder = os.path.join(run.work, "jpeg")
    try:
        lib = write_jpegs(folder, a.jpeg)
    except ImportError:
        run.jpeg_error = "no PIL or OpenCV in the orchestrator's interpreter to write JPEG files"
        return
    run.jpeg_desc = f"{a.jpeg} JPEG files {JPEG_SIZE[0]}x{JPEG_SIZE[1]} q{JPEG_QUALITY} ({lib})"
    log(f"{arch} {method} fp32 batch {batch}: gradmap bench --images {folder} ({run.jpeg_desc})")
    recs, err, cmd = gradmap_cli.bench(a.gradmap, model, method, [batch], "fp32", folder, a.iters, a.warmup,
                                       a.threads, os.path.join(run.work, "gm_jpeg.jsonl"), a.timeout)
    run.records += [dict(r, source="gradmap bench (JPEG files)", command=" ".join(cmd)) for r in recs]
    run.jpeg_record = recs[0] if recs else None
    run.jpeg_error = err
    log(f"{arch} {method} fp32 batch {batch}: gradmap bench, synthetic images (compute reference for T7)")
    recs, err, cmd = gradmap_cli.bench(a.gradmap, model, method, [batch], "fp32", None, a.iters, a.warmup,
                                       a.threads, os.path.join(run.work, "gm_synthetic.jsonl"), a.timeout)
    run.records += [dict(r, source="gradmap bench (synthetic images)", command=" ".join(cmd)) for r in recs]
    run.synthetic_record = recs[0] if recs else None


def check_twin(fw_agreement, arch, notes):
    """Before any timing is trusted: the PyTorch twin's logits vs gradmap's and Keras's."""
    fw = {peer: agr for (a, peer), agr in fw_agreement.items() if a == arch}
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
