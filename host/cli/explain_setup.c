/* explain_setup.c — what `gradmap explain` and `gradmap audit` open before their first batch: the
 * model (RGB input, --layer), the backend and an explainer that fits the device (explain_args.h). */
#include <stdlib.h>
#include <string.h>

#include "explain_args.h"

gm_status gm_explain_open_model(gm_explain_args *a, gm_graph **g) {
    GM_TRY(gm_model_load(a->model_path, &a->model, g));
    if ((*g)->input_c != 3)
        return gm_error(GM_ERR_UNSUPPORTED, "%s: the model takes %d-channel input; gradmap feeds RGB images (3 channels)",
                        a->model_path, (*g)->input_c);
    return gm_explain_resolve_layer(*g, a);
}

/* On a GPU one batch of black images through every requested method sizes every device buffer
 * (arenas, cuDNN workspace, scratch); when the device runs out of memory the batch is halved and
 * tried again. Nothing has been written yet, so no work is lost. */
static gm_status gm_fitting_explainer(gm_explain_args *a, const gm_graph *g, gm_backend *be, int *batch,
                                      gm_explainer **x) {
    const int requested = *batch;
    for (;;) {
        a->cfg.max_batch = *batch;
        gm_status st = gm_explainer_create(g, be, &a->cfg, x);
        if (st == GM_OK && strcmp(be->ops->name, "cpu") != 0) {
            size_t in = (size_t)*batch * g->input_h * g->input_w * g->input_c;
            float *zeros = calloc(in, sizeof *zeros);
            gm_explain_batch out;
            st = zeros ? gm_explainer_run(*x, zeros, *batch, NULL, &out)
                       : gm_error(GM_ERR_NOMEM, "out of memory for the first batch (%zu floats)", in);
            free(zeros);
        }
        if (st != GM_ERR_NOMEM || *batch == 1) {
            if (st == GM_OK && *batch != requested && !a->quiet)
                fprintf(stderr, "gradmap: out of device memory at --batch %d; running with batch %d\n", requested,
                        *batch);
            return st;
        }
        gm_explainer_free(x);
        *batch = (*batch + 1) / 2;
    }
}

gm_status gm_explain_open_explainer(gm_explain_args *a, const gm_graph *g, int *batch, gm_backend **be,
                                    gm_explainer **x) {
    gm_backend_config bc = {.threads = a->threads,
                            .precision = a->precision,
                            .conv_algo = a->conv_algo,
                            .fp32_forward = gm_methods_need_exact_forward(a->cfg.methods)};
    GM_TRY(gm_backend_open(a->device, &bc, be));
    float black[3];
    const uint8_t black_rgb[3] = {0, 0, 0};
    gm_image_preprocess(black_rgb, 1, a->preprocess_set ? a->preprocess : g->preprocess, black);
    a->cfg.black_pixel = black; /* the explainer keeps a copy */
    gm_status st = gm_fitting_explainer(a, g, *be, batch, x);
    a->cfg.black_pixel = NULL;
    return st;
}
