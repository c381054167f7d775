#!/usr/bin/env bash
# Side by side with the kernel: runs the comparison harness (kernel nftables masquerade, then NatRouter on TUN
# interfaces, in network namespaces) and prints its figures as a Markdown table with NatRouter's ratio to the kernel
# and the project's targets. As root, on Debian; the harness installs what it needs.
#
#   sudo samples/NatRouter/compare-with-kernel.sh              # LRU store, one run
#   sudo RUNS=3 STORE=litedb samples/NatRouter/compare-with-kernel.sh
#
# HARNESS_DIR: where the harness is (default: ../shared/harness beside the repository).
# ROUTER_ARGS: more options for `NatRouter run` (e.g. --spin-us 1000).
# Exit status: the harness's (0 = every check passed).
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
harness=${HARNESS_DIR:-$repo/../shared/harness}
store=${STORE:-lru}
runs=${RUNS:-1}
if [ ! -x "$harness/run.sh" ]; then
    echo "harness not found at $harness (set HARNESS_DIR)" >&2
    exit 2
fi
if [ "$(id -u)" != 0 ]; then
    echo "the harness builds network namespaces: run this as root" >&2
    exit 2
fi

work=$(mktemp -d /tmp/natrouter-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "publishing the router (Release)..." >&2
dotnet publish "$repo/samples/NatRouter" -c Release -o "$work/router" >"$work/publish.log" 2>&1 || { cat "$work/publish.log" >&2; exit 2; }

case "$store" in
    lru) store_args="--store lru" ;;
    litedb) store_args="--store litedb --litedb $work/nat.db" ;;
    *) echo "STORE must be lru or litedb (redis needs a server: run the harness by hand with --store redis --redis HOST:PORT)" >&2; exit 2 ;;
esac
export ROUTER_CMD="dotnet $work/router/NatRouter.dll run --private-tun {priv} --public-tun {pub} --public-ip 198.51.100.1 $store_args ${ROUTER_ARGS:-}"

status=0
for run in $(seq "$runs"); do
    echo "run $run of $runs: kernel, then NatRouter ($store)..." >&2
    "$harness/run.sh" both >"$work/metrics.$run" 2>"$work/log.$run" || status=$?
    grep -E "all checks passed|FAIL" "$work/log.$run" >&2 || true
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo
echo "Machine: $(nproc) vCPU ($cpu), $(free -g | awk '/^Mem:/ {print $2}') GiB, kernel $(uname -r), .NET $(dotnet --version), store $store ${ROUTER_ARGS:-}, $(date -u +%Y-%m-%d)"
echo
cat "$work"/metrics.* | awk -v runs="$runs" '
    { split($1, key, "."); value[key[1], key[2]] = value[key[1], key[2]] (value[key[1], key[2]] == "" ? "" : " / ") $2; unit[key[2]] = $3
      if (key[1] == "kernel") k[key[2], ++kn[key[2]]] = $2; else u[key[2], ++un[key[2]]] = $2 }
    END {
        n = split("ping_rtt_avg http_mbit udp_mbit udp_loss tcp_mbit connrate", names, " ")
        target["ping_rtt_avg"] = "≤ 2×"; target["tcp_mbit"] = "≥ 0.15"; target["connrate"] = "≥ 0.8"
        print "| measurement | kernel NAT | NatRouter | ratio (NatRouter / kernel) | target |"
        print "|---|---|---|---|---|"
        for (i = 1; i <= n; i++) {
            m = names[i]; ratios = ""
            for (r = 1; r <= kn[m] && r <= un[m]; r++)
                if (k[m, r] + 0 > 0) ratios = ratios (ratios == "" ? "" : " / ") sprintf("%.2f", u[m, r] / k[m, r])
            printf "| %s (%s) | %s | %s | %s | %s |\n", m, unit[m], value["kernel", m], value["userspace", m], ratios, target[m]
        }
    }'
exit "$status"
