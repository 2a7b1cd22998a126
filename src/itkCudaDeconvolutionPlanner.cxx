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
#include "itkCudaDeconvolutionPlanner.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace itk
{
namespace
{
using Planner = CudaDeconvolutionPlanner;
using Geometry = CudaFFTConvolutionPlanner;

std::uint64_t
RoundUp(std::uint64_t bytes, std::uint64_t granularity)
{
  return granularity <= 1 ? bytes : (bytes + granularity - 1) / granularity * granularity;
}

/** Kernel radius floor(K/2): what ITK pads each side by. */
std::int64_t
Radius(std::uint64_t kernelSize)
{
  return static_cast<std::int64_t>(kernelSize / 2);
}

/** Position \a q of an axis of length \a n under a boundary condition: an index in [0, n) or
 * -1 for the constant. */
std::int64_t
Extend(std::int64_t q, std::int64_t n, Planner::Boundary boundary)
{
  if (q >= 0 && q < n)
  {
    return q;
  }
  switch (boundary)
  {
    case Planner::Boundary::ZeroFluxNeumann:
      return q < 0 ? 0 : n - 1;
    case Planner::Boundary::Periodic:
      return ((q % n) + n) % n;
    default:
      return -1;
  }
}

/** ITK parity along one axis: the block of \c padded voxels (the data extended by \c inner on
 * each side) is extended to the grid with \c below of the extra voxels below. */
struct ParityAxis
{
  std::int64_t inner;  //!< ITK 5.3+: r; ITK 5.2: 0
  std::int64_t padded; //!< n + 2 * inner
  std::int64_t below;  //!< ITK 5.3+: FFTPadImageFilter's (P - n - 2r) / 2; ITK 5.2: (P - n) / 2
};

ParityAxis
Parity(Planner::ItkPadding padding, std::uint64_t gridLength, std::uint64_t dataLength, std::uint64_t kernelLength)
{
  ParityAxis axis;
  axis.inner = padding == Planner::ItkPadding::KernelRadius ? Radius(kernelLength) : 0;
  axis.padded = static_cast<std::int64_t>(dataLength) + 2 * axis.inner;
  axis.below = (static_cast<std::int64_t>(gridLength) - axis.padded) / 2;
  return axis;
}

void
CheckRequest(const Planner::Request & request)
{
  if (request.dimension < 1 || request.dimension > Geometry::MaximumDimension)
  {
    throw std::invalid_argument("the image dimension must be 1, 2 or 3");
  }
  if (request.elementSize != 4 && request.elementSize != 8)
  {
    throw std::invalid_argument("the element size must be 4 (float) or 8 (double)");
  }
  if (request.input.IsEmpty())
  {
    throw std::invalid_argument("the input image is empty");
  }
  if (request.output.IsEmpty() || !request.output.IsInside(request.input))
  {
    throw std::invalid_argument("the output region is empty or not inside the input image");
  }
  for (unsigned int axis = 0; axis < Geometry::MaximumDimension; ++axis)
  {
    if (request.kernelSize[axis] == 0)
    {
      throw std::invalid_argument("the kernel is empty");
    }
    if (axis >= request.dimension && (request.kernelSize[axis] != 1 || request.input.size[axis] != 1))
    {
      throw std::invalid_argument("axes beyond the image dimension must have size 1");
    }
  }
  if ((request.accelerate || request.totalVariation) && request.algorithm != Planner::Algorithm::RichardsonLucy)
  {
    throw std::invalid_argument("acceleration and total variation apply to Richardson-Lucy only");
  }
  if (request.edges == Planner::Edges::NonCirculant && request.algorithm != Planner::Algorithm::RichardsonLucy)
  {
    throw std::invalid_argument("non-circulant edges apply to Richardson-Lucy only");
  }
  if (!(request.haloEnergyFraction >= 0.0 && request.haloEnergyFraction < 1.0))
  {
    throw std::invalid_argument("the halo's energy fraction must be in [0, 1)");
  }
  for (unsigned int axis = 0; axis < Geometry::MaximumDimension; ++axis)
  {
    const std::vector<double> & profile = request.kernelEnergy[axis];
    if (!request.kernelEnergy[0].empty() && profile.size() != request.kernelSize[axis])
    {
      throw std::invalid_argument("the kernel's energy profiles do not match its size");
    }
  }
}

/** Tiles of nominal output size \a tileSize covering the output, each reading its halo. */
std::vector<Planner::Tile>
CutTiles(const Planner::Request & request, const Planner::SizeArray & tileSize, const Planner::SizeArray & halo)
{
  std::vector<Planner::Tile> tiles;
  const Planner::Box &       output = request.output;
  Planner::IndexArray        at{};
  for (at[2] = 0; at[2] < static_cast<std::int64_t>(output.size[2]); at[2] += tileSize[2])
  {
    for (at[1] = 0; at[1] < static_cast<std::int64_t>(output.size[1]); at[1] += tileSize[1])
    {
      for (at[0] = 0; at[0] < static_cast<std::int64_t>(output.size[0]); at[0] += tileSize[0])
      {
        Planner::Tile tile;
        for (unsigned int axis = 0; axis < Geometry::MaximumDimension; ++axis)
        {
          const std::int64_t first = output.index[axis] + at[axis];
          const std::int64_t last =
            std::min<std::int64_t>(first + tileSize[axis], output.index[axis] + output.size[axis]) - 1;
          tile.output.index[axis] = first;
          tile.output.size[axis] = static_cast<std::uint64_t>(last - first + 1);
          const std::int64_t inputLast = request.input.index[axis] + request.input.size[axis] - 1;
          const std::int64_t dataFirst = std::max<std::int64_t>(first - halo[axis], request.input.index[axis]);
          const std::int64_t dataLast = std::min<std::int64_t>(last + halo[axis], inputLast);
          tile.data.index[axis] = dataFirst;
          tile.data.size[axis] = static_cast<std::uint64_t>(dataLast - dataFirst + 1);
        }
        tiles.push_back(tile);
      }
    }
  }
  return tiles;
}

/** The plan of one tiling: the shared grid, the tiles and the memory of the largest. */
Planner::Plan
PlanFor(const Planner::Request & request, const Planner::SizeArray & tileSize, const Planner::SizeArray & halo)
{
  Planner::Plan plan;
  plan.dimension = request.dimension;
  plan.algorithm = request.algorithm;
  plan.edges = request.edges;
  plan.boundary = request.boundary;
  plan.itkPadding = request.itkPadding;
  plan.accelerate = request.accelerate;
  plan.totalVariation = request.totalVariation;
  plan.kernelSize = request.kernelSize;
  plan.elementSize = request.elementSize;
  plan.greatestPrimeFactor = request.greatestPrimeFactor;
  plan.input = request.input;
  plan.output = request.output;
  plan.halo = halo;
  plan.tiles = CutTiles(request, tileSize, halo);
  Planner::SizeArray largest{ { 1, 1, 1 } };
  for (const Planner::Tile & tile : plan.tiles)
  {
    for (unsigned int axis = 0; axis < Geometry::MaximumDimension; ++axis)
    {
      largest[axis] = std::max(largest[axis], tile.data.size[axis]);
    }
    plan.maxDataVoxels = std::max(plan.maxDataVoxels, tile.data.NumberOfVoxels());
  }
  plan.gridSize = Planner::GridSize(request, largest);
  plan.memory = Planner::EstimateMemory(request, plan.gridSize, plan.maxDataVoxels);
  return plan;
}

/** One way to cut one axis: tiles of `tile` output voxels, `count` of them, the longest data block
 * (output plus halo, clipped to the input) and the sum of their data lengths. */
struct AxisCut
{
  std::uint64_t tile{ 1 };
  std::uint64_t count{ 1 };
  std::uint64_t maxData{ 1 };
  std::uint64_t sumData{ 1 };
  std::uint64_t grid{ 1 }; //!< the grid length of maxData
};

/** The data blocks of one axis cut into tiles of cut.tile output voxels: the longest and the sum
 * of their lengths. Only tiles within a halo of the output's ends can be clipped by the input;
 * the others read tile + 2 halo, so they are counted, not visited. */
void
MeasureCut(const Planner::Request & request, unsigned int axis, std::uint64_t halo, AxisCut & cut)
{
  const std::uint64_t n = request.output.size[axis];
  const std::int64_t  inputFirst = request.input.index[axis];
  const std::int64_t  inputLast = inputFirst + static_cast<std::int64_t>(request.input.size[axis]) - 1;
  const std::uint64_t h = std::min(halo, request.input.size[axis]); // more reads all of the input alike
  const auto          data = [&](std::uint64_t k) {
    const std::int64_t first = request.output.index[axis] + static_cast<std::int64_t>(k * cut.tile);
    const std::int64_t last = first + static_cast<std::int64_t>(std::min(cut.tile, n - k * cut.tile)) - 1;
    const std::int64_t reach = static_cast<std::int64_t>(h);
    return static_cast<std::uint64_t>(std::min(last + reach, inputLast) - std::max(first - reach, inputFirst) + 1);
  };
  const std::uint64_t edge = std::min(cut.count, h / cut.tile + 2);
  std::uint64_t       visited = 0;
  cut.maxData = 0;
  cut.sumData = 0;
  for (std::uint64_t k = 0; k < cut.count; k = (k + 1 == edge && cut.count > 2 * edge) ? cut.count - edge : k + 1)
  {
    const std::uint64_t length = data(k);
    cut.maxData = std::max(cut.maxData, length);
    cut.sumData += length;
    ++visited;
  }
  if (visited < cut.count)
  {
    cut.maxData = std::max(cut.maxData, cut.tile + 2 * h);
    cut.sumData += (cut.count - visited) * (cut.tile + 2 * h);
  }
}

/** Every distinct cut of one axis: tile = ceil(n / count) for count = 1 .. n, about 2 sqrt(n)
 * values, each visited once. */
std::vector<AxisCut>
AxisCuts(const Planner::Request & request, unsigned int axis, std::uint64_t halo)
{
  const std::uint64_t  n = request.output.size[axis];
  std::vector<AxisCut> cuts;
  for (std::uint64_t count = 1; count <= n;)
  {
    AxisCut cut;
    cut.tile = (n + count - 1) / count;
    cut.count = (n + cut.tile - 1) / cut.tile;
    MeasureCut(request, axis, halo, cut);
    Planner::SizeArray block{ { 1, 1, 1 } };
    block[axis] = cut.maxData;
    cut.grid = Planner::GridSize(request, block)[axis];
    cuts.push_back(cut);
    if (cut.tile == 1)
    {
      break;
    }
    count = (n + cut.tile - 2) / (cut.tile - 1); // the first count with a smaller tile
  }
  return cuts;
}

/** FFTs per iteration and per tile (set-up) of an algorithm. */
struct FFTCounts
{
  double perIteration;
  double perTile;
};

FFTCounts
CountFFTs(const Planner::Request & request)
{
  switch (request.algorithm)
  {
    case Planner::Algorithm::RichardsonLucy:
      return { 4.0, request.edges == Planner::Edges::NonCirculant ? 2.0 : 0.0 };
    case Planner::Algorithm::Landweber:
    case Planner::Algorithm::ProjectedLandweber:
      return { 2.0, 1.0 };
    default:
      return { 0.0, 2.0 };
  }
}

/** Predicted seconds of `tiles` tiles on one grid moving `hostVoxels` voxels to and from the host. */
double
Predict(const Planner::Request & request, const Planner::SizeArray & grid, double tiles, double hostVoxels)
{
  const Planner::CostModel & cost = request.cost;
  const double    voxels = static_cast<double>(grid[0]) * static_cast<double>(grid[1]) * static_cast<double>(grid[2]);
  const double    fft = cost.fftSecondsPerVoxelLog2 * voxels * std::log2(std::max(voxels, 2.0));
  const FFTCounts counts = CountFFTs(request);
  const double    iterations = Planner::IsIterative(request.algorithm) ? request.iterations : 1.0;
  const double    perTile = iterations * (counts.perIteration * fft + cost.elementwiseSecondsPerVoxel * voxels) +
                         counts.perTile * fft + cost.perTileSeconds;
  return fft + tiles * perTile + hostVoxels * request.elementSize / cost.hostBytesPerSecond;
}

/** A candidate tiling: one cut per axis and its predicted time. */
struct Candidate
{
  std::array<std::size_t, 3> cut{ { 0, 0, 0 } };
  double                     seconds{ 0 };
};

/** The tiling of least predicted time that fits the budget (tile sizes), or none. */
bool
CheapestTiling(const Planner::Request & request, const Planner::SizeArray & halo, Planner::SizeArray & tileSize)
{
  std::array<std::vector<AxisCut>, 3> cuts;
  for (unsigned int axis = 0; axis < Geometry::MaximumDimension; ++axis)
  {
    cuts[axis] = AxisCuts(request, axis, halo[axis]);
  }
  const double           outputVoxels = static_cast<double>(request.output.NumberOfVoxels());
  std::vector<Candidate> candidates;
  Candidate              c;
  for (c.cut[2] = 0; c.cut[2] < cuts[2].size(); ++c.cut[2])
  {
    for (c.cut[1] = 0; c.cut[1] < cuts[1].size(); ++c.cut[1])
    {
      for (c.cut[0] = 0; c.cut[0] < cuts[0].size(); ++c.cut[0])
      {
        Planner::SizeArray grid{};
        double             tiles = 1;
        double             dataVoxels = 1;
        for (unsigned int axis = 0; axis < 3; ++axis)
        {
          const AxisCut & cut = cuts[axis][c.cut[axis]];
          grid[axis] = cut.grid;
          tiles *= static_cast<double>(cut.count);
          dataVoxels *= static_cast<double>(cut.sumData);
        }
        c.seconds = Predict(request, grid, tiles, dataVoxels + outputVoxels);
        candidates.push_back(c);
      }
    }
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate & a, const Candidate & b) {
    return a.seconds < b.seconds;
  });
  // Buffers first (cheap), then the FFT library's work area, only for those the buffers allow.
  Planner::Request buffersOnly = request;
  buffersOnly.workArea = [](const Planner::SizeArray &, unsigned int) { return std::uint64_t{ 0 }; };
  for (const Candidate & candidate : candidates)
  {
    Planner::SizeArray data{};
    std::uint64_t      dataVoxels = 1;
    for (unsigned int axis = 0; axis < 3; ++axis)
    {
      data[axis] = cuts[axis][candidate.cut[axis]].maxData;
      dataVoxels *= data[axis];
    }
    const Planner::SizeArray grid = Planner::GridSize(request, data);
    if (Planner::EstimateMemory(buffersOnly, grid, dataVoxels).Peak() <= request.memoryBudget &&
        Planner::EstimateMemory(request, grid, dataVoxels).Peak() <= request.memoryBudget)
    {
      for (unsigned int axis = 0; axis < 3; ++axis)
      {
        tileSize[axis] = cuts[axis][candidate.cut[axis]].tile;
      }
      return true;
    }
  }
  return false;
}
} // namespace

