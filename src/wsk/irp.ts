// I/O request packets as a WSK client sees them (docs/wsk.md "IRPs"; Microsoft Learn
// "Using IRPs with Winsock Kernel Functions", "Canceling IRPs", IoCancelIrp, bug check 0x44).
//
// Single-threaded and synchronous: completion runs the completion routine inside
// IoCompleteRequest, before it returns; no timers, no microtasks. There is no cancel spin
// lock because nothing can race: a provider that clears its cancel routine and then
// completes cannot be interrupted in between.
//
// Life of an IRP here:
//   idle --beginIrp (provider takes it)--> inFlight --IoCompleteRequest--> completed
//   completed --IoReuseIrp--> idle;  idle|completed --IoFreeIrp--> freed
//   completed --completion routine returned anything but STATUS_MORE_PROCESSING_REQUIRED-->
//     released (the I/O manager owns it again: the caller must not touch it)
// Misuse is a driver bug and goes to the bug-check hook (KeBugCheckEx analogue).

import {
  NT_SUCCESS,
  STATUS_CANCELLED,
  STATUS_MORE_PROCESSING_REQUIRED,
  STATUS_PENDING,
  STATUS_SUCCESS,
  formatStatus,
  type NtStatus,
} from "./ntstatus.js";

// ---------------------------------------------------------------------------------------
// Bug checks

export const BUGCHECK = {
  /** An IRP was completed twice (IoCompleteRequest on a completed IRP). */
  MULTIPLE_IRP_COMPLETE_REQUESTS: 0x44,
  /** Any other IRP misuse (Driver Verifier's I/O manager checks). */
  DRIVER_VERIFIER_IOMANAGER_VIOLATION: 0xc9,
} as const;

export class BugCheckError extends Error {
  override readonly name = "BugCheckError";
  constructor(
    readonly code: number,
    readonly reason: string,
    readonly irp?: Irp,
  ) {
    super(`bug check 0x${code.toString(16).toUpperCase().padStart(8, "0")}: ${reason}`);
  }
}

export type BugCheckHandler = (code: number, reason: string, irp?: Irp) => void;

const throwBugCheck: BugCheckHandler = (code, reason, irp) => {
  throw new BugCheckError(code, reason, irp);
};
let bugCheckHandler: BugCheckHandler = throwBugCheck;

/**
 * Replaces the fatal hook; `undefined` restores the default (throw BugCheckError).
 * Returns the previous handler. If a handler returns instead of throwing, the offending
 * operation is not carried out (the IRP keeps its state, no routine runs twice).
 */
export function setBugCheckHandler(handler: BugCheckHandler | undefined): BugCheckHandler {
  const previous = bugCheckHandler;
  bugCheckHandler = handler ?? throwBugCheck;
  return previous;
}

/** KeBugCheckEx analogue. */
export function KeBugCheck(code: number, reason: string, irp?: Irp): void {
  bugCheckHandler(code, reason, irp);
}

// ---------------------------------------------------------------------------------------
// The IRP

/** PIO_COMPLETION_ROUTINE. Return STATUS_MORE_PROCESSING_REQUIRED to keep the IRP. */
export type IoCompletionRoutine<C = unknown> = (deviceObject: unknown, irp: Irp, context: C) => NtStatus;

/** PDRIVER_CANCEL (the device object is omitted: synack has none). */
export type DriverCancel = (irp: Irp) => void;

export interface IoStatusBlock {
  Status: NtStatus;
  /** Byte count for send/receive; the socket object for WskSocket / WskSocketConnect. */
  Information: unknown;
}

export type IrpState = "idle" | "inFlight" | "completed" | "released" | "freed";

interface CompletionSlot {
  routine: IoCompletionRoutine<any>;
  context: unknown;
  invokeOnSuccess: boolean;
  invokeOnError: boolean;
  invokeOnCancel: boolean;
}

