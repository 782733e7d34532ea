"""How the blocking client's background thread waits for the socket while no
caller is reading it.

The blocking client reads the way libvirt's does ("pass the buck"): a caller
reads the socket itself until its reply arrives, dispatching whatever comes
first, and hands the reading over to the next waiting caller when it is done.
Only while nobody calls does a background thread watch the socket (for
events, keepalive PINGs and stream data).  Its watch must be switched off
when a call starts without waking the thread on the reply, or every call
would pay for two thread switches.  (The client switches it back on only
once calls stop: the thread, woken when it is switched off, waits with a
timeout and re-arms when nobody reads.)


:class:`EpollWatch`
    Linux: the socket is registered ``EPOLLONESHOT``; ``disarm`` and ``arm``
    change the kernel's interest list (one ``epoll_ctl`` each) while the
    thread stays asleep in ``epoll_wait``.
:class:`PollWatch`
    elsewhere: a flag and a condition; the thread may wake once per call
    when a reply it is not allowed to read arrives.  Correct, only slower.

Both also have :meth:`wake`, which brings the thread out of its wait at once
(work was queued for it, the watch was switched off, or the connection
closed).  :meth:`wait` raises
``OSError`` if it cannot wait at all.  Only the watching thread calls
:meth:`wait` and :meth:`close`; the client serialises :meth:`close`
with the other calls, which are no-ops afterwards (so a descriptor number
reused after the close is never touched).
"""

from __future__ import annotations

import os
import select
import threading


class EpollWatch:
    """Watches one descriptor with ``epoll``; armed from the start."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._epoll = select.epoll()
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(fd, select.EPOLLIN | select.EPOLLONESHOT)
        self._epoll.register(self._wake_fd, select.EPOLLIN)
        self._closed = False

    def arm(self) -> None:
        """Report the descriptor's next readiness (at once if it is ready)."""
        if self._closed:
            return
        try:
            self._epoll.modify(self._fd, select.EPOLLIN | select.EPOLLONESHOT)
        except (OSError, ValueError):
            pass  # the connection (or the watch) is closed already

    def disarm(self) -> None:
        """Stop reporting the descriptor until :meth:`arm`."""
        if self._closed:
            return
        try:
            self._epoll.modify(self._fd, select.EPOLLONESHOT)
        except (OSError, ValueError):
            pass

    def wake(self) -> None:
        if not self._closed:
            os.eventfd_write(self._wake_fd, 1)

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until the descriptor is readable (True; the watch is then
        disarmed), :meth:`wake` is called or ``timeout`` passes (False)."""
        readable = False
        for fd, _events in self._epoll.poll(-1 if timeout is None else timeout):
            if fd == self._fd:
                readable = True
            else:
                try:
                    os.eventfd_read(self._wake_fd)
                except BlockingIOError:
                    pass
        return readable

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._epoll.close()
            os.close(self._wake_fd)


class PollWatch:
    """The portable :class:`EpollWatch`: ``poll`` plus a flag."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._armed = True
        self._woken = False
        self._changed = threading.Condition(threading.Lock())
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._both = select.poll()  # armed: the descriptor and the wake-up pipe
        self._both.register(fd, select.POLLIN)
        self._both.register(self._wake_r, select.POLLIN)
        self._closed = False

    def arm(self) -> None:
        with self._changed:
            self._armed = True
            self._changed.notify()

    def disarm(self) -> None:
        with self._changed:
            self._armed = False

    def wake(self) -> None:
        if self._closed:
            return
        with self._changed:
            self._woken = True
            self._changed.notify()
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass  # a wake-up is pending already

    def wait(self, timeout: float | None = None) -> bool:
        with self._changed:
            while not self._armed and not self._woken:
                if not self._changed.wait(timeout):
                    return False
            watching = self._armed
            self._woken = False
        ready = {fd for fd, _events in self._both.poll(None if watching else 0)}
        if self._wake_r in ready:
            try:
                os.read(self._wake_r, 4096)
            except BlockingIOError:
                pass
        with self._changed:
            if self._fd in ready and self._armed:
                self._armed = False  # one-shot, like EPOLLONESHOT
                return True
        return False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._wake_r)
            os.close(self._wake_w)


def watch(fd: int) -> EpollWatch | PollWatch:
    """The cheapest watch this platform has."""
    if hasattr(select, "epoll") and hasattr(os, "eventfd"):
        return EpollWatch(fd)
    return PollWatch(fd)
