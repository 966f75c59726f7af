// For each profile, each ICMP/ICMPv6 type and code of docs/ntstatus.md: the exact NTSTATUS the
// WskConnect IRP completes with and the exact time it completes (virtual time).
import { describe, expect, it } from "vitest";
import { WskTest, AF_INET, AF_INET6, sockaddrIn, sockaddrIn6 } from "../helpers/wsk.js";
import { NTSTATUS } from "../../src/wsk/ntstatus.js";
import { buildIcmpError } from "../../stack/wire/packet.js";
import type { ProfileName } from "../../stack/tcp/profiles.js";

type Name = keyof typeof NTSTATUS;
// [family, type, code, status when it aborts, hard for freebsd, hard for RFC 1122]
const ROWS: Array<[4 | 6, number, number, Name, boolean, boolean]> = [
  [4, 3, 0, "STATUS_NETWORK_UNREACHABLE", false, false],
  [4, 3, 1, "STATUS_HOST_UNREACHABLE", false, false],
  [4, 3, 2, "STATUS_PROTOCOL_UNREACHABLE", true, true],
  [4, 3, 3, "STATUS_PORT_UNREACHABLE", true, true],
  [4, 3, 5, "STATUS_HOST_UNREACHABLE", false, false],
  [4, 3, 6, "STATUS_NETWORK_UNREACHABLE", false, false],
  [4, 3, 7, "STATUS_HOST_UNREACHABLE", false, false],
  [4, 3, 8, "STATUS_HOST_UNREACHABLE", false, false],
  [4, 3, 9, "STATUS_HOST_UNREACHABLE", true, false],
  [4, 3, 10, "STATUS_HOST_UNREACHABLE", true, false],
  [4, 3, 11, "STATUS_NETWORK_UNREACHABLE", false, false],
  [4, 3, 12, "STATUS_HOST_UNREACHABLE", false, false],
  [4, 3, 13, "STATUS_HOST_UNREACHABLE", true, false],
  [4, 3, 14, "STATUS_HOST_UNREACHABLE", false, false],
  [4, 3, 15, "STATUS_HOST_UNREACHABLE", false, false],
  [4, 11, 0, "STATUS_HOST_UNREACHABLE", true, false],
  [4, 12, 0, "STATUS_HOST_UNREACHABLE", false, false],
  [6, 1, 0, "STATUS_NETWORK_UNREACHABLE", false, false],
  [6, 1, 1, "STATUS_HOST_UNREACHABLE", true, false],
  [6, 1, 2, "STATUS_HOST_UNREACHABLE", false, false],
  [6, 1, 3, "STATUS_HOST_UNREACHABLE", false, false],
  [6, 1, 4, "STATUS_PORT_UNREACHABLE", true, true],
  [6, 1, 5, "STATUS_HOST_UNREACHABLE", true, false],
  [6, 1, 6, "STATUS_HOST_UNREACHABLE", true, false],
  [6, 3, 0, "STATUS_HOST_UNREACHABLE", true, false],
  [6, 4, 0, "STATUS_HOST_UNREACHABLE", false, false],
  [6, 4, 1, "STATUS_PROTOCOL_UNREACHABLE", true, true],
];

const TIMEOUT_AT: Record<ProfileName, number> = { windows: 21_000, windows7: 21_000, linux: 131_000, freebsd: 75_000, rfc: 180_000 };
const ARRIVES_AT = 40;

function expected(p: ProfileName, row: (typeof ROWS)[number], failOnIcmp: boolean): { status: Name; t: number } {
  const [, , , status, hardBsd, hard1122] = row;
  switch (p) {
    case "windows":
    case "windows7":
      return failOnIcmp ? { status, t: ARRIVES_AT } : { status: "STATUS_IO_TIMEOUT", t: TIMEOUT_AT[p] };
    case "linux":
      return { status, t: ARRIVES_AT };
    case "freebsd":
      return hardBsd ? { status, t: ARRIVES_AT } : { status: "STATUS_IO_TIMEOUT", t: TIMEOUT_AT.freebsd };
    case "rfc":
      // Soft errors are reported at give-up instead of STATUS_IO_TIMEOUT (RFC 1122 §4.2.3.9; docs/ntstatus.md).
      return hard1122 ? { status, t: ARRIVES_AT } : { status, t: TIMEOUT_AT.rfc };
  }
}

function runRow(p: ProfileName, row: (typeof ROWS)[number], failOnIcmp: boolean) {
  const [v, type, code] = row;
  const w = new WskTest({ wskProfile: p });
  const s = w.socket(v === 4 ? AF_INET : AF_INET6);
  w.bind(s, v === 4 ? sockaddrIn("0.0.0.0", 0) : sockaddrIn6("::", 0));
  if (failOnIcmp) w.call((irp) => s.Dispatch.WskControlSocket(s, 0, 18, 6, 4, 1, 0, null, null, irp));
  const c = w.connect(s, v === 4 ? sockaddrIn("10.0.0.1", 80) : sockaddrIn6("fd00::1", 80));
  w.h.advanceTo(ARRIVES_AT);
  const syn = w.h.sent[0];
  w.h.inputBytes(buildIcmpError({ src: v === 4 ? "10.0.0.254" : "fd00::fe", dst: syn.pkt.ip.src, type, code, mtu: 0, original: syn.bytes }));
  w.h.advanceTo(300_000);
  w.assertOnce();
  return c.completions.map((x) => ({ status: x.status, t: x.t }));
}

describe("ICMP in SYN-SENT -> NTSTATUS and completion time, every profile x every ICMP code of docs/ntstatus.md", () => {
  for (const p of ["windows", "windows7", "linux", "freebsd", "rfc"] as ProfileName[]) {
    for (const row of ROWS) {
      const e = expected(p, row, false);
      it(`${p}: ICMPv${row[0] === 4 ? 4 : 6} ${row[1]}/${row[2]} -> ${e.status} at ${e.t} ms`, () => {
        expect(runRow(p, row, false)).toEqual([{ status: NTSTATUS[e.status], t: e.t }]);
      });
    }
  }
  for (const row of ROWS) {
    const e = expected("windows", row, true);
    it(`windows + TCP_FAIL_CONNECT_ON_ICMP_ERROR: ICMPv${row[0] === 4 ? 4 : 6} ${row[1]}/${row[2]} -> ${e.status} at once`, () => {
      expect(runRow("windows", row, true)).toEqual([{ status: NTSTATUS[e.status], t: e.t }]);
    });
  }
});