export class Irp {
  IoStatus: IoStatusBlock = { Status: STATUS_SUCCESS, Information: 0 };
  /** Set by IoCancelIrp; stays set until IoReuseIrp. */
  Cancel = false;
  /** Set at completion when the provider had called IoMarkIrpPending (returned STATUS_PENDING). */
  PendingReturned = false;
  /** The provider's cancel routine, if any (read it through IoSetCancelRoutine). */
  CancelRoutine: DriverCancel | undefined = undefined;

  /** @internal */ _state: IrpState = "idle";
  /** @internal the stack location's SL_PENDING_RETURNED. */ _pendingMarked = false;
  /** @internal */ _completion: CompletionSlot | undefined = undefined;

  /** Where the IRP is in its life (for assertions and diagnostics). */
  get state(): IrpState {
    return this._state;
  }
}

/** IoAllocateIrp: a fresh IRP with one stack location (the only one WSK needs). */
export function IoAllocateIrp(): Irp {
  return new Irp();
}

function usable(irp: Irp, what: string): boolean {
  if (irp._state === "freed" || irp._state === "released") {
    KeBugCheck(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, `${what} on an IRP that was ${irp._state}`, irp);
    return false;
  }
  return true;
}

/**
 * IoSetCompletionRoutine. WSK requires all three Invoke flags TRUE for IRPs the client
 * allocated (L-IRP); they default to true. The routine runs inside IoCompleteRequest.
 */
export function IoSetCompletionRoutine<C>(
  irp: Irp,
  routine: IoCompletionRoutine<C> | undefined,
  context: C,
  invokeOnSuccess = true,
  invokeOnError = true,
  invokeOnCancel = true,
): void {
  if (!usable(irp, "IoSetCompletionRoutine")) return;
  if (irp._state === "inFlight") {
    // The routine lives in the stack location the provider now owns.
    KeBugCheck(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, "IoSetCompletionRoutine on an IRP in flight", irp);
    return;
  }
  irp._completion =
    routine === undefined ? undefined : { routine, context, invokeOnSuccess, invokeOnError, invokeOnCancel };
}

/**
 * IoReuseIrp: re-initialises a completed (or never used) IRP the caller still owns.
 * Status is set to `status`, Information to 0, Cancel and PendingReturned cleared, the
 * completion routine removed (set it again before the next call).
 */
export function IoReuseIrp(irp: Irp, status: NtStatus): void {
  if (!usable(irp, "IoReuseIrp")) return;
  if (irp._state === "inFlight") {
    KeBugCheck(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, "IoReuseIrp on an IRP still in flight", irp);
    return;
  }
  irp.IoStatus = { Status: status >>> 0, Information: 0 };
  irp.Cancel = false;
  irp.PendingReturned = false;
  irp.CancelRoutine = undefined;
  irp._pendingMarked = false;
  irp._completion = undefined;
  irp._state = "idle";
}

/** IoFreeIrp: the IRP must not be in flight; any later use is a bug. */
export function IoFreeIrp(irp: Irp): void {
  if (!usable(irp, "IoFreeIrp")) return;
  if (irp._state === "inFlight") {
    KeBugCheck(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, "IoFreeIrp on an IRP still in flight", irp);
    return;
  }
  irp._state = "freed";
  irp._completion = undefined;
  irp.CancelRoutine = undefined;
}

/**
 * IoCancelIrp: sets Cancel; if a cancel routine is set, clears it and calls it (the
 * routine completes the IRP with STATUS_CANCELLED, Information 0) and returns true.
 * Otherwise returns false: the owner notices `Cancel` later (L-IOCANCEL). A cancelled IRP
 * may still complete with success if the operation finished first.
 */
export function IoCancelIrp(irp: Irp): boolean {
  if (!usable(irp, "IoCancelIrp")) return false;
  irp.Cancel = true;
  const routine = irp.CancelRoutine;
  if (routine === undefined) return false;
  irp.CancelRoutine = undefined;
  routine(irp);
  return true;
}

// ---------------------------------------------------------------------------------------
// Provider side

