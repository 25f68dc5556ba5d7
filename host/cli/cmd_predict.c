/* cmd_predict.c — `gradmap predict MODEL INPUT...`: classifies images in batches and prints the
 * top-K classes per image (text or JSON lines). A bad image is reported and skipped while the
 * rest of its batch still runs (--strict stops instead). Probabilities are the model's own
 * softmax output; a model without softmax gets softmax(logits). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "explain/engine.h"
#include "explain/explain.h"
#include "host/image.h"
#include "kernels/activation_math.h"
#include "weights/arch_builtin.h"
#include "weights/model.h"

typedef struct gm_predict_args {
    gm_model_options model;
    const char *model_path;
    char **inputs;
    int n_inputs;
    int top_k, batch, threads, json, strict, quiet;
    gm_preprocess_mode preprocess;
    int preprocess_set;
    gm_resize_mode resize;
    const char *device;
    gm_precision precision;
    gm_conv_algo conv_algo;
} gm_predict_args;

static void gm_predict_usage(FILE *f) {
    fprintf(f,
            "usage: gradmap predict MODEL INPUT... [options]\n"
            "\n"
            "Classifies images and prints the top-K classes with their probabilities.\n"
            "\n"
            "  MODEL               Keras .h5: a full model (model.save), or a weights-only file with --arch\n"
            "  INPUT               image files (PNG, JPEG, BMP, GIF, ...), folders (searched recursively),\n"
            "                      or .txt/.lst files listing one image path per line\n"
            "  --arch ARCH         build ARCH (%s) and load MODEL's weights by layer name\n"
            "  --top K             classes printed per image (default 5)\n"
            "  --batch N           images per forward pass (default 32)\n"
            "  --json              one JSON object per image on stdout instead of text\n"
            "  --labels FILE       class names, one per line (or a JSON list); default: the model's own\n"
            "                      names, ImageNet names for 1000-class models, else class numbers\n"
            "  --preprocess MODE   none|caffe|tf|torch (default: the model's, caffe for --arch models)\n"
            "  --resize MODE       nearest (default, as keras.utils.load_img) or bilinear (Pillow's)\n"
            "  --threads N         CPU threads (default: all cores)\n"
            "  --device DEV        auto (default: the GPU when one is usable, else the CPU), cpu or cuda\n"
            "  --precision P       fp32 (default), tf32, fp16 or bf16 (conv/GEMM arithmetic; tf32 and\n"
            "                      fp16 need --device cuda, bf16 the GPU or a CPU with AVX-512 BF16/AMX)\n"
            "  --conv-algo A       auto (default), direct, winograd or winograd-bwd (CPU fp32 convolutions;\n"
            "                      auto = direct here, as predict has no backward; winograd is faster)\n"
            "  --strict            stop at the first unreadable image (default: report it and go on)\n"
            "  --quiet             no progress line and no per-item error lines on stderr\n"
            "\n"
            "Exit status: 0 all images classified, 1 some images failed, >1 the run could not start\n"
            "(2 usage, 3 i/o, 4 file format, 5 unsupported model, 6 shape mismatch, 10 no device).\n",
            gm_arch_names());
}

static gm_status gm_predict_parse(int argc, char **argv, gm_predict_args *a, int *help) {
    memset(a, 0, sizeof *a);
    gm_model_options_default(&a->model);
    a->top_k = 5;
    a->batch = 32;
    a->device = "auto";
    a->inputs = calloc((size_t)argc, sizeof *a->inputs);
    if (!a->inputs) return gm_error(GM_ERR_NOMEM, "out of memory");
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            *help = 1;
            return GM_OK;
        } else if (!strcmp(arg, "--json")) a->json = 1;
        else if (!strcmp(arg, "--strict")) a->strict = 1;
        else if (!strcmp(arg, "--quiet")) a->quiet = 1;
        else if (!strcmp(arg, "--top")) {
            GM_TRY(gm_cli_parse_int(arg, val, 1, 100000, &a->top_k));
            ++i;
        }
        else if (!strcmp(arg, "--batch")) {
            GM_TRY(gm_cli_parse_int(arg, val, 1, 65536, &a->batch));
            ++i;
        }
        else if (!strcmp(arg, "--threads")) {
            GM_TRY(gm_cli_parse_int(arg, val, 1, 4096, &a->threads));
            ++i;
        }
        else if (!strcmp(arg, "--arch") && val) a->model.arch = val, ++i;
        else if (!strcmp(arg, "--labels") && val) a->model.labels = val, ++i;
        else if (!strcmp(arg, "--device") && val) a->device = val, ++i;
        else if (!strcmp(arg, "--precision") && val) {
            GM_TRY(gm_precision_parse(val, &a->precision));
            ++i;
        }
        else if (!strcmp(arg, "--conv-algo") && val) {
            GM_TRY(gm_conv_algo_parse(val, &a->conv_algo));
            ++i;
        }
        else if (!strcmp(arg, "--preprocess") && val) {
            GM_TRY(gm_preprocess_parse(val, &a->preprocess));
            a->preprocess_set = 1;
            ++i;
        } else if (!strcmp(arg, "--resize") && val) {
            GM_TRY(gm_resize_parse(val, &a->resize));
            ++i;
        } else if (arg[0] == '-' && arg[1] != '\0')
            return gm_error(GM_ERR_INVALID_ARG, "unknown option or missing value: %s (see gradmap predict --help)", arg);
        else if (!a->model_path) a->model_path = arg;
        else a->inputs[a->n_inputs++] = argv[i];
    }
    if (!a->model_path || a->n_inputs == 0)
        return gm_error(GM_ERR_INVALID_ARG, "predict needs MODEL and at least one INPUT (see gradmap predict --help)");
    return GM_OK;
}

static void gm_print_item(const gm_predict_args *a, const gm_graph *g, const char *path, int w, int h,
                          const float *probs, const float *logits, int n_classes, int *idx) {
    int k = a->top_k < n_classes ? a->top_k : n_classes;
    gm_top_k(probs, n_classes, k, idx);
    if (a->json) {
        printf("{\"path\":\"");
        gm_cli_json_string(stdout, path);
        printf("\",\"width\":%d,\"height\":%d,\"top\":[", w, h);
        for (int r = 0; r < k; ++r) {
            printf("%s{\"class\":%d,\"name\":\"", r ? "," : "", idx[r]);
            if (g->n_class_names) gm_cli_json_string(stdout, g->class_names[idx[r]]);
            else printf("%d", idx[r]);
            printf("\",\"prob\":%.7g,\"logit\":%.7g}", probs[idx[r]], logits[idx[r]]);
        }
        printf("]}\n");
        return;
    }
    printf("%s", path);
    for (int r = 0; r < k; ++r) {
        if (g->n_class_names) printf("%s%d. %s %.4f", r ? "  " : "  ", r + 1, g->class_names[idx[r]], probs[idx[r]]);
        else printf("  %d. class %d %.4f", r + 1, idx[r], probs[idx[r]]);
    }
    printf("\n");
}

static void gm_print_error(const gm_predict_args *a, const char *path) {
    if (a->json) {
        printf("{\"path\":\"");
        gm_cli_json_string(stdout, path);
        printf("\",\"error\":\"");
        gm_cli_json_string(stdout, gm_last_error());
        printf("\"}\n");
    }
    if (!a->quiet) fprintf(stderr, "gradmap: skipped: %s\n", gm_last_error());
}

/* One self-overwriting progress line on stderr, only when stderr is a terminal and the results go
 * elsewhere (a file or a pipe), so that it never interleaves with them. */
