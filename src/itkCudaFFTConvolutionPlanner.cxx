/*=========================================================================
 *
 *  Copyright NumFOCUS
 *
 *  Licensed under the Apache License, Version 2.0 (the "License");
 *  you may not use this file except in compliance with the License.
 *  You may obtain a copy of the License at
 *
 *         https://www.apache.org/licenses/LICENSE-2.0.txt
 *
 *  Unless required by applicable law or agreed to in writing, software
 *  distributed under the License is distributed on an "AS IS" BASIS,
 *  WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 *  See the License for the specific language governing permissions and
 *  limitations under the License.
 *
 *=========================================================================*/
#include "itkCudaFFTConvolutionPlanner.h"

#include <algorithm>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace itk
{
namespace
{
using Planner = CudaFFTConvolutionPlanner;

std::uint64_t
RoundUp(std::uint64_t bytes, std::uint64_t granularity)
{
  return (bytes + granularity - 1) / granularity * granularity;
}

std::uint64_t
CeilDiv(std::uint64_t a, std::uint64_t b)
{
  return (a + b - 1) / b;
}

std::int64_t
KernelCentre(std::uint64_t kernelSize)
{
  return static_cast<std::int64_t>(kernelSize / 2);
}

/** All numbers in [lower, upper] whose prime factors are <= greatestPrimeFactor, ascending. */
std::vector<std::uint64_t>
SmoothNumbers(std::uint64_t lower, std::uint64_t upper, unsigned int greatestPrimeFactor)
{
  std::vector<std::uint64_t> numbers{ 1 };
  for (const std::uint64_t prime : { 2u, 3u, 5u, 7u, 11u, 13u })
  {
    if (prime > greatestPrimeFactor)
    {
      break;
    }
    const std::size_t count = numbers.size();
    for (std::size_t i = 0; i < count; ++i)
    {
      for (std::uint64_t value = numbers[i] * prime; value <= upper; value *= prime)
      {
        numbers.push_back(value);
      }
    }
  }
  std::sort(numbers.begin(), numbers.end());
  numbers.erase(std::remove_if(numbers.begin(), numbers.end(), [lower](std::uint64_t v) { return v < lower; }),
                numbers.end());
  return numbers;
}

/** One way to cut one axis: n tiles of nominal size t, FFT length f. */
struct AxisCut
{
  std::uint64_t tiles;
  std::uint64_t tileSize;
  std::uint64_t fftSize;
};

std::vector<AxisCut>
AxisCuts(std::uint64_t outputSize, std::uint64_t kernelSize, unsigned int greatestPrimeFactor)
{
  const std::uint64_t              wholeFFT = Planner::NextSmoothSize(outputSize + kernelSize - 1, greatestPrimeFactor);
  std::map<std::uint64_t, AxisCut> byTileCount;
  for (const std::uint64_t f : SmoothNumbers(kernelSize, wholeFFT, greatestPrimeFactor))
  {
    const std::uint64_t longest = std::min(outputSize, f - kernelSize + 1);
    const std::uint64_t tiles = CeilDiv(outputSize, longest);
    // Balance the tiles: the same count with the shortest tiles needs the smallest FFT.
    const std::uint64_t balanced = CeilDiv(outputSize, tiles);
    const std::uint64_t fft = Planner::NextSmoothSize(balanced + kernelSize - 1, greatestPrimeFactor);
    auto                found = byTileCount.find(tiles);
    if (found == byTileCount.end() || fft < found->second.fftSize)
    {
      byTileCount[tiles] = AxisCut{ tiles, balanced, fft };
    }
  }
  std::vector<AxisCut> cuts;
  for (const auto & entry : byTileCount)
  {
    cuts.push_back(entry.second);
  }
  return cuts;
}

void
CheckDimension(unsigned int dimension)
{
  if (dimension < 1 || dimension > Planner::MaximumDimension)
  {
    throw std::invalid_argument("image dimension must be 1, 2 or 3, not " + std::to_string(dimension));
  }
}

/** Start and length along one axis. */
struct AxisRange
{
  std::int64_t  index;
  std::uint64_t size;
};

/** One axis of OutputRegion, for an input axis [start, start + n) and a kernel of length k. */
AxisRange
OutputAxis(Planner::OutputRegionEnum mode, std::int64_t start, std::uint64_t n, std::uint64_t k)
{
  const std::int64_t  c = KernelCentre(k);
  const std::uint64_t twoC = 2 * static_cast<std::uint64_t>(c);
  switch (mode)
  {
    case Planner::OutputRegionEnum::SAME:
      break;
    case Planner::OutputRegionEnum::VALID:
      // Exactly ITK's ConvolutionImageFilterBase::GetValidRegion, index 0 included when empty;
      // an even kernel keeps one more voxel, one lower.
      if (n < twoC)
      {
        return AxisRange{ 0, 0 };
      }
      return k % 2 == 0 ? AxisRange{ start + c - 1, n - twoC + 1 } : AxisRange{ start + c, n - twoC };
    case Planner::OutputRegionEnum::FULL:
      return AxisRange{ start - c, (n == 0 || k == 0) ? 0 : n + k - 1 };
  }
  return AxisRange{ start, n };
}

/** The first and last input index one axis of a window [lo, hi] reads under a boundary
 * condition, for an input axis [first, last]; first > last when it reads none. */
std::pair<std::int64_t, std::int64_t>
SourceAxis(Planner::Boundary boundary, std::int64_t lo, std::int64_t hi, std::int64_t first, std::int64_t last)
{
  switch (boundary)
  {
    case Planner::Boundary::Constant:
      // Outside the image is the constant: only the overlap is read.
      return { std::max(lo, first), std::min(hi, last) };
    case Planner::Boundary::ZeroFluxNeumann:
      // Outside the image repeats the nearest edge voxel.
      return { std::min(std::max(lo, first), last), std::min(std::max(hi, first), last) };
    case Planner::Boundary::Periodic:
      // A window that wraps may read any voxel of the axis.
      if (lo < first || hi > last)
      {
        return { first, last };
      }
      break;
  }
  return { lo, hi };
}
} // namespace

std::uint64_t
CudaFFTConvolutionPlanner::Box::NumberOfVoxels() const
{
  return size[0] * size[1] * size[2];
}

bool
CudaFFTConvolutionPlanner::Box::IsEmpty() const
{
  return NumberOfVoxels() == 0;
}

bool
CudaFFTConvolutionPlanner::Box::IsInside(const Box & outer) const
{
  if (IsEmpty())
  {
    return true;
  }
  for (unsigned int a = 0; a < MaximumDimension; ++a)
  {
    if (index[a] < outer.index[a] ||
        index[a] + static_cast<std::int64_t>(size[a]) > outer.index[a] + static_cast<std::int64_t>(outer.size[a]))
    {
      return false;
    }
  }
  return true;
}

bool
CudaFFTConvolutionPlanner::Box::operator==(const Box & other) const
{
  return index == other.index && size == other.size;
}

std::uint64_t
CudaFFTConvolutionPlanner::MemoryEstimate::Peak() const
{
  // Counted as if everything were held at once: the estimate must never be below the peak.
  return fftBuffer + kernelSpectrum + workArea + planData + kernelUpload + sourceStaging + tileStaging + axisMaps +
         hostMappings;
}

CudaFFTConvolutionPlanner::Box
CudaFFTConvolutionPlanner::OutputRegion(OutputRegionEnum  mode,
                                        unsigned int      dimension,
                                        const Box &       inputLargest,
                                        const SizeArray & kernelSize)
{
  CheckDimension(dimension);
  Box output = inputLargest;
  for (unsigned int a = 0; a < dimension; ++a)
  {
    const AxisRange axis = OutputAxis(mode, inputLargest.index[a], inputLargest.size[a], kernelSize[a]);
    output.index[a] = axis.index;
    output.size[a] = axis.size;
  }
  return output;
}

CudaFFTConvolutionPlanner::Box
CudaFFTConvolutionPlanner::InputWindow(const Box & output, const SizeArray & kernelSize, unsigned int dimension)
{
  CheckDimension(dimension);
  Box window = output;
  for (unsigned int a = 0; a < dimension; ++a)
  {
    const std::int64_t below = static_cast<std::int64_t>(kernelSize[a]) - 1 - KernelCentre(kernelSize[a]);
    window.index[a] = output.index[a] - below;
    window.size[a] = output.size[a] == 0 ? 0 : output.size[a] + kernelSize[a] - 1;
  }
  return window;
}

CudaFFTConvolutionPlanner::Box
CudaFFTConvolutionPlanner::SourceRegion(const Box &  window,
                                        Boundary     boundary,
                                        const Box &  inputLargest,
                                        unsigned int dimension)
{
  CheckDimension(dimension);
  Box source = window;
  if (window.IsEmpty() || inputLargest.IsEmpty())
  {
    source.size = { { 0, 0, 0 } };
    return source;
  }
  for (unsigned int a = 0; a < dimension; ++a)
  {
    const std::int64_t lo = window.index[a];
    const std::int64_t hi = lo + static_cast<std::int64_t>(window.size[a]) - 1;
    const std::int64_t first = inputLargest.index[a];
    const std::int64_t last = first + static_cast<std::int64_t>(inputLargest.size[a]) - 1;
    const auto         range = SourceAxis(boundary, lo, hi, first, last);
    const std::int64_t from = range.first;
    const std::int64_t to = range.second;
    if (from > to)
    {
      source.size = { { 0, 0, 0 } };
      return source;
    }
    source.index[a] = from;
    source.size[a] = static_cast<std::uint64_t>(to - from + 1);
  }
  return source;
}

std::uint64_t
CudaFFTConvolutionPlanner::NextSmoothSize(std::uint64_t n, unsigned int greatestPrimeFactor)
{
  if (greatestPrimeFactor < 2)
  {
    throw std::invalid_argument("the greatest prime factor of FFT sizes must be at least 2");
  }
  for (std::uint64_t candidate = std::max<std::uint64_t>(n, 1);; ++candidate)
  {
    std::uint64_t rest = candidate;
    for (std::uint64_t p = 2; p <= greatestPrimeFactor && rest > 1; ++p)
    {
      while (rest % p == 0)
      {
        rest /= p;
      }
    }
    if (rest == 1)
    {
      return candidate;
    }
  }
}

std::uint64_t
CudaFFTConvolutionPlanner::NumberOfSpectrumElements(const SizeArray & fftSize)
{
  return (fftSize[0] / 2 + 1) * fftSize[1] * fftSize[2];
}

std::uint64_t
CudaFFTConvolutionPlanner::ModelWorkArea(const SizeArray & fftSize, unsigned int elementSize)
{
  return NumberOfSpectrumElements(fftSize) * 2 * elementSize;
}

CudaFFTConvolutionPlanner::MemoryEstimate
CudaFFTConvolutionPlanner::EstimateMemory(const SizeArray & fftSize,
                                          std::uint64_t     maxSourceVoxels,
                                          std::uint64_t     maxTileVoxels,
                                          std::uint64_t     kernelVoxels,
                                          unsigned int      stagingSlots,
                                          unsigned int      elementSize,
                                          std::uint64_t     workAreaBytes,
                                          std::uint64_t     granularity,
                                          std::uint64_t     planDataBytes,
                                          std::uint64_t     pageLockedHostBytes)
{
  const std::uint64_t g = std::max<std::uint64_t>(granularity, 1);
  MemoryEstimate      estimate;
  estimate.fftBuffer = RoundUp(NumberOfSpectrumElements(fftSize) * 2 * elementSize, g);
  estimate.kernelSpectrum = estimate.fftBuffer;
  estimate.workArea = RoundUp(workAreaBytes, g);
  estimate.planData = planDataBytes;
  estimate.kernelUpload = RoundUp(kernelVoxels * elementSize, g);
  estimate.sourceStaging = stagingSlots * RoundUp(maxSourceVoxels * elementSize, g);
  estimate.tileStaging = stagingSlots * RoundUp(maxTileVoxels * elementSize, g);
  estimate.axisMaps = stagingSlots * RoundUp((fftSize[0] + fftSize[1] + fftSize[2]) * sizeof(std::int64_t), g);
  estimate.hostMappings = RoundUp(pageLockedHostBytes / 512, g);
  return estimate;
}

// The steps of MakePlan, in the order it takes them.
namespace
{
using Box = Planner::Box;
using Boundary = Planner::Boundary;
using Plan = Planner::Plan;
using Request = Planner::Request;
using SizeArray = Planner::SizeArray;
using MemoryEstimate = Planner::MemoryEstimate;
/** Per axis, the ways to cut it (AxisCuts), the one-tile cut first. */
using CandidateCuts = std::array<std::vector<AxisCut>, Planner::MaximumDimension>;
/** One cut per axis: a tiling of the output region. */
using Tiling = std::array<AxisCut, Planner::MaximumDimension>;

/** What the search reads besides the request: the whole output region's window and source. */
struct PlanContext
{
  const Request & request;
  Box             wholeWindow;  //!< the input window of the whole output region
  Box             wholeSource;  //!< what that window reads under the boundary condition
  std::uint64_t   kernelVoxels; //!< the kernel upload and cached spectrum are sized by it
};

/** Refuses requests no plan can serve; these checks need nothing but the request. */
void
ValidateRequest(const Request & request)
{
  CheckDimension(request.dimension);
  if (request.elementSize != 4 && request.elementSize != 8)
  {
    throw std::invalid_argument("element size must be 4 (float) or 8 (double)");
  }
  for (unsigned int a = 0; a < Planner::MaximumDimension; ++a)
  {
    if (request.kernelSize[a] == 0)
    {
      throw std::invalid_argument("the kernel has a zero-length axis (axis " + std::to_string(a) + ")");
    }
    // Unused axes must be inert: every product over three axes (voxels, FFT sizes) relies on it.
    if (a >= request.dimension && (request.kernelSize[a] != 1 || request.output.size[a] != 1 ||
                                   request.inputLargest.size[a] != 1 || request.output.index[a] != 0))
    {
      throw std::invalid_argument("axes beyond the image dimension must have size 1 and index 0");
    }
  }
  if (request.inputLargest.IsEmpty())
  {
    throw std::invalid_argument("the input image is empty");
  }
}

/** A plan with the request's geometry and no tiles yet (the whole plan of an empty output). */
Plan
PlanHeader(const Request & request)
{
  Plan plan;
  plan.dimension = request.dimension;
  plan.output = request.output;
  plan.kernelSize = request.kernelSize;
  plan.boundary = request.boundary;
  plan.inputLargest = request.inputLargest;
  plan.elementSize = request.elementSize;
  return plan;
}

/** Refuses an output region with voxels the convolution does not define (outside FULL). */
void
CheckOutputRegion(const Request & request)
{
  const Box full =
    Planner::OutputRegion(Planner::OutputRegionEnum::FULL, request.dimension, request.inputLargest, request.kernelSize);
  if (!request.output.IsInside(full))
  {
    std::ostringstream message;
    message << "the output region " << request.output << " reaches beyond the full convolution " << full;
    throw std::invalid_argument(message.str());
  }
}

PlanContext
MakeContext(const Request & request)
{
  const Box wholeWindow = Planner::InputWindow(request.output, request.kernelSize, request.dimension);
  const Box wholeSource = Planner::SourceRegion(wholeWindow, request.boundary, request.inputLargest, request.dimension);
  const std::uint64_t kernelVoxels = request.kernelSize[0] * request.kernelSize[1] * request.kernelSize[2];
  return PlanContext{ request, wholeWindow, wholeSource, kernelVoxels };
}

/** Refuses an input buffer that lacks voxels the output needs: tiles read only the buffer. */
void
CheckInputBuffer(const Request & request, const Box & wholeSource)
{
  if (!wholeSource.IsInside(request.inputBuffered))
  {
    std::ostringstream message;
    message << "the input buffer " << request.inputBuffered << " does not hold the region " << wholeSource
            << " the output region " << request.output << " needs";
    throw std::invalid_argument(message.str());
  }
}

/** Axes beyond the dimension are never cut, nor is any axis without a budget (one tile). */
CandidateCuts
AllCandidateCuts(const Request & request)
{
  CandidateCuts cuts;
  for (unsigned int a = 0; a < Planner::MaximumDimension; ++a)
  {
    const std::uint64_t whole =
      Planner::NextSmoothSize(request.output.size[a] + request.kernelSize[a] - 1, request.greatestPrimeFactor);
    if (a >= request.dimension || request.memoryBudget == 0)
    {
      cuts[a] = { AxisCut{ 1, request.output.size[a], whole } };
    }
    else
    {
      cuts[a] = AxisCuts(request.output.size[a], request.kernelSize[a], request.greatestPrimeFactor);
    }
  }
  return cuts;
}

/** Largest source extent a tile of this cut can read along one axis. */
std::uint64_t
SourceExtent(const PlanContext & context, unsigned int a, const AxisCut & cut)
{
  const Request & request = context.request;
  if (cut.tiles == 1)
  {
    return context.wholeSource.size[a];
  }
  const std::uint64_t window = cut.tileSize + request.kernelSize[a] - 1;
  const Box &         whole = context.wholeWindow;
  const bool          crosses = whole.index[a] < request.inputLargest.index[a] ||
                       whole.index[a] + static_cast<std::int64_t>(whole.size[a]) >
                         request.inputLargest.index[a] + static_cast<std::int64_t>(request.inputLargest.size[a]);
  // A periodic tile that wraps reads the whole axis (SourceRegion), and one of them may wrap.
  if (request.boundary == Boundary::Periodic && crosses)
  {
    return request.inputLargest.size[a];
  }
  return std::min(window, request.inputLargest.size[a]);
}

/** EstimateMemory with the request's element size, granularity, plan data and page-locked bytes. */
MemoryEstimate
EstimateForRequest(const PlanContext & context,
                   const SizeArray &   fft,
                   std::uint64_t       sourceVoxels,
                   std::uint64_t       tileVoxels,
                   unsigned int        slots,
                   std::uint64_t       workAreaBytes)
{
  const Request & request = context.request;
  const bool      staged = !request.deviceResident;
  return Planner::EstimateMemory(fft,
                                 staged ? sourceVoxels : 0,
                                 staged ? tileVoxels : 0,
                                 context.kernelVoxels,
                                 staged ? slots : 1,
                                 request.elementSize,
                                 workAreaBytes,
                                 request.allocationGranularity,
                                 request.planDataBytes,
                                 request.pageLockedHostBytes);
}

SizeArray
FFTSizeOf(const Tiling & tiling)
{
  return { { tiling[0].fftSize, tiling[1].fftSize, tiling[2].fftSize } };
}

/** One tile is the fastest when it fits: the search is skipped then (a warm Update stays cheap). */
bool
OneTileFits(const PlanContext & context, const Tiling & first, std::uint64_t budget)
{
  const Request & request = context.request;
  const SizeArray fft = FFTSizeOf(first);
  const auto      whole = EstimateForRequest(context,
                                        fft,
                                        context.wholeSource.NumberOfVoxels(),
                                        request.output.NumberOfVoxels(),
                                        1,
                                        Planner::ModelWorkArea(fft, request.elementSize));
  return first[0].tiles == 1 && first[1].tiles == 1 && first[2].tiles == 1 && (budget == 0 || whole.Peak() <= budget);
}

/** Estimated time of a tiling in picoseconds: bytes over PCIe (~50 GB/s), passes over the FFT
 * buffer in device memory, and a fixed cost per tile. Only its order matters. */
double
TilingCost(const Request &   request,
           std::uint64_t     tiles,
           std::uint64_t     source,
           std::uint64_t     tile,
           const SizeArray & fft)
{
  const double bytes = static_cast<double>(request.elementSize);
  // Host transfers cost about 20 FFT-buffer passes per byte; device-resident reads and writes one.
  const double transfer = request.deviceResident ? 1.0 : 20.0;
  return static_cast<double>(tiles) *
         (transfer * bytes * static_cast<double>(source + tile) +
          4.0 * bytes * static_cast<double>(Planner::NumberOfSpectrumElements(fft) * 2) + 2.0e7);
}

/** The outcome of a search: the cheapest tiling that fits, and the smallest peak of all tilings
 * (what the error message reports when none fits). */
struct TilingSearch
{
  Tiling        best{};
  bool          found{ false };
  std::uint64_t smallestPeak{ std::numeric_limits<std::uint64_t>::max() };
};

/** Tries every combination of the axes' cuts; the first of equally cheap tilings wins. */
TilingSearch
SearchTilings(const PlanContext & context, const CandidateCuts & cuts, std::uint64_t budget)
{
  const Request & request = context.request;
  TilingSearch    search;
  double          bestCost = std::numeric_limits<double>::max();
  for (const AxisCut & c0 : cuts[0])
  {
    for (const AxisCut & c1 : cuts[1])
    {
      for (const AxisCut & c2 : cuts[2])
      {
        const Tiling        tiling{ { c0, c1, c2 } };
        const SizeArray     fft = FFTSizeOf(tiling);
        const std::uint64_t tiles = c0.tiles * c1.tiles * c2.tiles;
        const std::uint64_t source =
          SourceExtent(context, 0, c0) * SourceExtent(context, 1, c1) * SourceExtent(context, 2, c2);
        const std::uint64_t tile = c0.tileSize * c1.tileSize * c2.tileSize;
        const unsigned int  slots = tiles > 1 ? 2 : 1;
        const std::uint64_t peak =
          EstimateForRequest(context, fft, source, tile, slots, Planner::ModelWorkArea(fft, request.elementSize))
            .Peak();
        search.smallestPeak = std::min(search.smallestPeak, peak);
        if (budget != 0 && peak > budget)
        {
          continue;
        }
        const double cost = TilingCost(request, tiles, source, tile, fft);
        if (cost < bestCost)
        {
          bestCost = cost;
          search.best = tiling;
          search.found = true;
        }
      }
    }
  }
  return search;
}

/** The tiling to plan under this budget: one tile when it fits, else the cheapest that fits.
 * Throws std::length_error naming the smallest need; budget is the request's less what earlier
 * attempts found the exact work area to add, which the message adds back. */
Tiling
ChooseTiling(const PlanContext & context, const CandidateCuts & cuts, std::uint64_t budget)
{
  const Tiling first{ { cuts[0].front(), cuts[1].front(), cuts[2].front() } };
  if (OneTileFits(context, first, budget))
  {
    return first;
  }
  const TilingSearch search = SearchTilings(context, cuts, budget);
  if (!search.found)
  {
    const Request &    request = context.request;
    std::ostringstream message;
    message << "a GPU memory budget of " << request.memoryBudget << " bytes is too small: the smallest tiling of "
            << request.output << " with a kernel of " << request.kernelSize[0] << "x" << request.kernelSize[1] << "x"
            << request.kernelSize[2] << " needs " << search.smallestPeak + (request.memoryBudget - budget) << " bytes";
    throw std::length_error(message.str());
  }
  return search.best;
}

/** One tile of the grid: step[a] tiles along each axis from the output region's start. */
Planner::Tile
MakeTile(const Request & request, const SizeArray & tileSize, const SizeArray & step)
{
  Planner::Tile tile;
  for (unsigned int a = 0; a < Planner::MaximumDimension; ++a)
  {
    const std::uint64_t offset = step[a] * tileSize[a];
    tile.output.index[a] = request.output.index[a] + static_cast<std::int64_t>(offset);
    // The last tile along an axis takes what is left.
    tile.output.size[a] = std::min(tileSize[a], request.output.size[a] - offset);
  }
  const Box window = Planner::InputWindow(tile.output, request.kernelSize, request.dimension);
  tile.windowIndex = window.index;
  tile.source = Planner::SourceRegion(window, request.boundary, request.inputLargest, request.dimension);
  return tile;
}

/** Fills the plan's FFT size, tiles and staging sizes from a tiling (replacing earlier ones). */
void
CutTiles(const Request & request, const Tiling & tiling, Plan & plan)
{
  plan.fftSize = FFTSizeOf(tiling);
  plan.tileSize = { { tiling[0].tileSize, tiling[1].tileSize, tiling[2].tileSize } };
  plan.tiles.clear();
  plan.maxSourceVoxels = 0;
  plan.maxTileVoxels = 0;
  // Tiles in memory order (x fastest) so reads of the host buffer run forward.
  for (std::uint64_t i2 = 0; i2 < tiling[2].tiles; ++i2)
  {
    for (std::uint64_t i1 = 0; i1 < tiling[1].tiles; ++i1)
    {
      for (std::uint64_t i0 = 0; i0 < tiling[0].tiles; ++i0)
      {
        const Planner::Tile tile = MakeTile(request, plan.tileSize, { { i0, i1, i2 } });
        plan.maxSourceVoxels = std::max(plan.maxSourceVoxels, tile.source.NumberOfVoxels());
        plan.maxTileVoxels = std::max(plan.maxTileVoxels, tile.output.NumberOfVoxels());
        plan.tiles.push_back(tile);
      }
    }
  }
  // Two slots let one tile's transfers overlap the other's FFTs; device-resident tiles have no
  // transfers and run one after another.
  plan.stagingSlots = plan.tiles.size() > 1 && !request.deviceResident ? 2 : 1;
}

/** The memory of the tiles as cut, with the engine's work area when it gives one. */
MemoryEstimate
PlanMemory(const Request & request, const Plan & plan, std::uint64_t kernelVoxels)
{
  const std::uint64_t workArea = request.workArea ? request.workArea(plan.fftSize, request.dimension)
                                                  : Planner::ModelWorkArea(plan.fftSize, request.elementSize);
  const bool          staged = !request.deviceResident;
  MemoryEstimate      memory = Planner::EstimateMemory(plan.fftSize,
                                                  staged ? plan.maxSourceVoxels : 0,
                                                  staged ? plan.maxTileVoxels : 0,
                                                  kernelVoxels,
                                                  plan.stagingSlots,
                                                  request.elementSize,
                                                  workArea,
                                                  request.allocationGranularity,
                                                  request.planDataBytes,
                                                  request.pageLockedHostBytes);
  if (!staged)
  {
    // A device-resident run keeps every tile's axis maps on the device (uploaded once per plan).
    const std::uint64_t mapBytes = (plan.fftSize[0] + plan.fftSize[1] + plan.fftSize[2]) * sizeof(std::int64_t);
    memory.axisMaps = RoundUp(std::max<std::size_t>(plan.tiles.size(), 1) * mapBytes,
                              std::max<std::uint64_t>(request.allocationGranularity, 1));
  }
  return memory;
}
} // namespace

CudaFFTConvolutionPlanner::Plan
CudaFFTConvolutionPlanner::MakePlan(const Request & request)
{
  ValidateRequest(request);
  Plan plan = PlanHeader(request);
  if (request.output.IsEmpty())
  {
    return plan;
  }
  CheckOutputRegion(request);
  const PlanContext context = MakeContext(request);
  CheckInputBuffer(request, context.wholeSource);
  const CandidateCuts cuts = AllCandidateCuts(request);

  // The search runs on the model of the cuFFT work area; the engine's exact answer may be
  // larger. Then the budget is lowered by the excess and the search runs again (4 times at most).
  std::uint64_t budget = request.memoryBudget;
  for (int attempt = 0; attempt < 4; ++attempt)
  {
    CutTiles(request, ChooseTiling(context, cuts, budget), plan);
    plan.memory = PlanMemory(request, plan, context.kernelVoxels);
    if (request.memoryBudget == 0 || plan.memory.Peak() <= request.memoryBudget)
    {
      return plan;
    }
    const std::uint64_t excess = plan.memory.Peak() - request.memoryBudget;
    if (excess >= budget)
    {
      break;
    }
    budget -= excess;
  }
  std::ostringstream message;
  message << "a GPU memory budget of " << request.memoryBudget << " bytes is too small for " << request.output;
  throw std::length_error(message.str());
}

std::vector<std::int64_t>
CudaFFTConvolutionPlanner::AxisSourceMap(const Plan & plan, const Tile & tile, unsigned int axis)
{
  const std::uint64_t       fft = plan.fftSize[axis];
  std::vector<std::int64_t> map(fft, -1);
  if (tile.source.IsEmpty())
  {
    return map;
  }
  const std::uint64_t window = tile.output.size[axis] + plan.kernelSize[axis] - 1;
  const std::int64_t  first = plan.inputLargest.index[axis];
  const std::int64_t  count = static_cast<std::int64_t>(plan.inputLargest.size[axis]);
  const std::int64_t  last = first + count - 1;
  for (std::uint64_t p = 0; p < std::min(window, fft); ++p)
  {
    const std::int64_t g = tile.windowIndex[axis] + static_cast<std::int64_t>(p);
    std::int64_t       read = g;
    switch (plan.boundary)
    {
      case Boundary::Constant:
        if (g < first || g > last)
        {
          continue;
        }
        break;
      case Boundary::ZeroFluxNeumann:
        read = std::min(std::max(g, first), last);
        break;
      case Boundary::Periodic:
        read = first + (((g - first) % count) + count) % count;
        break;
    }
    map[p] = read - tile.source.index[axis];
  }
  return map;
}

CudaFFTConvolutionPlanner::IndexArray
CudaFFTConvolutionPlanner::CropOffset(const SizeArray & kernelSize)
{
  IndexArray offset{};
  for (unsigned int a = 0; a < MaximumDimension; ++a)
  {
    offset[a] = static_cast<std::int64_t>(kernelSize[a]) - 1 - KernelCentre(kernelSize[a]);
  }
  return offset;
}

std::uint64_t
CudaFFTConvolutionPlanner::DefaultMemoryBudget(std::uint64_t freeDeviceBytes, std::uint64_t heldBytes)
{
  // What this filter holds is freed before its next allocation, so it counts as free; the other
  // 20% is left for the driver, the context and other users of the device.
  return (freeDeviceBytes + heldBytes) / 10 * 8;
}

std::int64_t
CudaFFTConvolutionPlanner::KernelPlacement(std::uint64_t j, std::uint64_t kernelLength, std::uint64_t fftLength)
{
  if (fftLength == 0 || fftLength < kernelLength)
  {
    throw std::invalid_argument("the FFT length " + std::to_string(fftLength) +
                                " must be positive and hold the kernel length " + std::to_string(kernelLength));
  }
  // (j - c + F) mod F without a negative intermediate; c = floor(K/2) <= F/2 < F.
  const std::uint64_t centre = kernelLength / 2;
  return static_cast<std::int64_t>((j % fftLength + fftLength - centre) % fftLength);
}

std::ostream &
operator<<(std::ostream & out, const CudaFFTConvolutionPlanner::Box & box)
{
  return out << "[" << box.index[0] << ", " << box.index[1] << ", " << box.index[2] << "] + [" << box.size[0] << ", "
             << box.size[1] << ", " << box.size[2] << "]";
}
} // namespace itk
