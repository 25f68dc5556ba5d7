/* results_journal.c — the journaling HDF5 file driver behind results.h5 (see results.h,
 * "Durability"). It is the POSIX sec2 driver with one change: a write that lands inside the
 * committed part of the file [0, base) is held in memory (reads see it through an overlay) until
 * gm_journal_commit(); a write at or past `base` goes straight to the file, because no committed
 * structure points there yet. The file on disk therefore only ever holds a committed HDF5 image
 * plus unreferenced bytes past its end, except while a committed journal is being copied in.
 *
 * Journal file layout (all integers little-endian uint64):
 *   [0, 8)    magic "GMRJNL01"
 *   [8, 16)   n_records
 *   [16, 24)  payload_bytes
 *   [24, 32)  new_size: length of results.h5 once the records are applied
 *   [32, 64)  SHA-256 of bytes [8, 32) followed by the payload
 *   [64, ...) payload: n_records times { addr, len, len bytes }
 * The header is written after the payload, then fsync: a journal whose digest matches is complete.
 * Applying it is idempotent, so replaying one that was already applied (a kill between the copy
 * and the emptying) is harmless. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results_internal.h"
#include "sha256.h"

#define GM_JOURNAL_MAGIC "GMRJNL01"
#define GM_JOURNAL_HEADER 64
#define GM_JOURNAL_MAXADDR ((haddr_t)INT64_MAX)

typedef struct gm_jwrite {
    haddr_t addr;
    size_t len;
    unsigned char *data;
} gm_jwrite;

typedef struct gm_jfile {
    H5FD_t pub; /* HDF5's part; must come first */
    int fd;
    gm_journal *j;
    haddr_t eoa, eof;
    haddr_t base; /* committed length: writes below it are held */
    dev_t dev;
    ino_t ino;
    gm_jwrite *held;
    size_t n_held, cap_held;
} gm_jfile;

struct gm_journal {
    char *h5_path;
    int jfd;
    int sync; /* 0: no fsync (survives a killed process, not a power cut) */
    hid_t driver;
    gm_jfile *file;
    int discard;
    char io_error[512];
};

typedef struct gm_journal_info { gm_journal *j; } gm_journal_info;

static void gm_journal_note(gm_journal *j, const char *what, int err) {
    snprintf(j->io_error, sizeof j->io_error, "%s: %s", what, strerror(err));
}

static void gm_put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t gm_get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
}

/* Full pwrite/pread loops: both may return short counts on regular files (signals, limits). */
static int gm_pwrite_all(int fd, const void *buf, size_t n, off_t off) {
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}
/* Reads n bytes; bytes past the end of the file read as zeros (as the sec2 driver does). */
static int gm_pread_all(int fd, void *buf, size_t n, off_t off) {
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) {
            memset(p, 0, n);
            return 0;
        }
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

/* ---- driver callbacks ---- */

static H5FD_t *gm_jfd_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
    const gm_journal_info *info = H5Pget_driver_info(fapl);
    if (!info || !info->j || info->j->file) return NULL;
    gm_journal *j = info->j;
    int oflags = (flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY;
    if (flags & H5F_ACC_TRUNC) oflags |= O_TRUNC;
    if (flags & H5F_ACC_CREAT) oflags |= O_CREAT;
    if (flags & H5F_ACC_EXCL) oflags |= O_EXCL;
    int fd = open(name, oflags | O_CLOEXEC, 0666);
    if (fd < 0) {
        gm_journal_note(j, "open", errno);
        return NULL;
    }
    struct stat st;
    gm_jfile *f = calloc(1, sizeof *f);
    if (!f || fstat(fd, &st) != 0) {
        gm_journal_note(j, f ? "fstat" : "allocation", f ? errno : ENOMEM);
        free(f);
        close(fd);
        return NULL;
    }
    f->fd = fd;
    f->j = j;
    f->eof = (haddr_t)st.st_size;
    f->base = f->eof; /* whatever is on disk now is the committed state (recovered before) */
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    j->file = f;
    return &f->pub;
}

static void gm_jfd_drop_held(gm_jfile *f) {
    for (size_t i = 0; i < f->n_held; ++i) free(f->held[i].data);
    free(f->held);
    f->held = NULL;
    f->n_held = f->cap_held = 0;
}

static herr_t gm_jfd_close(H5FD_t *file) {
    gm_jfile *f = (gm_jfile *)file;
    gm_journal *j = f->j;
    herr_t ret = 0;
    if (!j->discard && gm_journal_commit(j) != GM_OK) ret = -1;
    gm_jfd_drop_held(f);
    if (close(f->fd) != 0 && ret == 0) {
        gm_journal_note(j, "close", errno);
        ret = -1;
    }
    j->file = NULL;
    free(f);
    return ret;
}

