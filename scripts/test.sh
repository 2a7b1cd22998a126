#!/usr/bin/env bash
# Builds the module and runs its tests:
#  - against ITK 5.2.1 (Debian bookworm's source package): the C++ tests and the command-line
#    tool's tests; then against an ITK 5.2.1 tree with Python wrapping: the Python tests;
#  - the pip package (python/): its wheel built once, installed into a fresh virtual environment
#    with PyPI's itk-core, its tests and example notebook run there;
#  - against the newest ITK 5.4.x source package the archive offers (C++), when there is one;
#  - the host code again with AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer;
#  - first of all, the C++ and CUDA sources against .clang-format (ITK's style).
# GPU tests run where a CUDA device is present and are reported as skipped elsewhere.
#   scripts/test.sh [format cxx-5.2.1 python-package python-5.2.1 cxx-5.4 sanitizers]     default: all six
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
stages=("$@"); [ ${#stages[@]} -gt 0 ] || stages=(format cxx-5.2.1 python-5.2.1 python-package sanitizers cxx-5.4)
status=0
for stage in "${stages[@]}"; do
  echo "=== $stage ($(date +%T))"
  case "$stage" in
    format) "$repo/scripts/install-deps.sh" && "$repo/scripts/check-format.sh" || status=1; continue ;;
    sanitizers) "$repo/scripts/test-sanitizers.sh" || status=1; continue ;;
    python-package) "$repo/scripts/test-python-package.sh" || status=1; continue ;;
    python-*) flavour=python; version=${stage#python-} ;;
    cxx-*) flavour=cxx; version=${stage#cxx-} ;;
    *) echo "unknown stage $stage"; exit 2 ;;
  esac
  if [ "$flavour" = python ] && [ -n "${CUDAFFT_DEADLINE:-}" ] &&
     ! "$repo/scripts/build-itk.sh" --cached "$version" python >/dev/null 2>&1 &&
     [ $(( $(date +%s) + 45 * 60 )) -gt "$CUDAFFT_DEADLINE" ]; then
    # The wrapped tree (only the modules and types the Python side reaches) took 26 minutes on two
    # busy cores, the module's wrapping about 10 more; it runs second, so on a fresh machine it
    # starts with over 70 minutes left. This guard only keeps a slow machine from overrunning CI.
    echo "SKIPPED: too little time is left before the deadline to build the wrapped ITK tree; run scripts/test.sh $stage"
    continue
  fi
  set +e; itk_dir=$("$repo/scripts/build-itk.sh" "$version" "$flavour" | tail -1); rc=${PIPESTATUS[0]}; set -e
  if [ "$rc" -eq 3 ]; then
    echo "SKIPPED: the Debian archive offers no ITK $version source package here"; continue
  fi
  [ "$rc" -eq 0 ] || { echo "building ITK $version ($flavour) failed"; exit "$rc"; }
  if [ "$flavour" = python ]; then
    build="$repo/build-python$version"
    "$repo/scripts/build-module.sh" "$itk_dir" "$build" -DCudaFFTConvolution_BUILD_APPS=OFF
  else
    build="$repo/build-itk$version"
    "$repo/scripts/build-module.sh" "$itk_dir" "$build"
  fi
  # A wrapped module's test driver and Python files live in the ITK tree: one user at a time.
  (cd "$build" && flock "$itk_dir/.cudafft-lock" ctest --output-on-failure -j2) || status=1
done
exit $status
