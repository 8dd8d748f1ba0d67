#!/usr/bin/env bash
# hv's one set-up step on a fresh Debian/Ubuntu machine: the system tools hv's tests and guests use,
# then the npm workspace (which brings Deno, nx, Effect and TypeScript). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A pkgs=(
  [gcc]=gcc [make]=make [ld]=binutils           # the probe guest is built with the machine's gcc
  [qemu-system-x86_64]=qemu-system-x86          # conformance: QEMU must accept `hv compose --format qemu`
  [virt-xml-validate]=libvirt-clients [xmllint]=libxml2-utils  # conformance: libvirt's schema must accept --format libvirt
)
missing=()
for cmd in "${!pkgs[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkgs[$cmd]}"); done
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "hv setup: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "hv setup: missing system packages: ${missing[*]} (sudo apt-get install ${missing[*]}); tests that need them will say so and skip" >&2
  fi
fi

npm install --no-audit --no-fund

# The guests (the built-in probe for `hv run`, test kernels), with the machine's gcc: never downloaded.
make -s -C tools/guests
