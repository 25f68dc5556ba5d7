/* cpu_explain.c — the CPU backend's explanation kernels (backend.h, "Explanation kernels"):
 * channel_reduce (saliency |x| max / sum over C), multiply, cam_weights (Grad-CAM, Grad-CAM++,
 * XGrad-CAM channel weights), weighted_channel_sum, cam_multi (Zhou CAM for K classes per image)
 * and elementwise_cam (HiResCAM, LayerCAM). These are forward computations on stored activations
 * and gradients; no gradient flows through them.
 *
 * Layouts: plain NHWC float32 host memory. Maps are N x H x W x K; channel weights N x 1 x 1 x C;
 * the dense kernel of cam_multi is Keras's C x classes (row-major, "IO").
 *
 * The math is kernels/cam_math.h, called per pixel (sums over C) or per (image, channel) (sums
 * over H*W); it accumulates in double, so results do not depend on the thread count. cam_multi is
 * a oneDNN sgemm (float accumulation, see there). Loops use static schedules. */
#include "cpu_internal.h"

#include <stdlib.h>

#include "kernels/cam_math.h"

static gm_status gm_cpu_check_map(const char *op, const gm_tensor *x, const gm_tensor *y, int want_c) {
    if (y->n != x->n || y->h != x->h || y->w != x->w || y->c != want_c)
        return gm_error(GM_ERR_SHAPE, "cpu %s: input (%d,%d,%d,%d) needs output (%d,%d,%d,%d), given (%d,%d,%d,%d)",
                        op, x->n, x->h, x->w, x->c, x->n, x->h, x->w, want_c, y->n, y->h, y->w, y->c);
    return GM_OK;
}

gm_status gm_cpu_channel_reduce(gm_backend *be, gm_channel_reduce kind, const gm_tensor *x, gm_tensor *y) {
    (void)be;
    GM_TRY(gm_cpu_check_tensor("channel_reduce", "x", x));
    GM_TRY(gm_cpu_check_tensor("channel_reduce", "y", y));
    GM_TRY(gm_cpu_check_map("channel_reduce", x, y, 1));
    if (kind != GM_REDUCE_ABS_MAX && kind != GM_REDUCE_SUM)
        return gm_error(GM_ERR_UNSUPPORTED, "cpu channel_reduce: kind %d is not supported", (int)kind);
    const long long pixels = (long long)x->n * x->h * x->w;
    const int c = x->c;
    const float *xd = x->data;
    float *yd = y->data;
    if (kind == GM_REDUCE_ABS_MAX) {
#pragma omp parallel for schedule(static)
        for (long long p = 0; p < pixels; ++p) yd[p] = gm_cam_abs_max(xd + p * c, c, 1);
    } else {
#pragma omp parallel for schedule(static)
        for (long long p = 0; p < pixels; ++p) yd[p] = gm_cam_channel_sum(xd + p * c, c, 1);
    }
    return GM_OK;
}

gm_status gm_cpu_multiply(gm_backend *be, const gm_tensor *a, const gm_tensor *b, gm_tensor *y) {
    (void)be;
    GM_TRY(gm_cpu_check_tensor("multiply", "a", a));
    GM_TRY(gm_cpu_check_tensor("multiply", "b", b));
    GM_TRY(gm_cpu_check_tensor("multiply", "y", y));
    GM_TRY(gm_cpu_check_same_shape("multiply", a, b));
    GM_TRY(gm_cpu_check_same_shape("multiply", a, y));
    const long long count = (long long)gm_tensor_count(a);
    const float *ad = a->data, *bd = b->data;
    float *yd = y->data;
    /* y may alias a or b: each element is read before it is written, by the same iteration. */
#pragma omp parallel for schedule(static)
    for (long long i = 0; i < count; ++i) yd[i] = gm_cam_multiply(ad[i], bd[i]);
    return GM_OK;
}

