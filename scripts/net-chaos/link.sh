#!/usr/bin/env bash
# A copy of the project's shared netlink/link.sh, extended for the net-chaos runner (reordering,
# payload corruption, duplication, connection resets, name resolution); see README.md beside it.
# A shaped network link between two hosts on this machine: network namespaces (client 10.99.0.1,
# server 10.99.0.2) joined by one veth pair; rate by tc tbf, one-way delay by delayq (beside this
# file: a userspace NFQUEUE delay line, since this kernel has no sch_netem). Nothing outside the two
# namespaces is touched. Needs root and, once:
#   apt-get install -y iproute2 iptables ethtool libnetfilter-queue-dev libmnl-dev gcc iperf3 iputils-ping
#
#   link.sh up RTT_MS [RATE]        create or reshape (RATE default 800mbit); LOSS_PCT / SLOSS_PCT env
#   link.sh loss CPCT [SPCT]        random drops of the client's packets (and the server's), per MTU
#                                   segment, on arrival at the other end; 0 = none
#   link.sh flap down|up            the client end administratively down / up (the peer loses carrier)
#   link.sh blackhole on|off        every packet arriving in the server namespace silently dropped
#   link.sh server|client CMD...    run CMD inside the server / client namespace
#   link.sh chaos reorder PCT HOLD_US | corrupt PCT FIX | off
#                                   chaosq (beside this file) on the client's packets as they arrive
#                                   in the server namespace, after the delay line; offload off meanwhile
#   link.sh dup CPCT                each client packet sent twice with probability CPCT % (iptables TEE)
#   link.sh reset on|off            every TCP packet arriving in the server namespace answered by a RST
#   link.sh name HOST on|off        HOST resolves to the server in the client namespace (its own
#                                   /etc/hosts, which `ip netns exec` mounts; no DNS server reachable)
#   link.sh counters                qdisc, loss-rule and blackhole counters, delay-line state
#   link.sh verify                  ping -U and a 5 s iperf3 across the link
#   link.sh down                    stop the delay lines, delete both namespaces
# Environment: NF_C, NF_S (namespace names, default rwsxc/rwsxs), NF_NET (the /30's first three
# octets, default 10.99.0: the client is .1, the server .2), NF_STATE (state folder).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
C=${NF_C:-rwsxc} S=${NF_S:-rwsxs} CIF=${NF_C:-rwsxc}0 SIF=${NF_S:-rwsxs}0 NET=${NF_NET:-10.99.0} CIP=${NF_NET:-10.99.0}.1 SIP=${NF_NET:-10.99.0}.2
STATE=${NF_STATE:-/tmp/rws-net-chaos}; mkdir -p "$STATE"
BIN=$STATE/delayq
IPT=iptables-legacy

