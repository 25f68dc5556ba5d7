/* audit_metrics.c — the per-image localisation metrics of the dataset audit (explain/audit_metrics.h):
 * parsing and resolving user regions (`NAME=x0,y0,x1,y1`, pixels or percentages), checking object
 * boxes, the border band's width, and one map's shares of mass (object, border, regions) plus the
 * pointing game.
 *
 * Every share is a double sum of a subset of the map's non-negative values divided by the double sum
 * of all of them, both accumulated in row-major order: rounding is monotone, so a share never exceeds
 * 1 and a subset that is the whole image gives exactly 1. */
#include "audit_metrics.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- Region parsing ---- */

static int name_char_ok(char ch) {
    return isalnum((unsigned char)ch) || ch == '_' || ch == '-';
}

/* Copies the name before '=' (eq points at it) after checking length and characters. */
static gm_status parse_name(const char *spec, const char *eq, gm_audit_region *out) {
    size_t len = (size_t)(eq - spec);
    if (len == 0) return gm_error(GM_ERR_INVALID_ARG, "region '%s': empty name before '='", spec);
    if (len >= GM_AUDIT_NAME_MAX)
        return gm_error(GM_ERR_INVALID_ARG, "region '%s': name longer than %d characters", spec,
                        GM_AUDIT_NAME_MAX - 1);
    for (size_t i = 0; i < len; ++i)
        if (!name_char_ok(spec[i]))
            return gm_error(GM_ERR_INVALID_ARG, "region '%s': character '%c' in the name (allowed: A-Z a-z 0-9 _ -)",
                            spec, spec[i]);
    memcpy(out->name, spec, len);
    out->name[len] = '\0';
    return GM_OK;
}

/* Only plain decimal numbers: strtod alone would also take whitespace, signs, "inf", "nan" and hex. */
static int number_chars_ok(const char *s, size_t len) {
    if (len == 0 || !(isdigit((unsigned char)s[0]) || s[0] == '.')) return 0;
    for (size_t i = 0; i < len; ++i) {
        char ch = s[i];
        int sign_after_e = (ch == '+' || ch == '-') && i > 0 && (s[i - 1] == 'e' || s[i - 1] == 'E');
        if (!(isdigit((unsigned char)ch) || ch == '.' || ch == 'e' || ch == 'E' || sign_after_e)) return 0;
    }
    return 1;
}

/* One coordinate token [s, s+len): a number with an optional '%' suffix. */
static gm_status parse_coord(const char *spec, const char *s, size_t len, int idx, gm_audit_region *out) {
    static const char *const names[4] = {"x0", "y0", "x1", "y1"};
    int percent = len > 0 && s[len - 1] == '%';
    size_t num_len = percent ? len - 1 : len;
    if (len == 0) return gm_error(GM_ERR_INVALID_ARG, "region '%s': %s is empty", spec, names[idx]);
    char buf[64];
    if (num_len >= sizeof buf || !number_chars_ok(s, num_len))
        return gm_error(GM_ERR_INVALID_ARG, "region '%s': %s '%.*s' is not a non-negative number", spec, names[idx],
                        (int)len, s);
    memcpy(buf, s, num_len);
    buf[num_len] = '\0';
    char *end = NULL;
    double v = strtod(buf, &end);
    if (end != buf + num_len)
        return gm_error(GM_ERR_INVALID_ARG, "region '%s': %s '%.*s' is not a number", spec, names[idx], (int)len, s);
    if (!isfinite(v) || v < 0.0)
        return gm_error(GM_ERR_INVALID_ARG, "region '%s': %s '%.*s' is not a finite number >= 0", spec, names[idx],
                        (int)len, s);
    if (percent && v > 100.0)
        return gm_error(GM_ERR_INVALID_ARG, "region '%s': %s '%.*s' is over 100%%", spec, names[idx], (int)len, s);
    out->v[idx] = v;
    out->percent[idx] = percent;
    return GM_OK;
}

