// Behaviour profiles (contract §3) as plain data. Every knob can be overridden per
// connection: `resolveProfile(base, overrides)`. The SYN option layouts are named after the
// OS whose byte layout they reproduce; `synOptions()` in options.ts writes them.

export type ProfileName = "windows" | "linux" | "freebsd" | "rfc";
export type OptionLayout = "windows" | "linux" | "freebsd" | "rfc";

/** What the stack does with an ICMP error about a connection in SYN-SENT. */
export type IcmpPolicy =
  | "ignore" // windows default: nothing (unless failConnectOnIcmpError)
  | "abort" // linux: every destination-unreachable / time-exceeded / parameter-problem aborts
  | "hardAbort" // freebsd: hard errors abort, soft ignored
  | "hardAbortSoftRemember"; // rfc: hard abort; soft remembered, reported at give-up (RFC 1122 §4.2.3.9)

export type SynBackoff =
  | "doubling" // RTO doubles after each SYN (RFC 6298 §5.5)
  | "linux" // first `synLinearTimeouts` retransmissions at the initial RTO, then doubling (tcp_syn_linear_timeouts)
  | "freebsd"; // first retransmission after the initial RTO, later ones RTO*2^k plus rexmit slop

/**
 * What an active opener in SYN-SENT does with text and FIN carried on the peer's SYN when
 * the SYNs cross (simultaneous open, SYN-SENT -> SYN-RECEIVED).
 */
export type SimOpenSynText =
  | "queue" // RFC 9293 §3.10.7.3: queue text and FIN, process them once ESTABLISHED
  | "queueData" // FreeBSD: the text goes to the reassembly queue, the FIN is lost there
  | "discard"; // Linux tcp_rcv_synsent_state_process(): "discard packet for sanity"

