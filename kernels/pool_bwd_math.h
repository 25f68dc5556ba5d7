/* pool_bwd_math.h — per-window and per-element math of the pooling backward passes, shared by the
 * CPU loops (host/cpu/cpu_pool_bwd.c) and the CUDA kernels. Window geometry follows
 * kernels/pool_math.h: output cell o covers input cells [o*stride - pad_lo, o*stride - pad_lo + k),
 * and only the in-bounds ones (TF's "same" rule: padding is never part of a window).
 *
 * Gradient rules:
 *   max pooling      dx[i] = sum of dy[o] over the windows o whose FIRST maximum (row-major
 *                    window order, in-bounds cells only) is i; overlapping windows accumulate.
 *   average pooling  dx[i] = sum of dy[o] / count(o) over the windows o covering i, where count(o)
 *                    is the window's in-bounds cell count (padding excluded, as in the forward).
 *   global max       dx = dy / count at every cell equal to the plane's maximum (count of them),
 *                    0 elsewhere: TF's reduce_max gradient, which Keras's GlobalMaxPooling2D
 *                    uses. It differs from max pooling's single argmax (TF's MaxPoolGrad) only
 *                    on ties, which are common here: a channel that a ReLU zeroed entirely has
 *                    every cell tied at 0, and TF spreads its gradient over the whole plane.
 *   global average   dx = dy / (H*W) everywhere.
 * Layout: a plane is one channel of one NHWC image, so consecutive cells are `cstride` (= C)
 * floats apart. */
#ifndef GM_POOL_BWD_MATH_H
#define GM_POOL_BWD_MATH_H

#include "gm_hd.h"
#include "pool_math.h"

/* Cell index (iy * w + ix) of the first maximum among the in-bounds cells of the ph x pw window
 * whose top-left corner, in unpadded coordinates, is (y0, x0); -1 when no cell is in bounds.
 * The strict > keeps the earlier cell on ties, which is the forward's (and TF's) argmax rule. */
GM_HD static inline int gm_maxpool_argmax(const float *plane, int h, int w, long cstride, int y0, int x0, int ph,
                                          int pw) {
    const int ylo = y0 < 0 ? 0 : y0, yhi = y0 + ph < h ? y0 + ph : h;
    const int xlo = x0 < 0 ? 0 : x0, xhi = x0 + pw < w ? x0 + pw : w;
    if (ylo >= yhi || xlo >= xhi) return -1;
    int best_cell = ylo * w + xlo;
    float best = plane[(long)best_cell * cstride];
    for (int iy = ylo; iy < yhi; ++iy)
        for (int ix = xlo; ix < xhi; ++ix) {
            const int cell = iy * w + ix;
            const float v = plane[(long)cell * cstride];
            if (v > best) {
                best = v;
                best_cell = cell;
            }
        }
    return best_cell;
}

/* Range [*first, *last] of the output cells (out of `out`) whose windows of k cells cover input
 * cell i; empty (*first > *last) when none does. Used by gather-form loops, which write every dx
 * element once and so need neither atomics nor a zeroing pass. */
GM_HD static inline void gm_pool_covering(int i, int k, int stride, int pad_lo, int out, int *first, int *last) {
    const int num = i + pad_lo - k + 1; /* the first window must end after i */
    int f = num <= 0 ? 0 : (num + stride - 1) / stride;
    int l = (i + pad_lo) / stride; /* the last window must start at or before i */
    if (l > out - 1) l = out - 1;
    *first = f;
    *last = l;
}

/* Maximum of the n cells of a plane (cells `cstride` floats apart) and how many cells equal it. */
GM_HD static inline float gm_plane_max_count(const float *plane, long n, long cstride, int *count) {
    float best = plane[0];
    int ties = 1;
    for (long p = 1; p < n; ++p) {
        const float v = plane[p * cstride];
        if (v > best) {
            best = v;
            ties = 1;
        } else if (v == best) {
            ++ties;
        }
    }
    *count = ties;
    return best;
}

/* Global max pooling: the share of each tied maximum, computed as TF does, (1/count) * dy. */
GM_HD static inline float gm_gmp_bwd_share(float dy, int count) { return (1.0f / (float)count) * dy; }

/* Share of an average-pool window's gradient given to each of its `count` in-bounds cells. */
GM_HD static inline float gm_avgpool_bwd_share(float dy, int count) { return dy / (float)count; }

/* Global average pooling: every one of the hw cells receives dy / hw. */
GM_HD static inline float gm_gap_bwd(float dy, long hw) { return dy / (float)hw; }

#endif
