// Why the stack discarded an arriving packet or segment, as a closed set of codes.
//
// StackStats.drops counts by these codes; the trace carries a human sentence beside the code
// (TraceEvent.decision) that may be reworded freely without changing any statistic. A new
// kind of drop needs a new code here, with its one-line meaning.
import type { PacketError } from "./wire/types.js";

/** Drops decided by the stack before any connection sees the packet. */
export type StackDropReason =
  | "not for us"
  | "icmpv6 not for us"
  | "protocol not handled"
  | "rst for a listener"
  | "listener: segment without SYN"
  | "listener: syn-ack"
  | "listener: syn and fin"
  | "listener: accept queue full"
  | "listener: syn held for inspection"
  | "rst for no connection"
  | "no connection"
  | "icmp not about tcp"
  | "icmpv6 not about tcp"
  | "icmp for no connection"
  | "icmp quotes a sequence number not in flight"
  | "icmp ignored by the profile";

/** Drops decided by a connection (RFC 9293 §3.10.7 and the profile's policies). */
export type SegmentDropReason =
  | "syn and fin"
  | "rst in time-wait"
  | "no ack in time-wait"
  | "duplicate ack in time-wait"
  | "syn-sent: rst with unacceptable ack"
  | "syn-sent: rst without acceptable ack"
  | "syn-sent: rst failing paws"
  | "syn-sent: no syn or rst"
  | "syn-ack text ignored"
  | "crossing syn text discarded"
  | "rst out of window"
  | "no ack bit"
  | "out-of-window ack rate-limited"
  | "challenge ack rate-limited"
  | "final ack: accept queue full";

/**
 * Reads a device dropped before they became packets (the TUN's receive offloads,
 * device/tun/rx-offload.h), reported to the stack through Stack.deviceDrop().
 */
export type DeviceDropReason =
  | "vnet header truncated"
  | "vnet unknown flags"
  | "vnet unknown gso_type"
  | "vnet bad gso_size"
  | "vnet bad csum_start or csum_offset"
  | "vnet malformed gso packet";

export type DropReason = PacketError | StackDropReason | SegmentDropReason | DeviceDropReason;

/** Whether `s` is a DeviceDropReason (a device names its drops as text). */
export function isDeviceDropReason(s: string): s is DeviceDropReason {
  return s.startsWith("vnet ") && Object.prototype.hasOwnProperty.call(DROP_REASONS, s);
}

