"""TensorFlow/Keras peers: the two seed recipes as written (eager model calls under a GradientTape),
on the same .h5 model file gradmap reads, with the softmax fused into `predictions` switched to
linear so every tool differentiates the pre-softmax logit (tf-keras-vis's ReplaceToLinear; the
saliency seed differentiates the softmax, gradmap's --score softmax does that).
  forward           model(x) logits
  saliency          watch the input, d logit_c / d input, max |.| over channels
  gradcam           Model(inputs, [target conv, logits]); mean of d logit_c / d A over space;
                    ReLU(sum_k alpha_k A_k) at the last conv layer (raw: no /max, no resize)
  saliency+gradcam  both from one tape
mode "batched" runs a whole batch per call; mode "loop" runs the recipe as printed, one image at a
time in a Python loop. fp32 only (the recipes have no reduced-precision path).
Usage: python peer_tf.py JOB.json
"""
import os
import sys

import common


def main():
    job = common.read_job(sys.argv)
    common.limit_threads(job["threads"])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(job["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    model = keras.models.load_model(job["model_file"], compile=False)
    model.layers[-1].activation = keras.activations.linear
    layer = common.ARCHS[job["arch"]]["target_layer"]
    grad_model = keras.Model(model.inputs, [model.get_layer(layer).output, model.output])
    method = job["method"]

    def pick(logits, t):
        return tf.gather(logits, t, batch_dims=1)

    def one(x, t):
        t = tf.constant(t, tf.int32)
        if method == "forward":
            return {"logits": model(x, training=False).numpy()}
        if method == "saliency":     # the saliency recipe: no activation output needed
            with tf.GradientTape() as tape:
                tape.watch(x)
                score = pick(model(x, training=False), t)
            g = tape.gradient(score, x)
            return {"saliency": tf.reduce_max(tf.abs(g), axis=-1).numpy()}
        with tf.GradientTape() as tape:
            tape.watch(x)
            conv, logits = grad_model(x, training=False)
            score = pick(logits, t)
        want = [x, conv] if method == "saliency+gradcam" else [conv]
        grads = tape.gradient(score, want)
        alpha = tf.reduce_mean(grads[-1], axis=(1, 2))                     # (N, C)
        cam = tf.nn.relu(tf.einsum("nhwc,nc->nhw", conv, alpha))
        out = {"gradcam": cam.numpy()}
        if method == "saliency+gradcam":
            out["saliency"] = tf.reduce_max(tf.abs(grads[0]), axis=-1).numpy()
        return out

    def loop(x, t):
        parts = [one(x[i:i + 1], t[i:i + 1]) for i in range(int(x.shape[0]))]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    fn = loop if job.get("mode") == "loop" else one
    extra = {"versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
             "mode": job.get("mode", "batched")}
    common.run_job(job, fn, tf.constant, extra)


if __name__ == "__main__":
    main()
