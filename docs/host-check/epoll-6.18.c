/* epsim: the 6.18 facts kernel-model/tests/modern.rs and order.rs assert, checked on a
 * host running Linux 6.18 (no root needed): cc -O1 -o check epoll-6.18.c && ./check
 * (ulimit -n must allow ~130 descriptors). Results on 6.18.44: docs/eventpoll-6.18.md. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <pthread.h>

static int ctl(int ep, int op, int fd, unsigned ev, unsigned long data) {
    struct epoll_event e = { .events = ev, .data.u64 = data };
    int r = epoll_ctl(ep, op, fd, &e);
    return r < 0 ? -errno : 0;
}
static void show(const char *what, int ep, int max) {
    struct epoll_event evs[16];
    int n = epoll_wait(ep, evs, max, 0);
    printf("%s:", what);
    for (int i = 0; i < n; i++) printf(" %lu", (unsigned long)evs[i].data.u64);
    printf("\n");
}
int main(void) {
    int ep = epoll_create1(0), r, p[2];
    r = epoll_create1(1); printf("create1(1)=%d errno=%d (EINVAL=%d)\n", r, errno, EINVAL);
    r = epoll_create(0); printf("create(0)=%d errno=%d\n", r, errno);
    /* EPOLLEXCLUSIVE rules */
    pipe(p);
    int inner = epoll_create1(0);
    printf("EXCL on epoll target: %d\n", ctl(ep, EPOLL_CTL_ADD, inner, EPOLLIN|EPOLLEXCLUSIVE, 0));
    printf("EXCL|ONESHOT: %d\n", ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN|EPOLLEXCLUSIVE|EPOLLONESHOT, 0));
    printf("EXCL|PRI: %d\n", ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN|EPOLLEXCLUSIVE|EPOLLPRI, 0));
    printf("EXCL ok bits: %d\n", ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN|EPOLLOUT|EPOLLERR|EPOLLHUP|EPOLLWAKEUP|EPOLLET|EPOLLEXCLUSIVE, 0));
    printf("MOD with EXCL: %d\n", ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN|EPOLLEXCLUSIVE, 0));
    printf("MOD excl item: %d\n", ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 0));
    errno = 0; r = epoll_wait(99, NULL, 0, 0); printf("epoll_wait(99, maxevents 0)=%d errno=%d (EBADF=%d)\n", r, errno, EBADF);
    close(ep);
    /* ready order, maxevents 2, 4 LT items */
    ep = epoll_create1(0);
    int w[4];
    for (int i = 0; i < 4; i++) { pipe(p); ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, i); w[i] = p[1]; write(p[1], "x", 1); }
    show("round1", ep, 2); show("round2", ep, 2); show("round3", ep, 2); show("all", ep, 10);
    /* nesting chain: ELOOP at level 5 */
    int sets[7]; sets[0] = epoll_create1(0); pipe(p); ctl(sets[0], EPOLL_CTL_ADD, p[0], EPOLLIN, 100);
    for (int l = 1; l < 7; l++) { sets[l] = epoll_create1(0); int rc = ctl(sets[l], EPOLL_CTL_ADD, sets[l-1], EPOLLIN, l); printf("level %d: %d\n", l, rc); }
    /* cycle of 3 */
    int e1 = epoll_create1(0), e2 = epoll_create1(0), e3 = epoll_create1(0);
    ctl(e1, EPOLL_CTL_ADD, e2, EPOLLIN, 2); ctl(e2, EPOLL_CTL_ADD, e3, EPOLLIN, 3);
    printf("3-cycle: %d (ELOOP=%d)\n", ctl(e3, EPOLL_CTL_ADD, e1, EPOLLIN, 1), ELOOP);
    /* write-end ET item */
    ep = epoll_create1(0); pipe(p); ctl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT|EPOLLET, 1);
    show("wET initial", ep, 4); write(p[1], "x", 1); show("wET after write", ep, 4);
    char b[4096]; read(p[0], b, 1); show("wET after read", ep, 4);
    /* keyed: ET OUT item on socket, data arrives */
    int sv[2]; socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    ep = epoll_create1(0); ctl(ep, EPOLL_CTL_ADD, sv[0], EPOLLOUT|EPOLLET, 1);
    show("sock initial", ep, 4); show("sock again", ep, 4); write(sv[1], "data", 4); show("sock after peer write", ep, 4);
    /* ET read end: partial read / emptying read */
    ep = epoll_create1(0); pipe(p); ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN|EPOLLET, 1);
    write(p[1], "a", 1); show("rET a", ep, 4); write(p[1], "b", 1); write(p[1], "c", 1); show("rET bc", ep, 4);
    read(p[0], b, 1); show("rET after partial read", ep, 4); read(p[0], b, 10); show("rET after emptying read", ep, 4);
    /* path limit: 101 tops over middle */
    int in2 = epoll_create1(0), mid = epoll_create1(0); pipe(p);
    ctl(in2, EPOLL_CTL_ADD, p[0], EPOLLIN, 0); ctl(mid, EPOLL_CTL_ADD, in2, EPOLLIN, 1);
    for (int n = 1; n <= 101; n++) { int top = epoll_create1(0); int rc = ctl(top, EPOLL_CTL_ADD, mid, EPOLLIN, 2); if (rc || n >= 100) printf("path %d: %d\n", n, rc); }
    /* pwait2 */
    struct timespec ts = { .tv_sec = -1, .tv_nsec = 0 };
    struct epoll_event ev;
    r = epoll_pwait2(ep, &ev, 1, &ts, NULL); printf("pwait2 neg: %d errno=%d\n", r, errno);
    ts.tv_sec = 0; ts.tv_nsec = 1000000000;
    r = epoll_pwait2(ep, &ev, 1, &ts, NULL); printf("pwait2 nsec 1e9: %d errno=%d\n", r, errno);
    return 0;
}
