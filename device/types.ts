// What every device (TUN, raw socket, in-memory link, replay) looks like to the runtime.

export interface DeviceStats {
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
  rxDropped: number;
  txErrors: number;
}

export interface Device {
  readonly name: string;
  readonly mtu: number;
  /**
   * Registers the receive handler. It is called with each batch of IP packets read
   * from the link. The Uint8Arrays are only valid during the call (the device may reuse
   * its read buffer): copy what must outlive it.
   */
  onReceive(handler: (packets: Uint8Array[]) => void): void;
  /** Called once if the device fails or disappears (e.g. the TUN interface is deleted). */
  onError(handler: (err: Error) => void): void;
  /** Sends IP packets (whole datagrams, no link header). */
  send(packets: readonly Uint8Array[]): void;
  /**
   * Optional, for devices that write packed batches (the TUN addon): sends `count` packets
   * laid back to back at the start of `data`, packet i being `lengths[i]` bytes. The
   * buffers are the caller's and valid only during the call. The Runtime uses it when
   * present, with the stack's own output buffer (Stack.pollBatch): no copy per packet.
   */
  sendBatch?(data: Uint8Array, lengths: Int32Array, count: number): void;
  stats(): DeviceStats;
  close(): Promise<void>;
}
