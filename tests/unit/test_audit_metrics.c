/* test_audit_metrics.c — explain/audit_metrics.h: region parsing (good and bad specs), resolving
 * regions to pixels (percentages on non-square images, rounding, outside / empty regions), object
 * box checks, the border band's width, and one map's metrics (object share, border share, region
 * shares, the pointing game, maximum, object area) on tiny hand-computed maps, plus a 200x150 random
 * map against a naive recomputation in the test.
 *
 * Tolerances and why:
 *  - hand-computed cases: exact (==). The library sums non-negative values in double in row-major
 *    order; the tiny maps hold small integers, so every sum is exact and a share is the one correctly
 *    rounded quotient that the test writes as the same double division (e.g. 14.0 / 136.0).
 *  - pointing distances: exact. sqrt of an integer squared distance, computed the same way here.
 *  - the random 200x150 check: 1e-12 relative. The naive reference sums the same values in double in
 *    another loop order (separate loops per metric, regions by rows of the whole image); ~3e4 terms
 *    at ~1e-16 relative rounding each stay far below 1e-12, while any wrong pixel (a value of ~0.5 out
 *    of a mass of ~1e4) moves a share by ~5e-5.
 * Every expected value is checked against a result that a wrong implementation would change (an
 * off-by-one band, ceil vs floor, the last instead of the first maximum, negative values counted). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain/audit_metrics.h"
#include "test_support.h"

/* ---- Small helpers ---- */

static int rect_is(const gm_audit_rect *r, int x0, int y0, int x1, int y1) {
    return r->x0 == x0 && r->y0 == y0 && r->x1 == x1 && r->y1 == y1;
}

/* The last error mentions every one of up to two strings (NULL = skip). */
static int error_mentions(const char *a, const char *b) {
    const char *e = gm_last_error();
    return e && (!a || strstr(e, a)) && (!b || strstr(e, b));
}

/* A 4x4 map holding 1..16 in row-major order (v = 4y + x + 1); total 136. */
static void map_1_to_16(float m[16]) {
    for (int i = 0; i < 16; ++i)
        m[i] = (float)(i + 1);
}

/* A 4x4 mask whose object is the middle 2x2 block, x and y in {1, 2}. */
static void mask_middle(uint8_t k[16]) {
    memset(k, 0, 16);
    k[1 * 4 + 1] = k[1 * 4 + 2] = k[2 * 4 + 1] = k[2 * 4 + 2] = 1;
}

static gm_status metrics_of(const float *map, int w, int h, const uint8_t *mask, const gm_audit_rect *regions,
                            int n, gm_audit_metrics *m) {
    gm_audit_metric_options o;
    gm_audit_metric_options_default(&o);
    return gm_audit_image_metrics(map, w, h, mask, &o, regions, n, m);
}

/* ---- Region parsing ---- */

static void test_parse_good(gm_test_counts *c) {
    gm_audit_region r;
    gm_status st = gm_audit_region_parse("corner=85%,85%,100%,100%", &r);
    gm_test_check(c,
                  st == GM_OK && !strcmp(r.name, "corner") && r.v[0] == 85.0 && r.v[1] == 85.0 && r.v[2] == 100.0 &&
                      r.v[3] == 100.0 && r.percent[0] && r.percent[1] && r.percent[2] && r.percent[3],
                  "parse corner=85%%,85%%,100%%,100%%");
    st = gm_audit_region_parse("obj_1-A=10,20.5,3e1,40", &r);
    gm_test_check(c,
                  st == GM_OK && !strcmp(r.name, "obj_1-A") && r.v[0] == 10.0 && r.v[1] == 20.5 && r.v[2] == 30.0 &&
                      r.v[3] == 40.0 && !r.percent[0] && !r.percent[1] && !r.percent[2] && !r.percent[3],
                  "parse obj_1-A=10,20.5,3e1,40 (pixels, decimal and exponent)");
    st = gm_audit_region_parse("mix=0,50%,.5,100", &r);
    gm_test_check(c, st == GM_OK && r.v[1] == 50.0 && r.percent[1] && !r.percent[0] && r.v[2] == 0.5 && !r.percent[2],
                  "parse mixed pixels and percentages");
    /* "object" and "border" are allowed names (duplicates are the caller's business). */
    gm_test_check(c, gm_audit_region_parse("border=0,0,1,1", &r) == GM_OK && !strcmp(r.name, "border"),
                  "parse name 'border'");
    char spec[128];
    memset(spec, 'n', 63);
    strcpy(spec + 63, "=0,0,1,1");
    gm_test_check(c, gm_audit_region_parse(spec, &r) == GM_OK && strlen(r.name) == 63, "parse 63-character name");
}

