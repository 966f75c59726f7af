// Replay step 3: the peer's script. The recorded server (and any router that sent ICMP
// errors) is played back to our stack: each recorded event at its recorded time, except
// that an answer to a SYN is timed from *our* corresponding SYN (closed loop), and every
// number that refers to the client's sequence or timestamp space is moved into ours.
import { buildIcmpError, buildTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import type { ActiveOpen, RecordedEvent, RecordedIcmp, RecordedSegment } from "./extract.js";
import { u32 } from "./types.js";

/** An answer to the client's n-th SYN (1-based), `delay` ms after it. */
export interface SynTrigger {
  n: number;
  delay: number;
}

export interface ScriptStep {
  /** Recorded time, ms since the first SYN. */
  t: number;
  ev: RecordedEvent;
  /** Set when the event answers a SYN: it is timed from our n-th SYN instead of `t`. */
  answersSyn?: SynTrigger;
}

export interface PeerScript {
  /** Every recorded event after the first SYN, in time order (capture order on ties). */
  steps: ScriptStep[];
  /**
   * What answered the recorded client's last SYN (a RST, an ICMP error) and after what
   * delay: after the capture ends the server is taken to keep answering that way.
   */
  lastSynAnswer: { ev: RecordedEvent | undefined; delay: number };
}

const isBareSyn = (e: RecordedSegment): boolean => (e.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;

export function buildPeerScript(open: ActiveOpen): PeerScript {
  const ordered = open.events.map((ev, order) => ({ t: ev.t, order, ev })).filter((a) => a.ev !== open.syn);
  ordered.sort((a, b) => a.t - b.t || a.order - b.order);
  // Closed loop for answers to SYNs: a server segment or ICMP error whose latest preceding
  // client segment is the n-th SYN answers that SYN.
  const triggerOf = new Map<RecordedEvent, SynTrigger>();
  let lastC2s: RecordedSegment | undefined;
  let synCount = 0;
  for (const e of [open.syn as RecordedEvent, ...ordered.map((a) => a.ev)]) {
    if (e.kind === "tcp" && e.dir === "c2s") {
      lastC2s = e;
      if (isBareSyn(e)) synCount++;
    } else if (lastC2s && isBareSyn(lastC2s)) {
      triggerOf.set(e, { n: synCount, delay: e.t - lastC2s.t });
    }
  }
  const steps = ordered.map((a) => ({ t: a.t, ev: a.ev, answersSyn: triggerOf.get(a.ev) }));
  const lastSynIdx = open.events.reduce((m, e, i) => (e.kind === "tcp" && e.dir === "c2s" && isBareSyn(e) ? i : m), 0);
  const answer = open.events.slice(lastSynIdx + 1).find((e) => triggerOf.has(e));
  return { steps, lastSynAnswer: { ev: answer, delay: answer ? triggerOf.get(answer)!.delay : 0 } };
}

/**
 * Moves recorded server packets into our connection's number spaces: acknowledgment
 * numbers and SACK blocks by the ISN difference, TS echoes by the TS clock difference,
 * the sequence number quoted in an ICMP error by the ISN difference. The server's own
 * sequence space is left as recorded, so acknowledgment numbers compare directly.
 */
export class SequenceMapping {
  /** Our ISN minus the recorded client's. */
  readonly delta: number;
  /** Our first TSval minus the recorded client's (0 without timestamps). */
  readonly tsDelta: number;

  constructor(
    private readonly open: ActiveOpen,
    ourIss: number,
    ourSynTsVal: number | undefined,
    recordedSynTsVal: number | undefined,
  ) {
    this.delta = u32(ourIss - open.iss);
    this.tsDelta = recordedSynTsVal !== undefined && ourSynTsVal !== undefined ? u32(ourSynTsVal - recordedSynTsVal) : 0;
  }

  /** The packet to inject, or why it cannot be built. */
  packet(e: RecordedEvent): Uint8Array | string {
    return e.kind === "icmp" ? this.icmp(e) : this.segment(e);
  }

  segment(e: RecordedSegment): Uint8Array | string {
    const options: TcpOption[] = e.options.map((o) => {
      if (o.kind === "sack") return { kind: "sack", blocks: o.blocks.map(([l, r]) => [u32(l + this.delta), u32(r + this.delta)] as [number, number]) };
      if (o.kind === "ts") return { kind: "ts", val: o.val, ecr: o.ecr === 0 ? 0 : u32(o.ecr + this.tsDelta) };
      return o;
    });
    try {
      return buildTcpPacket({
        src: this.open.server.addr,
        dst: this.open.client.addr,
        ttl: e.ttl,
        tos: e.tos,
        srcPort: this.open.server.port,
        dstPort: this.open.client.port,
        seq: e.seq,
        ack: u32(e.ack + this.delta),
        flags: e.flags,
        window: e.window,
        options,
        payload: e.payload,
      });
    } catch (err) {
      return (err as Error).message;
    }
  }

  icmp(e: RecordedIcmp): Uint8Array | string {
    const quote = e.icmp.slice(8);
    let tcpAt: number;
    if (e.version === 4) tcpAt = (quote[0] & 0x0f) * 4;
    else if (quote[6] === 6) tcpAt = 40;
    else return "ICMPv6 quote with extension headers is not rewritten";
    if (quote.length < tcpAt + 8) return "ICMP quote too short to hold the TCP sequence number";
    const seq = u32(e.quotedSeq + this.delta);
    quote[tcpAt + 4] = seq >>> 24;
    quote[tcpAt + 5] = (seq >>> 16) & 0xff;
    quote[tcpAt + 6] = (seq >>> 8) & 0xff;
    quote[tcpAt + 7] = seq & 0xff;
    const b = e.icmp;
    const rest32 = ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) >>> 0;
    try {
      return buildIcmpError({
        src: e.from,
        dst: this.open.client.addr,
        type: e.type,
        code: e.code,
        mtu: e.mtu,
        pointer: e.version === 4 ? b[4] : rest32,
        original: quote,
        quoteBytes: quote.length,
      });
    } catch (err) {
      return (err as Error).message;
    }
  }
}
