// Every capture in ../shared/pcaps/MANIFEST.md replays without an exception, and the
// connection each manifest row names has the outcome that row describes, both as recorded
// (what the extractor reads from the capture) and as replayed under the inferred profile
// (or a difference the replay itself marks as explained by the profile / a missing feature).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCaptureFile } from "../../device/pcap/read.js";
import { replayCapture } from "../../src/replay/replay.js";
import type { RecordedOutcome } from "../../src/replay/extract.js";

const DIR = join(import.meta.dirname, "../../../shared/pcaps");
const MANIFEST = join(DIR, "MANIFEST.md");
const absent = !existsSync(MANIFEST);
const why = absent ? `../shared/pcaps/MANIFEST.md is absent (${MANIFEST})` : "";

interface Expect {
  /** Manifest row number. */
  row: number;
  /** Client endpoint as the replay prints it ("addr:port" / "[v6]:port"); a prefix is enough. */
  client: string;
  outcome: RecordedOutcome;
  /** The replayed outcome when it legitimately differs (with the reason the replay gives). */
  replayed?: RecordedOutcome;
}

// Derived from the "What is inside" column of each row (the row number is cited).
const EXPECTED: Record<string, Expect[]> = {
  "tcp-handshake-nano.pcap": [{ row: 1, client: "131.155.215.69:46656", outcome: "established" }],
  "options.pcap": [{ row: 2, client: "192.168.1.102:36861", outcome: "established" }],
  "tcp_handshake.pcapng": [{ row: 3, client: "172.16.16.128:2826", outcome: "established" }],
  "http_ip4and6.pcapng": [
    { row: 4, client: "172.16.16.140:53350", outcome: "established" },
    { row: 4, client: "[2001:db8:1:2::1002]:35023", outcome: "established" },
  ],
  "port4242.pcap": [{ row: 5, client: "[::1]:37927", outcome: "established" }],
  "sv.base64_input.pcap": [{ row: 6, client: "[2a01:e35:2fb6:1160:f022:11:465e:d69b]:42356", outcome: "established" }],
  "one_tcp_rst.pcap": [{ row: 7, client: "10.1.1.13:45264", outcome: "refused" }],
  "tcp_refuseconnection.pcapng": [{ row: 8, client: "192.168.100.138:3372", outcome: "refused" }],
  "nowebaccess2.pcapng": [{ row: 9, client: "172.16.0.8:1074", outcome: "refused" }],
  "http-desync-request-response-5.pcap": [
    { row: 10, client: "[::1]:42668", outcome: "refused" },
    { row: 10, client: "127.0.0.1:50170", outcome: "established" },
  ],
  "ftpclientdenied.pcap": [{ row: 11, client: "192.168.0.193:1596", outcome: "timeout" }],
  "http_espn_fail.pcapng": [{ row: 12, client: "172.16.16.154:64862", outcome: "timeout" }],
  "ocs.pcap": [{ row: 13, client: "192.168.180.2:46166", outcome: "timeout" }],
  "custom_rules_same-ip_multiple_ports.pcapng": [{ row: 14, client: "192.168.1.245:", outcome: "timeout" }],
  // Linux aborts at the ICMPv6 no-route: unreachable (STATUS_NETWORK_UNREACHABLE).
  "ospf.pcap": [{ row: 15, client: "[2001:bef::a00:27ff:fe0d:5c3c]:34808", outcome: "unreachable" }],
  // macOS treats the ICMPv6 errors as soft and keeps retransmitting: a timeout.
  "kill_router6.pcap": [{ row: 16, client: "[2001:db8:1:0:306e:739d:dea6:99a4]:54114", outcome: "timeout" }],
  // Windows treats the ICMP host unreachable as soft and gives up after 2 retransmissions.
  "gnutella.pcap": [{ row: 17, client: "10.0.2.15:50231", outcome: "timeout" }],
  "split-handshake-4whs.pcap": [{ row: 18, client: "1.1.1.1:12345", outcome: "established" }],
  "split-handshake-5whs.pcap": [{ row: 19, client: "1.1.1.1:12345", outcome: "established" }],
  "sv.bug-6269-01_input.pcap": [{ row: 20, client: "[fd00:1:1::2]:39990", outcome: "established" }],
  "sv.http-missing-protocol_input.pcap": [{ row: 21, client: "192.168.140.10:49160", outcome: "established" }],
  "sv.bug-5881-01_input.pcap": [{ row: 22, client: "192.168.0.47:64731", outcome: "established" }],
  "syn_retransmit_with_ts.pcap": [{ row: 23, client: "10.38.251.146:33372", outcome: "established" }],
  "wechat.pcap": [{ row: 24, client: "192.168.1.103:54093", outcome: "established" }],
  "http.cap": [{ row: 25, client: "145.254.160.237:3372", outcome: "established" }],
  "certificate-with-sct.pcap": [{ row: 26, client: "192.168.6.107:57485", outcome: "established" }],
  // Row 27: the injected RST in SYN-SENT is ignored, the handshake completes, and "later
  // RSTs from the server side" end the connection: established, then reset.
  "rst-inject-rae.pcap": [{ row: 27, client: "1.2.0.2:2527", outcome: "reset" }],
  // Row 28: bare ACK -> client RST, SYN retransmitted, proper SYN-ACK: the handshake
  // completes (the server's RSTs at the end come after the client's FIN: a close, not a reset).
  "sv.base64-decode-5885_input.pcap": [{ row: 28, client: "192.168.100.67:57558", outcome: "established" }],
  "tcp-fast-open.pcap": [
    { row: 29, client: "10.99.99.1:55533", outcome: "established" },
    // TFO SYN data accepted by the server: without TFO our SYN-ACK check fails (explained).
    { row: 29, client: "10.99.99.1:55534", outcome: "established", replayed: "incomplete" },
  ],
  "tlpw-tcp-tfo-data-on-syn-nack.pcap": [{ row: 30, client: "192.168.0.44:57282", outcome: "established" }],
  "tcp_fastopen_segmentation.pcap": [
    { row: 31, client: "10.0.0.50:56288", outcome: "established", replayed: "incomplete" },
    { row: 31, client: "10.0.0.50:56290", outcome: "established", replayed: "incomplete" },
  ],
  "tcp-fastopen-10_input.pcap": [{ row: 32, client: "192.168.0.45:51615", outcome: "established" }],
  "accecn_handshake.pcap": [{ row: 33, client: "31.133.146.248:16433", outcome: "established" }],
  "sv.bug-4199-2_input.pcap": [{ row: 34, client: "10.211.55.2:65009", outcome: "established" }],
  // Row 35: the first SYN (seq 1111) gets a RST without ACK (ignored); the client then opens
  // again with seq 3333, which completes.
  "sv.bug-3844_input.pcap": [{ row: 35, client: "1.1.1.1:12345", outcome: "established" }],
};

