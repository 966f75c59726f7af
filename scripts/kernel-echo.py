#!/usr/bin/env python3
"""A kernel TCP echo server for synack's lab: run inside a network namespace.

usage: kernel-echo.py PORT [PORT ...]
Listens on [::]:PORT (dual stack, so IPv4 too), echoes what it reads, closes when the
peer closes. Prints "ready" once every port listens. Exits on SIGTERM or stdin EOF.
"""
import os, selectors, signal, socket, sys, threading

def main() -> None:
    ports = [int(p) for p in sys.argv[1:]]
    sel = selectors.DefaultSelector()
    for port in ports:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", port))
        s.listen(4096)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "listen")
    print("ready", flush=True)

    def stdin_watch() -> None:
        try:
            sys.stdin.read()
        finally:
            os._exit(0)
    threading.Thread(target=stdin_watch, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            if key.data == "listen":
                try:
                    conn, _ = sock.accept()
                except OSError:
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, "conn")
                continue
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(sock)
                sock.close()
                continue
            try:
                sock.setblocking(True)
                sock.sendall(data)
                sock.setblocking(False)
            except OSError:
                sel.unregister(sock)
                sock.close()

if __name__ == "__main__":
    main()
