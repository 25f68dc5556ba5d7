/* test_results_kill.c — durability of the results writer (results.h, "Durability").
 *  1. SIGKILL at seeded random moments: a child appends small batches in a loop (a pipe byte after
 *     each append returns); the parent kills it, reopens with resume = 1 and checks that the file
 *     opens, every committed row equals the generator, and the committed count is the
 *     acknowledged batches or one more; the same directory is killed again and again, then
 *     finished, and must equal an uninterrupted run (results.h5 rows and summary.csv bytes).
 *  2. The two crash windows the random kills rarely hit, staged exactly: a kill while a committed
 *     journal was being copied in (results.h5 half-updated: resume replays it) and a kill before
 *     the journal was complete (bad digest, junk past the end of results.h5, an uncommitted CSV
 *     tail: resume drops all three).
 *  3. Disk full (RLIMIT_FSIZE in a child): the append fails with GM_ERR_IO naming the file, the
 *     writer refuses more, and resume continues from the last committed batch. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/sha256.h"
#include "results_fixture.h"
#include "test_support.h"

#define KILL_BATCH 4
/* 14 kills over 240 items by default; GM_RESULTS_KILL_TRIALS=N runs N kills over 8*N items
 * (a longer soak than CI needs). */
#define KILL_TRIALS_DEFAULT 14
#define KILL_ITEMS_DEFAULT 240

/* ---- 1. random SIGKILLs ---- */
static void test_random_kills(gm_test_counts *c, const char *base, const char *model, const char *ref, int trials,
                              long long items) {
    char *dir = fx_cat(base, "kill");
    char *h5 = fx_cat(dir, "results.h5"), *journal = fx_cat(dir, "results.h5.journal");
    gm_test_rng rng;
    gm_test_rng_seed(&rng, 20240611);
    long long committed = 0;
    int kills = 0, finished = 0, in_window = 0, extra = 0, lock_waits = 0;
    for (int trial = 0; trial < trials && !finished; ++trial) {
        int fds[2];
        if (pipe(fds) != 0) break;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            _exit(fx_resume_and_append(dir, model, items, KILL_BATCH, fds[1], 7919u * (unsigned)(trial + 1)) ? 0 : 2);
        }
        close(fds[1]);
        /* Early trials die young (inside open, creation, recovery); later ones mid-stream. */
        double ms = trial < 3 ? 8.0 * gm_test_rng_uniform(&rng) : 30.0 * gm_test_rng_uniform(&rng);
        fx_sleep_us((long)(ms * 1000.0));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        long long acks = 0;
        char buf[256];
        ssize_t got;
        while ((got = read(fds[0], buf, sizeof buf)) > 0) acks += got;
        close(fds[0]);
        int killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        gm_test_check(c, killed || finished, "trial %d: child killed after %.1f ms (%lld batches acknowledged)%s", trial,
                      ms, acks, finished ? ", it had finished" : "");
        kills += killed;
        long jsize = fx_file_size(journal);
        if (jsize > 0) ++in_window;
        /* Outside the journal window the file is already a readable HDF5 file for anyone. */
        if (jsize <= 0 && fx_file_size(h5) >= 0) {
            fx_file plain;
            int ok = fx_file_read(h5, &plain);
            gm_test_check(c, ok, "trial %d: results.h5 opens with plain HDF5 before any recovery (%lld rows)", trial,
                          ok ? plain.n : -1);
            if (ok) fx_file_free(&plain);
        }
        gm_results_spec spec;
        fx_spec(&spec, dir, model);
        gm_results *r = NULL;
        gm_status st = gm_results_open(&spec, 1, &r);
        /* Only if the kill landed between the probe's fork and its first instruction can an orphaned
         * probe still share the lock for the few milliseconds it runs: wait for it then. */
        for (int wait = 0; wait < 200 && st == GM_ERR_IO && strstr(gm_last_error(), "another gradmap run"); ++wait) {
            ++lock_waits;
            fx_sleep_us(10000);
            st = gm_results_open(&spec, 1, &r);
        }
        long long now = st == GM_OK ? gm_results_count(r) : -1;
        gm_status cst = gm_results_close(&r);
        gm_test_check(c, st == GM_OK && cst == GM_OK, "trial %d: resume opens the killed run (%s)", trial,
                      st == GM_OK ? "ok" : gm_last_error());
        long long lo = committed + acks * KILL_BATCH, hi = lo + KILL_BATCH;
        if (lo > items) lo = items;
        if (hi > items) hi = items;
        gm_test_check(c, now == lo || now == hi, "trial %d: %lld rows committed, %lld acknowledged (or one batch more)",
                      trial, now, lo);
        extra += now == hi && hi != lo;
        fx_file f;
        char why[256] = "";
        int ok = fx_file_read(h5, &f);
        gm_test_check(c, ok && f.n == now && fx_file_verify(&f, why, sizeof why),
                      "trial %d: every committed row reads back exactly %s", trial, why);
        if (ok) fx_file_free(&f);
        if (now >= 0) committed = now;
    }
    fprintf(stderr, "  %d kills, %d with a non-empty journal, %d with the in-flight batch committed, %d lock waits\n",
            kills, in_window, extra, lock_waits);
    gm_test_check(c, kills >= trials / 2, "most trials were really killed mid-run (%d of %d)", kills, trials);
    int done = fx_resume_and_append(dir, model, items, KILL_BATCH, -1, 0);
    gm_test_check(c, done, "resume finishes the run");
    fx_check_same_as_reference(c, dir, ref, "killed and resumed run");
    free(h5), free(journal), free(dir);
}

