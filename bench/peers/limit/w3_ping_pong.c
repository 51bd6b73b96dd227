/* W3 ping-pong, "the limit": two stackless contexts (hand-written state machines, what a
 * compiler makes of a coroutine) pass an int through two channels of capacity 1, under a
 * scheduler whose run queue is a ring of task pointers. A blocked put or get records the
 * task in the channel and returns to the scheduler; the other side's get or put puts it
 * back on the run queue. 1,000,000 round trips; ns per round trip.
 *
 *   w3_ping_pong [--trips=1000000]
 */
#define _POSIX_C_SOURCE 200809L
#include "workload.h"

#include <stdio.h>

struct task;

struct channel {
    long value;
    int full;
    struct task* getter; /* waiting for a value */
    struct task* putter; /* waiting for room */
};

enum state { PUT, GET, DONE };

struct task {
    void (*resume)(struct task*);
    enum state state;
    long i;
    long value;
    struct channel* out;
    struct channel* in;
};

static struct task* run_queue[4];
static unsigned head, tail;
static long trips;

static void schedule(struct task* t) {
    run_queue[tail++ % 4] = t;
}

static int put(struct channel* c, long v, struct task* self) {
    if (c->full) {
        c->putter = self;
        return 0;
    }
    c->value = v;
    c->full = 1;
    if (c->getter != NULL) {
        schedule(c->getter);
        c->getter = NULL;
    }
    return 1;
}

static int get(struct channel* c, long* v, struct task* self) {
    if (!c->full) {
        c->getter = self;
        return 0;
    }
    *v = c->value;
    c->full = 0;
    if (c->putter != NULL) {
        schedule(c->putter);
        c->putter = NULL;
    }
    return 1;
}

/* ping: put i, get the answer; pong: get v, put v + 1 */
static void ping(struct task* t) {
    for (;;) {
        if (t->state == PUT) {
            if (t->i == trips) {
                t->state = DONE;
                return;
            }
            if (!put(t->out, t->i, t)) {
                return;
            }
            t->state = GET;
        } else if (t->state == GET) {
            if (!get(t->in, &t->value, t)) {
                return;
            }
            ++t->i;
            t->state = PUT;
        } else {
            return;
        }
    }
}

static void pong(struct task* t) {
    for (;;) {
        if (t->state == GET) {
            if (t->i == trips) {
                t->state = DONE;
                return;
            }
            if (!get(t->in, &t->value, t)) {
                return;
            }
            t->state = PUT;
        } else if (t->state == PUT) {
            if (!put(t->out, t->value + 1, t)) {
                return;
            }
            ++t->i;
            t->state = GET;
        } else {
            return;
        }
    }
}

int main(int argc, char** argv) {
    trips = arg(argc, argv, "trips", 1000000);
    double start = now_seconds();
    struct channel there = {0}, back = {0};
    struct task a = {ping, PUT, 0, -1, &there, &back};
    struct task b = {pong, GET, 0, 0, &back, &there};
    schedule(&a);
    schedule(&b);
    while (head != tail) {
        struct task* t = run_queue[head++ % 4];
        t->resume(t);
    }
    double elapsed = now_seconds() - start;
    if (a.value != trips) {
        fprintf(stderr, "w3: wrong last value %ld\n", a.value);
        return 1;
    }
    printf("{\"workload\":\"W3\",\"runtime\":\"limit\",\"round_trips\":%ld,\"seconds\":%.4f,"
           "\"ns_per_round_trip\":%.1f,\"peak_rss_bytes\":%ld}\n",
           trips, elapsed, elapsed * 1e9 / (double)trips, peak_rss_bytes());
    return 0;
}
