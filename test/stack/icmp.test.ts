// ICMP / ICMPv6 errors in SYN-SENT: RFC 5927 validation, per-profile policy, and the
// outcome each type/code gives (icmpPolicy and the other ICMP policies: docs/profiles.md;
// the outcomes: docs/ntstatus.md).
import { describe, expect, it } from "vitest";
import { Harness } from "../helpers/vt.js";
import type { ProfileName } from "../../stack/tcp/profiles.js";
import type { UnreachableReason } from "../../stack/tcp/outcome.js";
import { linuxConnect } from "./peers.js";

// [family, type, code, reason] per docs/ntstatus.md.
const TABLE: Array<[4 | 6, number, number, UnreachableReason]> = [
  [4, 3, 0, "net"],
  [4, 3, 1, "host"],
  [4, 3, 2, "protocol"],
  [4, 3, 3, "port"],
  [4, 3, 5, "host"],
  [4, 3, 6, "net"],
  [4, 3, 7, "host"],
  [4, 3, 9, "host"],
  [4, 3, 10, "host"],
  [4, 3, 11, "net"],
  [4, 3, 12, "host"],
  [4, 3, 13, "host"],
  [4, 11, 0, "host"],
  [4, 12, 0, "host"],
  [6, 1, 0, "net"],
  [6, 1, 1, "host"],
  [6, 1, 3, "host"],
  [6, 1, 4, "port"],
  [6, 1, 5, "host"],
  [6, 1, 6, "host"],
  [6, 3, 0, "host"],
  [6, 4, 0, "host"],
  [6, 4, 1, "protocol"],
];

const remoteFor = (v: 4 | 6) => (v === 4 ? "10.0.0.1:80" : "[fd00::1]:80");

describe("linux: every ICMP error about the SYN aborts at once with its documented reason (docs/ntstatus.md)", () => {
  for (const [v, type, code, reason] of TABLE) {
    it(`ICMPv${v === 4 ? 4 : 6} type ${type} code ${code} -> unreachable ${reason}`, () => {
      const h = new Harness({ profile: "linux" });
      const conn = h.connect(remoteFor(v));
      h.advance(30);
      conn.icmp(type, code, { from: v === 4 ? "10.0.0.254" : "fd00::fe" });
      expect(conn.outcome).toMatchObject({ kind: "unreachable", reason, icmp: { type, code, version: v } });
      expect(conn.outcomeAt).toBe(30);
      expect(h.stack.connectionCount).toBe(0);
    });
  }
});

describe("windows: ICMP ignored unless TCP_FAIL_CONNECT_ON_ICMP_ERROR", () => {
  it("port unreachable is ignored: the connect times out at 21 s", () => {
    const h = new Harness({ profile: "windows" });
    const conn = h.connect();
    conn.icmp(3, 3);
    expect(conn.outcome).toBeUndefined();
    h.advanceTo(30_000);
    expect(conn.outcome).toEqual({ kind: "timedOut" });
    expect(conn.outcomeAt).toBe(21_000);
  });
  it("with failConnectOnIcmpError, host unreachable fails at once", () => {
    const h = new Harness({ profile: "windows" });
    const conn = h.connect("10.0.0.1:80", { overrides: { failConnectOnIcmpError: true } });
    h.advance(5);
    conn.icmp(3, 1);
    expect(conn.outcome).toMatchObject({ kind: "unreachable", reason: "host" });
    expect(conn.outcomeAt).toBe(5);
  });
});

describe("freebsd: hard errors abort, soft errors do not", () => {
  const hard: Array<[4 | 6, number, number]> = [[4, 3, 3], [4, 3, 2], [4, 3, 9], [4, 3, 10], [4, 3, 13], [4, 11, 0], [6, 1, 1], [6, 1, 4], [6, 4, 1], [6, 3, 0]];
  const soft: Array<[4 | 6, number, number]> = [[4, 3, 0], [4, 3, 1], [4, 3, 5], [4, 3, 6], [4, 3, 7], [4, 3, 8], [4, 3, 11], [4, 3, 12], [6, 1, 0], [6, 1, 3]];
  for (const [v, t, c] of hard) {
    it(`v${v} ${t}/${c} aborts`, () => {
      const h = new Harness({ profile: "freebsd" });
      const conn = h.connect(remoteFor(v));
      conn.icmp(t, c);
      expect(conn.outcome?.kind).toBe("unreachable");
    });
  }
  for (const [v, t, c] of soft) {
    it(`v${v} ${t}/${c} is ignored`, () => {
      const h = new Harness({ profile: "freebsd" });
      const conn = h.connect(remoteFor(v));
      conn.icmp(t, c);
      expect(conn.outcome).toBeUndefined();
      expect(conn.c.state).toBe("SYN-SENT");
    });
  }
});

