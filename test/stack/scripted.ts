// A scripted peer on top of the virtual-time Harness: complete the handshake by hand, then
// feed exact segments and look at exactly what the stack sent.
import { Harness, type Conn } from "../helpers/vt.js";
import { TCP_ACK, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import type { ProfileName, ProfileOverrides } from "../../stack/tcp/profiles.js";
import { seqAdd } from "../../stack/tcp/seq.js";

export const PEER_ISS = 5000;

export interface Scripted {
  h: Harness;
  conn: Conn;
  /** Our first data sequence number (ISS + 1). */
  base: number;
  /** The peer's next sequence number (its RCV side of us: what we ACK). */
  peerSeq: number;
}

export function establishScripted(
  o: { profile?: ProfileName; overrides?: ProfileOverrides; window?: number; mss?: number; wscale?: number; sackOK?: boolean; ts?: boolean; rttMs?: number } = {},
): Scripted {
  const h = new Harness({ profile: o.profile ?? "windows" });
  const conn = h.connect("10.0.0.1:80", { iss: 1000, tsOffset: 0, overrides: o.overrides });
  h.take();
  h.advance(o.rttMs ?? 100);
  const opts: TcpOption[] = [{ kind: "mss", value: o.mss ?? 1000 }];
  if (o.wscale !== undefined) opts.push({ kind: "nop" }, { kind: "wscale", shift: o.wscale });
  if (o.sackOK) opts.push({ kind: "nop" }, { kind: "nop" }, { kind: "sackOK" });
  if (o.ts) opts.push({ kind: "nop" }, { kind: "nop" }, { kind: "ts", val: 700, ecr: 0 });
  conn.peer({ flags: TCP_SYN | TCP_ACK, seq: PEER_ISS, ack: 1001, window: o.window ?? 65535, options: opts });
  h.take();
  return { h, conn, base: 1001, peerSeq: seqAdd(PEER_ISS, 1) };
}
