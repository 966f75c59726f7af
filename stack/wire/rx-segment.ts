// An arriving TCP segment parsed in place, for the stack's input path.
//
// parsePacket() builds a Packet: address strings, an object per TCP option, the option
// list, the header objects, subarray views for the IP and TCP payloads. That is about
// 1.9 KB allocated for each SYN-ACK of a handshake (V8's sampling heap profiler on the
// engine benchmark), which the garbage collector then has to sweep. RxSegment reads the
// same fields into one object the stack reuses from packet to packet: numbers, the
// address text from a cache, the option summary the engine acts on, and a payload view
// only when there is a payload.
//
// It takes only the common case: an IPv4 packet (any IP options skipped) or an IPv6
// packet without extension headers, carrying a TCP segment that parsePacket() would
// accept. Everything else (ICMP, other protocols, extension headers, anything malformed)
// is left to parsePacket(), which then also gives the drop reason: parse() returns false
// and has decided nothing. test/wire/rx-segment.test.ts checks that both accept the same
// packets and read the same values from them.
import { formatIpv6, ipv4Text } from "./addr.js";
import { internetChecksum, sumWords } from "./checksum.js";
import { IPV4_HEADER_BYTES, IPV4_OFFSETS } from "./ipv4.js";
import { IPV6_HEADER_BYTES, IPV6_OFFSETS } from "./ipv6.js";
import { parseTcpOptions, TCPOPT_EOL, TCPOPT_MSS, TCPOPT_NOP, TCPOPT_SACK, TCPOPT_SACK_PERMITTED, TCPOPT_TIMESTAMP, TCPOPT_WSCALE } from "./tcp-options.js";
import { TCP_HEADER_BYTES, TCP_OFFSETS } from "./tcp.js";
import { IPPROTO_TCP, type TcpOption, type TcpOptionSummary, type TcpSegment } from "./types.js";

const EMPTY = new Uint8Array(0);
const V4 = IPV4_OFFSETS;
const V6 = IPV6_OFFSETS;
const T = TCP_OFFSETS;

/** The option values the engine acts on (the fields of summarizeOptions()'s result). */
export class RxOptions implements TcpOptionSummary {
  mss: number | undefined = undefined;
  wscale: number | undefined = undefined;
  sackOK = false;
  /** Points at `tsValues` when the segment carries timestamps: one object, refilled. */
  ts: { val: number; ecr: number } | undefined = undefined;
  sack: Array<[number, number]> | undefined = undefined;
  private readonly tsValues = { val: 0, ecr: 0 };

  clear(): void {
    this.mss = undefined;
    this.wscale = undefined;
    this.sackOK = false;
    this.ts = undefined;
    this.sack = undefined;
  }

  /**
   * Reads the option bytes buf[from, to) as parseTcpOptions() + summarizeOptions() would
   * (the last of a kind wins). False when parseTcpOptions() would refuse them.
   */
  read(buf: Uint8Array, from: number, to: number): boolean {
    this.clear();
    let i = from;
    while (i < to) {
      const kind = buf[i];
      if (kind === TCPOPT_EOL) break;
      if (kind === TCPOPT_NOP) {
        i++;
        continue;
      }
      if (i + 1 >= to) return false;
      const len = buf[i + 1];
      if (len < 2 || i + len > to) return false;
      switch (kind) {
        case TCPOPT_MSS:
          if (len !== 4) return false;
          this.mss = (buf[i + 2] << 8) | buf[i + 3];
          break;
        case TCPOPT_WSCALE:
          if (len !== 3) return false;
          this.wscale = buf[i + 2];
          break;
        case TCPOPT_SACK_PERMITTED:
          if (len !== 2) return false;
          this.sackOK = true;
          break;
        case TCPOPT_SACK: {
          if ((len - 2) % 8 !== 0 || len < 10 || len > 34) return false;
          const blocks: Array<[number, number]> = [];
          for (let at = i + 2; at < i + len; at += 8) blocks.push([u32(buf, at), u32(buf, at + 4)]);
          this.sack = blocks;
          break;
        }
        case TCPOPT_TIMESTAMP: {
          if (len !== 10) return false;
          const t = this.tsValues;
          t.val = u32(buf, i + 2);
          t.ecr = u32(buf, i + 6);
          this.ts = t;
          break;
        }
        default:
          break; // an unknown kind: kept by parseTcpOptions(), not acted on
      }
      i += len;
    }
    return true;
  }
}

/**
 * One arriving TCP segment and its IP addresses. The fields are valid until the next
 * parse(); `payload` is a view of the parsed buffer (zero-copy, like parsePacket()'s).
 */
export class RxSegment implements TcpSegment {
  version: 4 | 6 = 4;
  /** Canonical address text, as IpHeader.src / dst. */
  src = "";
  dst = "";
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  headerLength = 0;
  flags = 0;
  reserved = 0;
  window = 0;
  checksum = 0;
  urgent = 0;
  payload: Uint8Array = EMPTY;
  readonly opt = new RxOptions();
  /** The buffer and where its option bytes are, for `options` (read on demand). */
  private buf: Uint8Array = EMPTY;
  private optFrom = 0;

