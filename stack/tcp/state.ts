// TCP connection states (RFC 9293 §3.3.2), written as the RFC writes them.

export type TcpState =
  | "CLOSED"
  | "SYN-SENT"
  | "SYN-RECEIVED"
  | "ESTABLISHED"
  | "FIN-WAIT-1"
  | "FIN-WAIT-2"
  | "CLOSE-WAIT"
  | "CLOSING"
  | "LAST-ACK"
  | "TIME-WAIT";

/** States in which the connection is synchronised (RFC 9293 §3.5.2 group 3). */
export function isSynchronized(s: TcpState): boolean {
  return s !== "CLOSED" && s !== "SYN-SENT" && s !== "SYN-RECEIVED";
}

/** States in which we may still send data. */
export function canSend(s: TcpState): boolean {
  return s === "ESTABLISHED" || s === "CLOSE-WAIT";
}

/** States in which the peer may still send us data. */
export function canReceive(s: TcpState): boolean {
  return s === "ESTABLISHED" || s === "FIN-WAIT-1" || s === "FIN-WAIT-2";
}
