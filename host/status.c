/* status.c — thread-local last-error message behind gm_error()/gm_last_error(). The buffer is
 * per thread so loader and writer threads never clobber each other's messages. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define GM_ERROR_CAPACITY 2048

static _Thread_local char gm_error_message[GM_ERROR_CAPACITY];

gm_status gm_error(gm_status status, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(gm_error_message, sizeof gm_error_message, fmt, args);
    va_end(args);
    return status;
}

gm_status gm_error_context(gm_status status, const char *fmt, ...) {
    char prefix[512];
    char previous[GM_ERROR_CAPACITY];
    va_list args;
    va_start(args, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, args);
    va_end(args);
    memcpy(previous, gm_error_message, sizeof previous);
    /* Keep as much of the original message as fits after the prefix. */
    size_t plen = strnlen(prefix, sizeof prefix);
    if (plen >= sizeof gm_error_message) plen = sizeof gm_error_message - 1;
    memcpy(gm_error_message, prefix, plen);
    size_t rest = sizeof gm_error_message - 1 - plen;
    size_t olen = strnlen(previous, sizeof previous);
    if (olen > rest) olen = rest;
    memmove(gm_error_message + plen, previous, olen);
    gm_error_message[plen + olen] = '\0';
    return status;
}

const char *gm_last_error(void) { return gm_error_message[0] ? gm_error_message : "no error recorded"; }

void gm_clear_error(void) { gm_error_message[0] = '\0'; }

const char *gm_status_name(gm_status status) {
    switch (status) {
    case GM_OK: return "ok";
    case GM_ERR_INVALID_ARG: return "invalid argument";
    case GM_ERR_IO: return "i/o error";
    case GM_ERR_FORMAT: return "bad file format";
    case GM_ERR_UNSUPPORTED: return "unsupported";
    case GM_ERR_SHAPE: return "shape mismatch";
    case GM_ERR_NOT_FOUND: return "not found";
    case GM_ERR_NOMEM: return "out of memory";
    case GM_ERR_BACKEND: return "backend failure";
    case GM_ERR_NO_DEVICE: return "no such device";
    }
    return "unknown status";
}

int gm_status_exit_code(gm_status status) {
    switch (status) {
    case GM_OK: return 0;
    case GM_ERR_INVALID_ARG: return 2;
    case GM_ERR_IO: return 3;
    case GM_ERR_FORMAT: return 4;
    case GM_ERR_UNSUPPORTED: return 5;
    case GM_ERR_SHAPE: return 6;
    case GM_ERR_NOT_FOUND: return 7;
    case GM_ERR_NOMEM: return 8;
    case GM_ERR_BACKEND: return 9;
    case GM_ERR_NO_DEVICE: return 10;
    }
    return 1;
}