static void gm_progress(const gm_predict_args *a, int done, int total, double started, int final) {
    if (a->quiet || total <= 1 || !isatty(STDERR_FILENO) || isatty(STDOUT_FILENO)) return;
    double elapsed = gm_cli_now() - started;
    double rate = elapsed > 0 ? done / elapsed : 0.0;
    double eta = rate > 0 ? (total - done) / rate : 0.0;
    fprintf(stderr, "\r%d/%d images, %.1f images/s, ETA %.0f s   %s", done, total, rate, eta, final ? "\n" : "");
    fflush(stderr);
}

typedef struct gm_predict_buffers {
    float *input, *probs, *logits;
    int *slot_item, *widths, *heights, *top;
} gm_predict_buffers;

static void gm_predict_buffers_free(gm_predict_buffers *b) {
    free(b->input);
    free(b->probs);
    free(b->logits);
    free(b->slot_item);
    free(b->widths);
    free(b->heights);
    free(b->top);
    memset(b, 0, sizeof *b);
}

static gm_status gm_predict_run(const gm_predict_args *a, const gm_graph *g, gm_engine *e, const gm_path_list *paths,
                                int batch, int *failed) {
    size_t per_image = (size_t)g->input_h * g->input_w * g->input_c;
    int n_classes = g->nodes[g->logits_node].out.c;
    gm_predict_buffers b = {0};
    b.input = malloc((size_t)batch * per_image * sizeof(float));
    b.probs = malloc((size_t)batch * n_classes * sizeof(float));
    b.logits = malloc((size_t)batch * n_classes * sizeof(float));
    b.slot_item = malloc((size_t)batch * sizeof(int));
    b.widths = malloc((size_t)batch * sizeof(int));
    b.heights = malloc((size_t)batch * sizeof(int));
    b.top = malloc((size_t)n_classes * sizeof(int));
    gm_status st = GM_OK;
    if (!b.input || !b.probs || !b.logits || !b.slot_item || !b.widths || !b.heights || !b.top)
        st = gm_error(GM_ERR_NOMEM, "out of memory for a batch of %d images", batch);
    gm_preprocess_mode mode = a->preprocess_set ? a->preprocess : g->preprocess;
    double started = gm_cli_now();
    for (int start = 0; st == GM_OK && start < paths->count; start += batch) {
        int end = start + batch < paths->count ? start + batch : paths->count;
        int n = 0;
        for (int item = start; item < end; ++item) {
            gm_status ist = gm_image_load_input(paths->paths[item], g->input_w, g->input_h, a->resize, mode,
                                                b.input + (size_t)n * per_image, &b.widths[n], &b.heights[n]);
            if (ist != GM_OK) {
                ++*failed;
                gm_print_error(a, paths->paths[item]);
                if (a->strict) {
                    st = ist;
                    break;
                }
                continue;
            }
            b.slot_item[n++] = item;
        }
        if (st != GM_OK || n == 0) continue;
        st = gm_engine_forward(e, b.input, n);
        if (st == GM_OK) st = gm_engine_read(e, g->logits_node, b.logits);
        if (st == GM_OK && g->output_node != g->logits_node) st = gm_engine_read(e, g->output_node, b.probs);
        if (st != GM_OK) break;
        for (int s = 0; s < n; ++s) {
            float *p = b.probs + (size_t)s * n_classes;
            if (g->output_node == g->logits_node) {
                memcpy(p, b.logits + (size_t)s * n_classes, (size_t)n_classes * sizeof(float));
                gm_softmax_row(p, n_classes);
            }
            gm_print_item(a, g, paths->paths[b.slot_item[s]], b.widths[s], b.heights[s], p,
                          b.logits + (size_t)s * n_classes, n_classes, b.top);
        }
        fflush(stdout);
        gm_progress(a, end, paths->count, started, end == paths->count);
    }
    gm_predict_buffers_free(&b);
    return st;
}