static int gm_jfd_cmp(const H5FD_t *a, const H5FD_t *b) {
    const gm_jfile *x = (const gm_jfile *)a, *y = (const gm_jfile *)b;
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
    return 0;
}

static herr_t gm_jfd_query(const H5FD_t *file, unsigned long *flags) {
    (void)file;
    /* As sec2, without POSIX_COMPAT_HANDLE: nobody may write behind the journal's back. */
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
    return 0;
}

static haddr_t gm_jfd_get_eoa(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return ((const gm_jfile *)file)->eoa;
}
static herr_t gm_jfd_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr) {
    (void)type;
    if (addr > GM_JOURNAL_MAXADDR) return -1;
    ((gm_jfile *)file)->eoa = addr;
    return 0;
}
static haddr_t gm_jfd_get_eof(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return ((const gm_jfile *)file)->eof;
}
static herr_t gm_jfd_get_handle(H5FD_t *file, hid_t fapl, void **handle) {
    (void)fapl;
    *handle = file;
    return 0;
}

static herr_t gm_jfd_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buf) {
    (void)type;
    (void)dxpl;
    gm_jfile *f = (gm_jfile *)file;
    if (addr > GM_JOURNAL_MAXADDR || size > GM_JOURNAL_MAXADDR - addr || addr + size > f->eoa) return -1;
    if (gm_pread_all(f->fd, buf, size, (off_t)addr) != 0) {
        gm_journal_note(f->j, "read", errno);
        return -1;
    }
    /* Held writes are newer than the file's bytes; later ones newer than earlier ones. */
    for (size_t i = 0; i < f->n_held; ++i) {
        const gm_jwrite *w = &f->held[i];
        haddr_t lo = w->addr > addr ? w->addr : addr;
        haddr_t hi = w->addr + w->len < addr + size ? w->addr + w->len : addr + size;
        if (lo < hi) memcpy((unsigned char *)buf + (lo - addr), w->data + (lo - w->addr), hi - lo);
    }
    return 0;
}

static herr_t gm_jfd_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                           const void *buf) {
    (void)type;
    (void)dxpl;
    gm_jfile *f = (gm_jfile *)file;
    if (addr > GM_JOURNAL_MAXADDR || size > GM_JOURNAL_MAXADDR - addr || addr + size > f->eoa) return -1;
    if (addr >= f->base) {
        if (gm_pwrite_all(f->fd, buf, size, (off_t)addr) != 0) {
            gm_journal_note(f->j, "write", errno);
            return -1;
        }
        /* A held write that straddles `base` and overlaps this one is older: update its copy. */
        for (size_t i = 0; i < f->n_held; ++i) {
            gm_jwrite *w = &f->held[i];
            haddr_t lo = w->addr > addr ? w->addr : addr;
            haddr_t hi = w->addr + w->len < addr + size ? w->addr + w->len : addr + size;
            if (lo < hi) memcpy(w->data + (lo - w->addr), (const unsigned char *)buf + (lo - addr), hi - lo);
        }
    } else {
        gm_jwrite *same = NULL;
        for (size_t i = f->n_held; i-- > 0;) {
            gm_jwrite *w = &f->held[i];
            if (w->addr == addr && w->len == size) {
                same = w;
                break;
            }
            if (w->addr < addr + size && addr < w->addr + w->len) break; /* overlap: keep order */
        }
        if (same) {
            memcpy(same->data, buf, size);
        } else {
            if (f->n_held == f->cap_held) {
                size_t cap = f->cap_held ? 2 * f->cap_held : 64;
                gm_jwrite *grown = realloc(f->held, cap * sizeof *grown);
                if (!grown) {
                    gm_journal_note(f->j, "holding a write", ENOMEM);
                    return -1;
                }
                f->held = grown;
                f->cap_held = cap;
            }
            unsigned char *copy = malloc(size ? size : 1);
            if (!copy) {
                gm_journal_note(f->j, "holding a write", ENOMEM);
                return -1;
            }
            memcpy(copy, buf, size);
            f->held[f->n_held++] = (gm_jwrite){addr, size, copy};
        }
    }
    if (addr + size > f->eof) f->eof = addr + size;
    return 0;
}

static herr_t gm_jfd_flush(H5FD_t *file, hid_t dxpl, hbool_t closing) {
    (void)file;
    (void)dxpl;
    (void)closing;
    return 0; /* the commit is explicit (gm_journal_commit) or done by close */
}

static herr_t gm_jfd_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing) {
    (void)dxpl;
    (void)closing;
    gm_jfile *f = (gm_jfile *)file;
    /* The length change is part of the next commit (new_size), never done in place now. */
    f->eof = f->eoa;
    return 0;
}

/* ---- commit and recovery ---- */

