// Finds every TCP active open in a capture and what both ends did afterwards.
//
// An active open starts at the first SYN without ACK of a 4-tuple (RFC 9293 §3.5: the
// active side sends <SYN> first). Everything later on that 4-tuple (segments both ways)
// and every ICMP/ICMPv6 error quoting it belongs to that attempt, until a SYN with a new
// ISN starts a new attempt on the same 4-tuple. A bare SYN coming back the other way is
// the peer's half of a simultaneous open (RFC 9293 §3.5 figure 8), not a new open.
//
// Parsing is lenient on purpose: captures taken on the sending host carry wrong TCP
// checksums (checksum offload: the public capture accecn_handshake.pcap is one), so TCP
// checksums are not verified here (docs/replay.md). The replay rebuilds every packet it injects.
import type { Capture, CaptureRecord } from "../../device/pcap/read.js";
import { formatIpv4 } from "../../stack/wire/addr.js";
import { parseIpv6 } from "../../stack/wire/ipv6.js";
import { parseTcp } from "../../stack/wire/tcp.js";
import { parseIpv4Quote } from "../../stack/wire/icmp.js";
import { parseIpv6Quote } from "../../stack/wire/icmpv6.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";

export type RecordedOutcome = "established" | "refused" | "timeout" | "unreachable" | "reset" | "incomplete" | "cancelled";

import type { Endpoint } from "../../stack/stack.js";
export type { Endpoint };

/** A TCP segment of the connection, as recorded. */
export interface RecordedSegment {
  kind: "tcp";
  /** "c2s": sent by the recorded client; "s2c": sent by the server. */
  dir: "c2s" | "s2c";
  /** Milliseconds since the connection's first SYN. */
  t: number;
  /** Wireshark frame number (record index + 1). */
  frame: number;
  flags: number;
  seq: number;
  ack: number;
  window: number;
  options: TcpOption[];
  payload: Uint8Array;
  /** The 4 reserved header bits (e.g. the AccECN AE bit). */
  reserved: number;
  /** IPv4 TOS / IPv6 traffic class (ECN bits). */
  tos: number;
  ttl: number;
}

/** An ICMP or ICMPv6 error quoting the connection. */
export interface RecordedIcmp {
  kind: "icmp";
  dir: "s2c";
  t: number;
  frame: number;
  version: 4 | 6;
  /** Who sent the error (a router or the server). */
  from: string;
  type: number;
  code: number;
  /** Quoted TCP sequence number (the client's). */
  quotedSeq: number;
  /** Next-hop MTU / packet-too-big MTU. */
  mtu?: number;
  /** The ICMP message after the IP header (type, code, checksum, rest, quote). */
  icmp: Uint8Array;
}

export type RecordedEvent = RecordedSegment | RecordedIcmp;

export interface ActiveOpen {
  /** Position among the active opens of this capture (0-based). */
  index: number;
  family: 4 | 6;
  client: Endpoint;
  server: Endpoint;
  /** The client's ISN (sequence number of its SYN). */
  iss: number;
  /** Capture time of the first SYN, ns since the epoch. */
  startNs: bigint;
  /** Time-ordered, starting with the first SYN. */
  events: RecordedEvent[];
  /** The first SYN. */
  syn: RecordedSegment;
  /** Time of the last event, ms since the first SYN. */
  endMs: number;
  /** Time of the capture's last record (of any connection), ms since the first SYN. */
  captureEndMs: number;
  outcome: RecordedOutcome;
  /** Why the outcome was chosen, in words (frame numbers cited). */
  outcomeDetail: string;
  /** For `unreachable` (and soft errors before a timeout): the ICMP error. */
  icmp?: { version: 4 | 6; type: number; code: number; from: string };
  /** A later attempt on the same 4-tuple with a new ISN cut this one short. */
  superseded: boolean;
}

export interface ExtractResult {
  opens: ActiveOpen[];
  /** Records skipped as unreadable IP/TCP/ICMP, with reasons (counts). */
  skipped: Record<string, number>;
}

