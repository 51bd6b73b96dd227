/* W5 TCP echo, "the limit": a minimal hand-written epoll echo server in C. Level-triggered,
 * one read and one write per readable event (the echo of 64 bytes always fits the socket
 * buffer; a short write is finished with blocking-free retries on EPOLLOUT).
 *
 *   w5_echo --port=PORT
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

#define BUF 65536

struct conn {
    int fd;
    size_t pending; /* bytes of buf not yet written back */
    size_t offset;
    char buf[BUF];
};

static void drop(int ep, struct conn* c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

static int flush(struct conn* c) {
    while (c->pending > 0) {
        ssize_t n = send(c->fd, c->buf + c->offset, c->pending, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->offset += (size_t)n;
        c->pending -= (size_t)n;
    }
    return 0;
}

int main(int argc, char** argv) {
    long port = -1;
    for (int i = 1; i < argc; ++i) {
        if (strncmp(argv[i], "--port=", 7) == 0)
            port = strtol(argv[i] + 7, NULL, 10);
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: w5_echo --port=PORT\n");
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
        perror("w5_echo: bind/listen");
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
            perror("w5_echo: epoll_wait");
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
                continue; /* still writing back: read later */
            ssize_t got = recv(c->fd, c->buf, BUF, 0);
            if (got <= 0) {
                if (got < 0 && errno == EAGAIN)
                    continue;
                drop(ep, c);
                continue;
            }
            c->offset = 0;
            c->pending = (size_t)got;
            if (flush(c) != 0) {
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
