/* W4 generator, "the limit": a generator is a state machine whose next() is called
 * through a function pointer (as resuming a coroutine is an indirect call); the plain sum
 * pulls 0..N-1 (10,000,000) from one. For delegation, DEPTH (1,000) generators each
 * delegate to the next; the consumer finds the innermost one once and pulls from it
 * directly (as corio's yield_from does), so a value costs what it costs without
 * delegation: the floor for any O(1) delegation.
 *
 *   w4_generator [--values=10000000] [--deep-values=10000000] [--depth=1000]
 */
#define _POSIX_C_SOURCE 200809L
#include "workload.h"

#include <stdio.h>

struct generator {
    int (*next)(struct generator*, long*); /* 0 when exhausted */
    struct generator* inner;               /* the delegate, or NULL for a leaf */
    long i, n;
};

static int count_next(struct generator* g, long* out) {
    if (g->i == g->n) {
        return 0;
    }
    *out = g->i++;
    return 1;
}

static int (*volatile count_fn)(struct generator*, long*) = count_next;

/* pulls from the innermost generator; when it ends, so does every delegating level */
static long sum_of(struct generator* g) {
    while (g->inner != NULL) {
        g = g->inner;
    }
    long sum = 0, v;
    while (g->next(g, &v)) {
        sum += v;
    }
    return sum;
}

int main(int argc, char** argv) {
    long n = arg(argc, argv, "values", 10000000);
    long deep_n = arg(argc, argv, "deep-values", n);
    long depth = arg(argc, argv, "depth", 1000);

    struct generator plain = {count_fn, NULL, 0, n};
    double start = now_seconds();
    long plain_sum = sum_of(&plain);
    double plain_s = now_seconds() - start;

    struct generator* chain = calloc((size_t)depth + 1, sizeof *chain);
    if (chain == NULL) {
        return 1;
    }
    chain[depth] = (struct generator){count_fn, NULL, 0, deep_n};
    for (long level = 0; level < depth; ++level) {
        chain[level].inner = &chain[level + 1];
    }
    start = now_seconds();
    long deep_sum = sum_of(&chain[0]);
    double deep_s = now_seconds() - start;
    free(chain);

    if (plain_sum != n * (n - 1) / 2 || deep_sum != deep_n * (deep_n - 1) / 2) {
        fprintf(stderr, "w4: wrong sums %ld %ld\n", plain_sum, deep_sum);
        return 1;
    }
    printf("{\"workload\":\"W4\",\"runtime\":\"limit\",\"values\":%ld,\"seconds\":%.4f,"
           "\"ns_per_value\":%.2f,\"depth\":%ld,\"deep_values\":%ld,\"deep_seconds\":%.4f,"
           "\"deep_ns_per_value\":%.2f,\"peak_rss_bytes\":%ld}\n",
           n, plain_s, plain_s * 1e9 / (double)n, depth, deep_n, deep_s,
           deep_s * 1e9 / (double)deep_n, peak_rss_bytes());
    return 0;
}