bool
CudaDeconvolutionPlanner::IsIterative(Algorithm algorithm)
{
  return algorithm == Algorithm::RichardsonLucy || algorithm == Algorithm::Landweber ||
         algorithm == Algorithm::ProjectedLandweber;
}

std::uint64_t
CudaDeconvolutionPlanner::MemoryEstimate::Peak() const
{
  return fftBuffer + transferFunction + estimate + data + dataSpectrum + weights + acceleration + regularization +
         workArea + planData + axisMaps + kernelUpload;
}

CudaDeconvolutionPlanner::SizeArray
CudaDeconvolutionPlanner::GridSize(const Request & request, const SizeArray & dataSize)
{
  SizeArray grid{ { 1, 1, 1 } };
  for (unsigned int axis = 0; axis < request.dimension; ++axis)
  {
    const std::uint64_t k = request.kernelSize[axis];
    std::uint64_t       needed = dataSize[axis] + k - 1;
    if (request.edges == Edges::BoundaryCondition)
    {
      needed = request.itkPadding == ItkPadding::KernelSize
                 ? dataSize[axis] + k
                 : dataSize[axis] + 2 * static_cast<std::uint64_t>(Radius(k));
    }
    grid[axis] = Geometry::NextSmoothSize(needed, request.greatestPrimeFactor);
  }
  return grid;
}

