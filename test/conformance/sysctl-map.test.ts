// FreeBSD tunables mapped onto profile knobs (src/conformance/sysctl-map.ts): insecure_rst,
// drop_synfin, rexmit_drop_options. Each 0/1 value maps; other values are skips.
import { describe, expect, it } from "vitest";
import { applySysctl, type SysctlState } from "../../src/conformance/sysctl-map.js";

describe("applySysctl: FreeBSD RST / SYN+FIN / SYN option tunables", () => {
  it("insecure_rst: 1 turns RFC 5961 RST checks off for new and live connections; 0 turns them on", () => {
    const st: SysctlState = { overrides: {} };
    expect(applySysctl(st, "net.inet.tcp.insecure_rst", "1")).toEqual({ ok: true, changed: true });
    expect(st.overrides.rfc5961Rst).toBe(false);
    expect(st.live?.rfc5961Rst).toBe(false);
    applySysctl(st, "net.inet.tcp.insecure_rst", "0");
    expect([st.overrides.rfc5961Rst, st.live?.rfc5961Rst]).toEqual([true, true]);
  });

  it("insecure_syn: 1 turns RFC 5961 SYN checks off (rfc5961Syn false) for new and live connections; 0 on; a non-number is a skip", () => {
    const st: SysctlState = { overrides: {} };
    expect(applySysctl(st, "net.inet.tcp.insecure_syn", "1")).toEqual({ ok: true, changed: true });
    expect([st.overrides.rfc5961Syn, st.live?.rfc5961Syn]).toEqual([false, false]);
    applySysctl(st, "net.inet.tcp.insecure_syn", "0");
    expect([st.overrides.rfc5961Syn, st.live?.rfc5961Syn]).toEqual([true, true]);
    expect(applySysctl(st, "net.inet.tcp.insecure_syn", "x").ok).toBe(false);
  });

  it("Linux tcp_rfc1337: maps onto rfc1337 (new and live connections)", () => {
    const st: SysctlState = { overrides: {} };
    applySysctl(st, "net.ipv4.tcp_rfc1337", "1");
    expect([st.overrides.rfc1337, st.live?.rfc1337]).toEqual([true, true]);
    applySysctl(st, "net.ipv4.tcp_rfc1337", "0");
    expect([st.overrides.rfc1337, st.live?.rfc1337]).toEqual([false, false]);
  });

  it("drop_synfin: maps onto dropSynFin (new and live connections)", () => {
    const st: SysctlState = { overrides: {} };
    applySysctl(st, "net.inet.tcp.drop_synfin", "1");
    expect([st.overrides.dropSynFin, st.live?.dropSynFin]).toEqual([true, true]);
    applySysctl(st, "net.inet.tcp.drop_synfin", "0");
    expect(st.overrides.dropSynFin).toBe(false);
  });

  it("rexmit_drop_options: 1 = SYNs after the third without options (t_rxtshift == 3), 0 = never", () => {
    const st: SysctlState = { overrides: {} };
    applySysctl(st, "net.inet.tcp.rexmit_drop_options", "1");
    expect(st.overrides.synDropOptionsAfter).toBe(3);
    applySysctl(st, "net.inet.tcp.rexmit_drop_options", "0");
    expect(st.overrides.synDropOptionsAfter).toBe(0);
  });

  it("a non-boolean value is a skip with the name", () => {
    const st: SysctlState = { overrides: {} };
    for (const name of ["net.inet.tcp.insecure_rst", "net.inet.tcp.drop_synfin", "net.inet.tcp.rexmit_drop_options"]) {
      const r = applySysctl(st, name, "yes");
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toContain(name);
    }
  });
});
