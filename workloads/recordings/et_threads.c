/* Several threads waiting on one edge-triggered epoll set; the main thread makes
 * pipes readable one at a time and each wake-up is handled by one waiter. */
#include <pthread.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <fcntl.h>

#define THREADS 3
#define PIPES 4
static int ep, fds[PIPES][2];

static void *waiter(void *arg) {
    struct epoll_event ev[4];
    for (;;) {
        int n = epoll_wait(ep, ev, 4, -1);
        for (int i = 0; i < n; i++) {
            int k = ev[i].data.u32;
            char buf[64];
            if (k == PIPES) return NULL;          /* the stop pipe */
            while (read(fds[k][0], buf, sizeof buf) > 0) {}
        }
    }
}

int main(void) {
    pthread_t t[THREADS];
    ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < PIPES; i++) {
        pipe2(fds[i], O_NONBLOCK);
        struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u32 = i };
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i][0], &ev);
    }
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, waiter, NULL);
    usleep(50000);
    for (int round = 0; round < 6; round++) {
        write(fds[round % PIPES][1], "x", 1);
        usleep(20000);
    }
    int stop[2];
    pipe2(stop, O_NONBLOCK);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = PIPES };   /* level: all see it */
    epoll_ctl(ep, EPOLL_CTL_ADD, stop[0], &ev);
    write(stop[1], "q", 1);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    return 0;
}
