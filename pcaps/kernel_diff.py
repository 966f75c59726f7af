#!/usr/bin/env python3
"""Randomized differential recorder: the Linux kernel is the TCP client (the oracle), a scapy
"server" answers its SYNs with a crafted sequence drawn from a scenario grammar.

    sudo /usr/bin/python3 pcaps/kernel_diff.py record --seed S --count N --out DIR [--start K]
    /usr/bin/python3 pcaps/kernel_diff.py show --seed S --index I      (print one scenario)

For every scenario it writes DIR/kd-SEED-INDEX.pcap (tcpdump in the client namespace) and
DIR/kd-SEED-INDEX.json: the scenario, the kernel's connect() result (errno, elapsed), what
the client application did, and the sysctls as profile `overrides` for `synack replay`.
Then `src/replay/kernel-diff.ts` replays every capture with `--profile linux --strict`.

Two namespaces it creates and deletes (also on failure or SIGTERM): a client namespace
(the kernel under test) and a server namespace (scapy behind an nft rule that keeps the
server kernel from answering the port itself), joined by one veth pair. Lab traffic only:
every address used belongs to those namespaces. scapy is only importable by /usr/bin/python3.

Why the client is pinned to CPU 0 and the scapy server to CPU 1 (as pcaps/record.sh does):
an ICMP error that arrives while connect() still owns the socket lock is taken as a soft
error (sk_err_soft) instead of aborting the connect (docs/devices.md, "Latency when the kernel
is the client being recorded"). scapy answers after a
user-space round trip (hundreds of µs at least), so that window is tiny here, but keeping
the two ends on different CPUs keeps it that way under load. This kernel has no sch_netem.
"""
import argparse
import errno
import heapq
import json
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"

C4, S4, R4 = "10.203.1.2", "10.203.1.1", "10.203.1.254"  # R: a "router" address for ICMP errors
C6, S6, R6 = "fd00:203:1::2", "fd00:203:1::1", "fd00:203:1::fe"
PORT_BASE = 20000

# ---------------------------------------------------------------------------------------
# Scenario grammar
# ---------------------------------------------------------------------------------------

# Contract §4 ICMP rows (v4: type, code) and a few that Linux ignores (source quench, code > 15).
ICMP4 = [(3, 0), (3, 1), (3, 2), (3, 3), (3, 4), (3, 5), (3, 6), (3, 7), (3, 8), (3, 9), (3, 10), (3, 11),
         (3, 12), (3, 13), (3, 14), (3, 15), (3, 16), (11, 0), (11, 1), (12, 0), (4, 0)]
ICMP6 = [(1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7), (2, 0), (3, 0), (3, 1), (4, 0), (4, 1), (4, 2)]

MSS_VALUES = [1460, 1460, 1400, 1200, 536, 500, 256, 88, 64, 48, 1, 0, 9000, 65535]


def gen_options(rng, client_has_ts=True):
    """A random SYN-ACK option list (scapy format) plus a note of what it offers."""
    items = []
    if rng.random() < 0.85:
        items.append(("MSS", rng.choice(MSS_VALUES)))
    if rng.random() < 0.6:
        items.append(("SAckOK", ""))
    if rng.random() < 0.6:
        items.append(("Timestamp", ("TS", rng.choice(["echo", "echo", "echo", "zero", "rand", "future", "past"]))))
    if rng.random() < 0.6:
        items.append(("WScale", rng.choice([0, 1, 2, 7, 8, 14, 14, 15])))
    if rng.random() < 0.15:
        items.append((rng.choice([253, 254, 99, 30]), "unk"))
    if rng.random() < 0.1:
        items.append(("SAck", "bogus"))  # a SACK block on a SYN-ACK
    rng.shuffle(items)
    out = []
    for it in items:
        if rng.random() < 0.25:
            out.append(("NOP", None))
        out.append(it)
    if rng.random() < 0.15:
        out.append(("EOL", None))
    return out


def gen_synack(rng, **kw):
    a = {"a": "synack", "ack": "ok", "opts": gen_options(rng), "win": rng.choice([64000, 64000, 65535, 29200, 1024, 512, 0]),
         "data": 0, "fin": False, "delay": rng.choice([0, 0, 2, 20, 100])}
    if rng.random() < 0.15:
        a["data"] = rng.choice([1, 10, 100, 600])
    if rng.random() < 0.1:
        a["fin"] = True
    a.update(kw)
    return a


