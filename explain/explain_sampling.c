/* explain_sampling.c — SmoothGrad and Integrated Gradients: their noisy copies / path points run
 * as rows of the engine's batches (chunked to max_batch), each row's gradient of its image's
 * target score accumulated per image in double.
 *
 * Determinism: a SmoothGrad copy's noise depends only on (seed, the image's pixels, the copy
 * number), never on where the image sits in a batch, so batch size never changes a result.
 * IG path points: right Riemann a_s = s/S (s = 1..S, weight 1/S) or trapezoid a_s = s/S
 * (s = 0..S, weights 1/S with 1/(2S) at both ends). Baselines: black (the model input of a black
 * image), zero, or the image blurred with a Gaussian of sigma = max(H,W)/16. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "explain_internal.h"
#include "host/rng.h"

static uint64_t gm_hash_floats(const float *x, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; ++i) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        h = (h ^ bits) * 0x100000001b3ull;
    }
    return h;
}

/* Standard normal numbers from a counter-based stream (Box-Muller on splitmix64 outputs). */
static void gm_gaussian_fill(uint64_t key, float *out, size_t n, float sigma, const float *base) {
    uint64_t counter = 0;
    for (size_t i = 0; i < n; i += 2) {
        double u1 = ((double)(gm_mix64(key + (counter++) * GM_RNG_GOLDEN) >> 11) + 0.5) / 9007199254740992.0;
        double u2 = ((double)(gm_mix64(key + (counter++) * GM_RNG_GOLDEN) >> 11) + 0.5) / 9007199254740992.0;
        double r = sqrt(-2.0 * log(u1)), t = 6.283185307179586 * u2;
        out[i] = base[i] + sigma * (float)(r * cos(t));
        if (i + 1 < n) out[i + 1] = base[i + 1] + sigma * (float)(r * sin(t));
    }
}

/* Runs the queued rows through forward + plain backward and adds row_weight * gradient into the
 * accumulator of each row's image; empties the queue. */
static gm_status gm_flush_rows(gm_explainer *x, int *count) {
    if (*count == 0) return GM_OK;
    size_t in_size = (size_t)x->in_h * x->in_w * x->in_c;
    GM_TRY(gm_explain_mark(x, &x->times.maps_s)); /* making the rows */
    GM_TRY(gm_engine_forward(x->engine, x->rows, *count));
    GM_TRY(gm_explain_mark(x, &x->times.forward_s));
    GM_TRY(gm_engine_backward(x->engine, x->row_cls, 1.0f, GM_RELU_BWD_PLAIN));
    GM_TRY(gm_explain_mark(x, &x->times.backward_s));
    GM_TRY(gm_engine_read_grad(x->engine, 0, x->h_grad));
    for (int r = 0; r < *count; ++r) {
        double *acc = x->acc + (size_t)x->row_image[r] * in_size;
        const float *grad = x->h_grad + (size_t)r * in_size;
        for (size_t e = 0; e < in_size; ++e) acc[e] += x->row_weight[r] * grad[e];
    }
    *count = 0;
    return GM_OK;
}

/* Queues the row just written at x->rows[*count] (image i, weight w); runs a full batch. */
static gm_status gm_push_row(gm_explainer *x, int *count, int i, int k, double w) {
    x->row_image[*count] = i;
    x->row_weight[*count] = w;
    x->row_cls[*count] = x->targets[(size_t)i * x->cfg.n_targets + k];
    return ++*count == x->cfg.max_batch ? gm_flush_rows(x, count) : GM_OK;
}

static gm_status gm_blur(const float *src, float *dst, int H, int W, int C) {
    double sigma = (H > W ? H : W) / 16.0;
    int radius = (int)ceil(3.0 * sigma);
    double *kernel = malloc((size_t)(2 * radius + 1) * sizeof *kernel);
    float *tmp = malloc((size_t)H * W * C * sizeof *tmp);
    if (!kernel || !tmp) {
        free(kernel);
        free(tmp);
        return gm_error(GM_ERR_NOMEM, "out of memory for the blurred IG baseline (%dx%d)", W, H);
    }
    double sum = 0.0;
    for (int k = -radius; k <= radius; ++k) sum += kernel[k + radius] = exp(-0.5 * k * k / (sigma * sigma));
    for (int k = 0; k <= 2 * radius; ++k) kernel[k] /= sum;
    for (int pass = 0; pass < 2; ++pass) {
        const float *in = pass ? tmp : src;
        float *out = pass ? dst : tmp;
        for (int y = 0; y < H; ++y)
            for (int xx = 0; xx < W; ++xx)
                for (int c = 0; c < C; ++c) {
                    double v = 0.0;
                    for (int k = -radius; k <= radius; ++k) {
                        int yy = pass ? y + k : y, xk = pass ? xx : xx + k;
                        yy = yy < 0 ? 0 : yy >= H ? H - 1 : yy;
                        xk = xk < 0 ? 0 : xk >= W ? W - 1 : xk;
                        v += kernel[k + radius] * in[((size_t)yy * W + xk) * C + c];
                    }
                    out[((size_t)y * W + xx) * C + c] = (float)v;
                }
    }
    free(kernel);
    free(tmp);
    return GM_OK;
}

