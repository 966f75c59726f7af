// The SACK blocks a receiver reports (stack/tcp/sack-report.ts): the freebsd profile keeps
// FreeBSD's block list and reports duplicate data first as a D-SACK block (RFC 2883 §4),
// once; the other profiles report the out-of-order queue (RFC 2018 §4). The freebsd window
// update after a read follows tcp_output(). Virtual time; the sequences are those of the
// FreeBSD suite's rcv-data-segments scripts.
import { describe, expect, it } from "vitest";
import { Harness } from "../helpers/vt.js";
import { Listener } from "../../stack/stack.js";
import type { Connection } from "../../stack/tcp/connection.js";
import type { ProfileName } from "../../stack/tcp/profiles.js";
import { FreebsdSackList } from "../../stack/tcp/sack-report.js";
import { buildTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_SYN } from "../../stack/wire/types.js";

/** A passively opened connection (SYN with MSS 1460 and SACK-permitted, ISN 0), and a data sender. */
function accepted(profile: ProfileName) {
  const h = new Harness({ profile });
  let conn: Connection | undefined;
  const l = h.stack.listen({ port: 80, onAccept: (c) => (conn = c) });
  if (!(l instanceof Listener)) throw new Error("listen failed");
  const send = (flags: number, seq: number, len = 0, ack = 0) =>
    h.inputBytes(buildTcpPacket({ src: "10.0.0.9", dst: "10.0.0.2", srcPort: 40000, dstPort: 80, seq, ack, flags, window: 65535, options: flags & TCP_SYN ? [{ kind: "mss", value: 1460 }, { kind: "sackOK" }] : [], payload: new Uint8Array(len) }));
  send(TCP_SYN, 0);
  const iss = h.take()[0].tcp.seq;
  const ack = (iss + 1) >>> 0;
  send(TCP_ACK, 1, 0, ack);
  /** Data [from, to) in the scripts' numbering; returns the SACK blocks of the answers ("" for none), "-" if nothing was sent. */
  const data = (from: number, to: number): string => {
    send(TCP_ACK, from, to - from, ack);
    const out = h.take();
    if (out.length === 0) return "-";
    return out.map((s) => `ack ${s.tcp.ack} ${s.options.match(/sack ([\d: ]+)/)?.[1] ?? ""}`.trim()).join(" | ");
  };
  return { h, data, conn: () => conn! };
}

describe("sackReport \"freebsd\": FreeBSD's block list with D-SACK", () => {
  it("overlapping-050-075: a duplicate below RCV.NXT is reported first, once", () => {
    const { data } = accepted("freebsd");
    data(1, 100);
    expect(data(200, 300)).toBe("ack 100 200:300");
    expect(data(400, 500)).toBe("ack 100 400:500 200:300");
    expect(data(600, 700)).toBe("ack 100 600:700 400:500 200:300");
    expect(data(50, 75)).toBe("ack 100 50:75 600:700 400:500 200:300");
    // The rest: the part below RCV.NXT is the D-SACK block; the held blocks are gone.
    expect(data(1, 800)).toBe("ack 800 1:100");
  });

  it("overlapping-200-32200: data over a held block reports the overlap, then the merged block", () => {
    const { data } = accepted("freebsd");
    data(1, 100);
    data(200, 300);
    data(400, 500);
    data(600, 700);
    expect(data(200, 32200)).toBe("ack 100 200:300 200:32200");
  });

  it("overlapping-050-600: a partial duplicate is ACKed at once (not delayed) with its D-SACK block", () => {
    const { h, data } = accepted("freebsd");
    data(1, 100);
    data(200, 300);
    data(400, 500);
    data(600, 700);
    expect(data(50, 600)).toBe("ack 700 50:100");
    const t = h.now;
    expect(data(1, 800)).toBe("ack 800 1:700");
    expect(h.sent.at(-1)!.t).toBe(t);
  });

  it("the rfc2018 profiles report the queue only: no D-SACK block", () => {
    const { data } = accepted("linux");
    data(1, 100);
    data(200, 300);
    expect(data(50, 75)).toBe("ack 100 200:300");
  });

  it("the list functions follow tcp_sack.c: merging, superseding, at most 6 blocks", () => {
    const l = new FreebsdSackList();
    for (const s of [100, 300, 500, 700, 900, 1100, 1300]) l.update(0, s, s + 100);
    expect(l.blocks).toEqual([[1300, 1400], [1100, 1200], [900, 1000], [700, 800], [500, 600], [300, 400]]);
    // 200:500 touches 500:600 and covers 300:400: FreeBSD reports the covered part first
    // (its "DSACK smaller" case) and keeps the union 200:600 after the others.
    l.update(0, 200, 500);
    expect(l.blocks).toEqual([[300, 400], [1300, 1400], [1100, 1200], [900, 1000], [700, 800], [200, 600]]);
    // Sent once: tcp_output() drops blocks at or below RCV.NXT.
    l.clean(400);
    expect(l.blocks).toEqual([[1300, 1400], [1100, 1200], [900, 1000], [700, 800]]);
  });
});

describe("windowUpdate \"freebsd\": tcp_output()'s window-update test", () => {
  it("reading 32 KB of a 65 KB buffer announces the window at once (adv >= 2 MSS and >= a quarter of the buffer)", () => {
    const { h, data, conn } = accepted("freebsd");
    data(1, 32200);
    const c = conn();
    h.advance(100);
    h.take();
    c.read();
    h.stack.noteRead(c);
    h.advance(0);
    const upd = h.take();
    expect(upd.map((s) => [s.flags, s.tcp.ack, s.tcp.window])).toEqual([[".", 32200, 65535]]);
  });
});