interface Parsed4Tuple {
  src: string;
  dst: string;
  version: 4 | 6;
  tos: number;
  ttl: number;
  l4: Uint8Array;
  protocol: number;
}

function parseIp(ip: Uint8Array): Parsed4Tuple | { reason: string } {
  const v = ip.length > 0 ? ip[0] >> 4 : 0;
  if (v === 4) return parseIpv4Lenient(ip);
  const dg = v === 6 ? parseIpv6(ip) : { ok: false as const, reason: "ip bad version" };
  if (!dg.ok) return { reason: dg.reason };
  const h = dg.value.header;
  return { src: h.src, dst: h.dst, version: h.version, tos: h.tos, ttl: h.ttl, l4: dg.value.payload, protocol: h.protocol };
}

/**
 * IPv4 header without the header-checksum check: a capture taken on the sending host shows
 * the header before the NIC filled the checksum in (offload), e.g. nowebaccess2.pcapng.
 * Fragments are skipped (no reassembly, as the stack itself does, RFC 791 §3.2).
 */
function parseIpv4Lenient(ip: Uint8Array): Parsed4Tuple | { reason: string } {
  if (ip.length < 20) return { reason: "ipv4 truncated header" };
  const ihl = (ip[0] & 0x0f) * 4;
  if (ihl < 20 || ihl > ip.length) return { reason: "ipv4 bad ihl" };
  const total = (ip[2] << 8) | ip[3];
  if (total < ihl) return { reason: "ipv4 bad total length" };
  if (total > ip.length) return { reason: "ipv4 truncated packet" };
  const fragOffset = ((ip[6] & 0x1f) << 8) | ip[7];
  if (fragOffset !== 0 || ip[6] & 0x20) return { reason: "ipv4 fragment" };
  return {
    src: formatIpv4(ip, 12),
    dst: formatIpv4(ip, 16),
    version: 4,
    tos: ip[1],
    ttl: ip[8],
    l4: ip.subarray(ihl, total),
    protocol: ip[9],
  };
}

const tupleKey = (a: Endpoint, b: Endpoint): string => `${a.addr}|${a.port}|${b.addr}|${b.port}`;

function msSince(startNs: bigint, tNs: bigint): number {
  return Number(tNs - startNs) / 1e6;
}

/** ICMP error types that quote the offending packet (RFC 792, RFC 4443 §2.1). */
function isIcmpError(version: 4 | 6, type: number): boolean {
  return version === 4 ? type === 3 || type === 4 || type === 11 || type === 12 : type < 128;
}