static gm_status gm_journal_fail(gm_journal *j, const char *what, int err) {
    gm_journal_note(j, what, err);
    return gm_error(GM_ERR_IO, "%s: cannot commit the batch (%s)", j->h5_path, j->io_error);
}

/* Copies the records of a complete journal into the file, sets its length and fsyncs it. */
static int gm_journal_apply(int fd, const unsigned char *payload, uint64_t payload_bytes, uint64_t n_records,
                            uint64_t new_size, int sync) {
    uint64_t pos = 0;
    for (uint64_t i = 0; i < n_records; ++i) {
        if (payload_bytes - pos < 16) return -2;
        uint64_t addr = gm_get_u64(payload + pos), len = gm_get_u64(payload + pos + 8);
        pos += 16;
        if (len > payload_bytes - pos || addr > (uint64_t)INT64_MAX - len) return -2;
        if (gm_pwrite_all(fd, payload + pos, (size_t)len, (off_t)addr) != 0) return -1;
        pos += len;
    }
    if (pos != payload_bytes || new_size > (uint64_t)INT64_MAX) return -2;
    if (ftruncate(fd, (off_t)new_size) != 0 || (sync && fsync(fd) != 0)) return -1;
    return 0;
}

gm_status gm_journal_commit(gm_journal *j) {
    gm_jfile *f = j->file;
    if (!f) return GM_OK;
    haddr_t new_size = f->eoa;
    /* Bytes past `base` are referenced only by the held metadata: durable before the commit. */
    if (j->sync && fsync(f->fd) != 0) return gm_journal_fail(j, "fsync", errno);
    if (f->n_held == 0 && new_size >= f->base) {
        if (ftruncate(f->fd, (off_t)new_size) != 0 || (j->sync && fsync(f->fd) != 0))
            return gm_journal_fail(j, "ftruncate", errno);
        f->base = f->eof = new_size;
        return GM_OK;
    }
    uint64_t payload_bytes = 0;
    for (size_t i = 0; i < f->n_held; ++i) payload_bytes += 16 + f->held[i].len;
    unsigned char *buf = malloc(GM_JOURNAL_HEADER + payload_bytes);
    if (!buf) return gm_journal_fail(j, "journal buffer", ENOMEM);
    unsigned char *p = buf + GM_JOURNAL_HEADER;
    for (size_t i = 0; i < f->n_held; ++i) {
        gm_put_u64(p, f->held[i].addr);
        gm_put_u64(p + 8, f->held[i].len);
        memcpy(p + 16, f->held[i].data, f->held[i].len);
        p += 16 + f->held[i].len;
    }
    memcpy(buf, GM_JOURNAL_MAGIC, 8);
    gm_put_u64(buf + 8, f->n_held);
    gm_put_u64(buf + 16, payload_bytes);
    gm_put_u64(buf + 24, new_size);
    gm_sha256 sha;
    gm_sha256_init(&sha);
    gm_sha256_update(&sha, buf + 8, 24);
    gm_sha256_update(&sha, buf + GM_JOURNAL_HEADER, payload_bytes);
    gm_sha256_final(&sha, buf + 32);
    gm_status st = GM_OK;
    /* Payload first, header last, one fsync: a complete digest proves a complete journal. */
    if (gm_pwrite_all(j->jfd, buf + GM_JOURNAL_HEADER, payload_bytes, GM_JOURNAL_HEADER) != 0 ||
        gm_pwrite_all(j->jfd, buf, GM_JOURNAL_HEADER, 0) != 0 || (j->sync && fsync(j->jfd) != 0)) {
        st = gm_journal_fail(j, "writing the journal", errno);
        /* Not committed: the file is untouched below base, a later open ignores this journal. */
        if (ftruncate(j->jfd, 0) != 0) { /* best effort; recovery checks the digest anyway */ }
    } else {
        int rc = gm_journal_apply(f->fd, buf + GM_JOURNAL_HEADER, payload_bytes, f->n_held, new_size, j->sync);
        if (rc != 0) {
            /* Committed but not applied: the journal stays, and the next open replays it. */
            st = gm_journal_fail(j, "applying the journal", rc == -1 ? errno : EINVAL);
        } else if (ftruncate(j->jfd, 0) != 0) {
            st = gm_journal_fail(j, "emptying the journal", errno);
        } else {
            gm_jfd_drop_held(f);
            f->base = f->eof = new_size;
        }
    }
    free(buf);
    if (st != GM_OK) j->discard = 1; /* the in-memory state no longer matches the file */
    return st;
}

