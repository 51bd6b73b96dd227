/* W2 timers, "the limit": N sleepers (1,000,000), sleeper i due (i*7919) % 1000 ms after
 * the start, on a hashed timer wheel of 1,000 one-millisecond slots (every delay is under
 * a second, so one level suffices): arming is a push onto a slot's intrusive list, and
 * the loop sleeps until each millisecond (clock_nanosleep, absolute) and calls every
 * expired sleeper's callback. 16 bytes per sleeper; the wall time is the longest delay.
 *
 *   w2_timers [--tasks=1000000]
 */
#define _POSIX_C_SOURCE 200809L
#include "workload.h"

#include <stdio.h>

#define SLOTS 1000

struct sleeper {
    struct sleeper* next;
    long index;
};

static long woken;

static void wake(struct sleeper* s) {
    woken += s->index >= 0;
}

static void (*volatile wake_fn)(struct sleeper*) = wake;

int main(int argc, char** argv) {
    long n = arg(argc, argv, "tasks", 1000000);
    long rss_before = peak_rss_bytes();
    struct timespec start_ts;
    clock_gettime(CLOCK_MONOTONIC, &start_ts);
    double start = now_seconds();

    static struct sleeper* wheel[SLOTS];
    struct sleeper* sleepers = malloc((size_t)n * sizeof *sleepers);
    if (sleepers == NULL) {
        return 1;
    }
    for (long i = 0; i < n; ++i) {
        long slot = (i * 7919) % 1000;
        sleepers[i].index = i;
        sleepers[i].next = wheel[slot];
        wheel[slot] = &sleepers[i];
    }
    for (long ms = 0; ms < SLOTS; ++ms) {
        struct timespec due = start_ts;
        due.tv_nsec += ms * 1000000L;
        due.tv_sec += due.tv_nsec / 1000000000L;
        due.tv_nsec %= 1000000000L;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) != 0) {
        }
        for (struct sleeper* s = wheel[ms]; s != NULL; s = s->next) {
            wake_fn(s);
        }
    }
    double elapsed = now_seconds() - start;
    long rss_after = peak_rss_bytes();
    free(sleepers);
    printf("{\"workload\":\"W2\",\"runtime\":\"limit\",\"tasks\":%ld,\"seconds\":%.4f,"
           "\"peak_rss_bytes\":%ld,\"bytes_per_task\":%.1f}\n",
           woken, elapsed, rss_after, (double)(rss_after - rss_before) / (double)n);
    return woken == n ? 0 : 1;
}
