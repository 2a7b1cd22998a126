#!/usr/bin/env bash
# Builds the module and runs its tests against ITK 5.2.1 (Debian bookworm's source package) and,
# when the archive offers one, the newest ITK 5.4.x source package. GPU tests run where a CUDA
# device is present and are reported as skipped elsewhere.
#   scripts/test.sh [ITK_VERSION ...]       default: 5.2.1 5.4
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
versions=("$@"); [ ${#versions[@]} -gt 0 ] || versions=(5.2.1 5.4)
status=0
for version in "${versions[@]}"; do
  echo "=== ITK $version"
  set +e; itk_dir=$("$repo/scripts/build-itk.sh" "$version" | tail -1); rc=$?; set -e
  if [ $rc -eq 3 ]; then
    echo "SKIPPED: the Debian archive offers no ITK $version source package here"; continue
  fi
  [ $rc -eq 0 ] || { echo "building ITK $version failed"; exit $rc; }
  build="$repo/build-itk$version"
  "$repo/scripts/build-module.sh" "$itk_dir" "$build"
  # The module's test driver lives in the ITK tree, which one build at a time may use.
  (cd "$build" && flock "$itk_dir/.cudafft-lock" ctest --output-on-failure -j2) || status=1
done
exit $status