  /** The option list as parseTcpOptions() gives it; built on each access (tracing, tests). */
  get options(): TcpOption[] {
    if (this.headerLength === TCP_HEADER_BYTES) return [];
    const p = parseTcpOptions(this.buf.subarray(this.optFrom, this.optFrom + this.headerLength - TCP_HEADER_BYTES));
    return p.ok ? p.value : [];
  }

  /**
   * Parses `bytes` if it is a TCP segment in a plain IPv4 or IPv6 packet that
   * parsePacket() would accept. False (nothing decided) for anything else.
   * `tcpChecksumValid`: the link already computed or verified the TCP checksum (receive
   * offloads), so the segment is not summed again; the IPv4 header checksum is still checked.
   */
  parse(bytes: Uint8Array, tcpChecksumValid = false): boolean {
    const n = bytes.length;
    if (n === 0) return false;
    const version = bytes[0] >> 4;
    let tcp: number; // where the TCP header starts
    let end: number; // where the IP packet ends (link padding excluded)
    let pseudo: number; // the pseudo-header's unfolded sum, less the TCP length
    if (version === 4) {
      // RFC 791 §3.1, as parseIpv4(): header length, total length, header checksum, no fragments.
      if (n < IPV4_HEADER_BYTES) return false;
      tcp = (bytes[0] & 0x0f) * 4;
      if (tcp < IPV4_HEADER_BYTES || tcp > n) return false;
      end = (bytes[V4.totalLength] << 8) | bytes[V4.totalLength + 1];
      if (end < tcp || end > n) return false;
      if (bytes[V4.protocol] !== IPPROTO_TCP) return false;
      if (internetChecksum(bytes, 0, tcp) !== 0) return false;
      if ((bytes[V4.flagsFragment] & 0x3f) !== 0 || bytes[V4.flagsFragment + 1] !== 0) return false; // MF or an offset
      // src and dst are adjacent: one sum covers both (RFC 9293 §3.1 pseudo-header).
      pseudo = sumWords(bytes, V4.src, V4.dst + 4, 0) + IPPROTO_TCP;
      this.version = 4;
      this.src = ipv4Text(bytes, V4.src);
      this.dst = ipv4Text(bytes, V4.dst);
    } else if (version === 6) {
      // RFC 8200 §3: TCP right after the fixed header; extension headers go to parsePacket().
      if (n < IPV6_HEADER_BYTES) return false;
      end = IPV6_HEADER_BYTES + ((bytes[V6.payloadLength] << 8) | bytes[V6.payloadLength + 1]);
      if (end > n || bytes[V6.nextHeader] !== IPPROTO_TCP) return false;
      tcp = IPV6_HEADER_BYTES;
      pseudo = sumWords(bytes, V6.src, V6.dst + 16, 0) + IPPROTO_TCP; // RFC 8200 §8.1
      this.version = 6;
      this.src = formatIpv6(bytes, V6.src);
      this.dst = formatIpv6(bytes, V6.dst);
    } else {
      return false;
    }
    // RFC 9293 §3.1, as parseTcp(): header length, checksum, then the options.
    const length = end - tcp;
    if (length < TCP_HEADER_BYTES) return false;
    const or = bytes[tcp + T.offsetReserved];
    const headerLength = (or >> 4) * 4;
    if (headerLength < TCP_HEADER_BYTES || headerLength > length) return false;
    if (!tcpChecksumValid) {
      pseudo += (length & 0xffff) + Math.floor(length / 0x10000);
      if (internetChecksum(bytes, tcp, end, pseudo) !== 0) return false;
    }
    if (!this.opt.read(bytes, tcp + TCP_HEADER_BYTES, tcp + headerLength)) return false;
    this.srcPort = u16(bytes, tcp + T.srcPort);
    this.dstPort = u16(bytes, tcp + T.dstPort);
    this.seq = u32(bytes, tcp + T.seq);
    this.ack = u32(bytes, tcp + T.ack);
    this.headerLength = headerLength;
    this.flags = bytes[tcp + T.flags];
    this.reserved = or & 0x0f;
    this.window = u16(bytes, tcp + T.window);
    this.checksum = u16(bytes, tcp + T.checksum);
    this.urgent = u16(bytes, tcp + T.urgent);
    this.payload = headerLength === length ? EMPTY : bytes.subarray(tcp + headerLength, end);
    this.buf = bytes;
    this.optFrom = tcp + TCP_HEADER_BYTES;
    return true;
  }

  /** Lets go of the parsed buffer (the device reuses it). */
  release(): void {
    this.payload = EMPTY;
    this.buf = EMPTY;
    this.opt.sack = undefined;
  }
}

const u16 = (b: Uint8Array, i: number): number => (b[i] << 8) | b[i + 1];
const u32 = (b: Uint8Array, i: number): number => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