export interface Profile {
  name: ProfileName;
  /** Human-readable SYN option layout (contract §3 table). */
  synOptionLayoutText: string;
  optionLayout: OptionLayout;
  timestamps: boolean;
  /** Our window-scale shift (RFC 7323); `windowScaling: false` sends none. */
  windowScaling: boolean;
  windowScale: number;
  sack: boolean;
  /** TCP_NOOPT: send a SYN without any option (FreeBSD's TCP_NOOPT). */
  noOptions: boolean;
  /** Window field of the SYN (unscaled, RFC 7323 §2.2). */
  synWindow: number;
  /** Receive buffer in bytes; the advertised window after the handshake derives from it. */
  rcvBufBytes: number;
  initialRtoMs: number;
  /** SYN retransmissions after the first SYN (Linux tcp_syn_retries). */
  synRetries: number;
  synBackoff: SynBackoff;
  /** Linux net.ipv4.tcp_syn_linear_timeouts. */
  synLinearTimeouts: number;
  /** FreeBSD net.inet.tcp.rexmit_slop, added to backed-off RTOs. */
  rexmitSlopMs: number;
  /** Upper bound for any RTO. */
  rtoMaxMs: number;
  /** Lower bound for a computed RTO (RFC 6298 §2.4 says 1 s; Linux uses 200 ms). */
  rtoMinMs: number;
  /** Overall limit on the connection attempt (RFC 1122 R2 for SYNs; FreeBSD TCP_KEEPINIT); 0 = none. */
  connectTimeoutMs: number;
  /** Windows: an acceptable RST in SYN-SENT re-sends the SYN after this delay (0 = refuse at once). */
  rstRetryDelayMs: number;
  icmpPolicy: IcmpPolicy;
  /** Windows TCP_FAIL_CONNECT_ON_ICMP_ERROR: any ICMP error in SYN-SENT fails the connect. */
  failConnectOnIcmpError: boolean;
  /** Ephemeral port range (inclusive), RFC 6056. */
  ephemeralLow: number;
  ephemeralHigh: number;
  ttl: number;
  /** Maximum segment lifetime; TIME-WAIT lasts 2*MSL (RFC 9293 §3.4.2). */
  mslMs: number;
  /** Explicit MSS to advertise (TCP_MAXSEG); 0 = derive from the MTU. */
  mssOverride: number;
  nodelay: boolean;
  /** Delayed-ACK timeout (RFC 9293 §3.8.6.3 / RFC 1122: < 500 ms). */
  delayedAckMs: number;
  /**
   * FreeBSD tcp_mss(): once the MSS is known the receive buffer is rounded up to a multiple
   * of it (capped at 2 MB, kern.ipc.maxsockbuf), which is what the advertised window derives from.
   */
  rcvBufRoundToMss: boolean;
  /**
   * Whether an ICMPv4 fragmentation-needed in SYN-SENT also lowers the MSS option of the
   * retransmitted SYN. FreeBSD keeps advertising the interface MSS on IPv4 (its suite's
   * rcv-icmp-hard-error-ignored-ipv4, README note 4) but follows the route MTU on IPv6.
   */
  pmtuLowersSynMssV4: boolean;
  /**
   * R2 for data (RFC 1122 §4.2.3.5), as a count: the connection gives up with `timedOut`
   * when the retransmission timer expires after this many retransmissions of the same data
   * (or this many unanswered zero-window probes). Windows TcpMaxDataRetransmissions 5,
   * Linux tcp_retries2 15, FreeBSD TCP_MAXRXTSHIFT 12.
   */
  dataRetries: number;
  /** Text / FIN on a crossing SYN in SYN-SENT (see SimOpenSynText). */
  simOpenSynText: SimOpenSynText;
  /**
   * RFC 5961 §3.2 RST checks: only a RST at exactly RCV.NXT resets, another in-window RST
   * gets a challenge ACK. false = RFC 9293 before 5961 (FreeBSD net.inet.tcp.insecure_rst=1):
   * any in-window RST resets.
   */
  rfc5961Rst: boolean;
  /**
   * Receive window for the sequence-number acceptability test (RFC 9293 §3.10.7.4 first
   * step). false: the window we advertise (capped at 65535 << our scale). true: FreeBSD's
   * rcv_wnd = max(free receive buffer, advertised right edge - RCV.NXT), which exceeds the
   * advertisable window when the buffer was rounded up to 65700 without window scaling.
   */
  rcvWndFromBuffer: boolean;
  /** FreeBSD net.inet.tcp.drop_synfin: silently drop segments with both SYN and FIN set. */
  dropSynFin: boolean;
  /**
   * FreeBSD net.inet.tcp.rexmit_drop_options: after this many SYNs with options went
   * unanswered, retransmit the SYN with the MSS option only (no window scale, SACK-permitted,
   * timestamps; FreeBSD drops them when t_rxtshift reaches 3). 0 = never.
   */
  synDropOptionsAfter: number;
  /**
   * After answering an unacceptable SYN-ACK with a RST, re-send the SYN this many ms later
   * if it was not retransmitted yet (0 = wait for the RTO). Linux re-arms its timer to
   * TCP_TIMEOUT_MIN (2 jiffies) there ("previous FIN/ACK or RST/ACK might be ignored"); the
   * kernel recorded in pcaps/v4-synack-bad-ack.pcap (HZ 250) did so after 11 ms.
   */
  badAckSynRetransmitMs: number;
  /** An ABORT sends RST+ACK (<SEQ=SND.NXT><ACK=RCV.NXT>) as Linux, FreeBSD and Windows do, instead of a bare RST. */
  abortRstAck: boolean;
  /**
   * Options of our SYN-ACK in a simultaneous open: "offered" = only what the peer's SYN
   * offered (RFC 7323 §2.2 style, FreeBSD); "own" = our SYN's options again (Linux re-sends
   * its SYN with the ACK bit, tcp_send_synack).
   */
  simOpenSynAckOptions: "offered" | "own";
  /**
   * Minimum interval between ACKs sent in reply to out-of-window segments (RFC 9293
   * §3.10.7.4 "should send an ACK"); Linux limits them (tcp_invalid_ratelimit, 500 ms) so a
   * blind flood cannot turn the stack into an ACK reflector. 0 = no limit.
   */
  oowAckIntervalMs: number;
  /**
   * RFC 5961 §4.2 SYN checks: a SYN in a synchronised state, in the window or not, gets a
   * challenge ACK. false = before RFC 5961 (FreeBSD net.inet.tcp.insecure_syn=1, RFC 793): a
   * SYN with RCV.NXT =< SEG.SEQ < RCV.NXT + RCV.WND resets the connection (RST,ACK and
   * ECONNRESET); one outside the window still gets the challenge ACK.
   */
  rfc5961Syn: boolean;
  /**
   * While our FIN is unacknowledged (FIN-WAIT-1, CLOSING, LAST-ACK) every ACK we send
   * repeats it: <SEQ=FIN's sequence number><CTL=FIN,ACK>. FreeBSD tcp_output() takes the
   * flags from tcp_outflags[state] and backs SND.NXT off by one for an already sent FIN, so
   * even the ACK of the peer's FIN in a simultaneous close reads `F.`. Challenge ACKs
   * (tcp_respond(), RFC 5961) stay bare. false: RFC 9293 §3.10.7.4, a pure ACK.
   */
  repeatFinUntilAcked: boolean;
  /**
   * RFC 1337 §3 (TIME-WAIT assassination, remedy TW2): ignore every RST in TIME-WAIT, so
   * the 2 MSL quarantine cannot be cut short by an old or forged RST. FreeBSD tcp_twcheck()
   * always does; Linux only with net.ipv4.tcp_rfc1337=1 (default 0: an exact RST at RCV.NXT
   * deletes the TIME-WAIT socket, as RFC 9293 §3.10.7.4 says).
   */
  rfc1337: boolean;
  /**
   * Segment processing in TIME-WAIT. "rfc9293": §3.10.7.4 (sequence check first; only a
   * retransmitted FIN is answered). "freebsd": tcp_twcheck(): no window or PAWS check; a
   * segment without ACK is dropped silently; a SYN above RCV.NXT ends the TIME-WAIT and is
   * looked up again (RFC 1122 §4.2.2.13 reuse); every other segment but an exact duplicate
   * ACK (flags ACK only, no text, SEG.SEQ = RCV.NXT, SEG.ACK = SND.NXT) is ACKed; a FIN
   * ending at RCV.NXT restarts the 2 MSL timer.
   */
  timeWaitCheck: "rfc9293" | "freebsd";
  /**
   * Linux quick-ACK mode (tcp_event_data_recv() / tcp_incr_quickack(), TCP_MAX_QUICKACKS
   * 16): the first data a connection receives, and data after a silence longer than the RTO,
   * are ACKed at once, for up to this many ACKs (fewer with a small window:
   * RCV.WND / (2 * receive MSS), at least 2), unless the connection is interactive
   * ("pingpong": we sent data within 40 ms of receiving some, or the peer's FIN moved us to
   * CLOSE-WAIT; the delayed-ACK timer expiring ends it). Linux also delays the ACK of a FIN
   * in ESTABLISHED (tcp_fin() enters pingpong mode). 0 = plain RFC 5681 §4.2 delayed ACKs
   * (every second segment, or the timer) and an immediate ACK of every FIN.
   */
  quickAcks: number;
  /**
   * Zero-window probe form (RFC 9293 §3.8.6.1 leaves it open). "oneByte": one byte of new
   * data beyond the window (RFC 1122 §4.2.2.17; BSD, Windows). "ackBelowUna": Linux
   * tcp_xmit_probe_skb(), an empty ACK with SEG.SEQ = SND.UNA - 1, which the receiver finds
   * unacceptable and answers with an ACK carrying its window (no data is sent into a
   * closed window).
   */
  zeroWindowProbe: "oneByte" | "ackBelowUna";
  /**
   * Linux tcp_set_rto() / tcp_rtt_estimator(): the minimum RTO bounds the variance term,
   * RTO = SRTT + max(4 * RTTVAR, rtoMinMs), rather than the RTO itself (RFC 6298 §2.4:
   * RTO = max(rtoMinMs, SRTT + 4 * RTTVAR)). With a 10 ms path Linux waits 210 ms, not 200.
   */
  rtoMinBoundsVariance: boolean;
  /**
   * A segment wholly left of the window (a duplicate, e.g. the peer's FIN again) still has
   * its ACK field processed before it is dropped and answered with an ACK: BSD tcp_input()
   * "send an ACK to resynchronize and drop any data, but keep on processing for RST or ACK"
   * (Stevens, TCP/IP Illustrated vol. 2, p. 960). In a simultaneous close the peer's
   * retransmitted FIN,ACK acknowledges our FIN and moves CLOSING to TIME-WAIT. false:
   * RFC 9293 §3.10.7.4, an unacceptable segment is answered and dropped, ACK field unread.
   */
  oldSegmentAckProcessed: boolean;
  /**
   * PAWS in SYN-SENT (Linux tcp_rcv_synsent_state_process(), "rfc1323: paws", MIB
   * PAWSACTIVEREJECTED): a SYN-ACK (or RST+ACK) with an acceptable ACK whose TSecr is
   * non-zero and not within [TSval of our first SYN, TSval now] is answered with
   * <SEQ=SEG.ACK><CTL=RST> and otherwise ignored; the SYN schedule goes on. RFC 7323 §5.5
   * leaves the check in SYN-SENT open.
   */
  pawsActiveReject: boolean;
  /**
   * Text and FIN on a SYN-ACK that completes our active open are dropped (Linux without TCP
   * Fast Open: tcp_rcv_state_process() frees the segment after tcp_rcv_synsent_state_process(),
   * "do step6 onward by hand" looks at URG only), so the ACK says IRS+1 and the peer
   * retransmits them. false: RFC 9293 §3.10.7.3, processed from the sixth step on.
   */
  synAckTextIgnored: boolean;
  /**
   * ICMP error acceptance: the quoted sequence number may equal SND.NXT (Linux
   * tcp_v4_err()/tcp_v6_err(): between(seq, snd_una, snd_nxt), both ends included).
   * false: RFC 5927 §4.1, SND.UNA =< SEG.SEQ < SND.NXT.
   */
  icmpQuoteIncludesSndNxt: boolean;
  /**
   * The RST,ACK of an ABORT is built like any other segment (Linux tcp_send_active_reset()
   * goes through tcp_transmit_skb()): timestamps (TS.Recent echoed), SACK blocks when
   * out-of-order data is held, and the current window. false: no options, window 0.
   */
  abortRstOptions: boolean;
  /**
   * Smallest send MSS (Linux net.ipv4.tcp_min_snd_mss, 48): a smaller MSS option is raised
   * to it (tcp_mtu_to_mss()). Non-zero also means Linux's tcp_parse_options() rule that an
   * MSS option of 0 is not taken at all (the default MSS applies, RFC 9293 §3.7.1).
   * 0: the peer's MSS as given (at least 1 byte), RFC 9293.
   */
  minSndMss: number;
  /**
   * Nagle with Minshall's refinement (Linux tcp_nagle_check() / tcp_minshall_check()): a
   * small segment is held only while an earlier small segment is unacknowledged, not while
   * any data is (RFC 896 / RFC 9293 §3.7.4). 100 bytes with MSS 48 go out as 48+48+4 at once
   * (kernel-diff kd-7-0299).
   */
  nagleMinshall: boolean;
  /**
   * ICMPv4 errors Linux drops before TCP sees them: destination unreachable with a code
   * above 15 (tcp_v4_err(): code > NR_ICMP_UNREACH; kd-7-0090) and time exceeded code 1,
   * fragment reassembly (icmp_unreach(): ICMP_EXC_FRAGTIME; kd-7-0285). false: every
   * error of contract §4 is mapped (icmp-policy.ts).
   */
  icmpV4LinuxFilter: boolean;
  /**
   * What a RST in SYN-RECEIVED reached by a simultaneous open reports. "refused": RFC 9293
   * §3.10.7.4 ("the connection was refused"). "reset": Linux tcp_reset() gives ECONNREFUSED
   * in SYN-SENT only, ECONNRESET in SYN-RECV (kernel-diff kd-7-0142).
   */
  simOpenRstOutcome: "refused" | "reset";
}