gm_status gm_cpu_cam_weights(gm_backend *be, gm_cam_weights kind, const gm_tensor *A, const gm_tensor *G,
                             gm_tensor *w) {
    (void)be;
    GM_TRY(gm_cpu_check_tensor("cam_weights", "A", A));
    GM_TRY(gm_cpu_check_tensor("cam_weights", "G", G));
    GM_TRY(gm_cpu_check_tensor("cam_weights", "w", w));
    GM_TRY(gm_cpu_check_same_shape("cam_weights", A, G));
    if (w->n != A->n || w->h != 1 || w->w != 1 || w->c != A->c)
        return gm_error(GM_ERR_SHAPE, "cpu cam_weights: activations (%d,%d,%d,%d) need weights (%d,1,1,%d), given "
                        "(%d,%d,%d,%d)", A->n, A->h, A->w, A->c, A->n, A->c, w->n, w->h, w->w, w->c);
    if (kind != GM_CAM_WEIGHTS_GRADCAM && kind != GM_CAM_WEIGHTS_GRADCAM_PP && kind != GM_CAM_WEIGHTS_XGRADCAM)
        return gm_error(GM_ERR_UNSUPPORTED, "cpu cam_weights: kind %d is not supported", (int)kind);
    const int n = A->n, c = A->c;
    const long long hw = (long long)A->h * A->w, image = hw * c;
    const float *ad = A->data, *gd = G->data;
    float *wd = w->data;
    /* One (image, channel) per iteration: the channel's H*W values sit C apart. Consecutive
     * channels of one thread share cache lines, and H*W lines of a CAM layer fit in L2. */
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; ++b)
        for (int k = 0; k < c; ++k) {
            const float *a0 = ad + b * image + k, *g0 = gd + b * image + k;
            float r;
            if (kind == GM_CAM_WEIGHTS_GRADCAM) r = gm_cam_gradcam_weight(g0, hw, c);
            else if (kind == GM_CAM_WEIGHTS_GRADCAM_PP) r = gm_cam_gradcampp_weight(a0, g0, hw, c);
            else r = gm_cam_xgradcam_weight(a0, g0, hw, c);
            wd[(long long)b * c + k] = r;
        }
    return GM_OK;
}

gm_status gm_cpu_weighted_channel_sum(gm_backend *be, const gm_tensor *A, const gm_tensor *w, int relu,
                                      gm_tensor *L) {
    (void)be;
    GM_TRY(gm_cpu_check_tensor("weighted_channel_sum", "A", A));
    GM_TRY(gm_cpu_check_tensor("weighted_channel_sum", "w", w));
    GM_TRY(gm_cpu_check_tensor("weighted_channel_sum", "L", L));
    if (w->n != A->n || w->h != 1 || w->w != 1 || w->c != A->c)
        return gm_error(GM_ERR_SHAPE, "cpu weighted_channel_sum: activations (%d,%d,%d,%d) need weights (%d,1,1,%d), "
                        "given (%d,%d,%d,%d)", A->n, A->h, A->w, A->c, A->n, A->c, w->n, w->h, w->w, w->c);
    GM_TRY(gm_cpu_check_map("weighted_channel_sum", A, L, 1));
    const long long hw = (long long)A->h * A->w, pixels = hw * A->n;
    const int c = A->c;
    const float *ad = A->data, *wd = w->data;
    float *ld = L->data;
#pragma omp parallel for schedule(static)
    for (long long p = 0; p < pixels; ++p) ld[p] = gm_cam_weighted_sum(ad + p * c, wd + (p / hw) * c, c, relu);
    return GM_OK;
}

gm_status gm_cpu_elementwise_cam(gm_backend *be, gm_elementwise_cam kind, const gm_tensor *A, const gm_tensor *G,
                                 gm_tensor *L) {
    (void)be;
    GM_TRY(gm_cpu_check_tensor("elementwise_cam", "A", A));
    GM_TRY(gm_cpu_check_tensor("elementwise_cam", "G", G));
    GM_TRY(gm_cpu_check_tensor("elementwise_cam", "L", L));
    GM_TRY(gm_cpu_check_same_shape("elementwise_cam", A, G));
    GM_TRY(gm_cpu_check_map("elementwise_cam", A, L, 1));
    if (kind != GM_ELEMENTWISE_HIRESCAM && kind != GM_ELEMENTWISE_LAYERCAM)
        return gm_error(GM_ERR_UNSUPPORTED, "cpu elementwise_cam: kind %d is not supported", (int)kind);
    const long long pixels = (long long)A->n * A->h * A->w;
    const int c = A->c, layercam = kind == GM_ELEMENTWISE_LAYERCAM;
    const float *ad = A->data, *gd = G->data;
    float *ld = L->data;
#pragma omp parallel for schedule(static)
    for (long long p = 0; p < pixels; ++p) ld[p] = gm_cam_elementwise(ad + p * c, gd + p * c, c, layercam);
    return GM_OK;
}

