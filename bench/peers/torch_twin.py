"""The PyTorch twin of the Keras VGG16 / ResNet50: torchvision's modules, made Keras-faithful, with
the weights of the same .h5 (exported by h5io.export_keras_weights to an .npz of Keras layouts).

Layout conversions: conv kernels HWIO -> OIHW; dense IO -> OI. VGG16's fc1 follows Flatten, which
Keras applies to NHWC (row index h*7*512 + w*512 + c) and torch to NCHW (c*49 + h*7 + w), so fc1's
input rows are permuted. ResNet50: Keras is ResNet v1 (stride on the first 1x1 conv of a block),
torchvision is v1.5 (stride on the 3x3), so the strides are moved back; Keras convs have biases and
torchvision's don't, so each conv bias is folded into the BatchNorm after it (running_mean -= b,
exact); Keras BN eps is 1.001e-5 (torch 1e-5). Inputs are NCHW views of the same caffe-preprocessed
floats; the output is the pre-softmax logits (Keras fuses the softmax into `predictions`).

body(x) -> target activation (VGG16: block5_conv3 after its fused ReLU = features[:30];
ResNet50: conv5_block3_out = layer4's output); head(A) -> logits; target_module is the module whose
forward output is that activation (what pytorch-grad-cam hooks).
"""
import numpy as np
import torch
import torchvision

KERAS_BN_EPS = 1.001e-5
VGG_CONVS = [(1, 2), (2, 2), (3, 3), (4, 3), (5, 3)]   # (block, convs per block)


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _conv(w, k, has_bias=True):
    """Copies Keras layer `k` (kernel HWIO, bias) into conv module w (OIHW)."""
    with torch.no_grad():
        w.weight.copy_(_t(k["kernel"].transpose(3, 2, 0, 1)))
        if has_bias:
            w.bias.copy_(_t(k["bias"]))


def _layer(npz, name):
    prefix = name + "/"
    return {key[len(prefix):]: npz[key] for key in npz.files if key.startswith(prefix)}


class Twin(torch.nn.Module):
    def __init__(self, arch, net, body, head, target_module, fc):
        super().__init__()
        self.arch, self.net, self.fc = arch, net, fc
        self._body, self._head, self.target_module = body, head, target_module

    def body(self, x):
        return self._body(x)

    def head(self, a):
        return self._head(a)

    def forward(self, x):
        return self.net(x)


def _vgg16(npz):
    net = torchvision.models.vgg16(weights=None)
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv2d)]
    names = [f"block{b}_conv{i + 1}" for b, n in VGG_CONVS for i in range(n)]
    for m, name in zip(convs, names):
        _conv(m, _layer(npz, name))
    fc1, fc2, fc3 = [m for m in net.classifier if isinstance(m, torch.nn.Linear)]
    k = _layer(npz, "fc1")["kernel"]                                  # (7*7*512, 4096), HWC rows
    k = k.reshape(7, 7, 512, -1).transpose(3, 2, 0, 1).reshape(k.shape[1], -1)   # -> (4096, CHW)
    with torch.no_grad():
        fc1.weight.copy_(_t(k))
        fc1.bias.copy_(_t(_layer(npz, "fc1")["bias"]))
        for lin, name in ((fc2, "fc2"), (fc3, "predictions")):
            lin.weight.copy_(_t(_layer(npz, name)["kernel"].T))
            lin.bias.copy_(_t(_layer(npz, name)["bias"]))
    body = net.features[:30]                      # up to and including block5_conv3's ReLU

    def head(a):
        return net.classifier(torch.flatten(net.avgpool(net.features[30](a)), 1))
    return Twin("vgg16", net, body, head, net.features[29], fc3)


def _bn(bn, k, conv_bias):
    with torch.no_grad():
        bn.weight.copy_(_t(k["gamma"]))
        bn.bias.copy_(_t(k["beta"]))
        bn.running_mean.copy_(_t(k["moving_mean"] - conv_bias))    # folds the conv bias
        bn.running_var.copy_(_t(k["moving_variance"]))
    bn.eps = KERAS_BN_EPS


def _conv_bn(conv, bn, npz, name):
    c = _layer(npz, name + "_conv")
    _conv(conv, c, has_bias=False)
    _bn(bn, _layer(npz, name + "_bn"), c["bias"])


def _resnet50(npz):
    net = torchvision.models.resnet50(weights=None)
    _conv_bn(net.conv1, net.bn1, npz, "conv1")
    for stage, layer in enumerate([net.layer1, net.layer2, net.layer3, net.layer4], start=2):
        for i, blk in enumerate(layer, start=1):
            pre = f"conv{stage}_block{i}"
            if blk.conv2.stride != (1, 1):                      # v1.5 -> v1: stride on the 1x1
                blk.conv1.stride, blk.conv2.stride = blk.conv2.stride, (1, 1)
            _conv_bn(blk.conv1, blk.bn1, npz, pre + "_1")
            _conv_bn(blk.conv2, blk.bn2, npz, pre + "_2")
            _conv_bn(blk.conv3, blk.bn3, npz, pre + "_3")
            if blk.downsample is not None:
                _conv_bn(blk.downsample[0], blk.downsample[1], npz, pre + "_0")
    with torch.no_grad():
        net.fc.weight.copy_(_t(_layer(npz, "predictions")["kernel"].T))
        net.fc.bias.copy_(_t(_layer(npz, "predictions")["bias"]))
    body = torch.nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool,
                               net.layer1, net.layer2, net.layer3, net.layer4)

    def head(a):
        return net.fc(torch.flatten(net.avgpool(a), 1))
    return Twin("resnet50", net, body, head, net.layer4[-1], net.fc)


def load_twin(arch, npz_path, frozen=True):
    """The twin in eval mode; frozen=True sets requires_grad False on every parameter (the fair
    saliency recipe); pytorch-grad-cam is run as people run it, with frozen=False."""
    npz = np.load(npz_path)
    twin = {"vgg16": _vgg16, "resnet50": _resnet50}[arch](npz)
    twin.eval()
    for p in twin.parameters():
        p.requires_grad_(not frozen)
    return twin


def to_nchw(x_nhwc):
    """numpy NHWC float32 -> contiguous NCHW tensor (what torch's conv kernels prefer)."""
    return torch.from_numpy(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2)))


def to_channels_last(x_nhwc):
    """numpy NHWC float32 -> an NCHW-shaped tensor stored channels_last (NHWC in memory)."""
    return to_nchw(x_nhwc).contiguous(memory_format=torch.channels_last)


def configure(twin, job):
    """A job's memory-format variant: job["channels_last"] converts the model
    (model.to(memory_format=torch.channels_last)) and its inputs, as PyTorch's performance guide
    recommends for CPU convnets. Returns (twin, input converter); the conversion is not timed."""
    if job.get("channels_last"):
        return twin.to(memory_format=torch.channels_last), to_channels_last
    return twin, to_nchw
