/* precision.c — names of the arithmetic modes of host/backend.h (gm_precision) as the command
 * line, results.h5 and the bench JSON spell them. */
#include <string.h>

#include "backend.h"

static const char *const gm_precision_names[] = {"fp32", "tf32", "fp16", "bf16"};

const char *gm_precision_name(gm_precision p) {
    return (unsigned)p < sizeof gm_precision_names / sizeof *gm_precision_names ? gm_precision_names[p] : "?";
}

gm_status gm_precision_parse(const char *name, gm_precision *out) {
    for (unsigned i = 0; i < sizeof gm_precision_names / sizeof *gm_precision_names; ++i)
        if (name && !strcmp(name, gm_precision_names[i])) {
            *out = (gm_precision)i;
            return GM_OK;
        }
    return gm_error(GM_ERR_INVALID_ARG, "--precision '%s': expected fp32, tf32, fp16 or bf16", name ? name : "");
}