static void test_parse_bad(gm_test_counts *c) {
    static const char *const bad[] = {
        "corner",             /* no '=' */
        "=1,2,3,4",           /* empty name */
        "a b=1,2,3,4",        /* space in the name */
        "a.b=1,2,3,4",        /* '.' in the name */
        "a=1,2,3",            /* 3 numbers */
        "a=1,2,3,4,5",        /* 5 numbers */
        "a=1,2,3,4,",         /* trailing comma: an empty fifth */
        "a=1,2,,4",           /* empty coordinate */
        "a=",                 /* nothing */
        "a=-1,2,3,4",         /* negative */
        "a=1,2,3,-0",         /* a sign, even on zero */
        "a=+1,2,3,4",         /* explicit plus */
        "a=inf,0,1,1",        /* non-finite */
        "a=nan,0,1,1",        /* non-finite */
        "a=1e999,0,1,1",      /* overflows to inf */
        "a=101%,0,100%,100%", /* percent > 100 */
        "a=0,0,100.5%,1",     /* percent > 100 */
        "a=1,2,3,4x",         /* trailing garbage */
        "a=1,2,3,4%%",        /* double percent */
        "a=1,2,3,4 ",         /* trailing space */
        "a= 1,2,3,4",         /* leading space */
        "a=0x10,0,1,1",       /* hex */
        "a=1%2,0,3,4",        /* '%' inside */
        "a=1..2,0,3,4",       /* two dots */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        gm_audit_region r;
        gm_clear_error();
        gm_status st = gm_audit_region_parse(bad[i], &r);
        gm_test_check(c, st == GM_ERR_INVALID_ARG && error_mentions(bad[i], NULL),
                      "parse rejects '%s' quoting it (%s)", bad[i], gm_last_error());
    }
    char spec[128];
    memset(spec, 'n', 64);
    strcpy(spec + 64, "=0,0,1,1");
    gm_audit_region r;
    gm_test_check(c, gm_audit_region_parse(spec, &r) == GM_ERR_INVALID_ARG, "parse rejects a 64-character name");
    gm_test_check(c, gm_audit_region_parse(NULL, &r) == GM_ERR_INVALID_ARG, "parse rejects a null spec");
}

/* ---- Resolving regions ---- */

/* Parses spec and resolves it against w x h. */
static gm_status rect_of(const char *spec, int w, int h, gm_audit_rect *out) {
    gm_audit_region r;
    gm_status st = gm_audit_region_parse(spec, &r);
    if (st != GM_OK) return st;
    return gm_audit_region_rect(&r, w, h, out);
}

