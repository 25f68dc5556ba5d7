"""What the peers script knows about each peer: the module that runs it, the modules it needs, the
precisions it supports, how its maps compare with gradmap's (raw, or after pytorch-grad-cam's own
post-processing), and the tool name per method in the table. probe() finds which interpreter can
run which peer without importing the heavy modules (importlib find_spec and distribution metadata).
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
