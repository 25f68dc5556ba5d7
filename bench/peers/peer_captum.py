"""Captum's Saliency (abs=True), reduced to one map per image with max over colour channels as the
saliency seed recipe and gradmap do (Captum's own visualiser would sum). Captum differentiates with
torch.autograd.grad w.r.t. the input only, so weight gradients are skipped even though the twin's
weights are left trainable, as a Captum user would leave them. bf16: torch.autocast around the call.
Usage: python peer_captum.py JOB.json
"""
import contextlib
import sys

import common


def main():
    job = common.read_job(sys.argv)
    common.limit_threads(job["threads"])
    import warnings
    import torch
    torch.set_num_threads(job["threads"])
    torch.set_num_interop_threads(1)
    import captum
    from captum.attr import Saliency
    import torch_twin

    warnings.filterwarnings("ignore", message=".*required_grads has been set automatically.*")
    twin = torch_twin.load_twin(job["arch"], job["weights"], frozen=False)
    sal = Saliency(twin)

    def fn(x, t):
        ctx = (torch.autocast("cpu", dtype=torch.bfloat16) if job["precision"] == "bf16"
               else contextlib.nullcontext())
        with ctx:
            g = sal.attribute(x, target=torch.from_numpy(t).long(), abs=True)
        return {"saliency": g.amax(1).float().detach().numpy()}

    extra = {"versions": {"torch": torch.__version__, "captum": captum.__version__}}
    common.run_job(job, fn, torch_twin.to_nchw, extra)


if __name__ == "__main__":
    main()
