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

// The planner alone (no ITK pipeline, no GPU): smooth FFT sizes, the output region of each mode,
// and randomised plans (fixed seed) whose tiles must cover every output voxel exactly once, read
// windows that hold their halo, fit the budget, and not overflow beyond 2^31 voxels.

#include "itkCudaFFTConvolutionPlanner.h"
#include "itkTestingMacros.h"

#include <algorithm>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace
{
using Planner = itk::CudaFFTConvolutionPlanner;
using Mode = itk::CudaFFTConvolutionImageFilterEnums::OutputRegion;

int g_Failures = 0;

void
Expect(bool condition, const std::string & what)
{
  if (!condition)
  {
    ++g_Failures;
    std::cout << "FAILED: " << what << std::endl;
  }
}

bool
IsSmooth(std::uint64_t n, unsigned int greatestPrime)
{
  for (std::uint64_t p = 2; p <= greatestPrime; ++p)
  {
    while (n % p == 0)
    {
      n /= p;
    }
  }
  return n == 1;
}

/** Checks one plan against its request; returns the voxels its tiles produce. */
std::uint64_t
CheckPlan(const Planner::Request & request, const Planner::Plan & plan, bool countCoverage)
{
  std::ostringstream name;
  name << "plan of " << request.output << " kernel " << request.kernelSize[0] << "x" << request.kernelSize[1] << "x"
       << request.kernelSize[2];
  std::vector<unsigned char> covered(countCoverage ? request.output.NumberOfVoxels() : 0, 0);
  std::uint64_t              produced = 0;
  for (const auto & tile : plan.tiles)
  {
    produced += tile.output.NumberOfVoxels();
    Expect(tile.output.IsInside(request.output), name.str() + ": tile inside the output");
    const auto window = Planner::InputWindow(tile.output, request.kernelSize, request.dimension);
    Expect(window.index == tile.windowIndex, name.str() + ": window index");
    Expect(tile.source.IsInside(request.inputBuffered), name.str() + ": source inside the input buffer");
    for (unsigned int a = 0; a < 3; ++a)
    {
      // The halo: K-1-c below and c above, and an FFT long enough not to wrap into kept voxels.
      const auto c = static_cast<std::int64_t>(request.kernelSize[a] / 2);
      Expect(window.index[a] == tile.output.index[a] - (static_cast<std::int64_t>(request.kernelSize[a]) - 1 - c),
             name.str() + ": halo below");
      Expect(plan.fftSize[a] >= tile.output.size[a] + request.kernelSize[a] - 1, name.str() + ": FFT holds window");
      Expect(IsSmooth(plan.fftSize[a], request.greatestPrimeFactor), name.str() + ": smooth FFT size");
      for (const auto entry : Planner::AxisSourceMap(plan, tile, a))
      {
        Expect(entry >= -1 && entry < static_cast<std::int64_t>(tile.source.size[a]), name.str() + ": map entry");
      }
    }
    if (countCoverage)
    {
      for (std::uint64_t z = 0; z < tile.output.size[2]; ++z)
      {
        for (std::uint64_t y = 0; y < tile.output.size[1]; ++y)
        {
          for (std::uint64_t x = 0; x < tile.output.size[0]; ++x)
          {
            const std::uint64_t gx = tile.output.index[0] - request.output.index[0] + x;
            const std::uint64_t gy = tile.output.index[1] - request.output.index[1] + y;
            const std::uint64_t gz = tile.output.index[2] - request.output.index[2] + z;
            ++covered[(gz * request.output.size[1] + gy) * request.output.size[0] + gx];
          }
        }
      }
    }
  }
  Expect(produced == request.output.NumberOfVoxels(), name.str() + ": tiles produce every voxel once");
  for (const auto count : covered)
  {
    if (count != 1)
    {
      Expect(false, name.str() + ": a voxel covered " + std::to_string(count) + " times");
      break;
    }
  }
  if (request.memoryBudget != 0)
  {
    Expect(plan.memory.Peak() <= request.memoryBudget, name.str() + ": estimate within the budget");
  }
  return produced;
}
} // namespace