gm_status gm_audit_region_parse(const char *spec, gm_audit_region *out) {
    if (!spec || !out) return gm_error(GM_ERR_INVALID_ARG, "region: null argument");
    memset(out, 0, sizeof *out);
    const char *eq = strchr(spec, '=');
    if (!eq) return gm_error(GM_ERR_INVALID_ARG, "region '%s': expected NAME=x0,y0,x1,y1 (no '=')", spec);
    GM_TRY(parse_name(spec, eq, out));
    const char *s = eq + 1;
    int count = 0;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (count == 4)
            return gm_error(GM_ERR_INVALID_ARG, "region '%s': more than 4 coordinates (x0,y0,x1,y1)", spec);
        GM_TRY(parse_coord(spec, s, len, count, out));
        ++count;
        if (!comma) break;
        s = comma + 1;
    }
    if (count != 4)
        return gm_error(GM_ERR_INVALID_ARG, "region '%s': %d coordinate%s, expected 4 (x0,y0,x1,y1)", spec, count,
                        count == 1 ? "" : "s");
    return GM_OK;
}

/* ---- Rectangles ---- */

/* One coordinate in pixels, still a double so that a huge pixel value cannot overflow an int before
 * the range check. v * size / 100 rather than v / 100 * size: for whole percentages the product is
 * exact, so 7% of 100 is exactly 7 (7 / 100 * 100 is 7.000000000000001 and would round up to 8). */
static double coord_pixels(double v, int percent, int size, int round_up) {
    double px = percent ? v * (double)size / 100.0 : v;
    return round_up ? ceil(px) : floor(px);
}

gm_status gm_audit_region_rect(const gm_audit_region *r, int w, int h, gm_audit_rect *out) {
    if (!r || !out) return gm_error(GM_ERR_INVALID_ARG, "region: null argument");
    if (w <= 0 || h <= 0) return gm_error(GM_ERR_INVALID_ARG, "region '%s': image size %dx%d", r->name, w, h);
    for (int i = 0; i < 4; ++i)
        if (!isfinite(r->v[i]) || r->v[i] < 0.0 || (r->percent[i] && r->v[i] > 100.0))
            return gm_error(GM_ERR_INVALID_ARG, "region '%s': coordinate %d (%g) out of range", r->name, i, r->v[i]);
    double x0 = coord_pixels(r->v[0], r->percent[0], w, 0), y0 = coord_pixels(r->v[1], r->percent[1], h, 0);
    double x1 = coord_pixels(r->v[2], r->percent[2], w, 1), y1 = coord_pixels(r->v[3], r->percent[3], h, 1);
    if (x0 >= x1 || y0 >= y1)
        return gm_error(GM_ERR_INVALID_ARG, "region '%s': pixels [%.0f,%.0f) x [%.0f,%.0f) are empty (image %dx%d)",
                        r->name, x0, x1, y0, y1, w, h);
    if (x1 > (double)w || y1 > (double)h)
        return gm_error(GM_ERR_INVALID_ARG,
                        "region '%s': pixels [%.0f,%.0f) x [%.0f,%.0f) reach outside the %dx%d image", r->name, x0,
                        x1, y0, y1, w, h);
    /* All four now lie in [0, max(w, h)], so the conversions are exact. */
    out->x0 = (int)x0;
    out->y0 = (int)y0;
    out->x1 = (int)x1;
    out->y1 = (int)y1;
    return GM_OK;
}

static int rect_fits(const gm_audit_rect *b, int w, int h) {
    return b->x0 >= 0 && b->x0 < b->x1 && b->x1 <= w && b->y0 >= 0 && b->y0 < b->y1 && b->y1 <= h;
}

gm_status gm_audit_box_check(const gm_audit_rect *box, int w, int h, const char *what) {
    const char *name = what ? what : "box";
    if (!box) return gm_error(GM_ERR_INVALID_ARG, "%s: null box", name);
    if (!rect_fits(box, w, h))
        return gm_error(GM_ERR_INVALID_ARG,
                        "%s: box [%d,%d) x [%d,%d) is empty or outside the %dx%d image (need 0 <= x0 < x1 <= %d and "
                        "0 <= y0 < y1 <= %d)",
                        name, box->x0, box->x1, box->y0, box->y1, w, h, w, h);
    return GM_OK;
}

void gm_audit_mask_add_box(uint8_t *mask, int w, int h, const gm_audit_rect *box) {
    /* A void function cannot report an unchecked box, so it ignores one rather than write out of bounds. */
    if (!mask || !box || !rect_fits(box, w, h)) return;
    for (int y = box->y0; y < box->y1; ++y)
        memset(mask + (size_t)y * (size_t)w + (size_t)box->x0, 255, (size_t)(box->x1 - box->x0));
}