static void test_region_rect(gm_test_counts *c) {
    gm_audit_rect q = {-9, -9, -9, -9};
    /* 200x100: x from w = 200, y from h = 100: 85% -> 170 and 85, 100% -> 200 and 100. */
    gm_test_check(c, rect_of("corner=85%,85%,100%,100%", 200, 100, &q) == GM_OK && rect_is(&q, 170, 85, 200, 100),
                  "corner on 200x100 -> [170,200)x[85,100) got [%d,%d)x[%d,%d)", q.x0, q.x1, q.y0, q.y1);
    /* 250x30: x0 = floor(33*250/100 = 82.5) = 82, y0 = floor(10*30/100 = 3) = 3,
     * x1 = ceil(33.5*250/100 = 83.75) = 84, y1 = ceil(55*30/100 = 16.5) = 17. */
    gm_test_check(c, rect_of("r=33%,10%,33.5%,55%", 250, 30, &q) == GM_OK && rect_is(&q, 82, 3, 84, 17),
                  "rounding on 250x30 -> [82,84)x[3,17) got [%d,%d)x[%d,%d)", q.x0, q.x1, q.y0, q.y1);
    /* 7% of 100 is exactly 7; 7 / 100 * 100 in double is 7.000000000000001, whose ceil would be 8. */
    gm_test_check(c, rect_of("s=0,0,7%,100%", 100, 10, &q) == GM_OK && rect_is(&q, 0, 0, 7, 10),
                  "7%% of 100 -> x1 = 7 got %d", q.x1);
    /* A sliver of a percent still gets a pixel: 50.1% and 50.2% of 200 = 100.2, 100.4 -> [100, 101). */
    gm_test_check(c, rect_of("t=50.1%,0,50.2%,10", 200, 100, &q) == GM_OK && rect_is(&q, 100, 0, 101, 10),
                  "sliver -> [100,101) got [%d,%d)", q.x0, q.x1);
    /* Non-integer pixels by the same rule: floor(1.5) = 1, floor(2.5) = 2, ceil(3.5) = 4, ceil(4) = 4. */
    gm_test_check(c, rect_of("p=1.5,2.5,3.5,4", 10, 10, &q) == GM_OK && rect_is(&q, 1, 2, 4, 4),
                  "fractional pixels -> [1,4)x[2,4) got [%d,%d)x[%d,%d)", q.x0, q.x1, q.y0, q.y1);
    /* Mixed on 200x100: x0 = 10 px, y0 = 10% of 100 = 10, x1 = 50% of 200 = 100, y1 = 20 px. */
    gm_test_check(c, rect_of("m=10,10%,50%,20", 200, 100, &q) == GM_OK && rect_is(&q, 10, 10, 100, 20),
                  "mixed -> [10,100)x[10,20) got [%d,%d)x[%d,%d)", q.x0, q.x1, q.y0, q.y1);
    /* The whole image in pixels touches both edges: allowed. */
    gm_test_check(c, rect_of("all=0,0,200,100", 200, 100, &q) == GM_OK && rect_is(&q, 0, 0, 200, 100),
                  "whole image in pixels");

    static const struct { const char *spec; const char *why; } bad[] = {
        {"out=0,0,201,10", "x1 201 > w 200"},
        {"low=190,0,200,101", "y1 101 > h 100"},
        {"big=0,0,1e300,10", "huge x1 (must not overflow an int)"},
        {"flat=50%,0,50%,10", "x0 = x1 = 100: empty"},
        {"back=5,0,3,10", "x0 > x1"},
        {"thin=0,7,10,7", "y0 = y1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        gm_audit_region r;
        gm_audit_region_parse(bad[i].spec, &r);
        gm_clear_error();
        gm_status st = gm_audit_region_rect(&r, 200, 100, &q);
        gm_test_check(c, st == GM_ERR_INVALID_ARG && error_mentions(r.name, "200x100"),
                      "region %s rejected (%s): %s", bad[i].spec, bad[i].why, gm_last_error());
    }
}

/* ---- Boxes ---- */

static void test_boxes(gm_test_counts *c) {
    const gm_audit_rect ok[] = {{0, 0, 10, 8}, {2, 3, 5, 6}, {9, 7, 10, 8}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; ++i)
        gm_test_check(c, gm_audit_box_check(&ok[i], 10, 8, "cat.png") == GM_OK, "box [%d,%d)x[%d,%d) fits 10x8",
                      ok[i].x0, ok[i].x1, ok[i].y0, ok[i].y1);
    const gm_audit_rect bad[] = {{0, 0, 11, 8}, {0, 0, 10, 9}, {-1, 0, 5, 5}, {0, -1, 5, 5},
                                 {3, 0, 3, 5},  {0, 5, 10, 4}, {10, 0, 11, 8}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        gm_clear_error();
        gm_status st = gm_audit_box_check(&bad[i], 10, 8, "cat.png");
        gm_test_check(c, st == GM_ERR_INVALID_ARG && error_mentions("cat.png", "10x8"),
                      "box [%d,%d)x[%d,%d) rejected: %s", bad[i].x0, bad[i].x1, bad[i].y0, bad[i].y1, gm_last_error());
    }
    gm_test_check(c, gm_audit_box_check(&bad[0], 10, 8, NULL) == GM_ERR_INVALID_ARG, "box check with what = NULL");

    /* Box [1,3)x[1,3) on a 5x4 mask: pixels (1,1), (2,1), (1,2), (2,2) and nothing else. */
    uint8_t mask[20] = {0};
    const gm_audit_rect box = {1, 1, 3, 3};
    gm_audit_mask_add_box(mask, 5, 4, &box);
    int right = 1, count = 0;
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 5; ++x) {
            int want = x >= 1 && x < 3 && y >= 1 && y < 3;
            count += mask[y * 5 + x] != 0;
            if ((mask[y * 5 + x] == 255) != want) right = 0;
        }
    gm_test_check(c, right && count == 4, "mask_add_box sets exactly the 4 box pixels to 255 (%d set)", count);
}

/* ---- Border band ---- */