export function extractActiveOpens(capture: Capture): ExtractResult {
  const opens: ActiveOpen[] = [];
  const skipped: Record<string, number> = {};
  const skip = (r: string) => (skipped[r] = (skipped[r] ?? 0) + 1);
  /** Latest attempt per directed 4-tuple (client -> server). */
  const byTuple = new Map<string, ActiveOpen>();

  const records: CaptureRecord[] = capture.records;
  for (const rec of records) {
    if (!rec.ip) continue;
    const p = parseIp(rec.ip);
    if ("reason" in p) {
      skip(p.reason);
      continue;
    }
    if (p.protocol === 6) {
      const t = parseTcp(p.l4);
      if (!t.ok) {
        skip(t.reason);
        continue;
      }
      const seg = t.value;
      const src = { addr: p.src, port: seg.srcPort };
      const dst = { addr: p.dst, port: seg.dstPort };
      const fwd = byTuple.get(tupleKey(src, dst)); // src is a known client
      const rev = byTuple.get(tupleKey(dst, src)); // src is a known server
      const isSyn = (seg.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
      const mk = (open: ActiveOpen, dir: "c2s" | "s2c"): RecordedSegment => ({
        kind: "tcp",
        dir,
        t: msSince(open.startNs, rec.timeNs),
        frame: rec.index + 1,
        flags: seg.flags,
        seq: seg.seq,
        ack: seg.ack,
        window: seg.window,
        options: seg.options,
        payload: seg.payload,
        reserved: seg.reserved,
        tos: p.tos,
        ttl: p.ttl,
      });
      if (isSyn && !(seg.flags & TCP_RST)) {
        if (fwd && fwd.iss === seg.seq) {
          // Retransmission of the same SYN.
          fwd.events.push(mk(fwd, "c2s"));
          continue;
        }
        if (!fwd && rev) {
          // The other side's SYN of a simultaneous open.
          rev.events.push(mk(rev, "s2c"));
          continue;
        }
        if (fwd) fwd.superseded = true;
        const open: ActiveOpen = {
          index: opens.length,
          family: p.version,
          client: src,
          server: dst,
          iss: seg.seq,
          startNs: rec.timeNs,
          events: [],
          syn: undefined as unknown as RecordedSegment,
          endMs: 0,
          captureEndMs: 0,
          outcome: "incomplete",
          outcomeDetail: "",
          superseded: false,
        };
        const synSeg = mk(open, "c2s");
        open.syn = synSeg;
        open.events.push(synSeg);
        opens.push(open);
        byTuple.set(tupleKey(src, dst), open);
        continue;
      }
      if (fwd) fwd.events.push(mk(fwd, "c2s"));
      else if (rev) rev.events.push(mk(rev, "s2c"));
      continue;
    }
    if ((p.version === 4 && p.protocol === 1) || (p.version === 6 && p.protocol === 58)) {
      const b = p.l4;
      if (b.length < 8) {
        skip(p.version === 4 ? "icmp truncated" : "icmpv6 truncated");
        continue;
      }
      const type = b[0];
      const code = b[1];
      if (!isIcmpError(p.version, type)) continue;
      const body = b.subarray(8);
      const q = p.version === 4 ? parseIpv4Quote(body) : parseIpv6Quote(body);
      if (!q || q.protocol !== 6 || q.srcPort === undefined || q.dstPort === undefined || q.seq === undefined) continue;
      const open = byTuple.get(tupleKey({ addr: q.src, port: q.srcPort }, { addr: q.dst, port: q.dstPort }));
      if (!open || p.dst !== open.client.addr) continue;
      const mtu =
        p.version === 4 && type === 3 && code === 4
          ? (b[6] << 8) | b[7]
          : p.version === 6 && type === 2
            ? ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) >>> 0
            : undefined;
      open.events.push({
        kind: "icmp",
        dir: "s2c",
        t: msSince(open.startNs, rec.timeNs),
        frame: rec.index + 1,
        version: p.version,
        from: p.src,
        type,
        code,
        quotedSeq: q.seq,
        mtu,
        icmp: b,
      });
    }
  }
  const lastNs = records.reduce((m, r) => (r.timeNs > m ? r.timeNs : m), 0n);
  for (const o of opens) {
    // Captures are normally in time order; keep the file order for equal or odd times.
    o.endMs = o.events.reduce((m, e) => Math.max(m, e.t), 0);
    o.captureEndMs = Math.max(o.endMs, msSince(o.startNs, lastNs));
    classify(o);
  }
  return { opens, skipped };
}

const seqGt = (a: number, b: number): boolean => ((a - b) | 0) > 0;

/** ICMP errors that mean "unreachable" in SYN-SENT (not fragmentation needed / packet too big). */
function isHardishIcmp(e: RecordedIcmp): boolean {
  if (e.version === 4) return (e.type === 3 && e.code !== 4) || e.type === 11 || e.type === 12;
  return e.type === 1 || e.type === 3 || e.type === 4;
}

/**
 * Decides the recorded outcome from the client's point of view:
 * - established: the client acknowledged the server's SYN (or, after a simultaneous open,
 *   the server acknowledged the client's SYN-ACK);
 * - reset: established, then an in-window RST from the server ended it;
 * - refused: a RST acknowledging the SYN arrived and the client never established;
 * - unreachable: an ICMP error about the SYN and the client sent no SYN after it;
 * - timeout: the client only ever sent SYNs (nothing usable came back, or ICMP errors it
 *   treated as soft and kept retransmitting through) and the capture ends there;
 * - incomplete: anything else (a SYN-ACK never acknowledged when the capture ends, an
 *   attempt cut short by a new SYN on the same 4-tuple).
 */