def gen_first(rng, fam):
    kind = rng.choices(
        ["synack", "badack", "bareack", "rst", "simopen", "icmp", "silence", "dupsynack", "urg"],
        weights=[26, 12, 7, 12, 11, 16, 3, 8, 2])[0]
    acts = []
    if kind == "synack":
        acts = [gen_synack(rng)]
    elif kind == "dupsynack":
        first = gen_synack(rng)
        second = dict(first, delay=rng.choice([0, 5, 50, 300]), dup=True)
        if rng.random() < 0.3:
            second["seqoff"] = rng.choice([1, -1, 1000, 0x40000000])  # a different ISN
        acts = [first, second]
    elif kind == "urg":
        acts = [gen_synack(rng, urg=True, data=rng.choice([0, 5]))]
    elif kind == "badack":
        acts = [gen_synack(rng, ack=rng.choice(["iss", "iss+2", "rand", "iss-1000", "iss+1000"]))]
    elif kind == "bareack":
        acts = [{"a": "ack", "ack": rng.choice(["ok", "iss", "iss+2", "rand"]), "delay": rng.choice([0, 20]),
                 "data": rng.choice([0, 0, 10])}]
    elif kind == "rst":
        acts = [{"a": "rst", "ack": rng.choice(["ok", "ok", "none", "iss", "iss+2", "rand"]), "delay": rng.choice([0, 0, 20, 300]),
                 "seq": rng.choice(["zero", "rand"])}]
    elif kind == "simopen":
        acts = [{"a": "syn", "opts": gen_options(rng), "win": rng.choice([64000, 65535, 1024]),
                 "data": rng.choice([0, 0, 0, 20]), "fin": rng.random() < 0.15, "delay": rng.choice([0, 0, 10, 100])}]
        if rng.random() < 0.2:
            # The crossing SYN is followed by a SYN-ACK for our SYN (both halves, RFC 9293 fig. 8 variants).
            acts.append(gen_synack(rng, delay=rng.choice([5, 50])))
    elif kind == "icmp":
        t, c = rng.choice(ICMP6 if fam == 6 else ICMP4)
        acts = [{"a": "icmp", "type": t, "code": c, "quote": rng.choice(["ok", "ok", "ok", "nxt", "old", "rand"]),
                 "mtu": rng.choice([1280, 1400, 576, 68, 1500]), "from": rng.choice(["router", "server"]),
                 "delay": rng.choice([0, 0, 20, 300])}]
        if rng.random() < 0.3:
            acts.append(gen_synack(rng, delay=rng.choice([5, 100])))  # an answer after the error
    elif kind == "silence":
        acts = []
    return kind, acts


def gen_post(rng):
    """Server actions once the connection is established (relative delays, in order)."""
    post = []
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        k = rng.choices(["data", "fin", "rst", "synack", "ooo", "oldack", "futureack", "syn"], weights=[30, 20, 14, 8, 8, 5, 5, 4])[0]
        a = {"a": "p:" + k, "delay": rng.choice([0, 10, 50, 200, 400])}
        if k == "data" or k == "ooo":
            a["len"] = rng.choice([1, 50, 500, 1400])
        if k == "rst":
            a["where"] = rng.choice(["exact", "exact", "inwin", "outwin", "ack"])
        post.append(a)
        if k in ("rst",):
            break
    return post


def gen_scenario(seed, index):
    rng = random.Random(f"kernel-diff/{seed}/{index}")
    fam = 6 if rng.random() < 0.25 else 4
    kind, acts = gen_first(rng, fam)
    retries = rng.choice([1, 2, 2])
    linear = rng.choice([4, 4, 0])
    # What the server does with retransmitted SYNs: "same" answer again, a proper SYN-ACK, or nothing.
    retx = rng.choices(["same", "ok", "none"], weights=[4, 4, 2])[0]
    sc = {
        "seed": seed,
        "index": index,
        "kind": kind,
        "family": fam,
        "port": PORT_BASE + index % 40000,
        "serverIsn": rng.getrandbits(32),
        "serverTs": rng.getrandbits(31),
        "tsOnLater": rng.random() < 0.9,
        "answers": [acts],
        "retx": retx,
        "retxSynack": gen_synack(rng, delay=rng.choice([0, 5])),
        "onSynAck": rng.choices(["ack", "ackdata", "none", "rst", "synack"], weights=[6, 2, 1, 1, 1])[0],
        "ackData": rng.random() < 0.9,
        "post": gen_post(rng),
        "client": {
            "send": rng.choice([0, 0, 5, 100, 2000]),
            "sendDelayMs": rng.choice([0, 30]),
            "holdMs": rng.choice([400, 800]),
            "close": rng.choice(["fin", "fin", "rst"]),
        },
        "sysctls": {"net.ipv4.tcp_syn_retries": retries, "net.ipv4.tcp_syn_linear_timeouts": linear},
        "overrides": {"synRetries": retries, "synLinearTimeouts": linear},
    }
    # A hostile SYN-ACK (drawn from its own generator, so the scenarios of a seed are otherwise
    # those drawn before this was added): one malformed option in the first SYN-ACK. Linux
    # tcp_parse_options() stops at an option of length 0 or 1 or one that overruns the header
    # and keeps the segment with what it parsed so far; a known kind of the wrong length is
    # skipped by its length.
    hrng = random.Random(f"kernel-diff/{seed}/{index}/badopt")
    first = acts[0] if acts else None
    if first is not None and first["a"] == "synack" and hrng.random() < 0.2:
        form = hrng.choice(["len0", "len1", "overrun", "mss-len6", "ws-len4", "sackok-len4"])
        at = "last" if form == "overrun" else hrng.choice(["first", "middle", "last"])
        first["badopt"] = {"form": form, "at": at, "kind": hrng.choice([2, 3, 8, 253, 30])}
        # Room for the bad option (at most 6 bytes) in the 40 bytes of option space.
        while option_bytes(first["opts"]) > 34:
            first["opts"] = first["opts"][:-1]
    return sc


