// Benchmark 2 (BENCHMARKS.md): engine-only handshakes per second. A Stack is the client; an
// in-memory peer answers each SYN with a SYN-ACK; time is virtual; one core, no device.
//
// One handshake = connect() (port choice, ISN, Connection, SYN built) + the SYN taken by
// poll() + the SYN-ACK parsed and demultiplexed by input() + the ACK built + ESTABLISHED.
// Like the runtime, 64 connects are in flight per round: connect 64, poll, answer and
// input the 64 SYN-ACKs, poll the 64 ACKs.
//
// The peer is deliberately cheap so that it does not hide the engine's cost: it reads the
// SYN's port and sequence number at fixed offsets and patches them into a SYN-ACK template,
// with the TCP checksum updated incrementally (RFC 1624). Its cost per handshake is
// measured on its own and reported beside the result (it is included in the rate).
import { Stack } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import { seededRandom } from "../../stack/random.js";
import { foldChecksum, pseudoHeaderSum, sumWords } from "../../stack/wire/checksum.js";
import { buildTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_SYN } from "../../stack/wire/types.js";
import type { Benchmark, Metric } from "./types.js";

const STACK_ADDR = "10.0.0.2";
const PEER_ADDR = "10.0.0.1";
const IN_FLIGHT = 64;
/** Connections per Stack before a fresh one is made (keeps the tables at a realistic size). */
const PER_STACK = 16_384;

// Offsets in a 20-byte-header IPv4 packet (the stack writes no IP options).
const TCP_AT = 20;
/** The windows profile's SYN: 20 + 20 + 12 option bytes (mss, nop, wscale, nop, nop, sackOK). */
const SYN_BYTES = 52;

/**
 * The in-memory peer: turns a SYN from the stack into the SYN-ACK a Linux listener would
 * send (mss 1460, sackOK, wscale 7; no timestamps), in a reused buffer. It answers from
 * whatever port the SYN went to, so one peer serves many remote ports.
 */
export class SynAckPeer {
  /** The SYN-ACK being answered; reused, like a device's receive buffer. */
  readonly packet: Uint8Array;
  private readonly baseSum: number;
  private iss = 0x1000;

  constructor(src = PEER_ADDR, dst = STACK_ADDR) {
    this.packet = buildTcpPacket({
      src,
      dst,
      srcPort: 0,
      dstPort: 0,
      seq: 0,
      ack: 0,
      flags: TCP_SYN | TCP_ACK,
      window: 64240,
      options: [{ kind: "mss", value: 1460 }, { kind: "nop" }, { kind: "nop" }, { kind: "sackOK" }, { kind: "nop" }, { kind: "wscale", shift: 7 }],
    });
    const tcpLen = this.packet.length - TCP_AT;
    const p = this.packet;
    // Sum of the template with the variable fields (ports, seq, ack) and checksum at zero.
    p[TCP_AT + 16] = 0;
    p[TCP_AT + 17] = 0;
    const srcBytes = p.subarray(12, 16);
    const dstBytes = p.subarray(16, 20);
    this.baseSum = sumWords(p, TCP_AT, p.length, pseudoHeaderSum(4, srcBytes, dstBytes, 6, tcpLen));
  }

  /** Writes the SYN-ACK for `syn` into `this.packet` and returns it. */
  answer(syn: Uint8Array): Uint8Array {
    return this.answerAt(syn, 0);
  }