describe("rfc: hard errors abort; a soft error is reported at give-up instead of a bare timeout", () => {
  it("host unreachable is remembered and reported with timedOut at 180 s", () => {
    const h = new Harness({ profile: "rfc" });
    const conn = h.connect();
    conn.icmp(3, 1);
    expect(conn.outcome).toBeUndefined();
    h.advanceTo(200_000);
    expect(conn.outcome).toMatchObject({ kind: "timedOut", softError: { reason: "host" } });
    expect(conn.outcomeAt).toBe(180_000);
  });
  it("port unreachable aborts at once", () => {
    const h = new Harness({ profile: "rfc" });
    const conn = h.connect();
    conn.icmp(3, 3);
    expect(conn.outcome).toMatchObject({ kind: "unreachable", reason: "port" });
  });
});

describe("RFC 5927 validation", () => {
  // linux accepts a quote equal to SND.NXT (ISS+1 in SYN-SENT): tcp_v4_err()'s between() is
  // inclusive; the kernel aborted on such a quote (docs/kernel-diff.md icmp-quote-snd-nxt,
  // kd-7-0003: ICMPv6 1/0 quoting ISS+1 -> ENETUNREACH; kd-7-0098).
  it("linux: quoting ISS-1 or ISS+2 is ignored, quoting ISS+1 (= SND.NXT) counts", async () => {
    const { buildTcpPacket } = await import("../../stack/wire/packet.js");
    const h = new Harness({ profile: "linux" });
    const conn = h.connect();
    const [syn] = h.take();
    const quoted = (seq: number) =>
      buildTcpPacket({ src: "10.0.0.2", dst: "10.0.0.1", srcPort: conn.c.localPort, dstPort: 80, seq, ack: 0, flags: 2, window: 1000 });
    conn.icmp(3, 3, { original: quoted((syn.tcp.seq - 1) >>> 0) });
    conn.icmp(3, 3, { original: quoted((syn.tcp.seq + 2) >>> 0) });
    expect(conn.outcome).toBeUndefined();
    expect(h.stack.stats.icmpIgnored).toBe(2);
    conn.icmp(3, 3, { original: quoted((syn.tcp.seq + 1) >>> 0) });
    expect(conn.outcome).toMatchObject({ kind: "unreachable", reason: "port" });
  });
  for (const profile of ["linux", "freebsd"] as ProfileName[]) {
    it(`${profile}: quoting ISS-1${profile === "linux" ? "" : " or ISS+1"} is ignored, quoting ISS counts`, async () => {
      const { buildTcpPacket } = await import("../../stack/wire/packet.js");
      const h = new Harness({ profile });
      const conn = h.connect();
      const [syn] = h.take();
      const quoted = (seq: number) =>
        buildTcpPacket({ src: "10.0.0.2", dst: "10.0.0.1", srcPort: conn.c.localPort, dstPort: 80, seq, ack: 0, flags: 2, window: 1000 });
      conn.icmp(3, 3, { original: quoted((syn.tcp.seq - 1) >>> 0) });
      if (profile !== "linux") conn.icmp(3, 3, { original: quoted((syn.tcp.seq + 1) >>> 0) });
      expect(conn.outcome).toBeUndefined();
      expect(h.stack.stats.icmpIgnored).toBe(profile === "linux" ? 1 : 2);
      conn.icmp(3, 3, { original: quoted(syn.tcp.seq) });
      expect(conn.outcome).toMatchObject({ kind: "unreachable", reason: "port" });
    });
  }
  it("an error quoting another port is dropped and counted", async () => {
    const { buildTcpPacket } = await import("../../stack/wire/packet.js");
    const h = new Harness({ profile: "linux" });
    const conn = h.connect();
    const [syn] = h.take();
    conn.icmp(3, 3, { original: buildTcpPacket({ src: "10.0.0.2", dst: "10.0.0.1", srcPort: conn.c.localPort + 1, dstPort: 80, seq: syn.tcp.seq, ack: 0, flags: 2, window: 1 }) });
    expect(conn.outcome).toBeUndefined();
    expect(h.stack.stats.drops["icmp for no connection"]).toBe(1);
  });
  it("source quench is ignored (RFC 6633)", () => {
    const h = new Harness({ profile: "linux" });
    const conn = h.connect();
    conn.icmp(4, 0);
    expect(conn.outcome).toBeUndefined();
  });
});

