/* backward_check.h — helpers shared by the backward-op tests (test_cpu_backward*.c): backend
 * tensors made from host data, downloads, seeded index samples, and the central finite-difference
 * gradient of L(x) = sum_i w_i * f(x)_i for a forward op f run by the backend in float32 (L itself
 * is summed in double). The FD step is the float step actually taken, (x+eps) - (x-eps) as stored,
 * so representation error of x +- eps does not enter the quotient.
 * Static inline so that a test including this header warns about nothing it does not use. */
#ifndef GM_TEST_BACKWARD_CHECK_H
#define GM_TEST_BACKWARD_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/backend.h"
#include "test_support.h"

/* y = f(x) on the backend; ctx carries the op's parameters. */
typedef gm_status (*bc_forward_fn)(gm_backend *be, void *ctx, const gm_tensor *x, gm_tensor *y);

static inline void *bc_malloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return p;
}

/* A backend tensor holding a copy of host data, or the NaN pattern when host == NULL (an op
 * that leaves outputs unwritten then fails every comparison). */
static inline gm_tensor bc_tensor(gm_backend *be, int n, int h, int w, int c, const float *host) {
    return gm_test_backend_tensor(be, n, h, w, c, host);
}

static inline float *bc_download(gm_backend *be, const gm_tensor *t) { return gm_test_backend_to_host(be, t); }

static inline void bc_free(gm_backend *be, gm_tensor *t) {
    void *p = t->data;
    be->ops->free(be, &p);
    t->data = NULL;
}

/* Indices to check: all of [0, count) when count <= max, else `max` distinct seeded picks
 * (a partial Fisher-Yates shuffle). Returns how many were written to idx (capacity max). */
static inline size_t bc_pick(gm_test_rng *r, size_t count, size_t max, size_t *idx) {
    if (count <= max) {
        for (size_t i = 0; i < count; ++i) idx[i] = i;
        return count;
    }
    size_t *all = bc_malloc(count * sizeof *all);
    for (size_t i = 0; i < count; ++i) all[i] = i;
    for (size_t i = 0; i < max; ++i) {
        size_t j = i + (size_t)(gm_test_rng_uniform(r) * (double)(count - i));
        if (j >= count) j = count - 1;
        size_t t = all[i];
        all[i] = all[j];
        all[j] = t;
        idx[i] = all[i];
    }
    free(all);
    return max;
}

static inline double bc_loss(gm_backend *be, const gm_tensor *y, const float *w) {
    size_t n = gm_tensor_count(y);
    float *yh = bc_download(be, y);
    double s = 0.0;
    for (size_t i = 0; i < n; ++i) s += (double)w[i] * (double)yh[i];
    free(yh);
    return s;
}

/* fd[j] = dL/dx[idx[j]] by central differences with step eps. x is a backend tensor holding the
 * host values xh (restored on return), y a scratch output of f's shape. Returns 0 when the
 * forward op fails. */
static inline int bc_fd_gradient(gm_backend *be, bc_forward_fn f, void *ctx, gm_tensor *x, const float *xh,
                                 gm_tensor *y, const float *w, float eps, const size_t *idx, size_t m, double *fd) {
    for (size_t j = 0; j < m; ++j) {
        const size_t i = idx[j];
        const float xp = xh[i] + eps, xm = xh[i] - eps;
        be->ops->upload(be, x->data + i, &xp, sizeof xp);
        if (f(be, ctx, x, y) != GM_OK) return 0;
        const double lp = bc_loss(be, y, w);
        be->ops->upload(be, x->data + i, &xm, sizeof xm);
        if (f(be, ctx, x, y) != GM_OK) return 0;
        const double lm = bc_loss(be, y, w);
        be->ops->upload(be, x->data + i, &xh[i], sizeof xh[i]);
        fd[j] = (lp - lm) / ((double)xp - (double)xm);
    }
    return 1;
}

/* got[j] = g[idx[j]]: the analytic gradient at the FD-checked positions. */
static inline void bc_gather(const float *g, const size_t *idx, size_t m, float *got) {
    for (size_t j = 0; j < m; ++j) got[j] = g[idx[j]];
}

#endif
