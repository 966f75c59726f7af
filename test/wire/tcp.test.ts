import { describe, expect, it } from "vitest";
import { pseudoHeaderSum } from "../../stack/wire/checksum.js";
import { formatTcpFlags, parseTcp, writeTcpSegment } from "../../stack/wire/tcp.js";
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from "../../stack/wire/types.js";
import { hex, LINUX_SYN_V4, RST_ACK_V4_PADDED, toHex, WINDOWS_SYN_V4 } from "./hex.js";

const tcpOf = (ip: Uint8Array, len?: number) => ip.subarray(20, len);
const pseudo4 = (ip: Uint8Array, length: number) => pseudoHeaderSum(4, ip.subarray(12, 16), ip.subarray(16, 20), 6, length);

describe("parseTcp", () => {
  it("reads a captured Linux SYN and verifies its checksum", () => {
    const seg = tcpOf(LINUX_SYN_V4);
    const r = parseTcp(seg, pseudo4(LINUX_SYN_V4, seg.length));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({
      srcPort: 53350,
      dstPort: 80,
      seq: 968533976,
      ack: 0,
      headerLength: 40,
      flags: TCP_SYN,
      reserved: 0,
      window: 29200,
      checksum: 0x4d61,
      urgent: 0,
    });
    expect(r.value.options.map((o) => o.kind)).toEqual(["mss", "sackOK", "ts", "nop", "wscale"]);
    expect(r.value.payload.length).toBe(0);
  });

  it("reads a RST+ACK with a 32-bit ack (padding excluded by the IP length)", () => {
    const seg = RST_ACK_V4_PADDED.subarray(20, 40);
    const r = parseTcp(seg, pseudo4(RST_ACK_V4_PADDED, 20));
    expect(r.ok && r.value).toMatchObject({ flags: TCP_RST | TCP_ACK, seq: 0, ack: 3820339061, window: 0, options: [] });
  });

  it("reads the reserved bits without complaint (RFC 9293: ignored on receipt)", () => {
    const seg = tcpOf(WINDOWS_SYN_V4).slice();
    seg[12] |= 0x0e;
    const r = parseTcp(seg);
    expect(r.ok && r.value.reserved).toBe(0x0e);
    expect(r.ok && r.value.headerLength).toBe(32);
  });

  it.each([
    ["a segment shorter than 20 bytes", (s: Uint8Array) => s.subarray(0, 19), "tcp truncated header"],
    ["data offset 4", (s: Uint8Array) => ((s[12] = 0x40), s), "tcp bad data offset"],
    ["data offset 0", (s: Uint8Array) => ((s[12] = 0x00), s), "tcp bad data offset"],
    ["data offset past the segment", (s: Uint8Array) => ((s[12] = 0xb0), s), "tcp header beyond segment"],
    ["a wrong checksum", (s: Uint8Array) => ((s[16] ^= 0x01), s), "tcp checksum"],
    ["a changed sequence number", (s: Uint8Array) => ((s[7] ^= 0x80), s), "tcp checksum"],
  ])("rejects %s", (_name, mutate, reason) => {
    const seg = mutate(tcpOf(LINUX_SYN_V4).slice());
    expect(parseTcp(seg, pseudo4(LINUX_SYN_V4, seg.length))).toEqual({ ok: false, reason });
  });

  it("keeps a segment with malformed options: the problem in optionError, the rest as a bad entry", () => {
    // Replace the SYN's first option with an MSS of length 0 (the receiving profile's
    // badOptions policy decides what happens to such a segment, not the parser).
    const seg = tcpOf(LINUX_SYN_V4).slice();
    seg[21] = 0;
    const r = parseTcp(seg);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.optionError).toBe("tcp option length < 2");
    expect(r.value.options).toEqual([{ kind: "bad", bytes: seg.subarray(20, r.value.headerLength), reason: "tcp option length < 2" }]);
    expect(parseTcp(tcpOf(LINUX_SYN_V4)).ok && (parseTcp(tcpOf(LINUX_SYN_V4)) as { value: { optionError?: string } }).value.optionError).toBeUndefined();
  });
});

describe("writeTcpSegment", () => {
  it("reproduces the captured Windows SYN byte for byte, checksum included", () => {
    const out = new Uint8Array(32);
    const n = writeTcpSegment(
      out,
      0,
      {
        srcPort: 2826,
        dstPort: 80,
        seq: 3691127924,
        ack: 0,
        flags: TCP_SYN,
        window: 8192,
        options: [
          { kind: "mss", value: 1460 },
          { kind: "nop" },
          { kind: "wscale", shift: 2 },
          { kind: "nop" },
          { kind: "nop" },
          { kind: "sackOK" },
        ],
      },
      pseudo4(WINDOWS_SYN_V4, 32),
    );
    expect(n).toBe(32);
    expect(toHex(out)).toBe(toHex(tcpOf(WINDOWS_SYN_V4)));
  });

  it("writes payload and throws on options over 40 bytes", () => {
    const out = new Uint8Array(23);
    writeTcpSegment(out, 0, { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TCP_PSH | TCP_ACK, window: 5, payload: hex("616263") }, 0);
    expect(toHex(out.subarray(20))).toBe("616263");
    expect(parseTcp(out, 0).ok).toBe(true);
    const tooMany = Array.from({ length: 41 }, () => ({ kind: "nop" as const }));
    expect(() => writeTcpSegment(new Uint8Array(100), 0, { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0, window: 0, options: tooMany }, 0)).toThrow(RangeError);
  });
});

describe("formatTcpFlags", () => {
  it.each([
    [TCP_SYN, "S"],
    [TCP_SYN | TCP_ACK, "S."],
    [TCP_ACK, "."],
    [TCP_PSH | TCP_ACK, "P."],
    [TCP_FIN | TCP_ACK, "F."],
    [TCP_RST, "R"],
    [TCP_RST | TCP_ACK, "R."],
    [TCP_SYN | TCP_ECE | TCP_CWR, "SEW"],
    [TCP_SYN | TCP_ACK | TCP_ECE, "S.E"],
    [TCP_FIN | TCP_SYN | TCP_RST | TCP_PSH | TCP_ACK | TCP_URG | TCP_ECE | TCP_CWR, "FSRP.UEW"],
    [0, "none"],
  ])("%i -> %s", (flags, text) => {
    expect(formatTcpFlags(flags)).toBe(text);
  });
});