/* ---- cam_multi ----
 * L[n,h,w,k] = sum_c A[n,h,w,c] * W[c, cls[n*K+k]] is a matrix product, done by oneDNN's sgemm.
 * Two plans, chosen by the number U of distinct classes in the batch:
 * - U <= GM_CPU_CAM_SHARED_RATIO * K ("shared"): one GEMM of A viewed as (N*H*W x C) by the U
 *   needed columns of W (C x U), then each image picks its K columns. This is the common case:
 *   the same classes for every image, all classes, overlapping top-k lists, and any batch of up
 *   to that many images. When every image asks for the union's classes in the union's order the
 *   GEMM writes L directly, and when the union is all classes in order W is used in place.
 * - otherwise (different classes per image): per image, a GEMM of (H*W x C) by its own K
 *   gathered columns, written straight into L, images spread over the threads (oneDNN runs each
 *   call single-threaded inside the parallel region). No wasted work.
 * The ratio comes from timing the ResNet50 head (N = 32, H*W = 49, C = 2048, 1000 classes) on the
 * 2-core development machine: with 2 threads the shared GEMM costs a memory-bound floor (~0.3-0.9
 * ms, reading A) plus ~0.045 ms per column and the per-image plan 0.6 ms (K = 1) to 3 ms (K = 10);
 * with 1 thread 0.07 ms per column against 1.5 to 5.7 ms. The plans crossed between U = 6K and
 * U = 20K (timings on a shared, noisy machine), so 4 keeps the shared plan on the safe side.
 * Full-width (C x classes) GEMM is never used unless the union is every class: the shared plan
 * contains it.
 * Accuracy: sgemm accumulates in float (blocked, fused multiply-adds), unlike the double sums
 * elsewhere in this file; its error grows like sqrt(C) ulps of the terms (~1e-5 relative for
 * C = 2048), invisible in a heatmap, and this is the op whose speed matters for CAM. */
#define GM_CPU_CAM_SHARED_RATIO 4

/* Distinct classes in first-appearance order, with each class's column in that list. */
typedef struct gm_cam_classes {
    int *column; /* n_classes entries, -1 = unused */
    int *list;   /* u entries */
    int u;
} gm_cam_classes;

static void gm_cpu_cam_classes_free(gm_cam_classes *cc) {
    free(cc->column);
    free(cc->list);
    cc->column = NULL;
    cc->list = NULL;
}

static gm_status gm_cpu_cam_classes_build(const int *cls, int n, int k, int n_classes, gm_cam_classes *cc) {
    long long total = (long long)n * k;
    long long cap = total < n_classes ? total : n_classes;
    cc->u = 0;
    cc->column = malloc((size_t)n_classes * sizeof *cc->column);
    cc->list = malloc((size_t)cap * sizeof *cc->list);
    if (!cc->column || !cc->list) {
        gm_cpu_cam_classes_free(cc);
        return gm_error(GM_ERR_NOMEM, "cpu cam_multi: cannot allocate the class table (%d classes)", n_classes);
    }
    for (int i = 0; i < n_classes; ++i) cc->column[i] = -1;
    for (long long i = 0; i < total; ++i) {
        int v = cls[i];
        if (v < 0 || v >= n_classes) {
            gm_cpu_cam_classes_free(cc);
            return gm_error(GM_ERR_INVALID_ARG, "cpu cam_multi: image %lld, map %lld asks for class %d, the dense "
                            "kernel has %d classes", i / k, i % k, v, n_classes);
        }
        if (cc->column[v] < 0) {
            cc->column[v] = cc->u;
            cc->list[cc->u++] = v;
        }
    }
    return GM_OK;
}

/* out (c x m, row-major) = columns `list` of the dense kernel wk (c x n_classes). */
static void gm_cpu_cam_gather(const float *wk, int n_classes, int c, const int *list, int m, float *out) {
    for (int ci = 0; ci < c; ++ci)
        for (int j = 0; j < m; ++j) out[(size_t)ci * m + j] = wk[(size_t)ci * n_classes + list[j]];
}