/** One line per code: what was dropped and why (docs, `synack` output, tests). */
export const DROP_REASONS: { readonly [R in DropReason]: string } = {
  // Unparsable packets (stack/wire parsers).
  "empty packet": "a zero-length packet",
  "ip bad version": "the IP version field is neither 4 nor 6",
  "ipv4 truncated header": "shorter than its IPv4 header",
  "ipv4 bad version": "IPv4 header with another version number",
  "ipv4 bad ihl": "IPv4 header length below 20 bytes",
  "ipv4 bad total length": "IPv4 total length below the header length",
  "ipv4 truncated packet": "shorter than the IPv4 total length",
  "ipv4 header checksum": "IPv4 header checksum does not match (RFC 791)",
  "ipv4 fragment": "an IPv4 fragment (no reassembly)",
  "ipv6 truncated header": "shorter than the IPv6 header",
  "ipv6 bad version": "IPv6 header with another version number",
  "ipv6 truncated packet": "shorter than the IPv6 payload length",
  "ipv6 jumbogram not supported": "an IPv6 jumbogram (RFC 2675)",
  "ipv6 hop-by-hop not first": "hop-by-hop options header not directly after the IPv6 header (RFC 8200 §4.1)",
  "ipv6 truncated extension header": "an IPv6 extension header runs past the packet",
  "ipv6 bad option length": "an IPv6 hop-by-hop option runs past its header",
  "ipv6 routing header segments left": "a routing header with segments left (RFC 8200 §4.4)",
  "ipv6 fragment": "an IPv6 fragment (no reassembly)",
  "tcp truncated header": "shorter than a TCP header",
  "tcp bad data offset": "TCP data offset below 5 words (RFC 9293 §3.1)",
  "tcp header beyond segment": "TCP data offset beyond the segment",
  "tcp checksum": "TCP checksum does not match (RFC 9293 §3.1)",
  "tcp option truncated": "a TCP option without its length byte",
  "tcp option length < 2": "a TCP option length below 2",
  "tcp option overrun": "a TCP option runs past the header",
  "tcp option bad mss length": "MSS option not 4 bytes long",
  "tcp option bad wscale length": "window scale option not 3 bytes long",
  "tcp option bad sackOK length": "SACK-permitted option not 2 bytes long",
  "tcp option bad sack length": "SACK option not 2 + 8n bytes, n = 1..4",
  "tcp option bad timestamp length": "timestamps option not 10 bytes long",
  "icmp truncated": "shorter than an ICMP header",
  "icmp checksum": "ICMP checksum does not match",
  "icmpv6 truncated": "shorter than an ICMPv6 header",
  "icmpv6 checksum": "ICMPv6 checksum does not match",
  // The stack.
  "not for us": "destination is not an address of this stack",
  "icmpv6 not for us": "ICMPv6 to another address (multicast chatter: MLD, neighbour discovery)",
  "protocol not handled": "neither TCP nor ICMP",
  "rst for a listener": "RST for a LISTEN port (RFC 9293 §3.10.7.2 first)",
  "listener: segment without SYN": "neither RST, ACK nor SYN for a LISTEN port (RFC 9293 §3.10.7.2 fourth)",
  "listener: syn-ack": "SYN-ACK for a LISTEN port, not answered (listenSynAck drop: FreeBSD)",
  "listener: syn and fin": "SYN and FIN together for a LISTEN port (synFin policy; FreeBSD net.inet.tcp.drop_synfin)",
  "listener: accept queue full": "SYN for a listener whose accept queue is full (acceptQueueFull dropSyn: Linux)",
  "listener: syn held for inspection": "a retransmitted SYN for a request a conditional-accept listener holds unanswered until its owner decides",
  "rst for no connection": "RST for no connection (RFC 9293 §3.10.7.1)",
  "no connection": "segment for no connection, with RSTs for closed ports turned off",
  "icmp not about tcp": "ICMP error that quotes no TCP segment",
  "icmpv6 not about tcp": "ICMPv6 error that quotes no TCP segment",
  "icmp for no connection": "ICMP error quoting no live connection (RFC 5927 §4.1)",
  "icmp quotes a sequence number not in flight": "ICMP error quoting a sequence number outside SND.UNA..SND.NXT (RFC 5927 §4.1)",
  "icmp ignored by the profile": "ICMP error the profile's OS drops before TCP sees it (icmpV4Filter policy)",
  // Connections.
  "syn and fin": "SYN and FIN together, dropped in every state (synFin policy; FreeBSD net.inet.tcp.drop_synfin)",
  "rst in time-wait": "RST in TIME-WAIT ignored (RFC 1337 §3; timeWait policy)",
  "no ack in time-wait": "segment without ACK in TIME-WAIT (timeWait freebsd: FreeBSD tcp_twcheck())",
  "duplicate ack in time-wait": "exact duplicate ACK in TIME-WAIT, not answered (timeWait freebsd: FreeBSD tcp_twcheck())",
  "syn-sent: rst with unacceptable ack": "RST in SYN-SENT whose ACK does not acknowledge our SYN (RFC 9293 §3.10.7.3 first)",
  "syn-sent: rst without acceptable ack": "RST in SYN-SENT without an ACK (RFC 9293 §3.10.7.3 second)",
  "syn-sent: rst failing paws": "RST+ACK in SYN-SENT whose TSecr no SYN of ours carried (synSentPaws policy)",
  "syn-sent: no syn or rst": "neither SYN nor RST in SYN-SENT (RFC 9293 §3.10.7.3 fifth)",
  "syn-ack text ignored": "text or FIN on the SYN-ACK not taken; the SYN is (synAckText policy)",
  "crossing syn text discarded": "text or FIN on a crossing SYN not kept (simOpenSynText policy)",
  "rst out of window": "RST outside the receive window (RFC 9293 §3.10.7.4 first, RFC 5961 §3.2)",
  "no ack bit": "segment without ACK in a synchronised state (RFC 9293 §3.10.7.4 fifth)",
  "out-of-window ack rate-limited": "the ACK answering an unacceptable segment (or a challenge ACK) was not sent: one per interval (oowAck and challengeAck policies; Linux tcp_oow_rate_limited())",
  "challenge ack rate-limited": "a challenge ACK was not sent: the RFC 5961 §7 budget is spent (challengeAck policy)",
  "final ack: accept queue full": "the handshake's final ACK while the listener's accept queue is full; the SYN-ACK is retransmitted (acceptQueueFull dropSyn: Linux)",
  // Devices (Stack.deviceDrop): the TUN's receive offloads, virtio-net header (include/uapi/linux/virtio_net.h).
  "vnet header truncated": "a read shorter than its virtio-net header",
  "vnet unknown flags": "virtio-net header flags other than NEEDS_CSUM and DATA_VALID",
  "vnet unknown gso_type": "a virtio-net gso_type the device did not offer (UDP, UDP_L4, ECN alone, unknown)",
  "vnet bad gso_size": "a GSO packet with gso_size 0",
  "vnet bad csum_start or csum_offset": "csum_start/csum_offset outside the packet, or (GSO) not the TCP checksum",
  "vnet malformed gso packet": "a GSO packet that is not plain TCP in the IP version and length it claims",
};