/* ---- Options and the border band ---- */

void gm_audit_metric_options_default(gm_audit_metric_options *o) {
    if (!o) return;
    o->pointing_tolerance_px = GM_AUDIT_POINTING_TOLERANCE_PX;
    o->border_fraction = GM_AUDIT_BORDER_FRACTION;
}

int gm_audit_border_width(int w, int h, double fraction) {
    if (w <= 0 || h <= 0 || !(fraction > 0.0)) return 0; /* also NaN */
    int m = w < h ? w : h;
    /* Rounded up so that an odd side's middle pixel is covered too: the cap means "the whole image". */
    int cap = m / 2 + m % 2;
    double b = round(fraction * (double)m); /* compared as a double: a huge fraction must not overflow */
    if (b < 1.0) return 1;
    if (b > (double)cap) return cap;
    return (int)b;
}

static int in_band(int x, int y, int w, int h, int b) {
    return x < b || y < b || x >= w - b || y >= h - b;
}

/* ---- Metrics of one map ---- */

static gm_status check_map(const float *map, int w, int h, size_t *n) {
    if (!map) return gm_error(GM_ERR_INVALID_ARG, "audit metrics: null map");
    if (w <= 0 || h <= 0) return gm_error(GM_ERR_INVALID_ARG, "audit metrics: map size %dx%d", w, h);
    if ((size_t)w > (size_t)-1 / sizeof(float) / (size_t)h)
        return gm_error(GM_ERR_INVALID_ARG, "audit metrics: map size %dx%d overflows", w, h);
    *n = (size_t)w * (size_t)h;
    for (size_t i = 0; i < *n; ++i)
        if (!isfinite(map[i]))
            return gm_error(GM_ERR_INVALID_ARG, "audit metrics: map value %g at x=%zu y=%zu is not finite",
                            (double)map[i], i % (size_t)w, i / (size_t)w);
    return GM_OK;
}

static gm_status check_options(const gm_audit_metric_options *o) {
    if (!(o->pointing_tolerance_px >= 0.0) || isinf(o->pointing_tolerance_px))
        return gm_error(GM_ERR_INVALID_ARG, "audit metrics: pointing tolerance %g px is not finite and >= 0",
                        o->pointing_tolerance_px);
    if (!(o->border_fraction >= 0.0) || isinf(o->border_fraction))
        return gm_error(GM_ERR_INVALID_ARG, "audit metrics: border fraction %g is not finite and >= 0",
                        o->border_fraction);
    return GM_OK;
}

static gm_status check_regions(const gm_audit_rect *regions, int n_regions, int w, int h) {
    if (n_regions < 0 || n_regions > GM_AUDIT_MAX_REGIONS)
        return gm_error(GM_ERR_INVALID_ARG, "audit metrics: %d regions (0..%d)", n_regions, GM_AUDIT_MAX_REGIONS);
    if (n_regions > 0 && !regions) return gm_error(GM_ERR_INVALID_ARG, "audit metrics: null regions");
    for (int i = 0; i < n_regions; ++i)
        if (!rect_fits(&regions[i], w, h))
            return gm_error(GM_ERR_INVALID_ARG, "audit metrics: region %d [%d,%d) x [%d,%d) is not inside the %dx%d map",
                            i, regions[i].x0, regions[i].x1, regions[i].y0, regions[i].y1, w, h);
    return GM_OK;
}

/* What one row-major pass collects. */
typedef struct mass_sums {
    double mass, inside, border;
    size_t object_pixels;
    float max_v;
    int max_x, max_y;
} mass_sums;

static mass_sums sum_map(const float *map, int w, int h, const uint8_t *mask, int band) {
    mass_sums s = {0.0, 0.0, 0.0, 0, 0.0f, -1, -1};
    for (int y = 0; y < h; ++y) {
        const float *row = map + (size_t)y * (size_t)w;
        const uint8_t *mrow = mask ? mask + (size_t)y * (size_t)w : NULL;
        for (int x = 0; x < w; ++x) {
            double v = row[x] > 0.0f ? (double)row[x] : 0.0;
            s.mass += v;
            if (mrow && mrow[x]) {
                s.inside += v;
                ++s.object_pixels;
            }
            if (in_band(x, y, w, h, band)) s.border += v;
            /* Strictly greater: ties keep the first in row-major order; values <= 0 never count. */
            if (row[x] > s.max_v) {
                s.max_v = row[x];
                s.max_x = x;
                s.max_y = y;
            }
        }
    }
    return s;
}