const common = {
  noOptions: false,
  rtoMaxMs: 120_000,
  rexmitSlopMs: 0,
  connectTimeoutMs: 0,
  rstRetryDelayMs: 0,
  failConnectOnIcmpError: false,
  mssOverride: 0,
  nodelay: false,
  synLinearTimeouts: 0,
  sack: true,
  windowScaling: true,
  rcvBufRoundToMss: false,
  pmtuLowersSynMssV4: true,
  rfc5961Rst: true,
  rcvWndFromBuffer: false,
  dropSynFin: false,
  synDropOptionsAfter: 0,
  badAckSynRetransmitMs: 0,
  abortRstAck: true,
  simOpenSynAckOptions: "offered",
  oowAckIntervalMs: 0,
  rfc5961Syn: true,
  repeatFinUntilAcked: false,
  rfc1337: false,
  timeWaitCheck: "rfc9293",
  quickAcks: 0,
  zeroWindowProbe: "oneByte",
  rtoMinBoundsVariance: false,
  oldSegmentAckProcessed: false,
  pawsActiveReject: false,
  synAckTextIgnored: false,
  icmpQuoteIncludesSndNxt: false,
  abortRstOptions: false,
  minSndMss: 0,
  nagleMinshall: false,
  icmpV4LinuxFilter: false,
  simOpenRstOutcome: "refused",
} as const;

