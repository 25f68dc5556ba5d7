"""pytorch-grad-cam (PyPI grad-cam) as people run it: GradCAM / GradCAMPlusPlus on the twin with
trainable weights (its loss.backward() computes every weight gradient of the whole model), target
layer VGG16 features[29] (block5_conv3 after its ReLU; features[28] would be pre-ReLU) / ResNet50
layer4[-1], targets = ClassifierOutputTarget(top-1 of gradmap). Its output is already post-processed:
ReLU, (x-min)/(max+1e-7) per image at layer resolution, cv2.resize to 224x224.
bf16: torch.autocast; a forward hook registered before pytorch-grad-cam's own casts the target
activation back to float32, because the library calls .numpy() on it (numpy has no bfloat16).
job["channels_last"] (the -cl variant): model and inputs in torch.channels_last.
Usage: python peer_pgc.py JOB.json
"""
import contextlib
import sys

import common


def main():
    job = common.read_job(sys.argv)
    common.limit_threads(job["threads"])
    import torch
    torch.set_num_threads(job["threads"])
    torch.set_num_interop_threads(1)
    import importlib.metadata
    from pytorch_grad_cam import GradCAM, GradCAMPlusPlus
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    import torch_twin

    twin, to_input = torch_twin.configure(torch_twin.load_twin(job["arch"], job["weights"], frozen=False), job)
    if job["precision"] == "bf16":
        twin.target_module.register_forward_hook(lambda m, i, o: o.float())
    cls = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus}[job["method"]]
    # the twin's forward is the whole network, so pytorch-grad-cam sees an ordinary classifier
    cam = cls(model=twin, target_layers=[twin.target_module])

    def fn(x, t):
        ctx = (torch.autocast("cpu", dtype=torch.bfloat16) if job["precision"] == "bf16"
               else contextlib.nullcontext())
        with ctx:
            maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in t])
        return {job["method"]: maps}

    extra = {"versions": {"torch": torch.__version__,
                          "grad-cam": importlib.metadata.version("grad-cam")}}
    common.run_job(job, fn, to_input, extra)


if __name__ == "__main__":
    main()
