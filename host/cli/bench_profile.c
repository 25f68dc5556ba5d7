/* bench_profile.c — the per-layer profile of `gradmap bench --profile`: the engine's per-node
 * forward and backward seconds (engine.h: gm_engine_set_profile, which synchronises the backend
 * after every node, so GPU figures are right too) over a few profiled iterations, reduced to
 * medians per node, each node's op class (conv3x3, conv1x1s2, conv7x7s2, dense, maxpool, add,
 * activation, ...; a convolution's class names its kernel and, above 1, its stride), MACs and
 * GFLOP/s, then totals per op class. A node's share is its forward + backward time over that of
 * every node: the rest of the stages (reading the logits, choosing targets, the seed, the method
 * kernels) is shown beside it as stage totals. Alias nodes (identity, flatten) cost nothing and
 * are left out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void gm_op_class(const gm_node *n, char *buf, size_t size) {
    if (n->op != GM_OP_CONV2D) {
        snprintf(buf, size, "%s", gm_op_name(n->op));
        return;
    }
    const gm_conv2d_desc *d = &n->conv;
    if (d->stride_h == 1 && d->stride_w == 1) snprintf(buf, size, "conv%dx%d", d->kh, d->kw);
    else if (d->stride_h == d->stride_w) snprintf(buf, size, "conv%dx%ds%d", d->kh, d->kw, d->stride_h);
    else snprintf(buf, size, "conv%dx%ds%dx%d", d->kh, d->kw, d->stride_h, d->stride_w);
}

/* 2 * macs * rows floating-point operations in `seconds`, in GFLOP/s; NAN when not measurable. */
static double gm_gflops(double macs, double rows, double seconds) {
    return macs > 0.0 && rows > 0.0 && seconds > 0.0 ? 2.0 * macs * rows / seconds / 1e9 : NAN;
}

gm_status gm_bench_profile_init(gm_bench_profile *p, const gm_graph *g, int iters) {
    memset(p, 0, sizeof *p);
    p->iters = iters;
    p->graph_nodes = g->n_nodes;
    size_t n = (size_t)(g->n_nodes > 0 ? g->n_nodes : 1);
    p->samples = calloc((size_t)iters * (2 * n + GM_STAGE_COUNT), sizeof *p->samples);
    p->rows = calloc(2 * n, sizeof *p->rows);
    p->nodes = calloc(n, sizeof *p->nodes);
    p->classes = calloc(n, sizeof *p->classes);
    if (!p->samples || !p->rows || !p->nodes || !p->classes) {
        gm_bench_profile_free(p);
        return gm_error(GM_ERR_NOMEM, "out of memory for the per-layer profile");
    }
    return GM_OK;
}

/* Layout of samples: per iteration, 2 values (forward, backward) per graph node, then the stages. */
static double *gm_sample(const gm_bench_profile *p, int iter) {
    return p->samples + (size_t)iter * (2 * (size_t)p->graph_nodes + GM_STAGE_COUNT);
}

void gm_bench_profile_add(gm_bench_profile *p, const gm_engine_node_time *times, const double *stage) {
    if (p->added >= p->iters) return;
    double *s = gm_sample(p, p->added++);
    for (int i = 0; i < p->graph_nodes; ++i) {
        s[2 * i] = times[i].forward_s;
        s[2 * i + 1] = times[i].backward_s;
        /* Rows per iteration are the same every iteration (same batch, same methods). */
        p->rows[2 * i] = times[i].forward_images;
        p->rows[2 * i + 1] = times[i].backward_images;
    }
    memcpy(s + 2 * (size_t)p->graph_nodes, stage, GM_STAGE_COUNT * sizeof *stage);
}

static double gm_profile_median(const gm_bench_profile *p, size_t offset, double *tmp) {
    for (int it = 0; it < p->added; ++it) tmp[it] = gm_sample(p, it)[offset];
    return gm_cli_median(tmp, p->added);
}

static gm_bench_class_profile *gm_class_of(gm_bench_profile *p, const char *op_class) {
    for (int k = 0; k < p->n_classes; ++k)
        if (!strcmp(p->classes[k].op_class, op_class)) return &p->classes[k];
    gm_bench_class_profile *c = &p->classes[p->n_classes++];
    snprintf(c->op_class, sizeof c->op_class, "%s", op_class);
    return c;
}

static int gm_by_time_desc(const void *a, const void *b) {
    const gm_bench_class_profile *x = a, *y = b;
    double tx = x->forward_s + x->backward_s, ty = y->forward_s + y->backward_s;
    return tx > ty ? -1 : tx < ty ? 1 : strcmp(x->op_class, y->op_class);
}

