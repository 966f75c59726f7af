// WSK client scaffolding for tests: a provider over a virtual-time Harness, a registered
// client, and IRPs whose completions are recorded (status, information, time, count).
import type { ProfileName } from "../../stack/tcp/profiles.js";
import { Harness, type HarnessOptions } from "./vt.js";
import { WskClient } from "../../src/wsk/client.js";
import { WskProvider, type WSK_REGISTRATION, type WSK_PROVIDER_NPI, type WSK_SOCKET, type WSK_CLIENT_CONNECTION_DISPATCH } from "../../src/wsk/provider.js";
import { IoAllocateIrp, IoSetCompletionRoutine, type Irp } from "../../src/wsk/irp.js";
import { STATUS_MORE_PROCESSING_REQUIRED, STATUS_SUCCESS, type NtStatus } from "../../src/wsk/ntstatus.js";
import { AF_INET, AF_INET6, IPPROTO_TCP, SOCK_STREAM, sockaddrIn, sockaddrIn6, type SOCKADDR } from "../../src/wsk/sockaddr.js";
import { WSK_FLAG_CONNECTION_SOCKET } from "../../src/wsk/constants.js";

export interface TrackedIrp {
  irp: Irp;
  completions: Array<{ status: NtStatus; information: unknown; t: number }>;
  returned?: NtStatus;
}

export class WskTest {
  readonly h: Harness;
  readonly wsk: WskProvider;
  readonly npi: WSK_PROVIDER_NPI;
  readonly client: WskClient;
  readonly reg: WSK_REGISTRATION;
  readonly irps: TrackedIrp[] = [];

  constructor(o: HarnessOptions & { wskProfile?: ProfileName } = {}) {
    this.h = new Harness(o);
    this.wsk = new WskProvider(this.h.stack, { now: () => this.h.now, afterCall: () => this.h.collect(), profile: o.wskProfile });
    this.client = new WskClient(this.wsk);
    this.reg = this.client.registration;
    this.npi = this.client.npi;
  }

  irp(): TrackedIrp {
    const t: TrackedIrp = { irp: IoAllocateIrp(), completions: [] };
    IoSetCompletionRoutine(t.irp, (_d, irp) => {
      t.completions.push({ status: irp.IoStatus.Status, information: irp.IoStatus.Information, t: this.h.now });
      return STATUS_MORE_PROCESSING_REQUIRED;
    }, undefined);
    this.irps.push(t);
    return t;
  }

  call(fn: (irp: Irp) => NtStatus): TrackedIrp {
    const t = this.irp();
    t.returned = fn(t.irp);
    return t;
  }

  socket(family: number = AF_INET, dispatch?: WSK_CLIENT_CONNECTION_DISPATCH, context: unknown = "ctx"): WSK_SOCKET {
    const t = this.call((irp) => this.npi.Dispatch.WskSocket(this.npi.Client, family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, context, dispatch, null, null, null, irp));
    if (t.returned !== STATUS_SUCCESS) throw new Error(`WskSocket returned ${t.returned}`);
    return t.completions[0].information as WSK_SOCKET;
  }

  bind(s: WSK_SOCKET, local: SOCKADDR = sockaddrIn("0.0.0.0", 0)): TrackedIrp {
    return this.call((irp) => s.Dispatch.WskBind(s, local, 0, irp));
  }

  connect(s: WSK_SOCKET, remote: SOCKADDR = sockaddrIn("10.0.0.1", 80), flags = 0): TrackedIrp {
    return this.call((irp) => s.Dispatch.WskConnect(s, remote, flags, irp));
  }

  close(s: WSK_SOCKET): TrackedIrp {
    return this.call((irp) => s.Dispatch.WskCloseSocket(s, irp));
  }

  /** Every tracked IRP completed exactly once so far (or not at all if `pendingOk`). */
  assertOnce(pendingOk = false): void {
    for (const t of this.irps) {
      if (t.completions.length > 1) throw new Error("IRP completed more than once");
      if (!pendingOk && t.completions.length === 0) throw new Error("IRP never completed");
    }
  }
}

export { AF_INET, AF_INET6, sockaddrIn, sockaddrIn6 };