describe("path MTU during SYN-SENT", () => {
  it("IPv4 fragmentation needed (MTU 1000) -> the next SYN advertises MSS 960", () => {
    const h = new Harness({ profile: "linux" });
    const conn = h.connect();
    conn.icmp(3, 4, { mtu: 1000 });
    expect(conn.outcome).toBeUndefined();
    // The retransmission at 1 s, fired by the timer wheel (up to 36 ms later at HZ 250).
    h.advanceTo(1100);
    const syns = h.take().filter((s) => s.flags === "S");
    expect(syns.map((s) => s.options.split(",")[0])).toEqual(["mss 1460", "mss 960"]);
  });
  it("ICMPv6 packet too big (MTU 1300) -> MSS 1240 on the retransmitted SYN (freebsd)", () => {
    const h = new Harness({ profile: "freebsd" });
    const conn = h.connect("[fd00::1]:80");
    conn.icmp(2, 0, { mtu: 1300 });
    h.advanceTo(1000);
    const syns = h.take().filter((s) => s.flags === "S");
    expect(syns.map((s) => s.options.split(",")[0])).toEqual(["mss 1440", "mss 1240"]);
  });
  // tcp_advertise_mss(): the SYN's MSS follows dst_metric_advmss(), which the IPv4 route
  // recomputes from its lowered MTU and the IPv6 route keeps. kd-31-0489: packet too big
  // (MTU 576, taken as 1280) at 302 ms, the SYN again at 1014 ms still with MSS 1440;
  // kd-31-0265 (IPv4, MTU 1280): 1460 -> 1240. A set MSS (TCP_MAXSEG; the replay's recorded
  // SYN MSS) is a ceiling the lower path MTU still lowers.
  it("linux: ICMPv6 packet too big leaves the SYN's MSS at 1440 (kd-31-0489); on IPv4 a set MSS of 1460 still drops to 1240 (kd-31-0265)", () => {
    const h = new Harness({ profile: "linux" });
    const conn = h.connect("[fd00::1]:80");
    conn.icmp(2, 0, { mtu: 576 });
    h.advanceTo(1100);
    expect(h.take().filter((s) => s.flags === "S").map((s) => s.options.split(",")[0])).toEqual(["mss 1440", "mss 1440"]);
    const h4 = new Harness({ profile: "linux" });
    const c4 = h4.connect("10.0.0.1:80", { overrides: { mssOverride: 1460 } });
    c4.icmp(3, 4, { mtu: 1280 });
    h4.advanceTo(1100);
    expect(h4.take().filter((s) => s.flags === "S").map((s) => s.options.split(",")[0])).toEqual(["mss 1460", "mss 1240"]);
  });
});

describe("path MTU floor: a fragmentation-needed with MTU 68 (kd-52-0336)", () => {
  // kd-52-0336: ICMP 3/4 with next-hop MTU 68 at 114 ms; the kernel's SYN again at 1020.7 ms
  // advertises MSS 512: __ip_rt_update_pmtu() raises an MTU below net.ipv4.route.min_pmtu
  // (552) to it, and the advertised MSS follows the route (552 - 40). Ours said 28.
  it("linux: the retransmitted SYN advertises MSS 512 and the send MSS is 512 (IPv4)", () => {
    const h = new Harness({ profile: "linux" });
    const conn = h.connect();
    conn.icmp(3, 4, { mtu: 68 });
    expect(conn.outcome).toBeUndefined();
    h.advanceTo(1100);
    expect(h.take().filter((s) => s.flags === "S").map((s) => s.options.split(",")[0])).toEqual(["mss 1460", "mss 512"]);
    expect(conn.c.sndMss).toBe(512);
  });
  it("linux: an ICMPv6 packet too big below 1280 is ignored (tcp_v6_err()); freebsd takes it as 1280", () => {
    const h = new Harness({ profile: "linux" });
    const conn = h.connect("[fd00::1]:80");
    conn.icmp(2, 0, { mtu: 68 });
    expect(conn.c.pathMtu).toBe(1500);
    expect(conn.c.sndMss).toBe(1440);
    const hb = new Harness({ profile: "freebsd" });
    const cb = hb.connect("[fd00::1]:80");
    cb.icmp(2, 0, { mtu: 68 });
    expect(cb.c.pathMtu).toBe(1280);
    hb.advanceTo(1000);
    expect(hb.take().filter((s) => s.flags === "S").map((s) => s.options.split(",")[0])).toEqual(["mss 1440", "mss 1220"]);
  });
  // Each profile's IPv4 floor (minPathMtuV4): windows 576 (RFC 791's datagram every host
  // accepts), freebsd 256 (tcp_ctlinput(): tcp_minmss 216 + 40; its SYN keeps 1460), rfc 68
  // (RFC 1191 §3).
  for (const [profile, mtu, synMss] of [
    ["windows", 576, "mss 536"],
    ["freebsd", 256, "mss 1460"],
    ["rfc", 68, "mss 28"],
  ] as Array<[ProfileName, number, string]>) {
    it(`${profile}: MTU 68 -> path MTU ${mtu}, SYN ${synMss}`, () => {
      const h = new Harness({ profile });
      const conn = h.connect();
      conn.icmp(3, 4, { mtu: 68 });
      expect(conn.c.pathMtu).toBe(mtu);
      expect(conn.c.sndMss).toBe(mtu - 40);
      h.advanceTo(3500);
      const syns = h.take().filter((s) => s.flags === "S");
      expect(syns.length).toBeGreaterThan(1);
      expect(syns[1].options.split(",")[0]).toBe(synMss);
    });
  }
});

