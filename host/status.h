/* status.h — gradmap's error model: every library function returns gm_status and, on failure,
 * leaves a human-readable message (with file, layer and shapes where known) in a thread-local
 * buffer read by gm_last_error(). Library code never exits or aborts; only main()s do. */
#ifndef GM_STATUS_H
#define GM_STATUS_H

#include <stddef.h>

/* C linkage also when included from the CUDA (C++) files of kernels/. */
#ifdef __cplusplus
extern "C" {
#endif

typedef enum gm_status {
    GM_OK = 0,
    GM_ERR_INVALID_ARG,  /* caller passed something meaningless (bad flag value, null) */
    GM_ERR_IO,           /* file missing, unreadable, unwritable, disk full */
    GM_ERR_FORMAT,       /* file exists but is not what it claims (not HDF5, corrupt JSON, bad image) */
    GM_ERR_UNSUPPORTED,  /* valid input that gradmap does not handle (unknown layer class) */
    GM_ERR_SHAPE,        /* shapes disagree (weights in file vs layer, input vs model) */
    GM_ERR_NOT_FOUND,    /* a named thing (layer, class, dataset) does not exist */
    GM_ERR_NOMEM,        /* host or device allocation failed */
    GM_ERR_BACKEND,      /* oneDNN / CUDA / cuDNN / cuBLAS reported a failure */
    GM_ERR_NO_DEVICE     /* a device was requested that this machine does not have */
} gm_status;

/* Records a printf-style message as the thread's last error and returns `status`, so that
 * `return gm_error(GM_ERR_IO, "%s: cannot open", path);` reads naturally. */
gm_status gm_error(gm_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prepends context ("model.h5: ") to the current message, keeps the status. */
gm_status gm_error_context(gm_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

const char *gm_last_error(void);
void gm_clear_error(void);
const char *gm_status_name(gm_status status);

/* Process exit code a CLI should use for a status (documented in the README). */
int gm_status_exit_code(gm_status status);

#define GM_TRY(expr)                                  \
    do {                                              \
        gm_status gm_try_status_ = (expr);            \
        if (gm_try_status_ != GM_OK) return gm_try_status_; \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif
