import { describe, expect, it } from "vitest";
import {
  formatTcpOptions,
  parseTcpOptions,
  scanTcpOptions,
  summarizeOptions,
  tcpOptionsLength,
  writeTcpOptions,
} from "../../stack/wire/tcp-options.js";
import type { TcpOption } from "../../stack/wire/types.js";
import { hex, toHex } from "./hex.js";
import { tcpOptionsTarget } from "../fuzz/targets.js";

// Option bytes of captured SYNs (see hex.ts for the packets).
const LINUX = hex("0204 05b4 0402 080a 0006 5d07 0000 0000 0103 0307");
const WINDOWS = hex("0204 05b4 0103 0302 0101 0402");
// macOS ECN SYN, sv.bug-4199-2_input.pcap #1: mss 1460,nop,wscale 6,nop,nop,TS,sackOK,eol
const MACOS = hex("0204 05b4 0103 0306 0101 080a 1a02 fb2f 0000 0000 0402 0000");

describe("parseTcpOptions", () => {
  it("reads a Linux SYN: mss,sackOK,TS,nop,wscale", () => {
    const r = parseTcpOptions(LINUX);
    expect(r).toEqual({
      ok: true,
      value: [
        { kind: "mss", value: 1460 },
        { kind: "sackOK" },
        { kind: "ts", val: 417031, ecr: 0 },
        { kind: "nop" },
        { kind: "wscale", shift: 7 },
      ],
    });
    expect(r.ok && formatTcpOptions(r.value)).toBe("mss 1460,sackOK,TS val 417031 ecr 0,nop,wscale 7");
  });

  it("reads a Windows SYN: mss,nop,wscale,nop,nop,sackOK", () => {
    const r = parseTcpOptions(WINDOWS);
    expect(r.ok && formatTcpOptions(r.value)).toBe("mss 1460,nop,wscale 2,nop,nop,sackOK");
  });

  it("stops at EOL and ignores the padding after it", () => {
    const r = parseTcpOptions(MACOS);
    expect(r.ok && formatTcpOptions(r.value)).toBe("mss 1460,nop,wscale 6,nop,nop,TS val 436402991 ecr 0,sackOK,eol");
    // Garbage after EOL is padding, not options.
    expect(parseTcpOptions(hex("0000ff01"))).toEqual({ ok: true, value: [{ kind: "eol" }] });
  });

  it("reads SACK blocks (1 to 4) and timestamps near 2^32", () => {
    const r = parseTcpOptions(hex("0101 050a 00000001 00000002 0101 080a ffffffff fffffffe"));
    expect(r.ok && r.value).toEqual([
      { kind: "nop" },
      { kind: "nop" },
      { kind: "sack", blocks: [[1, 2]] },
      { kind: "nop" },
      { kind: "nop" },
      { kind: "ts", val: 0xffffffff, ecr: 0xfffffffe },
    ]);
    const four = parseTcpOptions(hex("0101 0522" + "00000001000000020000000300000004" + "0000000500000006fffffff0ffffffff"));
    expect(four.ok && formatTcpOptions(four.value)).toBe("nop,nop,sack 1:2 3:4 5:6 4294967280:4294967295");
  });

  it("keeps unknown kinds with their bytes (TFO cookie, kind 34)", () => {
    const r = parseTcpOptions(hex("2206 a1b2c3d4 0204 05b4"));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value[0]).toMatchObject({ kind: "unknown", type: 34 });
    expect(r.value[0].kind === "unknown" && toHex(r.value[0].data)).toBe("a1b2c3d4");
    expect(formatTcpOptions(r.value)).toBe("unknown-34 0xa1b2c3d4,mss 1460");
    expect(toHex(writeTcpOptions(r.value))).toBe("2206a1b2c3d4020405b40000");
  });

  it.each([
    ["length 0", "0200 0000", "tcp option length < 2"],
    ["length 1", "0801 0000", "tcp option length < 2"],
    ["unknown kind with length 0", "fe00", "tcp option length < 2"],
    ["kind without its length byte", "010101 02", "tcp option truncated"],
    ["length past the option space", "0101 080a 0000 0000", "tcp option overrun"],
    ["unknown kind past the option space", "fe05 0000", "tcp option overrun"],
    ["mss of length 3", "0203 05 00", "tcp option bad mss length"],
    ["wscale of length 4", "0304 0700", "tcp option bad wscale length"],
    ["sackOK of length 3", "0403 00 00", "tcp option bad sackOK length"],
    ["sack with no block", "0502 0000", "tcp option bad sack length"],
    ["sack of length 12", "050c 00000001 00000002 0000", "tcp option bad sack length"],
    ["timestamps of length 8", "0808 00000001 0000", "tcp option bad timestamp length"],
  ])("rejects %s", (_name, bytes, reason) => {
    expect(parseTcpOptions(hex(bytes))).toEqual({ ok: false, reason });
  });
});

