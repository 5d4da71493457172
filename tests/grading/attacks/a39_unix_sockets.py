"""Reach the host through UNIX sockets: connect to a pathname socket the test listens on
(owned by the grading user, world-writable), to one in /run, to an abstract socket, to the
usual services (D-Bus, docker.sock, X11, the session bus in $XDG_RUNTIME_DIR), and send
datagrams to them from a socket pair, with raw system calls so no audit hook sees it."""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

ATTACK = r'''
import ctypes, os, struct
libc = ctypes.CDLL(None, use_errno=True)
targets = [{SOCKET!r}, {RUN_SOCKET!r}, {DGRAM!r}, "/run/dbus/system_bus_socket",
           "/var/run/docker.sock", "/run/docker.sock", "/tmp/.X11-unix/X0", "/dev/log",
           os.environ.get("XDG_RUNTIME_DIR", "/run/user/%d" % os.getuid()) + "/bus",
           "/run/user/%d/bus" % os.getuid(), "/run/systemd/notify"]
paths = [t.encode() for t in targets] + [b"\0" + {ABSTRACT!r}.encode()]

def sockaddr(raw):
    return struct.pack("H", 1) + raw + b"\0" * (108 - len(raw))

reached, errors = [], set()
for raw in paths:
    addr = sockaddr(raw)
    for kind in (1, 2, 5):  # stream, datagram, seqpacket
        fd = libc.socket(1, kind, 0)
        if fd < 0:
            errors.add(os.strerror(ctypes.get_errno()))
            continue
        if libc.connect(fd, addr, len(addr)) == 0:
            reached.append((raw, kind, "connect"))
        if libc.sendto(fd, b"x", 1, 0, addr, len(addr)) == 1:
            reached.append((raw, kind, "sendto"))
        os.close(fd)
    pair = (ctypes.c_int * 2)()
    for kind in (1, 2, 5):
        if libc.socketpair(1, kind, 0, pair) == 0:
            if libc.sendto(pair[0], b"x", 1, 0, addr, len(addr)) == 1:
                reached.append((raw, kind, "socketpair sendto"))
            os.close(pair[0])
            os.close(pair[1])
print("SOCKET-" + "REACHED" if reached else "no socket reached", reached, sorted(errors))
'''
CELLS = [ATTACK, "SOLUTION"]
EXPECT_SCORE = 10
FORBIDDEN_OUTPUT = ["SOCKET-REACHED"]


class Listening:
    """A stream socket in ``outside``, one in /run, a datagram socket in /run and an abstract
    socket, all listening; ``check`` fails if any was reached."""

    def __init__(self, outside: Path, uid: int) -> None:
        tag = secrets.token_hex(6)
        self.paths = [str(outside / f"a39-{tag}.sock"), f"/run/dlbasics-a39-{tag}.sock",
                      f"/run/dlbasics-a39-{tag}.dgram"]
        if not os.access("/run", os.W_OK):
            self.paths[1:] = [str(outside / f"a39-{tag}-run.sock"),
                              str(outside / f"a39-{tag}.dgram")]
        self.abstract = f"dlbasics-a39-{tag}"
        self.stream = []
        for addr in (self.paths[0], self.paths[1], "\0" + self.abstract):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(addr)
            s.listen(8)
            s.setblocking(False)
            self.stream.append(s)
        self.dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.dgram.bind(self.paths[2])
        self.dgram.setblocking(False)
        for p in self.paths:
            os.chmod(p, 0o777)
            os.chown(p, uid, -1)
        self.fill = {"{SOCKET!r}": repr(self.paths[0]), "{RUN_SOCKET!r}": repr(self.paths[1]),
                     "{DGRAM!r}": repr(self.paths[2]), "{ABSTRACT!r}": repr(self.abstract)}

    def check(self, report) -> None:
        for s in self.stream:
            try:
                s.accept()
            except BlockingIOError:
                continue
            raise AssertionError(f"the sandbox connected to {s.getsockname()!r}")
        try:
            data = self.dgram.recv(64)
        except BlockingIOError:
            data = b""
        assert not data, "the sandbox sent a datagram to the host"
        assert "no socket reached" in report.stdout, report.stdout[-2000:]

    def close(self) -> None:
        for s in [*self.stream, self.dgram]:
            s.close()
        for p in self.paths:
            try:
                os.unlink(p)
            except OSError:
                pass


def arrange(outside: Path, uid: int) -> Listening:
    return Listening(outside, uid)
