// The core set: 31 packetdrill scripts from the public suites that together cover the
// connect path, chosen by the project as its first gate (the row "core set" of
// docs/conformance.md). Paths are relative to the conformance folder (../shared/conformance);
// the scripts themselves stay there. Each group says what it exercises.

/**
 * The negative control, always the last core script: with tcp_syn_retries=1 the script
 * waits for a third SYN that a correct stack never sends, so the script must fail ("Timed
 * out waiting for packet"). A runner that passes it is broken.
 */
export const NEGATIVE_CONTROL = "google-packetdrill/gtests/net/packetdrill/tests/packet-timeout.pkt";

export const CORE_SCRIPTS: readonly string[] = [
  // The SYN: option layout and order, MSS from the interface MTU, options switched off by
  // socket option or sysctl, retransmission schedule and give-up by time (TCP_KEEPINIT) and
  // by count (RFC 9293 §3.8.1, RFC 6298 §5).
  "freebsd-tcp-testsuite/snd-syn/snd-syn-with-default-options-ipv4.pkt",
  "freebsd-tcp-testsuite/snd-syn/snd-syn-with-default-options-ipv6.pkt",
  "freebsd-tcp-testsuite/snd-syn/snd-syn-without-options-ipv6.pkt",
  "freebsd-tcp-testsuite/snd-syn/snd-syn-mss-inherited-from-mtu-72-ipv4.pkt",
  "freebsd-tcp-testsuite/snd-syn/snd-syn-mss-inherited-from-mtu-1280-ipv6.pkt",
  "freebsd-tcp-testsuite/snd-syn/snd-syn-without-sack-ipv6.pkt",
  "freebsd-tcp-testsuite/snd-syn/snd-syn-without-sack-and-ws-and-ts-ipv4.pkt",
  "freebsd-tcp-testsuite/snd-syn/snd-syn-rtx-keepinit-ipv4.pkt",
  "freebsd-tcp-testsuite/snd-syn/snd-syn-rtx-max-number-ipv6.pkt",
  // SO_ERROR and tcp_info while in SYN-SENT.
  "freebsd-tcp-testsuite/snippets/syn-sent-ipv4.pkt",
  // Segment arrival in SYN-SENT (RFC 9293 §3.10.7.3): acceptable and unacceptable ACKs,
  // data on the SYN-ACK, RST with and without ACK, FIN without SYN, a crossing SYN
  // (simultaneous open).
  "freebsd-tcp-testsuite/state-event-engine/rcv-syn-ack-syn-sent/rcv-syn-ack-without-data-syn-sent-ack-left-edge-ipv6.pkt",
  "freebsd-tcp-testsuite/state-event-engine/rcv-syn-ack-syn-sent/rcv-syn-ack-without-data-syn-sent-ack-outside-left-ipv4.pkt",
  "freebsd-tcp-testsuite/state-event-engine/rcv-syn-ack-syn-sent/rcv-syn-ack-without-data-syn-sent-ack-outside-right-ipv6.pkt",
  "freebsd-tcp-testsuite/state-event-engine/rcv-syn-ack-syn-sent/rcv-syn-ack-with-data-syn-sent-ack-left-edge-ipv4.pkt",
  "freebsd-tcp-testsuite/state-event-engine/rcv-rst-ack-syn-sent/rcv-rst-ack-without-data-syn-sent-ack-left-edge-ipv6.pkt",
  "freebsd-tcp-testsuite/state-event-engine/rcv-rst-ack-syn-sent/rcv-rst-ack-without-data-syn-sent-ack-outside-right-ipv4.pkt",
  "freebsd-tcp-testsuite/state-event-engine/rcv-rst-syn-sent/rcv-rst-without-data-syn-sent-ipv4.pkt",
  "freebsd-tcp-testsuite/state-event-engine/rcv-ack-syn-sent/rcv-ack-without-data-syn-sent-ack-outside-left-ipv6.pkt",
  "freebsd-tcp-testsuite/state-event-engine/rcv-fin-ack-syn-sent/rcv-fin-ack-without-data-syn-sent-ack-left-edge-ipv4.pkt",
  "freebsd-tcp-testsuite/state-event-engine/rcv-syn-syn-sent/rcv-syn-without-data-syn-sent-ipv6.pkt",
  // ICMP errors in SYN-SENT: hard errors abort, only a quote of the ISS counts (RFC 5927),
  // packet-too-big lowers the MSS of the next SYN.
  "freebsd-tcp-testsuite/rcv-icmp/rcv-icmp-hard-error-port-unreachable-ipv4.pkt",
  "freebsd-tcp-testsuite/rcv-icmp/rcv-icmp-hard-error-proto-unreachable-ipv6.pkt",
  "freebsd-tcp-testsuite/rcv-icmp/rcv-icmp-hard-error-ttl-exceeded-ipv4.pkt",
  "freebsd-tcp-testsuite/rcv-icmp/rcv-icmp-hard-error-ignored-ipv6.pkt",
  // Linux's client: blocking connect, close in SYN-SENT, a minimal client with data and
  // FIN, TCP_MAXSEG read and set.
  "google-packetdrill/gtests/net/tcp/blocking/blocking-connect.pkt",
  "google-packetdrill/gtests/net/tcp/close/close-on-syn-sent.pkt",
  "linux-selftests/tools/testing/selftests/net/packetdrill/tcp_basic_client.pkt",
  "nplab-packetdrill/gtests/net/packetdrill/tests/linux/mss/mss-getsockopt-tcp_maxseg-client.pkt",
  "nplab-packetdrill/gtests/net/packetdrill/tests/linux/mss/mss-getsockopt-tcp_maxseg-client-ts.pkt",
  "google-packetdrill/gtests/net/tcp/mss/mss-setsockopt-tcp_maxseg-client.pkt",
  NEGATIVE_CONTROL,
];
