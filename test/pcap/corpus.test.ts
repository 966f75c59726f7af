// Every public capture in ../shared/pcaps must parse, with the same packet count as tshark
// (and as MANIFEST.md), the same timestamps and lengths, and IP found exactly where tshark
// finds an IP layer.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readCaptureFile, type Capture } from "../../device/pcap/read.js";
import { LinkType } from "../../device/pcap/format.js";
import { PCAP_DIR, captureFiles, epochToNs, havePcaps, haveTshark, pcapPath, tsharkFields } from "./helpers.js";

const NO_PCAPS = `${PCAP_DIR} is absent`;

/** File name -> { pkts, bytes } from the MANIFEST table (columns: #, File, ..., Pkts, Bytes, ...). */
function manifest(): Map<string, { pkts: number; bytes: number; link: string }> {
  const m = new Map<string, { pkts: number; bytes: number; link: string }>();
  const text = readFileSync(pcapPath("MANIFEST.md"), "utf8");
  for (const line of text.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    // ["", "#", "File", "Source", "Licence", "Format", "Link type", "Kinds", "Pkts", "Bytes", "What", ""]
    if (cells.length < 11 || !/^\d+$/.test(cells[1]!)) continue;
    const file = cells[2]!.replace(/`/g, "");
    m.set(file, { pkts: Number(cells[8]), bytes: Number(cells[9]), link: cells[6]! });
  }
  return m;
}

const files = captureFiles();
const parsed = new Map<string, Capture>();
function load(f: string): Capture {
  let c = parsed.get(f);
  if (!c) {
    const r = readCaptureFile(pcapPath(f));
    if (!r.ok) throw new Error(`${f}: ${r.reason} at offset ${r.offset}`);
    c = r.value;
    parsed.set(f, c);
  }
  return c;
}

describe.skipIf(!havePcaps)("public captures", () => {
  it("finds the 35 captures listed in MANIFEST.md", () => {
    const m = manifest();
    expect(m.size).toBe(35);
    expect(files.sort()).toEqual([...m.keys()].sort());
  });

  describe.each(files.length ? files : ["(none)"])("%s", (f) => {
    it("parses without warnings; record count equals MANIFEST Pkts", () => {
      const c = load(f);
      const entry = manifest().get(f)!;
      expect(c.warnings).toEqual([]);
      expect(c.records.length).toBe(entry.pkts);
      expect(readFileSync(pcapPath(f)).length).toBe(entry.bytes);
      c.records.forEach((r, i) => {
        expect(r.index).toBe(i);
        expect(r.data.length).toBe(r.caplen);
        expect(r.caplen).toBeLessThanOrEqual(r.origLen);
      });
    });

    it("link type matches MANIFEST, and raw-IP / SLL captures yield an IP packet for every record", () => {
      const c = load(f);
      const link = manifest().get(f)!.link;
      const expected = link.includes("101") ? LinkType.RAW : link.includes("113") ? LinkType.LINUX_SLL : LinkType.ETHERNET;
      expect(c.interfaces.every((i) => i.linkType === expected)).toBe(true);
      if (expected !== LinkType.ETHERNET) {
        for (const r of c.records) {
          expect(r.nonIp).toBeUndefined();
          expect(r.ip!.length).toBeGreaterThanOrEqual(20);
        }
      }
      // Every Ethernet capture here is mostly IP; at least the first TCP SYN must be found.
      expect(c.records.filter((r) => r.ip).length).toBeGreaterThan(0);
    });

    it.skipIf(!haveTshark)("agrees with tshark: count, time, lengths, IP layer and IP length", () => {
      const c = load(f);
      const rows = tsharkFields(pcapPath(f), [
        "frame.number",
        "frame.time_epoch",
        "frame.len",
        "frame.cap_len",
        "frame.protocols",
        "ip.len",
        "ipv6.plen",
        "frame.interface_id",
      ]);
      expect(c.records.length).toBe(rows.length);
      rows.forEach((row, i) => {
        const [num, epoch, len, capLen, protocols, ipLen, ip6Plen, ifid] = row;
        const r = c.records[i]!;
        expect(Number(num)).toBe(r.index + 1);
        expect(r.timeNs).toBe(epochToNs(epoch!));
        expect(r.origLen).toBe(Number(len));
        expect(r.caplen).toBe(Number(capLen));
        if (ifid) expect(r.interface).toBe(Number(ifid));
        const layers = protocols!.split(":");
        const firstIp = layers.find((l) => l === "ip" || l === "ipv6");
        if (firstIp === undefined) {
          expect(r.ip, `frame ${num} (${protocols}) has no IP layer in tshark`).toBeUndefined();
          expect(r.nonIp).toMatch(/./);
        } else {
          expect(r.ip, `frame ${num} (${protocols}): ${r.nonIp}`).toBeDefined();
          expect(r.ipVersion).toBe(firstIp === "ip" ? 4 : 6);
          // The IP slice is trimmed to the header's length (Ethernet padding removed).
          if (firstIp === "ip" && ipLen && r.caplen === r.origLen) expect(r.ip!.length).toBe(Number(ipLen));
          if (firstIp === "ipv6" && ip6Plen && r.caplen === r.origLen) expect(r.ip!.length).toBe(40 + Number(ip6Plen));
        }
      });
    });
  });

  it.skipIf(!haveTshark)("tshark oracle is available (skipped when tshark is not installed)", () => {
    expect(haveTshark).toBe(true);
  });

  it("keeps nanosecond precision (tcp-handshake-nano.pcap, Linux cooked v1)", () => {
    const c = load("tcp-handshake-nano.pcap");
    // From `tshark -T fields -e frame.time_epoch`: 1418145369.924505488, 1418145370.052027262.
    expect(c.records[0]!.timeNs).toBe(1418145369924505488n);
    expect(c.records[1]!.timeNs).toBe(1418145370052027262n);
    expect(c.interfaces[0]!.tsResolution).toEqual({ base: 10, exponent: 9 });
    expect(c.records.every((r) => r.ipVersion === 4)).toBe(true);
  });

  it("reports why non-IP frames have no IP (ARP in nowebaccess2.pcapng)", () => {
    const c = load("nowebaccess2.pcapng");
    const arp = c.records.filter((r) => r.nonIp?.includes("ARP"));
    expect(arp.length).toBeGreaterThan(0);
    expect(arp.every((r) => r.ip === undefined)).toBe(true);
  });

  it("strips Ethernet padding: IPv4 slice length equals the IP total length", () => {
    const c = load("one_tcp_rst.pcap");
    for (const r of c.records) {
      const total = (r.ip![2]! << 8) | r.ip![3]!;
      expect(r.ip!.length).toBe(total);
    }
  });
});

describe.skipIf(havePcaps)("public captures", () => {
  it.skip(`skipped: ${NO_PCAPS}`, () => {});
});
