/* test_arch_random.c — seeded random weights for the built-in architectures (weights/arch_random.c),
 * what `gradmap bench --arch` runs without a file:
 *  - every Conv2D, Dense and BatchNormalization layer of ResNet50 receives weights;
 *  - a conv kernel has He-normal statistics (mean 0, std sqrt(2 / fan_in), within sampling error) and
 *    BatchNormalization stays near the identity (variance in [1, 1.1));
 *  - the same seed gives the same weights bit for bit, whatever the OpenMP thread count; another
 *    seed gives others;
 *  - gm_arch_build_random folds BatchNormalization, and a forward pass of the folded ResNet50 gives
 *    finite logits that differ between images (the network is not degenerate). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain/engine.h"
#include "test_support.h"
#include "weights/arch_builtin.h"

static size_t gm_kernel_count(const gm_node *n) {
    if (n->op == GM_OP_CONV2D) return (size_t)n->conv.kh * n->conv.kw * n->conv.cin * n->conv.cout;
    return n->op == GM_OP_DENSE ? (size_t)n->dense.in * n->dense.out : 0;
}

/* 1 when every weight array of a and b (same architecture) is identical. */
static int gm_same_weights(const gm_graph *a, const gm_graph *b) {
    for (int i = 0; i < a->n_nodes; ++i) {
        const gm_node *x = &a->nodes[i], *y = &b->nodes[i];
        size_t k = gm_kernel_count(x), c = (size_t)x->out.c;
        if (k && memcmp(x->kernel, y->kernel, k * sizeof(float))) return 0;
        if (x->bias && memcmp(x->bias, y->bias, (x->op == GM_OP_CONV2D ? x->conv.cout : x->dense.out) * sizeof(float)))
            return 0;
        if (x->op == GM_OP_BATCHNORM && (memcmp(x->bn_gamma, y->bn_gamma, c * sizeof(float)) ||
                                         memcmp(x->bn_var, y->bn_var, c * sizeof(float))))
            return 0;
    }
    return 1;
}

static gm_graph *gm_random_resnet(uint64_t seed, int threads) {
    gm_graph *g = NULL;
    omp_set_num_threads(threads);
    if (gm_arch_build("resnet50", 1, &g) != GM_OK || gm_arch_fill_random(g, seed) != GM_OK) {
        fprintf(stderr, "random resnet50: %s\n", gm_last_error());
        gm_graph_free(&g);
    }
    omp_set_num_threads(2);
    return g;
}

static void gm_test_statistics(gm_test_counts *c, const gm_graph *g) {
    int missing = 0;
    for (int i = 0; i < g->n_nodes; ++i) {
        const gm_node *n = &g->nodes[i];
        if (n->op == GM_OP_CONV2D || n->op == GM_OP_DENSE || n->op == GM_OP_BATCHNORM)
            missing += !n->weights_loaded || (n->op == GM_OP_BATCHNORM ? !n->bn_var : !n->kernel);
    }
    gm_test_check(c, missing == 0, "every conv, dense and batch-norm layer has weights (%d without)", missing);
    int idx = gm_graph_find(g, "conv3_block1_2_conv"); /* 3x3x128 -> 128: 147456 values */
    const gm_node *n = idx >= 0 ? &g->nodes[idx] : NULL;
    double mean = 0.0, sq = 0.0, count = n ? (double)gm_kernel_count(n) : 1.0;
    for (size_t i = 0; n && i < gm_kernel_count(n); ++i) mean += n->kernel[i], sq += (double)n->kernel[i] * n->kernel[i];
    mean /= count;
    double sd = sqrt(sq / count - mean * mean), he = sqrt(2.0 / (3.0 * 3.0 * 128.0));
    gm_test_check(c, n && fabs(mean) < 4.0 * he / sqrt(count) && fabs(sd / he - 1.0) < 0.01,
                  "conv3_block1_2_conv kernel: mean %.2g, std %.5f (He-normal %.5f)", mean, sd, he);
    idx = gm_graph_find(g, "conv3_block1_2_bn");
    const gm_node *bn = idx >= 0 ? &g->nodes[idx] : NULL;
    int near_identity = bn != NULL;
    for (int k = 0; bn && k < bn->out.c; ++k)
        near_identity &= bn->bn_var[k] >= 1.0f && bn->bn_var[k] < 1.1f && fabsf(bn->bn_gamma[k] - 1.0f) < 0.3f &&
                         fabsf(bn->bn_mean[k]) < 0.3f && fabsf(bn->bn_beta[k]) < 0.3f;
    gm_test_check(c, near_identity, "conv3_block1_2_bn: variance in [1, 1.1), gamma near 1, mean and beta near 0");
}

static void gm_test_forward(gm_test_counts *c) {
    gm_graph *g = NULL;
    gm_backend *be = NULL;
    gm_engine *e = NULL;
    gm_backend_config cfg = {0};
    size_t in = (size_t)224 * 224 * 3;
    float *input = malloc(2 * in * sizeof *input), logits[2 * 1000];
    gm_test_rng rng;
    gm_test_rng_seed(&rng, 11);
    if (input) gm_test_fill(&rng, input, 2 * in, -120.0f, 140.0f);
    int ok = input && gm_arch_build_random("resnet50", 4, &g) == GM_OK;
    int affine = 0;
    for (int i = 0; ok && i < g->n_nodes; ++i) affine += g->nodes[i].op == GM_OP_BATCHNORM;
    gm_test_check(c, ok && affine == 0, "gm_arch_build_random folds every BatchNormalization (%d left)", affine);
    ok = ok && gm_backend_open("cpu", &cfg, &be) == GM_OK && gm_engine_create(g, be, 2, NULL, 0, &e) == GM_OK &&
         gm_engine_forward(e, input, 2) == GM_OK && gm_engine_read(e, g->logits_node, logits) == GM_OK;
    if (!ok) fprintf(stderr, "forward: %s\n", gm_last_error());
    int finite = ok, differ = 0;
    for (int i = 0; ok && i < 1000; ++i) {
        finite &= isfinite(logits[i]) && isfinite(logits[1000 + i]);
        differ |= logits[i] != logits[1000 + i];
    }
    gm_test_check(c, finite && differ, "a forward pass of the random ResNet50: finite logits that differ between images");
    gm_engine_free(&e);
    gm_backend_close(&be);
    gm_graph_free(&g);
    free(input);
}

int main(void) {
    gm_test_counts c = {0};
    gm_graph *a = gm_random_resnet(7, 2), *b = gm_random_resnet(7, 1), *other = gm_random_resnet(8, 2);
    gm_test_check(&c, a && b && other, "ResNet50 built and filled with seeds 7 and 8");
    if (a && b && other) {
        gm_test_statistics(&c, a);
        gm_test_check(&c, gm_same_weights(a, b), "seed 7 on 2 threads and on 1 thread: identical weights");
        gm_test_check(&c, !gm_same_weights(a, other), "seed 8 gives other weights");
    }
    gm_graph_free(&a);
    gm_graph_free(&b);
    gm_graph_free(&other);
    gm_test_forward(&c);
    return gm_test_summary(&c);
}