export const PROFILES: Readonly<Record<ProfileName, Readonly<Profile>>> = {
  windows: {
    ...common,
    name: "windows",
    synOptionLayoutText: "mss,nop,wscale,nop,nop,sackOK",
    optionLayout: "windows",
    timestamps: false,
    windowScale: 8,
    synWindow: 64240,
    rcvBufBytes: 65536 * 4,
    // Vista+ defaults: TcpInitialRTT 3 s, TcpMaxConnectRetransmissions 2: SYNs at 0, 3, 9 s, fail at 21 s.
    initialRtoMs: 3000,
    synRetries: 2,
    synBackoff: "doubling",
    rtoMinMs: 300,
    rtoMaxMs: 60_000,
    rstRetryDelayMs: 500,
    icmpPolicy: "ignore",
    ephemeralLow: 49152,
    ephemeralHigh: 65535,
    ttl: 128,
    mslMs: 120_000,
    delayedAckMs: 200,
    dataRetries: 5,
    // Not observed on Windows; follows RFC 9293 §3.10.7.3.
    simOpenSynText: "queue",
  },
  linux: {
    ...common,
    name: "linux",
    synOptionLayoutText: "mss,sackOK,TS,nop,wscale",
    optionLayout: "linux",
    timestamps: true,
    windowScale: 7,
    synWindow: 64240,
    rcvBufBytes: 131072,
    initialRtoMs: 1000,
    // Linux 6.x: tcp_syn_retries 6 plus tcp_syn_linear_timeouts 4.
    synRetries: 6,
    synBackoff: "linux",
    synLinearTimeouts: 4,
    rtoMinMs: 200,
    icmpPolicy: "abort",
    ephemeralLow: 32768,
    ephemeralHigh: 60999,
    ttl: 64,
    mslMs: 30_000, // TIME-WAIT is 60 s on Linux (TCP_TIMEWAIT_LEN)
    delayedAckMs: 40,
    dataRetries: 15,
    badAckSynRetransmitMs: 8, // TCP_TIMEOUT_MIN = 2 jiffies at HZ 250
    simOpenSynAckOptions: "own",
    oowAckIntervalMs: 500,
    simOpenSynText: "discard",
    // net.ipv4.tcp_rfc1337 defaults to 0: Linux lets an exact RST end TIME-WAIT.
    rfc1337: false,
    quickAcks: 16, // TCP_MAX_QUICKACKS
    zeroWindowProbe: "ackBelowUna",
    rtoMinBoundsVariance: true,
    pawsActiveReject: true,
    synAckTextIgnored: true,
    icmpQuoteIncludesSndNxt: true,
    abortRstOptions: true,
    minSndMss: 48,
    nagleMinshall: true,
    icmpV4LinuxFilter: true,
    simOpenRstOutcome: "reset",
  },
  freebsd: {
    ...common,
    name: "freebsd",
    synOptionLayoutText: "mss,nop,wscale,sackOK,TS",
    optionLayout: "freebsd",
    timestamps: true,
    windowScale: 6,
    synWindow: 65535,
    rcvBufBytes: 65536,
    initialRtoMs: 1000,
    synRetries: 12,
    synBackoff: "freebsd",
    rexmitSlopMs: 200,
    rtoMinMs: 30,
    rtoMaxMs: 64_000,
    // net.inet.tcp.keepinit default 75 s.
    connectTimeoutMs: 75_000,
    rcvBufRoundToMss: true,
    pmtuLowersSynMssV4: false,
    icmpPolicy: "hardAbort",
    ephemeralLow: 49152,
    ephemeralHigh: 65535,
    ttl: 64,
    mslMs: 30_000,
    delayedAckMs: 40,
    dataRetries: 12,
    // rcv-syn-with-data-syn-sent / rcv-syn-fin-with-data-syn-sent (README note 2): the data
    // is delivered and acknowledged after the handshake, the FIN is not.
    simOpenSynText: "queueData",
    // tcp_input(): the RST window test uses rcv_wnd (receive buffer space, 65700 after
    // tcp_mss() rounding), not the 65535 the window field can carry.
    rcvWndFromBuffer: true,
    // tcp_output() repeats an unacknowledged FIN; tcp_twcheck() handles TIME-WAIT, dropping
    // every RST (RFC 1337 §3).
    repeatFinUntilAcked: true,
    rfc1337: true,
    timeWaitCheck: "freebsd",
    oldSegmentAckProcessed: true,
  },
  rfc: {
    ...common,
    name: "rfc",
    abortRstAck: false, // RFC 9293 §3.10.5: <SEQ=SND.NXT><CTL=RST>
    synOptionLayoutText: "mss,nop,wscale,sackOK,TS",
    optionLayout: "rfc",
    timestamps: true,
    windowScale: 7,
    synWindow: 65535,
    rcvBufBytes: 131072,
    initialRtoMs: 1000, // RFC 6298 §2.1
    synRetries: 1000, // bounded by the R2 timer below, not by a count
    synBackoff: "doubling",
    rtoMinMs: 1000, // RFC 6298 §2.4
    // RFC 1122 §4.2.3.5: R2 for a SYN MUST allow at least 3 minutes.
    connectTimeoutMs: 180_000,
    icmpPolicy: "hardAbortSoftRemember",
    ephemeralLow: 49152,
    ephemeralHigh: 65535,
    ttl: 64,
    mslMs: 120_000, // RFC 9293 §3.4.2: MSL 2 minutes
    delayedAckMs: 200,
    // RFC 1122 §4.2.3.5: R2 at least 100 s; with a 1 s minimum RTO doubling, 8 retransmissions
    // wait at least 1+2+...+128 = 255 s before the final expiry.
    dataRetries: 8,
    simOpenSynText: "queue",
  },
};

