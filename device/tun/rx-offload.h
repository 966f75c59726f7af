// Receive offloads of the TUN device: what the kernel hands us behind a virtio-net header
// once it was told (TUNSETOFFLOAD with TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) that we complete
// checksums and cut large TCP segments ourselves. Pure functions over bytes: no fd, no Node.
//
// The header (struct virtio_net_hdr, include/uapi/linux/virtio_net.h; 10 bytes, fields in
// the host's byte order for a TUN without TUNSETVNETLE/BE):
//   flags        VIRTIO_NET_HDR_F_NEEDS_CSUM (1): the checksum field at csum_start +
//                csum_offset holds the pseudo-header sum only; the Internet checksum (RFC 1071)
//                of everything from csum_start to the end completes it.
//                VIRTIO_NET_HDR_F_DATA_VALID (2): the kernel already verified the checksum.
//   gso_type     NONE (0), TCPV4 (1), TCPV6 (4); ECN (0x80) or'ed in: CWR on the first
//                segment only. UDP (3) and UDP_L4 (5) were not offered: dropped.
//   hdr_len      a hint (the kernel puts the length of its linear buffer there): not used.
//   gso_size     payload bytes per segment of a GSO packet (the sender's MSS).
//
// What we give the stack is always what a link without offloads would carry: whole packets
// with complete, correct checksums (RFC 9293 §3.1 for TCP, RFC 791 for the IPv4 header), a
// GSO packet cut into gso_size segments, each with the packet's headers, its own sequence
// number, IPv4 total length, identification and header checksum (or IPv6 payload length),
// PSH and FIN only on the last segment and CWR only on the first (as the kernel's own
// software segmentation does, tcp_gso_segment()). The stack then verifies every checksum as
// it does for any link. Anything else is a drop with a reason, never a guess.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace synack_tun {
namespace rxoff {

constexpr size_t kHdrBytes = 10;
constexpr uint8_t kNeedsCsum = 1;
constexpr uint8_t kDataValid = 2;
constexpr uint8_t kGsoNone = 0, kGsoTcpV4 = 1, kGsoTcpV6 = 4, kGsoEcn = 0x80;

// Why a read was dropped. The names are what stats() and the drop handler report.
enum Drop : int {
  kOk = 0,
  kTruncated = 1,     // fewer bytes than the header
  kBadFlags = 2,      // flags other than NEEDS_CSUM and DATA_VALID
  kBadGsoType = 3,    // a gso_type we did not offer (UDP, UDP_L4, ECN without a type, unknown)
  kBadGsoSize = 4,    // gso_size 0 for a GSO packet
  kBadCsum = 5,       // csum_start/csum_offset outside the packet, or not the TCP checksum for GSO
  kBadGsoPacket = 6,  // a GSO packet that is not plain TCP in IPv4/IPv6 of the type and length it claims
  kDropReasons = 7,
};

inline const char* DropName(int d) {
  switch (d) {
    case kTruncated: return "vnet header truncated";
    case kBadFlags: return "vnet unknown flags";
    case kBadGsoType: return "vnet unknown gso_type";
    case kBadGsoSize: return "vnet bad gso_size";
    case kBadCsum: return "vnet bad csum_start or csum_offset";
    case kBadGsoPacket: return "vnet malformed gso packet";
    default: return "vnet ok";
  }
}

inline uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline void PutBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline uint32_t Be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) | (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// The one's complement sum of p[0, n) as a 16-bit number in network byte order, unfolded
// beyond that (the caller adds more and folds). RFC 1071 §2: the sum does not depend on the
// byte order it is computed in, so 8 bytes are added at a time in the host's order, with the
// carry wrapped around, and the folded result is swapped to network order at the end.
inline uint32_t SumBytes(const uint8_t* p, size_t n) {
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    acc += w;
    acc += (acc < w) ? 1 : 0;
  }
  if (i < n) {
    uint64_t w = 0;
    memcpy(&w, p + i, n - i);  // a trailing odd byte is padded with zero (RFC 1071 §1)
    acc += w;
    acc += (acc < w) ? 1 : 0;
  }
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  uint16_t s = static_cast<uint16_t>(acc);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  s = static_cast<uint16_t>((s >> 8) | (s << 8));
#endif
  return s;
}

inline uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

struct Header {
  uint8_t flags, gsoType;
  uint16_t hdrLen, gsoSize, csumStart, csumOffset;
};

