#!/usr/bin/env bash
# Checks what the test suite needs from the system, quietly when everything is there.
#  - commands: ip (iproute2), curl, promtool (prometheus), prometheus-alertmanager; for the packaging tests
#    setpriv (util-linux), useradd (passwd), dpkg-deb, dpkg-shlibdeps (dpkg-dev), systemd-analyze (systemd).
#    Missing ones are installed when we run as root on Debian (apt-get); otherwise the exact apt-get line is
#    printed and we exit 1.
#    The tests run their own Prometheus and Alertmanager on free loopback ports; the system services that the Debian
#    packages start on installation (prometheus on :9090, alertmanager on :9093/:9094) are not wanted, so when this
#    script installed those packages it stops and disables their services again.
#  - the live-kernel tests: root, `ip netns`, veth pairs, carrier counters in sysfs.
#    Without root they cannot run: under CI=true (where a skip is a failure) or with
#    NLE_REQUIRE_LIVE_TESTS=1 that is an error (exit 1); otherwise a loud warning, and the test
#    files report their live suites as skipped with the same reason.
set -euo pipefail

say() { printf 'ensure-system-packages: %s\n' "$*" >&2; }

# command -> Debian package
declare -A PKG_OF=(
  [ip]=iproute2
  [curl]=curl
  [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  # the packaging tests (test/packaging): run as another user with chosen capabilities, build and
  # install the Debian package, verify its systemd unit
  [setpriv]=util-linux
  [useradd]=passwd
  [dpkg-deb]=dpkg
  [dpkg-shlibdeps]=dpkg-dev
  [systemd-analyze]=systemd
  [chromium]=chromium
  # the forged-netlink test: a forger in an unprivileged user namespace (unshare, nsenter), written in python3
  [unshare]=util-linux
  [nsenter]=util-linux
  # and the flap test attaches a reader to a tun device (TUNSETIFF) from a small python3 script
  [python3]=python3
)

# Debian package -> the service its postinst starts (on a systemd machine without a policy-rc.d that forbids it)
declare -A SERVICE_OF=(
  [prometheus]=prometheus.service
  [prometheus-alertmanager]=prometheus-alertmanager.service
)

missing_pkgs=()
for cmd in "${!PKG_OF[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    missing_pkgs+=("${PKG_OF[$cmd]}")
  fi
done

is_root=0
[ "$(id -u)" -eq 0 ] && is_root=1

if [ "${#missing_pkgs[@]}" -gt 0 ]; then
  # stable order for the printed line
  mapfile -t missing_pkgs < <(printf '%s\n' "${missing_pkgs[@]}" | sort -u)
  install_line="apt-get install -y --no-install-recommends ${missing_pkgs[*]}"
  if [ "$is_root" -eq 1 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing missing packages: ${missing_pkgs[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive $install_line
    for cmd in "${!PKG_OF[@]}"; do
      command -v "$cmd" >/dev/null 2>&1 || { say "still missing after install: $cmd"; exit 1; }
    done
    # Only the binaries are needed: undo the services the installation started.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      for pkg in "${missing_pkgs[@]}"; do
        svc="${SERVICE_OF[$pkg]:-}"
        [ -n "$svc" ] || continue
        if systemctl disable --now "$svc" >/dev/null 2>&1; then
          say "stopped and disabled $svc (installed for its binary only; the tests start their own)"
        fi
      done
    fi
  else
    say "missing system packages: ${missing_pkgs[*]}"
    if command -v apt-get >/dev/null 2>&1; then
      say "install them with: sudo $install_line"
    else
      say "this is not a Debian system (no apt-get); install the equivalent of: ${missing_pkgs[*]}"
    fi
    exit 1
  fi
fi

# --- the live-kernel tests --------------------------------------------------------------------
if [ "$is_root" -ne 1 ]; then
  msg="the live-kernel tests need root (network namespaces); running as uid $(id -u)"
  if [ "${CI:-}" = "true" ] || [ "${NLE_REQUIRE_LIVE_TESTS:-}" = "1" ]; then
    say "$msg"
    say "CI=true: a skipped live-kernel test is a failure. Run the tests as root."
    exit 1
  fi
  say "WARNING: $msg; they will be reported as skipped (run as root, e.g. sudo npm test, to run them)"
  exit 0
fi

ns="nle-check-$$-0"
cleanup() { ip netns delete "$ns" >/dev/null 2>&1 || true; }
trap cleanup EXIT

fail_kernel() {
  say "kernel feature check failed: $1"
  [ -n "${2:-}" ] && say "  $2"
  exit 1
}

out=$(ip netns add "$ns" 2>&1) || fail_kernel "cannot create a network namespace (ip netns add)" "$out"
out=$(ip -n "$ns" link add name nlecheck0 type veth peer name nlecheck1 2>&1) \
  || fail_kernel "cannot create a veth pair inside a namespace (CONFIG_VETH)" "$out"
out=$(ip -n "$ns" link set dev nlecheck0 up 2>&1 && ip -n "$ns" link set dev nlecheck1 up 2>&1) \
  || fail_kernel "cannot bring a veth pair up" "$out"
out=$(ip netns exec "$ns" cat /sys/class/net/nlecheck0/carrier_down_count 2>&1) \
  || fail_kernel "no /sys/class/net/IF/carrier_down_count (kernel >= 4.16 needed; is /sys mounted for ip netns exec?)" "$out"
out=$(ip -n "$ns" -j link show dev nlecheck0 2>&1) \
  || fail_kernel "ip -j (JSON output) does not work: iproute2 too old?" "$out"
exit 0