export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

export function isProfileName(s: string): s is ProfileName {
  return Object.prototype.hasOwnProperty.call(PROFILES, s);
}

export type ProfileOverrides = Partial<Omit<Profile, "name">>;

/** A profile with per-connection overrides applied (a fresh object). */
export function resolveProfile(base: ProfileName | Profile, overrides?: ProfileOverrides): Profile {
  const p = typeof base === "string" ? PROFILES[base] : base;
  return { ...p, ...(overrides ?? {}) };
}

/**
 * The retransmission timeout that follows SYN number `k` (k = 0 for the first SYN): the
 * time from sending SYN k until the next SYN, or until give-up after the last one.
 */
export function synRtoMs(p: Profile, k: number, initialRtoMs = p.initialRtoMs): number {
  let rto: number;
  switch (p.synBackoff) {
    case "doubling":
      // RFC 6298 §5.5: RTO <- 2 * RTO on each expiry.
      rto = initialRtoMs * 2 ** k;
      break;
    case "linux":
      // tcp_syn_linear_timeouts: the first N+1 waits stay at the initial RTO, then doubling
      // resumes (net/ipv4/tcp_timer.c; SYNs at 0,1,2,3,4,5,7,11,19,35,67 s with N = 4).
      rto = k <= p.synLinearTimeouts ? initialRtoMs : initialRtoMs * 2 ** (k - p.synLinearTimeouts);
      break;
    case "freebsd":
      // FreeBSD: the first SYN waits t_rxtcur = rexmit_initial; later waits are
      // TCP_REXMTVAL * tcp_backoff[shift] + rexmit_slop (TCPT_RANGESET), capped at REXMTMAX.
      rto = k === 0 ? initialRtoMs : initialRtoMs * 2 ** k + p.rexmitSlopMs;
      break;
  }
  return Math.min(rto, p.rtoMaxMs);
}

