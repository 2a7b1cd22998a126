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
#include <cmath>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>

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
  const std::uint64_t   wholeFFT = Planner::NextSmoothSize(outputSize + kernelSize - 1, greatestPrimeFactor);
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
CudaFFTConvolutionPlanner::OutputRegion(OutputRegionEnum   mode,
                                        unsigned int       dimension,
                                        const Box &        inputLargest,
                                        const SizeArray &  kernelSize)
{
  CheckDimension(dimension);
  Box output = inputLargest;
  for (unsigned int a = 0; a < dimension; ++a)
  {
    const std::uint64_t k = kernelSize[a];
    const std::uint64_t n = inputLargest.size[a];
    const std::int64_t  c = KernelCentre(k);
    switch (mode)
    {
      case OutputRegionEnum::SAME:
        break;
      case OutputRegionEnum::VALID:
        // Exactly ITK's ConvolutionImageFilterBase::GetValidRegion.
        if (n < 2 * static_cast<std::uint64_t>(c))
        {
          output.index[a] = 0;
          output.size[a] = 0;
        }
        else
        {
          output.index[a] = inputLargest.index[a] + c;
          output.size[a] = n - 2 * static_cast<std::uint64_t>(c);
          if (k % 2 == 0)
          {
            output.index[a] -= 1;
            output.size[a] += 1;
          }
        }
        break;
      case OutputRegionEnum::FULL:
        output.index[a] = inputLargest.index[a] - c;
        output.size[a] = (n == 0 || k == 0) ? 0 : n + k - 1;
        break;
    }
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
    std::int64_t       from = lo;
    std::int64_t       to = hi;
    switch (boundary)
    {
      case Boundary::Constant:
        from = std::max(lo, first);
        to = std::min(hi, last);
        break;
      case Boundary::ZeroFluxNeumann:
        from = std::min(std::max(lo, first), last);
        to = std::min(std::max(hi, first), last);
        break;
      case Boundary::Periodic:
        if (lo < first || hi > last)
        {
          from = first;
          to = last;
        }
        break;
    }
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

CudaFFTConvolutionPlanner::Plan
CudaFFTConvolutionPlanner::MakePlan(const Request & request)
{
  const unsigned int dimension = request.dimension;
  CheckDimension(dimension);
  if (request.elementSize != 4 && request.elementSize != 8)
  {
    throw std::invalid_argument("element size must be 4 (float) or 8 (double)");
  }
  for (unsigned int a = 0; a < MaximumDimension; ++a)
  {
    if (request.kernelSize[a] == 0)
    {
      throw std::invalid_argument("the kernel has a zero-length axis (axis " + std::to_string(a) + ")");
    }
    if (a >= dimension && (request.kernelSize[a] != 1 || request.output.size[a] != 1 ||
                           request.inputLargest.size[a] != 1 || request.output.index[a] != 0))
    {
      throw std::invalid_argument("axes beyond the image dimension must have size 1 and index 0");
    }
  }
  if (request.inputLargest.IsEmpty())
  {
    throw std::invalid_argument("the input image is empty");
  }

  Plan plan;
  plan.dimension = dimension;
  plan.output = request.output;
  plan.kernelSize = request.kernelSize;
  plan.boundary = request.boundary;
  plan.inputLargest = request.inputLargest;
  plan.elementSize = request.elementSize;
  if (request.output.IsEmpty())
  {
    return plan;
  }
  const Box full = OutputRegion(OutputRegionEnum::FULL, dimension, request.inputLargest, request.kernelSize);
  if (!request.output.IsInside(full))
  {
    std::ostringstream message;
    message << "the output region " << request.output << " reaches beyond the full convolution " << full;
    throw std::invalid_argument(message.str());
  }
  const Box wholeWindow = InputWindow(request.output, request.kernelSize, dimension);
  const Box wholeSource = SourceRegion(wholeWindow, request.boundary, request.inputLargest, dimension);
  if (!wholeSource.IsInside(request.inputBuffered))
  {
    std::ostringstream message;
    message << "the input buffer " << request.inputBuffered << " does not hold the region " << wholeSource
            << " the output region " << request.output << " needs";
    throw std::invalid_argument(message.str());
  }

  std::uint64_t kernelVoxels = request.kernelSize[0] * request.kernelSize[1] * request.kernelSize[2];
  const auto    workModel = [&request](const SizeArray & fft) { return ModelWorkArea(fft, request.elementSize); };

  // Per axis, the ways to cut it; axes beyond the dimension are never cut.
  std::array<std::vector<AxisCut>, MaximumDimension> cuts;
  for (unsigned int a = 0; a < MaximumDimension; ++a)
  {
    const std::uint64_t whole = NextSmoothSize(request.output.size[a] + request.kernelSize[a] - 1,
                                               request.greatestPrimeFactor);
    if (a >= dimension || request.memoryBudget == 0)
    {
      cuts[a] = { AxisCut{ 1, request.output.size[a], whole } };
    }
    else
    {
      cuts[a] = AxisCuts(request.output.size[a], request.kernelSize[a], request.greatestPrimeFactor);
    }
  }

  // Largest source box a tile of this cut can read along one axis.
  const auto sourceExtent = [&](unsigned int a, const AxisCut & cut) -> std::uint64_t {
    if (cut.tiles == 1)
    {
      return wholeSource.size[a];
    }
    const std::uint64_t window = cut.tileSize + request.kernelSize[a] - 1;
    const bool crosses = wholeWindow.index[a] < request.inputLargest.index[a] ||
                         wholeWindow.index[a] + static_cast<std::int64_t>(wholeWindow.size[a]) >
                           request.inputLargest.index[a] + static_cast<std::int64_t>(request.inputLargest.size[a]);
    if (request.boundary == Boundary::Periodic && crosses)
    {
      return request.inputLargest.size[a];
    }
    return std::min(window, request.inputLargest.size[a]);
  };

  std::uint64_t budget = request.memoryBudget;
  for (int attempt = 0; attempt < 4; ++attempt)
  {
    // Search the cuts: cheapest estimated time among those that fit the budget. Time model in
    // picoseconds: bytes over PCIe (~50 GB/s), passes over the FFT buffer in device memory,
    // and a fixed cost per tile.
    bool          found = false;
    double        bestCost = std::numeric_limits<double>::max();
    std::uint64_t smallestPeak = std::numeric_limits<std::uint64_t>::max();
    AxisCut       best[MaximumDimension] = { cuts[0].front(), cuts[1].front(), cuts[2].front() };
    {
      // One tile is the fastest when it fits: no search then (a warm Update stays cheap).
      const SizeArray fft{ { best[0].fftSize, best[1].fftSize, best[2].fftSize } };
      const auto      whole = EstimateMemory(fft,
                                        wholeSource.NumberOfVoxels(),
                                        request.output.NumberOfVoxels(),
                                        kernelVoxels,
                                        1,
                                        request.elementSize,
                                        workModel(fft),
                                        request.allocationGranularity,
                                        request.planDataBytes,
                                        request.pageLockedHostBytes);
      found = best[0].tiles == 1 && best[1].tiles == 1 && best[2].tiles == 1 && (budget == 0 || whole.Peak() <= budget);
    }
    for (const AxisCut & c0 : found ? std::vector<AxisCut>{} : cuts[0])
    {
      for (const AxisCut & c1 : cuts[1])
      {
        for (const AxisCut & c2 : cuts[2])
        {
          const SizeArray     fft{ { c0.fftSize, c1.fftSize, c2.fftSize } };
          const std::uint64_t tiles = c0.tiles * c1.tiles * c2.tiles;
          const std::uint64_t source = sourceExtent(0, c0) * sourceExtent(1, c1) * sourceExtent(2, c2);
          const std::uint64_t tile = c0.tileSize * c1.tileSize * c2.tileSize;
          const unsigned int  slots = tiles > 1 ? 2 : 1;
          const std::uint64_t peak =
            EstimateMemory(fft,
                                                    source,
                                                    tile,
                                                    kernelVoxels,
                                                    slots,
                                                    request.elementSize,
                                                    workModel(fft),
                                                    request.allocationGranularity,
                                                    request.planDataBytes,
                                                    request.pageLockedHostBytes)
                                       .Peak();
          smallestPeak = std::min(smallestPeak, peak);
          if (budget != 0 && peak > budget)
          {
            continue;
          }
          const double bytes = static_cast<double>(request.elementSize);
          const double cost = static_cast<double>(tiles) *
                              (20.0 * bytes * static_cast<double>(source + tile) +
                               4.0 * bytes * static_cast<double>(NumberOfSpectrumElements(fft) * 2) + 2.0e7);
          if (cost < bestCost)
          {
            bestCost = cost;
            best[0] = c0;
            best[1] = c1;
            best[2] = c2;
            found = true;
          }
        }
      }
    }
    if (!found)
    {
      std::ostringstream message;
      message << "a GPU memory budget of " << request.memoryBudget << " bytes is too small: the smallest tiling of "
              << request.output << " with a kernel of " << request.kernelSize[0] << "x" << request.kernelSize[1] << "x"
              << request.kernelSize[2] << " needs " << smallestPeak + (request.memoryBudget - budget) << " bytes";
      throw std::length_error(message.str());
    }

    plan.fftSize = { { best[0].fftSize, best[1].fftSize, best[2].fftSize } };
    plan.tileSize = { { best[0].tileSize, best[1].tileSize, best[2].tileSize } };
    plan.tiles.clear();
    plan.maxSourceVoxels = 0;
    plan.maxTileVoxels = 0;
    // Tiles in memory order (x fastest) so reads of the host buffer run forward.
    for (std::uint64_t i2 = 0; i2 < best[2].tiles; ++i2)
    {
      for (std::uint64_t i1 = 0; i1 < best[1].tiles; ++i1)
      {
        for (std::uint64_t i0 = 0; i0 < best[0].tiles; ++i0)
        {
          const std::uint64_t steps[MaximumDimension] = { i0, i1, i2 };
          Tile                t;
          for (unsigned int a = 0; a < MaximumDimension; ++a)
          {
            const std::uint64_t offset = steps[a] * plan.tileSize[a];
            t.output.index[a] = request.output.index[a] + static_cast<std::int64_t>(offset);
            t.output.size[a] = std::min(plan.tileSize[a], request.output.size[a] - offset);
          }
          const Box window = InputWindow(t.output, request.kernelSize, dimension);
          t.windowIndex = window.index;
          t.source = SourceRegion(window, request.boundary, request.inputLargest, dimension);
          plan.maxSourceVoxels = std::max(plan.maxSourceVoxels, t.source.NumberOfVoxels());
          plan.maxTileVoxels = std::max(plan.maxTileVoxels, t.output.NumberOfVoxels());
          plan.tiles.push_back(t);
        }
      }
    }
    plan.stagingSlots = plan.tiles.size() > 1 ? 2 : 1;
    const std::uint64_t workArea =
      request.workArea ? request.workArea(plan.fftSize, dimension) : workModel(plan.fftSize);
    plan.memory = EstimateMemory(plan.fftSize,
                                 plan.maxSourceVoxels,
                                 plan.maxTileVoxels,
                                 kernelVoxels,
                                 plan.stagingSlots,
                                 request.elementSize,
                                 workArea,
                                 request.allocationGranularity,
                                 request.planDataBytes,
                                 request.pageLockedHostBytes);
    if (request.memoryBudget == 0 || plan.memory.Peak() <= request.memoryBudget)
    {
      return plan;
    }
    // The exact work area exceeded the model: search again with that much less room.
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

std::ostream &
operator<<(std::ostream & out, const CudaFFTConvolutionPlanner::Box & box)
{
  return out << "[" << box.index[0] << ", " << box.index[1] << ", " << box.index[2] << "] + [" << box.size[0] << ", "
             << box.size[1] << ", " << box.size[2] << "]";
}
} // namespace itk
