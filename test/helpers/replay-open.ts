// Hand-built captures for the replay's tests: a client and a server on 10.0.0.2/10.0.0.1,
// packets at chosen times, read back through the real pcap reader and extractor.
import { readCapture } from "../../device/pcap/read.js";
import { PcapWriter } from "../../device/pcap/write.js";
import { extractActiveOpens, type ActiveOpen } from "../../src/replay/extract.js";
import { buildTcpPacket } from "../../stack/wire/packet.js";
import type { TcpOption, TcpPacketSpec } from "../../stack/wire/types.js";

export const C = "10.0.0.2";
export const S = "10.0.0.1";
export const LINUX_SYN: TcpOption[] = [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "ts", val: 1000, ecr: 0 }, { kind: "nop" }, { kind: "wscale", shift: 7 }];
export const WINDOWS_SYN: TcpOption[] = [{ kind: "mss", value: 1460 }, { kind: "nop" }, { kind: "wscale", shift: 8 }, { kind: "nop" }, { kind: "nop" }, { kind: "sackOK" }];
type Spec = Partial<TcpPacketSpec> & { flags: number };
export const client = (o: Spec) => buildTcpPacket({ src: C, dst: S, srcPort: 40000, dstPort: 80, seq: 100, ack: 0, window: 64240, ...o });
export const server = (o: Spec) => buildTcpPacket({ src: S, dst: C, srcPort: 80, dstPort: 40000, seq: 5000, ack: 101, window: 65535, ...o });

/** The active opens of a capture made of `packets` ([ms, IP packet]). */
export function opensOf(packets: Array<[number, Uint8Array]>): ActiveOpen[] {
  const w = new PcapWriter();
  for (const [ms, p] of packets) w.write(BigInt(Math.round(ms * 1000)) * 1000n + 1_700_000_000_000_000_000n, p);
  const r = readCapture(w.toBytes());
  if (!r.ok) throw new Error(r.reason);
  return extractActiveOpens(r.value).opens;
}

/** The one active open of such a capture. */
export function openOf(packets: Array<[number, Uint8Array]>): ActiveOpen {
  const opens = opensOf(packets);
  if (opens.length !== 1) throw new Error(`${opens.length} active opens, expected 1`);
  return opens[0]!;
}