CudaDeconvolutionPlanner::SizeArray
CudaDeconvolutionPlanner::DefaultHalo(const SizeArray & kernelSize, unsigned int dimension)
{
  SizeArray halo{ { 0, 0, 0 } };
  for (unsigned int axis = 0; axis < dimension; ++axis)
  {
    halo[axis] = 2 * kernelSize[axis];
  }
  return halo;
}

CudaDeconvolutionPlanner::MemoryEstimate
CudaDeconvolutionPlanner::EstimateMemory(const Request & request, const SizeArray & gridSize, std::uint64_t dataVoxels)
{
  const std::uint64_t g = request.allocationGranularity;
  const std::uint64_t volume =
    RoundUp(Geometry::NumberOfSpectrumElements(gridSize) * 2 * request.elementSize, g); // the in-place layout
  const bool iterative = IsIterative(request.algorithm);
  const bool landweber =
    request.algorithm == Algorithm::Landweber || request.algorithm == Algorithm::ProjectedLandweber;
  MemoryEstimate memory;
  memory.fftBuffer = volume;
  memory.transferFunction = volume;
  memory.estimate = request.algorithm == Algorithm::RichardsonLucy ? volume : 0;
  memory.data = RoundUp(std::max<std::uint64_t>(dataVoxels, 1) * request.elementSize, g);
  memory.dataSpectrum = landweber ? volume : 0;
  memory.weights = iterative && request.edges == Edges::NonCirculant ? volume : 0;
  memory.acceleration = request.accelerate ? 2 * volume : 0;
  memory.regularization = request.totalVariation && !request.accelerate ? volume : 0;
  memory.workArea =
    RoundUp(std::max<std::uint64_t>(request.workArea ? request.workArea(gridSize, request.dimension)
                                                     : Geometry::ModelWorkArea(gridSize, request.elementSize),
                                    1),
            g);
  memory.planData = request.planDataBytes;
  // The axis maps, then the statistics: 64 slots of 8 doubles (the engine's StatisticSlots).
  memory.axisMaps =
    RoundUp((gridSize[0] + gridSize[1] + gridSize[2]) * sizeof(std::int64_t) + 64 * 8 * sizeof(double), g);
  const std::uint64_t kernelVoxels = request.kernelSize[0] * request.kernelSize[1] * request.kernelSize[2];
  memory.kernelUpload = RoundUp(kernelVoxels * request.elementSize + 2 * sizeof(double), g);
  return memory;
}

