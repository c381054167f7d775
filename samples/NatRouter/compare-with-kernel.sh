#!/usr/bin/env bash
# NatRouter side by side with the kernel's own NAT: the same inside client, outside server and measurements through
# (1) Linux forwarding with nftables masquerade between veth pairs, then (2) NatRouter between TUN interfaces and/or
# (3) NatRouter on the same veth pairs as the kernel, through AF_XDP (--port xdp), and a Markdown table of all with
# NatRouter's ratio to the kernel. Self-contained: namespaces, addresses, servers and clients are made here and removed
# at the end (also on failure or Ctrl-C). As root, on Debian; installs nftables, iperf3, iproute2, iputils-ping (and
# ethtool for xdp) when missing.
#
#   sudo samples/NatRouter/compare-with-kernel.sh                      # LRU store, TUN ports, one run
#   sudo RUNS=3 STORE=litedb samples/NatRouter/compare-with-kernel.sh
#   sudo PORTS="tun xdp" samples/NatRouter/compare-with-kernel.sh     # both ports, interleaved with the kernel
#
# STORE: lru (default) or litedb. RUNS: rounds of kernel-then-router (1). DURATION: seconds of each iperf3 and
# connection-rate measurement (5). UDP_RATE: the paced UDP test's rate (200M). ROUTER_ARGS: more `NatRouter run`
# options (e.g. --threads 1). PORTS: which NatRouter ports to measure, in order, after the kernel in each round
# (tun; "tun xdp"; xdp). Topology: inside host 10.77.0.2/24 (gateway 10.77.0.1), outside server 198.51.100.2/24,
# public address 198.51.100.1; the server has no route to 10.77.0.0/24, so only translated traffic can come back.
# Exit status: 0 when every measurement of both NATs succeeded (downloads byte for byte), 1 when one failed, 2 when
# the setup failed.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
store=${STORE:-lru}
runs=${RUNS:-1}
duration=${DURATION:-5}
udp_rate=${UDP_RATE:-200M}
ports=${PORTS:-tun}
[ "$(id -u)" = 0 ] || { echo "this builds network namespaces: run it as root" >&2; exit 2; }
case "$store" in lru | litedb) ;; *) echo "STORE must be lru or litedb" >&2; exit 2 ;; esac
for port in $ports; do case "$port" in tun | xdp) ;; *) echo "PORTS must name tun and/or xdp" >&2; exit 2 ;; esac; done

missing=()
command -v nft >/dev/null || missing+=(nftables)
command -v iperf3 >/dev/null || missing+=(iperf3)
command -v ip >/dev/null || missing+=(iproute2)
command -v ping >/dev/null || missing+=(iputils-ping)
case " $ports " in *" xdp "*) command -v ethtool >/dev/null || missing+=(ethtool) ;; esac
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; } \
        || { echo "could not install ${missing[*]}" >&2; exit 2; }
fi

id=$$
inside=cmpin$id router=cmprt$id outside=cmpout$id
work=$(mktemp -d /tmp/natrouter-compare.XXXXXX)
pids=()

teardown_network() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    pids=()
    for ns in "$inside" "$router" "$outside"; do
        # Servers started inside (from the measuring subshell) go with their namespace.
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    return 0
}
cleanup() { teardown_network; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
helper() { local ns=$1; shift; ip netns exec "$ns" dotnet "$work/router/NatRouter.dll" "$@"; }

# Starts a program in the background (in namespace $3, or this one when $3 is -) and waits, 60 s at most, until its
# output contains $2. The program is exec'd, so its PID is the one remembered.
start_waiting_for() {
    local out=$1 word=$2 ns=$3; shift 3
    if [ "$ns" = - ]; then "$@" >"$out" 2>&1 & else ip netns exec "$ns" "$@" >"$out" 2>&1 & fi
    pids+=($!)
    for _ in $(seq 600); do grep -q "$word" "$out" 2>/dev/null && return 0; sleep 0.1; done
    echo "did not start: $* ($(tail -n 3 "$out"))" >&2
    return 1
}

make_hosts() {
    ip netns add "$inside" && ip netns add "$outside" || return 1
    for ns in "$inside" "$outside"; do
        in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
        ip -n "$ns" link set lo up
    done
}

# The kernel's NAT: inside -veth- router namespace (forwarding, nftables masquerade) -veth- outside.
setup_kernel() {
    make_hosts || return 1
    ip netns add "$router" || return 1
    in_ns "$router" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv4.ip_forward=1
    ip -n "$router" link set lo up
    ip link add cmpa$id netns "$inside" type veth peer name cmpb$id netns "$router" || return 1
    ip link add cmpc$id netns "$router" type veth peer name cmpd$id netns "$outside" || return 1
    ip -n "$inside" addr add 10.77.0.2/24 dev cmpa$id && ip -n "$inside" link set cmpa$id up
    ip -n "$router" addr add 10.77.0.1/24 dev cmpb$id && ip -n "$router" link set cmpb$id up
    ip -n "$router" addr add 198.51.100.1/24 dev cmpc$id && ip -n "$router" link set cmpc$id up
    ip -n "$outside" addr add 198.51.100.2/24 dev cmpd$id && ip -n "$outside" link set cmpd$id up
    ip -n "$inside" route add default via 10.77.0.1 || return 1
    in_ns "$router" nft -f - <<EOF || return 1
table ip cmpnat {
    chain postrouting { type nat hook postrouting priority srcnat; oifname "cmpc$id" masquerade; }
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "cmpb$id" oifname "cmpc$id" accept
    }
}
EOF
}

