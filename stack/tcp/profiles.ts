// Behaviour profiles: how each operating system's TCP behaves, as plain data. A profile is
// a set of policies (the named choices a step of the RFCs asks, described in the file that
// holds the step; policies.ts lists them) and knobs (the values those choices and the RFC
// machinery read, described in KNOBS below). Every field can be overridden per connection:
// `resolveProfile(base, overrides)` (WSK socket options, the CLI's --syn-retries and
// --initial-rto, the conformance runner's sysctls). docs/profiles.md is the table of all of
// it, generated from this file and the policies (`npm run docs:profiles`).
export type ProfileName = "windows" | "windows7" | "linux" | "freebsd" | "rfc";

/**
 * The policies: one named choice each, at a step where the operating systems depart from the
 * RFCs. Each is described, and implemented, in the file of the step it changes
 * (policies.ts lists them, with the file).
 */
export interface ProfilePolicies {
  optionLayout: "windows" | "linux" | "freebsd" | "rfc";
  badOptions: "drop" | "tolerate" | "linux";
  synWindowRule: "fixed" | "windows" | "linux";
  synBackoff: "doubling" | "linux" | "freebsd" | "windows";
  lastSynWscale: "keep" | "drop";
  synSentBadAck: "rst" | "rstAndResendSyn";
  synSentPaws: "none" | "reject";
  synSentRst: "refuse" | "retrySyn";
  synAckText: "accept" | "ignore";
  simOpenSynText: "queue" | "queueData" | "discard";
  simOpenSynAckOptions: "offered" | "own";
  simOpenRstOutcome: "refused" | "reset";
  simOpenSynAckAck: "none" | "dupAck";
  simOpenWscale: "rfc7323" | "linux";
  dataAfterClose: "deliver" | "abort";
  finWait2Closed: "rfc9293" | "linux";
  tsRecentUpdate: "rfc7323" | "notAckAhead";
  peerMss: "rfc9293" | "linux" | "freebsd" | "windows";
  rcvBufRounding: "none" | "mss";
  synFin: "process" | "drop";
  timeWait: "rfc9293" | "rfc1337" | "freebsd";
  synCheck: "rfc5961" | "rfc793";
  rstCheck: "rfc5961" | "rfc793";
  acceptWindow: "advertised" | "receiveBuffer";
  oldSegment: "rfc9293" | "bsd";
  oowAck: "always" | "rateLimited";
  challengeAck: "rfc5961" | "linux";
  ackPolicy: "delayed" | "quickAck";
  finRepeat: "pureAck" | "repeatFin";
  sackReport: "rfc2018" | "freebsd";
  windowUpdate: "halfWindow" | "freebsd";
  nagle: "rfc896" | "minshall";
  sackOnData: "pureAcks" | "every";
  zeroWindowProbe: "oneByte" | "ackBelowUna";
  rtoFormula: "rfc6298" | "linux";
  handshakeRtt: "karn" | "linux";
  rttSample: "rfc7323" | "linux";
  tailLossProbe: "none" | "linux";
  abortRst: "rst" | "rstAck" | "rstAckFull";
  icmpPolicy: "ignore" | "abort" | "hardAbort" | "hardAbortSoftRemember";
  icmpQuote: "rfc5927" | "linux";
  icmpV4Filter: "none" | "linux";
  pmtuSynMss: "lower" | "keepOnIpv4" | "keepOnIpv6";
  listenSynAck: "rst" | "drop";
  synAckOptions: "offered" | "windows";
  synAckWindowRounding: "none" | "linux";
  acceptQueueFull: "dropSyn" | "rstFinalAck" | "rstSyn";
  halfOpenFull: "dropOldest" | "linux" | "freebsd";
  timerWheel: "exact" | "linux";
}

/** The knobs: values the RFC machinery and the policies read (each described in KNOBS). */
export interface ProfileKnobs {
  name: ProfileName;
  synOptionLayoutText: string;
  timestamps: boolean;
  windowScaling: boolean;
  windowScale: number;
  sack: boolean;
  noOptions: boolean;
  synWindow: number;
  synAckWindow: number;
  rcvBufBytes: number;
  mssOverride: number;
  initialRtoMs: number;
  synRetries: number;
  synRetriesLimit: number;
  synGiveUpMs: number;
  synAckRetries: number;
  halfOpenLimit: number;
  synLinearTimeouts: number;
  rexmitSlopMs: number;
  rtoMinMs: number;
  rtoMaxMs: number;
  connectTimeoutMs: number;
  synDropOptionsAfter: number;
  badAckSynRetransmitMs: number;
  rstRetryDelayMs: number;
  minSndMss: number;
  minPathMtuV4: number;
  ptbBelowMinIgnored: boolean;
  badOptionDropBytes: number;
  dataRetries: number;
  mslMs: number;
  delayedAckMs: number;
  quickAcks: number;
  oowAckIntervalMs: number;
  nodelay: boolean;
  failConnectOnIcmpError: boolean;
  ephemeralLow: number;
  ephemeralHigh: number;
  ttl: number;
  hz: number;
  jiffiesOffsetMs: number;
}