namespace
{
/** The least radius about floor(K/2) whose window holds all but \a fraction of the profile's
 * energy (the profile's size when none short of the whole array does). */
std::int64_t
EnergyRadius(const std::vector<double> & profile, double total, double fraction)
{
  const std::int64_t size = static_cast<std::int64_t>(profile.size());
  const std::int64_t centre = size / 2;
  double             held = profile[static_cast<std::size_t>(centre)];
  std::int64_t       radius = 0;
  while (held < (1.0 - fraction) * total && radius < size)
  {
    ++radius;
    for (const std::int64_t i : { centre - radius, centre + radius })
    {
      held += i >= 0 && i < size ? profile[static_cast<std::size_t>(i)] : 0.0;
    }
  }
  return radius;
}
} // namespace

CudaDeconvolutionPlanner::SizeArray
CudaDeconvolutionPlanner::EnergyHalo(const EnergyProfiles & profiles,
                                     unsigned int           dimension,
                                     double                 fraction,
                                     unsigned int           iterations)
{
  if (!(fraction >= 0.0 && fraction < 1.0))
  {
    throw std::invalid_argument("the halo's energy fraction must be in [0, 1)");
  }
  SizeArray halo{ { 0, 0, 0 } };
  for (unsigned int axis = 0; axis < std::min(dimension, Geometry::MaximumDimension); ++axis)
  {
    const std::vector<double> & profile = profiles[axis];
    const double                total = std::accumulate(profile.begin(), profile.end(), 0.0);
    if (!(total > 0.0))
    {
      continue;
    }
    const std::int64_t size = static_cast<std::int64_t>(profile.size());
    const std::int64_t reach = EnergyRadius(profile, total, fraction);
    if (size > 1 && reach >= (size - 1) - size / 2)
    {
      // The window reaches the array's far edge: the energy is cut off by the array, not held
      // in it, and its radius says nothing about the reach; the default 2K is kept.
      halo[axis] = 2 * profile.size();
      continue;
    }
    // The light that reaches a voxel (the blur and its adjoint: twice the radius), and how far
    // the iterations carry a tile edge's error inwards (diffusively: the half-energy radius
    // times the square root of the iterations, twice).
    const double core = static_cast<double>(EnergyRadius(profile, total, 0.5));
    const double spread = 2.0 * core * std::sqrt(static_cast<double>(std::max(iterations, 1U)));
    // Never more than the default 2K (the widest halo measured, docs/deconvolution.md).
    halo[axis] = std::min<std::uint64_t>(
      2 * static_cast<std::uint64_t>(reach) + static_cast<std::uint64_t>(std::ceil(spread)), 2 * profile.size());
  }
  return halo;
}