/** Provider: takes ownership of a caller's IRP at the start of a WSK call. */
export function beginIrp(irp: Irp): void {
  if (!usable(irp, "beginIrp")) return;
  if (irp._state === "inFlight") {
    KeBugCheck(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, "IRP passed to a WSK call while already in flight", irp);
    return;
  }
  if (irp._state === "completed") {
    // L-IRP: an IRP is either new from IoAllocateIrp or re-initialised with IoReuseIrp.
    KeBugCheck(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, "completed IRP passed again without IoReuseIrp", irp);
    return;
  }
  irp._state = "inFlight";
  irp._pendingMarked = false;
  irp.PendingReturned = false;
}

/** IoMarkIrpPending: the provider will return STATUS_PENDING for this IRP. */
export function IoMarkIrpPending(irp: Irp): void {
  if (irp._state !== "inFlight") {
    KeBugCheck(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, `IoMarkIrpPending on an IRP that is ${irp._state}`, irp);
    return;
  }
  irp._pendingMarked = true;
}

/** IoSetCancelRoutine: sets (or clears, with undefined) the cancel routine; returns the previous one. */
export function IoSetCancelRoutine(irp: Irp, routine: DriverCancel | undefined): DriverCancel | undefined {
  const previous = irp.CancelRoutine;
  if (routine !== undefined && irp._state !== "inFlight") {
    KeBugCheck(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, `cancel routine set on an IRP that is ${irp._state}`, irp);
    return previous;
  }
  irp.CancelRoutine = routine;
  return previous;
}

/**
 * IoCompleteRequest. `status` / `information`, when given, are stored in IoStatus first
 * (the usual `Irp->IoStatus.Status = ...; IoCompleteRequest(Irp, IO_NO_INCREMENT)`).
 * Runs the completion routine, once, before returning.
 *
 * Bugs: completing twice (0x44); completing an IRP never handed to a provider, with
 * STATUS_PENDING, or with a cancel routine still set (0xC9).
 */
export function IoCompleteRequest(irp: Irp, status?: NtStatus, information?: unknown): void {
  if (!usable(irp, "IoCompleteRequest")) return;
  if (irp._state === "completed") {
    KeBugCheck(BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS, "IRP completed twice", irp);
    return;
  }
  if (irp._state !== "inFlight") {
    KeBugCheck(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, "IoCompleteRequest on an IRP no provider owns", irp);
    return;
  }
  const finalStatus = status === undefined ? irp.IoStatus.Status : status >>> 0;
  if (finalStatus === STATUS_PENDING) {
    KeBugCheck(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, "IRP completed with STATUS_PENDING", irp);
    return;
  }
  if (irp.CancelRoutine !== undefined) {
    // A provider clears its cancel routine (IoSetCancelRoutine(irp, undefined)) before completing.
    KeBugCheck(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, "IRP completed with a cancel routine still set", irp);
    return;
  }
  irp.IoStatus.Status = finalStatus;
  if (information !== undefined) irp.IoStatus.Information = information;
  irp.PendingReturned = irp._pendingMarked;
  irp._state = "completed";

  const slot = irp._completion;
  if (slot === undefined) return; // nobody to hand it back to: the creator keeps it
  const invoke =
    (NT_SUCCESS(finalStatus) && slot.invokeOnSuccess) ||
    (!NT_SUCCESS(finalStatus) && slot.invokeOnError) ||
    (irp.Cancel && slot.invokeOnCancel);
  if (!invoke) return;
  const result = slot.routine(undefined, irp, slot.context);
  // Anything but STATUS_MORE_PROCESSING_REQUIRED lets the I/O manager finish (and free)
  // the IRP; for a driver-allocated IRP the caller must not touch it afterwards.
  // Check the state first: the routine may have freed or reused the IRP itself.
  if (result >>> 0 !== STATUS_MORE_PROCESSING_REQUIRED && irp._state === "completed") irp._state = "released";
}

