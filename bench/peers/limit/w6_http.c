/* W6 HTTP hello, "the limit": a minimal hand-written keep-alive responder in C on a
 * level-triggered epoll loop. Each readable event reads once, counts the requests that
 * have arrived whole (each ends at "\r\n\r\n"; GET, no body) and writes one fixed response
 * for each in one send (a short write is finished on EPOLLOUT before reading again).
 *
 *   w6_http --port=PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN 8192
#define OUT 65536

static const char response[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
#define RESPONSE_LEN (sizeof response - 1)

struct conn {
    int fd;
    size_t have;    /* bytes of in read, not yet answered */
    size_t pending; /* bytes of out not yet written */
    size_t offset;
    char in[IN];
    char out[OUT];
};

static void drop(int ep, struct conn* c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

static int flush(struct conn* c) {
    while (c->pending > 0) {
        ssize_t n = send(c->fd, c->out + c->offset, c->pending, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->offset += (size_t)n;
        c->pending -= (size_t)n;
    }
    return 0;
}

/* Answer every whole request in c->in; -1 when a header section does not fit. */
static int answer(struct conn* c, size_t scan_from) {
    size_t used = 0;
    c->offset = 0;
    for (;;) {
        char* end = memmem(c->in + scan_from, c->have - scan_from, "\r\n\r\n", 4);
        if (end == NULL)
            break;
        used = (size_t)(end - c->in) + 4;
        scan_from = used;
        if (c->pending + RESPONSE_LEN > OUT)
            return -1;
        memcpy(c->out + c->pending, response, RESPONSE_LEN);
        c->pending += RESPONSE_LEN;
    }
    memmove(c->in, c->in + used, c->have - used);
    c->have -= used;
    return c->have == IN ? -1 : 0;
}

int main(int argc, char** argv) {
    long port = -1;
    for (int i = 1; i < argc; ++i) {
        if (strncmp(argv[i], "--port=", 7) == 0)
            port = strtol(argv[i] + 7, NULL, 10);
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: w6_http --port=PORT\n");
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(lfd, 128) != 0) {
        perror("w6_http: bind/listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("w6_http: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            struct conn* c = events[i].data.ptr;
            if (c == NULL) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                    continue;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c = malloc(sizeof *c);
                c->fd = fd;
                c->have = 0;
                c->pending = 0;
                c->offset = 0;
                struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                continue;
            }
            if (events[i].events & EPOLLOUT) {
                if (flush(c) != 0) {
                    drop(ep, c);
                    continue;
                }
                if (c->pending == 0) {
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
                }
                continue;
            }
            if (c->pending > 0)
                continue; /* still writing: read later */
            ssize_t got = recv(c->fd, c->in + c->have, IN - c->have, 0);
            if (got <= 0) {
                if (got < 0 && errno == EAGAIN)
                    continue;
                drop(ep, c);
                continue;
            }
            /* a terminator may straddle the previous read and this one */
            size_t scan_from = c->have > 3 ? c->have - 3 : 0;
            c->have += (size_t)got;
            if (answer(c, scan_from) != 0 || flush(c) != 0) {
                drop(ep, c);
                continue;
            }
            if (c->pending > 0) {
                struct epoll_event cev = {.events = EPOLLOUT, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
            }
        }
    }
}