/* ---- 2. staged crash windows ---- */

static void gm_put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = (unsigned char)(v >> (8 * i));
}

/* Builds the journal that turns file A into file B (records where they differ inside A's length)
 * as the writer lays it out; `corrupt` spoils the digest. Returns the number of records. */
static int gm_stage_journal(const char *journal, const unsigned char *a, long na, const unsigned char *b, long nb,
                            int corrupt, long long *ranges) {
    unsigned char *buf = malloc(64 + 2 * (size_t)nb + 16 * (size_t)na);
    size_t pos = 64;
    int n = 0;
    for (long i = 0; i < na && i < nb;) {
        if (a[i] == b[i]) {
            ++i;
            continue;
        }
        long j = i;
        while (j < na && j < nb && a[j] != b[j]) ++j;
        gm_put_u64(buf + pos, (uint64_t)i);
        gm_put_u64(buf + pos + 8, (uint64_t)(j - i));
        memcpy(buf + pos + 16, b + i, (size_t)(j - i));
        pos += 16 + (size_t)(j - i);
        if (ranges) ranges[2 * n] = i, ranges[2 * n + 1] = j;
        ++n;
        i = j;
    }
    memcpy(buf, "GMRJNL01", 8);
    gm_put_u64(buf + 8, (uint64_t)n);
    gm_put_u64(buf + 16, pos - 64);
    gm_put_u64(buf + 24, (uint64_t)nb);
    gm_sha256 s;
    gm_sha256_init(&s);
    gm_sha256_update(&s, buf + 8, 24);
    gm_sha256_update(&s, buf + 64, pos - 64);
    gm_sha256_final(&s, buf + 32);
    if (corrupt) buf[pos - 1] ^= 0x5a;
    fx_write_file(journal, buf, pos);
    free(buf);
    return n;
}

