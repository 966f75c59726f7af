// Test helper: hex text (spaces and newlines allowed) <-> bytes.
export function hex(text: string): Uint8Array {
  const clean = text.replace(/[^0-9a-fA-F]/g, "");
  if (clean.length % 2 !== 0) throw new Error("odd hex length");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// Golden packets copied (as tcpdump -x hex) from the public captures listed in
// ../shared/pcaps/MANIFEST.md.

/** http_ip4and6.pcapng #1: Linux SYN 172.16.16.140:53350 > 172.16.16.139:80,
 * options [mss 1460,sackOK,TS val 417031 ecr 0,nop,wscale 7], checksum correct. */
export const LINUX_SYN_V4 = hex(`
4500 003c fadf 4000 4006 c6a4 ac10 108c
ac10 108b d066 0050 39ba a7d8 0000 0000
a002 7210 4d61 0000 0204 05b4 0402 080a
0006 5d07 0000 0000 0103 0307`);

/** http_ip4and6.pcapng: Linux SYN [2001:db8:1:2::1002]:35023 > [2001:db8:1:2::1000]:80,
 * options [mss 1440,sackOK,TS val 418281 ecr 0,nop,wscale 7], checksum correct. */
export const LINUX_SYN_V6 = hex(`
6000 0000 0028 0640 2001 0db8 0001 0002
0000 0000 0000 1002 2001 0db8 0001 0002
0000 0000 0000 1000 88cf 0050 cc33 c2dc
0000 0000 a002 7080 e1fa 0000 0204 05a0
0402 080a 0006 61e9 0000 0000 0103 0307`);

/** tcp_handshake.pcapng #1: Windows 7 SYN 172.16.16.128:2826 > 212.58.226.142:80,
 * options [mss 1460,nop,wscale 2,nop,nop,sackOK], checksum correct. */
export const WINDOWS_SYN_V4 = hex(`
4500 0034 317f 4000 8006 55eb ac10 1080
d43a e28e 0b0a 0050 dc02 2474 0000 0000
8002 2000 cfeb 0000 0204 05b4 0103 0302
0101 0402`);

/** one_tcp_rst.pcap #2: RST+ACK 10.1.1.6:20000 > 10.1.1.13:45264 seq 0 ack 3820339061,
 * with 6 bytes of Ethernet padding after the IP datagram. */
export const RST_ACK_V4_PADDED = hex(`
4500 0028 f561 4000 4006 2f5a 0a01 0106
0a01 010d 4e20 b0d0 0000 0000 e3b5 bf75
5014 0000 f79f 0000 0000 0000 0000`);

/** kill_router6.pcap: MLDv2 report fe80::250:b6ff:fe19:e650 > ff02::16 with a
 * hop-by-hop header carrying router alert (value 0, MLD) and PadN. */
export const MLD_REPORT_HBH = hex(
  "6000000000880001fe800000000000000250b6fffe19e650ff0200000000000000000000000000163a000502000001008f00de650000000604000000ff0200000000000000000000000000fb04000000ff0200000000000000000001ff00000204000000ff02000000000000000000000001000304000000ff0200000000000000000001ff00000004000000ff0200000000000000000001ff19e65004000000ff020000000000000000000000000002",
);

/** gnutella.pcap: ICMP host unreachable 10.0.2.2 > 10.0.2.15 quoting the IP header and
 * 8 bytes of a Windows SYN 10.0.2.15:50231 > 76.68.138.207:45079. */
export const ICMP_HOST_UNREACH = hex(`
45c0 0038 02c6 0000 ff01 a02e 0a00 0202
0a00 020f 0301 9ed9 0000 0000 4500 0034
6599 4000 7f06 b308 0a00 020f 4c44 8acf
c437 b017 d6e7 12ee`);

/** ospf.pcap: ICMPv6 destination unreachable code 0 (no route) 2001:bef::2 >
 * 2001:bef::a00:27ff:fe0d:5c3c quoting a Linux SYN :34808 > [2607:f8b0:400f:801::200e]:80. */
export const ICMPV6_NO_ROUTE = hex(`
600a 94e3 0058 3a40 2001 0bef 0000 0000
0000 0000 0000 0002 2001 0bef 0000 0000
0a00 27ff fe0d 5c3c 0100 7f78 0000 0000
600b 3484 0028 0640 2001 0bef 0000 0000
0a00 27ff fe0d 5c3c 2607 f8b0 400f 0801
0000 0000 0000 200e 87f8 0050 18f9 eda0
0000 0000 a002 7080 0129 0000 0204 05a0
0402 080a 0402 0477 0000 0000 0103 0307`);