static double rect_sum(const float *map, int w, const gm_audit_rect *r) {
    double sum = 0.0;
    for (int y = r->y0; y < r->y1; ++y) {
        const float *row = map + (size_t)y * (size_t)w;
        for (int x = r->x0; x < r->x1; ++x)
            sum += row[x] > 0.0f ? (double)row[x] : 0.0;
    }
    return sum;
}

/* Nearest object pixel of one mask row to column mx, searched outward; only distances with
 * dx^2 + dy2 < best can improve, so the scan stops there. Returns the squared distance or best. */
static int64_t row_nearest_d2(const uint8_t *mrow, int w, int mx, int64_t dy2, int64_t best) {
    for (int64_t dx = 0; dx < w; ++dx) {
        int64_t d2 = dx * dx + dy2;
        if (d2 >= best) break;
        int left = mx - (int)dx, right = mx + (int)dx;
        if ((left >= 0 && mrow[left]) || (right < w && mrow[right])) return d2;
        if (left < 0 && right >= w) break;
    }
    return best;
}

/* Squared distance from (mx, my) to the nearest non-zero mask pixel, rows visited outward from my
 * and stopped once the row distance alone reaches the best found. The mask holds an object pixel. */
static int64_t nearest_object_d2(const uint8_t *mask, int w, int h, int mx, int my) {
    int64_t best = INT64_MAX;
    int reach = my > h - 1 - my ? my : h - 1 - my;
    for (int64_t dy = 0; dy <= reach; ++dy) {
        int64_t dy2 = dy * dy;
        if (dy2 >= best) break;
        int up = my - (int)dy, down = my + (int)dy;
        if (up >= 0) best = row_nearest_d2(mask + (size_t)up * (size_t)w, w, mx, dy2, best);
        if (dy > 0 && down < h) best = row_nearest_d2(mask + (size_t)down * (size_t)w, w, mx, dy2, best);
    }
    return best;
}

/* Everything undefined, so that a failed call leaves no stale numbers. Unused region slots are 0. */
static void metrics_reset(gm_audit_metrics *out) {
    memset(out, 0, sizeof *out);
    out->mass = 0.0;
    out->inside = out->point_distance = out->object_area = out->border = NAN;
    out->pointing = -1;
    out->max_x = out->max_y = -1;
}

gm_status gm_audit_image_metrics(const float *map, int w, int h, const uint8_t *mask,
                                 const gm_audit_metric_options *o, const gm_audit_rect *regions, int n_regions,
                                 gm_audit_metrics *out) {
    if (!out) return gm_error(GM_ERR_INVALID_ARG, "audit metrics: null output");
    metrics_reset(out);
    gm_audit_metric_options defaults;
    gm_audit_metric_options_default(&defaults);
    if (!o) o = &defaults; /* null options: the documented defaults */
    size_t n = 0;
    GM_TRY(check_map(map, w, h, &n));
    GM_TRY(check_options(o));
    GM_TRY(check_regions(regions, n_regions, w, h));
    for (int i = 0; i < n_regions; ++i)
        out->regions[i] = NAN;

    mass_sums s = sum_map(map, w, h, mask, gm_audit_border_width(w, h, o->border_fraction));
    if (mask) out->object_area = (double)s.object_pixels / (double)n;
    out->mass = s.mass;
    if (!(s.mass > 0.0)) return GM_OK; /* empty map: every share stays NaN, no maximum */

    out->max_x = s.max_x;
    out->max_y = s.max_y;
    out->border = s.border / s.mass;
    for (int i = 0; i < n_regions; ++i)
        out->regions[i] = rect_sum(map, w, &regions[i]) / s.mass;
    if (!mask || s.object_pixels == 0) return GM_OK; /* no object: inside and pointing undefined */

    out->inside = s.inside / s.mass;
    out->point_distance = sqrt((double)nearest_object_d2(mask, w, h, s.max_x, s.max_y));
    out->pointing = out->point_distance <= o->pointing_tolerance_px ? 1 : 0;
    return GM_OK;
}
