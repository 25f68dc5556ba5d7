/* precision.c — names of the arithmetic modes (gm_precision) and convolution algorithms
 * (gm_conv_algo) of host/backend.h as the command line, results.h5 and the bench JSON spell them. */
#include <string.h>

#include "backend.h"

static const char *const gm_precision_names[] = {"fp32", "tf32", "fp16", "bf16"};
static const char *const gm_conv_algo_names[] = {"auto", "direct", "winograd", "winograd-bwd"};

/* Index of `name` in `names`, or -1. */
static int gm_name_index(const char *const *names, unsigned count, const char *name) {
    for (unsigned i = 0; name && i < count; ++i)
        if (!strcmp(name, names[i])) return (int)i;
    return -1;
}

const char *gm_precision_name(gm_precision p) {
    return (unsigned)p < sizeof gm_precision_names / sizeof *gm_precision_names ? gm_precision_names[p] : "?";
}

gm_status gm_precision_parse(const char *name, gm_precision *out) {
    int i = gm_name_index(gm_precision_names, sizeof gm_precision_names / sizeof *gm_precision_names, name);
    if (i < 0)
        return gm_error(GM_ERR_INVALID_ARG, "--precision '%s': expected fp32, tf32, fp16 or bf16", name ? name : "");
    *out = (gm_precision)i;
    return GM_OK;
}

const char *gm_conv_algo_name(gm_conv_algo a) {
    return (unsigned)a < sizeof gm_conv_algo_names / sizeof *gm_conv_algo_names ? gm_conv_algo_names[a] : "?";
}

gm_status gm_conv_algo_parse(const char *name, gm_conv_algo *out) {
    int i = gm_name_index(gm_conv_algo_names, sizeof gm_conv_algo_names / sizeof *gm_conv_algo_names, name);
    if (i < 0)
        return gm_error(GM_ERR_INVALID_ARG, "--conv-algo '%s': expected auto, direct, winograd or winograd-bwd", name ? name : "");
    *out = (gm_conv_algo)i;
    return GM_OK;
}
