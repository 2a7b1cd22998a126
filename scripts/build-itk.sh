#!/usr/bin/env bash
# Builds (once) a minimal ITK *build tree* from the Debian archive's source package and prints
# its path on the last line of stdout. External ITK modules can only be built against a build
# tree (ITKModuleExternal refuses install trees), so Debian's libinsighttoolkit5-dev cannot serve.
#
#   scripts/build-itk.sh [--cached] [VERSION] [python]
#       VERSION: a Debian source version prefix, default 5.2.1;
#       python: a tree with ITK's Python wrapping (float and double, 2D and 3D, the NumPy bridge):
#               ~45 min on 2 cores;
#       --cached: only look: print the path of a complete matching tree (exit 0) or nothing (exit 1).
#
# The tree is cached outside the clone in $CUDAFFT_CACHE (default ~/.cache/CudaFFTConvolution) as
# itk-UPSTREAM[-python]-build-KEY, KEY being 12 hex digits of a SHA-256 over the whole CMake option
# list (flavour and upstream version included) and a format version. It is reused when its stamp
# file .cudafft-complete holds the same key, so a changed option or module list builds a new tree
# instead of reusing one that lacks modules. A module build writes into the ITK tree (bin/,
# lib/cmake), so one tree serves one build at a time.
# Exit code 3: the requested version is not offered by the archive (callers may skip).
set -euo pipefail
cached_only=0
if [ "${1:-}" = --cached ]; then cached_only=1; shift; fi
version=${1:-5.2.1}
flavour=${2:-cxx}
case "$flavour" in cxx) suffix="" ;; python) suffix="-python" ;; *) echo "unknown flavour $flavour" >&2; exit 1 ;; esac
cache=${CUDAFFT_CACHE:-$HOME/.cache/CudaFFTConvolution}
here=$(cd "$(dirname "$0")" && pwd)
jobs=${CUDAFFT_JOBS:-$(nproc)}
# Bump when what a tree holds changes other than through its CMake options (e.g. the source patch below).
key_format=1

# itk_options UPSTREAM: sets the array `options` to the CMake options of a tree of this flavour.
itk_options() {
  local upstream=$1 modules extra=()
  modules=(-DModule_ITKTestKernel=ON -DModule_ITKIOMeta=ON -DModule_ITKIONIFTI=ON -DModule_ITKIOPNG=ON)
  case "$upstream" in
    5.2.*) extra+=(-DITK_USE_SYSTEM_DOUBLECONVERSION=ON) ;;
    *) extra+=(-DITK_USE_SYSTEM_DOUBLECONVERSION=OFF) ;;   # 5.4 needs a newer double-conversion than bookworm's
  esac
  if [ "$flavour" = python ]; then
    # Only what the Python tests use: without ITKTestKernel (which pulls in every IO module) the
    # wrapped tree is a fraction of the 54-module one; the C++ tests use the C++ tree.
    modules=(-DModule_ITKTestKernel=OFF -DModule_ITKIOMeta=OFF -DModule_ITKIONIFTI=OFF -DModule_ITKIOPNG=OFF)
    # Wrapping, not compiling, is what takes long (each wrapped class is castxml, SWIG and a large
    # compile): wrap only what the Python tests and a user of this module's filters reach (images,
    # regions, boundary conditions, the NumPy bridge, IO, the convolution and deconvolution
    # filters' bases), in the types they use. The rest of the dependency modules are built as C++
    # but not wrapped (the source patch below reads CUDAFFT_UNWRAPPED_MODULES).
    local unwrapped=(ITKImageIntensity ITKImageGrid ITKImageStatistics ITKThresholding ITKImageFunction
                     ITKPath ITKTransform ITKStatistics ITKSpatialObjects ITKMesh ITKQuadEdgeMesh
                     ITKImageCompose ITKImageLabel ITKSmoothing ITKImageCompare ITKImageSources
                     ITKImageAdaptors ITKIOMeshBase)
    local IFS=';'
    extra+=("-DCUDAFFT_UNWRAPPED_MODULES=${unwrapped[*]}")
    unset IFS
    extra+=(-DITK_WRAP_PYTHON=ON -DModule_ITKBridgeNumPy=ON
            -DITK_USE_SYSTEM_CASTXML=ON -DCASTXML_EXECUTABLE=/usr/bin/castxml
            -DITK_USE_SYSTEM_SWIG=ON -DSWIG_EXECUTABLE=/usr/bin/swig
            -DPython3_EXECUTABLE=/usr/bin/python3 -DITK_USE_PYTHON_LIMITED_API=OFF
            "-DITK_WRAP_IMAGE_DIMS=2;3" -DITK_WRAP_float=ON -DITK_WRAP_double=ON
            -DITK_WRAP_complex_float=OFF -DITK_WRAP_vector_float=ON
            -DITK_WRAP_unsigned_char=OFF -DITK_WRAP_signed_short=OFF -DITK_WRAP_covariant_vector_float=OFF
            -DITK_WRAP_rgb_unsigned_char=OFF -DITK_WRAP_rgba_unsigned_char=OFF)
  fi
  options=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DCMAKE_CXX_STANDARD=17
    -DBUILD_TESTING=OFF -DBUILD_EXAMPLES=OFF -DITK_FORBID_DOWNLOADS=ON -DITK_USE_KWSTYLE=OFF
    -DITK_BUILD_DEFAULT_MODULES=OFF -DITKGroup_Core=OFF
    -DModule_ITKCommon=ON -DModule_ITKFFT=ON -DModule_ITKConvolution=ON -DModule_ITKImageGrid=ON
    -DModule_ITKImageIntensity=ON -DModule_ITKImageFilterBase=ON -DModule_ITKIOImageBase=ON
    -DModule_ITKDeconvolution=ON -DModule_ITKIONRRD=ON -DModule_ITKGoogleTest=OFF "${modules[@]}"
    -DITK_USE_FFTWF=ON -DITK_USE_FFTWD=ON -DITK_USE_SYSTEM_FFTW=ON
    -DITK_USE_SYSTEM_GDCM=ON -DITK_USE_SYSTEM_PNG=ON -DITK_USE_SYSTEM_JPEG=ON
    -DITK_USE_SYSTEM_ZLIB=ON -DITK_USE_SYSTEM_EXPAT=ON "${extra[@]}")
}

