/* audit_report_svg.c — the SpRAy eigenvalue spectrum of one class as a small stand-alone SVG file
 * (well-formed XML, SVG namespace, no scripts or external references): a stem plot of eigenvalue
 * index 1..n_eigen against value on [0, top] (top the smallest of 0.1, 0.25, 0.5, 1, 1.5, 2 holding
 * every value, with round tick steps), axes with tick labels, the chosen cluster count k as a dashed
 * vertical line between lambda_k and lambda_k+1, and the eigengap lambda_k+1 - lambda_k drawn as a bar
 * and written out. */
#include <math.h>

#include "audit_report_internal.h"

enum { W = 340, H = 210, LEFT = 46, RIGHT = 326, TOP = 30, BOTTOM = 172 };

typedef struct gm_rp_axes {
    int n;
    double top;    /* the y axis runs over [0, top] */
    int intervals; /* tick intervals on it */
} gm_rp_axes;

static double gm_rp_x(const gm_rp_axes *ax, double index) { /* index 1..n, centred in its slot */
    return LEFT + (index - 0.5) / ax->n * (RIGHT - LEFT);
}

static double gm_rp_y(const gm_rp_axes *ax, double v) {
    if (!isfinite(v) || v < 0.0) v = 0.0;
    if (v > ax->top) v = ax->top;
    return BOTTOM - v / ax->top * (BOTTOM - TOP);
}

static void gm_rp_axes_and_ticks(gm_safe_file *w, const gm_rp_axes *ax) {
    gm_safe_file_printf(w, "<g stroke=\"#333\" stroke-width=\"1\">\n");
    gm_safe_file_printf(w, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", LEFT, BOTTOM, RIGHT, BOTTOM);
    gm_safe_file_printf(w, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", LEFT, TOP, LEFT, BOTTOM);
    for (int t = 0; t <= ax->intervals; ++t) {
        double y = gm_rp_y(ax, ax->top * t / ax->intervals);
        gm_safe_file_printf(w, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", LEFT - 4, y, LEFT, y);
        if (t > 0)
            gm_safe_file_printf(w, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", LEFT + 1, y,
                         RIGHT, y);
    }
    int step = ax->n <= 16 ? 1 : (ax->n + 15) / 16;
    for (int i = 1; i <= ax->n; i += step) {
        double x = gm_rp_x(ax, i);
        gm_safe_file_printf(w, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n", x, BOTTOM, x, BOTTOM + 4);
    }
    gm_safe_file_printf(w, "</g>\n<g font-family=\"sans-serif\" font-size=\"10\" fill=\"#333\">\n");
    for (int t = 0; t <= ax->intervals; ++t)
        gm_safe_file_printf(w, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", LEFT - 6,
                     gm_rp_y(ax, ax->top * t / ax->intervals) + 3.5, ax->top * t / ax->intervals);
    for (int i = 1; i <= ax->n; i += step)
        gm_safe_file_printf(w, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", gm_rp_x(ax, i), BOTTOM + 15,
                     i);
    gm_safe_file_printf(w, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">eigenvalue index</text>\n", (LEFT + RIGHT) / 2,
                 H - 8);
    gm_safe_file_printf(w,
                 "<text x=\"12\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 12 %d)\">"
                 "eigenvalue</text>\n</g>\n",
                 (TOP + BOTTOM) / 2, (TOP + BOTTOM) / 2);
}

gm_status gm_rp_spectrum_svg(const gm_audit_class *cls, const char *path) {
    const gm_spray_result *s = &cls->spray;
    double mx = 0.0;
    for (int i = 0; i < s->n_eigen; ++i)
        if (isfinite(s->eigenvalues[i]) && s->eigenvalues[i] > mx) mx = s->eigenvalues[i];
    /* The smallest top holding every value, with round tick steps (values above 2 are not Laplacian
     * eigenvalues, but are still drawn rather than clipped). */
    static const struct { double top; int intervals; } tops[] = {{0.1, 2}, {0.25, 5}, {0.5, 5}, {1.0, 4}, {1.5, 3},
                                                                 {2.0, 4}};
    gm_rp_axes ax = {s->n_eigen, ceil(mx), 4};
    for (int i = (int)(sizeof tops / sizeof tops[0]) - 1; i >= 0; --i)
        if (mx <= tops[i].top) ax.top = tops[i].top, ax.intervals = tops[i].intervals;

    gm_safe_file w;
    GM_TRY(gm_safe_file_open(&w, path, NULL));
    gm_safe_file_printf(&w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    gm_safe_file_printf(&w,
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n", W,
                 H, W, H);
    gm_safe_file_printf(&w, "<title>SpRAy eigenvalue spectrum of class ");
    gm_rp_text(&w, cls->name);
    gm_safe_file_printf(&w, "</title>\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", W, H);
    gm_rp_axes_and_ticks(&w, &ax);

    int k = s->k;
    if (k >= 1 && k <= s->n_eigen) {
        /* Between lambda_k and lambda_k+1 (at lambda_k when no lambda_k+1 was computed). */
        double xk = gm_rp_x(&ax, k < s->n_eigen ? k + 0.5 : k);
        gm_safe_file_printf(&w,
                     "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c00\" stroke-width=\"1\" "
                     "stroke-dasharray=\"4 3\"/>\n",
                     xk, TOP - 4, xk, BOTTOM);
        if (k < s->n_eigen) {
            double y0 = gm_rp_y(&ax, s->eigenvalues[k - 1]), y1 = gm_rp_y(&ax, s->eigenvalues[k]);
            gm_safe_file_printf(&w,
                         "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c00\" "
                         "stroke-width=\"3\"/>\n",
                         xk, y0, xk, y1);
        }
        gm_safe_file_printf(&w,
                     "<text x=\"%d\" y=\"16\" font-family=\"sans-serif\" font-size=\"11\" fill=\"#c00\">"
                     "k = %d, eigengap %.3g</text>\n",
                     LEFT, k, s->eigengap);
    }
    gm_safe_file_printf(&w, "<g stroke=\"#1f4e9c\" fill=\"#1f4e9c\">\n");
    for (int i = 0; i < s->n_eigen; ++i) {
        double v = s->eigenvalues[i];
        double x = gm_rp_x(&ax, i + 1), y = gm_rp_y(&ax, v);
        if (!isfinite(v)) continue;
        gm_safe_file_printf(&w, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke-width=\"1.5\"/>\n", x, BOTTOM,
                     x, y);
        gm_safe_file_printf(&w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\"><title>&#955;%d = %.4g</title></circle>\n", x, y,
                     i + 1, v);
    }
    gm_safe_file_printf(&w, "</g>\n</svg>\n");
    return gm_safe_file_commit(&w);
}