CudaDeconvolutionPlanner::SizeArray
CudaDeconvolutionPlanner::ResolveHalo(const Request & request)
{
  // The direct methods (inverse, Tikhonov, Wiener) divide by the spectrum: their reach is not the
  // kernel's, and they keep 2K.
  const bool fromEnergy =
    IsIterative(request.algorithm) && request.haloEnergyFraction > 0.0 && !request.kernelEnergy[0].empty();
  const SizeArray energy =
    fromEnergy ? EnergyHalo(request.kernelEnergy, request.dimension, request.haloEnergyFraction, request.iterations)
               : DefaultHalo(request.kernelSize, request.dimension);
  SizeArray halo{ { 0, 0, 0 } };
  for (unsigned int axis = 0; axis < request.dimension; ++axis)
  {
    halo[axis] = request.halo[axis] != 0 ? request.halo[axis] : energy[axis];
  }
  return halo;
}

double
CudaDeconvolutionPlanner::PredictSeconds(const Request & request, const Plan & plan)
{
  double hostVoxels = static_cast<double>(plan.output.NumberOfVoxels());
  for (const Tile & tile : plan.tiles)
  {
    hostVoxels += static_cast<double>(tile.data.NumberOfVoxels());
  }
  return Predict(request, plan.gridSize, static_cast<double>(plan.tiles.size()), hostVoxels);
}