/* The shared plan: one GEMM over the union's columns, then each image's pick. */
static gm_status gm_cpu_cam_shared(const gm_tensor *A, const float *wk, int n_classes, const int *cls, int k,
                                   const gm_cam_classes *cc, gm_tensor *L) {
    const int c = A->c, u = cc->u;
    const long long hw = (long long)A->h * A->w, rows = hw * A->n;
    int direct = u == k;
    for (long long i = 0; direct && i < (long long)A->n * k; ++i) direct = cc->column[cls[i]] == (int)(i % k);
    int identity = u == n_classes;
    for (int j = 0; identity && j < u; ++j) identity = cc->list[j] == j;
    float *gathered = NULL, *product = NULL;
    gm_status st = GM_OK;
    if (!identity) {
        gathered = malloc((size_t)c * (size_t)u * sizeof *gathered);
        if (!gathered) {
            st = gm_error(GM_ERR_NOMEM, "cpu cam_multi: cannot allocate %d x %d kernel columns", c, u);
            goto done;
        }
        gm_cpu_cam_gather(wk, n_classes, c, cc->list, u, gathered);
    }
    if (!direct) {
        product = malloc((size_t)rows * (size_t)u * sizeof *product);
        if (!product) {
            st = gm_error(GM_ERR_NOMEM, "cpu cam_multi: cannot allocate a %lld x %d product", rows, u);
            goto done;
        }
    }
    float *out = direct ? L->data : product;
    GM_DNNL_GOTO(dnnl_sgemm('N', 'N', rows, u, c, 1.0f, A->data, c, identity ? wk : gathered,
                            identity ? n_classes : u, 0.0f, out, u),
                 st, done);
    if (!direct) {
        const int *column = cc->column;
        float *ld = L->data;
#pragma omp parallel for schedule(static)
        for (long long p = 0; p < rows; ++p) {
            const int *want = cls + (p / hw) * k;
            for (int j = 0; j < k; ++j) ld[p * k + j] = product[p * u + column[want[j]]];
        }
    }
done:
    free(gathered);
    free(product);
    return st;
}

/* The per-image plan: each image's own K columns, one GEMM per image, images over threads. */
static gm_status gm_cpu_cam_per_image(const gm_tensor *A, const float *wk, int n_classes, const int *cls, int k,
                                      gm_tensor *L) {
    const int n = A->n, c = A->c;
    const long long hw = (long long)A->h * A->w;
    const size_t per = (size_t)c * (size_t)k;
    float *gathered = malloc((size_t)n * per * sizeof *gathered);
    if (!gathered)
        return gm_error(GM_ERR_NOMEM, "cpu cam_multi: cannot allocate %d x %d x %d kernel columns", n, c, k);
    dnnl_status_t failed = dnnl_success;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < n; ++b) {
        float *wb = gathered + (size_t)b * per;
        gm_cpu_cam_gather(wk, n_classes, c, cls + (long long)b * k, k, wb);
        dnnl_status_t s = dnnl_sgemm('N', 'N', hw, k, c, 1.0f, A->data + b * hw * c, c, wb, k, 0.0f,
                                     L->data + b * hw * k, k);
        if (s != dnnl_success) {
#pragma omp critical(gm_cpu_cam_multi_status)
            failed = s;
        }
    }
    free(gathered);
    if (failed != dnnl_success) return gm_cpu_dnnl_error(failed, "dnnl_sgemm (per image)", __FILE__, __LINE__);
    return GM_OK;
}

gm_status gm_cpu_cam_multi(gm_backend *be, const gm_tensor *A, const float *dense_kernel, int n_classes,
                           const int *cls, int k, gm_tensor *L) {
    (void)be;
    GM_TRY(gm_cpu_check_tensor("cam_multi", "A", A));
    GM_TRY(gm_cpu_check_tensor("cam_multi", "L", L));
    if (!dense_kernel || !cls)
        return gm_error(GM_ERR_INVALID_ARG, "cpu cam_multi: %s is NULL", dense_kernel ? "cls" : "dense_kernel");
    if (n_classes <= 0 || k <= 0)
        return gm_error(GM_ERR_INVALID_ARG, "cpu cam_multi: %d classes and %d maps per image, both must be positive",
                        n_classes, k);
    GM_TRY(gm_cpu_check_map("cam_multi", A, L, k));
    gm_cam_classes cc = {NULL, NULL, 0};
    GM_TRY(gm_cpu_cam_classes_build(cls, A->n, k, n_classes, &cc));
    gm_status st = (long long)cc.u <= (long long)GM_CPU_CAM_SHARED_RATIO * k
                       ? gm_cpu_cam_shared(A, dense_kernel, n_classes, cls, k, &cc, L)
                       : gm_cpu_cam_per_image(A, dense_kernel, n_classes, cls, k, L);
    gm_cpu_cam_classes_free(&cc);
    if (st != GM_OK)
        gm_error_context(st, "cpu cam_multi (A (%d,%d,%d,%d), %d classes, %d maps per image): ", A->n, A->h, A->w,
                         A->c, n_classes, k);
    return st;
}