int
itkCudaFFTConvolutionPlannerTest(int, char *[])
{
  // Smooth sizes.
  Expect(Planner::NextSmoothSize(1, 7) == 1, "smooth(1)");
  Expect(Planner::NextSmoothSize(11, 7) == 12, "smooth(11)");
  Expect(Planner::NextSmoothSize(13, 7) == 14, "smooth(13)");
  Expect(Planner::NextSmoothSize(97, 7) == 98, "smooth(97)");
  Expect(Planner::NextSmoothSize(541, 7) == 560, "smooth(541)");
  Expect(Planner::NextSmoothSize(7, 5) == 8, "5-smooth(7)");
  Expect(Planner::NextSmoothSize(1025, 2) == 2048, "2-smooth(1025)");

  // Output regions, per the geometry table (axis 0: s=3, N=10).
  Planner::Box input;
  input.index = { { 3, -2, 0 } };
  input.size = { { 10, 9, 1 } };
  const struct
  {
    Mode          mode;
    std::uint64_t kernel;
    std::int64_t  index;
    std::uint64_t size;
  } table[] = { { Mode::SAME, 4, 3, 10 },  { Mode::VALID, 3, 4, 8 },  { Mode::VALID, 4, 4, 7 },
                { Mode::VALID, 5, 5, 6 },  { Mode::VALID, 10, 7, 1 }, { Mode::VALID, 11, 8, 0 },
                { Mode::VALID, 12, 3, 0 }, { Mode::FULL, 3, 2, 12 },  { Mode::FULL, 4, 1, 13 },
                { Mode::FULL, 1, 3, 10 } };
  for (const auto & row : table)
  {
    const auto box = Planner::OutputRegion(row.mode, 2, input, { { row.kernel, 1, 1 } });
    // ITK's GetValidRegion sets the index to 0 where the kernel does not fit (N < 2 floor(K/2)).
    const std::int64_t expectedIndex = (row.mode == Mode::VALID && 10 < 2 * (row.kernel / 2)) ? 0 : row.index;
    Expect(box.index[0] == expectedIndex && box.size[0] == row.size,
           "output region for K=" + std::to_string(row.kernel) + ": got " + std::to_string(box.index[0]) + "+" +
             std::to_string(box.size[0]));
    Expect(box.index[1] == -2 && box.size[1] == 9, "the other axis is untouched");
  }

  // The default budget: 80% of free plus held, the division first.
  Expect(Planner::DefaultMemoryBudget(1000, 0) == 800, "budget(1000, 0)");
  Expect(Planner::DefaultMemoryBudget(950, 50) == 800, "budget(950, 50): held bytes count as free");
  Expect(Planner::DefaultMemoryBudget(0, 1000) == 800, "budget(0, 1000)");
  Expect(Planner::DefaultMemoryBudget(1009, 0) == 800, "budget(1009, 0) rounds down to tenths");
  Expect(Planner::DefaultMemoryBudget(9, 0) == 0, "budget(9, 0)");
  {
    const std::uint64_t gib = std::uint64_t{ 1 } << 30;
    Expect(Planner::DefaultMemoryBudget(70 * gib, 10 * gib) == 80 * gib / 10 * 8, "budget of 80 GiB");
  }

  // Kernel placement: the centre floor(K/2) at the origin, the voxels below it wrapped to the end.
  Expect(Planner::KernelPlacement(0, 4, 8) == 6, "K=4 F=8: j=0 lands at 6");
  Expect(Planner::KernelPlacement(1, 4, 8) == 7, "K=4 F=8: j=1 lands at 7");
  Expect(Planner::KernelPlacement(2, 4, 8) == 0, "K=4 F=8: j=2 (the centre) lands at 0");
  Expect(Planner::KernelPlacement(3, 4, 8) == 1, "K=4 F=8: j=3 lands at 1");
  for (const std::uint64_t fft : { 5u, 6u, 12u })
  {
    const auto f = static_cast<std::int64_t>(fft);
    Expect(Planner::KernelPlacement(2, 5, fft) == 0, "K=5: j=2 (the centre) lands at 0");
    Expect(Planner::KernelPlacement(0, 5, fft) == f - 2, "K=5: j=0 lands at F-2");
    Expect(Planner::KernelPlacement(1, 5, fft) == f - 1, "K=5: j=1 lands at F-1");
    Expect(Planner::KernelPlacement(4, 5, fft) == 2, "K=5: j=4 lands at 2");
  }
  Expect(Planner::KernelPlacement(0, 1, 1) == 0, "K=1 F=1: j=0 lands at 0");
  for (std::uint64_t k = 1; k <= 9; ++k)
  {
    for (std::uint64_t fft = k; fft <= k + 4; ++fft)
    {
      // The kernel's voxels land on distinct positions, its centre on the origin.
      std::vector<int> hits(fft, 0);
      for (std::uint64_t j = 0; j < k; ++j)
      {
        const auto p = Planner::KernelPlacement(j, k, fft);
        Expect(p >= 0 && p < static_cast<std::int64_t>(fft), "placement inside the FFT length");
        ++hits[static_cast<std::size_t>(p)];
      }
      Expect(Planner::KernelPlacement(k / 2, k, fft) == 0, "the centre lands at the origin");
      Expect(std::count(hits.begin(), hits.end(), 1) == static_cast<std::ptrdiff_t>(k), "distinct placements");
    }
  }
  {
    const auto placementRefused = [](std::uint64_t j, std::uint64_t k, std::uint64_t fft) {
      try
      {
        Planner::KernelPlacement(j, k, fft);
      }
      catch (const std::invalid_argument &)
      {
        return true;
      }
      return false;
    };
    Expect(placementRefused(0, 5, 4), "an FFT length below the kernel length is refused");
    Expect(placementRefused(0, 0, 0), "an FFT length of 0 is refused");
    Expect(placementRefused(0, 1, 0), "an FFT length of 0 is refused (K=1)");
    Expect(!placementRefused(0, 5, 5), "an FFT length equal to the kernel length is accepted");
  }

  // Randomised plans (fixed seed): coverage, halos, budgets.
  std::mt19937 generator(424242);
  auto         uniform = [&generator](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(generator);
  };
  int plans = 0;
  int tooSmall = 0;
  int tiled = 0;
  for (int trial = 0; trial < 400; ++trial)
  {
    Planner::Request request;
    request.dimension = static_cast<unsigned int>(uniform(1, 3));
    for (unsigned int a = 0; a < request.dimension; ++a)
    {
      request.inputLargest.index[a] = uniform(-20, 20);
      request.inputLargest.size[a] = static_cast<std::uint64_t>(uniform(1, 40));
      request.kernelSize[a] = static_cast<std::uint64_t>(uniform(1, 12));
    }
    request.inputBuffered = request.inputLargest;
    const Mode mode = static_cast<Mode>(uniform(0, 2));
    request.output = Planner::OutputRegion(mode, request.dimension, request.inputLargest, request.kernelSize);
    request.boundary = static_cast<Planner::Boundary>(uniform(0, 2));
    request.elementSize = uniform(0, 1) ? 4 : 8;
    request.greatestPrimeFactor = uniform(0, 3) ? 7 : 5;
    request.allocationGranularity = uniform(0, 1) ? 1 : 4096;
    request.planDataBytes = 0;
    const int budgetKind = static_cast<int>(uniform(0, 2));
    request.memoryBudget = budgetKind == 0 ? 0 : static_cast<std::uint64_t>(uniform(1, 400000));
    try
    {
      const auto plan = Planner::MakePlan(request);
      ++plans;
      tiled += plan.tiles.size() > 1 ? 1 : 0;
      CheckPlan(request, plan, true);
    }
    catch (const std::length_error &)
    {
      ++tooSmall; // a budget below the smallest tiling: a clear error, checked in the filter tests
    }
    catch (const std::exception & error)
    {
      Expect(false, std::string("unexpected exception: ") + error.what());
    }
  }
  std::cout << plans << " random plans checked (" << tiled << " tiled), " << tooSmall << " budgets too small"
            << std::endl;
  Expect(tiled > 30, "enough random plans were tiled");

  // Beyond 2^31 voxels: a 2048 x 2048 x 1024 volume (2^32) with a 31^3 PSF under a 4 GiB budget.
  {
    Planner::Request request;
    request.inputLargest.size = { { 2048, 2048, 1024 } };
    request.inputBuffered = request.inputLargest;
    request.kernelSize = { { 31, 31, 31 } };
    request.output = request.inputLargest;
    request.memoryBudget = std::uint64_t{ 4 } << 30;
    const auto plan = Planner::MakePlan(request);
    const auto produced = CheckPlan(request, plan, false);
    std::cout << "2^32 voxels: " << plan.tiles.size() << " tiles, FFT " << plan.fftSize[0] << "x" << plan.fftSize[1]
              << "x" << plan.fftSize[2] << ", estimate " << plan.memory.Peak() << " bytes" << std::endl;
    Expect(produced == (std::uint64_t{ 1 } << 32), "2^32 voxels produced");
    Expect(plan.tiles.size() > 1, "2^32 voxels need tiles under 4 GiB");
  }

  // Inconsistent requests are refused with a message.
  {
    Planner::Request request;
    request.inputLargest.size = { { 10, 10, 10 } };
    request.inputBuffered = request.inputLargest;
    request.inputBuffered.size[2] = 5;
    request.output = request.inputLargest;
    request.kernelSize = { { 3, 3, 3 } };
    const auto refused = [](const Planner::Request & bad, const std::string & text) {
      try
      {
        Planner::MakePlan(bad);
      }
      catch (const std::invalid_argument & error)
      {
        std::cout << "refused: " << error.what() << std::endl;
        return std::string(error.what()).find(text) != std::string::npos;
      }
      return false;
    };
    Expect(refused(request, "does not hold"), "a buffer too small is refused");
    request.inputBuffered = request.inputLargest;
    request.kernelSize[1] = 0;
    Expect(refused(request, "zero-length axis"), "a zero-length kernel axis is refused");
  }

  std::cout << g_Failures << " failures" << std::endl;
  return g_Failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
