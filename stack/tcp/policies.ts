// Every policy, in the order a connection meets them (docs/profiles.md follows it), with the
// file that describes and implements it: the file of the step the policy changes.
import { abortRstPolicy } from "./connection.js";
import { acceptWindowPolicy, oldSegmentPolicy, rstCheckPolicy, simOpenRstOutcomePolicy, simOpenSynAckAckPolicy, dataAfterClosePolicy, finWait2ClosedPolicy, tsRecentUpdatePolicy, synCheckPolicy, synFinPolicy, timeWaitPolicy } from "./arrival.js";
import { handshakeRttPolicy, lastSynWscalePolicy, peerMssPolicy, rcvBufRoundingPolicy, simOpenSynAckOptionsPolicy, simOpenWscalePolicy, synBackoffPolicy, synWindowRulePolicy } from "./handshake.js";
import { icmpPolicyPolicy, icmpQuotePolicy, icmpV4FilterPolicy, pmtuSynMssPolicy } from "./icmp.js";
import { badOptionsPolicy, optionLayoutPolicy } from "./options.js";
import { acceptQueueFullPolicy, halfOpenFullPolicy, listenSynAckPolicy, synAckOptionsPolicy, synAckWindowRoundingPolicy } from "./passive.js";
import { ackPolicyPolicy, challengeAckPolicy, finRepeatPolicy, oowAckPolicy, windowUpdatePolicy } from "./receiver.js";
import { sackReportPolicy } from "./sack-report.js";
import { naglePolicy, rtoFormulaPolicy, rttSamplePolicy, sackOnDataPolicy, tailLossProbePolicy, zeroWindowProbePolicy } from "./sender.js";
import { simOpenSynTextPolicy, synAckTextPolicy, synSentBadAckPolicy, synSentPawsPolicy, synSentRstPolicy } from "./syn-sent.js";
import { timerWheelPolicy } from "./timer-wheel.js";

export const POLICIES = [
  // Opening
  { policy: optionLayoutPolicy, file: "stack/tcp/options.ts" },
  { policy: badOptionsPolicy, file: "stack/tcp/options.ts" },
  { policy: synWindowRulePolicy, file: "stack/tcp/handshake.ts" },
  { policy: synBackoffPolicy, file: "stack/tcp/handshake.ts" },
  { policy: lastSynWscalePolicy, file: "stack/tcp/handshake.ts" },
  { policy: synSentBadAckPolicy, file: "stack/tcp/syn-sent.ts" },
  { policy: synSentPawsPolicy, file: "stack/tcp/syn-sent.ts" },
  { policy: synSentRstPolicy, file: "stack/tcp/syn-sent.ts" },
  { policy: synAckTextPolicy, file: "stack/tcp/syn-sent.ts" },
  { policy: peerMssPolicy, file: "stack/tcp/handshake.ts" },
  { policy: rcvBufRoundingPolicy, file: "stack/tcp/handshake.ts" },
  { policy: simOpenSynTextPolicy, file: "stack/tcp/syn-sent.ts" },
  { policy: simOpenSynAckOptionsPolicy, file: "stack/tcp/handshake.ts" },
  { policy: simOpenWscalePolicy, file: "stack/tcp/handshake.ts" },
  { policy: simOpenRstOutcomePolicy, file: "stack/tcp/arrival.ts" },
  // Passive opening: the listener and its SYN-RECEIVED connections
  { policy: listenSynAckPolicy, file: "stack/tcp/passive.ts" },
  { policy: synAckOptionsPolicy, file: "stack/tcp/passive.ts" },
  { policy: synAckWindowRoundingPolicy, file: "stack/tcp/passive.ts" },
  { policy: acceptQueueFullPolicy, file: "stack/tcp/passive.ts" },
  { policy: halfOpenFullPolicy, file: "stack/tcp/passive.ts" },
  { policy: simOpenSynAckAckPolicy, file: "stack/tcp/arrival.ts" },
  // Segment arrival in the synchronised states
  { policy: synFinPolicy, file: "stack/tcp/arrival.ts" },
  { policy: acceptWindowPolicy, file: "stack/tcp/arrival.ts" },
  { policy: oowAckPolicy, file: "stack/tcp/receiver.ts" },
  { policy: oldSegmentPolicy, file: "stack/tcp/arrival.ts" },
  { policy: rstCheckPolicy, file: "stack/tcp/arrival.ts" },
  { policy: synCheckPolicy, file: "stack/tcp/arrival.ts" },
  { policy: challengeAckPolicy, file: "stack/tcp/receiver.ts" },
  { policy: timeWaitPolicy, file: "stack/tcp/arrival.ts" },
  { policy: tsRecentUpdatePolicy, file: "stack/tcp/arrival.ts" },
  { policy: dataAfterClosePolicy, file: "stack/tcp/arrival.ts" },
  { policy: finWait2ClosedPolicy, file: "stack/tcp/arrival.ts" },
  // Receiving and sending
  { policy: ackPolicyPolicy, file: "stack/tcp/receiver.ts" },
  { policy: finRepeatPolicy, file: "stack/tcp/receiver.ts" },
  { policy: sackReportPolicy, file: "stack/tcp/sack-report.ts" },
  { policy: windowUpdatePolicy, file: "stack/tcp/receiver.ts" },
  { policy: naglePolicy, file: "stack/tcp/sender.ts" },
  { policy: sackOnDataPolicy, file: "stack/tcp/sender.ts" },
  { policy: rtoFormulaPolicy, file: "stack/tcp/sender.ts" },
  { policy: handshakeRttPolicy, file: "stack/tcp/handshake.ts" },
  { policy: rttSamplePolicy, file: "stack/tcp/sender.ts" },
  { policy: tailLossProbePolicy, file: "stack/tcp/sender.ts" },
  { policy: zeroWindowProbePolicy, file: "stack/tcp/sender.ts" },
  { policy: abortRstPolicy, file: "stack/tcp/connection.ts" },
  { policy: timerWheelPolicy, file: "stack/tcp/timer-wheel.ts" },
  // ICMP
  { policy: icmpPolicyPolicy, file: "stack/tcp/icmp.ts" },
  { policy: icmpQuotePolicy, file: "stack/tcp/icmp.ts" },
  { policy: icmpV4FilterPolicy, file: "stack/tcp/icmp.ts" },
  { policy: pmtuSynMssPolicy, file: "stack/tcp/icmp.ts" },
] as const;
