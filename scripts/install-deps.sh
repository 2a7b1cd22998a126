#!/usr/bin/env bash
# Installs, from Debian's packages, what building ITK, this module and its tests needs.
# Does nothing when everything is already there.
set -euo pipefail
pkgs=(ninja-build cmake g++ dpkg-dev xz-utils libfftw3-dev libgdcm-dev libpng-dev libjpeg-dev
      zlib1g-dev libexpat1-dev libdouble-conversion-dev libtclap-dev python3 python3-numpy python3-scipy
      python3-dev python3-venv castxml swig python3-pytest python3-dask python3-tifffile libvkfft-dev clang-format)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