OPT_LEN = {"MSS": 4, "SAckOK": 2, "Timestamp": 10, "WScale": 3, "SAck": 10, "NOP": 1, "EOL": 1}


def option_bytes(opts):
    return sum(OPT_LEN.get(name, 4) for name, _ in opts)


# The bytes of each malformed option (the placeholder scapy writes has the same length).
def badopt_bytes(b):
    form, k = b["form"], b["kind"]
    return {"len0": bytes([k, 0, 0, 0]), "len1": bytes([k, 1, 0, 0]), "overrun": bytes([k, 40, 0, 0]),
            "mss-len6": bytes([2, 6, 0x05, 0xB4, 0, 0]), "ws-len4": bytes([3, 4, 7, 0]),
            "sackok-len4": bytes([4, 4, 0, 0])}[form]


BADOPT_MARK = b"\xb4\xd0"


def with_badopt(opts, b):
    """The option list with a placeholder (kind 253, marked) where the bad option goes."""
    ph = (253, BADOPT_MARK + b"\x00" * (len(badopt_bytes(b)) - 4))
    opts = [o for o in opts if o[0] != "EOL"]
    if b["at"] == "first":
        return [ph] + opts
    if b["at"] == "middle":
        return opts[: len(opts) // 2] + [ph] + opts[len(opts) // 2:]
    return opts + [ph]


def l4_checksum(src, dst, proto, seg, fam):
    """The TCP checksum over the IPv4/IPv6 pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1)."""
    if fam == 4:
        pseudo = socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst) + struct.pack("!BBH", 0, proto, len(seg))
    else:
        pseudo = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + struct.pack("!IxxxB", len(seg), proto)
    data = pseudo + seg + (b"\x00" if len(seg) % 2 else b"")
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def patch_badopt(raw, fam, src, dst, b):
    """Writes the malformed option over its placeholder and fixes the TCP checksum."""
    raw = bytearray(raw)
    off = 40 if fam == 6 else (raw[0] & 0x0F) * 4
    hl = (raw[off + 12] >> 4) * 4
    at = bytes(raw[off + 20:off + hl]).find(bytes([253]))
    while at >= 0 and bytes(raw[off + 20 + at + 2:off + 20 + at + 4]) != BADOPT_MARK:
        at = bytes(raw[off + 20:off + hl]).find(bytes([253]), at + 1)
    if at < 0:
        raise RuntimeError("bad option placeholder not found")
    bad = badopt_bytes(b)
    raw[off + 20 + at:off + 20 + at + len(bad)] = bad
    raw[off + 16:off + 18] = b"\x00\x00"
    raw[off + 16:off + 18] = struct.pack("!H", l4_checksum(src, dst, 6, bytes(raw[off:]), fam))
    return bytes(raw)


def give_up_s(retries, linear):
    """About when the kernel's connect() gives up (initial RTO 1 s). The kernel's limit is a
    time, not a count (tcp_model_timeout(): (2^(retries+1) - 1) initial RTOs), so with linear
    timeouts it sends more SYNs than tcp_syn_retries; 4 s of margin on top."""
    return (2 ** (retries + 1) - 1) + 4.0


# ---------------------------------------------------------------------------------------
# The scapy server (runs in the server namespace, one scenario at a time, JSON lines on stdin)
# ---------------------------------------------------------------------------------------