gm_status gm_bench_profile_finish(gm_bench_profile *p, const gm_graph *g, const gm_engine *e) {
    if (p->added < 1) return gm_error(GM_ERR_INVALID_ARG, "no profiled iteration was recorded");
    double *tmp = malloc((size_t)p->added * sizeof *tmp);
    /* Per class: floating-point work of the profiled iteration, forward and backward. */
    double *flops = calloc(2 * (size_t)(g->n_nodes > 0 ? g->n_nodes : 1), sizeof *flops);
    if (!tmp || !flops) {
        free(tmp);
        free(flops);
        return gm_error(GM_ERR_NOMEM, "out of memory for the per-layer profile");
    }
    p->n_nodes = p->n_classes = 0;
    p->total_s = 0.0;
    for (int i = 0; i < g->n_nodes; ++i) {
        const gm_node *n = &g->nodes[i];
        long fwd_rows = p->rows[2 * i], bwd_rows = p->rows[2 * i + 1];
        if (n->op == GM_OP_IDENTITY || n->op == GM_OP_FLATTEN || (fwd_rows == 0 && bwd_rows == 0)) continue;
        gm_bench_node_profile *np = &p->nodes[p->n_nodes++];
        np->node = i;
        snprintf(np->name, sizeof np->name, "%s", n->name);
        gm_op_class(n, np->op_class, sizeof np->op_class);
        np->rank = n->out.rank, np->h = n->out.h, np->w = n->out.w, np->c = n->out.c;
        np->forward_s = gm_profile_median(p, 2 * (size_t)i, tmp);
        np->backward_s = gm_profile_median(p, 2 * (size_t)i + 1, tmp);
        np->forward_macs = gm_node_forward_macs(n);
        np->backward_macs = bwd_rows > 0 ? gm_engine_node_backward_macs(e, i) : 0.0;
        np->forward_gflops = gm_gflops(np->forward_macs, (double)fwd_rows, np->forward_s);
        np->backward_gflops = gm_gflops(np->backward_macs, (double)bwd_rows, np->backward_s);
        p->total_s += np->forward_s + np->backward_s;
        gm_bench_class_profile *c = gm_class_of(p, np->op_class);
        size_t k = (size_t)(c - p->classes);
        c->nodes++;
        c->forward_s += np->forward_s;
        c->backward_s += np->backward_s;
        flops[2 * k] += 2.0 * np->forward_macs * (double)fwd_rows;
        flops[2 * k + 1] += 2.0 * np->backward_macs * (double)bwd_rows;
    }
    for (int k = 0; k < p->n_classes; ++k) {
        gm_bench_class_profile *c = &p->classes[k];
        double f = flops[2 * k], b = flops[2 * k + 1];
        c->forward_gflops = f > 0.0 && c->forward_s > 0.0 ? f / c->forward_s / 1e9 : NAN;
        c->backward_gflops = b > 0.0 && c->backward_s > 0.0 ? b / c->backward_s / 1e9 : NAN;
        c->gflops = f + b > 0.0 && c->forward_s + c->backward_s > 0.0 ? (f + b) / (c->forward_s + c->backward_s) / 1e9
                                                                      : NAN;
    }
    if (p->n_classes > 1) qsort(p->classes, (size_t)p->n_classes, sizeof *p->classes, gm_by_time_desc);
    for (int s = 0; s < GM_STAGE_COUNT; ++s)
        p->stage_s[s] = gm_profile_median(p, 2 * (size_t)p->graph_nodes + (size_t)s, tmp);
    free(tmp);
    free(flops);
    return GM_OK;
}

void gm_bench_profile_free(gm_bench_profile *p) {
    free(p->samples);
    free(p->rows);
    free(p->nodes);
    free(p->classes);
    memset(p, 0, sizeof *p);
}

/* "%8.1f" or a dash where the figure does not exist. */
static void gm_print_rate(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, " %8.1f", v);
    else fprintf(f, " %8s", "-");
}

void gm_bench_profile_print(FILE *f, const gm_bench_profile *p, int batch) {
    double total = p->total_s > 0.0 ? p->total_s : 1.0;
    fprintf(f,
            "gradmap bench: per-layer profile, batch %d, median of %d profiled iterations (backend synchronised "
            "after every layer); MMAC per image and pass, GF/s = GFLOP/s\n",
            batch, p->added);
    fprintf(f, "%5s  %-28s %-15s %-14s %9s %9s %9s %8s %8s %6s\n", "node", "layer", "class", "output", "fwd ms",
            "bwd ms", "MMAC", "fwd GF/s", "bwd GF/s", "share");
    for (int k = 0; k < p->n_nodes; ++k) {
        const gm_bench_node_profile *n = &p->nodes[k];
        char shape[40];
        if (n->rank == 4) snprintf(shape, sizeof shape, "%dx%dx%d", n->h, n->w, n->c);
        else snprintf(shape, sizeof shape, "%d", n->c);
        fprintf(f, "%5d  %-28.28s %-15s %-14s %9.3f %9.3f %9.1f", n->node, n->name, n->op_class, shape,
                n->forward_s * 1e3, n->backward_s * 1e3, n->forward_macs / 1e6);
        gm_print_rate(f, n->forward_gflops);
        gm_print_rate(f, n->backward_gflops);
        fprintf(f, " %5.1f%%\n", 100.0 * (n->forward_s + n->backward_s) / total);
    }
    fprintf(f, "gradmap bench: by op class\n%-15s %5s %9s %9s %6s %8s %8s %8s\n", "class", "nodes", "fwd ms", "bwd ms",
            "share", "fwd GF/s", "bwd GF/s", "GF/s");
    for (int k = 0; k < p->n_classes; ++k) {
        const gm_bench_class_profile *c = &p->classes[k];
        fprintf(f, "%-15s %5d %9.3f %9.3f %5.1f%%", c->op_class, c->nodes, c->forward_s * 1e3, c->backward_s * 1e3,
                100.0 * (c->forward_s + c->backward_s) / total);
        gm_print_rate(f, c->forward_gflops);
        gm_print_rate(f, c->backward_gflops);
        gm_print_rate(f, c->gflops);
        fputc('\n', f);
    }
    double fwd = 0.0, bwd = 0.0;
    for (int k = 0; k < p->n_nodes; ++k) fwd += p->nodes[k].forward_s, bwd += p->nodes[k].backward_s;
    fprintf(f,
            "gradmap bench: layers %.3f ms forward + %.3f ms backward; stages of the profiled iterations: forward "
            "%.3f ms, backward %.3f ms, maps %.3f ms\n",
            fwd * 1e3, bwd * 1e3, p->stage_s[GM_STAGE_FORWARD] * 1e3, p->stage_s[GM_STAGE_BACKWARD] * 1e3,
            p->stage_s[GM_STAGE_MAPS] * 1e3);
}