static void test_staged_windows(gm_test_counts *c, const char *base, const char *model, const char *ref,
                                long long items) {
    char *dir = fx_cat(base, "staged");
    char *h5 = fx_cat(dir, "results.h5"), *journal = fx_cat(dir, "results.h5.journal"), *csv = fx_cat(dir, "summary.csv");
    /* State A: 40 rows; state B: 48 rows. */
    int ok = fx_resume_and_append(dir, model, 40, 8, -1, 0);
    long na = 0, nb = 0, ncsv_a = 0, ncsv_b = 0;
    unsigned char *a = ok ? (unsigned char *)fx_slurp(h5, &na) : NULL;
    char *csv_a = fx_slurp(csv, &ncsv_a);
    ok = ok && fx_resume_and_append(dir, model, 48, 8, -1, 0);
    unsigned char *b = ok ? (unsigned char *)fx_slurp(h5, &nb) : NULL;
    char *csv_b = fx_slurp(csv, &ncsv_b);
    gm_test_check(c, a && b && csv_a && csv_b && nb >= na, "staged states A (%ld bytes) and B (%ld bytes)", na, nb);
    if (!(a && b && csv_a && csv_b)) goto out;

    /* Kill while copying a committed journal: B's tail is on disk, half the records applied. */
    long long ranges[2 * 4096];
    unsigned char *mixed = malloc((size_t)nb);
    memcpy(mixed, a, (size_t)na);
    memcpy(mixed + na, b + na, (size_t)(nb - na));
    int n = gm_stage_journal(journal, a, na, b, nb, 0, ranges);
    for (int k = 0; k < n / 2 && k < 4096; ++k) memcpy(mixed + ranges[2 * k], b + ranges[2 * k], (size_t)(ranges[2 * k + 1] - ranges[2 * k]));
    fx_write_file(h5, mixed, (size_t)nb);
    fx_write_file(csv, csv_b, (size_t)ncsv_b);
    gm_test_check(c, n > 0, "staged a committed journal of %d records, %d applied before the 'kill'", n, n / 2);
    ok = fx_resume_and_append(dir, model, 48, 8, -1, 0);
    fx_file f;
    char why[256] = "";
    int read = fx_file_read(h5, &f);
    gm_test_check(c, ok && read && f.n == 48 && fx_file_verify(&f, why, sizeof why),
                  "resume replays it: 48 rows, all exact %s", why);
    if (read) fx_file_free(&f);
    gm_test_check(c, fx_file_size(journal) <= 0, "journal emptied after the replay");

    /* Kill before the commit point: incomplete journal, junk after A, uncommitted CSV rows. */
    unsigned char *junk = malloc((size_t)nb + 8192);
    memcpy(junk, a, (size_t)na);
    gm_test_rng rng;
    gm_test_rng_seed(&rng, 99);
    for (long i = na; i < nb + 8192; ++i) junk[i] = (unsigned char)(gm_test_rng_uniform(&rng) * 256.0);
    gm_stage_journal(journal, a, na, b, nb, 1, NULL);
    fx_write_file(h5, junk, (size_t)nb + 8192);
    fx_write_file(csv, csv_b, (size_t)ncsv_b - 7); /* the in-flight batch's rows, cut mid-row */
    gm_results_spec spec;
    fx_spec(&spec, dir, model);
    gm_results *r = NULL;
    gm_status st = gm_results_open(&spec, 1, &r);
    long long rows = st == GM_OK ? gm_results_count(r) : -1;
    gm_results_close(&r);
    long ncsv_now = 0;
    char *csv_now = fx_slurp(csv, &ncsv_now);
    gm_test_check(c, st == GM_OK && rows == 40, "an incomplete journal is ignored: back to 40 rows (%lld, %s)", rows,
                  st == GM_OK ? "ok" : gm_last_error());
    gm_test_check(c, csv_now && ncsv_now == ncsv_a && !memcmp(csv_now, csv_a, (size_t)ncsv_a),
                  "summary.csv cut back to the committed %ld bytes (%ld)", ncsv_a, ncsv_now);
    free(csv_now);
    read = fx_file_read(h5, &f);
    gm_test_check(c, read && f.n == 40 && fx_file_verify(&f, why, sizeof why), "the 40 committed rows are exact %s", why);
    if (read) fx_file_free(&f);

    /* summary.csv lost entirely: rebuilt from results.h5. */
    unlink(csv);
    ok = fx_resume_and_append(dir, model, items, 8, -1, 0);
    gm_test_check(c, ok, "resume with summary.csv deleted, then finish");
    fx_check_same_as_reference(c, dir, ref, "staged crashes, rebuilt CSV");
    free(mixed), free(junk);

    /* A complete journal left without its results.h5 must not be replayed onto a new run. */
    char *stale = fx_cat(base, "stale"), *stale_journal = fx_cat(stale, "results.h5.journal");
    mkdir(stale, 0755);
    gm_stage_journal(stale_journal, a, na, b, nb, 0, NULL);
    fx_spec(&spec, stale, model);
    st = gm_results_open(&spec, 1, &r);
    long jsize = fx_file_size(stale_journal);
    gm_results_close(&r);
    st = st == GM_OK ? gm_results_open(&spec, 1, &r) : st;
    rows = st == GM_OK ? gm_results_count(r) : -1;
    gm_results_close(&r);
    gm_test_check(c, st == GM_OK && jsize == 0 && rows == 0,
                  "a stale journal without results.h5 is discarded by a new run (journal %ld bytes, %lld rows)", jsize,
                  rows);
    free(stale), free(stale_journal);
out:
    free(a), free(b), free(csv_a), free(csv_b);
    free(h5), free(journal), free(csv), free(dir);
}

