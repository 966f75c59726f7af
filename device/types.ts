// What every device (TUN, raw socket, in-memory link, replay) looks like to the runtime.

export interface DeviceStats {
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
  rxDropped: number;
  txErrors: number;
}

/**
 * Transmit work a device does itself (the TUN with its virtio-net header). The Runtime passes
 * it on to the Stack (Stack.setTxOffloads) when the device also has sendBatch, whose `meta`
 * then says, per packet, what is left to the device.
 */
export interface DeviceOffloads {
  /**
   * The device completes the TCP checksum of a packet marked TX_CSUM_PARTIAL in `meta`: the
   * checksum field holds the pseudo-header sum (VIRTIO_NET_HDR_F_NEEDS_CSUM).
   */
  txTcpChecksum: boolean;
  /**
   * The device cuts a TCP packet of up to 64 KiB into segments of the payload size in the low
   * 16 bits of its `meta` (TX_GSO_SIZE), as TCP segmentation offload does (VIRTIO_NET_HDR_GSO_TCPV4/6).
   */
  txTcpSegmentation: boolean;
}

export interface Device {
  readonly name: string;
  readonly mtu: number;
  /**
   * Registers the receive handler. It is called with each batch of IP packets read
   * from the link. The Uint8Arrays are only valid during the call (the device may reuse
   * its read buffer): copy what must outlive it. `tcpChecksummed` (optional, same length,
   * valid during the call): 1 where the device computed or verified the packet's TCP
   * checksum itself (receive offloads), so the stack need not sum it again; absent, or 0,
   * means the stack verifies it (the default for every packet).
   */
  onReceive(handler: (packets: Uint8Array[], tcpChecksummed?: Uint8Array) => void): void;
  /**
   * Optional: adds a listener for what the device itself dropped before it became a packet
   * (the TUN's receive offloads: a malformed virtio-net header or GSO packet), with the
   * reason (a DeviceDropReason of stack/drops.ts) and the bytes. A Runtime counts and traces
   * each in its Stack (Stack.deviceDrop).
   */
  onDrop?(handler: (reason: string, packet: Uint8Array) => void): void;
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
  sendBatch?(data: Uint8Array, lengths: Int32Array, count: number, meta?: Int32Array): void;
  /**
   * Optional: what the device does itself on transmit. Only with sendBatch; `meta` (per
   * packet, stack/outbox.ts TX_CSUM_PARTIAL and TX_GSO_SIZE) is given to sendBatch only when
   * the Runtime turned them on.
   */
  readonly offloads?: DeviceOffloads;
  stats(): DeviceStats;
  close(): Promise<void>;
}
