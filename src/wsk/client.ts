// A registered WSK client: what a driver does once at load time (WskRegister, then
// WskCaptureProviderNPI) and once at unload (WskReleaseProviderNPI, WskDeregister), kept
// in one object. The promise API, the packetdrill runner, the lab and the tests all start
// from it, so registration is written once. Microsoft Learn, "Registering a Winsock Kernel
// Application": https://learn.microsoft.com/windows-hardware/drivers/network/registering-a-winsock-kernel-application
import { NtStatusError, STATUS_SUCCESS } from "./ntstatus.js";
import { MAKE_WSK_VERSION, WSK_REGISTRATION, type WskProvider, type WSK_PROVIDER_NPI } from "./provider.js";
import { WSK_INFINITE_WAIT } from "./constants.js";

/** A registered WSK client with its captured provider NPI (what a driver keeps globally). */
export class WskClient {
  readonly npi: WSK_PROVIDER_NPI;
  /** The WSK_REGISTRATION this client registered with (for WskDeregister-style tests). */
  readonly registration = new WSK_REGISTRATION();

  /** Registers for WSK version 1.0 and captures the provider NPI; throws NtStatusError on failure. */
  constructor(readonly provider: WskProvider) {
    const st = provider.WskRegister({ ClientContext: this, Dispatch: { Version: MAKE_WSK_VERSION(1, 0) } }, this.registration);
    if (st !== STATUS_SUCCESS) throw new NtStatusError(st, "WskRegister");
    const npi: Partial<WSK_PROVIDER_NPI> = {};
    const cst = provider.WskCaptureProviderNPI(this.registration, WSK_INFINITE_WAIT, npi);
    if (cst !== STATUS_SUCCESS) throw new NtStatusError(cst, "WskCaptureProviderNPI");
    this.npi = npi as WSK_PROVIDER_NPI;
  }

  /** Releases the NPI and deregisters (the driver's unload path). */
  close(): void {
    this.provider.WskReleaseProviderNPI(this.registration);
    this.provider.WskDeregister(this.registration);
  }
}
