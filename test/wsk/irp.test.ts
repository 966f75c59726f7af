import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BUGCHECK,
  BugCheckError,
  IoAllocateIrp,
  IoCancelIrp,
  IoCompleteRequest,
  IoFreeIrp,
  IoMarkIrpPending,
  IoReuseIrp,
  IoSetCancelRoutine,
  IoSetCompletionRoutine,
  Irp,
  beginIrp,
  callWithIrp,
  completeAtOnce,
  completeCancelled,
  completePending,
  irpToPromise,
  pendIrp,
  setBugCheckHandler,
  type BugCheckHandler,
} from "../../src/wsk/irp.js";
import {
  STATUS_CANCELLED,
  STATUS_CONNECTION_REFUSED,
  STATUS_INVALID_PARAMETER,
  STATUS_MORE_PROCESSING_REQUIRED,
  STATUS_PENDING,
  STATUS_SUCCESS,
  STATUS_UNSUCCESSFUL,
} from "../../src/wsk/ntstatus.js";

/** Records bug checks instead of throwing, so a test can look at them. */
let bugChecks: Array<{ code: number; reason: string; irp?: Irp }>;
let previous: BugCheckHandler;
beforeEach(() => {
  bugChecks = [];
  previous = setBugCheckHandler((code, reason, irp) => {
    bugChecks.push({ code, reason, irp });
  });
});
afterEach(() => {
  setBugCheckHandler(previous);
});

/** A completion routine that counts calls and keeps the IRP. */
function recorder() {
  const calls: Array<{ status: number; information: unknown; context: unknown; pending: boolean }> = [];
  const routine = (_dev: unknown, irp: Irp, context: unknown) => {
    calls.push({ status: irp.IoStatus.Status, information: irp.IoStatus.Information, context, pending: irp.PendingReturned });
    return STATUS_MORE_PROCESSING_REQUIRED;
  };
  return { calls, routine };
}

