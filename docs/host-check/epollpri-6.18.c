/* epsim: the 6.18 facts of kernel-model/tests/modern.rs's EPOLLPRI, eventfd and timerfd
 * tests, checked on a host running Linux 6.18: cc -O1 -o pri epollpri-6.18.c && ./pri
 * (results on 6.18.44, run as root: docs/eventpoll-6.18.md). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <errno.h>
#include <time.h>

static void probe(const char *what, int fd, unsigned events) {
    int ep = epoll_create1(0);
    struct epoll_event e = { .events = events, .data.u64 = 1 }, out[4];
    int r = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    if (r < 0) { printf("%s: ctl errno %d\n", what, errno); close(ep); return; }
    int n = epoll_wait(ep, out, 4, 0);
    printf("%s: n=%d events=%#x\n", what, n, n > 0 ? out[0].events : 0);
    close(ep);
}
int main(void) {
    int p[2]; pipe(p); write(p[1], "x", 1);
    probe("pipe read end, readable, PRI", p[0], EPOLLPRI);
    probe("pipe read end, readable, IN|PRI", p[0], EPOLLIN | EPOLLPRI);
    probe("pipe write end, PRI", p[1], EPOLLPRI);
    int e = eventfd(1, 0);
    probe("eventfd count 1, PRI", e, EPOLLPRI);
    probe("eventfd count 1, IN|PRI", e, EPOLLIN | EPOLLPRI);
    int t = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = { .it_value = { 0, 1000 } };
    timerfd_settime(t, 0, &its, NULL); usleep(10000);
    probe("timerfd expired, PRI", t, EPOLLPRI);
    probe("timerfd expired, IN|PRI", t, EPOLLIN | EPOLLPRI);
    int s[2]; socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    write(s[0], "d", 1);
    probe("unix stream, data, PRI", s[1], EPOLLPRI);
    probe("unix stream, data, IN|PRI", s[1], EPOLLIN | EPOLLPRI);
    int r = send(s[0], "o", 1, MSG_OOB);
    printf("send MSG_OOB on unix stream: %d errno %d\n", r, r < 0 ? errno : 0);
    probe("unix stream, OOB pending, PRI", s[1], EPOLLPRI);
    close(s[0]);
    probe("unix stream, OOB pending, peer closed, PRI", s[1], EPOLLPRI);
    int q[2]; socketpair(AF_UNIX, SOCK_STREAM, 0, q);
    close(q[0]);
    probe("unix stream, peer closed, PRI", q[1], EPOLLPRI);
    probe("unix stream, peer closed, IN|PRI", q[1], EPOLLIN | EPOLLPRI);
    close(p[0]);
    probe("pipe write end, reader closed, PRI", p[1], EPOLLPRI);
    /* CANCEL_ON_SET: a timer that expires normally when the clock is never set */
    int c = timerfd_create(CLOCK_REALTIME, 0);
    struct timespec now; clock_gettime(CLOCK_REALTIME, &now);
    struct itimerspec soon = { .it_value = now };
    soon.it_value.tv_nsec += 1000000; if (soon.it_value.tv_nsec >= 1000000000) { soon.it_value.tv_sec++; soon.it_value.tv_nsec -= 1000000000; }
    r = timerfd_settime(c, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &soon, NULL);
    usleep(10000);
    uint64_t ticks = 0; int got = read(c, &ticks, 8);
    printf("REALTIME ABSTIME|CANCEL_ON_SET timer, clock not set: settime %d, read %d ticks %llu\n", r, got, (unsigned long long)ticks);
    /* eventfd write lengths */
    uint64_t v[2] = { 1, 0 };
    errno = 0; r = write(e, v, 9); printf("eventfd write 9 bytes: %d errno %d\n", r, errno);
    errno = 0; r = write(e, v, 16); printf("eventfd write 16 bytes: %d errno %d\n", r, errno);
    errno = 0; r = write(e, v, 7); printf("eventfd write 7 bytes: %d errno %d\n", r, errno);
    errno = 0; r = read(e, v, 16); printf("eventfd read 16 bytes: %d errno %d\n", r, errno);
    /* timerfd clocks and flags */
    int clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM,
                     CLOCK_BOOTTIME_ALARM, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
                     CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_TAI };
    for (unsigned i = 0; i < sizeof clocks / sizeof *clocks; i++) {
        errno = 0; r = timerfd_create(clocks[i], 0);
        printf("timerfd_create(clock %d): %s errno %d\n", clocks[i], r >= 0 ? "ok" : "fails", r >= 0 ? 0 : errno);
        if (r >= 0) close(r);
    }
    its.it_value.tv_sec = 100;
    int rt = timerfd_create(CLOCK_REALTIME, 0), mono = timerfd_create(CLOCK_MONOTONIC, 0);
    errno = 0; r = timerfd_settime(rt, TFD_TIMER_CANCEL_ON_SET, &its, NULL);
    printf("settime REALTIME CANCEL_ON_SET (no ABSTIME): %d errno %d\n", r, r < 0 ? errno : 0);
    errno = 0; r = timerfd_settime(rt, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL);
    printf("settime REALTIME ABSTIME|CANCEL_ON_SET: %d errno %d\n", r, r < 0 ? errno : 0);
    errno = 0; r = timerfd_settime(mono, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL);
    printf("settime MONOTONIC ABSTIME|CANCEL_ON_SET: %d errno %d\n", r, r < 0 ? errno : 0);
    errno = 0; r = timerfd_settime(mono, 4, &its, NULL);
    printf("settime flags 4: %d errno %d\n", r, r < 0 ? errno : 0);
    its.it_value.tv_nsec = 1000000000;
    errno = 0; r = timerfd_settime(mono, 0, &its, NULL);
    printf("settime tv_nsec 1e9: %d errno %d\n", r, r < 0 ? errno : 0);
    return 0;
}
