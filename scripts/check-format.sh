#!/usr/bin/env bash
# Checks the C++ and CUDA sources against the repository's .clang-format (ITK's style) with
# Debian's clang-format; prints the files that differ and how to fix them.
#   scripts/check-format.sh          check (exit 1 when a file differs)
#   scripts/check-format.sh --fix    reformat in place
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
format=$(command -v clang-format-14 || command -v clang-format || true)
[ -n "$format" ] || { echo "clang-format not found: scripts/install-deps.sh installs it"; exit 2; }
mapfile -t files < <(git ls-files '*.h' '*.hxx' '*.cxx' '*.cpp' '*.c' '*.cu' '*.cuh')
if [ "${1:-}" = --fix ]; then
  "$format" -i --style=file "${files[@]}"
  exit 0
fi
differ=()
for file in "${files[@]}"; do
  "$format" --style=file --dry-run -Werror "$file" >/dev/null 2>&1 || differ+=("$file")
done
if [ ${#differ[@]} -gt 0 ]; then
  printf 'not formatted: %s\n' "${differ[@]}"
  echo "${#differ[@]} of ${#files[@]} files differ from .clang-format ($("$format" --version)); fix with scripts/check-format.sh --fix"
  exit 1
fi
echo "format: ${#files[@]} files follow .clang-format ($("$format" --version))"
