/* activation.c — small helpers on gm_activation (declared in host/backend.h): the default
 * descriptor of each kind, the "plain ReLU" test backends use to pick their fastest path, and
 * the name used in messages. The ReLU parameters follow keras.layers.ReLU, see
 * kernels/activation_math.h. */
#include <math.h>

#include "backend.h"

gm_activation gm_activation_make(gm_act_kind kind) {
    /* Keras's defaults: unbounded, no leak, threshold 0; the ReLU fields are ignored for the
     * other kinds but are set to the same neutral values so descriptors compare predictably. */
    gm_activation a = {kind, INFINITY, 0.0f, 0.0f};
    return a;
}

int gm_activation_is_plain_relu(const gm_activation *a) {
    return a && a->kind == GM_ACT_RELU && isinf(a->max_value) && a->max_value > 0.0f && a->negative_slope == 0.0f &&
           a->threshold == 0.0f;
}

const char *gm_activation_name(const gm_activation *a) {
    if (!a) return "(null)";
    switch (a->kind) {
    case GM_ACT_LINEAR: return "linear";
    case GM_ACT_RELU: return gm_activation_is_plain_relu(a) ? "relu" : "relu (generalised)";
    case GM_ACT_SIGMOID: return "sigmoid";
    case GM_ACT_TANH: return "tanh";
    case GM_ACT_SOFTMAX: return "softmax";
    }
    return "unknown activation";
}
