/* sha256.h — SHA-256 (FIPS 180-4) of byte streams and files, for the provenance attributes of
 * results.h5 (model_sha256): a reader can tell which exact model file produced a set of maps, and
 * `--resume` refuses to mix results from two different models. Self-contained so gradmap needs no
 * crypto library; speed is not critical (hashing a 500 MB model takes a second or two). */
#ifndef GM_SHA256_H
#define GM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct gm_sha256 {
    uint32_t h[8];         /* chaining state */
    uint64_t total;        /* bytes hashed so far */
    unsigned char buf[64]; /* pending partial block */
    size_t used;           /* bytes in buf */
} gm_sha256;

void gm_sha256_init(gm_sha256 *s);
void gm_sha256_update(gm_sha256 *s, const void *data, size_t n);
/* Finishes the hash; `s` must be re-initialised before reuse. */
void gm_sha256_final(gm_sha256 *s, unsigned char digest[32]);
/* Lower-case hexadecimal, NUL-terminated (65 bytes). */
void gm_sha256_hex(const unsigned char digest[32], char hex[65]);
/* Hashes a whole file; GM_ERR_IO naming `path` when it cannot be opened or read. */
gm_status gm_sha256_file(const char *path, char hex[65]);

#endif
