// Shell commands of the suites -> what they set (src/conformance/sysctl.ts).
import { describe, expect, it } from "vitest";
import { parseShellCommand } from "../../src/conformance/sysctl.js";

describe("parseShellCommand", () => {
  it("FreeBSD sysctl -w", () => {
    expect(parseShellCommand("sysctl -w net.inet.tcp.rfc1323=0")).toEqual([
      { kind: "sysctl", name: "net.inet.tcp.rfc1323", value: "0", via: "sysctl" },
    ]);
  });

  it("Linux sysctl -q, several assignments, quoted values, comments and redirections", () => {
    expect(parseShellCommand("sysctl -q net.ipv4.tcp_ecn=3  # fully enabled")).toEqual([
      { kind: "sysctl", name: "net.ipv4.tcp_ecn", value: "3", via: "sysctl" },
    ]);
    expect(parseShellCommand('sysctl -w net.ipv4.tcp_rmem="4096 87380 6291456" net.ipv4.tcp_sack=0')).toEqual([
      { kind: "sysctl", name: "net.ipv4.tcp_rmem", value: "4096 87380 6291456", via: "sysctl" },
      { kind: "sysctl", name: "net.ipv4.tcp_sack", value: "0", via: "sysctl" },
    ]);
    expect(
      parseShellCommand(
        "sysctl -q net.ipv4.tcp_fastopen_cookies=0 net.ipv6.tcp_fastopen_cookies=0 &> /dev/null ||\\\n       ip tcp_metrics flush all &> /dev/null",
      ),
    ).toEqual([
      { kind: "sysctl", name: "net.ipv4.tcp_fastopen_cookies", value: "0", via: "sysctl" },
      { kind: "sysctl", name: "net.ipv6.tcp_fastopen_cookies", value: "0", via: "sysctl" },
      { kind: "unknown", command: "ip tcp_metrics flush all &> /dev/null" },
    ]);
  });

  it("defaults.sh and set_sysctls.py in a multi-line init command", () => {
    expect(
      parseShellCommand(
        "../../common/defaults.sh\n ../../common/set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0 \\\n" +
          "                             /proc/sys/net/ipv4/tcp_min_tso_segs=10",
      ),
    ).toEqual([
      { kind: "defaults", suite: "google-packetdrill", script: "../../common/defaults.sh" },
      { kind: "sysctl", name: "net.ipv4.tcp_timestamps", value: "0", via: "set_sysctls.py" },
      { kind: "sysctl", name: "net.ipv4.tcp_min_tso_segs", value: "10", via: "set_sysctls.py" },
    ]);
    expect(parseShellCommand("./defaults.sh\nethtool -K tun0 tso off gso off\n")).toEqual([
      { kind: "defaults", suite: "linux-selftests", script: "./defaults.sh" },
      { kind: "unknown", command: "ethtool -K tun0 tso off gso off" },
    ]);
    expect(parseShellCommand("../common/defaults.sh")).toEqual([
      { kind: "defaults", suite: "google-packetdrill", script: "../common/defaults.sh" },
    ]);
  });

  it("restore script, pipelines and other commands", () => {
    expect(parseShellCommand("/tmp/sysctl_restore_${PPID}.sh")).toEqual([
      { kind: "restore", command: "/tmp/sysctl_restore_${PPID}.sh" },
    ]);
    expect(parseShellCommand("sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1")).toEqual([
      { kind: "unknown", command: "sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1" },
    ]);
    expect(
      parseShellCommand(
        "kldstat -q -m tcpmd5 || kldload tcpmd5; echo 'add 192.168.0.1 192.0.2.1 tcp 0x1000 -A tcp-md5 \"secret\" ;\n   add 192.0.2.1 192.168.0.1 tcp 0x1001 -A tcp-md5 \"secret\" ;' | setkey -c",
      ).map((a) => a.kind),
    ).toEqual(["unknown", "unknown", "unknown"]);
    // A sysctl read sets nothing.
    expect(parseShellCommand("sysctl net.inet.tcp.rfc1323")).toEqual([
      { kind: "unknown", command: "sysctl net.inet.tcp.rfc1323" },
    ]);
    expect(parseShellCommand("")).toEqual([]);
  });
});