  /** answer() for the SYN at syn[at] (a packet of a packed batch). */
  answerAt(syn: Uint8Array, at: number): Uint8Array {
    const p = this.packet;
    const t = at + TCP_AT;
    // The SYN's ports, swapped.
    const port = (syn[t] << 8) | syn[t + 1];
    const from = (syn[t + 2] << 8) | syn[t + 3];
    const seq = ((syn[t + 4] << 24) | (syn[t + 5] << 16) | (syn[t + 6] << 8) | syn[t + 7]) >>> 0;
    const ack = (seq + 1) >>> 0;
    const iss = (this.iss = (this.iss + 0x10001) >>> 0);
    p[TCP_AT] = from >> 8;
    p[TCP_AT + 1] = from & 0xff;
    p[TCP_AT + 2] = port >> 8;
    p[TCP_AT + 3] = port & 0xff;
    p[TCP_AT + 4] = iss >>> 24;
    p[TCP_AT + 5] = (iss >>> 16) & 0xff;
    p[TCP_AT + 6] = (iss >>> 8) & 0xff;
    p[TCP_AT + 7] = iss & 0xff;
    p[TCP_AT + 8] = ack >>> 24;
    p[TCP_AT + 9] = (ack >>> 16) & 0xff;
    p[TCP_AT + 10] = (ack >>> 8) & 0xff;
    p[TCP_AT + 11] = ack & 0xff;
    // RFC 1624: the one's-complement sum is linear, so add the new fields' 16-bit words.
    const sum = this.baseSum + from + port + (iss >>> 16) + (iss & 0xffff) + (ack >>> 16) + (ack & 0xffff);
    const c = ~foldChecksum(sum) & 0xffff;
    p[TCP_AT + 16] = c >> 8;
    p[TCP_AT + 17] = c & 0xff;
    return p;
  }
}

export interface HandshakeResult {
  handshakes: number;
  elapsedMs: number;
  perSec: number;
}

export interface HandshakeLoop {
  /** Runs `n` handshakes (a multiple of 64 is best) and returns the count completed. */
  run(n: number): number;
}

/**
 * The measured loop. Every handshake is checked: a connection that is not ESTABLISHED
 * after its SYN-ACK, or a missing ACK, throws (a benchmark of a broken engine is worthless).
 */
export function handshakeLoop(seed = 1, abortAfter = false): HandshakeLoop {
  const peer = new SynAckPeer();
  const random = seededRandom(seed);
  let stack = freshStack(random);
  let onStack = 0;
  let remotePort = 1;
  let now = 0;
  const conns: Connection[] = new Array(IN_FLIGHT);
  const remote = { addr: PEER_ADDR, port: 0 };
  return {
    run(n: number): number {
      let done = 0;
      while (done < n) {
        const k = Math.min(IN_FLIGHT, n - done);
        if (onStack + k > PER_STACK && !abortAfter) {
          stack = freshStack(random);
          onStack = 0;
          remotePort = 1;
        }
        if (remotePort > 65535 - IN_FLIGHT) remotePort = 1; // aborted connections free their tuples
        for (let i = 0; i < k; i++) {
          remote.port = remotePort++;
          const c = stack.connect({ remote }, now);
          if (!(c instanceof Connection)) throw new Error(`connect failed: ${c.error}: ${c.detail}`);
          conns[i] = c;
        }
        // Output is taken packed, as the Runtime takes it for the TUN device (pollBatch); the
        // SYNs are copied out first, since the stack writes the ACKs into the same buffer.
        const syns = stack.pollBatch(now);
        if (syns.count !== k) throw new Error(`expected ${k} SYNs, got ${syns.count}`);
        const synBytes = syns.data.slice(0, k * SYN_BYTES);
        for (let i = 0; i < k; i++) if (syns.lengths[i] !== SYN_BYTES) throw new Error(`SYN ${i} is ${syns.lengths[i]} bytes, not ${SYN_BYTES}`);
        now += 0.05; // a 50 µs virtual RTT
        for (let i = 0; i < k; i++) stack.input(peer.answerAt(synBytes, i * SYN_BYTES), now);
        const acks = stack.pollBatch(now);
        if (acks.count !== k) throw new Error(`expected ${k} ACKs, got ${acks.count}`);
        for (let i = 0; i < k; i++) {
          if (conns[i].state !== "ESTABLISHED") throw new Error(`connection ${i} is ${conns[i].state}, not ESTABLISHED`);
        }
        if (abortAfter) {
          // The application drops each connection at once: RST out, TCB freed (RFC 9293 §3.10.5).
          for (let i = 0; i < k; i++) conns[i].abort(now);
          const rsts = stack.takeOutputBatch();
          if (rsts.count !== k) throw new Error(`expected ${k} RSTs, got ${rsts.count}`);
        }
        onStack += k;
        done += k;
        now += 0.01;
      }
      return done;
    },
  };
}

