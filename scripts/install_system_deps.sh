#!/usr/bin/env bash
# Debian packages for Open3D import (libusb, GL, EGL) and its headless renderer (Mesa, Vulkan).
set -u
PKGS="libusb-1.0-0 libgl1 libegl1 libegl-mesa0 libgl1-mesa-dri libvulkan1 mesa-vulkan-drivers xvfb"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != "0" ]; then
  echo "WARNING: missing system packages:$missing (run as root: apt-get install -y$missing)"; exit 0
fi
echo "installing system packages:$missing"
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null) \
  || echo "WARNING: apt-get failed; Open3D rendering tests will be skipped with a reason."
