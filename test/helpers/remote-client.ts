// A scripted remote client for passive-open tests: it sends the SYN, reads the stack's
// SYN-ACK from the harness, completes the handshake and then sends data, FIN or RST with
// the right sequence numbers. Virtual time, no real network.
import type { Harness, Sent } from "./vt.js";
import { buildTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";

export interface RemoteClientOptions {
  /** The client's address (default 10.0.0.1, or fd00::1 when `v6`). */
  src?: string;
  /** The stack's address (default 10.0.0.2, or fd00::2). */
  dst?: string;
  v6?: boolean;
  srcPort: number;
  dstPort: number;
  iss?: number;
}

export class RemoteClient {
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly iss: number;
  /** Bytes of data (and FIN) this client sent after its SYN. */
  private sent = 0;
  /** The stack's ISS, known once its SYN-ACK was seen. */
  irs: number | undefined;
  /** Bytes received from the stack (acknowledged in our next segment). */
  private rcvd = 0;

  constructor(
    readonly h: Harness,
    o: RemoteClientOptions,
  ) {
    this.src = o.src ?? (o.v6 ? "fd00::1" : "10.0.0.1");
    this.dst = o.dst ?? (o.v6 ? "fd00::2" : "10.0.0.2");
    this.srcPort = o.srcPort;
    this.dstPort = o.dstPort;
    this.iss = o.iss ?? 1000;
  }

  private send(flags: number, seq: number, ack: number, payload?: Uint8Array, options: TcpOption[] = []): void {
    this.h.inputBytes(buildTcpPacket({ src: this.src, dst: this.dst, srcPort: this.srcPort, dstPort: this.dstPort, seq: seq >>> 0, ack: ack >>> 0, flags, window: 65535, options, payload }));
  }

  /** Segments the stack sent to this client since the start. */
  segments(): Sent[] {
    return this.h.sent.filter((s) => s.tcp.dstPort === this.srcPort && s.tcp.srcPort === this.dstPort && s.pkt.ip.dst === this.src);
  }

  syn(options: TcpOption[] = [{ kind: "mss", value: 1460 }]): void {
    this.send(TCP_SYN, this.iss, 0, undefined, options);
  }

  /** The stack's SYN-ACK to us (the latest), or undefined. */
  synAck(): Sent | undefined {
    const sa = this.segments().filter((s) => s.flags === "S.").at(-1);
    if (sa) this.irs = sa.tcp.seq;
    return sa;
  }

  private get ackNo(): number {
    if (this.irs === undefined && !this.synAck()) throw new Error("no SYN-ACK from the stack yet");
    return this.irs! + 1 + this.rcvd;
  }

  /** The handshake's final ACK (optionally with data). */
  ack(payload?: Uint8Array): void {
    const ack = this.ackNo;
    this.send(TCP_ACK, this.iss + 1 + this.sent, ack, payload);
    this.sent += payload?.length ?? 0;
  }

  /** SYN, then the final ACK once the stack answered. */
  connect(): void {
    this.syn();
    if (!this.synAck()) throw new Error("the stack did not answer the SYN");
    this.ack();
  }

  data(bytes: Uint8Array | string): void {
    const p = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    this.ack(p);
  }

  /** Acknowledges everything the stack sent so far. */
  ackAll(): void {
    this.rcvd = this.segments().reduce((n, s) => n + s.tcp.payload.length + (s.flags.includes("F") ? 1 : 0), 0);
    this.send(TCP_ACK, this.iss + 1 + this.sent, this.ackNo);
  }

  fin(): void {
    this.send(TCP_FIN | TCP_ACK, this.iss + 1 + this.sent, this.ackNo);
    this.sent += 1;
  }

  rst(): void {
    this.send(TCP_RST, this.iss + 1 + this.sent, 0);
  }

  /** Data the stack sent to this client, in order (no retransmission handling). */
  received(): string {
    return new TextDecoder().decode(Buffer.concat(this.segments().map((s) => s.tcp.payload)));
  }
}