def server_main(iface):
    from scapy.all import IP, IPv6, TCP, ICMP, Raw, conf  # noqa: E402
    from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6PacketTooBig, ICMPv6TimeExceeded, ICMPv6ParamProblem  # noqa: E402

    conf.verb = 0
    from scapy.all import Ether, get_if_hwaddr  # noqa: E402
    # Sent on the link layer to the client's MAC (learnt from its SYN): no scapy routing or
    # neighbour discovery in the way, and no per-packet socket set-up.
    l2 = conf.L2socket(iface=iface)
    my_mac = get_if_hwaddr(iface)
    peer = {"mac": None}

    class L2Sender:
        def send(self, p, ethertype=None):
            # A packet patched as bytes (a malformed option) comes with its EtherType.
            e = Ether(src=my_mac, dst=peer["mac"], type=ethertype) if ethertype else Ether(src=my_mac, dst=peer["mac"])
            l2.send(e / p)

    l3 = {4: L2Sender(), 6: L2Sender()}
    sniffer = conf.L2listen(iface=iface, filter="tcp and dst portrange %d-%d" % (PORT_BASE, PORT_BASE + 40000))
    fd = sniffer.fileno()
    print("ready", flush=True)

    while True:
        line = sys.stdin.readline()
        if not line:
            return
        sc = json.loads(line)
        run_server_scenario(sc, sniffer, fd, l3, peer, IP, IPv6, TCP, ICMP, Raw,
                            ICMPv6DestUnreach, ICMPv6PacketTooBig, ICMPv6TimeExceeded, ICMPv6ParamProblem)


