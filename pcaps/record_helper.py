#!/usr/bin/env python3
"""Helpers for pcaps/record.sh: the kernel client, a kernel server, and scapy servers.

Run inside the namespaces record.sh creates. Lab traffic only: every address used here
belongs to those namespaces.
"""
import errno
import json
import socket
import struct
import sys
import time


def client(family, host, port, mode, timeout):
    """Kernel TCP client (the recorded client). Prints one JSON line with the result."""
    fam = socket.AF_INET6 if family == "6" else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(float(timeout))
    t0 = time.monotonic()
    result = {"connect": "ok"}
    try:
        s.connect((host, int(port)))
    except OSError as e:
        name = errno.errorcode.get(e.errno, str(e.errno)) if e.errno else "timeout"
        result = {"connect": name, "elapsed": round(time.monotonic() - t0, 3)}
        print(json.dumps(result))
        return
    except socket.timeout:
        print(json.dumps({"connect": "timeout"}))
        return
    if mode == "data":
        # Data then FIN close: send a request, read the reply until the server's FIN, close.
        time.sleep(0.05)
        s.sendall(b"hello from the kernel client\n")
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        time.sleep(0.05)
        s.close()
        result["received"] = got.decode(errors="replace")
    else:
        # Hold the connection open: record.sh stops the capture while it is established, so
        # the fixture is about the handshake alone; then close abortively (SO_LINGER 0).
        print(json.dumps(result), flush=True)
        time.sleep(2)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        return
    print(json.dumps(result))


def server(family, addr, port):
    """Kernel server: accept one connection, read the request, answer, close."""
    fam = socket.AF_INET6 if family == "6" else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, int(port)))
    ls.listen(4)
    print("listening", flush=True)
    c, _ = ls.accept()
    c.recv(4096)
    time.sleep(0.05)
    c.sendall(b"hello from the kernel server\n")
    time.sleep(0.05)
    c.close()
    time.sleep(0.3)


def crafted(kind, family, iface, addr, port):
    """scapy server answering the kernel client's SYNs with crafted segments."""
    from scapy.all import IP, IPv6, TCP, conf, send, sniff  # noqa: E402

    conf.verb = 0
    L3 = IPv6 if family == "6" else IP
    isn = 0x5EED0000
    state = {"syns": 0, "done": False}

    def reply(pkt, **kw):
        ip = pkt[L3]
        send(L3(src=ip.dst, dst=ip.src) / TCP(sport=pkt[TCP].dport, dport=pkt[TCP].sport, window=64000, **kw))

    def handle(pkt):
        if TCP not in pkt or pkt[TCP].dport != int(port):
            return
        t = pkt[TCP]
        syn = bool(t.flags & 0x02)
        ack = bool(t.flags & 0x10)
        rst = bool(t.flags & 0x04)
        if rst:
            return
        if syn and not ack:
            state["syns"] += 1
            n = state["syns"]
            if kind == "badack" and n == 1:
                # RFC 9293 §3.10.7.3: SEG.ACK > SND.NXT -> the client must answer <SEQ=SEG.ACK><CTL=RST>.
                reply(pkt, flags="SA", seq=isn, ack=(t.seq + 1000) & 0xFFFFFFFF, options=[("MSS", 1460)])
            elif kind == "rstnoack" and n == 1:
                # RST without ACK in SYN-SENT must be ignored (RFC 9293 §3.10.7.3, RFC 5961 §3).
                reply(pkt, flags="R", seq=0x1234, ack=0)
            elif kind == "simopen" and n == 1:
                # A bare SYN: simultaneous open (RFC 9293 §3.5 figure 8).
                # It carries a real stack's options (MSS, SACK-permitted, TS, window scale).
                tsval = 0
                for name, val in t.options:
                    if name == "Timestamp":
                        tsval = val[0]
                reply(pkt, flags="S", seq=isn, options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (777000, 0)), ("NOP", None), ("WScale", 7)])
            else:
                reply(pkt, flags="SA", seq=isn, ack=(t.seq + 1) & 0xFFFFFFFF, options=[("MSS", 1460)])
        elif syn and ack and kind == "simopen":
            # The client's SYN-ACK: acknowledge it.
            tsval = 0
            for name, val in t.options:
                if name == "Timestamp":
                    tsval = val[0]
            reply(pkt, flags="A", seq=isn + 1, ack=(t.seq + 1) & 0xFFFFFFFF, options=[("NOP", None), ("NOP", None), ("Timestamp", (777010, tsval))])

    print("sniffing", flush=True)
    sniff(iface=iface, prn=handle, store=False, timeout=8, filter=f"tcp port {port}")


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "client":
        client(*sys.argv[2:7])
    elif role == "server":
        server(*sys.argv[2:5])
    elif role == "crafted":
        crafted(*sys.argv[2:7])
    else:
        sys.exit(f"unknown role {role}")
