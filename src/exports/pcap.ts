/// <reference path="../../stack/wire/buffer-layout.d.ts" preserve="true" />
// `synack/pcap`: pcap and pcapng reading (every link type the replay understands) and writing,
// with per-packet comments.
export * from "../../device/pcap/read.js";
export * from "../../device/pcap/write.js";
export { extractIp, type IpExtraction } from "../../device/pcap/link.js";
export { LinkType } from "../../device/pcap/format.js";