stop_delay() { local f=$STATE/delayq-$1.pid pid; pid=$(cat "$f" 2>/dev/null) || return 0; rm -f "$f"
  if [ -n "$pid" ] && grep -qa delayq /proc/"$pid"/cmdline 2>/dev/null; then kill "$pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done; fi; }

has_ns() { ip netns list | grep -qw "^$1"; }

down() { stop_chaos; for ns in $C $S; do stop_delay $ns; if has_ns $ns; then ip netns del $ns; fi; done; rm -rf /etc/netns/$C; return 0; }

offload() { # on|off, unless loss still needs it off
  ip netns exec $C ethtool -K $CIF tso $1 gso $1 2>/dev/null || true
  ip netns exec $S ethtool -K $SIF tso $1 gso $1 2>/dev/null || true
}

stop_chaos() { local f=$STATE/chaosq.pid pid; pid=$(cat "$f" 2>/dev/null) || return 0; rm -f "$f"
  has_ns $S && ip netns exec $S $IPT -t mangle -F PREROUTING
  if [ -n "$pid" ] && grep -qa chaosq /proc/"$pid"/cmdline 2>/dev/null; then kill "$pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done; fi; }

chaos() { # reorder PCT HOLD_US | corrupt PCT FIX | off
  stop_chaos
  if [ "$1" = off ]; then offload on; return 0; fi
  offload off
  ip netns exec $S "$STATE/chaosq" 1 "$1" "$2" "$3" "${CHAOS_SEED:-1}" 3600 </dev/null >/dev/null 2>>"$STATE/chaosq.log" & echo $! >"$STATE/chaosq.pid"
  sleep 0.2
  ip netns exec $S $IPT -t mangle -A PREROUTING -i $SIF -p tcp -j NFQUEUE --queue-num 1 --queue-bypass
}

dup() { # CPCT
  ip netns exec $C $IPT -t mangle -F POSTROUTING
  if awk -v p="${1:-0}" 'BEGIN { exit !(p > 0) }'; then
    ip netns exec $C $IPT -t mangle -A POSTROUTING -o $CIF -m statistic --mode random \
      --probability "$(awk -v p="$1" 'BEGIN { printf "%.4f", p / 100 }')" -j TEE --gateway $SIP
  fi
}

name() { # HOST on|off
  mkdir -p /etc/netns/$C
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >/etc/netns/$C/resolv.conf
  # Rewritten in place (not replaced): running processes see the mounted file's new content.
  if [ "$2" = on ]; then printf '127.0.0.1 localhost\n%s %s\n' "$SIP" "$1" >/etc/netns/$C/hosts
  else printf '127.0.0.1 localhost\n' >/etc/netns/$C/hosts; fi
}

set_loss() { # CPCT SPCT
  # Random drops, per packet on the wire: a packet the client sends is dropped (with probability
  # CPCT %) as it arrives in the server namespace, and one the server sends (SPCT %) as it arrives in
  # the client namespace — in the raw table's PREROUTING, before the delay line. While any loss is
  # set, segmentation offload is off on both veth ends, so those packets are MTU-sized segments (the
  # stack's GSO packets, up to 64 KiB each, would otherwise be dropped 45 segments at a time).
  local pair pct ns dev any=0
  for pair in "$S $SIF ${1:-0}" "$C $CIF ${2:-0}"; do set -- $pair; ns=$1 dev=$2 pct=$3
    ip netns exec $ns $IPT -t raw -N NFLOSS 2>/dev/null || true
    ip netns exec $ns $IPT -t raw -F NFLOSS
    ip netns exec $ns $IPT -t raw -C PREROUTING -i $dev -j NFLOSS 2>/dev/null ||
      ip netns exec $ns $IPT -t raw -I PREROUTING 1 -i $dev -j NFLOSS
    if awk -v p="$pct" 'BEGIN { exit !(p > 0) }'; then any=1
      ip netns exec $ns $IPT -t raw -A NFLOSS -m statistic --mode random \
        --probability "$(awk -v p="$pct" 'BEGIN { printf "%.4f", p / 100 }')" -j DROP
    fi
  done
  local onoff=on; [ $any = 1 ] && onoff=off
  ip netns exec $C ethtool -K $CIF tso $onoff gso $onoff 2>/dev/null || true
  ip netns exec $S ethtool -K $SIF tso $onoff gso $onoff 2>/dev/null || true
}

up() {
  local rtt=${1:?RTT_MS} rate=${2:-800mbit} half_us
  half_us=$(awk -v r="$rtt" 'BEGIN { printf "%d", r * 500 }')
  [ -x "$BIN" ] && [ "$BIN" -nt "$HERE/delayq.c" ] || cc -O2 -o "$BIN" "$HERE/delayq.c" -lnetfilter_queue -lmnl
  [ -x "$STATE/chaosq" ] && [ "$STATE/chaosq" -nt "$HERE/chaosq.c" ] || cc -O2 -o "$STATE/chaosq" "$HERE/chaosq.c" -lnetfilter_queue -lmnl
  for ns in $C $S; do has_ns $ns || ip netns add $ns; done
  ip -n $C link show $CIF >/dev/null 2>&1 || ip -n $C link add $CIF type veth peer name $SIF netns $S
  ip -n $C addr replace $CIP/30 dev $CIF; ip -n $S addr replace $SIP/30 dev $SIF
  for pair in "$C $CIF" "$S $SIF"; do set -- $pair
    ip -n $1 link set lo up; ip -n $1 link set $2 up
    ip netns exec $1 tc qdisc replace dev $2 root tbf rate "$rate" burst 128kb limit 32mb
    stop_delay $1
    if [ "$half_us" -gt 0 ]; then
      ip netns exec $1 chrt -f 10 "$BIN" 0 "$half_us" 3600 </dev/null >/dev/null 2>>"$STATE/delayq-$1.log" & echo $! >"$STATE/delayq-$1.pid"
      sleep 0.2
      ip netns exec $1 $IPT -t raw -C PREROUTING -i $2 -j NFQUEUE --queue-num 0 2>/dev/null ||
        ip netns exec $1 $IPT -t raw -A PREROUTING -i $2 -j NFQUEUE --queue-num 0
    fi
  done
  ip netns exec $S $IPT -F INPUT
  set_loss "${LOSS_PCT:-0}" "${SLOSS_PCT:-0}"
  echo "client $CIP ($C) -> server $SIP ($S): rtt ${rtt} ms, rate $rate${LOSS_PCT:+, client loss $LOSS_PCT %}${SLOSS_PCT:+, server loss $SLOSS_PCT %}"
}

case ${1:-} in
  up) shift; up "$@" ;;
  down) down ;;
  loss) shift; set_loss "${1:-0}" "${2:-0}" ;;
  chaos) shift; chaos "$@" ;;
  dup) shift; dup "${1:-0}" ;;
  name) shift; name "$1" "$2" ;;
  reset)
    case ${2:-} in
      on) ip netns exec $S $IPT -C INPUT -p tcp -j REJECT --reject-with tcp-reset 2>/dev/null || ip netns exec $S $IPT -I INPUT 1 -p tcp -j REJECT --reject-with tcp-reset ;;
      off) while ip netns exec $S $IPT -D INPUT -p tcp -j REJECT --reject-with tcp-reset 2>/dev/null; do :; done ;;
      *) echo "reset on|off" >&2; exit 2 ;;
    esac ;;
  flap) case ${2:-} in down|up) ip -n $C link set $CIF "$2" ;; *) echo "flap down|up" >&2; exit 2 ;; esac ;;
  blackhole)
    case ${2:-} in
      on) ip netns exec $S $IPT -C INPUT -j DROP 2>/dev/null || ip netns exec $S $IPT -A INPUT -j DROP ;;
      off) while ip netns exec $S $IPT -D INPUT -j DROP 2>/dev/null; do :; done ;;
      *) echo "blackhole on|off" >&2; exit 2 ;;
    esac ;;
  server) shift; exec ip netns exec $S "$@" ;;
  client) shift; exec ip netns exec $C "$@" ;;
  counters)
    for pair in "$C $CIF" "$S $SIF"; do set -- $pair
      echo "[$1 $2] $(ip netns exec $1 tc -s qdisc show dev $2 | grep -o 'dropped [0-9]*, overlimits [0-9]*' | head -1)" \
        "| loss drops (arriving): $(ip netns exec $1 $IPT -t raw -L NFLOSS -v -n -x 2>/dev/null | awk '$3 == "DROP" { s += $1 } END { print s + 0 }')" \
        "| INPUT drops: $(ip netns exec $1 $IPT -L INPUT -v -n -x | awk '$3 == "DROP" { s += $1 } END { print s + 0 }')" \
        "| nfqueue: $(ip netns exec $1 awk '{ print "waiting", $3, "queue_dropped", $6, "user_dropped", $7 }' /proc/net/netfilter/nfnetlink_queue 2>/dev/null)"
    done ;;
  verify)
    ip netns exec $C ping -U -q -c 5 -i 0.2 $SIP | tail -1
    timeout 20 ip netns exec $S iperf3 -s -1 -B $SIP >/dev/null 2>&1 & sleep 0.5
    timeout 15 ip netns exec $C iperf3 -c $SIP -t 5 -f m | tail -3 ;;
  *) sed -n '2,27p' "$0"; exit 2 ;;
esac
