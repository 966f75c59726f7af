import { describe, expect, it } from "vitest";
import { internetChecksum } from "../../stack/wire/checksum.js";
import { ipBytes } from "../../stack/wire/addr.js";
import { buildIpv4, parseIpv4, writeIpv4Header } from "../../stack/wire/ipv4.js";
import { LINUX_SYN_V4, RST_ACK_V4_PADDED, toHex, WINDOWS_SYN_V4 } from "./hex.js";

/** Rewrites the header checksum after a test edits header bytes. */
function fixChecksum(b: Uint8Array): Uint8Array {
  const ihl = (b[0] & 0x0f) * 4;
  b[10] = 0;
  b[11] = 0;
  const c = internetChecksum(b, 0, Math.min(ihl, b.length));
  b[10] = c >> 8;
  b[11] = c & 0xff;
  return b;
}

describe("parseIpv4", () => {
  it("reads a captured Linux SYN's header", () => {
    const r = parseIpv4(LINUX_SYN_V4);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.header).toEqual({
      version: 4,
      src: "172.16.16.140",
      dst: "172.16.16.139",
      protocol: 6,
      ttl: 64,
      tos: 0,
      id: 0xfadf,
      dontFragment: true,
      flowLabel: 0,
      headerLength: 20,
      extensionHeaders: [],
      routerAlert: false,
    });
    expect(r.value.payload.length).toBe(40);
    // Zero-copy: the payload is a view of the input.
    expect(r.value.payload.buffer).toBe(LINUX_SYN_V4.buffer);
    expect(toHex(r.value.srcBytes)).toBe("ac10108c");
  });

  it("drops link padding after the total length", () => {
    const r = parseIpv4(RST_ACK_V4_PADDED);
    expect(r.ok && r.value.payload.length).toBe(20);
    expect(r.ok && r.value.header.ttl).toBe(64);
    const w = parseIpv4(WINDOWS_SYN_V4);
    expect(w.ok && w.value.header.ttl).toBe(128);
  });

  it("skips IP options", () => {
    // IHL 6 with one word of options (NOP NOP NOP EOL) in front of the SYN's TCP header.
    const b = new Uint8Array(64);
    b.set(LINUX_SYN_V4.subarray(0, 20), 0);
    b.set([1, 1, 1, 0], 20);
    b.set(LINUX_SYN_V4.subarray(20), 24);
    b[0] = 0x46;
    b[3] = 64;
    fixChecksum(b);
    const r = parseIpv4(b);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.header.headerLength).toBe(24);
    expect(toHex(r.value.payload)).toBe(toHex(LINUX_SYN_V4.subarray(20)));
  });

  const cases: Array<[string, (b: Uint8Array) => Uint8Array, string]> = [
    ["short buffer", (b) => b.subarray(0, 19), "ipv4 truncated header"],
    ["version 5", (b) => fixChecksum(((b[0] = 0x55), b)), "ipv4 bad version"],
    ["IHL 4", (b) => fixChecksum(((b[0] = 0x44), b)), "ipv4 bad ihl"],
    ["IHL 15 past the buffer", (b) => ((b[0] = 0x4f), b.subarray(0, 40)), "ipv4 truncated header"],
    ["total length < header", (b) => fixChecksum(((b[3] = 19), b)), "ipv4 bad total length"],
    ["total length > buffer", (b) => b.subarray(0, 59), "ipv4 truncated packet"],
    ["bad header checksum", (b) => ((b[11] ^= 1), b), "ipv4 header checksum"],
    ["more fragments set", (b) => fixChecksum(((b[6] = 0x60), b)), "ipv4 fragment"],
    ["fragment offset 1", (b) => fixChecksum(((b[6] = 0x40), (b[7] = 1), b)), "ipv4 fragment"],
    ["last fragment (offset, no MF)", (b) => fixChecksum(((b[6] = 0x00), (b[7] = 0xb9), b)), "ipv4 fragment"],
  ];
  it.each(cases)("rejects %s", (_name, mutate, reason) => {
    expect(parseIpv4(mutate(LINUX_SYN_V4.slice()))).toEqual({ ok: false, reason });
  });
});

describe("writeIpv4Header", () => {
  it("reproduces the captured SYN header byte for byte", () => {
    const out = new Uint8Array(20);
    writeIpv4Header(out, 0, { src: ipBytes("172.16.16.140"), dst: ipBytes("172.16.16.139"), protocol: 6, id: 0xfadf }, 40);
    expect(toHex(out)).toBe(toHex(LINUX_SYN_V4.subarray(0, 20)));
    const win = new Uint8Array(22);
    writeIpv4Header(
      win,
      2,
      { src: ipBytes("172.16.16.128"), dst: ipBytes("212.58.226.142"), protocol: 6, id: 0x317f, ttl: 128 },
      32,
    );
    expect(toHex(win.subarray(2))).toBe(toHex(WINDOWS_SYN_V4.subarray(0, 20)));
  });

  it("builds datagrams that parse back, DF clear when asked", () => {
    const payload = new Uint8Array([1, 2, 3]);
    const d = buildIpv4({ src: ipBytes("10.0.0.1"), dst: ipBytes("10.0.0.2"), protocol: 17, dontFragment: false, tos: 0xb8, ttl: 3 }, payload);
    const r = parseIpv4(d);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.header).toMatchObject({ protocol: 17, dontFragment: false, tos: 0xb8, ttl: 3, id: 0 });
    expect(Array.from(r.value.payload)).toEqual([1, 2, 3]);
    expect(() => buildIpv4({ src: ipBytes("10.0.0.1"), dst: ipBytes("10.0.0.2"), protocol: 6 }, new Uint8Array(65516))).toThrow(RangeError);
  });
});