def run_server_scenario(sc, sniffer, fd, l3, peer, IP, IPv6, TCP, ICMP, Raw, D6, P6, T6, PP6):
    fam = sc["family"]
    port = sc["port"]
    L3 = IPv6 if fam == 6 else IP
    srv = S6 if fam == 6 else S4
    rtr = R6 if fam == 6 else R4
    M = 0xFFFFFFFF
    st = {"iss": None, "syns": 0, "cport": None, "caddr": None, "snd_nxt": (sc["serverIsn"] + 1) & M, "rcv_nxt": None,
          "est": False, "cts": 0, "ts": False, "postDone": False, "fin_sent": False, "log": [], "synpkt": None}
    t0 = time.monotonic()
    timers = []  # (time, seq, fn)
    seqno = [0]

    def later(ms, fn):
        seqno[0] += 1
        heapq.heappush(timers, (time.monotonic() + ms / 1000.0, seqno[0], fn))

    def log(s):
        st["log"].append("%.1f %s" % ((time.monotonic() - t0) * 1000, s))

    def tsval():
        return (sc["serverTs"] + int((time.monotonic() - t0) * 1000)) & M

    def build_opts(spec):
        out = []
        for name, val in spec:
            if name == "Timestamp":
                mode = val[1]
                ecr = {"echo": st["cts"], "zero": 0, "rand": random.getrandbits(32), "future": (st["cts"] + 100000) & M,
                       "past": (st["cts"] - 100000) & M}[mode]
                out.append(("Timestamp", (tsval(), ecr)))
                st["ts"] = True
            elif name == "SAck":
                out.append(("SAck", ((st["iss"] + 1) & M, (st["iss"] + 101) & M)))
            elif name == "SAckOK":
                out.append(("SAckOK", b""))
            elif isinstance(name, int):
                out.append((name, val if isinstance(val, bytes) else b"\x00\x00" if name in (253, 254) else b""))
            else:
                out.append((name, val))
        return out

    def later_opts():
        if st["ts"] and sc["tsOnLater"]:
            return [("NOP", None), ("NOP", None), ("Timestamp", (tsval(), st["cts"]))]
        return []

    def send_tcp(flags, seq, ack, opts=(), win=64000, payload=b"", urg=0, badopt=None):
        p = L3(src=srv, dst=st["caddr"]) / TCP(sport=port, dport=st["cport"], flags=flags, seq=seq & M, ack=ack & M,
                                                window=win, options=list(opts), urgptr=urg)
        if payload:
            p = p / Raw(payload)
        if badopt:
            l3[fam].send(Raw(patch_badopt(bytes(p), fam, srv, st["caddr"], badopt)), 0x86DD if fam == 6 else 0x0800)
        else:
            l3[fam].send(p)
        log("sent %s seq=%d ack=%d len=%d" % (flags, (seq - sc["serverIsn"]) & M, (ack - st["iss"]) & M if st["iss"] is not None else ack, len(payload)))

    def ack_value(mode):
        iss = st["iss"]
        return {"ok": iss + 1, "iss": iss, "iss+2": iss + 2, "rand": random.getrandbits(32), "iss-1000": iss - 1000,
                "iss+1000": iss + 1000, "none": 0}[mode]

    def do(a):
        k = a["a"]
        if k == "synack":
            seq = (sc["serverIsn"] + a.get("seqoff", 0)) & M
            data = b"D" * a.get("data", 0)
            flags = "SA" + ("F" if a.get("fin") else "") + ("U" if a.get("urg") else "")
            if data:
                flags += "P"
            if a.get("badopt"):
                send_tcp(flags, seq, ack_value(a["ack"]), build_opts(with_badopt(a["opts"], a["badopt"])), a["win"], data,
                         urg=1 if a.get("urg") else 0, badopt=a["badopt"])
            else:
                send_tcp(flags, seq, ack_value(a["ack"]), build_opts(a["opts"]), a["win"], data, urg=1 if a.get("urg") else 0)
            if a["ack"] == "ok" and not a.get("seqoff") and st["rcv_nxt"] is None:
                st["rcv_nxt"] = (st["iss"] + 1) & M
        elif k == "ack":
            send_tcp("A" + ("P" if a.get("data") else ""), sc["serverIsn"], ack_value(a["ack"]), later_opts(), payload=b"X" * a.get("data", 0))
        elif k == "rst":
            seq = 0 if a["seq"] == "zero" else random.getrandbits(32)
            if a["ack"] == "none":
                send_tcp("R", seq, 0)
            else:
                send_tcp("RA", seq, ack_value(a["ack"]))
        elif k == "syn":
            data = b"S" * a.get("data", 0)
            send_tcp("S" + ("F" if a.get("fin") else ""), sc["serverIsn"], 0, build_opts(a["opts"]), a["win"], data)
        elif k == "icmp":
            raw = bytearray(st["synpkt"])
            hl = 40 if fam == 6 else (raw[0] & 0x0F) * 4
            q = {"ok": st["iss"], "nxt": st["iss"] + 1, "old": st["iss"] - 1, "rand": random.getrandbits(32)}[a["quote"]] & M
            raw[hl + 4:hl + 8] = struct.pack("!I", q)
            src = rtr if a["from"] == "router" else srv
            t, c = a["type"], a["code"]
            if fam == 4:
                quote = bytes(raw[:hl + 8]) if a["from"] == "router" else bytes(raw)
                icmp = ICMP(type=t, code=c)
                if t == 3 and c == 4:
                    icmp = ICMP(type=3, code=4, nexthopmtu=a["mtu"])
                if t == 12:
                    icmp = ICMP(type=12, code=c, ptr=20)
                p = IP(src=src, dst=st["caddr"]) / icmp / Raw(quote)
            else:
                quote = bytes(raw)
                if t == 1:
                    icmp = D6(code=c)
                elif t == 2:
                    icmp = P6(mtu=a["mtu"] if a["mtu"] >= 1280 else 1280)
                elif t == 3:
                    icmp = T6(code=c)
                else:
                    icmp = PP6(code=c, ptr=6 if c == 1 else 40)
                p = IPv6(src=src, dst=st["caddr"]) / icmp / Raw(quote)
            l3[fam].send(p)
            log("sent icmp %d/%d quote=%s" % (t, c, a["quote"]))
        # post-establishment actions
        elif k == "p:data":
            data = b"d" * a["len"]
            send_tcp("PA", st["snd_nxt"], st["rcv_nxt"], later_opts(), payload=data)
            st["snd_nxt"] = (st["snd_nxt"] + len(data)) & M
        elif k == "p:ooo":
            send_tcp("PA", st["snd_nxt"] + 1000, st["rcv_nxt"], later_opts(), payload=b"o" * a["len"])
        elif k == "p:fin":
            send_tcp("FA", st["snd_nxt"], st["rcv_nxt"], later_opts())
            st["snd_nxt"] = (st["snd_nxt"] + 1) & M
            st["fin_sent"] = True
        elif k == "p:rst":
            w = a["where"]
            seq = {"exact": st["snd_nxt"], "inwin": st["snd_nxt"] + 100, "outwin": st["snd_nxt"] + 0x20000000, "ack": st["snd_nxt"]}[w]
            send_tcp("RA" if w == "ack" else "R", seq, st["rcv_nxt"] if w == "ack" else 0)
        elif k == "p:synack":
            send_tcp("SA", sc["serverIsn"], st["iss"] + 1, build_opts([("MSS", 1460)]))
        elif k == "p:syn":
            send_tcp("S", sc["serverIsn"] + 5, 0, build_opts([("MSS", 1460)]))
        elif k == "p:oldack":
            send_tcp("A", st["snd_nxt"], st["iss"] - 5000, later_opts())
        elif k == "p:futureack":
            send_tcp("A", st["snd_nxt"], st["rcv_nxt"] + 5000, later_opts())

    def schedule(acts):
        for a in acts:
            later(a.get("delay", 0), lambda a=a: do(a))

    def established():
        if st["est"]:
            return
        st["est"] = True
        log("established")
        t = 0
        for a in sc["post"]:
            t += a["delay"]
            later(t, lambda a=a: do(a))

    deadline = time.monotonic() + sc["serverSeconds"]
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        while timers and timers[0][0] <= now:
            _, _, fn = heapq.heappop(timers)
            try:
                fn()
            except Exception as e:  # a scenario bug must not kill the server
                log("error %r" % (e,))
        wait = min(deadline, timers[0][0] if timers else deadline) - time.monotonic()
        r, _, _ = select.select([fd, sys.stdin], [], [], max(0.0, wait))
        if sys.stdin in r:
            ctl = sys.stdin.readline().strip()
            if ctl == "stop" or not ctl:
                break
        if fd not in r:
            continue
        pkt = sniffer.recv()
        if pkt is None or TCP not in pkt or L3 not in pkt:
            continue
        t = pkt[TCP]
        if t.dport != port or t.sport == port:
            continue
        f = int(t.flags)
        syn, ack, rst, fin = f & 2, f & 16, f & 4, f & 1
        plen = len(bytes(t.payload))
        for name, val in t.options:
            if name == "Timestamp":
                st["cts"] = val[0]
        if rst:
            log("client RST")
            continue
        if syn and not ack:
            if st["iss"] is None:
                st["iss"] = t.seq
                st["cport"] = t.sport
                st["caddr"] = pkt[L3].src
                st["synpkt"] = bytes(pkt[L3])
                peer["mac"] = pkt.src
            st["syns"] += 1
            n = st["syns"]
            log("client SYN #%d" % n)
            if n <= len(sc["answers"]):
                schedule(sc["answers"][n - 1])
            elif sc["retx"] == "same":
                schedule(sc["answers"][-1])
            elif sc["retx"] == "ok":
                schedule([sc["retxSynack"]])
            continue
        if syn and ack:
            # Our bare SYN crossed: the client answers SYN-ACK (simultaneous open).
            log("client SYN-ACK")
            st["rcv_nxt"] = (st["iss"] + 1) & M
            st["snd_nxt"] = t.ack
            m = sc["onSynAck"]
            if m == "ack":
                send_tcp("A", st["snd_nxt"], st["rcv_nxt"], later_opts())
                established()
            elif m == "ackdata":
                send_tcp("PA", st["snd_nxt"], st["rcv_nxt"], later_opts(), payload=b"a" * 20)
                st["snd_nxt"] = (st["snd_nxt"] + 20) & M
                established()
            elif m == "rst":
                send_tcp("R", st["snd_nxt"], 0)
            elif m == "synack":
                send_tcp("SA", sc["serverIsn"], st["iss"] + 1, build_opts([("MSS", 1460)]))
            continue
        if ack and st["iss"] is not None:
            # Keep the server's send sequence consistent with what the client has taken
            # (data it skipped past, an out-of-order segment that filled a hole).
            if 0 < (t.ack - st["snd_nxt"]) & M < 0x80000000:
                st["snd_nxt"] = t.ack
            if not st["est"] and st["rcv_nxt"] is not None and (t.ack - (sc["serverIsn"] + 1)) & M < 0x80000000:
                # The client's handshake ACK (it may also carry data).
                established()
            if (plen or fin) and st["rcv_nxt"] is not None:
                end = (t.seq + plen + (1 if fin else 0)) & M
                if (end - st["rcv_nxt"]) & M < 0x80000000:
                    st["rcv_nxt"] = end
                if sc["ackData"]:
                    send_tcp("A", st["snd_nxt"], st["rcv_nxt"], later_opts())
                log("client data %d fin %d" % (plen, 1 if fin else 0))
    print(json.dumps({"done": True, "log": st["log"], "syns": st["syns"]}), flush=True)