/**
 * Linux tcp_write_timeout() in SYN-SENT: besides the count, the attempt also expires at the
 * first timer expiry (after at least one retransmission) once now - first SYN reaches
 * tcp_model_timeout(tcp_syn_retries, initial RTO): the time the classic doubling schedule
 * would take, (2^(retries+1) - 1) * RTO, linear beyond TCP_RTO_MAX. With
 * tcp_syn_linear_timeouts this ends the attempt before the count does (retries 2, linear 4:
 * 7 s, not 11 s; kernel-diff kd-7-0001). Infinity for the other backoffs (count only).
 */
export function synModelTimeoutMs(p: Profile, initialRtoMs = p.initialRtoMs): number {
  if (p.synBackoff !== "linux") return Infinity;
  const boundary = Math.max(0, p.synRetries);
  const thresh = Math.floor(Math.log2(p.rtoMaxMs / initialRtoMs));
  if (boundary <= thresh) return (2 ** (boundary + 1) - 1) * initialRtoMs;
  return (2 ** (thresh + 1) - 1) * initialRtoMs + (boundary - thresh) * p.rtoMaxMs;
}

/**
 * The timeout after SYN-ACK number `k` (k = 0 for the first). Linux applies
 * tcp_syn_linear_timeouts in SYN-SENT only (tcp_retransmit_timer()): a SYN-ACK, also the
 * one after a simultaneous open, backs off by plain doubling (kernel-diff kd-7-0138:
 * SYN-ACKs at 0.8, 1025, 3041 ms). Other backoffs: as for the SYN.
 */
export function synAckRtoMs(p: Profile, k: number, initialRtoMs = p.initialRtoMs): number {
  if (p.synBackoff !== "linux") return synRtoMs(p, k, initialRtoMs);
  return Math.min(initialRtoMs * 2 ** k, p.rtoMaxMs);
}

/** Total SYN transmissions allowed (first SYN plus retransmissions). */
export function synAttempts(p: Profile): number {
  const retries = p.synBackoff === "linux" ? p.synRetries + p.synLinearTimeouts : p.synRetries;
  return 1 + Math.max(0, retries);
}
