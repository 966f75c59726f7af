// Regression tests for engine behaviour the FreeBSD packetdrill suite pinned down (issue 7):
// each case is one line of a script in ../shared/conformance/freebsd-tcp-testsuite.
import { describe, expect, it } from "vitest";
import { Harness } from "../helpers/vt.js";
import { TCP_ACK, TCP_SYN } from "../../stack/wire/types.js";

describe("freebsd profile: ICMP in SYN-SENT (rcv-icmp-hard-error-ignored-ipv4/-ipv6)", () => {
  it("ICMPv4 time exceeded: TTL in transit (code 0) aborts, fragment reassembly (code 1) does not", () => {
    const h = new Harness({ profile: "freebsd" });
    const a = h.connect();
    a.icmp(11, 1);
    expect(a.outcome).toBeUndefined();
    a.icmp(11, 0);
    expect(a.outcome).toMatchObject({ kind: "unreachable", reason: "host" });
  });
  it("ICMPv6 time exceeded: hop limit (code 0) aborts, fragment reassembly time (code 1) does not", () => {
    const h = new Harness({ profile: "freebsd" });
    const a = h.connect("[fd00::1]:80");
    a.icmp(3, 1);
    expect(a.outcome).toBeUndefined();
    a.icmp(3, 0);
    expect(a.outcome).toMatchObject({ kind: "unreachable", reason: "host" });
  });
  it("ICMPv4 fragmentation needed does not change the MSS of the retransmitted SYN (IPv6 PTB does)", () => {
    const h = new Harness({ profile: "freebsd" });
    const conn = h.connect();
    conn.icmp(3, 4, { mtu: 1234 });
    expect(conn.outcome).toBeUndefined();
    h.advanceTo(1000);
    expect(h.take().filter((s) => s.flags === "S").map((s) => s.options.split(",")[0])).toEqual(["mss 1460", "mss 1460"]);
  });
});

describe("freebsd profile: receive buffer rounded up to the MSS (tcp_mss(); SO_RCVBUF 65536 -> 65700)", () => {
  it("no window scaling: the ACK of a SYN-ACK with 3 data bytes still advertises 65535", () => {
    const h = new Harness({ profile: "freebsd" });
    const conn = h.connect();
    const syn = h.take()[0]!;
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 0, ack: syn.tcp.seq + 1, window: 32767, options: [{ kind: "mss", value: 1460 }, { kind: "sackOK" }], payload: new Uint8Array(3) });
    const ack = h.take()[0]!;
    expect(ack.tcp.ack).toBe(4);
    expect(ack.tcp.window).toBe(65535);
    expect(conn.c.profile.rcvBufBytes).toBe(65700);
  });
  it("window scale 6: the window field is 65700 >> 6 = 1026", () => {
    const h = new Harness({ profile: "freebsd" });
    const conn = h.connect();
    const syn = h.take()[0]!;
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 0, ack: syn.tcp.seq + 1, window: 32767, options: [{ kind: "mss", value: 1460 }, { kind: "wscale", shift: 7 }] });
    expect(h.take()[0]!.tcp.window).toBe(1026);
  });
  it("other profiles keep their buffer as configured", () => {
    const h = new Harness({ profile: "linux" });
    const conn = h.connect();
    const syn = h.take()[0]!;
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 0, ack: syn.tcp.seq + 1, options: [{ kind: "mss", value: 1460 }] });
    expect(conn.c.profile.rcvBufBytes).toBe(131072);
  });
});
