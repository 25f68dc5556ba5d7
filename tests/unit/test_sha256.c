/* test_sha256.c — host/sha256.c against the FIPS 180-4 / NIST example vectors ("", "abc", the
 * 448-bit two-block message, one million 'a'), fed whole and in awkward pieces (1, 63, 64, 65
 * bytes), and gm_sha256_file on a file holding "abc"; a wrong digest must not compare equal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/sha256.h"
#include "test_support.h"

static void gm_hash_pieces(const char *msg, size_t len, size_t piece, char hex[65]) {
    gm_sha256 s;
    unsigned char d[32];
    gm_sha256_init(&s);
    for (size_t at = 0; at < len; at += piece) gm_sha256_update(&s, msg + at, len - at < piece ? len - at : piece);
    gm_sha256_final(&s, d);
    gm_sha256_hex(d, hex);
}

int main(void) {
    gm_test_counts c = {0};
    static const struct { const char *msg; const char *hex; } vec[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    const size_t pieces[] = {1000000, 1, 63, 64, 65};
    for (size_t v = 0; v < sizeof vec / sizeof vec[0]; ++v)
        for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; ++p) {
            char hex[65];
            gm_hash_pieces(vec[v].msg, strlen(vec[v].msg), pieces[p], hex);
            gm_test_check(&c, strcmp(hex, vec[v].hex) == 0, "sha256(\"%.12s...\") in pieces of %zu = %s", vec[v].msg,
                          pieces[p], hex);
        }
    char *million = malloc(1000000);
    if (million) {
        memset(million, 'a', 1000000);
        const size_t mp[] = {1000000, 4096, 65, 7};
        for (size_t p = 0; p < sizeof mp / sizeof mp[0]; ++p) {
            char hex[65];
            gm_hash_pieces(million, 1000000, mp[p], hex);
            gm_test_check(&c, strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
                          "sha256(10^6 x 'a') in pieces of %zu = %s", mp[p], hex);
        }
        free(million);
    }
    /* A one-bit change must change the digest (a wrong result is not accepted). */
    char hex_abd[65];
    gm_hash_pieces("abd", 3, 3, hex_abd);
    gm_test_check(&c, strcmp(hex_abd, vec[1].hex) != 0, "sha256(\"abd\") differs from sha256(\"abc\")");

    char path[] = "/tmp/gm_sha256_XXXXXX";
    int fd = mkstemp(path);
    int wrote = fd >= 0 && write(fd, "abc", 3) == 3;
    if (fd >= 0) close(fd);
    char hex[65];
    gm_status st = wrote ? gm_sha256_file(path, hex) : GM_ERR_IO;
    gm_test_check(&c, st == GM_OK && strcmp(hex, vec[1].hex) == 0, "gm_sha256_file(\"abc\" file) = %s", st == GM_OK ? hex : "error");
    unlink(path);
    st = gm_sha256_file("/nonexistent/gm_model.h5", hex);
    gm_test_check(&c, st == GM_ERR_IO && strstr(gm_last_error(), "/nonexistent/gm_model.h5") != NULL,
                  "missing file: GM_ERR_IO naming it (%s)", gm_last_error());
    return gm_test_summary(&c);
}