router_store_args() {
    if [ "$store" = litedb ]; then rm -f "$work"/nat.db*; echo "--store litedb --litedb $work/nat.db"; else echo "--store lru"; fi
}

# NatRouter on TUNs: inside -TUN- NatRouter (this namespace) -TUN- outside, on persistent TUNs made in the host namespaces.
setup_tun() {
    make_hosts || return 1
    ip -n "$inside" tuntap add dev cmpp$id mode tun && ip -n "$inside" addr add 10.77.0.2/24 dev cmpp$id \
        && ip -n "$inside" link set cmpp$id up && ip -n "$inside" route add default dev cmpp$id || return 1
    ip -n "$outside" tuntap add dev cmpq$id mode tun && ip -n "$outside" addr add 198.51.100.2/24 dev cmpq$id \
        && ip -n "$outside" link set cmpq$id up || return 1
    # shellcheck disable=SC2046,SC2086 # the store's and ROUTER_ARGS's options are lists
    start_waiting_for "$work/router.log" ready - dotnet "$work/router/NatRouter.dll" run --private-tun cmpp$id --public-tun cmpq$id \
        --private-netns "$inside" --public-netns "$outside" --public-ip 198.51.100.1 $(router_store_args) ${ROUTER_ARGS:-}
}

# NatRouter on AF_XDP: the kernel's topology (veth pairs into a router namespace) with the router namespace's ends up,
# unaddressed and worked by NatRouter. The hosts' ends finish their checksums themselves (tx offload off), as a wire's
# senders do: an AF_XDP port gets frames as they are, and nothing would finish a checksum a local sender left open.
setup_xdp() {
    make_hosts || return 1
    ip netns add "$router" || return 1
    in_ns "$router" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip link add cmpa$id netns "$inside" type veth peer name cmpb$id netns "$router" || return 1
    ip link add cmpc$id netns "$router" type veth peer name cmpd$id netns "$outside" || return 1
    in_ns "$inside" ethtool -K cmpa$id tx off >/dev/null && in_ns "$outside" ethtool -K cmpd$id tx off >/dev/null || return 1
    ip -n "$inside" addr add 10.77.0.2/24 dev cmpa$id && ip -n "$inside" link set cmpa$id up
    ip -n "$router" link set cmpb$id up && ip -n "$router" link set cmpc$id up
    ip -n "$outside" addr add 198.51.100.2/24 dev cmpd$id && ip -n "$outside" link set cmpd$id up
    ip -n "$inside" route add default via 10.77.0.1 || return 1
    # shellcheck disable=SC2046,SC2086
    start_waiting_for "$work/router.log" ready - dotnet "$work/router/NatRouter.dll" run --port xdp --private-if cmpb$id --public-if cmpc$id \
        --private-netns "$router" --public-netns "$router" --public-ip 198.51.100.1 $(router_store_args) ${ROUTER_ARGS:-}
}