static void test_border_width(gm_test_counts *c) {
    static const struct { int w, h; double f; int want; const char *why; } cases[] = {
        {224, 224, 0.1, 22, "round(22.4)"},
        {100, 50, 0.1, 5, "shorter side 50: round(5.0)"},
        {15, 40, 0.1, 2, "round(1.5) = 2 (half away from zero)"},
        {1, 1, 0.1, 1, "round(0.1) = 0 -> at least 1; the whole image"},
        {3, 100, 0.1, 1, "round(0.3) = 0 -> at least 1"},
        {10, 10, 0.0, 0, "fraction 0: no band"},
        {10, 10, -0.1, 0, "negative fraction: no band"},
        {10, 10, 0.5, 5, "round(5) = cap 10/2: the whole image"},
        {5, 9, 0.5, 3, "round(2.5) = 3 = cap ceil(5/2): covers the middle column"},
        {5, 9, 0.45, 2, "round(2.25) = 2: the middle column stays out"},
        {10, 10, 1.0, 5, "round(10) capped at 5"},
        {10, 10, 1e300, 5, "huge fraction capped, no overflow"},
        {0, 10, 0.1, 0, "no image"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        int got = gm_audit_border_width(cases[i].w, cases[i].h, cases[i].f);
        gm_test_check(c, got == cases[i].want, "border width %dx%d fraction %g = %d (%s), got %d", cases[i].w,
                      cases[i].h, cases[i].f, cases[i].want, cases[i].why, got);
    }
    gm_test_check(c, gm_audit_border_width(10, 10, NAN) == 0, "border width with a NaN fraction is 0");

    /* On a 5x5 map of ones, fraction 0.5 -> band 3, which covers every pixel: border share exactly 1.
     * With 0.45 -> band 2 the middle pixel (2,2) is out: 24 of 25. */
    float ones[25];
    for (int i = 0; i < 25; ++i)
        ones[i] = 1.0f;
    gm_audit_metric_options o;
    gm_audit_metric_options_default(&o);
    gm_audit_metrics m;
    o.border_fraction = 0.5;
    gm_status st = gm_audit_image_metrics(ones, 5, 5, NULL, &o, NULL, 0, &m);
    gm_test_check(c, st == GM_OK && m.border == 1.0, "fraction 0.5 on 5x5: border share 1, got %.17g", m.border);
    o.border_fraction = 0.45;
    st = gm_audit_image_metrics(ones, 5, 5, NULL, &o, NULL, 0, &m);
    gm_test_check(c, st == GM_OK && m.border == 24.0 / 25.0, "fraction 0.45 on 5x5: border share 24/25, got %.17g",
                  m.border);
}

/* ---- Metrics on hand-computed maps ---- */

static void test_inside_4x4(gm_test_counts *c) {
    float map[16];
    uint8_t mask[16];
    map_1_to_16(map);
    mask_middle(mask);
    gm_audit_metrics m;
    gm_status st = metrics_of(map, 4, 4, mask, NULL, 0, &m);
    gm_test_check(c, st == GM_OK && m.mass == 136.0, "4x4 mass = 1+...+16 = 136, got %.17g", m.mass);
    /* Object pixels hold 6, 7, 10, 11: 34 of 136 = 0.25 exactly. */
    gm_test_check(c, m.inside == 0.25, "4x4 inside = 34/136 = 0.25, got %.17g", m.inside);
    gm_test_check(c, m.object_area == 0.25, "4x4 object area = 4/16, got %.17g", m.object_area);
    /* Band width max(1, round(0.1*4)) = 1: everything but the middle 2x2, 136 - 34 = 102 -> 0.75. */
    gm_test_check(c, m.border == 0.75, "4x4 border = 102/136 = 0.75, got %.17g", m.border);
    /* Maximum 16 at (3,3); nearest object pixel (2,2): sqrt(2); within 15 px. */
    gm_test_check(c, m.max_x == 3 && m.max_y == 3, "4x4 maximum at (3,3), got (%d,%d)", m.max_x, m.max_y);
    gm_test_check(c, m.point_distance == sqrt(2.0) && m.pointing == 1, "4x4 distance sqrt(2), hit: got %.17g, %d",
                  m.point_distance, m.pointing);

    /* Tolerance edges at that distance: exactly sqrt(2) is a hit, 1.41 a miss. */
    gm_audit_metric_options o;
    gm_audit_metric_options_default(&o);
    o.pointing_tolerance_px = sqrt(2.0);
    st = gm_audit_image_metrics(map, 4, 4, mask, &o, NULL, 0, &m);
    gm_test_check(c, st == GM_OK && m.pointing == 1, "tolerance sqrt(2) at distance sqrt(2): hit");
    o.pointing_tolerance_px = 1.41;
    st = gm_audit_image_metrics(map, 4, 4, mask, &o, NULL, 0, &m);
    gm_test_check(c, st == GM_OK && m.pointing == 0 && m.point_distance == sqrt(2.0),
                  "tolerance 1.41 at distance sqrt(2): miss, distance still reported");
}

static void test_negative_values(gm_test_counts *c) {
    float map[16];
    uint8_t mask[16];
    map_1_to_16(map);
    mask_middle(mask);
    map[0] = -100.0f; /* was 1 */
    map[15] = -5.0f;  /* was 16, the maximum */
    map[5] = -6.0f;   /* was 6, an object pixel */
    gm_audit_metrics m;
    gm_status st = metrics_of(map, 4, 4, mask, NULL, 0, &m);
    /* Negatives count as 0: mass 136 - 1 - 16 - 6 = 113; object 7 + 10 + 11 = 28. */
    gm_test_check(c, st == GM_OK && m.mass == 113.0, "negatives ignored: mass 113, got %.17g", m.mass);
    gm_test_check(c, m.inside == 28.0 / 113.0, "negatives ignored: inside 28/113, got %.17g", m.inside);
    /* Border: 113 - 28 = 85 (the ring lost 1 and 16). */
    gm_test_check(c, m.border == 85.0 / 113.0, "negatives ignored: border 85/113, got %.17g", m.border);
    /* New maximum 15 at (2,3), one row below the object pixel (2,2). */
    gm_test_check(c, m.max_x == 2 && m.max_y == 3 && m.point_distance == 1.0,
                  "maximum 15 at (2,3), distance 1: got (%d,%d) %.17g", m.max_x, m.max_y, m.point_distance);
}

static void test_empty_map(gm_test_counts *c) {
    /* All values <= 0: nothing to share out. The mask still has an area: 1 of 9. */
    float map[9] = {0, -1, 0, 0, -0.5f, 0, 0, 0, -3};
    uint8_t mask[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0};
    gm_audit_rect reg = {0, 0, 2, 2};
    gm_audit_metrics m;
    gm_status st = metrics_of(map, 3, 3, mask, &reg, 1, &m);
    gm_test_check(c, st == GM_OK && m.mass == 0.0, "empty map: mass 0, got %.17g", m.mass);
    gm_test_check(c, isnan(m.inside) && isnan(m.border) && isnan(m.regions[0]),
                  "empty map: inside, border, region NaN (got %g %g %g)", m.inside, m.border, m.regions[0]);
    gm_test_check(c, m.pointing == -1 && isnan(m.point_distance) && m.max_x == -1 && m.max_y == -1,
                  "empty map: pointing -1, distance NaN, maximum (-1,-1) (got %d %g (%d,%d))", m.pointing,
                  m.point_distance, m.max_x, m.max_y);
    gm_test_check(c, m.object_area == 1.0 / 9.0, "empty map: object area 1/9, got %.17g", m.object_area);
}

static void test_empty_and_missing_mask(gm_test_counts *c) {
    float map[16];
    uint8_t mask[16] = {0};
    map_1_to_16(map);
    gm_audit_metrics m;
    gm_status st = metrics_of(map, 4, 4, mask, NULL, 0, &m);
    gm_test_check(c, st == GM_OK && isnan(m.inside) && m.pointing == -1 && isnan(m.point_distance),
                  "empty mask: inside NaN, pointing -1, distance NaN (got %g %d %g)", m.inside, m.pointing,
                  m.point_distance);
    gm_test_check(c, m.object_area == 0.0 && m.border == 0.75 && m.max_x == 3 && m.max_y == 3,
                  "empty mask: object area 0, border 0.75, maximum (3,3) still defined (got %g %g (%d,%d))",
                  m.object_area, m.border, m.max_x, m.max_y);
    st = metrics_of(map, 4, 4, NULL, NULL, 0, &m);
    gm_test_check(c, st == GM_OK && isnan(m.inside) && m.pointing == -1 && isnan(m.point_distance) &&
                         isnan(m.object_area) && m.border == 0.75 && m.mass == 136.0,
                  "no mask: inside, distance, object area NaN, pointing -1, border 0.75 (got %g %g %g %d %g)",
                  m.inside, m.point_distance, m.object_area, m.pointing, m.border);
}

static void test_full_mask(gm_test_counts *c) {
    float map[16];
    uint8_t mask[16];
    map_1_to_16(map);
    memset(mask, 7, sizeof mask); /* any non-zero byte is object */
    gm_audit_metrics m;
    gm_status st = metrics_of(map, 4, 4, mask, NULL, 0, &m);
    gm_test_check(c,
                  st == GM_OK && m.inside == 1.0 && m.pointing == 1 && m.point_distance == 0.0 && m.object_area == 1.0,
                  "full mask: inside 1, hit, distance 0, area 1 (got %.17g %d %g %g)", m.inside, m.pointing,
                  m.point_distance, m.object_area);
}

/* A w x h map of zeros with one peak of 1 at (px, py), a mask with object pixels at the given points. */
static void pointing_case(gm_test_counts *c, int px, int py, const int (*obj)[2], int n_obj, double tol,
                          double want_dist, int want_hit, const char *why) {
    enum { W = 40, H = 40 };
    float map[W * H] = {0};
    uint8_t mask[W * H] = {0};
    map[py * W + px] = 1.0f;
    for (int i = 0; i < n_obj; ++i)
        mask[obj[i][1] * W + obj[i][0]] = 1;
    gm_audit_metric_options o;
    gm_audit_metric_options_default(&o);
    o.pointing_tolerance_px = tol;
    gm_audit_metrics m;
    gm_status st = gm_audit_image_metrics(map, W, H, mask, &o, NULL, 0, &m);
    gm_test_check(c, st == GM_OK && m.point_distance == want_dist && m.pointing == want_hit,
                  "pointing: %s: distance %.17g hit %d, got %.17g %d", why, want_dist, want_hit, m.point_distance,
                  m.pointing);
}

static void test_pointing(gm_test_counts *c) {
    const int along[][2] = {{20, 5}};
    pointing_case(c, 5, 5, along, 1, 15.0, 15.0, 1, "15 px along a row, tolerance 15: hit");
    pointing_case(c, 5, 5, along, 1, 14.999999, 15.0, 0, "15 px, tolerance 14.999999: miss");
    const int diag[][2] = {{9, 12}};
    pointing_case(c, 0, 0, diag, 1, 15.0, 15.0, 1, "(9,12) from the corner: 3-4-5 triangle, 15 px: hit");
    const int off[][2] = {{20, 6}};
    pointing_case(c, 5, 5, off, 1, 15.0, sqrt(226.0), 0, "sqrt(15^2+1) = 15.033 px: miss");
    pointing_case(c, 5, 5, off, 1, 15.0000001, sqrt(226.0), 0, "sqrt(226), tolerance 15.0000001: still a miss");
    const int on[][2] = {{30, 30}, {5, 5}};
    pointing_case(c, 30, 30, on, 2, 15.0, 0.0, 1, "maximum on the object: 0");
    /* Nearest across rows: (31,20) same row at 11, (20,30) at 10, (12,26) at sqrt(64+36) = 10, (27,27)
     * at sqrt(49+49) = sqrt(98) = 9.899 — the nearest, 7 rows away. */
    const int many[][2] = {{31, 20}, {20, 30}, {12, 26}, {27, 27}};
    pointing_case(c, 20, 20, many, 4, 9.8, sqrt(98.0), 0, "nearest of four is sqrt(98), tolerance 9.8: miss");
    /* Object only above the maximum (rows searched in both directions). */
    const int above[][2] = {{39, 0}};
    pointing_case(c, 0, 39, above, 1, 100.0, sqrt(39.0 * 39.0 * 2.0), 1, "opposite corner: 39*sqrt(2)");
}

static void test_ties(gm_test_counts *c) {
    /* 4x3 map, the value 5 at (3,1), (2,1) and (1,2): (2,1) comes first in row-major order. */
    float map[12] = {1, 2, 1, 0, 0, 3, 5, 5, 2, 5, 1, 4};
    gm_audit_metrics m;
    gm_status st = metrics_of(map, 4, 3, NULL, NULL, 0, &m);
    gm_test_check(c, st == GM_OK && m.max_x == 2 && m.max_y == 1, "ties: first maximum (2,1), got (%d,%d)", m.max_x,
                  m.max_y);
}

static void test_regions_and_border(gm_test_counts *c) {
    /* 6x4 map of ones except (2,1) = 5 and (3,2) = 3: mass 22 + 5 + 3 = 30. Band width
     * max(1, round(0.4)) = 1; the interior x 1..4, y 1..2 holds 6 ones + 5 + 3 = 14, the band 16. */
    float map[24];
    for (int i = 0; i < 24; ++i)
        map[i] = 1.0f;
    map[1 * 6 + 2] = 5.0f;
    map[2 * 6 + 3] = 3.0f;
    gm_audit_rect regs[4] = {{0, 0, 6, 4}, {2, 1, 4, 3}, {0, 0, 1, 1}, {0}};
    /* right=50%,0,100%,100% on 6x4: x0 = 3, x1 = 6, y 0..4: 12 pixels, 11 ones + the 3 = 14. */
    gm_status st = rect_of("right=50%,0,100%,100%", 6, 4, &regs[3]);
    gm_audit_metrics m;
    if (st == GM_OK) st = metrics_of(map, 6, 4, NULL, regs, 4, &m);
    gm_test_check(c, st == GM_OK && m.mass == 30.0 && m.border == 16.0 / 30.0,
                  "regions map: mass 30, border 16/30, got %.17g %.17g", m.mass, m.border);
    gm_test_check(c, m.regions[0] == 1.0, "region 0 = whole image: 1, got %.17g", m.regions[0]);
    /* [2,4)x[1,3): 5 + 1 + 1 + 3 = 10. */
    gm_test_check(c, m.regions[1] == 10.0 / 30.0, "region 1 = 10/30, got %.17g", m.regions[1]);
    gm_test_check(c, m.regions[2] == 1.0 / 30.0, "region 2 = one pixel 1/30, got %.17g", m.regions[2]);
    gm_test_check(c, m.regions[3] == 14.0 / 30.0, "region 3 'right' = 14/30, got %.17g", m.regions[3]);

    /* Fraction 0: no band, a share of 0 (not NaN) for a non-empty map. */
    gm_audit_metric_options o;
    gm_audit_metric_options_default(&o);
    o.border_fraction = 0.0;
    st = gm_audit_image_metrics(map, 6, 4, NULL, &o, regs, 2, &m);
    gm_test_check(c, st == GM_OK && m.border == 0.0 && m.regions[1] == 10.0 / 30.0,
                  "fraction 0: border 0, regions unchanged (got %.17g)", m.border);
}

static void test_invalid(gm_test_counts *c) {
    float map[16];
    map_1_to_16(map);
    gm_audit_metrics m;
    const float bad_values[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; ++i) {
        float copy[16];
        memcpy(copy, map, sizeof copy);
        copy[9] = bad_values[i];
        gm_status st = metrics_of(copy, 4, 4, NULL, NULL, 0, &m);
        gm_test_check(c, st == GM_ERR_INVALID_ARG, "map value %g -> GM_ERR_INVALID_ARG", (double)bad_values[i]);
    }
    gm_test_check(c, metrics_of(NULL, 4, 4, NULL, NULL, 0, &m) == GM_ERR_INVALID_ARG, "null map rejected");
    gm_test_check(c, metrics_of(map, 0, 4, NULL, NULL, 0, &m) == GM_ERR_INVALID_ARG, "width 0 rejected");
    gm_test_check(c, metrics_of(map, 4, -1, NULL, NULL, 0, &m) == GM_ERR_INVALID_ARG, "negative height rejected");
    gm_audit_rect outside = {0, 0, 5, 4};
    gm_test_check(c, metrics_of(map, 4, 4, NULL, &outside, 1, &m) == GM_ERR_INVALID_ARG,
                  "region outside the map rejected");
    gm_audit_rect many[GM_AUDIT_MAX_REGIONS + 1];
    for (int i = 0; i <= GM_AUDIT_MAX_REGIONS; ++i)
        many[i] = (gm_audit_rect){0, 0, 1, 1};
    gm_test_check(c, metrics_of(map, 4, 4, NULL, many, GM_AUDIT_MAX_REGIONS + 1, &m) == GM_ERR_INVALID_ARG,
                  "%d regions rejected", GM_AUDIT_MAX_REGIONS + 1);
    gm_test_check(c, metrics_of(map, 4, 4, NULL, many, GM_AUDIT_MAX_REGIONS, &m) == GM_OK && m.regions[15] == 1.0 / 136.0,
                  "%d regions accepted, the last = 1/136", GM_AUDIT_MAX_REGIONS);
}

/* ---- Random map vs a naive recomputation ---- */

static int rel_close(double got, double ref) {
    return isfinite(got) && isfinite(ref) && fabs(got - ref) <= 1e-12 * fabs(ref);
}

static void test_random(gm_test_counts *c) {
    enum { W = 200, H = 150 };
    float *map = malloc(sizeof(float) * W * H);
    uint8_t *mask = malloc(W * H);
    if (!map || !mask) {
        gm_test_check(c, 0, "random: allocation");
        free(map);
        free(mask);
        return;
    }
    gm_test_rng rng;
    gm_test_rng_seed(&rng, 20240611);
    gm_test_fill(&rng, map, (size_t)W * H, -0.5f, 1.0f); /* a third negative */
    for (int i = 0; i < W * H; ++i)
        mask[i] = gm_test_rng_uniform(&rng) < 0.3 ? 1 : 0;
    const gm_audit_rect reg = {17, 23, 141, 99};
    gm_audit_metrics m;
    gm_status st = metrics_of(map, W, H, mask, &reg, 1, &m);

    /* Naive: one loop per metric; band width round(0.1 * 150) = 15 written out. */
    double mass = 0, inside = 0, border = 0, region = 0;
    for (int i = 0; i < W * H; ++i)
        mass += map[i] > 0 ? map[i] : 0.0;
    for (int i = 0; i < W * H; ++i)
        if (mask[i]) inside += map[i] > 0 ? map[i] : 0.0;
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
            if (x < 15 || y < 15 || x >= W - 15 || y >= H - 15) border += map[y * W + x] > 0 ? map[y * W + x] : 0.0;
    for (int y = reg.y0; y < reg.y1; ++y)
        for (int x = reg.x0; x < reg.x1; ++x)
            region += map[y * W + x] > 0 ? map[y * W + x] : 0.0;
    gm_test_check(c, st == GM_OK && rel_close(m.mass, mass), "random: mass %.17g vs %.17g", m.mass, mass);
    gm_test_check(c, rel_close(m.inside, inside / mass), "random: inside %.17g vs %.17g", m.inside, inside / mass);
    gm_test_check(c, rel_close(m.border, border / mass), "random: border %.17g vs %.17g", m.border, border / mass);
    gm_test_check(c, rel_close(m.regions[0], region / mass), "random: region %.17g vs %.17g", m.regions[0],
                  region / mass);

    /* Sparse mask (about 8 object pixels) for the nearest-pixel search, checked by brute force. */
    for (int i = 0; i < W * H; ++i)
        mask[i] = gm_test_rng_uniform(&rng) < 8.0 / (W * H) ? 1 : 0;
    mask[149 * W + 199] = 1; /* at least one */
    st = metrics_of(map, W, H, mask, NULL, 0, &m);
    int mx = 0, my = 0;
    for (int i = 1; i < W * H; ++i)
        if (map[i] > map[my * W + mx]) mx = i % W, my = i / W;
    double best = INFINITY;
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
            if (mask[y * W + x]) {
                double d = sqrt((double)((x - mx) * (x - mx) + (y - my) * (y - my)));
                if (d < best) best = d;
            }
    gm_test_check(c, st == GM_OK && m.max_x == mx && m.max_y == my && m.point_distance == best,
                  "random sparse mask: maximum (%d,%d) distance %.17g vs (%d,%d) %.17g", m.max_x, m.max_y,
                  m.point_distance, mx, my, best);
    free(map);
    free(mask);
}

/* 1000x1000, the maximum in the middle and one object pixel in a corner: the nearest-pixel search
 * visits every row; it must finish (the test's time limit) and find sqrt(500^2 + 500^2). */
static void test_large(gm_test_counts *c) {
    enum { N = 1000 };
    float *map = calloc((size_t)N * N, sizeof(float));
    uint8_t *mask = calloc((size_t)N * N, 1);
    if (!map || !mask) {
        gm_test_check(c, 0, "large: allocation");
        free(map);
        free(mask);
        return;
    }
    map[500 * N + 500] = 1.0f;
    mask[0] = 1;
    gm_audit_metrics m;
    gm_status st = metrics_of(map, N, N, mask, NULL, 0, &m);
    gm_test_check(c, st == GM_OK && m.point_distance == sqrt(500000.0) && m.pointing == 0,
                  "1000x1000: distance sqrt(500000) = %.17g, got %.17g", sqrt(500000.0), m.point_distance);
    free(map);
    free(mask);
}

int main(void) {
    gm_test_counts c = {0};
    test_parse_good(&c);
    test_parse_bad(&c);
    test_region_rect(&c);
    test_boxes(&c);
    test_border_width(&c);
    test_inside_4x4(&c);
    test_negative_values(&c);
    test_empty_map(&c);
    test_empty_and_missing_mask(&c);
    test_full_mask(&c);
    test_pointing(&c);
    test_ties(&c);
    test_regions_and_border(&c);
    test_invalid(&c);
    test_random(&c);
    test_large(&c);
    return gm_test_summary(&c);
}
