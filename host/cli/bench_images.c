/* bench_images.c — the synthetic images of `gradmap bench`: seeded pictures (smooth colour waves
 * plus pixel noise, so that the PNG encoder meets something between a flat image and pure noise,
 * as with photographs) and their preprocessing, the way `gradmap explain` loads images (keras
 * load_img's nearest resize to the model's input, then the model's preprocessing); files go
 * through explain's loader (explain_loader.c) instead. Images are RGB, row-major, 3 bytes a
 * pixel; inputs NHWC float32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "host/rng.h"

/* Uniform in [0, 1) from the state, which advances. */
static double gm_bench_uniform(uint64_t *state) {
    *state = gm_splitmix64(*state);
    return gm_unit53(*state);
}

gm_status gm_bench_synthetic_image(uint64_t seed, int index, int width, int height, gm_image *out) {
    memset(out, 0, sizeof *out);
    out->rgb = malloc((size_t)width * height * 3);
    if (!out->rgb) return gm_error(GM_ERR_NOMEM, "out of memory for a %dx%d synthetic image", width, height);
    out->width = width, out->height = height;
    uint64_t state = gm_splitmix64(seed ^ gm_splitmix64(0x5eed0000ull + (uint64_t)index));
    double fx[3], fy[3], px[3], py[3];
    for (int c = 0; c < 3; ++c) {
        fx[c] = 0.01 + 0.09 * gm_bench_uniform(&state);
        fy[c] = 0.01 + 0.09 * gm_bench_uniform(&state);
        px[c] = 6.283185307179586 * gm_bench_uniform(&state);
        py[c] = 6.283185307179586 * gm_bench_uniform(&state);
    }
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            for (int c = 0; c < 3; ++c) {
                double v = 128.0 + 90.0 * sin(fx[c] * x + px[c]) * cos(fy[c] * y + py[c]) +
                           32.0 * (gm_bench_uniform(&state) - 0.5);
                out->rgb[((size_t)y * width + x) * 3 + c] = (uint8_t)(v < 0.0 ? 0.0 : v > 255.0 ? 255.0 : v);
            }
    return GM_OK;
}

gm_status gm_bench_preprocess(const gm_graph *g, const gm_image *images, int n, float *input) {
    size_t in_size = (size_t)g->input_h * g->input_w * g->input_c;
    for (int i = 0; i < n; ++i)
        GM_TRY(gm_image_to_input(&images[i], g->input_w, g->input_h, GM_RESIZE_NEAREST, g->preprocess,
                                 input + (size_t)i * in_size));
    return GM_OK;
}