inline Header ReadHeader(const uint8_t* h) {
  Header x;
  x.flags = h[0];
  x.gsoType = h[1];
  memcpy(&x.hdrLen, h + 2, 2);
  memcpy(&x.gsoSize, h + 4, 2);
  memcpy(&x.csumStart, h + 6, 2);
  memcpy(&x.csumOffset, h + 8, 2);
  return x;
}

// A GSO packet being cut: its bytes stay where they were read (or in a copy) until every
// segment has been written out.
struct Gso {
  const uint8_t* p = nullptr;
  size_t len = 0;
  size_t l3 = 0;       // where the TCP header starts
  size_t hdr = 0;      // IP + TCP headers
  size_t payload = 0;  // bytes after the headers
  size_t next = 0;     // payload bytes already written out
  uint16_t gsoSize = 0;
  bool v4 = true;
  uint32_t seg = 0;    // segments written out
  uint32_t addrSum = 0;  // the pseudo-header's addresses and protocol (RFC 9293 §3.1, RFC 8200 §8.1)

  bool active() const { return p != nullptr && next < payload; }
  uint32_t segments() const { return static_cast<uint32_t>((payload + gsoSize - 1) / gsoSize); }
  // Bytes of the largest segment still to come (the room the next EmitSegment needs).
  size_t maxSegmentBytes() const { return hdr + gsoSize; }
};

// Completes the checksum a NEEDS_CSUM header asks for, in place: the Internet checksum of
// p[start, n) (the field holds the pseudo-header sum) stored at start + offset. For UDP a
// result of 0 is sent as 0xffff (RFC 768: 0 means "no checksum").
inline void CompleteChecksum(uint8_t* p, size_t n, size_t start, size_t offset) {
  uint16_t c = static_cast<uint16_t>(~Fold(SumBytes(p + start, n - start)));
  uint8_t proto = (p[0] >> 4) == 4 ? p[9] : ((p[0] >> 4) == 6 ? p[6] : 0);
  if (c == 0 && proto == 17) c = 0xffff;
  PutBe16(p + start + offset, c);
}

// Whether csum_start/csum_offset name the TCP checksum of p[0, n): the TCP header right after
// an IPv4 header (not a fragment) or a fixed IPv6 header, checksum at offset 16 (RFC 9293 §3.1).
inline bool IsTcpChecksum(const uint8_t* p, size_t n, size_t start, size_t offset) {
  if (n < 1 || offset != 16) return false;
  if ((p[0] >> 4) == 4) {
    return n >= 20 && static_cast<size_t>(p[0] & 0x0f) * 4 == start && p[9] == 6 && (Be16(p + 6) & 0x3fff) == 0 && Be16(p + 2) == n;
  }
  return (p[0] >> 4) == 6 && n >= 40 && start == 40 && p[6] == 6 && static_cast<size_t>(Be16(p + 4)) + 40 == n;
}

