/* test_png_write.c — gm_png_write (host/png_write.h): PNGs read back with stb_image hold exactly the
 * pixels written (PNG is lossless: atol 0), 1- and 3-channel; the write goes through "<path>.tmp" and a
 * rename, so a failed write (missing or read-only folder, a file-size limit standing in for a full
 * disk) returns GM_ERR_IO naming the path and the reason, leaves no .tmp and keeps an earlier file.
 * A deliberately corrupted read-back is shown to be rejected. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb/stb_image.h>

#include "host/png_write.h"
#include "test_support.h"

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Reads a PNG back with stb_image at its own channel count; 1 when it holds exactly `ref`. */
static int png_holds(const char *path, const uint8_t *ref, int w, int h, int channels) {
    int rw = 0, rh = 0, rc = 0;
    unsigned char *px = stbi_load(path, &rw, &rh, &rc, 0);
    int ok = px && rw == w && rh == h && rc == channels && memcmp(px, ref, (size_t)w * h * channels) == 0;
    if (!ok)
        fprintf(stderr, "  %s: read %dx%dx%d (%s)\n", path, rw, rh, rc, px ? "pixels differ?" : stbi_failure_reason());
    stbi_image_free(px);
    return ok;
}

static void check_png(gm_test_counts *c) {
    char dir[] = "/tmp/gm_test_png_XXXXXX";
    if (!mkdtemp(dir)) {
        gm_test_check(c, 0, "png: mkdtemp: %s", strerror(errno));
        return;
    }
    gm_test_rng rng;
    gm_test_rng_seed(&rng, 11);
    enum { W = 37, H = 23, BW = 96, BH = 96 };
    uint8_t rgb[W * H * 3], grey[W * H], big[BW * BH * 3];
    for (size_t i = 0; i < sizeof rgb; ++i)
        rgb[i] = (uint8_t)(gm_test_rng_uniform(&rng) * 256.0);
    for (size_t i = 0; i < sizeof grey; ++i)
        grey[i] = (uint8_t)(gm_test_rng_uniform(&rng) * 256.0);
    for (size_t i = 0; i < sizeof big; ++i)
        big[i] = (uint8_t)(gm_test_rng_uniform(&rng) * 256.0);
    char *p_rgb = join(dir, "rgb.png"), *p_grey = join(dir, "grey.png"), *p_tmp = join(dir, "rgb.png.tmp");
    char *p_missing = join(dir, "no/such/dir/x.png"), *p_ro = join(dir, "ro"), *p_ro_file = join(dir, "ro/x.png");
    if (!p_rgb || !p_grey || !p_tmp || !p_missing || !p_ro || !p_ro_file) {
        gm_test_check(c, 0, "png: allocation");
        goto done;
    }

    int ok = gm_png_write(p_rgb, rgb, W, H, 3) == GM_OK && png_holds(p_rgb, rgb, W, H, 3) && access(p_tmp, F_OK) != 0;
    gm_test_check(c, ok, "png: RGB round trip through stb_image is exact, no .tmp left");
    rgb[1234] ^= 1; /* the comparison must be able to fail */
    fprintf(stderr, "  (the next read-back is expected to differ)\n");
    ok = !png_holds(p_rgb, rgb, W, H, 3);
    rgb[1234] ^= 1;
    gm_test_check(c, ok, "png: a read-back differing in one byte is rejected");
    ok = gm_png_write(p_grey, grey, W, H, 1) == GM_OK && png_holds(p_grey, grey, W, H, 1);
    gm_test_check(c, ok, "png: grey (1 channel) round trip is exact");
    ok = gm_png_write(p_rgb, big, BW, BH, 3) == GM_OK && png_holds(p_rgb, big, BW, BH, 3);
    gm_test_check(c, ok, "png: an existing file is replaced");

    gm_status st = gm_png_write(p_missing, rgb, W, H, 3);
    ok = st == GM_ERR_IO && strstr(gm_last_error(), "no/such/dir/x.png.tmp") &&
         strstr(gm_last_error(), strerror(ENOENT));
    gm_test_check(c, ok, "png: a missing folder is GM_ERR_IO with the path and the reason: \"%s\"", gm_last_error());

    /* Root can write into read-only folders; a "folder" that is a regular file stops everyone. */
    char *p_under_file = join(p_grey, "x.png");
    st = p_under_file ? gm_png_write(p_under_file, rgb, W, H, 3) : GM_ERR_NOMEM;
    ok = st == GM_ERR_IO && strstr(gm_last_error(), "grey.png/x.png") && strstr(gm_last_error(), strerror(ENOTDIR));
    gm_test_check(c, ok, "png: a path below a regular file is GM_ERR_IO: \"%s\"", gm_last_error());
    free(p_under_file);

    if (geteuid() != 0) { /* root writes anywhere: the permission check only means something for users */
        ok = mkdir(p_ro, 0500) == 0;
        st = gm_png_write(p_ro_file, rgb, W, H, 3);
        ok = ok && st == GM_ERR_IO && strstr(gm_last_error(), strerror(EACCES));
        gm_test_check(c, ok, "png: an unwritable folder is GM_ERR_IO: \"%s\"", gm_last_error());
        rmdir(p_ro);
    } else {
        fprintf(stderr, "  (running as root: the read-only folder case is skipped)\n");
    }

    /* A full disk, simulated by a file-size limit (EFBIG) that the 96x96 noise PNG (~28 KB) exceeds:
     * the write fails with GM_ERR_IO, the earlier PNG under the final name survives, no .tmp remains. */
    ok = gm_png_write(p_rgb, rgb, W, H, 3) == GM_OK;
    struct rlimit old;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    if (ok && getrlimit(RLIMIT_FSIZE, &old) == 0) {
        struct rlimit small = old;
        small.rlim_cur = 4096;
        ok = setrlimit(RLIMIT_FSIZE, &small) == 0;
        st = gm_png_write(p_rgb, big, BW, BH, 3);
        char msg[512];
        snprintf(msg, sizeof msg, "%s", gm_last_error());
        ok = setrlimit(RLIMIT_FSIZE, &old) == 0 && ok;
        ok = ok && st == GM_ERR_IO && strstr(msg, "rgb.png.tmp") && strstr(msg, strerror(EFBIG)) &&
             png_holds(p_rgb, rgb, W, H, 3) && access(p_tmp, F_OK) != 0;
        gm_test_check(c, ok,
                      "png: a write cut short (file size limit) is GM_ERR_IO, the old file survives, no .tmp: \"%s\"",
                      msg);
    } else {
        gm_test_check(c, 0, "png: getrlimit");
    }
    signal(SIGXFSZ, old_handler);

    gm_status e1 = gm_png_write(p_rgb, rgb, W, H, 2);
    gm_status e2 = gm_png_write(p_rgb, rgb, 0, H, 3);
    gm_status e3 = gm_png_write(p_rgb, NULL, W, H, 3);
    gm_status e4 = gm_png_write(NULL, rgb, W, H, 3);
    gm_status e5 = gm_png_write(p_rgb, rgb, 1 << 15, 1 << 15, 3);
    gm_test_check(c,
                  e1 == GM_ERR_INVALID_ARG && e2 == GM_ERR_INVALID_ARG && e3 == GM_ERR_INVALID_ARG &&
                      e4 == GM_ERR_INVALID_ARG && e5 == GM_ERR_UNSUPPORTED && png_holds(p_rgb, rgb, W, H, 3),
                  "png: bad channels, sizes and nulls are rejected before touching the file");
done:
    if (p_rgb) remove(p_rgb);
    if (p_grey) remove(p_grey);
    if (p_tmp) remove(p_tmp);
    rmdir(dir);
    free(p_rgb);
    free(p_grey);
    free(p_tmp);
    free(p_missing);
    free(p_ro);
    free(p_ro_file);
}

int main(void) {
    gm_test_counts c = {0, 0};
    check_png(&c);
    return gm_test_summary(&c);
}
