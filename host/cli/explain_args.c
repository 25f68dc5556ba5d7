/* explain_args.c — option parsing and help text of `gradmap explain`. Every default is stated in
 * the help (and the README mirrors it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "explain_args.h"
#include "weights/arch_builtin.h"

void gm_explain_usage(FILE *f) {
    fprintf(f,
            "usage: gradmap explain MODEL INPUT... --out DIR [options]\n"
            "\n"
            "Explains where the model looks, for every image, with one forward and one backward pass per\n"
            "batch shared by all gradient methods. Differentiates the pre-softmax logit of the target class.\n"
            "\n"
            "  MODEL              Keras .h5 (full model, or weights-only with --arch %s)\n"
            "  INPUT              image files, folders (recursive) or .txt/.lst lists of paths\n"
            "  --out DIR          output folder (created); refuses a folder that already holds results\n"
            "                     unless --resume\n"
            "  --method LIST      comma-separated, default gradcam:\n"
            "      saliency       |d logit / d input|, max over colour channels (the saliency seed recipe)\n"
            "      inputxgrad     input x gradient, summed over channels (signed)\n"
            "      gradcam        ReLU(sum_k mean_ij(dy/dA_k) A_k) at the target layer (the CAM seed, keras-io)\n"
            "      cam            sum_k W[k,c] A_k (Zhou et al.; needs target -> GlobalAveragePooling -> Dense)\n"
            "      gradcam++      pytorch-grad-cam's Grad-CAM++ (eps 1e-6)\n"
            "      xgradcam       XGrad-CAM (eps 1e-7)\n"
            "      hirescam       ReLU(sum_k dy/dA_k * A_k)\n"
            "      layercam       ReLU(sum_k ReLU(dy/dA_k) * A_k)\n"
            "      guidedbp       guided backpropagation, max over channels of |gradient|\n"
            "      guidedgradcam  guided backprop x upsampled Grad-CAM (also writes gradcam)\n"
            "      smoothgrad     mean gradient over noisy copies, max over channels of |.|\n"
            "      intgrad        Integrated Gradients, summed over channels (signed)\n"
            "  --class C          top1 (default), a class index, or a class name\n"
            "  --top-k K          explain the K most probable classes of each image (a map per class)\n"
            "  --layer NAME       target layer of the CAM family (default: the last spatial layer that is\n"
            "                     not pooling; `gradmap info` shows it)\n"
            "  --score S          logit (default) or softmax (the saliency seed differentiates softmax)\n"
            "  --samples N        SmoothGrad noisy copies per image (default 25)\n"
            "  --noise F          SmoothGrad sigma as a fraction of the input's range (default 0.15)\n"
            "  --seed N           SmoothGrad noise seed (default 0; results never depend on the batch size)\n"
            "  --steps N          Integrated Gradients steps (default 32)\n"
            "  --baseline B       Integrated Gradients baseline: black (default), zero, blur\n"
            "  --ig-rule R        riemann (right Riemann sum, default) or trapezoid\n"
            "  --png LIST         heatmap,overlay (default), heatmap, overlay or none\n"
            "  --colormap NAME    jet (default, OpenCV's, as the CAM seed), hot, inferno, viridis, gray\n"
            "  --alpha A          overlay heatmap weight, clamped to [0,1] (default 0.4, as the CAM seed)\n"
            "  --compat MODE      picture post-processing: gradmap (default: min-max for gradients, ReLU\n"
            "                     then /max for CAMs, at native resolution, then bilinear resize), pgc\n"
            "                     (pytorch-grad-cam: ReLU, (x-min)/(max+1e-7) then cv2 resize) or tkv\n"
            "                     (tf-keras-vis: resize first, then min-max)\n"
            "  --batch N          images per batch (default 16; SmoothGrad/IG copies are chunked to it)\n"
            "  --resume           continue a killed run in DIR without redoing written images\n"
            "  --strict           stop at the first unreadable image (default: record it and go on)\n"
            "  --device DEV       auto (default: the GPU when one is usable, else the CPU), cpu or cuda\n"
            "  --precision P      fp32 (default), tf32, fp16 or bf16: the arithmetic of convolutions and\n"
            "                     matrix products (tf32 and fp16 need --device cuda; bf16 runs on the\n"
            "                     GPU or on CPUs with AVX-512 BF16/AMX); maps are fp32.\n"
            "                     On the CPU, input-gradient methods keep the forward in fp32 (bf16 would\n"
            "                     flip ReLU decisions); their backward-data runs in bf16\n"
            "  --conv-algo A      CPU fp32 convolutions: auto (default: direct forward, Winograd backward-\n"
            "                     data on 3x3 stride-1 layers with channels in multiples of 16: errors\n"
            "                     ~1e-6 relative), direct (both passes), winograd (both passes: faster,\n"
            "                     but forward errors can flip ReLU decisions near 0 and move saliency\n"
            "                     maps) or winograd-bwd\n"
            "  --labels FILE, --preprocess MODE, --resize MODE, --threads N, --arch A:\n"
            "                     as in gradmap predict\n"
            "  --quiet            no progress line, no per-item messages\n"
            "\n"
            "Writes DIR/results.h5 (raw maps at native resolution, predictions, targets, errors, provenance),\n"
            "DIR/summary.csv and DIR/png/<n>_<image>_<method>.png (+ _overlay.png), appended per batch.\n"
            "Exit status: 0 all images explained, 1 some images failed, >1 the run could not start.\n",
            gm_arch_names());
}

static gm_status gm_parse_double(const char *flag, const char *text, double lo, double hi, double *out) {
    char *end = NULL;
    double v = text ? strtod(text, &end) : 0.0;
    if (!text || end == text || *end || !(v >= lo && v <= hi))
        return gm_error(GM_ERR_INVALID_ARG, "%s: '%s' is not a number in %g..%g", flag, text ? text : "", lo, hi);
    *out = v;
    return GM_OK;
}

static gm_status gm_parse_png(const char *text, gm_explain_args *a) {
    a->png_heatmap = a->png_overlay = 0;
    if (!strcmp(text, "none")) return GM_OK;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "heatmap")) a->png_heatmap = 1;
        else if (!strcmp(tok, "overlay")) a->png_overlay = 1;
        else return gm_error(GM_ERR_INVALID_ARG, "--png: '%s' (heatmap, overlay or none)", tok);
    }
    return GM_OK;
}

static gm_status gm_parse_choice(const char *flag, const char *text, const char *const *names, int count, int *out) {
    for (int i = 0; i < count; ++i)
        if (!strcmp(text, names[i])) {
            *out = i;
            return GM_OK;
        }
    return gm_error(GM_ERR_INVALID_ARG, "%s: '%s' is not one of the accepted values (see gradmap explain --help)", flag,
                    text);
}

gm_status gm_explain_args_parse(int argc, char **argv, gm_explain_args *a, int *help) {
    memset(a, 0, sizeof *a);
    gm_model_options_default(&a->model);
    gm_explain_config_default(&a->cfg);
    a->batch = 16;
    a->device = "auto";
    a->png_heatmap = a->png_overlay = 1;
    a->alpha = 0.4;
    a->inputs = calloc((size_t)argc, sizeof *a->inputs);
    if (!a->inputs) return gm_error(GM_ERR_NOMEM, "out of memory");
    size_t used = (size_t)snprintf(a->command_line, sizeof a->command_line, "gradmap");
    for (int i = 0; i < argc && used < sizeof a->command_line; ++i)
        used += (size_t)snprintf(a->command_line + used, sizeof a->command_line - used, " %s", argv[i]);
    static const char *const scores[] = {"logit", "softmax"};
    static const char *const baselines[] = {"black", "zero", "blur"};
    static const char *const rules[] = {"riemann", "trapezoid"};
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1, choice = 0;
        double d = 0.0;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            *help = 1;
            return GM_OK;
        } else if (!strcmp(arg, "--strict")) a->strict = 1, takes = 0;
        else if (!strcmp(arg, "--quiet")) a->quiet = 1, takes = 0;
        else if (!strcmp(arg, "--resume")) a->resume = 1, takes = 0;
        else if (arg[0] == '-' && arg[1] && !val)
            return gm_error(GM_ERR_INVALID_ARG, "unknown option or missing value: %s (see gradmap explain --help)", arg);
        else if (!strcmp(arg, "--out")) a->out_dir = val;
        else if (!strcmp(arg, "--method")) GM_TRY(gm_method_parse_list(val, &a->cfg.methods));
        else if (!strcmp(arg, "--class")) a->class_spec = val;
        else if (!strcmp(arg, "--top-k")) {
            GM_TRY(gm_cli_parse_int(arg, val, 1, 1000, &a->cfg.n_targets));
            a->top_k_given = 1;
        } else if (!strcmp(arg, "--layer")) a->layer = val;
        else if (!strcmp(arg, "--score")) {
            GM_TRY(gm_parse_choice(arg, val, scores, 2, &choice));
            a->cfg.score_softmax = choice;
        } else if (!strcmp(arg, "--samples")) GM_TRY(gm_cli_parse_int(arg, val, 1, 100000, &a->cfg.sg_samples));
        else if (!strcmp(arg, "--noise")) {
            GM_TRY(gm_parse_double(arg, val, 0.0, 10.0, &d));
            a->cfg.sg_noise = (float)d;
        } else if (!strcmp(arg, "--seed")) {
            GM_TRY(gm_parse_double(arg, val, 0.0, 1.8e19, &d));
            a->cfg.seed = (uint64_t)d;
        } else if (!strcmp(arg, "--steps")) GM_TRY(gm_cli_parse_int(arg, val, 1, 100000, &a->cfg.ig_steps));
        else if (!strcmp(arg, "--baseline")) {
            GM_TRY(gm_parse_choice(arg, val, baselines, 3, &choice));
            a->cfg.ig_baseline = (gm_ig_baseline)choice;
        } else if (!strcmp(arg, "--ig-rule")) {
            GM_TRY(gm_parse_choice(arg, val, rules, 2, &choice));
            a->cfg.ig_rule = (gm_ig_rule)choice;
        } else if (!strcmp(arg, "--png")) GM_TRY(gm_parse_png(val, a));
        else if (!strcmp(arg, "--colormap")) GM_TRY(gm_post_colormap_parse(val, &a->colormap));
        else if (!strcmp(arg, "--alpha")) GM_TRY(gm_parse_double(arg, val, -1e9, 1e9, &a->alpha));
        else if (!strcmp(arg, "--compat")) GM_TRY(gm_post_compat_parse(val, &a->compat));
        else if (!strcmp(arg, "--batch")) GM_TRY(gm_cli_parse_int(arg, val, 1, 65536, &a->batch));
        else if (!strcmp(arg, "--threads")) GM_TRY(gm_cli_parse_int(arg, val, 1, 4096, &a->threads));
        else if (!strcmp(arg, "--arch")) a->model.arch = val;
        else if (!strcmp(arg, "--labels")) a->model.labels = val;
        else if (!strcmp(arg, "--device")) a->device = val;
        else if (!strcmp(arg, "--precision")) GM_TRY(gm_precision_parse(val, &a->precision));
        else if (!strcmp(arg, "--conv-algo")) GM_TRY(gm_conv_algo_parse(val, &a->conv_algo));
        else if (!strcmp(arg, "--preprocess")) {
            GM_TRY(gm_preprocess_parse(val, &a->preprocess));
            a->preprocess_set = 1;
        } else if (!strcmp(arg, "--resize")) GM_TRY(gm_resize_parse(val, &a->resize));
        else if (arg[0] == '-' && arg[1])
            return gm_error(GM_ERR_INVALID_ARG, "unknown option: %s (see gradmap explain --help)", arg);
        else {
            takes = 0;
            if (!a->model_path) a->model_path = arg;
            else a->inputs[a->n_inputs++] = argv[i];
        }
        i += takes;
    }
    if (!a->model_path || a->n_inputs == 0)
        return gm_error(GM_ERR_INVALID_ARG, "explain needs MODEL and at least one INPUT (see gradmap explain --help)");
    if (!a->out_dir) return gm_error(GM_ERR_INVALID_ARG, "explain needs --out DIR (see gradmap explain --help)");
    if (a->class_spec && a->top_k_given)
        return gm_error(GM_ERR_INVALID_ARG, "--class and --top-k cannot be combined");
    return GM_OK;
}

/* --layer NAME (explain_args.h). */
gm_status gm_explain_resolve_layer(const gm_graph *g, gm_explain_args *a) {
    if (!a->layer) return GM_OK;
    int idx = gm_graph_find(g, a->layer);
    if (idx >= 0 && g->nodes[idx].out.rank == 4 && g->nodes[idx].fused_into < 0) {
        a->cfg.target_layer = idx;
        return GM_OK;
    }
    char list[2048] = "";
    size_t used = 0;
    for (int i = 0; i < g->n_nodes && used < sizeof list; ++i) {
        const gm_node *n = &g->nodes[i];
        if (n->out.rank == 4 && n->out.h * n->out.w > 1 && n->fused_into < 0 && n->op != GM_OP_INPUT)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", n->name);
    }
    if (idx >= 0 && g->nodes[idx].fused_into >= 0)
        return gm_error(GM_ERR_NOT_FOUND, "--layer %s is folded into '%s' at inference; candidates: %s", a->layer,
                        g->nodes[g->nodes[idx].fused_into].name, list);
    return gm_error(GM_ERR_NOT_FOUND, "--layer %s: no such spatial layer in %s; candidates: %s", a->layer,
                    a->model_path, list);
}