// Examines one read: `h` the virtio-net header, p[0, n) the packet behind it (n may be 0).
// Returns kOk with *gso->p == nullptr for a packet to deliver as it is now (its partial
// checksum completed in place), kOk with gso set up for a GSO packet to cut with
// EmitSegment(), or a drop reason. *tcpChecksummed (when given) says whether the packet's TCP
// checksum was computed here (NEEDS_CSUM on the TCP checksum, every GSO segment) or verified
// by the kernel (DATA_VALID), so the stack need not sum the segment again.
inline int Classify(const uint8_t* h, size_t readBytes, uint8_t* p, size_t n, Gso* gso, bool* tcpChecksummed = nullptr) {
  gso->p = nullptr;
  if (tcpChecksummed != nullptr) *tcpChecksummed = false;
  if (readBytes < kHdrBytes) return kTruncated;
  Header x = ReadHeader(h);
  if ((x.flags & ~(kNeedsCsum | kDataValid)) != 0) return kBadFlags;
  const uint8_t type = static_cast<uint8_t>(x.gsoType & ~kGsoEcn);
  const bool needs = (x.flags & kNeedsCsum) != 0;
  if (type == kGsoNone) {
    if ((x.gsoType & kGsoEcn) != 0) return kBadGsoType;
    if (!needs) {
      // Complete already: verified by the kernel (DATA_VALID), or for the stack to verify.
      if (tcpChecksummed != nullptr) *tcpChecksummed = (x.flags & kDataValid) != 0;
      return kOk;
    }
    if (x.csumStart >= n || static_cast<size_t>(x.csumOffset) + 2 > n - x.csumStart) return kBadCsum;
    CompleteChecksum(p, n, x.csumStart, x.csumOffset);
    if (tcpChecksummed != nullptr) *tcpChecksummed = IsTcpChecksum(p, n, x.csumStart, x.csumOffset);
    return kOk;
  }
  if (type != kGsoTcpV4 && type != kGsoTcpV6) return kBadGsoType;
  if (x.gsoSize == 0) return kBadGsoSize;
  // Plain TCP in the IP version the type names, with lengths that match the read.
  size_t l3;
  const bool v4 = type == kGsoTcpV4;
  if (n < 1) return kBadGsoPacket;
  if (v4) {
    if ((p[0] >> 4) != 4) return kBadGsoPacket;
    l3 = static_cast<size_t>(p[0] & 0x0f) * 4;
    if (l3 < 20 || n < l3 + 20 || p[9] != 6 || Be16(p + 2) != n) return kBadGsoPacket;
    if ((Be16(p + 6) & 0x3fff) != 0) return kBadGsoPacket;  // MF or a fragment offset
  } else {
    if ((p[0] >> 4) != 6) return kBadGsoPacket;
    l3 = 40;
    if (n < l3 + 20 || p[6] != 6 || static_cast<size_t>(Be16(p + 4)) + 40 != n) return kBadGsoPacket;
  }
  const size_t hdr = l3 + static_cast<size_t>(p[l3 + 12] >> 4) * 4;
  if (hdr < l3 + 20 || hdr > n) return kBadGsoPacket;
  if ((p[l3 + 13] & 0x06) != 0) return kBadGsoPacket;  // SYN or RST: never cut into segments
  if (!needs || x.csumStart != l3 || x.csumOffset != 16) return kBadCsum;
  const size_t payload = n - hdr;
  if (tcpChecksummed != nullptr) *tcpChecksummed = true;
  if (payload <= x.gsoSize) {
    // One segment's worth: the packet as it is, checksum completed.
    CompleteChecksum(p, n, l3, 16);
    return kOk;
  }
  gso->p = p;
  gso->len = n;
  gso->l3 = l3;
  gso->hdr = hdr;
  gso->payload = payload;
  gso->next = 0;
  gso->gsoSize = x.gsoSize;
  gso->v4 = v4;
  gso->seg = 0;
  gso->addrSum = v4 ? SumBytes(p + 12, 8) + 6 : SumBytes(p + 8, 32) + 6;
  return kOk;
}

// Writes the next segment of `gso` at out (room: gso.maxSegmentBytes()) and returns its length.
inline size_t EmitSegment(Gso* g, uint8_t* out) {
  const size_t m = g->payload - g->next < g->gsoSize ? g->payload - g->next : g->gsoSize;
  const bool last = g->next + m >= g->payload;
  const size_t len = g->hdr + m;
  memcpy(out, g->p, g->hdr);
  memcpy(out + g->hdr, g->p + g->hdr + g->next, m);
  const size_t t = g->l3;
  if (g->v4) {
    PutBe16(out + 2, static_cast<uint16_t>(len));
    // Each segment its own identification, counting up from the packet's (the kernel's
    // software segmentation does the same); a DF datagram's id is free anyway (RFC 6864 §4.1).
    PutBe16(out + 4, static_cast<uint16_t>(Be16(g->p + 4) + g->seg));
    out[10] = out[11] = 0;
    PutBe16(out + 10, static_cast<uint16_t>(~Fold(SumBytes(out, t))));
  } else {
    PutBe16(out + 4, static_cast<uint16_t>(len - 40));
  }
  PutBe32(out + t + 4, Be32(g->p + t + 4) + static_cast<uint32_t>(g->next));
  if (!last) out[t + 13] &= static_cast<uint8_t>(~0x09);  // PSH (0x08), FIN (0x01): last segment only
  if (g->seg > 0) out[t + 13] &= static_cast<uint8_t>(~0x80);  // CWR: first segment only
  out[t + 16] = out[t + 17] = 0;
  const size_t tcpLen = len - t;
  uint32_t sum = g->addrSum + static_cast<uint32_t>(tcpLen) + SumBytes(out + t, tcpLen);
  PutBe16(out + t + 16, static_cast<uint16_t>(~Fold(sum)));
  g->next += m;
  g->seg++;
  if (!(g->next < g->payload)) g->p = nullptr;
  return len;
}

}  // namespace rxoff
}  // namespace synack_tun