function classify(o: ActiveOpen): void {
  const synPlus1 = (o.iss + 1) >>> 0;
  let irs: number | undefined;
  let sentSynAck = false;
  let establishedFrame = 0;
  let refusedFrame = 0;
  let simOpenRst = false;
  let firstIcmp: RecordedIcmp | undefined;
  let synAfterIcmp = false;
  let rcvNxt = 0;
  let resetFrame = 0;
  let clientAfterReset = false;
  let answered = false;
  let clientFinSent = false;
  let clientRstSent = false;
  /** Server data above RCV.NXT, not yet contiguous: [seq, end) (for RCV.NXT only). */
  const ahead: Array<[number, number]> = [];
  /** The client's receive window in bytes as last advertised after the handshake (RST acceptability). */
  let clientWnd: number | undefined;
  const clientWscale = o.syn.options.find((x) => x.kind === "wscale");
  let wscaleBoth = false;
  for (const e of o.events) {
    if (e.kind === "icmp") {
      if (!establishedFrame && isHardishIcmp(e) && !firstIcmp) firstIcmp = e;
      continue;
    }
    if (e.dir === "s2c") {
      answered = true;
      if (e.flags & TCP_SYN) {
        if (irs === undefined || !establishedFrame) irs = e.seq;
        if (!establishedFrame) rcvNxt = (e.seq + 1) >>> 0;
        if (!establishedFrame) wscaleBoth = clientWscale !== undefined && e.options.some((x) => x.kind === "wscale");
      } else if (!establishedFrame && sentSynAck && e.flags & TCP_ACK && !(e.flags & TCP_RST) && seqGt(e.ack, o.iss)) {
        establishedFrame = e.frame;
      }
      if (establishedFrame) {
        const end = (e.seq + e.payload.length + (e.flags & TCP_FIN ? 1 : 0)) >>> 0;
        if (e.flags & TCP_RST) {
          // RFC 9293 §3.10.7.4: a RST is acceptable when its seq is in the window; use
          // RCV.NXT exactly or ahead of it (a sender may reset with SND.NXT), up to the window
          // the client last advertised. After the client's own FIN a RST only ends a close
          // already under way (RFC 9293 §3.10.7.4: CLOSING/LAST-ACK/TIME-WAIT -> CLOSED), and
          // after the client's own RST there is no connection left: not a reset.
          const inWindow = clientWnd === undefined || ((e.seq - rcvNxt) >>> 0) <= Math.max(clientWnd, 1);
          if (!seqGt(rcvNxt, e.seq) && inWindow && !clientFinSent && !clientRstSent) {
            resetFrame = e.frame;
            clientAfterReset = false;
          }
        } else if (!(e.flags & TCP_SYN) && seqGt(end, rcvNxt)) {
          // A SYN here is out of window (challenge ACK): it moves nothing. Data above RCV.NXT
          // waits until the hole before it is filled.
          if (seqGt(e.seq, rcvNxt)) ahead.push([e.seq, end]);
          else rcvNxt = end;
          for (let moved = true; moved; ) {
            moved = false;
            for (const [a, b] of ahead) {
              if (!seqGt(a, rcvNxt) && seqGt(b, rcvNxt)) {
                rcvNxt = b;
                moved = true;
              }
            }
          }
        }
      } else if (e.flags & TCP_RST && e.flags & TCP_ACK && e.ack === synPlus1) {
        refusedFrame = e.frame;
      } else if (e.flags & TCP_RST && sentSynAck && irs !== undefined && e.seq === rcvNxt) {
        // SYN-RECEIVED after a simultaneous open (our SYN-ACK sent): a RST at RCV.NXT ends the
        // attempt (RFC 9293 §3.10.7.4: "connection refused"; Linux tcp_reset() reports
        // ECONNRESET there, the status tells them apart).
        refusedFrame = e.frame;
        simOpenRst = true;
      }
      continue;
    }
    // Client segment.
    if (resetFrame && !(e.flags & TCP_RST)) clientAfterReset = true;
    if (e.flags & TCP_FIN) clientFinSent = true;
    if (establishedFrame && e.flags & TCP_RST) clientRstSent = true;
    if (!(e.flags & (TCP_SYN | TCP_RST))) clientWnd = e.window * (wscaleBoth && clientWscale?.kind === "wscale" ? 2 ** Math.min(clientWscale.shift, 14) : 1);
    // After a simultaneous open the client's SYN-ACK may be its last segment: its window, never
    // scaled (RFC 7323 §2.2), bounds an acceptable RST too (kd-52-0358: a RST 2^29 beyond
    // RCV.NXT, ignored by the kernel, was taken for a reset).
    else if (e.flags & TCP_SYN && e.flags & TCP_ACK) clientWnd = e.window;
    if (e.flags & TCP_SYN) {
      if (firstIcmp && !(e.flags & TCP_ACK)) synAfterIcmp = true;
      if (e.flags & TCP_ACK) sentSynAck = true;
      // Retried after the RST (Windows), or a SYN-ACK retransmitted after it: not accepted.
      if (refusedFrame && (!(e.flags & TCP_ACK) || simOpenRst)) refusedFrame = 0;
      continue;
    }
    if (!establishedFrame && irs !== undefined && e.flags & TCP_ACK && !(e.flags & TCP_RST) && e.ack === ((irs + 1) >>> 0)) {
      establishedFrame = e.frame;
      refusedFrame = 0;
    }
  }
  if (resetFrame && clientAfterReset) resetFrame = 0; // the client carried on: not a reset it accepted
  if (establishedFrame) {
    if (resetFrame) {
      o.outcome = "reset";
      o.outcomeDetail = `established (frame ${establishedFrame}), then reset by the server (frame ${resetFrame})`;
    } else {
      o.outcome = "established";
      o.outcomeDetail = `established at frame ${establishedFrame}`;
    }
    return;
  }
  if (refusedFrame) {
    o.outcome = "refused";
    o.outcomeDetail = simOpenRst ? `RST in SYN-RECEIVED after a simultaneous open at frame ${refusedFrame}` : `RST acknowledging the SYN at frame ${refusedFrame}`;
    return;
  }
  if (firstIcmp) {
    o.icmp = { version: firstIcmp.version, type: firstIcmp.type, code: firstIcmp.code, from: firstIcmp.from };
    if (!synAfterIcmp && !o.superseded) {
      o.outcome = "unreachable";
      o.outcomeDetail = `ICMP${firstIcmp.version === 6 ? "v6" : ""} type ${firstIcmp.type} code ${firstIcmp.code} from ${firstIcmp.from} at frame ${firstIcmp.frame}; no SYN after it`;
      return;
    }
  }
  // Still trying at the end: the client sent only SYNs (and, after a simultaneous open, its
  // SYN-ACKs: RFC 9293 §3.10.7.3, SYN-RECEIVED), and RSTs that answer unacceptable segments
  // (a SYN-ACK or ACK acknowledging something it never sent, a SYN-ACK failing the timestamp
  // check: RFC 9293 §3.10.7.3 <SEQ=SEG.ACK><CTL=RST>) without leaving SYN-SENT.
  const clientOnlySyns = o.events.every(
    (e) => e.kind === "icmp" || e.dir === "s2c" || (e.flags & TCP_SYN && !(e.flags & TCP_RST)) || (e.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_RST,
  );
  if (!o.superseded && clientOnlySyns) {
    const syns = o.events.filter((e) => e.kind === "tcp" && e.dir === "c2s").length;
    o.outcome = "timeout";
    o.outcomeDetail = `${syns} SYN(s), no usable answer${firstIcmp ? " (ICMP errors treated as soft: SYNs continued)" : answered ? " (answers ignored)" : ""}; capture ends`;
    return;
  }
  o.outcome = "incomplete";
  o.outcomeDetail = o.superseded ? "a new SYN with another ISN on the same 4-tuple cut this attempt short" : "handshake not finished when the capture ends";
}
