#!/usr/bin/env bash
# The one test command: installs what the tests need, builds in Release, runs every test project, and ends with
#   Tests: N passed, M failed, K skipped
# Exit status is non-zero when the build or a test failed, or when no test ran.
set -uo pipefail
cd "$(dirname "$0")/.."

log() { printf '[tests/run.sh] %s\n' "$*" >&2; }

# --- Debian packages the tests use (installed only when missing; needs root) -------------------------------
needed_packages=()
command -v redis-server >/dev/null 2>&1 || needed_packages+=(redis-server)
command -v ip >/dev/null 2>&1 || needed_packages+=(iproute2)
command -v ping >/dev/null 2>&1 || needed_packages+=(iputils-ping)
command -v curl >/dev/null 2>&1 || needed_packages+=(curl)
command -v ethtool >/dev/null 2>&1 || needed_packages+=(ethtool)
command -v openssl >/dev/null 2>&1 || needed_packages+=(openssl)
if [ ${#needed_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${needed_packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || log "apt-get update failed; trying the install anyway"
    apt-get install -y -qq --no-install-recommends "${needed_packages[@]}" >/dev/null 2>&1 \
      || log "could not install ${needed_packages[*]}; tests that need them report it"
  else
    log "missing ${needed_packages[*]} and not root: tests that need them report it"
  fi
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# --- Build ------------------------------------------------------------------------------------------------
log "building NatFramework.sln (Release)"
if ! dotnet build NatFramework.sln -c Release -nologo -v quiet; then
  echo "Tests: 0 passed, 1 failed, 0 skipped"
  log "build failed"
  exit 1
fi

# --- Test -------------------------------------------------------------------------------------------------
results=$(mktemp)
trap 'rm -f "$results"' EXIT
# One test project at a time (-m:1): several of them bound how long something takes (a conversation through a Redis
# failover, a LiteDB writer's durability window), and two cores shared by projects running at once stretched those.
dotnet test NatFramework.sln -c Release --no-build -nologo -m:1 2>&1 | tee "$results"
test_status=${PIPESTATUS[0]}

# Each test project ends with "Passed!  - Failed: F, Passed: P, Skipped: S, Total: T ..." (or "Failed!  - ...").
read -r passed failed skipped < <(
  grep -E '^(Passed|Failed)!  - Failed:' "$results" | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\2 \1 \3/' \
  | awk '{p+=$1; f+=$2; s+=$3} END {printf "%d %d %d\n", p, f, s}')
projects=$(grep -cE '^(Passed|Failed)!  - Failed:' "$results")

# A project that crashed prints no summary line: count it as a failure rather than let it pass silently.
if [ "$test_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
  log "dotnet test exited with $test_status without a failed test; counting it as a failure"
fi

echo "Tests: $passed passed, $failed failed, $skipped skipped"
if [ "$failed" -ne 0 ]; then exit 1; fi
if [ "$passed" -eq 0 ] || [ "$projects" -eq 0 ]; then log "no test ran"; exit 1; fi
exit 0
