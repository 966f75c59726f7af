// Every policy, in the order a connection meets them (docs/profiles.md follows it). Each is
// described, and implemented, in the file of the step it changes.
import { abortRstPolicy } from "./connection.js";
import { acceptWindowPolicy, oldSegmentPolicy, rstCheckPolicy, simOpenRstOutcomePolicy, synCheckPolicy, synFinPolicy, timeWaitPolicy } from "./arrival.js";
import { peerMssPolicy, rcvBufRoundingPolicy, simOpenSynAckOptionsPolicy, synBackoffPolicy } from "./handshake.js";
import { icmpPolicyPolicy, icmpQuotePolicy, icmpV4FilterPolicy, pmtuSynMssPolicy } from "./icmp.js";
import { optionLayoutPolicy } from "./options.js";
import { ackPolicyPolicy, challengeAckPolicy, finRepeatPolicy, oowAckPolicy } from "./receiver.js";
import { naglePolicy, rtoFormulaPolicy, zeroWindowProbePolicy } from "./sender.js";
import { simOpenSynTextPolicy, synAckTextPolicy, synSentBadAckPolicy, synSentPawsPolicy, synSentRstPolicy } from "./syn-sent.js";

export const POLICIES = [
  // Opening
  optionLayoutPolicy,
  synBackoffPolicy,
  synSentBadAckPolicy,
  synSentPawsPolicy,
  synSentRstPolicy,
  synAckTextPolicy,
  peerMssPolicy,
  rcvBufRoundingPolicy,
  simOpenSynTextPolicy,
  simOpenSynAckOptionsPolicy,
  simOpenRstOutcomePolicy,
  // Segment arrival in the synchronised states
  synFinPolicy,
  acceptWindowPolicy,
  oowAckPolicy,
  oldSegmentPolicy,
  rstCheckPolicy,
  synCheckPolicy,
  challengeAckPolicy,
  timeWaitPolicy,
  // Receiving and sending
  ackPolicyPolicy,
  finRepeatPolicy,
  naglePolicy,
  rtoFormulaPolicy,
  zeroWindowProbePolicy,
  abortRstPolicy,
  // ICMP
  icmpPolicyPolicy,
  icmpQuotePolicy,
  icmpV4FilterPolicy,
  pmtuSynMssPolicy,
] as const;

/** Profile fields that pick a policy's choice. */
export type PolicyField = (typeof POLICIES)[number]["field"];
