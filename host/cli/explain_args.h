/* explain_args.h — the options of `gradmap explain` (parsed by explain_args.c) and the picture
 * writer (explain_pictures.c), shared with cmd_explain.c. */
#ifndef GM_EXPLAIN_ARGS_H
#define GM_EXPLAIN_ARGS_H

#include <stdio.h>

#include "explain/explain.h"
#include "explain/post.h"
#include "host/image.h"
#include "weights/model.h"

typedef struct gm_explain_args {
    gm_model_options model;
    const char *model_path, *out_dir, *device, *layer, *class_spec;
    char **inputs;
    int n_inputs;
    gm_explain_config cfg;
    gm_precision precision;
    gm_conv_algo conv_algo;
    int batch, threads, strict, quiet, resume, png_heatmap, png_overlay, top_k_given;
    gm_preprocess_mode preprocess;
    int preprocess_set;
    gm_resize_mode resize;
    gm_post_compat compat;
    gm_colormap colormap;
    double alpha;
    char command_line[4096];
} gm_explain_args;

/* Parses argv (argv[0] = "explain"); *help = 1 for --help. */
gm_status gm_explain_args_parse(int argc, char **argv, gm_explain_args *a, int *help);
void gm_explain_usage(FILE *f);

/* The model of explain and audit: loaded, refused unless its input is RGB, --layer resolved. */
gm_status gm_explain_open_model(gm_explain_args *a, gm_graph **g);
/* Opens a->device and creates the explainer for *batch images. On a GPU one black batch first sizes
 * every device buffer; out of device memory halves *batch until it fits (said once, unless quiet). */
gm_status gm_explain_open_explainer(gm_explain_args *a, const gm_graph *g, int *batch, gm_backend **be,
                                    gm_explainer **x);

/* --layer NAME into a->cfg.target_layer (unset: the model's default); an unknown or folded layer is
 * GM_ERR_NOT_FOUND listing the candidate layers. */
gm_status gm_explain_resolve_layer(const gm_graph *g, gm_explain_args *a);

/* How a method's raw map is turned into a picture (signed attributions, gradient magnitudes, CAMs). */
gm_post_map_kind gm_explain_map_kind(gm_method m);

/* Writes the heatmap and/or overlay PNGs of one map (raw, map_h x map_w) for `image`:
 * DIR/png/<stem>_<method>[_top<rank>].png and ..._overlay.png. `scratch` holds map_h*map_w floats,
 * `full` image->width*image->height floats and `pixels` image->width*image->height*3 bytes (the
 * caller keeps them across images, so pictures allocate nothing). */
gm_status gm_explain_write_pictures(const gm_explain_args *a, const char *stem, gm_method m, int rank, int n_ranks,
                                    const float *map, int map_h, int map_w, const gm_image *image, float *scratch,
                                    float *full, uint8_t *pixels);

#endif