function freshStack(random: ReturnType<typeof seededRandom>): Stack {
  return new Stack({ addresses: [`${STACK_ADDR}/24`], random, profile: "windows" });
}

/** Nanoseconds the peer spends per SYN-ACK (measured alone over real SYNs of the stack). */
export function peerCostNs(samples: number): number {
  const stack = freshStack(seededRandom(7));
  const syns: Uint8Array[] = [];
  for (let i = 0; i < 256; i++) {
    stack.connect({ remote: { addr: PEER_ADDR, port: 1 + i } }, 0);
  }
  for (const s of stack.poll(0)) syns.push(s);
  const peer = new SynAckPeer();
  let x = 0;
  for (let i = 0; i < 20_000; i++) x ^= peer.answer(syns[i & 255])[36]; // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < samples; i++) x ^= peer.answer(syns[i & 255])[36];
  const ns = Number(process.hrtime.bigint() - t0);
  if (x === -1) console.log(x); // keep the result alive
  return ns / samples;
}

export function measureHandshakes(n: number, warmup: number, abortAfter = false): HandshakeResult {
  const loop = handshakeLoop(1, abortAfter);
  loop.run(warmup);
  const t0 = process.hrtime.bigint();
  const done = loop.run(n);
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return { handshakes: done, elapsedMs, perSec: (done / elapsedMs) * 1000 };
}

export const engineHandshakes: Benchmark = {
  name: "engine",
  section: 2,
  title: "Engine-only handshakes",
  measures:
    "Stack as client against an in-memory SYN-ACK peer, virtual time, one core, 64 in flight: connect + SYN out + SYN-ACK in + ACK out + ESTABLISHED (+ abort and RST out, in the reset variant)",
  notes: [
    "engine: the peer's own cost (template SYN-ACK, RFC 1624 incremental checksum) is included in the rate and reported as peerNsPerHandshake",
    "engine: windows profile (mss,nop,wscale,nop,nop,sackOK SYN), IPv4; kept: connections left ESTABLISHED, a fresh Stack every 16384; reset: each connection aborted (RST,ACK out, TCB freed) after ESTABLISHED, the connects benchmark's and the peers' workload",
  ],
  async run(quick: boolean): Promise<Metric[]> {
    const n = quick ? 4_096 : 400_000;
    const warmup = quick ? 1_024 : 100_000;
    const kept = measureHandshakes(n, warmup);
    const reset = measureHandshakes(n, warmup, true);
    const peerNs = peerCostNs(quick ? 10_000 : 1_000_000);
    return [
      { key: "handshakesPerSec", label: "handshakes/s, connections kept", unit: "1/s", value: kept.perSec, target: { op: ">=", value: 500_000 } },
      { key: "nsPerHandshake", label: "time per handshake, kept", unit: "ns", value: (kept.elapsedMs * 1e6) / kept.handshakes },
      { key: "handshakesPerSecReset", label: "handshakes/s, each reset after ESTABLISHED", unit: "1/s", value: reset.perSec, target: { op: ">=", value: 500_000 } },
      { key: "nsPerHandshakeReset", label: "time per handshake, reset", unit: "ns", value: (reset.elapsedMs * 1e6) / reset.handshakes },
      { key: "peerNsPerHandshake", label: "peer's share per handshake", unit: "ns", value: peerNs },
    ];
  },
};