# ---------------------------------------------------------------------------------------
# The kernel client (runs in the client namespace)
# ---------------------------------------------------------------------------------------

def client_main(spec_json):
    sc = json.loads(spec_json)
    fam = socket.AF_INET6 if sc["family"] == 6 else socket.AF_INET
    host = S6 if sc["family"] == 6 else S4
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(sc["connectTimeout"])
    t0 = time.monotonic()
    res = {"connect": "ok"}
    try:
        s.connect((host, sc["port"]))
        res["elapsed"] = round(time.monotonic() - t0, 4)
        res["localPort"] = s.getsockname()[1]
    except socket.timeout as e:
        # Python's own timeout (the kernel was still trying), or the kernel's ETIMEDOUT.
        res = {"connect": "ETIMEDOUT" if e.errno == errno.ETIMEDOUT else "timeout", "elapsed": round(time.monotonic() - t0, 4)}
    except OSError as e:
        res = {"connect": errno.errorcode.get(e.errno, str(e.errno)), "elapsed": round(time.monotonic() - t0, 4)}
    if res["connect"] != "ok":
        print(json.dumps(res), flush=True)
        return
    app = sc["client"]
    actions = []
    got = b""
    try:
        if app["send"]:
            time.sleep(app["sendDelayMs"] / 1000.0)
            s.sendall(b"q" * app["send"])
            actions.append("send %d at %.1f ms" % (app["send"], (time.monotonic() - t0) * 1000))
        s.settimeout(0.05)
        end = time.monotonic() + app["holdMs"] / 1000.0
        while time.monotonic() < end:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                actions.append("eof at %.1f ms" % ((time.monotonic() - t0) * 1000))
                break
            got += chunk
    except OSError as e:
        res["afterError"] = errno.errorcode.get(e.errno, str(e.errno))
    res["received"] = len(got)
    if app["close"] == "rst":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    try:
        s.close()
    except OSError:
        pass
    actions.append("close(%s) at %.1f ms" % (app["close"], (time.monotonic() - t0) * 1000))
    res["actions"] = actions
    print(json.dumps(res), flush=True)