describe("completion", () => {
  it("runs the completion routine once, with its context, inside IoCompleteRequest", () => {
    const irp = IoAllocateIrp();
    const { calls, routine } = recorder();
    const ctx = { tag: "ctx" };
    IoSetCompletionRoutine(irp, routine, ctx);
    beginIrp(irp);
    IoCompleteRequest(irp, STATUS_SUCCESS, 42);
    expect(calls).toEqual([{ status: STATUS_SUCCESS, information: 42, context: ctx, pending: false }]);
    expect(calls[0]!.context).toBe(ctx);
    expect(irp.state).toBe("completed");
    expect(bugChecks).toEqual([]);
  });

  it("second completion bug-checks 0x44 and does not run the routine again", () => {
    const irp = new Irp();
    const { calls, routine } = recorder();
    IoSetCompletionRoutine(irp, routine, undefined);
    beginIrp(irp);
    IoCompleteRequest(irp, STATUS_SUCCESS, 0);
    IoCompleteRequest(irp, STATUS_UNSUCCESSFUL, 0);
    expect(calls).toHaveLength(1);
    expect(bugChecks).toHaveLength(1);
    expect(bugChecks[0]!.code).toBe(0x44);
    expect(bugChecks[0]!.irp).toBe(irp);
    expect(irp.IoStatus.Status).toBe(STATUS_SUCCESS); // the bad completion changed nothing
  });

  it("the default hook throws BugCheckError with code 0x44", () => {
    setBugCheckHandler(undefined);
    const irp = IoAllocateIrp();
    beginIrp(irp);
    IoCompleteRequest(irp, STATUS_SUCCESS);
    let caught: unknown;
    try {
      IoCompleteRequest(irp, STATUS_SUCCESS);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(BugCheckError);
    expect((caught as BugCheckError).code).toBe(BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS);
    expect((caught as BugCheckError).message).toMatch(/^bug check 0x00000044/);
  });

  it("completing an IRP no provider took is a bug (0xC9)", () => {
    const irp = IoAllocateIrp();
    const { calls, routine } = recorder();
    IoSetCompletionRoutine(irp, routine, undefined);
    IoCompleteRequest(irp, STATUS_SUCCESS);
    expect(calls).toHaveLength(0);
    expect(bugChecks.map((b) => b.code)).toEqual([0xc9]);
  });

  it("completing with STATUS_PENDING or with a cancel routine set is a bug", () => {
    const irp = IoAllocateIrp();
    beginIrp(irp);
    IoCompleteRequest(irp, STATUS_PENDING);
    IoSetCancelRoutine(irp, () => {});
    IoCompleteRequest(irp, STATUS_SUCCESS);
    expect(bugChecks.map((b) => b.code)).toEqual([0xc9, 0xc9]);
    expect(irp.state).toBe("inFlight");
  });

  it("handing an IRP to a provider twice is a bug", () => {
    const irp = IoAllocateIrp();
    beginIrp(irp);
    beginIrp(irp);
    expect(bugChecks.map((b) => b.code)).toEqual([0xc9]);
    IoCompleteRequest(irp, STATUS_SUCCESS);
    beginIrp(irp); // completed, not reused
    expect(bugChecks.map((b) => b.code)).toEqual([0xc9, 0xc9]);
  });

  it("honours the Invoke flags", () => {
    const irp = IoAllocateIrp();
    const { calls, routine } = recorder();
    IoSetCompletionRoutine(irp, routine, undefined, true, false, false);
    beginIrp(irp);
    IoCompleteRequest(irp, STATUS_CONNECTION_REFUSED);
    expect(calls).toHaveLength(0);
  });

  it("sets PendingReturned when the provider marked the IRP pending", () => {
    const irp = IoAllocateIrp();
    const { calls, routine } = recorder();
    IoSetCompletionRoutine(irp, routine, undefined);
    beginIrp(irp);
    expect(pendIrp(irp)).toBe(STATUS_PENDING);
    expect(calls).toHaveLength(0);
    completePending(irp, STATUS_SUCCESS, 7);
    expect(calls).toEqual([{ status: STATUS_SUCCESS, information: 7, context: undefined, pending: true }]);
    expect(irp.PendingReturned).toBe(true);
  });
});

describe("STATUS_MORE_PROCESSING_REQUIRED", () => {
  it("keeps the IRP with the caller: it can be reused", () => {
    const irp = IoAllocateIrp();
    const { calls, routine } = recorder();
    IoSetCompletionRoutine(irp, routine, 1);
    beginIrp(irp);
    IoCompleteRequest(irp, STATUS_SUCCESS);
    expect(irp.state).toBe("completed");
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(irp, routine, 2);
    beginIrp(irp);
    IoCompleteRequest(irp, STATUS_CONNECTION_REFUSED);
    expect(calls.map((c) => [c.status, c.context])).toEqual([
      [STATUS_SUCCESS, 1],
      [STATUS_CONNECTION_REFUSED, 2],
    ]);
    expect(bugChecks).toEqual([]);
  });

  it("any other return hands the IRP back to the I/O manager: touching it is a bug", () => {
    const irp = IoAllocateIrp();
    IoSetCompletionRoutine(irp, () => STATUS_SUCCESS, undefined);
    beginIrp(irp);
    IoCompleteRequest(irp, STATUS_SUCCESS);
    expect(irp.state).toBe("released");
    IoReuseIrp(irp, STATUS_SUCCESS);
    expect(bugChecks.map((b) => b.code)).toEqual([0xc9]);
  });

  it("a routine may free the IRP itself", () => {
    const irp = IoAllocateIrp();
    IoSetCompletionRoutine(irp, (_d, i) => {
      IoFreeIrp(i);
      return STATUS_MORE_PROCESSING_REQUIRED;
    }, undefined);
    beginIrp(irp);
    IoCompleteRequest(irp, STATUS_SUCCESS);
    expect(irp.state).toBe("freed");
    beginIrp(irp);
    expect(bugChecks.map((b) => b.code)).toEqual([0xc9]);
  });
});

describe("IoReuseIrp / IoFreeIrp", () => {
  it("reuse resets status, information, Cancel, PendingReturned and the routines", () => {
    const irp = IoAllocateIrp();
    const { calls, routine } = recorder();
    IoSetCompletionRoutine(irp, routine, undefined);
    beginIrp(irp);
    pendIrp(irp, completeCancelled);
    IoCancelIrp(irp);
    expect(irp.Cancel).toBe(true);
    expect(irp.PendingReturned).toBe(true);
    expect(calls).toHaveLength(1);

    IoReuseIrp(irp, STATUS_PENDING);
    expect(irp.IoStatus).toEqual({ Status: STATUS_PENDING, Information: 0 });
    expect(irp.Cancel).toBe(false);
    expect(irp.PendingReturned).toBe(false);
    expect(irp.CancelRoutine).toBeUndefined();
    expect(irp.state).toBe("idle");
    // The completion routine was removed: completing now runs nothing.
    beginIrp(irp);
    IoCompleteRequest(irp, STATUS_SUCCESS);
    expect(calls).toHaveLength(1);
    expect(bugChecks).toEqual([]);
  });

  it("reuse or free while in flight is a bug", () => {
    const irp = IoAllocateIrp();
    beginIrp(irp);
    IoReuseIrp(irp, STATUS_SUCCESS);
    IoFreeIrp(irp);
    expect(bugChecks.map((b) => b.code)).toEqual([0xc9, 0xc9]);
    expect(irp.state).toBe("inFlight");
  });

  it("setting a completion routine on an IRP in flight is a bug", () => {
    const irp = IoAllocateIrp();
    beginIrp(irp);
    IoSetCompletionRoutine(irp, () => STATUS_MORE_PROCESSING_REQUIRED, undefined);
    expect(bugChecks.map((b) => b.code)).toEqual([0xc9]);
  });
});

describe("cancellation", () => {
  it("IoCancelIrp calls the cancel routine once, clearing it first", () => {
    const irp = IoAllocateIrp();
    const { calls, routine } = recorder();
    IoSetCompletionRoutine(irp, routine, "c");
    beginIrp(irp);
    let cancelCalls = 0;
    let routineSeenDuringCancel: unknown = "not called";
    pendIrp(irp, (i) => {
      cancelCalls++;
      routineSeenDuringCancel = i.CancelRoutine;
      completeCancelled(i);
    });
    expect(IoCancelIrp(irp)).toBe(true);
    expect(cancelCalls).toBe(1);
    expect(routineSeenDuringCancel).toBeUndefined();
    expect(irp.CancelRoutine).toBeUndefined();
    expect(calls).toEqual([{ status: STATUS_CANCELLED, information: 0, context: "c", pending: true }]);
    // A second cancel finds no routine.
    expect(IoCancelIrp(irp)).toBe(false);
    expect(cancelCalls).toBe(1);
    expect(bugChecks).toEqual([]);
  });

  it("without a cancel routine returns false and leaves Cancel set", () => {
    const irp = IoAllocateIrp();
    const { calls, routine } = recorder();
    IoSetCompletionRoutine(irp, routine, undefined);
    beginIrp(irp);
    pendIrp(irp);
    expect(IoCancelIrp(irp)).toBe(false);
    expect(irp.Cancel).toBe(true);
    expect(calls).toHaveLength(0);
    // The operation may still finish with success after a cancel request.
    completePending(irp, STATUS_SUCCESS);
    expect(calls[0]!.status).toBe(STATUS_SUCCESS);
  });

  it("IoSetCancelRoutine returns the previous routine", () => {
    const irp = IoAllocateIrp();
    beginIrp(irp);
    const a = () => {};
    const b = () => {};
    expect(IoSetCancelRoutine(irp, a)).toBeUndefined();
    expect(IoSetCancelRoutine(irp, b)).toBe(a);
    expect(IoSetCancelRoutine(irp, undefined)).toBe(b);
  });

  it("pendIrp on an IRP cancelled before the provider saw it runs the cancel routine at once", () => {
    const irp = IoAllocateIrp();
    const { calls, routine } = recorder();
    IoSetCompletionRoutine(irp, routine, undefined);
    expect(IoCancelIrp(irp)).toBe(false);
    beginIrp(irp);
    let cancelCalls = 0;
    const r = pendIrp(irp, (i) => {
      cancelCalls++;
      completeCancelled(i);
    });
    expect(r).toBe(STATUS_PENDING);
    expect(cancelCalls).toBe(1);
    expect(calls).toEqual([{ status: STATUS_CANCELLED, information: 0, context: undefined, pending: true }]);
  });
});

describe("provider helpers", () => {
  it("completeAtOnce: routine has run before it returns, and it returns the same status", () => {
    const irp = IoAllocateIrp();
    const { calls, routine } = recorder();
    IoSetCompletionRoutine(irp, routine, undefined);
    beginIrp(irp);
    const returned = completeAtOnce(irp, STATUS_INVALID_PARAMETER);
    expect(returned).toBe(STATUS_INVALID_PARAMETER);
    expect(calls).toEqual([{ status: STATUS_INVALID_PARAMETER, information: 0, context: undefined, pending: false }]);
  });

  it("completeAtOnce on an IRP marked pending is a bug", () => {
    const irp = IoAllocateIrp();
    beginIrp(irp);
    IoMarkIrpPending(irp);
    expect(completeAtOnce(irp, STATUS_SUCCESS)).toBe(STATUS_PENDING);
    expect(bugChecks.map((b) => b.code)).toEqual([0xc9]);
  });

  it("IoMarkIrpPending outside a provider is a bug", () => {
    IoMarkIrpPending(IoAllocateIrp());
    expect(bugChecks.map((b) => b.code)).toEqual([0xc9]);
  });
});

describe("irpToPromise / callWithIrp", () => {
  it("resolves with status and information on synchronous completion", async () => {
    const socket = { name: "sock" };
    const r = await callWithIrp<typeof socket>((irp) => {
      beginIrp(irp);
      return completeAtOnce(irp, STATUS_SUCCESS, socket);
    });
    expect(r).toEqual({ status: STATUS_SUCCESS, information: socket, pendingReturned: false });
    expect(r.information).toBe(socket);
  });

  it("resolves later for a pending call, with failures as statuses", async () => {
    let held: Irp | undefined;
    const p = callWithIrp((irp) => {
      beginIrp(irp);
      held = irp;
      return pendIrp(irp, completeCancelled);
    });
    let settled = false;
    void p.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    completePending(held!, STATUS_CONNECTION_REFUSED, 0);
    expect(await p).toEqual({ status: STATUS_CONNECTION_REFUSED, information: 0, pendingReturned: true });
  });

  it("callWithIrp rejects a provider that returns a status it did not complete with", async () => {
    await expect(
      callWithIrp((irp) => {
        beginIrp(irp);
        completeAtOnce(irp, STATUS_SUCCESS);
        return STATUS_UNSUCCESSFUL;
      }),
    ).rejects.toThrow(/completed its IRP with STATUS_SUCCESS/);
    await expect(callWithIrp(() => STATUS_SUCCESS)).rejects.toThrow(/without completing its IRP/);
  });

  it("irpToPromise keeps the IRP (MORE_PROCESSING_REQUIRED) so it can be reused", async () => {
    const irp = IoAllocateIrp();
    const p = irpToPromise(irp);
    beginIrp(irp);
    completeAtOnce(irp, STATUS_SUCCESS, 5);
    expect((await p).information).toBe(5);
    expect(irp.state).toBe("completed");
    IoReuseIrp(irp, STATUS_SUCCESS);
    expect(bugChecks).toEqual([]);
  });
});
