/* cmd_info.c — `gradmap info [MODEL] [--arch A] [--device DEV]`: the model's Keras layers with
 * output shapes, parameters and multiply-accumulates, totals, the default explanation target
 * layer, and what the inference graph simplified (BatchNormalization folded, ReLU fused); with
 * --device, the compute device and its library versions (GPU, driver, CUDA, cuDNN, cuBLAS, or
 * the CPU and oneDNN), or why that device cannot be used. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "weights/arch_builtin.h"
#include "weights/model.h"

static void gm_info_usage(FILE *f) {
    fprintf(f,
            "usage: gradmap info MODEL [--arch ARCH] [--labels FILE] [--device DEV]\n"
            "       gradmap info --device DEV [--precision P]\n"
            "\n"
            "Prints every layer (name, class, output shape, parameters, multiply-accumulates per image),\n"
            "the totals, the input size and preprocessing, the classes, and the default target layer of\n"
            "the CAM-family methods (the last spatial layer that is not pooling).\n"
            "\n"
            "  MODEL            Keras .h5: a full model (model.save) or, with --arch, a weights-only file\n"
            "  --arch ARCH      build ARCH (%s) and load MODEL's weights into it by layer name\n"
            "  --labels FILE    class names, one per line (or a JSON list)\n"
            "  --device DEV     also print the device: cpu, cuda (GPU, driver, CUDA, cuDNN and cuBLAS\n"
            "                   versions; exit status 10 with the reason when no GPU is usable) or auto\n"
            "  --precision P    with --device: check that the device supports fp32, tf32, fp16 or bf16\n",
            gm_arch_names());
}

static void gm_shape_string(const gm_shape *s, char *buf, size_t size) {
    if (s->rank == 4) snprintf(buf, size, "(%d, %d, %d)", s->h, s->w, s->c);
    else snprintf(buf, size, "(%d)", s->c);
}

static double gm_node_macs(const gm_node *n) {
    if (n->op == GM_OP_CONV2D)
        return (double)n->out.h * n->out.w * n->conv.cout * n->conv.kh * n->conv.kw * n->conv.cin;
    if (n->op == GM_OP_DENSE) return (double)n->dense.in * n->dense.out;
    return 0.0;
}

static void gm_print_layers(const gm_graph *g) {
    printf("%-4s %-28s %-24s %-18s %12s %14s\n", "#", "layer", "class", "output", "params", "MACs");
    for (int i = 0; i < g->n_nodes; ++i) {
        const gm_node *n = &g->nodes[i];
        char shape[64];
        gm_shape_string(&n->out, shape, sizeof shape);
        char macs[32] = "";
        if (gm_node_macs(n) > 0) snprintf(macs, sizeof macs, "%.0f", gm_node_macs(n));
        printf("%-4d %-28s %-24s %-18s %12lld %14s\n", i, n->name, n->synthetic ? "(split from the Dense)" : n->class_name,
               shape, gm_node_param_count(n), macs);
    }
}

/* Opens the device and prints its description line. */
static gm_status gm_print_device(const char *device, gm_precision precision) {
    gm_backend_config cfg = {.precision = precision};
    gm_backend *be = NULL;
    GM_TRY(gm_backend_open(device, &cfg, &be));
    char line[1024] = "";
    gm_status st = be->ops->describe ? be->ops->describe(be, line, sizeof line) : GM_OK;
    if (st == GM_OK) printf("device: %s\n", line[0] ? line : be->ops->name);
    gm_backend_close(&be);
    return st;
}

int gm_cmd_info(int argc, char **argv) {
    const char *device = NULL;
    gm_precision precision = GM_PRECISION_FP32;
    gm_model_options opts;
    gm_model_options_default(&opts);
    opts.fold_batchnorm = 0; /* list the layers as Keras has them */
    const char *model_path = NULL;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            gm_info_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--arch") && i + 1 < argc) {
            opts.arch = argv[++i];
        } else if (!strcmp(argv[i], "--labels") && i + 1 < argc) {
            opts.labels = argv[++i];
        } else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            device = argv[++i];
        } else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            gm_status pst = gm_precision_parse(argv[++i], &precision);
            if (pst != GM_OK) return gm_cli_fail(pst);
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "gradmap info: unknown option or missing value: %s\n\n", argv[i]);
            gm_info_usage(stderr);
            return 2;
        } else if (!model_path) {
            model_path = argv[i];
        } else {
            fprintf(stderr, "gradmap info: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!model_path && !device) {
        gm_info_usage(stderr);
        return 2;
    }
    gm_status st = GM_OK;
    if (device) {
        st = gm_print_device(device, precision);
        if (st != GM_OK || !model_path) return st != GM_OK ? gm_cli_fail(st) : 0;
    }
    gm_graph *g = NULL;
    st = gm_model_load(model_path, &opts, &g);
    if (st != GM_OK) return gm_cli_fail(st);

    printf("model: %s (%s)\n", g->model_name, model_path);
    printf("input: %d x %d x %d, preprocessing: %s\n", g->input_h, g->input_w, g->input_c,
           gm_preprocess_name(g->preprocess));
    gm_print_layers(g);
    int n_classes = g->nodes[g->logits_node].out.c;
    double macs = gm_graph_forward_macs(g);
    int keras_layers = 0;
    for (int i = 0; i < g->n_nodes; ++i) keras_layers += !g->nodes[i].synthetic;
    printf("total: %d layers, %lld parameters, %.3f G multiply-accumulates per image (%.0f)\n", keras_layers,
           gm_graph_param_count(g), macs / 1e9, macs);
    printf("classes: %d%s\n", n_classes,
           g->n_class_names ? (n_classes == 1000 && !opts.labels ? " (ImageNet names)" : " (named)") : " (numbered)");
    printf("logits: %s", g->nodes[g->logits_node].name);
    if (g->output_node != g->logits_node) printf(" (softmax split off into '%s')", g->nodes[g->output_node].name);
    printf("\n");
    int target = gm_graph_default_target(g);
    if (target >= 0) {
        char shape[64];
        gm_shape_string(&g->nodes[target].out, shape, sizeof shape);
        printf("default target layer: %s %s\n", g->nodes[target].name, shape);
    } else {
        printf("default target layer: none (no spatial layer)\n");
    }
    /* What inference will run: fold a copy of the counts. */
    int bn = 0, affine = 0;
    st = gm_graph_fold_batchnorm(g);
    if (st != GM_OK) {
        gm_graph_free(&g);
        return gm_cli_fail(st);
    }
    for (int i = 0; i < g->n_nodes; ++i) {
        if (!strcmp(g->nodes[i].class_name, "BatchNormalization"))
            g->nodes[i].op == GM_OP_CHANNEL_AFFINE ? ++affine : ++bn;
    }
    printf("inference graph: %d BatchNormalization folded into the layer before, %d kept as per-channel affine\n", bn,
           affine);
    gm_graph_free(&g);
    return 0;
}
