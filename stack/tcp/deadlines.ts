// The deadlines of a connection besides its retransmission timer, and why they are kept in
// a lazily created array rather than in fields.
//
// Deadlines are absolute times in ms, Infinity when not armed. V8 keeps a number field of an
// object inline only while it holds a small integer (a "Smi", 31 or 32 bits); once the field
// has held a fraction, Infinity or an integer of 2^31 or more, each object gets its own
// 16-byte box (a HeapNumber) for that field. Deadlines are fractions or Infinity, so every
// deadline field would cost a pointer and a box in every connection. A connection waiting in
// SYN-SENT uses only its retransmission timer (Connection.rexmitAt, a field of its own); the
// five deadlines below are never armed for most pending connects. They live in one plain
// array of numbers, which V8 stores as raw 8-byte doubles with no box per element, created
// the first time one of them is armed: a pending connect pays nothing for them (the memory
// benchmark, `synack bench`, measures bytes per SYN-SENT connection).
//
// Every deadline is read and armed through Connection.deadline() / setDeadline(); the time
// it is armed for comes from Connection.timerExpiry(), where the timerWheel policy models a
// kernel's timer lateness (timer-wheel.ts: Linux's wheel fires late by up to its
// granularity); the connection asks to be woken at nextDeadline().

/** Indices of the deadlines in the array (Connection.deadline(Deadline.persist)). */
export const Deadline = {
  /** An acceptable RST in SYN-SENT: the SYN again (synSentRst policy "retrySyn"). */
  rstRetry: 0,
  /** The limit on the whole connection attempt (profile.connectTimeoutMs). */
  connect: 1,
  /** Delayed ACK (RFC 9293 §3.8.6.3). */
  delAck: 2,
  /** 2 MSL in TIME-WAIT (RFC 9293 §3.10.7.4). */
  timeWait: 3,
  /** Persist / zero-window probe, and the sender SWS override (RFC 9293 §3.8.6.1, §3.8.6.2.1). */
  persist: 4,
} as const;

export type DeadlineIndex = (typeof Deadline)[keyof typeof Deadline];

/** The unarmed array (a new one per connection: the array literal keeps its elements unboxed). */
export function newDeadlines(): number[] {
  return [Infinity, Infinity, Infinity, Infinity, Infinity];
}
