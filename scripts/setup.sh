#!/usr/bin/env bash
# setup: one-shot, idempotent set-up of a machine for building and testing inheritune-rt.
#   bash scripts/setup.sh
# On Debian (as root): a WebGPU-capable CPU Vulkan driver (lavapipe: mesa-vulkan-drivers + libvulkan1,
# from bookworm-backports on Debian 12, whose own mesa 22.3 is too old for Dawn) for Node and Deno,
# and Debian's chromium for the browser test (its WebGPU adapter is the SwiftShader it bundles).
# Then `npm ci` (with ONNXRUNTIME_NODE_INSTALL(_CUDA)=skip: nothing fetched outside the npm registry) and
# `npm run build`. Already-installed packages are detected and apt is skipped.
# Never prompts (DEBIAN_FRONTEND=noninteractive, apt-get -y, npm with no stdin needed).
# Not root or not Debian: says what it would install and goes on with the npm steps.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { echo "[setup] $*"; }
export DEBIAN_FRONTEND=noninteractive

# "ii" and at least the given version (empty: any)
have_pkg() {
  local v
  v=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$1" 2>/dev/null) || return 1
  [[ $v == "ii "* ]] || return 1
  [[ -z ${2:-} ]] || dpkg --compare-versions "${v#ii }" ge "$2"
}

codename=""
[[ -r /etc/os-release ]] && codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
MESA_MIN=24   # Dawn needs a newer lavapipe than bookworm's 22.3
NEED="mesa-vulkan-drivers (>= $MESA_MIN) libvulkan1 chromium fonts-liberation"

if command -v apt-get >/dev/null && command -v dpkg-query >/dev/null && [[ $(id -u) -eq 0 ]]; then
  if have_pkg mesa-vulkan-drivers "$MESA_MIN" && have_pkg libvulkan1 && have_pkg chromium && have_pkg fonts-liberation; then
    log "apt: $NEED already installed, skipping apt"
  else
    if [[ $codename == bookworm ]]; then
      # a backports suite configured (one-line or deb822 format, not commented out)? Only the files
      # apt reads: sources.list and sources.list.d/*.list|*.sources (not e.g. *.disabled copies)
      if grep -qsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; then
        log "apt: bookworm-backports already configured"
      else
        log "apt: adding bookworm-backports (/etc/apt/sources.list.d/bookworm-backports.sources)"
        cat > /etc/apt/sources.list.d/bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
      fi
    fi
    APT=(apt-get -y -q -o Acquire::Retries=3 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    log "apt: update"
    "${APT[@]}" update
    if [[ $codename == bookworm ]]; then
      log "apt: installing mesa-vulkan-drivers libvulkan1 from bookworm-backports"
      "${APT[@]}" install --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1
    else
      log "apt: installing mesa-vulkan-drivers libvulkan1 ($codename)"
      "${APT[@]}" install --no-install-recommends mesa-vulkan-drivers libvulkan1
    fi
    log "apt: installing chromium fonts-liberation"
    "${APT[@]}" install --no-install-recommends chromium fonts-liberation
    have_pkg mesa-vulkan-drivers "$MESA_MIN" || { log "ERROR: mesa-vulkan-drivers >= $MESA_MIN did not install"; exit 1; }
  fi
  log "vulkan: $(dpkg-query -W -f='mesa-vulkan-drivers ${Version}' mesa-vulkan-drivers), icd: $(ls /usr/share/vulkan/icd.d/ 2>/dev/null | grep -o '^lvp[^ ]*' || echo 'no lavapipe icd!')"
else
  log "not root on Debian: skipping system packages. This project needs (Debian names): $NEED"
  log "  Debian 12: add bookworm-backports to apt sources, then"
  log "  apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1 && apt-get install chromium"
  log "  elsewhere: any Vulkan/Metal/D3D12 driver Dawn can use, and a Chromium/Chrome (or set CHROMIUM_PATH)"
fi

# onnxruntime-node (under the dev dependency @huggingface/transformers) would fetch its CUDA provider libraries from
# NuGet in its postinstall on linux/x64; the tests run it on the CPU, so nothing beyond the npm registry is fetched
export ONNXRUNTIME_NODE_INSTALL_CUDA=skip ONNXRUNTIME_NODE_INSTALL=skip
if [[ -f package-lock.json ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund
else
  log "npm install (no package-lock.json)"
  npm install --no-audit --no-fund
fi
log "npm run build"
npm run build
log "done"