static gm_status gm_smoothgrad(gm_explainer *x, const float *input, int n, int k) {
    size_t in_size = (size_t)x->in_h * x->in_w * x->in_c, hw = (size_t)x->in_h * x->in_w;
    int S = x->cfg.sg_samples, K = x->cfg.n_targets, C = x->in_c, count = 0;
    memset(x->acc, 0, (size_t)n * in_size * sizeof *x->acc);
    for (int i = 0; i < n; ++i) {
        const float *img = input + (size_t)i * in_size;
        float lo = img[0], hi = img[0];
        for (size_t e = 1; e < in_size; ++e) lo = img[e] < lo ? img[e] : lo, hi = img[e] > hi ? img[e] : hi;
        float sigma = x->cfg.sg_noise * (hi - lo);
        uint64_t key = gm_mix64(x->cfg.seed ^ gm_hash_floats(img, in_size));
        for (int s = 0; s < S; ++s) {
            gm_gaussian_fill(gm_mix64(key + (uint64_t)s + 1), x->rows + (size_t)count * in_size, in_size, sigma, img);
            GM_TRY(gm_push_row(x, &count, i, k, 1.0 / S));
        }
    }
    GM_TRY(gm_flush_rows(x, &count));
    for (int i = 0; i < n; ++i) {
        float *map = x->maps[GM_METHOD_SMOOTHGRAD] + ((size_t)i * K + k) * hw;
        const double *acc = x->acc + (size_t)i * in_size;
        for (size_t p = 0; p < hw; ++p) {
            double m = 0.0;
            for (int c = 0; c < C; ++c) m = fabs(acc[p * C + c]) > m ? fabs(acc[p * C + c]) : m;
            map[p] = (float)m;
        }
    }
    return GM_OK;
}

static gm_status gm_intgrad(gm_explainer *x, const float *input, int n, int k) {
    size_t in_size = (size_t)x->in_h * x->in_w * x->in_c, hw = (size_t)x->in_h * x->in_w;
    int S = x->cfg.ig_steps, K = x->cfg.n_targets, C = x->in_c, count = 0;
    int first = x->cfg.ig_rule == GM_IG_TRAPEZOID ? 0 : 1;
    memset(x->acc, 0, (size_t)n * in_size * sizeof *x->acc);
    for (int i = 0; i < n; ++i) {
        const float *img = input + (size_t)i * in_size;
        float *baseline = x->baselines + (size_t)i * in_size;
        if (x->cfg.ig_baseline == GM_IG_BASELINE_BLUR) GM_TRY(gm_blur(img, baseline, x->in_h, x->in_w, C));
        else
            for (size_t e = 0; e < in_size; ++e)
                baseline[e] = (x->cfg.ig_baseline == GM_IG_BASELINE_BLACK && x->cfg.black_pixel)
                                  ? x->cfg.black_pixel[e % (size_t)C]
                                  : 0.0f;
        for (int s = first; s <= S; ++s) {
            float a = (float)s / (float)S;
            float *row = x->rows + (size_t)count * in_size;
            for (size_t e = 0; e < in_size; ++e) row[e] = baseline[e] + a * (img[e] - baseline[e]);
            GM_TRY(gm_push_row(x, &count, i, k, (first == 0 && (s == 0 || s == S)) ? 0.5 / S : 1.0 / S));
        }
    }
    GM_TRY(gm_flush_rows(x, &count));
    for (int i = 0; i < n; ++i) {
        const float *img = input + (size_t)i * in_size, *baseline = x->baselines + (size_t)i * in_size;
        float *map = x->maps[GM_METHOD_INTGRAD] + ((size_t)i * K + k) * hw;
        const double *acc = x->acc + (size_t)i * in_size;
        for (size_t p = 0; p < hw; ++p) {
            double sum = 0.0;
            for (int c = 0; c < C; ++c) sum += ((double)img[p * C + c] - baseline[p * C + c]) * acc[p * C + c];
            map[p] = (float)sum;
        }
    }
    return GM_OK;
}

gm_status gm_explain_sampling(gm_explainer *x, const float *input, int n, int k) {
    if (gm_explain_wants(x, GM_METHOD_SMOOTHGRAD)) GM_TRY(gm_smoothgrad(x, input, n, k));
    if (gm_explain_wants(x, GM_METHOD_INTGRAD)) GM_TRY(gm_intgrad(x, input, n, k));
    return GM_OK;
}
