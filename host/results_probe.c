/* results_probe.c — reads an existing results.h5 once in a child process before gradmap trusts
 * the HDF5 library with it in-process (the pattern of weights/h5_probe.c). HDF5 1.10 can read past
 * its buffers on a corrupted file (global-heap object sizes behind variable-length strings) and
 * can loop forever on a damaged chunk index; in the child a fault ends only the child, and a loop
 * is caught because the child reports progress through a pipe after every block it reads: no
 * progress for `stall_ms` and the parent kills it (its own child, by pid). What the child reads:
 * the root attributes resume checks, every string dataset in full (the CSV rebuild and the done
 * set read them all), the small numeric datasets in full, and the last row of each map. The child
 * is strict: anything that exists but cannot be read marks the file corrupt, so the parent never
 * repeats a read that failed (or would have allocated gigabytes) in the child. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "results_internal.h"
#include "weights/h5_util.h"

#define GM_PROBE_OK 0
#define GM_PROBE_UNREADABLE 42 /* H5Fopen fails: the in-process open will word it */
#define GM_PROBE_CORRUPT 43    /* opens, but part of what exists cannot be read */
#define GM_PROBE_BLOCK 256

static void gm_probe_tick(int fd) {
    if (write(fd, ".", 1) < 0) { /* the parent is gone or not listening: nothing to do */ }
}

/* A corrupted length can make HDF5 allocate and clear gigabytes; in the child, cap the address
 * space at what it already uses plus 1 GiB so such a read fails fast instead of hogging memory. */
static void gm_probe_cap_memory(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0;
    int got = f && fscanf(f, "%llu", &pages) == 1;
    if (f) fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    struct rlimit old;
    if (!got || page <= 0 || getrlimit(RLIMIT_AS, &old) != 0) return;
    rlim_t cap = (rlim_t)(pages * (unsigned long long)page + (1ULL << 30));
    if (old.rlim_max != RLIM_INFINITY && cap > old.rlim_max) cap = old.rlim_max;
    struct rlimit lim = {cap, old.rlim_max};
    setrlimit(RLIMIT_AS, &lim);
}

/* Reads a whole dataset block by block: strings as strings, numbers converted to double; with
 * `last_only` just its last row. 0 when something that exists cannot be read. */
static int gm_probe_dataset(hid_t f, const char *name, int last_only, int tick_fd) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return 0;
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    hsize_t dims[8] = {0};
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    int ok = rank >= 1 && rank <= 8 && H5Sget_simple_extent_dims(space, dims, NULL) >= 0 && type >= 0;
    long long rows = ok ? (long long)dims[0] : 0, cols = 1;
    for (int i = 1; ok && i < rank; ++i) cols *= (long long)dims[i];
    ok = ok && cols > 0 && cols <= (1LL << 24);
    long long first = last_only && rows > 0 ? rows - 1 : 0;
    if (ok && H5Tget_class(type) == H5T_STRING && rank == 1) {
        char *block[GM_PROBE_BLOCK];
        for (long long at = first; ok && at < rows; at += GM_PROBE_BLOCK) {
            long long n = rows - at < GM_PROBE_BLOCK ? rows - at : GM_PROBE_BLOCK;
            ok = gm_results_h5_read_strings(d, at, n, block) == GM_OK;
            for (long long k = 0; ok && k < n; ++k) free(block[k]);
            gm_probe_tick(tick_fd);
        }
    } else if (ok) {
        long long per = last_only ? 1 : (16 * GM_PROBE_BLOCK + cols - 1) / cols;
        double *buf = malloc(sizeof *buf * (size_t)(per * cols));
        ok = buf != NULL;
        for (long long at = first; ok && at < rows; at += per) {
            long long n = rows - at < per ? rows - at : per;
            ok = gm_results_h5_read_rows(d, H5T_NATIVE_DOUBLE, at, n, cols, buf) == GM_OK;
            gm_probe_tick(tick_fd);
        }
        free(buf);
    }
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    H5Dclose(d);
    return ok;
}