# options_key UPSTREAM: the 12-hex-digit key of a tree of this flavour and upstream version.
options_key() {
  itk_options "$1"
  printf '%s\n' "format=$key_format" "flavour=$flavour" "upstream=$1" "${options[@]}" | sha256sum | cut -c1-12
}

# find_cached: prints a complete tree whose stamp holds the key of the options it would be built
# with today; the newest upstream version starting with the one asked for (5.4 matches 5.4.7).
# The upstream version comes from the name: itk-UPSTREAM[-python]-build-KEY.
find_cached() {
  local cached name upstream key
  for cached in $(ls -d "$cache"/itk-"$version"*"$suffix"-build-* 2>/dev/null | sort -V -r); do
    name=${cached##*/}; upstream=${name#itk-}; upstream=${upstream%-build-*}
    case "$upstream" in
      *-python) [ -n "$suffix" ] || continue; upstream=${upstream%-python} ;;
      *) [ -z "$suffix" ] || continue ;;
    esac
    key=$(options_key "$upstream")
    if [ "$name" = "itk-$upstream$suffix-build-$key" ] && [ -f "$cached/.cudafft-complete" ] &&
       [ "$(cat "$cached/.cudafft-complete")" = "$key" ]; then
      echo "$cached"; return 0
    fi
  done
  return 1
}

if [ "$cached_only" = 1 ]; then
  find_cached; exit
fi
mkdir -p "$cache"
"$here/install-deps.sh" >&2

# A cached tree needs no network.
if cached=$(find_cached); then
  echo "ITK build tree cached at $cached" >&2
  echo "$cached"; exit 0
fi

# patch_source SRC: source changes every tree gets (idempotent):
# - ITK 5.2's Python support names np.bool, which NumPy 1.24 removed;
# - modules named in CUDAFFT_UNWRAPPED_MODULES are built but not wrapped (no effect when the
#   variable is unset, as in the C++ trees).
patch_source() {
  local src=$1 wrapped_list=$1/Wrapping/Modules/CMakeLists.txt
  sed -i 's/itkCType("bool", "B", np.bool)/itkCType("bool", "B", np.bool_)/' \
    "$src/Wrapping/Generators/Python/itk/support/types.py"
  # A wrapped class whose base class lies in an unwrapped module is still wrapped, without the
  # base's methods: SWIG's warning 401 about it must not stop the build (-Werror).
  local generator=$1/Wrapping/Generators/Python/CMakeLists.txt
  if [ -f "$generator" ] && ! grep -q -- '-w401' "$generator"; then
    sed -i 's/^\( *\)-w302 # Identifier/\1-w401 # base class in a module built without wrapping (CUDAFFT_UNWRAPPED_MODULES)\n\1-w302 # Identifier/' "$generator"
  fi
  if [ -f "$wrapped_list" ] && ! grep -q CUDAFFT_UNWRAPPED_MODULES "$wrapped_list"; then
    sed -i '0,/if(EXISTS "${${m}_SOURCE_DIR}\/wrapping\/CMakeLists.txt")/s//if(EXISTS "${${m}_SOURCE_DIR}\/wrapping\/CMakeLists.txt" AND NOT m IN_LIST CUDAFFT_UNWRAPPED_MODULES)/' "$wrapped_list"
  fi
}

