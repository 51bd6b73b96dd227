/* W5 TCP echo (shared BENCH.md): the shared load client for every echo server.
 *
 * Single-threaded, epoll. Keeps N connections to HOST:PORT; each sends a SIZE-byte
 * message and waits for the whole echo (checked byte for byte) before sending the next.
 * Runs WARMUP seconds uncounted, then DURATION seconds counted, and prints one line:
 *
 *   requests_per_sec=123456 requests=617280 seconds=5.000 total_requests=679008 conns=50
 *   size=64 p50_us=380 p99_us=910 client_cpu_share=0.998
 *
 * requests counts the echoes completed in the measured window; total_requests includes
 * the warm-up; p50_us/p99_us are the latencies of requests sent in the window (1 us
 * buckets, measured per epoll batch); client_cpu_share is the CPU time the client used in
 * the window over its length: near 1.0, the client is the bottleneck.
 * Bounded: exits 1 if a connection fails, closes, echoes wrong bytes, or no echo arrives
 * for --stall seconds; exits 2 on bad arguments.
 *
 *   echo_load --port=PORT [--host=127.0.0.1] [--conns=50] [--size=64] [--duration=5]
 *             [--warmup=0.5] [--connect-timeout=5] [--stall=5]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE 65536
#define HIST_US 100000 /* latency histogram: 1 us buckets up to 100 ms, then one overflow */

struct conn {
    int fd;
    int id;
    uint32_t seq;    /* number of the message in flight */
    size_t sent;     /* bytes of it sent */
    size_t received; /* bytes of its echo received */
    int want_out;    /* EPOLLOUT registered (a send was partial) */
    double started;  /* when its first byte was sent */
    char out[MAX_SIZE];
    char in[MAX_SIZE];
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time (user + system) this process has used so far, in seconds. */
static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static const char* opt(int argc, char** argv, const char* name, const char* fallback) {
    size_t len = strlen(name);
    for (int i = 1; i < argc; ++i) {
        if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, name, len) == 0 &&
            argv[i][2 + len] == '=') {
            return argv[i] + 3 + len;
        }
    }
    return fallback;
}

static void die(const char* what, int id) {
    fprintf(stderr, "echo_load: connection %d: %s: %s\n", id, what, strerror(errno));
    exit(1);
}

static void fill(struct conn* c, size_t size) {
    for (size_t i = 0; i < size; ++i) {
        c->out[i] = (char)(unsigned char)((uint32_t)c->id * 131u + c->seq * 7u + (uint32_t)i);
    }
    c->sent = 0;
    c->received = 0;
}

static void set_out(int ep, struct conn* c, int on) {
    struct epoll_event ev;
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        die("epoll_ctl", c->id);
    c->want_out = on;
}

/* Send what is left of the message; registers EPOLLOUT if the socket is full. */
static void pump_out(int ep, struct conn* c, size_t size) {
    while (c->sent < size) {
        ssize_t n = send(c->fd, c->out + c->sent, size - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            die("send", c->id);
        }
        c->sent += (size_t)n;
    }
    int need = c->sent < size;
    if (need != c->want_out)
        set_out(ep, c, need);
}

static int connect_to(const struct sockaddr_in* addr, double timeout, int id) {
    double deadline = now_s() + timeout;
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("socket", id);
        if (connect(fd, (const struct sockaddr*)addr, sizeof *addr) == 0)
            return fd;
        int err = errno;
        close(fd);
        if ((err == ECONNREFUSED || err == EAGAIN) && now_s() < deadline) {
            struct timespec pause = {0, 20 * 1000 * 1000};
            nanosleep(&pause, NULL);
            continue;
        }
        errno = err;
        die("connect", id);
    }
}