static herr_t gm_probe_map(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    return gm_probe_dataset(group, name, 1, *(const int *)data) ? 0 : -1;
}

/* Exit code of the child: everything that exists was read, the file is not HDF5-openable (the
 * in-process open words that), or something that exists could not be read (corrupt). */
static int gm_probe_walk(const char *path, int tick_fd) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return GM_PROBE_UNREADABLE;
    int ok = 1;
    static const char *const attrs[] = {"format", "methods", "target_layer", "precision", "model_sha256"};
    for (size_t i = 0; ok && i < sizeof attrs / sizeof attrs[0]; ++i) {
        char *text = NULL;
        if (H5Aexists(f, attrs[i]) > 0) ok = gm_h5_read_string_attr(f, attrs[i], &text) == GM_OK;
        free(text);
    }
    gm_probe_tick(tick_fd);
    static const char *const rows[] = {"path", "width", "height", "status", "topk_class", "topk_prob",
                                       "target_class", "target_logit", "class_names"};
    for (size_t i = 0; ok && i < sizeof rows / sizeof rows[0]; ++i)
        if (H5Lexists(f, rows[i], H5P_DEFAULT) > 0) ok = gm_probe_dataset(f, rows[i], 0, tick_fd);
    if (ok && H5Lexists(f, "errors", H5P_DEFAULT) > 0) {
        static const char *const errs[] = {"errors/index", "errors/path", "errors/message"};
        for (size_t i = 0; ok && i < sizeof errs / sizeof errs[0]; ++i)
            if (H5Lexists(f, errs[i], H5P_DEFAULT) > 0) ok = gm_probe_dataset(f, errs[i], 0, tick_fd);
    }
    if (ok && H5Lexists(f, "maps", H5P_DEFAULT) > 0) {
        hid_t g = H5Gopen2(f, "maps", H5P_DEFAULT);
        ok = g >= 0 && H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, gm_probe_map, &tick_fd) >= 0;
        if (g >= 0) H5Gclose(g);
    }
    H5Fclose(f);
    return ok ? GM_PROBE_OK : GM_PROBE_CORRUPT;
}

gm_status gm_results_probe(const char *path, int lock_fd, int stall_ms) {
    int fds[2];
    if (pipe(fds) != 0) return GM_OK; /* no pipe (limits): read in-process */
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return GM_OK;
    }
    if (pid == 0) {
        /* The child shares the journal's flock; its copy must not outlive a killed parent, or a
         * prompt --resume would find the directory still locked. Closing does not unlock. */
        if (lock_fd >= 0) close(lock_fd);
        close(fds[0]);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        gm_probe_cap_memory();
        _exit(gm_probe_walk(path, fds[1]));
    }
    close(fds[1]);
    int stalled = 0;
    for (;;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int ready = poll(&p, 1, stall_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) {
            stalled = 1;
            kill(pid, SIGKILL);
            break;
        }
        char buf[256];
        ssize_t got = ready > 0 ? read(fds[0], buf, sizeof buf) : 0;
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break; /* the child closed its end: it is exiting */
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return GM_OK;
    if (stalled)
        return gm_error(GM_ERR_FORMAT, "%s: results file is corrupt (the HDF5 library made no progress reading it "
                                       "for %.1f s)", path, stall_ms / 1000.0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == GM_PROBE_CORRUPT)
        return gm_error(GM_ERR_FORMAT, "%s: results file is corrupt (some of its attributes or rows cannot be read)",
                        path);
    if (code != GM_PROBE_OK && code != GM_PROBE_UNREADABLE)
        return gm_error(GM_ERR_FORMAT, "%s: results file is corrupt (the HDF5 library failed reading it%s%s)", path,
                        WIFSIGNALED(status) ? ": " : "", WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "");
    return GM_OK;
}
