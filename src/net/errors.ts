// Errors of the Node-style API, shaped like Node's own socket errors (`code`, negative
// `errno`, `syscall`, `address`, `port`, message "connect ECONNREFUSED 10.0.0.1:80") and
// carrying the NTSTATUS the WSK facade completed the IRP with (`status`, `statusName`),
// so code written for `node:net` and code written for WSK both find what they look for.
// The NTSTATUS -> errno column is docs/ntstatus.md's.
import { NtStatusError, hexStatus, toErrno, type NtStatus } from "../wsk/ntstatus.js";

/** A socket operation failed with an NTSTATUS; `code`/`errno` are the Linux errno for it (an NtStatusError). */
export class SocketError extends NtStatusError {
  /** Negative errno, as Node reports it (-111 for ECONNREFUSED). */
  readonly errno: number;
  readonly syscall: string;
  readonly address?: string;
  readonly port?: number;
  /** The NTSTATUS as "0xC0000236". */
  readonly ntstatus: string;

  constructor(status: NtStatus, syscall: string, address?: string, port?: number) {
    super(status);
    const e = toErrno(this.status);
    this.errno = -e.value;
    this.syscall = syscall;
    if (address !== undefined) this.address = address;
    if (port !== undefined) this.port = port;
    this.ntstatus = hexStatus(this.status);
    const where = address === undefined ? "" : port === undefined ? ` ${address}` : ` ${address.includes(":") ? `[${address}]` : address}:${port}`;
    this.message = `${syscall} ${e.name}${where} (${this.statusName} ${this.ntstatus})`;
  }
}

/** Bad arguments and misuse: `code` like Node's (ERR_INVALID_ARG_VALUE, ERR_SOCKET_CLOSED, ...). */
export class SynackUsageError extends Error {
  override readonly name = "SynackUsageError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
