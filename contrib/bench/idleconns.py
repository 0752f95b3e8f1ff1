#!/usr/bin/env python3
"""Holds N idle keep-alive HTTP connections open to a server, so that a
benchmark can read the server's memory with and without them
(contrib/bench/http.sh).

    idleconns.py HOST PORT N [--tls] [--path /parse/health]

Each connection sends one GET (HTTP/1.1, keep-alive) and reads its whole
answer, so the server has accepted, parsed and answered on it, then stays
idle.  When all N are open it prints "open N" and waits for a line (or end
of file) on stdin; then it counts the connections the server has not
closed meanwhile, prints "still-open M" and exits (0 if M == N).

A server that refuses connection K+1 (closes it, as one at its connection
limit does) leaves K open: it prints "open K refused-at K+1: why" and goes
on with those K, exiting 1 at the end.  Connections that fail before any
was open fail the probe at once.  Raises its own open-file limit to the
hard limit; fails clearly if N does not fit.
"""
import argparse
import resource
import select
import socket
import ssl
import sys


def read_answer(s):
    """Reads one HTTP answer (headers and a Content-Length body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the answer's headers")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n", 1)[0]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
        if k.strip().lower() == b"connection" and v.strip().lower() == b"close":
            raise ConnectionError("the server answered Connection: close")
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the answer's body")
        rest += chunk
    return status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--path", default="/")
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = a.n + 64
    if hard != resource.RLIM_INFINITY and hard < need:
        sys.exit(f"idleconns.py: the open-file hard limit {hard} is below {need}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))

    ctx = None
    if a.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    req = (f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n"
           "Connection: keep-alive\r\n\r\n").encode()
    conns = []
    refused = ""
    for i in range(a.n):
        try:
            s = socket.create_connection((a.host, a.port), timeout=10)
            if ctx:
                s = ctx.wrap_socket(s)
            s.sendall(req)
            status = read_answer(s)
        except (OSError, ConnectionError) as e:
            if not conns:
                sys.exit(f"idleconns.py: connection {i + 1} of {a.n}: {e}")
            refused = f" refused-at {i + 1}: {e}"
            break
        if b" 200" not in status:
            sys.exit(f"idleconns.py: connection {i + 1}: {status.decode(errors='replace')}")
        conns.append(s)
    print(f"open {len(conns)}{refused}", flush=True)
    sys.stdin.readline()
    # a connection the server closed is readable (end of file); an open,
    # idle one is not
    # (poll: select() cannot take descriptors above 1023)
    p = select.poll()
    for s in conns:
        p.register(s.fileno(), select.POLLIN)
    ready = {fd for fd, _ in p.poll(0)}
    still = sum(1 for s in conns if s.fileno() not in ready)
    print(f"still-open {still}", flush=True)
    for s in conns:
        s.close()
    sys.exit(0 if still == len(conns) and not refused else 1)


if __name__ == "__main__":
    main()