export interface Profile extends ProfilePolicies, ProfileKnobs {}

export type OptionLayout = Profile["optionLayout"];

export type KnobField = keyof ProfileKnobs;

/** A knob's description: what it is, and where its values come from. */
export interface Knob {
  meaning: string;
  source: string;
}

/** What each knob is, and where its values come from. */
export const KNOBS: { readonly [F in KnobField]: Knob } = {
  name: { meaning: "the profile's name", source: "-" },
  synOptionLayoutText: { meaning: "the SYN's options in order, as text", source: "captures of each OS's SYN" },
  timestamps: { meaning: "offer (and use, if the peer does) the timestamps option", source: "RFC 7323 §3" },
  windowScaling: { meaning: "offer (and use, if the peer does) window scaling", source: "RFC 7323 §2" },
  windowScale: { meaning: "our window-scale shift (at most 14)", source: "RFC 7323 §2.3; each OS's receive buffer sizing" },
  sack: { meaning: "offer (and use, if the peer does) SACK", source: "RFC 2018 §2" },
  noOptions: { meaning: "a SYN without any option (TCP_NOOPT)", source: "FreeBSD TCP_NOOPT" },
  synWindow: { meaning: "the window field of our SYN (and of the SYN-ACK after a simultaneous open; never scaled)", source: "RFC 7323 §2.2; captures" },
  synAckWindow: { meaning: "the window field of a passive open's SYN-ACK (synAckWindowRounding \"none\")", source: "captures of each OS's SYN-ACK (docs/profiles.md notes)" },
  rcvBufBytes: { meaning: "receive buffer in bytes; the advertised window after the handshake derives from it", source: "each OS's default (SO_RCVBUF, tcp_rmem)" },
  mssOverride: { meaning: "the MSS to advertise (TCP_MAXSEG); 0 = MTU - IP header - 20", source: "RFC 9293 §3.7.1" },
  initialRtoMs: { meaning: "the first retransmission timeout (SYN and data until an RTT is measured)", source: "RFC 6298 §2.1; Windows TcpInitialRTT, Linux TCP_TIMEOUT_INIT, FreeBSD rexmit_initial" },
  synRetries: { meaning: "SYN retransmissions after the first SYN", source: "Linux tcp_syn_retries, Windows MaxSynRetransmissions (Get-NetTCPSetting), FreeBSD TCP_MAXRXTSHIFT" },
  synRetriesLimit: {
    meaning: "the largest SYN retransmission count a socket may ask for (SIO_TCP_INITIAL_RTO MaxSynRetransmissions, --syn-retries); more is rejected",
    source: "Windows: 8 accepted, 10 rejected (\"the parameter is incorrect\") on current runners; Linux MAX_TCP_SYNCNT 127; FreeBSD TCP_MAXRXTSHIFT 12",
  },
  synGiveUpMs: { meaning: "synBackoff \"windows\": the latest give-up, counted from the first SYN, when the last SYN went out before it (0 = none)", source: "measured Windows give-ups (docs/decisions.md, \"Windows SYN schedule\")" },
  synAckRetries: {
    meaning: "SYN-ACK retransmissions of a passive open before the half-open connection is dropped silently (the SYN-ACK schedule: synBackoff)",
    source: "Linux net.ipv4.tcp_synack_retries 5; FreeBSD net.inet.tcp.syncache.rexmtlimit 3 (SYNCACHE_MAXREXMTS); Windows TcpMaxConnectResponseRetransmissions 2",
  },
  halfOpenLimit: {
    meaning: "SYN-RECEIVED connections one listener holds (halfOpenFull)",
    source: "Linux: the listen backlog (inet_csk_reqsk_queue_is_full(), somaxconn 4096); FreeBSD net.inet.tcp.syncache.cachelimit 15360 (512 buckets of 30); Windows TcpMaxHalfOpen 500 (Server 2003)",
  },
  synLinearTimeouts: { meaning: "SYN retransmissions at the initial RTO before doubling (synBackoff \"linux\")", source: "Linux net.ipv4.tcp_syn_linear_timeouts" },
  rexmitSlopMs: { meaning: "added to backed-off SYN timeouts (synBackoff \"freebsd\")", source: "FreeBSD net.inet.tcp.rexmit_slop" },
  rtoMinMs: { meaning: "lower bound of a computed RTO", source: "RFC 6298 §2.4 (1 s); Linux TCP_RTO_MIN 200 ms; FreeBSD rexmit_min" },
  rtoMaxMs: { meaning: "upper bound of any RTO", source: "RFC 6298 §2.5; Linux TCP_RTO_MAX, FreeBSD TCPTV_REXMTMAX" },
  connectTimeoutMs: { meaning: "limit on the whole connection attempt (0 = none)", source: "RFC 1122 §4.2.3.5 R2 for SYNs; FreeBSD TCP_KEEPINIT" },
  synDropOptionsAfter: { meaning: "after this many unanswered SYNs, retransmit the SYN with the MSS option only (0 = never)", source: "FreeBSD net.inet.tcp.rexmit_drop_options" },
  badAckSynRetransmitMs: { meaning: "delay of the early SYN retransmission after an unacceptable SYN-ACK (synSentBadAck \"rstAndResendSyn\")", source: "Linux TCP_TIMEOUT_MIN (2 jiffies; 11 ms at HZ 250 in pcaps/v4-synack-bad-ack.pcap)" },
  rstRetryDelayMs: { meaning: "delay of the SYN after an acceptable RST arrived (synSentRst \"retrySyn\")", source: "Windows (measured 499-528 ms after the RST; 500 ms in libuv, Go, OpenJDK)" },
  minSndMss: { meaning: "smallest send MSS (peerMss \"linux\", \"freebsd\")", source: "Linux net.ipv4.tcp_min_snd_mss (48), FreeBSD net.inet.tcp.minmss (216)" },
  minPathMtuV4: {
    meaning: "lowest path MTU an ICMPv4 fragmentation-needed can set (a lower reported MTU is raised to it)",
    source: "RFC 1191 §3 (68); Linux net.ipv4.route.min_pmtu 552 (__ip_rt_update_pmtu()); FreeBSD tcp_ctlinput(): net.inet.tcp.minmss 216 + 40; Windows: 576, RFC 791's datagram every host accepts (Windows' own floor is not documented)",
  },
  ptbBelowMinIgnored: {
    meaning: "an ICMPv6 packet-too-big below 1280 is ignored (false: the path MTU is set to 1280)",
    source: "Linux tcp_v6_err() (mtu < IPV6_MIN_MTU: goto out); RFC 8201 §4 (never below 1280)",
  },
  badOptionDropBytes: { meaning: "an unreadable option starting with at least this much option space left drops the segment (badOptions \"linux\")", source: "Linux tcp_do_parse_auth_options(): TCPOLEN_MD5SIG 18 (CONFIG_TCP_MD5SIG), 5 with CONFIG_TCP_AO" },
  dataRetries: { meaning: "retransmissions of the same data (or unanswered zero-window probes) before giving up", source: "RFC 1122 §4.2.3.5 R2; Windows TcpMaxDataRetransmissions, Linux tcp_retries2, FreeBSD TCP_MAXRXTSHIFT" },
  mslMs: { meaning: "maximum segment lifetime; TIME-WAIT lasts 2 MSL", source: "RFC 9293 §3.4.2; Linux TCP_TIMEWAIT_LEN 60 s" },
  delayedAckMs: { meaning: "delayed-ACK timeout", source: "RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2 (< 500 ms); Linux TCP_DELACK_MIN 40 ms" },
  quickAcks: { meaning: "most quick ACKs in a row (ackPolicy \"quickAck\")", source: "Linux TCP_MAX_QUICKACKS" },
  oowAckIntervalMs: { meaning: "least time between ACKs answering out-of-window segments (oowAck \"rateLimited\", challengeAck \"linux\")", source: "Linux net.ipv4.tcp_invalid_ratelimit" },
  nodelay: { meaning: "Nagle off (TCP_NODELAY)", source: "RFC 9293 §3.7.4" },
  failConnectOnIcmpError: { meaning: "any ICMP error while connecting fails the connect", source: "Windows TCP_FAIL_CONNECT_ON_ICMP_ERROR" },
  ephemeralLow: { meaning: "lowest ephemeral port", source: "RFC 6056; IANA 49152 (Windows, FreeBSD), Linux ip_local_port_range" },
  ephemeralHigh: { meaning: "highest ephemeral port", source: "RFC 6056" },
  ttl: { meaning: "IP TTL / hop limit of our packets", source: "each OS's default" },
  hz: { meaning: "timer ticks per second of the modelled kernel (timerWheel \"linux\")", source: "Linux CONFIG_HZ (250 on the kernel-diff machine: /proc/config.gz)" },
  jiffiesOffsetMs: { meaning: "where the modelled kernel's jiffies ticks fall on the connection's clock: jiffies = floor((now + offset) * hz / 1000); the replay infers it from a capture", source: "the kernel's jiffies counter at the connect (not observable directly)" },
};