# ---------------------------------------------------------------------------------------
# The recorder (root namespace): namespaces, tcpdump, client, server, sidecars
# ---------------------------------------------------------------------------------------

def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, **kw)


class Rig:
    def __init__(self):
        self.tag = "synack-kd-%d" % os.getpid()
        self.c = self.tag + "-c"
        self.s = self.tag + "-s"
        self.server = None

    def setup(self):
        c, s = self.c, self.s
        sh("ip", "netns", "add", c)
        sh("ip", "netns", "add", s)
        sh("ip", "link", "add", "c0", "netns", c, "type", "veth", "peer", "name", "s0", "netns", s)
        for ns in (c, s):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", c, "link", "set", "c0", "up")
        sh("ip", "-n", s, "link", "set", "s0", "up")
        sh("ip", "-n", c, "addr", "add", C4 + "/24", "dev", "c0")
        sh("ip", "-n", c, "-6", "addr", "add", C6 + "/64", "dev", "c0", "nodad")
        for a in (S4 + "/24", R4 + "/24"):
            sh("ip", "-n", s, "addr", "add", a, "dev", "s0")
        for a in (S6 + "/64", R6 + "/64"):
            sh("ip", "-n", s, "-6", "addr", "add", a, "dev", "s0", "nodad")
        sh("ip", "netns", "exec", c, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.c0.rp_filter=0")
        # No per-destination metrics carried from one scenario to the next: tcp_init_metrics()
        # seeds a new connection's first RTO (and ssthresh) from the RTT and ssthresh an
        # earlier connection to the same address left in the cache (tcp_update_metrics()).
        sh("ip", "netns", "exec", c, "sysctl", "-qw", "net.ipv4.tcp_no_metrics_save=1")
        # No GSO on the client's veth: tcpdump there would see the kernel's super-segments
        # (several MSS in one packet) before segmentation, not what goes on a real wire.
        sh("ip", "-n", c, "link", "set", "dev", "c0", "gso_max_segs", "1")
        # The server kernel must not answer the scenario ports itself (scapy does): drop them
        # on input. AF_PACKET (scapy's sniffer) sees the packets before this hook.
        nft = "table inet kd {\n chain input_filter {\n  type filter hook input priority 0;\n  tcp dport %d-%d drop;\n }\n}\n" % (PORT_BASE, PORT_BASE + 40000)
        sh("ip", "netns", "exec", s, "nft", "-f", "-", input=nft.encode())
        # Neighbour caches warm, so the first SYN is not held back by ARP/ND.
        # (a refused connect to port 9 of the server kernel).
        warm = "import socket\nfor f, a in ((socket.AF_INET, %r), (socket.AF_INET6, %r)):\n s = socket.socket(f)\n s.settimeout(2)\n try: s.connect((a, 9))\n except OSError: pass\n" % (S4, S6)
        sh("ip", "netns", "exec", c, PY, "-c", warm)
        pin = ["taskset", "-c", "1"] if (os.cpu_count() or 1) >= 2 else []
        self.server = subprocess.Popen(["ip", "netns", "exec", s] + pin + [PY, __file__, "server", "s0"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self.server.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("scapy server did not start: %r" % line)

    def cleanup(self):
        if self.server and self.server.poll() is None:
            try:
                self.server.stdin.close()
            except Exception:
                pass
            try:
                self.server.wait(3)
            except subprocess.TimeoutExpired:
                self.server.kill()
        for ns in (self.c, self.s):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)

    def record(self, sc, out):
        name = "kd-%d-%04d" % (sc["seed"], sc["index"])
        c = self.c
        sysctl_args = ["%s=%s" % (k, v) for k, v in sc["sysctls"].items()]
        sh("ip", "netns", "exec", c, "sysctl", "-qw", *sysctl_args)
        # Forget path MTUs learnt from earlier scenarios' fragmentation-needed / packet-too-big
        # errors, so every scenario's SYN starts from the link MTU.
        sh("ip", "-n", c, "route", "flush", "cache", check=False)
        sh("ip", "-n", c, "-6", "route", "flush", "cache", check=False)
        # ... and no cached RTT, ssthresh or cwnd (tcp_no_metrics_save is set; flushed anyway).
        sh("ip", "-n", c, "tcp_metrics", "flush", "all", check=False, stderr=subprocess.DEVNULL)
        gu = give_up_s(sc["sysctls"]["net.ipv4.tcp_syn_retries"], sc["sysctls"]["net.ipv4.tcp_syn_linear_timeouts"])
        sc["connectTimeout"] = gu
        sc["serverSeconds"] = gu + sc["client"]["holdMs"] / 1000.0 + 1.5
        pcap = os.path.join(out, name + ".pcap")
        flt = "tcp port %d or (icmp and icmp[0] != 0 and icmp[0] != 8) or (icmp6 and ip6[40] < 128)" % sc["port"]
        td = subprocess.Popen(["ip", "netns", "exec", c, "tcpdump", "--immediate-mode", "-i", "c0", "-U", "-s", "0", "-w", pcap, flt],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # tcpdump says "listening on" once its socket is open.
        td.stderr.readline()
        self.server.stdin.write(json.dumps(sc) + "\n")
        self.server.stdin.flush()
        time.sleep(0.05)
        pin = ["taskset", "-c", "0"] if (os.cpu_count() or 1) >= 2 else []
        t0 = time.monotonic()
        cl = subprocess.run(["ip", "netns", "exec", c] + pin + [PY, __file__, "client", json.dumps(sc)],
                            stdout=subprocess.PIPE, text=True, timeout=sc["connectTimeout"] + 30)
        wall = time.monotonic() - t0
        time.sleep(0.3)
        self.server.stdin.write("stop\n")
        self.server.stdin.flush()
        srv = json.loads(self.server.stdout.readline())
        td.send_signal(signal.SIGINT)
        try:
            td.wait(5)
        except subprocess.TimeoutExpired:
            td.kill()
        try:
            res = json.loads(cl.stdout.strip().splitlines()[0])
        except Exception:
            res = {"connect": "helper-failed", "raw": cl.stdout}
        side = {
            "name": name,
            "description": "kernel-diff scenario %d/%d: %s" % (sc["seed"], sc["index"], sc["kind"]),
            "family": sc["family"],
            "client": C6 if sc["family"] == 6 else C4,
            "server": S6 if sc["family"] == 6 else S4,
            "port": sc["port"],
            "kernelResult": res,
            "sysctls": sc["sysctls"],
            "overrides": sc["overrides"],
            "scenario": sc,
            "serverLog": srv.get("log", []),
            "wallSeconds": round(wall, 3),
            "recordedWith": "Linux %s kernel client in a network namespace (CPU 0), scapy server in another (CPU 1), tcpdump on the client veth; link delay: none (no sch_netem)" % os.uname().release,
        }
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(side, f, indent=1)
            f.write("\n")
        return name, res


def record_main(args):
    if os.geteuid() != 0:
        print("kernel_diff.py: needs root (network namespaces)", file=sys.stderr)
        sys.exit(2)
    os.makedirs(args.out, exist_ok=True)
    rig = Rig()

    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        rig.setup()
        print("namespaces %s %s" % (rig.c, rig.s), flush=True)
        t_end = time.monotonic() + args.minutes * 60 if args.minutes else None
        i = args.start
        n = 0
        while n < args.count:
            if t_end and time.monotonic() > t_end:
                break
            sc = gen_scenario(args.seed, i)
            name, res = rig.record(sc, args.out)
            print("%s %s %s %s" % (name, sc["kind"], res.get("connect"), res.get("elapsed")), flush=True)
            i += 1
            n += 1
        print("recorded %d scenario(s)" % n, flush=True)
    finally:
        rig.cleanup()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "server":
        server_main(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "client":
        client_main(sys.argv[2])
    else:
        ap = argparse.ArgumentParser()
        sub = ap.add_subparsers(dest="cmd", required=True)
        r = sub.add_parser("record")
        r.add_argument("--seed", type=int, default=1)
        r.add_argument("--count", type=int, default=20)
        r.add_argument("--start", type=int, default=0)
        r.add_argument("--minutes", type=float, default=0)
        r.add_argument("--out", required=True)
        s = sub.add_parser("show")
        s.add_argument("--seed", type=int, default=1)
        s.add_argument("--index", type=int, default=0)
        a = ap.parse_args()
        if a.cmd == "record":
            record_main(a)
        else:
            print(json.dumps(gen_scenario(a.seed, a.index), indent=1))
