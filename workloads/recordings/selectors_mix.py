"""A selectors-style program: pipes, eventfd, socketpair, LT/ET/ONESHOT, MOD/DEL,
dup-then-close and error returns, on one epoll set (recorded by make.sh)."""
import os, select, socket

ep = select.epoll()
r, w = os.pipe()
os.set_blocking(r, False)
a, b = socket.socketpair()
a.setblocking(False); b.setblocking(False)
efd = os.eventfd(0, os.EFD_NONBLOCK)

ep.register(r, select.EPOLLIN)                       # level-triggered
ep.register(b.fileno(), select.EPOLLIN | select.EPOLLET)
ep.register(efd, select.EPOLLIN | select.EPOLLONESHOT)
try:
    ep.register(r, select.EPOLLIN)                   # EEXIST
except OSError:
    pass
try:
    ep.modify(a.fileno(), select.EPOLLIN)            # ENOENT
except OSError:
    pass
try:
    ep.register(9999, select.EPOLLIN)                # EBADF
except OSError:
    pass
print(ep.poll(0))
os.write(w, b"hello")
a.send(b"x" * 10)
os.eventfd_write(efd, 3)
print(ep.poll(0))
print(ep.poll(0))                                     # LT pipe again; ET and ONESHOT quiet
os.read(r, 100)
try:
    os.read(r, 100)                                   # EAGAIN
except BlockingIOError:
    pass
b.recv(100)
a.send(b"y" * 3)
print(ep.poll(0))                                     # a new edge on the socket
ep.modify(efd, select.EPOLLIN | select.EPOLLONESHOT)  # re-arm
print(ep.poll(0))
os.eventfd_read(efd)
print(ep.poll(0))
ep.modify(r, select.EPOLLOUT)                         # nothing: read end is never writable
os.write(w, b"z")
print(ep.poll(0))
ep.unregister(r)
print(ep.poll(0))
d = os.dup(w)
os.close(w)                                           # dup then close: the pipe stays open
ep.register(r, select.EPOLLIN | select.EPOLLRDHUP)
print(ep.poll(0))
os.close(d)                                           # now the writer is gone: EPOLLHUP
print(ep.poll(0))
ep.unregister(b.fileno())
a.close()
print(ep.poll(1))
ep.close()