/** The choices and values all profiles share unless they say otherwise. */
const common = {
  // Policies: the RFC's behaviour.
  badOptions: "drop",
  synWindowRule: "fixed",
  lastSynWscale: "keep",
  synSentBadAck: "rst",
  synSentPaws: "none",
  synSentRst: "refuse",
  synAckText: "accept",
  simOpenSynAckOptions: "offered",
  simOpenRstOutcome: "refused",
  simOpenSynAckAck: "none",
  simOpenWscale: "rfc7323",
  dataAfterClose: "deliver",
  finWait2Closed: "rfc9293",
  tsRecentUpdate: "rfc7323",
  peerMss: "rfc9293",
  rcvBufRounding: "none",
  synFin: "process",
  timeWait: "rfc9293",
  synCheck: "rfc5961",
  rstCheck: "rfc5961",
  acceptWindow: "advertised",
  oldSegment: "rfc9293",
  oowAck: "always",
  challengeAck: "rfc5961",
  ackPolicy: "delayed",
  finRepeat: "pureAck",
  sackReport: "rfc2018",
  windowUpdate: "halfWindow",
  nagle: "rfc896",
  sackOnData: "pureAcks",
  zeroWindowProbe: "oneByte",
  rtoFormula: "rfc6298",
  handshakeRtt: "karn",
  rttSample: "rfc7323",
  tailLossProbe: "none",
  abortRst: "rstAck",
  icmpQuote: "rfc5927",
  icmpV4Filter: "none",
  pmtuSynMss: "lower",
  listenSynAck: "rst",
  synAckOptions: "offered",
  synAckWindowRounding: "none",
  acceptQueueFull: "rstSyn",
  halfOpenFull: "dropOldest",
  timerWheel: "exact",
  // Knobs
  noOptions: false,
  sack: true,
  windowScaling: true,
  mssOverride: 0,
  synLinearTimeouts: 0,
  synGiveUpMs: 0,
  rexmitSlopMs: 0,
  rtoMaxMs: 120_000,
  connectTimeoutMs: 0,
  synDropOptionsAfter: 0,
  badAckSynRetransmitMs: 0,
  rstRetryDelayMs: 0,
  minSndMss: 0,
  minPathMtuV4: 576,
  ptbBelowMinIgnored: false,
  badOptionDropBytes: 0,
  quickAcks: 0,
  oowAckIntervalMs: 0,
  nodelay: false,
  failConnectOnIcmpError: false,
  hz: 1000,
  jiffiesOffsetMs: 0,
} as const;