gm_status gm_journal_recover(const char *h5_path, int jfd) {
    struct stat st;
    if (fstat(jfd, &st) != 0) return gm_error(GM_ERR_IO, "%s.journal: cannot stat (%s)", h5_path, strerror(errno));
    if (st.st_size == 0) return GM_OK;
    unsigned char head[GM_JOURNAL_HEADER];
    uint64_t payload_bytes = 0, n_records = 0, new_size = 0;
    int complete = 0;
    unsigned char *payload = NULL;
    if (st.st_size >= GM_JOURNAL_HEADER && gm_pread_all(jfd, head, sizeof head, 0) == 0 &&
        memcmp(head, GM_JOURNAL_MAGIC, 8) == 0) {
        n_records = gm_get_u64(head + 8);
        payload_bytes = gm_get_u64(head + 16);
        new_size = gm_get_u64(head + 24);
        if (payload_bytes <= (uint64_t)st.st_size - GM_JOURNAL_HEADER) {
            payload = malloc(payload_bytes ? payload_bytes : 1);
            if (!payload) return gm_error(GM_ERR_NOMEM, "%s.journal: out of memory reading it", h5_path);
            if (gm_pread_all(jfd, payload, payload_bytes, GM_JOURNAL_HEADER) != 0) {
                free(payload);
                return gm_error(GM_ERR_IO, "%s.journal: cannot read (%s)", h5_path, strerror(errno));
            }
            gm_sha256 sha;
            unsigned char digest[32];
            gm_sha256_init(&sha);
            gm_sha256_update(&sha, head + 8, 24);
            gm_sha256_update(&sha, payload, payload_bytes);
            gm_sha256_final(&sha, digest);
            complete = memcmp(digest, head + 32, 32) == 0;
        }
    }
    gm_status status = GM_OK;
    if (complete) {
        int fd = open(h5_path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            status = gm_error(GM_ERR_IO, "%s: cannot open to replay its journal (%s)", h5_path, strerror(errno));
        } else {
            int rc = gm_journal_apply(fd, payload, payload_bytes, n_records, new_size, 1);
            if (rc == -2)
                status = gm_error(GM_ERR_FORMAT, "%s.journal: malformed records behind a valid digest", h5_path);
            else if (rc != 0)
                status = gm_error(GM_ERR_IO, "%s: cannot replay its journal (%s)", h5_path, strerror(errno));
            close(fd);
        }
    }
    free(payload);
    if (status != GM_OK) return status;
    /* Applied, or incomplete (the kill came before the commit point): either way it is done. */
    if (ftruncate(jfd, 0) != 0 || fsync(jfd) != 0)
        return gm_error(GM_ERR_IO, "%s.journal: cannot empty (%s)", h5_path, strerror(errno));
    return GM_OK;
}

/* ---- instance ---- */

gm_status gm_journal_new(const char *h5_path, int jfd, int sync, gm_journal **out) {
    *out = NULL;
    gm_journal *j = calloc(1, sizeof *j);
    if (!j || !(j->h5_path = strdup(h5_path))) {
        free(j);
        return gm_error(GM_ERR_NOMEM, "%s: out of memory", h5_path);
    }
    j->jfd = jfd;
    j->sync = sync;
    H5FD_class_t cls;
    memset(&cls, 0, sizeof cls);
    cls.name = "gradmap_journal";
    cls.maxaddr = GM_JOURNAL_MAXADDR;
    cls.fc_degree = H5F_CLOSE_WEAK;
    cls.fapl_size = sizeof(gm_journal_info);
    cls.open = gm_jfd_open;
    cls.close = gm_jfd_close;
    cls.cmp = gm_jfd_cmp;
    cls.query = gm_jfd_query;
    cls.get_eoa = gm_jfd_get_eoa;
    cls.set_eoa = gm_jfd_set_eoa;
    cls.get_eof = gm_jfd_get_eof;
    cls.get_handle = gm_jfd_get_handle;
    cls.read = gm_jfd_read;
    cls.write = gm_jfd_write;
    cls.flush = gm_jfd_flush;
    cls.truncate = gm_jfd_truncate;
    H5FD_mem_t map[H5FD_MEM_NTYPES] = H5FD_FLMAP_DICHOTOMY;
    memcpy(cls.fl_map, map, sizeof map);
    j->driver = H5FDregister(&cls); /* HDF5 keeps its own copy of the class */
    if (j->driver < 0) {
        free(j->h5_path);
        free(j);
        return gm_error(GM_ERR_IO, "%s: cannot register the journaling HDF5 driver", h5_path);
    }
    *out = j;
    return GM_OK;
}

hid_t gm_journal_fapl(gm_journal *j) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return -1;
    gm_journal_info info = {j};
    if (H5Pset_driver(fapl, j->driver, &info) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

void gm_journal_discard(gm_journal *j) {
    if (j) j->discard = 1;
}

const char *gm_journal_io_error(const gm_journal *j) { return j ? j->io_error : ""; }

void gm_journal_free(gm_journal **jp) {
    gm_journal *j = *jp;
    if (!j) return;
    if (j->driver >= 0) H5FDunregister(j->driver);
    free(j->h5_path);
    free(j);
    *jp = NULL;
}