/**
 * Provider: finish a call at once. Clears any cancel routine, completes the IRP (the
 * completion routine runs now) and returns the status the WSK call must return: the same
 * status (docs/wsk.md "IRPs"). Not for IRPs marked pending: those complete with `completePending`.
 */
export function completeAtOnce(irp: Irp, status: NtStatus, information: unknown = 0): NtStatus {
  if (irp._pendingMarked && irp._state === "inFlight") {
    KeBugCheck(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, "IRP marked pending but the call did not return STATUS_PENDING", irp);
    return STATUS_PENDING;
  }
  IoSetCancelRoutine(irp, undefined);
  IoCompleteRequest(irp, status, information);
  return status >>> 0;
}

/**
 * Provider: the call finishes later. Marks the IRP pending, installs the cancel routine
 * and returns STATUS_PENDING, which the WSK call returns. If the IRP was cancelled before
 * the provider saw it (Cancel already set), the cancel routine runs now, as IoCancelIrp
 * would have run it; the call still returns STATUS_PENDING (the IRP is already complete).
 */
export function pendIrp(irp: Irp, cancelRoutine?: DriverCancel): NtStatus {
  IoMarkIrpPending(irp);
  if (cancelRoutine !== undefined) {
    IoSetCancelRoutine(irp, cancelRoutine);
    if (irp.Cancel && IoSetCancelRoutine(irp, undefined) !== undefined) cancelRoutine(irp);
  }
  return STATUS_PENDING;
}

/** Provider: completes a pending IRP later (operation finished, failed or was cancelled). */
export function completePending(irp: Irp, status: NtStatus, information: unknown = 0): void {
  IoSetCancelRoutine(irp, undefined);
  IoCompleteRequest(irp, status, information);
}

/** Provider's usual cancel routine body: complete with STATUS_CANCELLED, Information 0. */
export function completeCancelled(irp: Irp): void {
  completePending(irp, STATUS_CANCELLED, 0);
}

// ---------------------------------------------------------------------------------------
// Client helpers

export interface IrpResult<T = unknown> {
  status: NtStatus;
  information: T;
  /** True if the provider returned STATUS_PENDING for this IRP. */
  pendingReturned: boolean;
}

/**
 * Installs a completion routine that settles a promise with the IRP's IoStatus and keeps
 * the IRP (returns STATUS_MORE_PROCESSING_REQUIRED), then returns the promise. Call it
 * before passing the IRP to a WSK function. The promise never rejects: failure is a status.
 */
export function irpToPromise<T = unknown>(irp: Irp): Promise<IrpResult<T>> {
  return new Promise<IrpResult<T>>((resolve) => {
    IoSetCompletionRoutine(
      irp,
      (_device, done) => {
        resolve({
          status: done.IoStatus.Status,
          information: done.IoStatus.Information as T,
          pendingReturned: done.PendingReturned,
        });
        return STATUS_MORE_PROCESSING_REQUIRED;
      },
      undefined,
    );
  });
}

/**
 * Allocates an IRP, hands it to `call` (a WSK function taking the IRP last) and waits for
 * completion. Checks the rule of docs/wsk.md "IRPs" on the way: a non-pending return must equal the
 * completed status and the IRP must already be complete.
 */
export async function callWithIrp<T = unknown>(call: (irp: Irp) => NtStatus): Promise<IrpResult<T>> {
  const irp = IoAllocateIrp();
  const done = irpToPromise<T>(irp);
  const returned = call(irp) >>> 0;
  if (returned !== STATUS_PENDING) {
    if (irp._state !== "completed" && irp._state !== "released") {
      throw new Error(`WSK call returned ${formatStatus(returned)} without completing its IRP`);
    }
    if (irp.IoStatus.Status !== returned) {
      throw new Error(
        `WSK call returned ${formatStatus(returned)} but completed its IRP with ${formatStatus(irp.IoStatus.Status)}`,
      );
    }
  }
  return done;
}