# One line per measurement: "<name> <value>", or "<name> FAILED" (with why on standard error).
measure() {
    local out
    out=$(in_ns "$inside" ping -c 10 -i 0.2 -q 198.51.100.2 2>&1)
    echo "ping_ms $(echo "$out" | awk -F/ '/^rtt|^round-trip/ { print $5 }' | grep . || { echo "ping: $out" >&2; echo FAILED; })"

    start_waiting_for "$work/http.log" listening "$outside" dotnet "$work/router/NatRouter.dll" helper-http-serve 198.51.100.2 8080 10000000 || { echo "http_mbit FAILED"; return; }
    out=$(helper "$inside" helper-http-get 198.51.100.2 8080 10000000 2>&1)
    if echo "$out" | grep -q "every byte as sent"; then
        echo "http_mbit $(echo "$out" | sed -nE 's/.*\(([0-9]+) Mbit\/s\).*/\1/p')"
    else
        echo "download: $out" >&2; echo "http_mbit FAILED"
    fi

    start_waiting_for "$work/iperf.log" listening "$outside" iperf3 -s --forceflush -B 198.51.100.2 || { echo "tcp_mbit FAILED"; return; }
    out=$(in_ns "$inside" iperf3 -c 198.51.100.2 -t "$duration" -f m 2>&1)
    echo "tcp_mbit $(echo "$out" | awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i-1) }' | grep . || { echo "iperf3 tcp: $out" >&2; echo FAILED; })"
    out=$(in_ns "$inside" iperf3 -c 198.51.100.2 -u -b "$udp_rate" -t "$duration" -f m 2>&1)
    echo "udp_mbit $(echo "$out" | awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i-1) }' | grep . || { echo "iperf3 udp: $out" >&2; echo FAILED; })"
    echo "udp_loss_pct $(echo "$out" | awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i ~ /^\([0-9.e+-]+%\)$/) { gsub(/[()%]/, "", $i); print $i } }' | grep . || echo FAILED)"
    # Small packets at full speed: 18-byte payloads (46-byte IP packets), unpaced; what the server received per second.
    out=$(in_ns "$inside" iperf3 -c 198.51.100.2 -u -b 0 -l 18 -t "$duration" -f m 2>&1)
    echo "small_udp_pps $(echo "$out" | awk -v d="$duration" '/receiver/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) { split($i, n, "/"); printf "%.0f\n", (n[2] - n[1]) / d } }' | grep . || { echo "iperf3 small udp: $out" >&2; echo FAILED; })"
    echo "small_udp_loss_pct $(echo "$out" | awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i ~ /^\([0-9.e+-]+%\)$/) { gsub(/[()%]/, "", $i); print $i } }' | grep . || echo FAILED)"

    start_waiting_for "$work/echo.log" listening "$outside" dotnet "$work/router/NatRouter.dll" helper-tcp-echo 198.51.100.2 7000 || { echo "connections_per_s FAILED"; return; }
    out=$(helper "$inside" helper-tcp-rate 198.51.100.2 7000 "$duration" 2>&1)
    echo "connections_per_s $(echo "$out" | sed -nE 's/.*\(([0-9]+) per second\), 0 failed.*/\1/p' | grep . || { echo "connection rate: $out" >&2; echo FAILED; })"
}

echo "publishing the router (Release)..." >&2
dotnet publish "$repo/samples/NatRouter" -c Release -o "$work/router" >"$work/publish.log" 2>&1 || { cat "$work/publish.log" >&2; exit 2; }

status=0
for run in $(seq "$runs"); do
    for nat in kernel $ports; do
        echo "run $run of $runs: $nat..." >&2
        if ! "setup_$nat"; then
            echo "setting up the $nat topology failed" >&2
            [ "$nat" != kernel ] && tail -n 20 "$work/router.log" >&2
            exit 2
        fi
        measure | sed "s/^/$nat $run /" | tee -a "$work/results" >&2
        teardown_network
    done
done
grep -q FAILED "$work/results" && status=1

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo
echo "Machine: $(nproc) vCPU ($cpu), $(free -g | awk '/^Mem:/ { print $2 }') GiB, kernel $(uname -r), .NET $(dotnet --version), store $store, ports $ports ${ROUTER_ARGS:-}; $runs run(s), values per run"
echo
awk -v ports="$ports" '
    { key = $3; value[$1, key] = value[$1, key] (value[$1, key] == "" ? "" : " / ") $4; v[$1, key, $2] = $4
      if (!(key in seen)) { seen[key] = 1; order[++n] = key } if ($2 > runs) runs = $2 }
    END {
        label["ping_ms"] = "ping RTT, average of 10 (ms)"; label["http_mbit"] = "HTTP 10 MB download (Mbit/s)"
        label["tcp_mbit"] = "iperf3 TCP (Mbit/s)"; label["udp_mbit"] = "iperf3 UDP, paced (Mbit/s)"
        label["udp_loss_pct"] = "  its loss (%)"; label["small_udp_pps"] = "iperf3 UDP, 46-byte packets unpaced (received/s)"
        label["small_udp_loss_pct"] = "  its loss (%)"; label["connections_per_s"] = "sequential TCP connections (per second)"
        p = split(ports, port, " ")
        header = "| measurement | kernel NAT |"; rule = "|---|---|"
        for (j = 1; j <= p; j++) { header = header " NatRouter, " port[j] " |"; rule = rule "---|" }
        for (j = 1; j <= p; j++) { header = header " " port[j] " / kernel |"; rule = rule "---|" }
        print header; print rule
        for (i = 1; i <= n; i++) {
            k = order[i]; line = "| " (k in label ? label[k] : k) " | " value["kernel", k] " |"
            for (j = 1; j <= p; j++) line = line " " value[port[j], k] " |"
            for (j = 1; j <= p; j++) {
                ratios = ""
                if (k !~ /loss/)
                    for (r = 1; r <= runs; r++)
                        if (v["kernel", k, r] + 0 > 0 && v[port[j], k, r] != "FAILED")
                            ratios = ratios (ratios == "" ? "" : " / ") sprintf("%.2f", v[port[j], k, r] / v["kernel", k, r])
                line = line " " ratios " |"
            }
            print line
        }
    }' "$work/results"
exit $status
