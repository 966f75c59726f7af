// connect(..., { local }) with an address of the other family says that the families
// differ (it said the IPv6 address lacked brackets, after reformatting it for the bind).
import { describe, expect, it } from "vitest";
import { Stack } from "../../stack/stack.js";
import { seededRandom } from "../../stack/random.js";
import { WskProvider } from "../../src/wsk/provider.js";
import { WskClient, connect } from "../../src/api.js";

describe("connect: a local address of the other family", () => {
  const client = new WskClient(new WskProvider(new Stack({ addresses: ["10.0.0.2/24", "fd00::2/64"], random: seededRandom(1) }), { now: () => 0 }));
  for (const [remote, local, msg] of [
    ["10.0.0.1:80", "fd00::2", "local address fd00::2 is IPv6 but the remote 10.0.0.1:80 is IPv4: the address families differ"],
    ["10.0.0.1:80", "[fd00::2]:0", "local address [fd00::2]:0 is IPv6 but the remote 10.0.0.1:80 is IPv4: the address families differ"],
    ["[fd00::1]:80", "10.0.0.2", "local address 10.0.0.2 is IPv4 but the remote [fd00::1]:80 is IPv6: the address families differ"],
  ] as const) {
    it(`${local} -> ${remote}`, async () => {
      await expect(connect(client, remote, { local })).rejects.toThrow(`STATUS_INVALID_PARAMETER (0xC000000D): an invalid parameter was passed (flags, address family or address) (${msg})`);
    });
  }
});
