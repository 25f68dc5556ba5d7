"""What the peers script knows about each peer: the module that runs it, the modules it needs, the
precisions it supports, how its maps compare with gradmap's (raw, or after pytorch-grad-cam's own
post-processing), and the tool name per method in the table. probe() finds which interpreter can
run which peer without importing the heavy modules (importlib find_spec and distribution metadata).

Tuned PyTorch configurations are separate peers ("variants" of pytorch and pgc, same script):
  -cl        model and input in torch.channels_last (the issue-7 best configuration for VGG16)
  -jemalloc  the subprocess runs with LD_PRELOAD=libjemalloc and MALLOC_CONF with decay disabled
             (jemalloc 5.x: dirty_decay_ms:-1,muzzy_decay_ms:-1 never return freed pages to the OS,
             so a steady-state iteration takes no page faults; the issue-7 best for ResNet50)
They are not in the default peer set (DEFAULT_PEERS); --peers or --targets selects them.
"""
import json
import subprocess

METHODS = ("forward", "saliency", "gradcam", "gradcam++", "cam", "saliency+gradcam")
TORCH = ("torch", "torchvision")
LOOP_MAX_BATCH = 8          # a one-image loop's images/s does not depend on the batch: stop at 8
PEERS = (
    {"name": "pytorch", "script": "peer_torch.py", "needs": TORCH, "prec": ("fp32", "bf16"),
     "compare": "raw", "tools": {
         "forward": "pytorch forward (no_grad)", "saliency": "pytorch autograd, frozen weights",
         "gradcam": "pytorch head-only Grad-CAM", "gradcam++": "pytorch head-only Grad-CAM++",
         "cam": "pytorch forward + CAM GEMM", "saliency+gradcam": "pytorch one backward, both maps"}},
    {"name": "captum", "script": "peer_captum.py", "needs": TORCH + ("captum",), "prec": ("fp32", "bf16"),
     "compare": "raw", "tools": {"saliency": "captum Saliency"}},
    {"name": "pgc", "script": "peer_pgc.py", "needs": TORCH + ("pytorch_grad_cam",), "prec": ("fp32", "bf16"),
     "compare": "pgc", "tools": {"gradcam": "pytorch-grad-cam GradCAM",
                                 "gradcam++": "pytorch-grad-cam GradCAMPlusPlus"}},
    {"name": "tf-batched", "script": "peer_tf.py", "mode": "batched", "needs": ("tensorflow", "keras"),
     "prec": ("fp32",), "compare": "raw", "tools": {
         "forward": "TF/Keras forward", "saliency": "TF recipe, batched", "gradcam": "TF recipe, batched",
         "saliency+gradcam": "TF one tape, batched"}},
    {"name": "tf-loop", "script": "peer_tf.py", "mode": "loop", "needs": ("tensorflow", "keras"),
     "prec": ("fp32",), "compare": "raw", "max_batch": LOOP_MAX_BATCH,
     "tools": {"saliency": "TF recipe, 1 image at a time", "gradcam": "TF recipe, 1 image at a time"}},
)
JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"      # Debian libjemalloc2 (5.3.0)
JEMALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"           # jemalloc 5.x: -1 = never decay/purge
VARIANTS = {   # suffix -> what changes; "job" is merged into the peer's job, "env" into its environment
    "cl": {"label": "channels_last", "job": {"channels_last": True}},
    "jemalloc": {"label": "jemalloc, no decay", "env": {"LD_PRELOAD": JEMALLOC, "MALLOC_CONF": JEMALLOC_CONF},
                 "needs_file": JEMALLOC},
}


def _variant(base, suffix):
    v = VARIANTS[suffix]
    spec = dict(base, name=f"{base['name']}-{suffix}", variant=suffix,
                tools={m: f"{t} [{v['label']}]" for m, t in base["tools"].items()},
                job=dict(v.get("job", {})), env=dict(v.get("env", {})))
    if v.get("needs_file"):
        spec["needs_file"] = v["needs_file"]
    return spec


DEFAULT_PEERS = tuple(p["name"] for p in PEERS)
PEERS = PEERS + tuple(_variant(p, sfx) for p in PEERS if p["name"] in ("pytorch", "pgc") for sfx in VARIANTS)


def set_jemalloc(path):
    """--jemalloc PATH: another libjemalloc for the -jemalloc variants."""
    for p in PEERS:
        if p.get("variant") == "jemalloc":
            p["env"]["LD_PRELOAD"] = p["needs_file"] = path


DISTS = {"torch": ["torch"], "torchvision": ["torchvision"], "captum": ["captum"],
         "pytorch_grad_cam": ["grad-cam"], "tensorflow": ["tensorflow", "tensorflow-cpu"],
         "keras": ["keras"], "numpy": ["numpy"], "h5py": ["h5py"],
         "cv2": ["opencv-python", "opencv-python-headless", "opencv-contrib-python"]}
LABELS = {"pytorch_grad_cam": "grad-cam", "cv2": "opencv"}     # module -> name in the report
PROBE = ("import importlib.util as u, importlib.metadata as md, json, sys\n"
         "d = json.loads(sys.argv[1]); out = {}\n"
         "for mod, dists in d.items():\n"
         "    if u.find_spec(mod) is None: continue\n"
         "    out[mod] = 'unknown'\n"
         "    for dist in dists:\n"
         "        try: out[mod] = md.version(dist); break\n"
         "        except Exception: pass\n"
         "print(json.dumps(out))\n")


def probe(pythons):
    """{interpreter: {module: version}} for the modules the peers need (find_spec only: cheap)."""
    found = {}
    for py in pythons:
        try:
            p = subprocess.run([py, "-c", PROBE, json.dumps(DISTS)], capture_output=True, text=True, timeout=120)
            found[py] = json.loads(p.stdout) if p.returncode == 0 else {}
        except (OSError, subprocess.TimeoutExpired, ValueError):
            found[py] = {}
    return found
