// Lends a device to one user at a time: close() detaches the receive handler instead of
// closing the device, so a lab TUN can serve several stacks in a row (demo, tests).
import type { Device } from "./types.js";

export function borrowDevice(dev: Device): Device {
  return {
    get name() {
      return dev.name;
    },
    get mtu() {
      return dev.mtu;
    },
    onReceive: (h) => dev.onReceive(h),
    onError: (h) => dev.onError(h),
    send: (p) => dev.send(p),
    stats: () => dev.stats(),
    close: async () => dev.onReceive(() => undefined),
  };
}