/** Windows 10 22H2 / 11 / Server 2022, the OS the WSK facade imitates (docs/decisions.md). */
const windows = {
  ...common,
  name: "windows",
  synOptionLayoutText: "mss,nop,wscale,nop,nop,sackOK",
  optionLayout: "windows",
  timestamps: false,
  windowScale: 8,
  // 64240 at MSS 1460; 65535 on a loopback-sized MTU (synWindowRule "windows").
  synWindowRule: "windows",
  synWindow: 64240,
  // pcaps/tcp-handshake-nano.pcap (an Azure server) and p0f's Windows 7/8 SYN-ACK: 8192.
  synAckWindow: 8192,
  synAckOptions: "windows",
  rcvBufBytes: 65536 * 4,
  // Get-NetTCPSetting InitialRto 1000, MaxSynRetransmissions 4: SYNs at 0, 1, 3, 7, 15 s,
  // STATUS_IO_TIMEOUT at 21 s (synGiveUpMs); each wait doubles, capped at 60 s.
  initialRtoMs: 1000,
  synRetries: 4,
  synRetriesLimit: 8,
  synBackoff: "windows",
  synGiveUpMs: 21_000,
  // TcpMaxConnectResponseRetransmissions 2: SYN-ACKs at 0, 1, 3 s (the SYN's doubling from
  // the initial RTO); the half-open connection is dropped at 7 s.
  synAckRetries: 2,
  halfOpenLimit: 500,
  rtoMinMs: 300,
  rtoMaxMs: 60_000,
  // An acceptable RST re-sends the SYN 500 ms after it arrived, up to the SYN retransmission
  // count: a closed port is refused after about 2 s, 5 SYNs.
  synSentRst: "retrySyn",
  rstRetryDelayMs: 500,
  // An MSS option below 536 (IPv6 1220) is raised to it.
  peerMss: "windows",
  icmpPolicy: "ignore",
  ephemeralLow: 49152,
  ephemeralHigh: 65535,
  ttl: 128,
  mslMs: 120_000,
  delayedAckMs: 200,
  dataRetries: 5,
  // Not observed on Windows; follows RFC 9293 §3.10.7.3.
  simOpenSynText: "queue",
} as const satisfies Profile;