/* ---- 3. disk full ---- */
static void test_disk_full(gm_test_counts *c, const char *base, const char *model, const char *ref, long long items) {
    char *dir = fx_cat(base, "full");
    char *h5 = fx_cat(dir, "results.h5");
    int ok = fx_resume_and_append(dir, model, 32, 8, -1, 0);
    long size = fx_file_size(h5);
    pid_t pid = fork();
    if (pid == 0) {
        /* The child may grow no file past results.h5's current size plus a little. */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {(rlim_t)size + 512, (rlim_t)size + 512};
        setrlimit(RLIMIT_FSIZE, &lim);
        gm_results_spec spec;
        fx_spec(&spec, dir, model);
        gm_results *r = NULL;
        if (gm_results_open(&spec, 1, &r) != GM_OK) _exit(10);
        fx_batch x;
        gm_status st = GM_OK;
        long long i = gm_results_count(r);
        for (; st == GM_OK && i < items; i += 8) {
            fx_build_range(&x, i, 8);
            st = gm_results_append_batch(r, &x.b);
        }
        int named = strstr(gm_last_error(), dir) != NULL;
        fprintf(stderr, "  disk-full child: %s\n", gm_last_error());
        fx_build_range(&x, i, 8);
        gm_status again = gm_results_append_batch(r, &x.b);
        gm_results_close(&r);
        _exit(st == GM_ERR_IO && named && again == GM_ERR_IO ? 0 : 11);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    gm_test_check(c, ok && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "disk full: append fails with GM_ERR_IO naming the path, later appends are refused (exit %d)",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    fx_file f;
    char why[256] = "";
    int read = fx_file_read(h5, &f);
    gm_test_check(c, read && f.n >= 32 && fx_file_verify(&f, why, sizeof why),
                  "earlier results survive the failure (%lld rows, exact) %s", read ? f.n : -1, why);
    if (read) fx_file_free(&f);
    ok = fx_resume_and_append(dir, model, items, 8, -1, 0);
    gm_test_check(c, ok, "resume after disk full finishes the run");
    fx_check_same_as_reference(c, dir, ref, "disk-full then resumed run");
    free(h5), free(dir);
}

int main(void) {
    gm_test_counts c = {0};
    char base[] = "/tmp/gm_results_kill_XXXXXX";
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    char *model = fx_cat(base, "model.h5"), *ref = fx_cat(base, "reference");
    fx_write_file(model, "abc", 3);
    int trials = KILL_TRIALS_DEFAULT;
    long long items = KILL_ITEMS_DEFAULT;
    const char *soak = getenv("GM_RESULTS_KILL_TRIALS");
    if (soak && atoi(soak) >= 6) {
        trials = atoi(soak);
        items = 8LL * trials;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int ok = fx_write_run(ref, model, items, KILL_BATCH);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    gm_test_check(&c, ok, "uninterrupted reference run: %lld items in batches of %d, %.0f ms", items, KILL_BATCH,
                  (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    test_random_kills(&c, base, model, ref, trials, items);
    test_staged_windows(&c, base, model, ref, items);
    test_disk_full(&c, base, model, ref, items);
    free(model), free(ref);
    if (!getenv("GM_KEEP")) fx_rm_rf(base);
    else fprintf(stderr, "kept %s\n", base);
    return gm_test_summary(&c);
}