# upgrade_cached: a complete tree of this flavour and version built with other options (e.g. before
# a module was added) is reconfigured in place with today's options and rebuilt incrementally,
# minutes instead of a fresh build. A CMake tree cannot be renamed (it holds its own absolute
# path), so the name with today's key becomes a link to it and the stamp holds today's key.
upgrade_cached() {
  local old name upstream key
  for old in $(ls -d "$cache"/itk-"$version"*"$suffix"-build-* 2>/dev/null | sort -V -r); do
    # An upgrade interrupted before its stamp was rewritten resumes here too (ninja picks up).
    [ -d "$old" ] && [ ! -L "$old" ] && [ -f "$old/CMakeCache.txt" ] || continue
    name=${old##*/}; upstream=${name#itk-}; upstream=${upstream%-build-*}
    case "$upstream" in
      *-python) [ -n "$suffix" ] || continue; upstream=${upstream%-python} ;;
      *) [ -z "$suffix" ] || continue ;;
    esac
    [ -f "$cache/itk-$upstream-src/CMakeLists.txt" ] || continue
    key=$(options_key "$upstream")
    # A tree of today's key left unfinished is resumed by the fresh-build path below.
    [ "$name" != "itk-$upstream$suffix-build-$key" ] || continue
    itk_options "$upstream" # options_key ran it in a subshell: set `options` here too
    echo "upgrading the cached ITK tree $old to options key $key" >&2
    rm -f "$old/.cudafft-complete"
    patch_source "$cache/itk-$upstream-src"
    # set -e does not act inside a function called from an `if`: check each step, so that a
    # failed or interrupted rebuild is never stamped complete.
    cmake -S "$cache/itk-$upstream-src" -B "$old" "${options[@]}" >&2 || return 2
    nice -n 5 ninja -C "$old" -j "$jobs" >&2 || return 2
    ln -sfn "$old" "$cache/itk-$upstream$suffix-build-$key"
    echo "$key" > "$old/.cudafft-complete"
    echo "$cache/itk-$upstream$suffix-build-$key"; return 0
  done
  return 1
}
# upgrade_cached returns 1 when there is no tree to upgrade, 2 when the upgrade failed.
upgrade_status=0
upgraded=$(upgrade_cached) || upgrade_status=$?
if [ "$upgrade_status" -eq 0 ]; then
  echo "$upgraded"; exit 0
elif [ "$upgrade_status" -ne 1 ]; then
  echo "upgrading a cached ITK tree failed (run again to resume it)" >&2; exit 1
fi

# Source package via apt's own client with a deb-src list derived from the machine's apt
# sources; the development suite is added for versions newer than the release's.
apt_dir="$cache/apt"
mkdir -p "$apt_dir/lists/partial"
src_lists=0
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  sed 's/^Types: deb$/Types: deb-src/' "$f" > "$apt_dir/src-$(basename "$f")"; src_lists=1
done
if [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list; then
  sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$apt_dir/src-legacy.list"; src_lists=1
fi
[ "$src_lists" = 1 ] || { echo "no apt sources found to derive a deb-src entry from" >&2; exit 1; }
# A newer ITK lives in the development suite of the same archive: a copy of the main archive's
# entry (not the security one) with its suite changed.
for f in "$apt_dir"/src-*.sources; do
  case "$f" in *-devel.sources) continue;; esac
  awk 'BEGIN { RS = ""; ORS = "\n\n" } /URIs:[^\n]*debian\/?(\n|$)/ { print }' "$f" |
    sed 's/^Suites:.*/Suites: sid/' > "${f%.sources}-devel.sources"
done
aptopts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir" -o "Dir::State::Lists=$apt_dir/lists")
apt-get "${aptopts[@]}" -qq update >&2
full_version=$(apt-cache "${aptopts[@]}" showsrc insighttoolkit5 | sed -n 's/^Version: //p' | grep "^$version" | sort -V | tail -1 || true)
if [ -z "$full_version" ]; then
  echo "the archive offers no insighttoolkit5 source $version (has: $(apt-cache "${aptopts[@]}" showsrc insighttoolkit5 | sed -n 's/^Version: //p' | tr '\n' ' '))" >&2
  exit 3
fi
upstream=${full_version%%-*}
src="$cache/itk-$upstream-src"
key=$(options_key "$upstream")
build="$cache/itk-$upstream$suffix-build-$key"
if [ ! -f "$src/CMakeLists.txt" ]; then
  dl="$cache/download-$upstream"; mkdir -p "$dl"
  (cd "$dl" && apt-get "${aptopts[@]}" --download-only source "insighttoolkit5=$full_version" >&2)
  tarball=$(ls "$dl"/insighttoolkit5_"$upstream".orig.tar.* | head -1)
  rm -rf "$src.tmp"; mkdir -p "$src.tmp"
  # The bundled test data (.ExternalData, hundreds of MB) is not needed.
  tar -xf "$tarball" -C "$src.tmp" --strip-components=1 --exclude='*/.ExternalData' >&2
  rm -rf "$src"; mv "$src.tmp" "$src"
  rm -rf "$dl"
fi

patch_source "$src"
itk_options "$upstream"
echo "building ITK $upstream ($flavour, options key $key) in $build" >&2
# An interrupted build resumes where it stopped; the stamp is written last.
cmake -S "$src" -B "$build" "${options[@]}" >&2
nice -n 5 ninja -C "$build" -j "$jobs" >&2
echo "$key" > "$build/.cudafft-complete"
echo "ITK $version build tree ready at $build" >&2
echo "$build"