CudaDeconvolutionPlanner::Plan
CudaDeconvolutionPlanner::PlanForTileSize(const Request & request, const SizeArray & tileSize)
{
  CheckRequest(request);
  for (unsigned int axis = 0; axis < Geometry::MaximumDimension; ++axis)
  {
    if (tileSize[axis] == 0)
    {
      throw std::invalid_argument("a tile size is 0");
    }
  }
  return PlanFor(request, tileSize, ResolveHalo(request));
}

CudaDeconvolutionPlanner::Plan
CudaDeconvolutionPlanner::MakePlan(const Request & request)
{
  CheckRequest(request);
  // One tile when it fits: it reads the whole input (a halo as large as the image).
  Plan plan = PlanFor(request, request.output.size, request.input.size);
  if (request.memoryBudget == 0 || plan.memory.Peak() <= request.memoryBudget)
  {
    return plan;
  }
  const SizeArray halo = ResolveHalo(request);
  SizeArray       tileSize{ { 1, 1, 1 } };
  if (!CheapestTiling(request, halo, tileSize))
  {
    SizeArray     data{ { 1, 1, 1 } };
    std::uint64_t voxels = 1;
    for (unsigned int axis = 0; axis < request.dimension; ++axis)
    {
      data[axis] = std::min(1 + 2 * halo[axis], request.input.size[axis]);
      voxels *= data[axis];
    }
    std::ostringstream message;
    message << "no tiling of the deconvolution fits the GPU memory budget of " << request.memoryBudget
            << " bytes: a one-voxel tile with its halo needs "
            << EstimateMemory(request, GridSize(request, data), voxels).Peak() << " bytes";
    throw std::length_error(message.str());
  }
  return PlanFor(request, tileSize, halo);
}

std::vector<std::int64_t>
CudaDeconvolutionPlanner::AxisDataMap(const Plan & plan, const Tile & tile, unsigned int axis)
{
  const std::int64_t        grid = static_cast<std::int64_t>(plan.gridSize[axis]);
  const std::int64_t        n = static_cast<std::int64_t>(tile.data.size[axis]);
  const std::int64_t        offset = DataOffset(plan, tile)[axis];
  std::vector<std::int64_t> map(static_cast<std::size_t>(grid), -1);
  for (std::int64_t p = 0; p < grid; ++p)
  {
    if (plan.edges == Edges::NonCirculant || axis >= plan.dimension)
    {
      const std::int64_t i = p - offset;
      map[p] = i >= 0 && i < n ? i : -1;
      continue;
    }
    // ITK: the data extended by `inner` with the boundary condition, that block extended to the
    // grid with the boundary condition again (which differs for a periodic boundary).
    const ParityAxis parity = Parity(plan.itkPadding, plan.gridSize[axis], tile.data.size[axis], plan.kernelSize[axis]);
    const std::int64_t q = Extend(p - parity.below, parity.padded, plan.boundary);
    map[p] = q < 0 ? -1 : Extend(q - parity.inner, n, plan.boundary);
  }
  return map;
}

CudaDeconvolutionPlanner::IndexArray
CudaDeconvolutionPlanner::DataOffset(const Plan & plan, const Tile & tile)
{
  IndexArray offset{ { 0, 0, 0 } };
  if (plan.edges == Edges::NonCirculant)
  {
    // At the grid's origin: the grid is circular, so the estimate's margins wrap around, and
    // everything outside the data is then one slab per axis, which a pruned transform skips.
    return offset;
  }
  for (unsigned int axis = 0; axis < plan.dimension; ++axis)
  {
    const ParityAxis parity = Parity(plan.itkPadding, plan.gridSize[axis], tile.data.size[axis], plan.kernelSize[axis]);
    offset[axis] = parity.below + parity.inner;
  }
  return offset;
}
} // namespace itk