function manifestFiles(): string[] {
  const text = readFileSync(MANIFEST, "utf8");
  const files: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\| (\d+) \| `([^`]+)` \|/.exec(line);
    if (m) files.push(m[2]!);
  }
  return files;
}

describe("replay of the public captures (../shared/pcaps)", () => {
  it.skipIf(absent)(`the manifest lists 35 captures, each with an expectation here ${why}`, () => {
    const files = manifestFiles();
    expect(files.length).toBe(35);
    for (const f of files) expect(EXPECTED[f], `no expectation for ${f}`).toBeDefined();
  });

  for (const [file, expects] of Object.entries(EXPECTED)) {
    it.skipIf(absent)(`${file} (row ${expects[0]!.row}) ${why}`, () => {
      const r = readCaptureFile(join(DIR, file));
      expect(r.ok, r.ok ? "" : r.reason).toBe(true);
      if (!r.ok) return;
      const fr = replayCapture(r.value, file, { trace: false });
      expect(fr.handshakes.length).toBeGreaterThan(0);
      for (const h of fr.handshakes) {
        // No exception and a complete report for every active open in the file.
        expect(h.replayed.status).toMatch(/^STATUS_/);
        expect(h.replayed.ntstatus).toMatch(/^0x[0-9A-F]{8}$/);
      }
      for (const e of expects) {
        const matches = fr.handshakes.filter((h) => h.client.startsWith(e.client));
        expect(matches.length, `connection ${e.client} not found`).toBeGreaterThan(0);
        // Several opens can share a client prefix (row 14: three ports; row 35: two attempts):
        // the last attempt is the one the row describes.
        const h = matches[matches.length - 1]!;
        expect(h.recorded.outcome, `${file} ${h.client}: ${h.recorded.detail}`).toBe(e.outcome);
        const want = e.replayed ?? e.outcome;
        expect(h.replayed.outcome, `${file} ${h.client}: ${h.replayed.detail}`).toBe(want);
        if (want !== e.outcome) {
          const d = h.diffs.find((x) => x.field === "outcome" || x.field === "end");
          expect(d?.explained, "an outcome difference must carry its explanation").toMatch(/^explained by/);
        }
      }
    });
  }
});