describe("freebsd: time exceeded and fragmentation needed in SYN-SENT (icmpPolicy hardAbort, pmtuSynMss keepOnIpv4: freebsd rcv-icmp-hard-error-ignored-ipv4/-ipv6)", () => {
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

describe("linux: which ICMP errors reach a connection in SYN-SENT (icmpQuote linux, icmpV4Filter linux; kernel-diff)", () => {
  // tcp_v4_err()/tcp_v6_err(): the quote is accepted when between(seq, snd_una, snd_nxt),
  // both ends included; RFC 5927's SND.UNA <= seq < SND.NXT excludes SND.NXT.
  it("a destination unreachable quoting SND.NXT (ISS+1) aborts (kd-7-0003: ICMPv6 1/0 quoting ISS+1, connect() ENETUNREACH after 1 ms)", () => {
    const { h, conn, syn } = linuxConnect({}, "[fd00::1]:80");
    const original = new Uint8Array(syn.bytes);
    // Quote our SYN with its sequence number moved to ISS+1 (IPv6 header 40 bytes, seq at +4).
    const seq = (syn.tcp.seq + 1) >>> 0;
    original.set([seq >>> 24, (seq >>> 16) & 0xff, (seq >>> 8) & 0xff, seq & 0xff], 44);
    h.advance(1);
    conn.icmp(1, 0, { original });
    expect(conn.outcome?.kind).toBe("unreachable");
  });

  it("a quote before ISS is ignored (kd-7-0056: ICMP 3/2 quoting ISS-1, the handshake goes on)", () => {
    const { h, conn, syn } = linuxConnect();
    const original = new Uint8Array(syn.bytes);
    const seq = (syn.tcp.seq - 1) >>> 0;
    original.set([seq >>> 24, (seq >>> 16) & 0xff, (seq >>> 8) & 0xff, seq & 0xff], 24);
    h.advance(1);
    conn.icmp(3, 2, { original });
    expect(conn.outcome).toBeUndefined();
    expect(conn.c.state).toBe("SYN-SENT");
  });

  // tcp_v4_err(): "if (code > NR_ICMP_UNREACH) goto out;" (NR_ICMP_UNREACH = 15).
  it("ICMP destination unreachable code 16 is ignored (kd-7-0090: 3/16 at 21 ms, SYNs go on, ETIMEDOUT after 3075 ms)", () => {
    const { h, conn } = linuxConnect();
    h.advance(21);
    conn.icmp(3, 16);
    expect(conn.outcome).toBeUndefined();
    // The retransmission at 1 s, fired by the timer wheel (up to 36 ms later at HZ 250).
    h.advanceTo(1100);
    expect(h.take().map((s) => s.flags)).toEqual(["S"]);
  });

  // icmp_unreach(): "case ICMP_TIME_EXCEEDED: ... if (icmph->code == ICMP_EXC_FRAGTIME) goto out;"
  it("ICMP time exceeded code 1 (fragment reassembly) is ignored in SYN-SENT (kd-7-0285: 11/1 quoting ISS, connect() ok; 11/0 aborts: kd-7-0113)", () => {
    const { h, conn } = linuxConnect();
    h.advance(1);
    conn.icmp(11, 1);
    expect(conn.outcome).toBeUndefined();
    expect(conn.c.state).toBe("SYN-SENT");
  });
});