int gm_cmd_predict(int argc, char **argv) {
    gm_predict_args a;
    int help = 0;
    gm_status st = gm_predict_parse(argc, argv, &a, &help);
    if (help || st != GM_OK) {
        free(a.inputs);
        if (help) {
            gm_predict_usage(stdout);
            return 0;
        }
        return gm_cli_fail(st);
    }
    gm_path_list paths = {0};
    gm_graph *g = NULL;
    gm_backend *be = NULL;
    gm_engine *e = NULL;
    int failed = 0;
    st = gm_cli_expand_inputs(a.inputs, a.n_inputs, &paths);
    if (st == GM_OK) st = gm_model_load(a.model_path, &a.model, &g);
    if (st == GM_OK) {
        gm_backend_config cfg = {.threads = a.threads, .precision = a.precision, .conv_algo = a.conv_algo};
        st = gm_backend_open(a.device, &cfg, &be);
    }
    if (st == GM_OK && g->input_c != 3)
        st = gm_error(GM_ERR_UNSUPPORTED, "%s: the model takes %d-channel input; gradmap feeds RGB images (3 channels)",
                      a.model_path, g->input_c);
    int batch = a.batch < paths.count ? a.batch : paths.count;
    if (st == GM_OK) st = gm_engine_create(g, be, batch, NULL, 0, &e);
    if (st == GM_OK) st = gm_predict_run(&a, g, e, &paths, batch, &failed);
    int code = st != GM_OK ? gm_cli_fail(st) : failed ? 1 : 0;
    if (st == GM_OK && failed)
        fprintf(stderr, "gradmap: %d of %d images could not be read (listed above)\n", failed, paths.count);
    gm_engine_free(&e);
    gm_backend_close(&be);
    gm_graph_free(&g);
    gm_path_list_free(&paths);
    free(a.inputs);
    return code;
}
