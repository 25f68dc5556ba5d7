/* bench_memory.c — the process memory counters of `gradmap bench`: peak resident memory (ru_maxrss,
 * whose high-water mark /proc/self/clear_refs resets, so that a case's peak is its own), minor page
 * faults (getrusage, every thread of the process: the loader's and OpenMP's included) and the heap
 * in use (glibc's mallinfo2, summed over every malloc arena, so allocations on other threads count).
 * mallinfo2 walks the arenas under their locks: called a few times per iteration it costs
 * microseconds. It counts chunks held in glibc's per-thread caches (tcache) as in use, so a
 * thread's transient allocations or its exit can move the figure by a few kB either way. */
#include <malloc.h>
#include <stdio.h>
#include <sys/resource.h>

#include "bench.h"

int gm_bench_reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return 0;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

double gm_bench_peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* kilobytes on Linux */
}

long gm_bench_minor_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

double gm_bench_heap_in_use(void) {
    /* uordblks: bytes of chunks in use in the arenas; hblkhd: bytes of the chunks malloc mapped on
     * their own (large blocks), which uordblks leaves out. */
    struct mallinfo2 mi = mallinfo2();
    return (double)mi.uordblks + (double)mi.hblkhd;
}
