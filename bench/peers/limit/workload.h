/* What the C limit programs share: `--name=N` arguments, peak RSS, the clock. */
#ifndef CORIO_BENCH_LIMIT_WORKLOAD_H
#define CORIO_BENCH_LIMIT_WORKLOAD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static long arg(int argc, char** argv, const char* name, long fallback) {
    size_t len = strlen(name);
    for (int i = 1; i < argc; ++i) {
        if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, name, len) == 0 &&
            argv[i][2 + len] == '=') {
            return strtol(argv[i] + 3 + len, NULL, 10);
        }
    }
    return fallback;
}

/* VmHWM of /proc/self/status: the peak RSS of this program (getrusage's ru_maxrss
 * carries the parent's across fork and exec) */
static long peak_rss_bytes(void) {
    long kib = -1;
    FILE* f = fopen("/proc/self/status", "r");
    if (f != NULL) {
        char line[256];
        while (kib < 0 && fgets(line, sizeof line, f) != NULL) {
            if (strncmp(line, "VmHWM:", 6) == 0) {
                kib = strtol(line + 6, NULL, 10);
            }
        }
        fclose(f);
    }
    if (kib < 0) {
        struct rusage usage;
        getrusage(RUSAGE_SELF, &usage);
        kib = usage.ru_maxrss;
    }
    return kib * 1024L;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
