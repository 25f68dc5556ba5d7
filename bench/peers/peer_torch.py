"""PyTorch peers written by hand, each the fastest honest recipe a PyTorch user could write:
  forward           logits under no_grad (the price of one inference pass)
  saliency          frozen weights (no weight gradients), d logit_c / d input, max |.| over channels
  gradcam           head-only: body under no_grad, then only the head (logits -> target layer) is
                    differentiated, w.r.t. the activation (autograd.grad), frozen weights
  gradcam++         the same head-only backward, pytorch-grad-cam's Grad-CAM++ weights (eps 1e-6)
  cam               Zhou's CAM: body under no_grad, then W[c] . A (ResNet50's GAP -> Dense head)
  saliency+gradcam  one forward and one backward giving both the input and activation gradients
All maps are raw (no normalisation, no resize) so they compare one to one with gradmap's results.h5.
bf16 runs everything under torch.autocast('cpu', bfloat16). job["channels_last"] (the -cl variant):
model and inputs in torch.channels_last. Usage: python peer_torch.py JOB.json
"""
import contextlib
import sys

import common


def _setup(job):
    common.limit_threads(job["threads"])
    import torch
    torch.set_num_threads(job["threads"])
    torch.set_num_interop_threads(1)
    return torch


def _targets(torch, t):
    return torch.from_numpy(t).long().view(-1, 1)


def _gradcam_pp(torch, a, g):
    """pytorch-grad-cam's Grad-CAM++ (NCHW): alpha = g^2 / (2 g^2 + sum_ab A * g^3 + eps)."""
    g2, g3 = g * g, g * g * g
    alpha = g2 / (2 * g2 + a.sum(dim=(2, 3), keepdim=True) * g3 + 1e-6)
    alpha = torch.where(g != 0, alpha, torch.zeros_like(alpha))
    w = (torch.relu(g) * alpha).sum(dim=(2, 3), keepdim=True)
    return torch.relu((w * a).sum(1))


def make_fn(torch, twin, method, precision):
    def autocast():
        if precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def forward(x, t):
        with torch.no_grad(), autocast():
            return {"logits": twin(x).float().numpy()}

    def saliency(x, t):
        x = x.clone().requires_grad_(True)
        with autocast():
            y = twin(x).float().gather(1, _targets(torch, t)).sum()
        (g,) = torch.autograd.grad(y, x)
        return {"saliency": g.abs().amax(1).float().numpy()}

    def head_grads(x, t):
        with torch.no_grad(), autocast():
            a = twin.body(x)
        a = a.float().requires_grad_(True)
        with autocast():
            y = twin.head(a).float().gather(1, _targets(torch, t)).sum()
        (g,) = torch.autograd.grad(y, a)
        return a.detach(), g.float()

    def gradcam(x, t):
        a, g = head_grads(x, t)
        w = g.mean(dim=(2, 3), keepdim=True)
        return {"gradcam": torch.relu((w * a).sum(1)).numpy()}

    def gradcam_pp(x, t):
        a, g = head_grads(x, t)
        return {"gradcam++": _gradcam_pp(torch, a, g).numpy()}

    def cam(x, t):
        with torch.no_grad(), autocast():
            a = twin.body(x).float()
            w = twin.fc.weight[torch.from_numpy(t).long()]          # (N, C)
            return {"cam": torch.einsum("nchw,nc->nhw", a, w).float().numpy()}   # autocast: bf16 out

    def saliency_gradcam(x, t):
        x = x.clone().requires_grad_(True)
        with autocast():
            a = twin.body(x)
            y = twin.head(a).float().gather(1, _targets(torch, t)).sum()
        gx, ga = torch.autograd.grad(y, [x, a])
        a, ga = a.detach().float(), ga.float()
        w = ga.mean(dim=(2, 3), keepdim=True)
        return {"saliency": gx.abs().amax(1).float().numpy(),
                "gradcam": torch.relu((w * a).sum(1)).numpy()}

    return {"forward": forward, "saliency": saliency, "gradcam": gradcam, "gradcam++": gradcam_pp,
            "cam": cam, "saliency+gradcam": saliency_gradcam}[method]


def main():
    job = common.read_job(sys.argv)
    torch = _setup(job)
    import torch_twin
    twin, to_input = torch_twin.configure(torch_twin.load_twin(job["arch"], job["weights"], frozen=True), job)
    fn = make_fn(torch, twin, job["method"], job["precision"])
    extra = {"versions": {"torch": torch.__version__}}
    common.run_job(job, fn, to_input, extra)


if __name__ == "__main__":
    main()
