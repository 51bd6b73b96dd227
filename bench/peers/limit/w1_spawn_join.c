/* W1 spawn-join, "the limit": what spawning and joining a task costs when a task is one
 * slot of a preallocated array (a function pointer, its argument and its result) and
 * running them all is one loop of indirect calls. No scheduler, no allocation per task:
 * the floor any runtime's spawn + step + join sits on.
 *
 *   w1_spawn_join [--tasks=1000000]
 */
#define _POSIX_C_SOURCE 200809L
#include "workload.h"

#include <stdio.h>

struct task {
    long (*fn)(long);
    long arg;
    long result;
};

static long work(long i) {
    return i;
}

/* volatile: the compiler must not see which function a task runs, as no runtime can */
static long (*volatile work_fn)(long) = work;

int main(int argc, char** argv) {
    long n = arg(argc, argv, "tasks", 1000000);
    long rss_before = peak_rss_bytes();
    double start = now_seconds();
    struct task* tasks = malloc((size_t)n * sizeof *tasks);
    if (tasks == NULL) {
        return 1;
    }
    for (long i = 0; i < n; ++i) { /* spawn */
        tasks[i].fn = work_fn;
        tasks[i].arg = i;
    }
    for (long i = 0; i < n; ++i) { /* run */
        tasks[i].result = tasks[i].fn(tasks[i].arg);
    }
    long sum = 0;
    for (long i = 0; i < n; ++i) { /* join */
        sum += tasks[i].result;
    }
    free(tasks);
    double elapsed = now_seconds() - start;
    long rss_after = peak_rss_bytes();
    if (sum != n * (n - 1) / 2) {
        fprintf(stderr, "w1: wrong sum %ld\n", sum);
        return 1;
    }
    printf("{\"workload\":\"W1\",\"runtime\":\"limit\",\"tasks\":%ld,\"sum\":%ld,"
           "\"seconds\":%.4f,\"ns_per_task\":%.1f,\"peak_rss_bytes\":%ld,"
           "\"bytes_per_task\":%.1f}\n",
           n, sum, elapsed, elapsed * 1e9 / (double)n, rss_after,
           (double)(rss_after - rss_before) / (double)n);
    return 0;
}