export const PROFILES: Readonly<Record<ProfileName, Readonly<Profile>>> = {
  windows,
  // Windows 7 (and Windows 10 before the 1 s initial RTO): TcpInitialRTT 3 s,
  // TcpMaxConnectRetransmissions 2: SYNs at 0, 3, 9 s, STATUS_IO_TIMEOUT at 21 s; the SYN
  // window is 8192 and the last SYN goes without the window-scale option.
  windows7: {
    ...windows,
    name: "windows7",
    windowScale: 2,
    synWindowRule: "fixed",
    synWindow: 8192,
    rcvBufBytes: 65536,
    initialRtoMs: 3000,
    synRetries: 2,
    lastSynWscale: "drop",
  },
  linux: {
    ...common,
    name: "linux",
    synOptionLayoutText: "mss,sackOK,TS,nop,wscale",
    optionLayout: "linux",
    // This kernel: CONFIG_TCP_MD5SIG=y, CONFIG_TCP_AO unset (/proc/config.gz).
    badOptions: "linux",
    badOptionDropBytes: 18,
    timestamps: true,
    windowScale: 7,
    // tcp_select_initial_window(): 64240 at MSS 1460, 64800 at 1440 (IPv6).
    synWindowRule: "linux",
    synWindow: 64240,
    synAckWindow: 65535,
    synAckWindowRounding: "linux",
    rcvBufBytes: 131072,
    initialRtoMs: 1000,
    // SYN-ACKs at 0, 1, 3, 7, 15, 31 s (plain doubling); dropped at 63 s.
    synAckRetries: 5,
    halfOpenLimit: 4096,
    // net.ipv4.tcp_syncookies 1: SYN cookies once the SYN queue is full.
    halfOpenFull: "linux",
    acceptQueueFull: "dropSyn",
    // Linux 6.x: tcp_syn_retries 6 plus tcp_syn_linear_timeouts 4.
    synRetries: 6,
    synRetriesLimit: 127, // MAX_TCP_SYNCNT
    synBackoff: "linux",
    synLinearTimeouts: 4,
    rtoMinMs: 200,
    icmpPolicy: "abort",
    icmpQuote: "linux",
    icmpV4Filter: "linux",
    ephemeralLow: 32768,
    ephemeralHigh: 60999,
    ttl: 64,
    mslMs: 30_000, // TIME-WAIT is 60 s on Linux (TCP_TIMEWAIT_LEN)
    delayedAckMs: 40,
    dataRetries: 15,
    synSentBadAck: "rstAndResendSyn",
    badAckSynRetransmitMs: 8, // TCP_TIMEOUT_MIN = 2 jiffies at HZ 250
    synSentPaws: "reject",
    synAckText: "ignore",
    simOpenSynText: "discard",
    simOpenSynAckOptions: "own",
    simOpenRstOutcome: "reset",
    simOpenSynAckAck: "dupAck",
    simOpenWscale: "linux",
    dataAfterClose: "abort",
    finWait2Closed: "linux",
    tsRecentUpdate: "notAckAhead",
    pmtuSynMss: "keepOnIpv6",
    peerMss: "linux",
    minSndMss: 48,
    minPathMtuV4: 552, // net.ipv4.route.min_pmtu
    ptbBelowMinIgnored: true,
    // net.ipv4.tcp_rfc1337 defaults to 0: an exact RST ends TIME-WAIT.
    timeWait: "rfc9293",
    oowAck: "rateLimited",
    challengeAck: "linux",
    oowAckIntervalMs: 500,
    ackPolicy: "quickAck",
    quickAcks: 16, // TCP_MAX_QUICKACKS
    nagle: "minshall",
    sackOnData: "every",
    zeroWindowProbe: "ackBelowUna",
    rtoFormula: "linux",
    handshakeRtt: "linux",
    rttSample: "linux",
    tailLossProbe: "linux",
    abortRst: "rstAckFull",
    // kernel/time/timer.c at CONFIG_HZ 250 (the kernel-diff machine's kernel).
    timerWheel: "linux",
    hz: 250,
  },
  freebsd: {
    ...common,
    name: "freebsd",
    synOptionLayoutText: "mss,nop,wscale,sackOK,TS",
    optionLayout: "freebsd",
    badOptions: "tolerate",
    timestamps: true,
    windowScale: 6,
    synWindow: 65535,
    synAckWindow: 65535,
    rcvBufBytes: 65536,
    initialRtoMs: 1000,
    synRetries: 12,
    synRetriesLimit: 12, // TCP_MAXRXTSHIFT
    // syncache_timeout(): SYN-ACKs at 0, 1.0, 3.2, 7.4 s; dropped at 15.6 s.
    synAckRetries: 3,
    halfOpenLimit: 15360,
    // net.inet.tcp.syncookies 1: every SYN-ACK carries a cookie; the syncache overflows to them.
    halfOpenFull: "freebsd",
    listenSynAck: "drop",
    acceptQueueFull: "rstFinalAck",
    synBackoff: "freebsd",
    rexmitSlopMs: 200,
    rtoMinMs: 30,
    rtoMaxMs: 64_000,
    // net.inet.tcp.keepinit default 75 s.
    connectTimeoutMs: 75_000,
    rcvBufRounding: "mss",
    // tcp_mss_update(): an MSS option of 0 is absent, a smaller one raised to net.inet.tcp.minmss.
    peerMss: "freebsd",
    minSndMss: 216, // TCP_MINMSS
    minPathMtuV4: 256, // tcp_ctlinput(): V_tcp_minmss + sizeof(struct tcpiphdr)
    pmtuSynMss: "keepOnIpv4",
    icmpPolicy: "hardAbort",
    ephemeralLow: 49152,
    ephemeralHigh: 65535,
    ttl: 64,
    mslMs: 30_000,
    delayedAckMs: 40,
    dataRetries: 12,
    // The freebsd suite's rcv-syn-with-data-syn-sent / rcv-syn-fin-with-data-syn-sent: the
    // data is delivered and acknowledged after the handshake, the FIN is not.
    simOpenSynText: "queueData",
    // tcp_input(): the RST window test uses rcv_wnd (receive buffer space, 65700 after
    // tcp_mss() rounding), not the 65535 the window field can carry.
    acceptWindow: "receiveBuffer",
    // tcp_output() repeats an unacknowledged FIN; tcp_twcheck() handles TIME-WAIT, dropping
    // every RST (RFC 1337 §3).
    finRepeat: "repeatFin",
    sackReport: "freebsd",
    windowUpdate: "freebsd",
    timeWait: "freebsd",
    oldSegment: "bsd",
  },
  rfc: {
    ...common,
    name: "rfc",
    synOptionLayoutText: "mss,nop,wscale,sackOK,TS",
    optionLayout: "rfc",
    timestamps: true,
    windowScale: 7,
    synWindow: 65535,
    synAckWindow: 65535,
    rcvBufBytes: 131072,
    initialRtoMs: 1000, // RFC 6298 §2.1
    synRetries: 1000, // bounded by the R2 timer below, not by a count
    synRetriesLimit: 1000,
    synAckRetries: 1000, // likewise
    halfOpenLimit: 1024,
    synBackoff: "doubling",
    rtoMinMs: 1000, // RFC 6298 §2.4
    // RFC 1122 §4.2.3.5: R2 for a SYN MUST allow at least 3 minutes.
    connectTimeoutMs: 180_000,
    abortRst: "rst", // RFC 9293 §3.10.5: <SEQ=SND.NXT><CTL=RST>
    icmpPolicy: "hardAbortSoftRemember",
    minPathMtuV4: 68, // RFC 1191 §3
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