describe("scanTcpOptions (a receiver's reading of a malformed list)", () => {
  const scan = (h: string) => {
    const out: TcpOption[] = [];
    const error = scanTcpOptions(hex(h), out);
    return { error, text: formatTcpOptions(out) };
  };
  it("stops at a length below 2 or past the option space: what came before counts, the rest is one bad entry", () => {
    expect(scan("020405b4 0800 0000")).toEqual({ error: "tcp option length < 2", text: "mss 1460,bad 0x08000000" });
    expect(scan("0101 0401 0000")).toEqual({ error: "tcp option length < 2", text: "nop,nop,bad 0x04010000" });
    expect(scan("020405b4 fe28 0000")).toEqual({ error: "tcp option overrun", text: "mss 1460,bad 0xfe280000" });
    expect(scan("01010102")).toEqual({ error: "tcp option truncated", text: "nop,nop,nop,bad 0x02" });
  });
  it("skips a known kind of the wrong length by its length and reads on", () => {
    expect(scan("020605b40000 0402 0303 07 00")).toEqual({ error: "tcp option bad mss length", text: "bad 0x020605b40000,sackOK,wscale 7,eol" });
    expect(scan("0304 0700 020405b4")).toEqual({ error: "tcp option bad wscale length", text: "bad 0x03040700,mss 1460" });
  });
  it("a well-formed list has no error, and writes back byte for byte with its bad entries", () => {
    const out: TcpOption[] = [];
    expect(scanTcpOptions(LINUX, out)).toBeUndefined();
    const bad = hex("020405b4 0800 0000");
    const opts: TcpOption[] = [];
    scanTcpOptions(bad, opts);
    expect(toHex(writeTcpOptions(opts))).toBe(toHex(bad));
  });
});

describe("writeTcpOptions", () => {
  it("writes the list exactly and pads with zeros to a multiple of 4", () => {
    const linux: TcpOption[] = [
      { kind: "mss", value: 1460 },
      { kind: "sackOK" },
      { kind: "ts", val: 417031, ecr: 0 },
      { kind: "nop" },
      { kind: "wscale", shift: 7 },
    ];
    expect(toHex(writeTcpOptions(linux))).toBe(toHex(LINUX));
    const windows: TcpOption[] = [
      { kind: "mss", value: 1460 },
      { kind: "nop" },
      { kind: "wscale", shift: 2 },
      { kind: "nop" },
      { kind: "nop" },
      { kind: "sackOK" },
    ];
    expect(toHex(writeTcpOptions(windows))).toBe(toHex(WINDOWS));
    expect(toHex(writeTcpOptions([{ kind: "mss", value: 536 }, { kind: "wscale", shift: 14 }]))).toBe("0204021803030e00");
    expect(toHex(writeTcpOptions([{ kind: "sack", blocks: [[1, 2], [3, 4]] }]))).toBe(
      "0512" + "00000001000000020000000300000004" + "0000",
    );
    expect(tcpOptionsLength([{ kind: "sackOK" }])).toBe(4);
    expect(writeTcpOptions([]).length).toBe(0);
  });

  it("refuses values that cannot be encoded", () => {
    expect(() => writeTcpOptions([{ kind: "sack", blocks: [] }])).toThrow(RangeError);
    expect(() => writeTcpOptions([{ kind: "mss", value: 70000 }])).toThrow(RangeError);
    expect(() => writeTcpOptions([{ kind: "unknown", type: 1, data: new Uint8Array() }])).toThrow(RangeError);
  });

  it("[wscale 0] (3 bytes) re-serialises as wscale + EOL padding: the round trip ignores trailing EOLs (met while fuzzing)", () => {
    const opts = parseTcpOptions(hex("030300"));
    expect(opts).toEqual({ ok: true, value: [{ kind: "wscale", shift: 0 }] });
    const again = parseTcpOptions(writeTcpOptions(opts.ok ? opts.value : []));
    expect(again.ok && formatTcpOptions(again.value)).toBe("wscale 0,eol");
    expect(() => tcpOptionsTarget(hex("030300"))).not.toThrow();
  });
});

describe("summarizeOptions / formatTcpOptions", () => {
  it("pulls out what the TCP acts on", () => {
    const r = parseTcpOptions(LINUX);
    expect(r.ok && summarizeOptions(r.value)).toEqual({ mss: 1460, sackOK: true, wscale: 7, ts: { val: 417031, ecr: 0 } });
    expect(summarizeOptions([])).toEqual({ sackOK: false });
    // The last of repeated kinds wins (as Linux's tcp_parse_options).
    expect(summarizeOptions([{ kind: "mss", value: 1 }, { kind: "mss", value: 2 }]).mss).toBe(2);
    expect(summarizeOptions([{ kind: "sack", blocks: [[5, 9]] }]).sack).toEqual([[5, 9]]);
  });

  it("prints tcpdump / packetdrill words", () => {
    expect(formatTcpOptions([{ kind: "sackOK" }, { kind: "ts", val: 100, ecr: 0 }])).toBe("sackOK,TS val 100 ecr 0");
    expect(formatTcpOptions([{ kind: "sack", blocks: [[1, 2], [3, 4]] }])).toBe("sack 1:2 3:4");
    expect(formatTcpOptions([{ kind: "eol" }])).toBe("eol");
    expect(formatTcpOptions([{ kind: "unknown", type: 254, data: new Uint8Array() }])).toBe("unknown-254");
    expect(
      formatTcpOptions([
        { kind: "mss", value: 1460 },
        { kind: "nop" },
        { kind: "wscale", shift: 8 },
        { kind: "nop" },
        { kind: "nop" },
        { kind: "sackOK" },
      ]),
    ).toBe("mss 1460,nop,wscale 8,nop,nop,sackOK");
  });
});
