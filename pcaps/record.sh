#!/usr/bin/env bash
# Records the pcaps/ fixtures with the real Linux kernel as the client (docs/replay.md, "Fixtures").
#
#   sudo pcaps/record.sh [OUTDIR]        (default: the directory of this script)
#
# Three namespaces it creates and deletes: client -- router -- server, joined by veth pairs
# with 1 ms of netem delay on the client link (docs/devices.md: over a zero-delay veth the kernel
# can take an ICMP error as soft while the connecting process owns the socket). tcpdump runs
# in the client namespace. Servers are the kernel (python3 sockets) or scapy (crafted
# answers). Each fixture is NAME.pcap plus NAME.json with its expected outcome, the client's
# result (errno) and the sysctls/profile overrides the replay needs.
# Lab traffic goes only to addresses inside these namespaces.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${1:-$HERE}"
HELPER="$HERE/record_helper.py"
# Debian's python3-scapy lives in the system interpreter (a pyenv python3 may shadow it).
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON; elif [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
TAG="synack-rec-$$"
C="$TAG-c"; R="$TAG-r"; S="$TAG-s"
C4=10.201.1.2; R4C=10.201.1.1; R4S=10.201.2.1; S4=10.201.2.2
C6=fd00:201:1::2; R6C=fd00:201:1::1; R6S=fd00:201:2::1; S6=fd00:201:2::2
KERNEL="$(uname -r)"
PIN=""

[ "$(id -u)" = 0 ] || { echo "record.sh: needs root (network namespaces)" >&2; exit 2; }
for t in ip tc nft tcpdump python3; do command -v "$t" >/dev/null || { echo "record.sh: $t is missing" >&2; exit 2; }; done
"$PY" -c "import scapy" 2>/dev/null || { echo "record.sh: python3-scapy is missing (apt-get install python3-scapy)" >&2; exit 2; }

cleanup() {
  for ns in "$C" "$R" "$S"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT

setup() {
  ip netns add "$C"; ip netns add "$R"; ip netns add "$S"
  ip link add c0 netns "$C" type veth peer name rc netns "$R"
  ip link add s0 netns "$S" type veth peer name rs netns "$R"
  for ns in "$C" "$R" "$S"; do ip -n "$ns" link set lo up; done
  ip -n "$C" link set c0 up; ip -n "$R" link set rc up; ip -n "$R" link set rs up; ip -n "$S" link set s0 up
  ip -n "$C" addr add $C4/24 dev c0; ip -n "$C" -6 addr add $C6/64 dev c0 nodad
  ip -n "$R" addr add $R4C/24 dev rc; ip -n "$R" -6 addr add $R6C/64 dev rc nodad
  ip -n "$R" addr add $R4S/24 dev rs; ip -n "$R" -6 addr add $R6S/64 dev rs nodad
  ip -n "$S" addr add $S4/24 dev s0; ip -n "$S" -6 addr add $S6/64 dev s0 nodad
  ip -n "$C" route add default via $R4C; ip -n "$C" -6 route add default via $R6C
  ip -n "$S" route add default via $R4S; ip -n "$S" -6 route add default via $R6S
  ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  # The router has no default route: 10.201.9.0/24 and fd00:201:9::/64 give net unreachable.
  ip -n "$R" route add unreachable 10.201.8.0/24
  ip -n "$R" -6 route add unreachable fd00:201:8::/64
  ip -n "$R" route add prohibit 10.201.7.0/24
  ip -n "$R" -6 route add prohibit fd00:201:7::/64
  # 1 ms each way when the kernel has sch_netem; otherwise the ICMP fixtures' JSON says so
  # and the client's errno shows whether the kernel took the error as hard (it aborts at
  # once with EHOSTUNREACH/ENETUNREACH/ECONNREFUSED) or soft (it times out).
  if tc -n "$C" qdisc add dev c0 root netem delay 1ms 2>/dev/null && tc -n "$R" qdisc add dev rc root netem delay 1ms 2>/dev/null; then
    DELAY="1 ms netem each way"
  else
    DELAY="none (this kernel has no sch_netem)"
    echo "record.sh: warning: no netem here; recording without link delay" >&2
  fi
  # Without netem, keep the router's receive processing off the client's CPU (RPS) and pin
  # the client to CPU 0, so an ICMP error does not come back while connect() still holds
  # the socket lock (which makes Linux take it as a soft error, docs/devices.md).
  if [ "$(nproc)" -ge 2 ]; then
    ip netns exec "$R" sh -c 'echo 2 > /sys/class/net/rc/queues/rx-0/rps_cpus' 2>/dev/null || true
    PIN="taskset -c 0"
  fi
  # Kernel client defaults of this machine, except where a fixture changes them.
  ip netns exec "$C" sysctl -qw net.ipv4.tcp_syn_retries=6 net.ipv4.tcp_syn_linear_timeouts=4 2>/dev/null || true
  # Warm up neighbour caches so the first SYN is not delayed by ARP/ND.
  # (a refused connect to port 9 of the server, before any capture runs).
  ip netns exec "$C" "$PY" "$HELPER" client 4 $S4 9 plain 2 >/dev/null
  ip netns exec "$C" "$PY" "$HELPER" client 6 $S6 9 plain 2 >/dev/null
}

nft_server() { ip netns exec "$S" nft -f -; }
nft_reset() { ip netns exec "$S" nft flush ruleset; }

# record NAME FAMILY DSTADDR PORT MODE TIMEOUT OUTCOME STATUS DESCRIPTION [OVERRIDES-JSON] [SYSCTLS-JSON]
record() {
  local name=$1 fam=$2 dst=$3 port=$4 mode=$5 timeout=$6 outcome=$7 status=$8 desc=$9
  local overrides=${10:-"{}"} sysctls=${11:-"{}"}
  local pcap="$OUT/$name.pcap"
  ip netns exec "$C" tcpdump -i c0 -U -s 200 -w "$pcap" \
    "tcp or (icmp and icmp[0] != 0 and icmp[0] != 8) or (icmp6 and ip6[40] < 128)" >/dev/null 2>&1 &
  local tdpid=$!
  sleep 0.7
  local res resfile
  resfile=$(mktemp)
  ip netns exec "$C" $PIN "$PY" "$HELPER" client "$fam" "$dst" "$port" "$mode" "$timeout" >"$resfile" &
  local cpid=$!
  # The client prints its result as soon as connect() returns (a held connection stays open).
  for _ in $(seq 1 $((timeout * 10 + 20))); do [ -s "$resfile" ] && break; sleep 0.1; done
  sleep 0.4
  kill -INT $tdpid; wait $tdpid 2>/dev/null || true
  wait $cpid 2>/dev/null || true
  res=$(head -n1 "$resfile"); rm -f "$resfile"
  local client=$C4 server=$dst
  [ "$fam" = 6 ] && client=$C6
  "$PY" - "$OUT/$name.json" "$name" "$desc" "$fam" "$client" "$server" "$port" "$outcome" "$status" "$res" "$sysctls" "$overrides" \
    "Linux $KERNEL kernel client in a network namespace, tcpdump on its veth; link delay: $DELAY" <<'PY'
import json, sys
out, name, desc, fam, client, server, port, outcome, status, res, sysctls, overrides, how = sys.argv[1:]
with open(out, "w") as f:
    json.dump({
        "name": name,
        "description": desc,
        "family": int(fam),
        "client": client,
        "server": server,
        "port": int(port),
        "expected": {"outcome": outcome, "status": status},
        "kernelResult": json.loads(res),
        "sysctls": json.loads(sysctls),
        "overrides": json.loads(overrides),
        "recordedWith": how,
    }, f, indent=2)
    f.write("\n")
PY
  echo "$name: $res ($(stat -c %s "$pcap") bytes)"
}

kernel_server() { # FAMILY ADDR PORT
  ip netns exec "$S" "$PY" "$HELPER" server "$1" "$2" "$3" >/dev/null &
  sleep 0.4
}

crafted_server() { # KIND FAMILY PORT
  local addr=$S4; [ "$2" = 6 ] && addr=$S6
  # Keep the server kernel from answering the port itself (scapy answers).
  nft_server <<EOF
table inet rec {
  chain input_filter {
    type filter hook input priority 0;
    tcp dport $3 drop;
  }
}
EOF
  ip netns exec "$S" "$PY" "$HELPER" crafted "$1" "$2" s0 "$addr" "$3" >/dev/null 2>&1 &
  CRAFTED=$!
  sleep 2.5
}

setup
mkdir -p "$OUT"

# Success, data, FIN close (v4 and v6).
kernel_server 4 $S4 80
record v4-data-fin 4 $S4 80 data 5 established STATUS_SUCCESS "IPv4 handshake, 29-byte request, 29-byte reply, server FIN, client FIN"
kernel_server 6 $S6 80
record v6-data-fin 6 $S6 80 data 5 established STATUS_SUCCESS "IPv6 handshake, 29-byte request, 29-byte reply, server FIN, client FIN"

# Refused: no listener, the server kernel answers RST+ACK.
record v4-refused 4 $S4 81 plain 5 refused STATUS_CONNECTION_REFUSED "IPv4 SYN to a closed port: RST+ACK"
record v6-refused 6 $S6 81 plain 5 refused STATUS_CONNECTION_REFUSED "IPv6 SYN to a closed port: RST+ACK"

# Timeout: SYNs dropped at the server, one SYN retransmission, classic backoff.
nft_server <<EOF
table inet rec {
  chain input_filter {
    type filter hook input priority 0;
    tcp dport 82 drop;
  }
}
EOF
ip netns exec "$C" sysctl -qw net.ipv4.tcp_syn_retries=1 net.ipv4.tcp_syn_linear_timeouts=0
record v4-timeout 4 $S4 82 plain 10 timeout STATUS_IO_TIMEOUT "IPv4 SYNs dropped; tcp_syn_retries=1, tcp_syn_linear_timeouts=0: SYNs at 0 and 1 s, give-up at 3 s" \
  '{"synRetries":1,"synLinearTimeouts":0}' '{"net.ipv4.tcp_syn_retries":1,"net.ipv4.tcp_syn_linear_timeouts":0}'
record v6-timeout 6 $S6 82 plain 10 timeout STATUS_IO_TIMEOUT "IPv6 SYNs dropped; tcp_syn_retries=1, tcp_syn_linear_timeouts=0: SYNs at 0 and 1 s, give-up at 3 s" \
  '{"synRetries":1,"synLinearTimeouts":0}' '{"net.ipv4.tcp_syn_retries":1,"net.ipv4.tcp_syn_linear_timeouts":0}'
ip netns exec "$C" sysctl -qw net.ipv4.tcp_syn_retries=6 net.ipv4.tcp_syn_linear_timeouts=4
nft_reset

# ICMP errors from the router (routes) and the server (nft reject).
record v4-net-unreachable 4 10.201.9.2 80 plain 5 unreachable STATUS_NETWORK_UNREACHABLE "IPv4: the router has no route: ICMP net unreachable (3/0)"
record v6-no-route 6 fd00:201:9::2 80 plain 5 unreachable STATUS_NETWORK_UNREACHABLE "IPv6: the router has no route: ICMPv6 no route (1/0)"
record v4-host-unreachable 4 10.201.8.2 80 plain 5 unreachable STATUS_HOST_UNREACHABLE "IPv4: unreachable route at the router: ICMP host unreachable (3/1)"
record v6-unreachable-route 6 fd00:201:8::2 80 plain 5 unreachable STATUS_NETWORK_UNREACHABLE "IPv6: unreachable route at the router: ICMPv6 no route (1/0)"
record v4-admin-prohibited 4 10.201.7.2 80 plain 5 unreachable STATUS_HOST_UNREACHABLE "IPv4: prohibit route at the router: ICMP communication administratively prohibited (3/13)"
record v6-admin-prohibited 6 fd00:201:7::2 80 plain 5 unreachable STATUS_HOST_UNREACHABLE "IPv6: prohibit route at the router: ICMPv6 administratively prohibited (1/1)"
nft_server <<EOF
table inet rec {
  chain input_filter {
    type filter hook input priority 0;
    meta nfproto ipv4 tcp dport 83 reject with icmp type port-unreachable;
    meta nfproto ipv6 tcp dport 83 reject with icmpv6 type port-unreachable;
  }
}
EOF
record v4-port-unreachable 4 $S4 83 plain 5 unreachable STATUS_PORT_UNREACHABLE "IPv4: server rejects with ICMP port unreachable (3/3)"
record v6-port-unreachable 6 $S6 83 plain 5 unreachable STATUS_PORT_UNREACHABLE "IPv6: server rejects with ICMPv6 port unreachable (1/4)"
nft_reset

# SYN-ACK lost: the server's first SYN-ACK is dropped on its way out; the kernel client
# retransmits its SYN after 1 s and the server answers again.
nft_server <<EOF
table inet rec {
  chain output_filter {
    type filter hook output priority 0;
    tcp sport 84 tcp flags & (syn | ack) == (syn | ack) quota until 100 bytes drop;
  }
}
EOF
kernel_server 4 $S4 84
record v4-synack-lost 4 $S4 84 data 6 established STATUS_SUCCESS "IPv4: first SYN-ACK dropped at the server; SYN retransmitted at 1 s; handshake, data, FIN close"
nft_reset

# Crafted servers (scapy).
crafted_server badack 4 7000
record v4-synack-bad-ack 4 $S4 7000 plain 6 established STATUS_SUCCESS "IPv4: first SYN answered by a SYN-ACK acknowledging ISN+1001 (client answers RST seq=SEG.ACK); the retransmitted SYN gets a proper SYN-ACK; capture ends while established"
wait $CRAFTED 2>/dev/null || true; nft_reset
crafted_server rstnoack 4 7001
record v4-rst-without-ack 4 $S4 7001 plain 6 established STATUS_SUCCESS "IPv4: first SYN answered by a RST without ACK (ignored in SYN-SENT); the retransmitted SYN gets a SYN-ACK; capture ends while established"
wait $CRAFTED 2>/dev/null || true; nft_reset
crafted_server simopen 4 7002
record v4-simultaneous-open 4 $S4 7002 plain 6 established STATUS_SUCCESS "IPv4 simultaneous open: the SYN is answered by a bare SYN, the client sends SYN-ACK, the server ACKs; capture ends while established"
wait $CRAFTED 2>/dev/null || true; nft_reset
crafted_server simopen 6 7003
record v6-simultaneous-open 6 $S6 7003 plain 6 established STATUS_SUCCESS "IPv6 simultaneous open: the SYN is answered by a bare SYN, the client sends SYN-ACK, the server ACKs; capture ends while established"
wait $CRAFTED 2>/dev/null || true; nft_reset

echo "fixtures written to $OUT"
