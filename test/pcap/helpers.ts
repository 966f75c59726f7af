// Test helpers for the capture codec: tshark as the outside oracle, and a tiny byte builder
// so hand-built files do not depend on our own writer.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

export const PCAP_DIR = new URL("../../../shared/pcaps/", import.meta.url).pathname;
export const havePcaps = existsSync(PCAP_DIR);

export function captureFiles(): string[] {
  if (!havePcaps) return [];
  return readdirSync(PCAP_DIR)
    .filter((f) => /\.(pcap|pcapng|cap)$/.test(f))
    .sort();
}

export const pcapPath = (f: string): string => join(PCAP_DIR, f);

function which(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

/** SYNACK_TEST_NO_TSHARK=1 exercises the no-tshark path on a machine that has it. */
export const haveTshark = !process.env.SYNACK_TEST_NO_TSHARK && which("tshark");

/** Runs tshark -T fields; returns rows of tab-separated values (first occurrence of each field). */
export function tsharkFields(file: string, fields: string[]): string[][] {
  const args = ["-r", file, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"];
  for (const f of fields) args.push("-e", f);
  const out = execFileSync("tshark", args, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 }).toString("utf8");
  return out
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => l.split("\t"));
}

let commentField: string | undefined;
/** "frame.comment" on tshark >= 3.6 (Debian 12 has 4.0), "pkt_comment" before. */
export function tsharkCommentField(): string {
  if (commentField) return commentField;
  const out = execFileSync("tshark", ["-G", "fields"], { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 256 << 20 }).toString("utf8");
  const names = new Set(out.split("\n").map((l) => l.split("\t")[2]));
  commentField = names.has("frame.comment") ? "frame.comment" : "pkt_comment";
  return commentField;
}

/** tshark's frame.time_epoch ("1418145369.924505488") to bigint nanoseconds. */
export function epochToNs(s: string): bigint {
  const [sec, frac = ""] = s.split(".");
  return BigInt(sec!) * 1_000_000_000n + BigInt((frac + "000000000").slice(0, 9));
}

/** Byte builder with explicit endianness per call. */
export class Bytes {
  private parts: number[] = [];
  constructor(private readonly le = true) {}
  get length(): number {
    return this.parts.length;
  }
  u8(...vs: number[]): this {
    for (const v of vs) this.parts.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    const b = [(v >>> 8) & 0xff, v & 0xff];
    this.parts.push(...(this.le ? b.reverse() : b));
    return this;
  }
  u32(v: number): this {
    const b = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
    this.parts.push(...(this.le ? b.reverse() : b));
    return this;
  }
  u64(v: bigint): this {
    const hi = Number((v >> 32n) & 0xffffffffn);
    const lo = Number(v & 0xffffffffn);
    return this.le ? this.u32(lo).u32(hi) : this.u32(hi).u32(lo);
  }
  bytes(b: Uint8Array | number[]): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  pad4(): this {
    while (this.parts.length % 4) this.parts.push(0);
    return this;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export function concat(...chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** A minimal IPv4 header + 4 payload bytes (checksum not needed by the codec). */
export function ipv4Packet(id: number, extra: number[] = [1, 2, 3, 4]): Uint8Array {
  const total = 20 + extra.length;
  return Uint8Array.from([0x45, 0, total >> 8, total & 0xff, id >> 8, id & 0xff, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, ...extra]);
}

/** A minimal IPv6 header + payload. */
export function ipv6Packet(flow: number, extra: number[] = [9, 8, 7]): Uint8Array {
  const src = [0xfd, 0, ...new Array(13).fill(0), 1];
  const dst = [0xfd, 0, ...new Array(13).fill(0), 2];
  return Uint8Array.from([0x60, 0, flow >> 8, flow & 0xff, 0, extra.length, 6, 64, ...src, ...dst, ...extra]);
}

/** One pcapng block: type, length, body (padded), trailing length. */
export function pcapngBlock(le: boolean, type: number, body: Uint8Array): Uint8Array {
  const padded = new Bytes(le).bytes(body).pad4().build();
  const len = padded.length + 12;
  return new Bytes(le).u32(type).u32(len).bytes(padded).u32(len).build();
}

/** pcapng options area from [code, value] pairs plus opt_endofopt. */
export function pcapngOptions(le: boolean, opts: Array<[number, Uint8Array | number[]]>): Uint8Array {
  const b = new Bytes(le);
  for (const [code, value] of opts) b.u16(code).u16(value.length).bytes(value).pad4();
  if (opts.length) b.u16(0).u16(0);
  return b.build();
}
