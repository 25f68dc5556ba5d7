/* arch_random.c — seeded random weights for a built-in architecture (or any graph whose weights
 * are still NULL), so that `gradmap bench --arch resnet50` needs no file. Values stand in for a
 * trained model's statistics without pretending to be one:
 *   Conv2D / Dense kernels  He-normal, N(0, 2 / fan_in), fan_in = kh*kw*cin or in (Keras layouts);
 *   biases                  N(0, 0.01^2);
 *   BatchNormalization      gamma = 1 + N(0, 0.05^2), beta = N(0, 0.05^2), moving mean = N(0, 0.05^2),
 *                           moving variance = 1 + 0.1 * U[0,1).
 * The caller folds BatchNormalization afterwards exactly as the HDF5 loader does.
 *
 * Determinism: every value is a pure function of (seed, layer name, role, element index), drawn
 * from a counter-based generator (splitmix64 + Box-Muller), so results do not depend on thread
 * count, on layer order, or on which other layers exist. */
#include <math.h>
#include <stdlib.h>

#include "arch_builtin.h"
#include "host/rng.h"

/* Uniform in (0, 1): 53 random bits, offset by half a step so that log() never sees 0. */
static double gm_rand_unit(uint64_t key, uint64_t counter) {
    return ((double)(gm_splitmix64(key ^ gm_splitmix64(counter)) >> 11) + 0.5) / 9007199254740992.0;
}

static uint64_t gm_rand_key(uint64_t seed, const char *name, int role) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; ++p) h = (h ^ *p) * 0x100000001b3ull;
    return gm_splitmix64(seed ^ gm_splitmix64(h + (uint64_t)role));
}

/* out[i] = mean + sigma * z_i with z_i standard normal, element i from counters 2i and 2i+1. */
static void gm_rand_normal(uint64_t key, float *out, size_t n, double mean, double sigma) {
    long long count = (long long)n;
#pragma omp parallel for schedule(static)
    for (long long i = 0; i < count; ++i) {
        double u1 = gm_rand_unit(key, 2 * (uint64_t)i), u2 = gm_rand_unit(key, 2 * (uint64_t)i + 1);
        out[i] = (float)(mean + sigma * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    }
}

static void gm_rand_uniform(uint64_t key, float *out, size_t n, double lo, double width) {
    for (size_t i = 0; i < n; ++i) out[i] = (float)(lo + width * gm_rand_unit(key, i));
}

/* Allocates *dst (n floats) unless the node already has it. */
static gm_status gm_rand_alloc(float **dst, size_t n, const char *layer) {
    if (*dst) return GM_OK;
    *dst = malloc((n ? n : 1) * sizeof **dst);
    if (!*dst) return gm_error(GM_ERR_NOMEM, "out of memory for the random weights of '%s'", layer);
    return GM_OK;
}

enum { GM_ROLE_KERNEL = 1, GM_ROLE_BIAS, GM_ROLE_GAMMA, GM_ROLE_BETA, GM_ROLE_MEAN, GM_ROLE_VAR };

static gm_status gm_rand_layer(gm_node *n, uint64_t seed) {
    if (n->weights_loaded) return GM_OK;
    if (n->op == GM_OP_CONV2D || n->op == GM_OP_DENSE) {
        int out = n->op == GM_OP_CONV2D ? n->conv.cout : n->dense.out;
        size_t fan_in = n->op == GM_OP_CONV2D ? (size_t)n->conv.kh * n->conv.kw * n->conv.cin : (size_t)n->dense.in;
        size_t count = fan_in * (size_t)out;
        GM_TRY(gm_rand_alloc(&n->kernel, count, n->name));
        gm_rand_normal(gm_rand_key(seed, n->name, GM_ROLE_KERNEL), n->kernel, count, 0.0, sqrt(2.0 / (double)fan_in));
        if (n->use_bias) {
            GM_TRY(gm_rand_alloc(&n->bias, (size_t)out, n->name));
            gm_rand_normal(gm_rand_key(seed, n->name, GM_ROLE_BIAS), n->bias, (size_t)out, 0.0, 0.01);
        }
    } else if (n->op == GM_OP_BATCHNORM) {
        size_t c = (size_t)n->out.c;
        if (n->bn_scale) {
            GM_TRY(gm_rand_alloc(&n->bn_gamma, c, n->name));
            gm_rand_normal(gm_rand_key(seed, n->name, GM_ROLE_GAMMA), n->bn_gamma, c, 1.0, 0.05);
        }
        if (n->bn_center) {
            GM_TRY(gm_rand_alloc(&n->bn_beta, c, n->name));
            gm_rand_normal(gm_rand_key(seed, n->name, GM_ROLE_BETA), n->bn_beta, c, 0.0, 0.05);
        }
        GM_TRY(gm_rand_alloc(&n->bn_mean, c, n->name));
        GM_TRY(gm_rand_alloc(&n->bn_var, c, n->name));
        gm_rand_normal(gm_rand_key(seed, n->name, GM_ROLE_MEAN), n->bn_mean, c, 0.0, 0.05);
        gm_rand_uniform(gm_rand_key(seed, n->name, GM_ROLE_VAR), n->bn_var, c, 1.0, 0.1);
    } else {
        return GM_OK;
    }
    n->weights_loaded = 1;
    return GM_OK;
}

gm_status gm_arch_fill_random(gm_graph *g, uint64_t seed) {
    if (!g) return gm_error(GM_ERR_INVALID_ARG, "random weights: NULL graph");
    for (int i = 0; i < g->n_nodes; ++i) GM_TRY(gm_rand_layer(&g->nodes[i], seed));
    return GM_OK;
}

gm_status gm_arch_build_random(const char *arch, uint64_t seed, gm_graph **out) {
    GM_TRY(gm_arch_build(arch, 1, out));
    gm_status st = gm_arch_fill_random(*out, seed);
    if (st == GM_OK) st = gm_graph_fold_batchnorm(*out);
    if (st != GM_OK) gm_graph_free(out);
    return st;
}
