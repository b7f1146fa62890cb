#!/usr/bin/env bash
# Fresh-machine setup: system packages, then qcompile itself with its test extras.
# Safe to re-run. Used by the README quick start and by .ci/run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
APT_PACKAGES=(build-essential cmake)
# Cortex-M cross builds and the QEMU tests (`qcompile verify --qemu`, `qcompile bench`)
APT_PACKAGES+=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)
# DSP intrinsics emulation checked against the real instructions (Armv7-A under qemu-arm)
APT_PACKAGES+=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user)
# static analysis of the generated C (tests/codegen/test_cppcheck.py)
APT_PACKAGES+=(cppcheck)
# Cortex-A (AArch64 Linux) cross builds, run under qemu-aarch64 (`verify --qemu`, `bench` on cortex-a*)
APT_PACKAGES+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
# AArch64 ASan/UBSan runtimes: the NEON kernels' sanitizer tests (tests/codegen/test_neon_kernels.py)
APT_PACKAGES+=(libasan8-arm64-cross libubsan1-arm64-cross)
# headless browser: tests/tools/test_report.py renders the `qcompile report` page
APT_PACKAGES+=(chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
python3 -m pip install --quiet --upgrade pip
python3 -m pip install --quiet "$root[test,bench]"
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
echo "qcompile $(python3 -c 'import qcompile; print(qcompile.__version__)') installed"
