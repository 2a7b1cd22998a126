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

// The deconvolution planner alone (no ITK pipeline, no GPU): the halo from a kernel's energy,
// and the tiling of least predicted time: it fits the budget, covers the output once, reads each
// tile's halo, is the cheapest of the tilings that fit, and beats halving the longest axis until
// a tile fits (the planner before the cost model) in deconwolf's case.

#include "itkCudaDeconvolutionPlanner.h"
#include "itkTestingMacros.h"

#include <cmath>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace
{
using Planner = itk::CudaDeconvolutionPlanner;

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

/** A widefield-like PSF (x fastest): per plane a Gaussian of width s0 sqrt(1 + (z / zR)^2). */
std::vector<float>
GaussianBeam(const Planner::SizeArray & size, double s0, double zR)
{
  std::vector<float> psf(size[0] * size[1] * size[2]);
  std::size_t        i = 0;
  for (std::uint64_t z = 0; z < size[2]; ++z)
  {
    const double dz = static_cast<double>(z) - static_cast<double>(size[2] / 2);
    const double s = s0 * std::sqrt(1.0 + dz * dz / (zR * zR));
    for (std::uint64_t y = 0; y < size[1]; ++y)
    {
      for (std::uint64_t x = 0; x < size[0]; ++x, ++i)
      {
        const double dx = static_cast<double>(x) - static_cast<double>(size[0] / 2);
        const double dy = static_cast<double>(y) - static_cast<double>(size[1] / 2);
        psf[i] = static_cast<float>(std::exp(-(dx * dx + dy * dy) / (2 * s * s)) / (s * s));
      }
    }
  }
  return psf;
}

template <typename TFunction>
void
ExpectThrows(TFunction function, const std::string & what)
{
  try
  {
    function();
  }
  catch (const std::exception &)
  {
    return;
  }
  Expect(false, what + ": no exception");
}

void
TestEnergyHalo()
{
  // A flat profile of 11: all but 20% needs 8.8 of 11 voxels, the window of 9 (radius 4); half
  // of it the window of 7 (radius 3, 5.5 of 11): 2 x 4 + ceil(2 x 3 x sqrt(iterations)).
  Planner::EnergyProfiles flat;
  flat[0].assign(11, 1.0);
  flat[1] = { 0.0, 0.0, 5.0, 0.0 }; // a delta at floor(4/2): radius 0
  flat[2] = { 0.0, 0.0, 0.0 };      // no energy: no halo
  Planner::SizeArray halo = Planner::EnergyHalo(flat, 3, 0.2, 1);
  Expect(halo[0] == 8 + 6 && halo[1] == 0 && halo[2] == 0, "energy halo of a flat, a delta and an empty profile");
  Expect(Planner::EnergyHalo(flat, 3, 0.2, 2)[0] == 8 + 9, "energy halo after 2 iterations (2 x 3 x 1.41)");
  Expect(Planner::EnergyHalo(flat, 3, 0.2, 20)[0] == 22, "after 20 iterations 8 + 27, at most 2K");
  // All of it (or 5%): the window reaches the array's edge, so the energy is cut off: 2K.
  Expect(Planner::EnergyHalo(flat, 3, 0.0, 1)[0] == 22, "fraction 0: 2K");
  Expect(Planner::EnergyHalo(flat, 3, 0.05, 1)[0] == 22, "fraction 0.05 of a flat profile: 2K");
  Expect(Planner::EnergyHalo(flat, 1, 0.2, 1)[1] == 0, "axes beyond the dimension have no halo");
  // An off-centre mass: the window grows about floor(K/2) until it holds it (radius 2, half 2).
  Planner::EnergyProfiles shifted;
  shifted[0] = { 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0 }; // centre 5, mass at 3
  Expect(Planner::EnergyHalo(shifted, 1, 0.01, 4)[0] == 4 + 8, "energy halo of an off-centre mass");
  ExpectThrows([&] { Planner::EnergyHalo(flat, 3, 1.0, 1); }, "fraction 1");

  // The marginals of a 3x2x2 kernel against sums written out by hand.
  const float                   kernel[12] = { 1, 2, 3, 4, 5, 6, -7, 8, 9, 10, 11, 12 };
  const Planner::EnergyProfiles profiles = Planner::MarginalEnergy(kernel, { { 3, 2, 2 } });
  Expect(profiles[0] == std::vector<double>{ 1 + 4 + 7 + 10, 2 + 5 + 8 + 11, 3 + 6 + 9 + 12 }, "x marginal");
  Expect(profiles[1] == std::vector<double>{ 1 + 2 + 3 + 7 + 8 + 9, 4 + 5 + 6 + 10 + 11 + 12 }, "y marginal");
  Expect(profiles[2] == std::vector<double>{ 1 + 2 + 3 + 4 + 5 + 6, 7 + 8 + 9 + 10 + 11 + 12 }, "z marginal");
}

/** deconwolf's case: a 35x2048x2048 image, a 69x181x181 PSF, 20 non-circulant iterations. */
Planner::Request
DeconwolfRequest()
{
  Planner::Request request;
  request.dimension = 3;
  request.input.size = { { 2048, 2048, 35 } };
  request.output = request.input;
  request.kernelSize = { { 181, 181, 69 } };
  request.edges = Planner::Edges::NonCirculant;
  request.iterations = 20;
  return request;
}

/** The tiles cover the output once, each reads its output plus the halo clipped to the input. */
void
CheckCoverage(const Planner::Request & request, const Planner::Plan & plan, const std::string & name)
{
  std::uint64_t produced = 0;
  for (std::size_t i = 0; i < plan.tiles.size(); ++i)
  {
    const Planner::Tile & tile = plan.tiles[i];
    produced += tile.output.NumberOfVoxels();
    Expect(tile.output.IsInside(request.output) && tile.data.IsInside(request.input), name + ": tile inside");
    for (unsigned int a = 0; a < request.dimension && plan.tiles.size() > 1; ++a)
    {
      const std::int64_t below = std::min<std::int64_t>(plan.halo[a], tile.output.index[a] - request.input.index[a]);
      Expect(tile.data.index[a] == tile.output.index[a] - below, name + ": halo below");
    }
    for (std::size_t j = 0; j < i; ++j)
    {
      bool overlap = true;
      for (unsigned int a = 0; a < 3; ++a)
      {
        const Planner::Box & p = plan.tiles[j].output;
        overlap = overlap && tile.output.index[a] < p.index[a] + static_cast<std::int64_t>(p.size[a]) &&
                  p.index[a] < tile.output.index[a] + static_cast<std::int64_t>(tile.output.size[a]);
      }
      Expect(!overlap, name + ": tiles disjoint");
    }
  }
  Expect(produced == request.output.NumberOfVoxels(), name + ": tiles cover the output");
}

/** The planner before the cost model: halve the longest tile axis until a tile fits. */
Planner::Plan
HalvingPlan(const Planner::Request & request)
{
  Planner::SizeArray tileSize = request.output.size;
  Planner::Plan      plan = Planner::PlanForTileSize(request, tileSize);
  while (plan.memory.Peak() > request.memoryBudget)
  {
    unsigned int longest = 0;
    for (unsigned int a = 1; a < request.dimension; ++a)
    {
      longest = tileSize[a] > tileSize[longest] ? a : longest;
    }
    std::uint64_t tiles = 1;
    for (unsigned int a = 0; a < 3; ++a)
    {
      tiles *= (request.output.size[a] + tileSize[a] - 1) / tileSize[a];
    }
    if (tileSize[longest] == 1 || tiles > 4096) // more tiles than any plan worth comparing
    {
      throw std::length_error("no halving fits");
    }
    tileSize[longest] = (tileSize[longest] + 1) / 2;
    plan = Planner::PlanForTileSize(request, tileSize);
  }
  return plan;
}

void
TestDeconwolfTiling()
{
  Planner::Request         request = DeconwolfRequest();
  const std::uint64_t      untiled = Planner::MakePlan(request).memory.Peak();
  const std::vector<float> psf = GaussianBeam(request.kernelSize, 2.0, 6.0);
  for (const bool energy : { false, true })
  {
    request.kernelEnergy = energy ? Planner::MarginalEnergy(psf.data(), request.kernelSize) : Planner::EnergyProfiles{};
    for (const std::uint64_t budget : { std::uint64_t{ 4 } << 30, untiled / 3, untiled / 6 })
    {
      request.memoryBudget = budget;
      std::ostringstream name;
      name << "deconwolf, budget " << budget << (energy ? ", energy halo" : ", 2K halo");
      if (!energy && budget == untiled / 6)
      {
        // A one-voxel tile with a 2K halo has a 905x905x103 grid: no tiling fits.
        ExpectThrows([&] { Planner::MakePlan(request); }, name.str());
        continue;
      }
      const Planner::Plan plan = Planner::MakePlan(request);
      const double        seconds = Planner::PredictSeconds(request, plan);
      // Halving with this halo, and the planner before this one: halving with a 2K halo.
      const Planner::Plan halving = HalvingPlan(request);
      const double        halvingSeconds = Planner::PredictSeconds(request, halving);
      Planner::Request    before = request;
      before.kernelEnergy = Planner::EnergyProfiles{};
      double beforeSeconds = 1e300; // nothing fitted
      try
      {
        beforeSeconds = Planner::PredictSeconds(before, HalvingPlan(before));
      }
      catch (const std::length_error &)
      {}
      std::cout << name.str() << ": " << plan.tiles.size() << " tiles of grid " << plan.gridSize[0] << "x"
                << plan.gridSize[1] << "x" << plan.gridSize[2] << ", halo " << plan.halo[0] << "x" << plan.halo[1]
                << "x" << plan.halo[2] << ", predicted " << seconds << " s (halving: " << halving.tiles.size()
                << " tiles, " << halvingSeconds << " s; before " << beforeSeconds << " s; untiled "
                << Planner::PredictSeconds(request, Planner::MakePlan([&] {
                                             auto r = request;
                                             r.memoryBudget = 0;
                                             return r;
                                           }()))
                << " s)" << std::endl;
      Expect(plan.tiles.size() > 1 && plan.memory.Peak() <= budget, name.str() + ": tiled within the budget");
      Expect(seconds <= halvingSeconds && seconds < beforeSeconds,
             name.str() + ": no dearer than halving the longest axis, cheaper than halving with a 2K halo");
      CheckCoverage(request, plan, name.str());
      if (energy)
      {
        Expect(plan.halo[0] < request.kernelSize[0], name.str() + ": the energy halo is below K");
        Expect(plan.tiles.front().output.size[2] == 35, name.str() + ": the 35 planes are not split");
      }
    }
  }
}

/** Every distinct tile size of a small 3-D case: none that fits is predicted faster. */
void
TestCheapestOfAll()
{
  Planner::Request request;
  request.input.size = { { 120, 90, 12 } };
  request.output = request.input;
  request.kernelSize = { { 9, 8, 5 } };
  request.algorithm = Planner::Algorithm::Landweber;
  request.iterations = 30;
  request.planDataBytes = 0;
  request.allocationGranularity = 1;
  request.memoryBudget = Planner::MakePlan(request).memory.Peak() / 4;
  const Planner::Plan plan = Planner::MakePlan(request);
  const double        best = Planner::PredictSeconds(request, plan);
  Expect(plan.tiles.size() > 1 && plan.memory.Peak() <= request.memoryBudget, "small case: tiled within the budget");
  CheckCoverage(request, plan, "small case");
  unsigned int fitting = 0;
  for (std::uint64_t z = 1; z <= 12; ++z)
  {
    for (std::uint64_t y = 5; y <= 90; y += 5)
    {
      for (std::uint64_t x = 6; x <= 120; x += 6)
      {
        const Planner::Plan other = Planner::PlanForTileSize(request, { { x, y, z } });
        if (other.memory.Peak() <= request.memoryBudget)
        {
          ++fitting;
          Expect(Planner::PredictSeconds(request, other) >= best * (1 - 1e-12),
                 "small case: tiles " + std::to_string(x) + "x" + std::to_string(y) + "x" + std::to_string(z) +
                   " are not predicted faster");
        }
      }
    }
  }
  Expect(fitting > 10, "small case: several tilings fit");
  // Nothing fits: a clear error.
  request.memoryBudget = 1000;
  ExpectThrows([&] { Planner::MakePlan(request); }, "a budget of 1000 bytes");
  request.memoryBudget = 0;
  request.haloEnergyFraction = 1.5;
  ExpectThrows([&] { Planner::MakePlan(request); }, "fraction 1.5");
}

/** Random requests (fixed seed) under a third of their untiled peak: the plan fits, covers the
 * output once and is predicted no slower than halving the longest axis; and a 2^31-voxel 1-D
 * signal plans at once (the cuts are counted, not enumerated voxel by voxel). */
void
TestRandomAndHuge()
{
  std::mt19937 generator(11);
  unsigned int planned = 0;
  for (unsigned int i = 0; i < 40; ++i)
  {
    Planner::Request request;
    request.dimension = 1 + i % 3;
    for (unsigned int a = 0; a < request.dimension; ++a)
    {
      request.input.index[a] = std::uniform_int_distribution<int>(-5, 5)(generator);
      request.input.size[a] =
        std::uniform_int_distribution<std::uint64_t>(40, request.dimension == 1 ? 400000 : 300)(generator);
      request.kernelSize[a] = std::uniform_int_distribution<std::uint64_t>(1, 15)(generator);
    }
    request.output = request.input;
    request.edges = i % 2 ? Planner::Edges::NonCirculant : Planner::Edges::BoundaryCondition;
    request.iterations = 1 + i;
    request.planDataBytes = 0;
    request.allocationGranularity = 1;
    request.memoryBudget = Planner::MakePlan(request).memory.Peak() / 3;
    const std::string name = "random request " + std::to_string(i);
    try
    {
      const Planner::Plan plan = Planner::MakePlan(request);
      Expect(plan.memory.Peak() <= request.memoryBudget, name + ": fits");
      CheckCoverage(request, plan, name);
      ++planned;
      try
      {
        Expect(Planner::PredictSeconds(request, plan) <=
                 Planner::PredictSeconds(request, HalvingPlan(request)) * (1 + 1e-12),
               name + ": no slower than halving");
      }
      catch (const std::length_error &)
      {}
    }
    catch (const std::length_error &)
    {
      // a halo wider than a third of the memory allows: nothing fits, nothing to check
    }
  }
  Expect(planned >= 30, "most random requests tile (" + std::to_string(planned) + " of 40)");
  Planner::Request huge;
  huge.dimension = 1;
  huge.input.size = { { std::uint64_t{ 1 } << 31, 1, 1 } };
  huge.output = huge.input;
  huge.kernelSize = { { 101, 1, 1 } };
  huge.memoryBudget = std::uint64_t{ 1 } << 30;
  const Planner::Plan plan = Planner::MakePlan(huge);
  Expect(plan.tiles.size() > 1 && plan.memory.Peak() <= huge.memoryBudget, "a 2^31-voxel signal in tiles");
}

/** The halo a request resolves to: given, from the kernel's energy, or 2K. */
void
TestResolveHalo()
{
  Planner::Request request;
  request.dimension = 2;
  request.input.size = { { 64, 64, 1 } };
  request.output = request.input;
  request.kernelSize = { { 7, 5, 1 } };
  Expect(Planner::ResolveHalo(request) == Planner::SizeArray{ { 14, 10, 0 } }, "no energy: 2K");
  const float delta[35] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
  request.kernelEnergy = Planner::MarginalEnergy(delta, request.kernelSize);
  request.halo = { { 0, 3, 0 } };
  Expect(Planner::ResolveHalo(request) == Planner::SizeArray{ { 0, 3, 0 } }, "a delta's energy halo, a given one");
  request.haloEnergyFraction = 0;
  Expect(Planner::ResolveHalo(request) == Planner::SizeArray{ { 14, 3, 0 } }, "fraction 0: no energy halo");
  request.kernelEnergy[0].resize(3);
  ExpectThrows([&] { Planner::MakePlan(request); }, "profiles of the wrong size");
}
} // namespace

int
itkCudaDeconvolutionPlannerTest(int, char *[])
{
  TestEnergyHalo();
  TestResolveHalo();
  TestCheapestOfAll();
  TestDeconwolfTiling();
  TestRandomAndHuge();
  if (g_Failures != 0)
  {
    std::cout << g_Failures << " check(s) failed" << std::endl;
    return EXIT_FAILURE;
  }
  std::cout << "Test finished." << std::endl;
  return EXIT_SUCCESS;
}
