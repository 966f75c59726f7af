// FreeBSD tunables mapped onto profile policies and knobs (src/conformance/sysctl-map.ts): insecure_rst,
// drop_synfin, rexmit_drop_options. Each 0/1 value maps; other values are skips.
import { describe, expect, it } from "vitest";
import { applySysctl, type SysctlState } from "../../src/conformance/sysctl-map.js";

describe("applySysctl: FreeBSD RST / SYN+FIN / SYN option tunables", () => {
  it("insecure_rst: 1 turns RFC 5961 RST checks off (rstCheck rfc793) for new and live connections; 0 turns them on", () => {
    const st: SysctlState = { overrides: {} };
    expect(applySysctl(st, "net.inet.tcp.insecure_rst", "1")).toEqual({ ok: true, changed: true });
    expect(st.overrides.rstCheck).toBe("rfc793");
    expect(st.live?.rstCheck).toBe("rfc793");
    applySysctl(st, "net.inet.tcp.insecure_rst", "0");
    expect([st.overrides.rstCheck, st.live?.rstCheck]).toEqual(["rfc5961", "rfc5961"]);
  });

  it("insecure_syn: 1 turns RFC 5961 SYN checks off (synCheck rfc793) for new and live connections; 0 on; a non-number is a skip", () => {
    const st: SysctlState = { overrides: {} };
    expect(applySysctl(st, "net.inet.tcp.insecure_syn", "1")).toEqual({ ok: true, changed: true });
    expect([st.overrides.synCheck, st.live?.synCheck]).toEqual(["rfc793", "rfc793"]);
    applySysctl(st, "net.inet.tcp.insecure_syn", "0");
    expect([st.overrides.synCheck, st.live?.synCheck]).toEqual(["rfc5961", "rfc5961"]);
    expect(applySysctl(st, "net.inet.tcp.insecure_syn", "x").ok).toBe(false);
  });

  it("Linux tcp_rfc1337: maps onto the TIME-WAIT policy, rfc1337 or rfc9293 (new and live connections)", () => {
    const st: SysctlState = { overrides: {} };
    applySysctl(st, "net.ipv4.tcp_rfc1337", "1");
    expect([st.overrides.timeWait, st.live?.timeWait]).toEqual(["rfc1337", "rfc1337"]);
    applySysctl(st, "net.ipv4.tcp_rfc1337", "0");
    expect([st.overrides.timeWait, st.live?.timeWait]).toEqual(["rfc9293", "rfc9293"]);
  });

  it("drop_synfin: maps onto the synFin policy, drop or process (new and live connections)", () => {
    const st: SysctlState = { overrides: {} };
    applySysctl(st, "net.inet.tcp.drop_synfin", "1");
    expect([st.overrides.synFin, st.live?.synFin]).toEqual(["drop", "drop"]);
    applySysctl(st, "net.inet.tcp.drop_synfin", "0");
    expect(st.overrides.synFin).toBe("process");
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
