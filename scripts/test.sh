#!/usr/bin/env bash
# Installs what the tests drive (real registry, skopeo, openssl, …) and runs every test.
# Usage: scripts/test.sh        (as root, or with sudo available for apt-get)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the integration tests use as real components.
PACKAGES=(docker-registry skopeo containerd openssl curl wrk nginx python3 ca-certificates apache2-utils debian-archive-keyring gpgv gnupg dpkg apt mount podman python3-pip chromium rpm dnf createrepo-c)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # Install services (nginx, containerd) without starting them: the tests and the benchmark
  # start their own instances on loopback ports.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  [ -z "$policy" ] || $SUDO rm -f "$policy"
fi

# The CycloneDX JSON schemas tests/it/bundle_sbom.rs validates against (cyclonedx-python-lib's
# bundled ones). Debian's python3 is externally managed (PEP 668): pip needs
# --break-system-packages there; a python3 of one's own takes the plain install.
if ! python3 -c 'import cyclonedx.validation.json, jsonschema' >/dev/null 2>&1; then
  echo "installing cyclonedx-python-lib[json-validation]"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  python3 -m pip --version >/dev/null 2>&1 || {
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-pip >/dev/null
  }
  $SUDO python3 -m pip install -q 'cyclonedx-python-lib[json-validation]' 2>/dev/null \
    || $SUDO python3 -m pip install -q --break-system-packages 'cyclonedx-python-lib[json-validation]'
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo nextest run --locked --no-fail-fast