int main(int argc, char** argv) {
    const char* host = opt(argc, argv, "host", "127.0.0.1");
    long port = strtol(opt(argc, argv, "port", "0"), NULL, 10);
    long nconns = strtol(opt(argc, argv, "conns", "50"), NULL, 10);
    long size = strtol(opt(argc, argv, "size", "64"), NULL, 10);
    double duration = strtod(opt(argc, argv, "duration", "5"), NULL);
    double warmup = strtod(opt(argc, argv, "warmup", "0.5"), NULL);
    double connect_timeout = strtod(opt(argc, argv, "connect-timeout", "5"), NULL);
    double stall = strtod(opt(argc, argv, "stall", "5"), NULL);
    if (port <= 0 || port > 65535 || nconns <= 0 || nconns > 10000 || size <= 0 ||
        size > MAX_SIZE || duration <= 0 || warmup < 0 || stall <= 0) {
        fprintf(stderr, "usage: echo_load --port=PORT [--host=127.0.0.1] [--conns=50] "
                        "[--size=64] [--duration=5] [--warmup=0.5] [--connect-timeout=5] "
                        "[--stall=5]\n");
        return 2;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "echo_load: bad IPv4 address %s\n", host);
        return 2;
    }

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1", -1);
    struct conn* conns = calloc((size_t)nconns, sizeof *conns);
    unsigned* hist = calloc(HIST_US + 1, sizeof *hist);
    if (conns == NULL || hist == NULL) {
        fprintf(stderr, "echo_load: out of memory\n");
        return 1;
    }

    for (long i = 0; i < nconns; ++i) {
        struct conn* c = &conns[i];
        c->id = (int)i;
        c->fd = connect_to(&addr, connect_timeout, c->id);
        int one = 1;
        if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
            die("setsockopt(TCP_NODELAY)", c->id);
        }
        int flags = fcntl(c->fd, F_GETFL);
        if (flags < 0 || fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) != 0)
            die("fcntl", c->id);
        struct epoll_event ev;
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
            die("epoll_ctl", c->id);
    }

    const double begin = now_s();
    const double measure_from = begin + warmup;
    const double end = measure_from + duration;
    double last_progress = begin;
    int measuring = warmup <= 0;
    unsigned long long counted = 0;
    unsigned long long total = 0;
    double measured_start = measuring ? begin : 0;
    double cpu_start = measuring ? cpu_s() : 0;

    for (long i = 0; i < nconns; ++i) {
        fill(&conns[i], (size_t)size);
        conns[i].started = begin;
        pump_out(ep, &conns[i], (size_t)size);
    }

    struct epoll_event events[256];
    double t = begin;
    while (t < end) {
        int timeout_ms = 100;
        int n = epoll_wait(ep, events, 256, timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait", -1);
        }
        t = now_s();
        if (!measuring && t >= measure_from) {
            measuring = 1;
            measured_start = t;
            cpu_start = cpu_s();
        }
        if (n == 0) {
            if (t - last_progress > stall) {
                fprintf(stderr, "echo_load: no echo for %.1f s (server stalled)\n", stall);
                return 1;
            }
            continue;
        }
        for (int e = 0; e < n; ++e) {
            struct conn* c = events[e].data.ptr;
            if (events[e].events & EPOLLOUT)
                pump_out(ep, c, (size_t)size);
            if (!(events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                continue;
            ssize_t got = recv(c->fd, c->in + c->received, (size_t)size - c->received, 0);
            if (got < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    continue;
                die("recv", c->id);
            }
            if (got == 0) {
                fprintf(stderr, "echo_load: connection %d: closed by the server\n", c->id);
                return 1;
            }
            if (c->received + (size_t)got > c->sent) {
                fprintf(stderr, "echo_load: connection %d: echo of bytes not yet sent\n", c->id);
                return 1;
            }
            c->received += (size_t)got;
            if (c->received < (size_t)size)
                continue;
            if (memcmp(c->in, c->out, (size_t)size) != 0) {
                fprintf(stderr, "echo_load: connection %d: echo differs from message %u\n", c->id,
                        c->seq);
                return 1;
            }
            last_progress = t;
            ++total;
            if (measuring && c->started >= measured_start) {
                ++counted;
                double us = (t - c->started) * 1e6;
                size_t bucket = us >= HIST_US ? HIST_US : (size_t)us;
                ++hist[bucket];
            } else if (measuring) {
                ++counted; /* started in the warm-up, finished in the window: count it */
            }
            ++c->seq;
            fill(c, (size_t)size);
            c->started = t;
            pump_out(ep, c, (size_t)size);
        }
    }
    const double elapsed = t - measured_start;
    const double cpu_share = (cpu_s() - cpu_start) / elapsed;

    unsigned long long samples = 0;
    for (size_t b = 0; b <= HIST_US; ++b)
        samples += hist[b];
    long p50 = -1;
    long p99 = -1;
    unsigned long long seen = 0;
    for (size_t b = 0; b <= HIST_US; ++b) {
        seen += hist[b];
        if (p50 < 0 && seen * 100 >= samples * 50)
            p50 = (long)b;
        if (p99 < 0 && seen * 100 >= samples * 99)
            p99 = (long)b;
    }
    for (long i = 0; i < nconns; ++i)
        close(conns[i].fd);
    close(ep);
    if (counted == 0 || elapsed <= 0) {
        fprintf(stderr, "echo_load: no request completed in the measured window\n");
        return 1;
    }
    printf("requests_per_sec=%.0f requests=%llu seconds=%.3f total_requests=%llu conns=%ld "
           "size=%ld p50_us=%ld p99_us=%ld client_cpu_share=%.3f\n",
           (double)counted / elapsed, counted, elapsed, total, nconns, size, p50, p99, cpu_share);
    free(hist);
    free(conns);
    return 0;
}
