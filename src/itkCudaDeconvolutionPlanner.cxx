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
      needed = request.itkPadding == ItkPadding::KernelSize ? dataSize[axis] + k
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
  const bool          iterative = IsIterative(request.algorithm);
  const bool          landweber = request.algorithm == Algorithm::Landweber ||
                         request.algorithm == Algorithm::ProjectedLandweber;
  MemoryEstimate memory;
  memory.fftBuffer = volume;
  memory.transferFunction = volume;
  memory.estimate = request.algorithm == Algorithm::RichardsonLucy ? volume : 0;
  memory.data = RoundUp(std::max<std::uint64_t>(dataVoxels, 1) * request.elementSize, g);
  memory.dataSpectrum = landweber ? volume : 0;
  memory.weights = iterative && request.edges == Edges::NonCirculant ? volume : 0;
  memory.acceleration = request.accelerate ? 2 * volume : 0;
  memory.regularization = request.totalVariation && !request.accelerate ? volume : 0;
  memory.workArea = RoundUp(std::max<std::uint64_t>(request.workArea ? request.workArea(gridSize, request.dimension)
                                                                     : Geometry::ModelWorkArea(gridSize, request.elementSize),
                                                    1),
                            g);
  memory.planData = request.planDataBytes;
  // The axis maps, then the statistics: 64 slots of 8 doubles (the engine's StatisticSlots).
  memory.axisMaps = RoundUp((gridSize[0] + gridSize[1] + gridSize[2]) * sizeof(std::int64_t) + 64 * 8 * sizeof(double), g);
  const std::uint64_t kernelVoxels = request.kernelSize[0] * request.kernelSize[1] * request.kernelSize[2];
  memory.kernelUpload = RoundUp(kernelVoxels * request.elementSize + 2 * sizeof(double), g);
  return memory;
}

CudaDeconvolutionPlanner::Plan
CudaDeconvolutionPlanner::MakePlan(const Request & request)
{
  CheckRequest(request);
  SizeArray halo = request.halo;
  const SizeArray defaults = DefaultHalo(request.kernelSize, request.dimension);
  for (unsigned int axis = 0; axis < Geometry::MaximumDimension; ++axis)
  {
    halo[axis] = axis >= request.dimension ? 0 : (halo[axis] == 0 ? defaults[axis] : halo[axis]);
  }
  // One tile when it fits; else halve the longest tile axis until the largest tile fits.
  // A single tile reads the whole input (a halo as large as the image).
  SizeArray tileSize = request.output.size;
  Plan      plan = PlanFor(request, tileSize, request.input.size);
  while (request.memoryBudget != 0 && plan.memory.Peak() > request.memoryBudget)
  {
    unsigned int longest = 0;
    for (unsigned int axis = 1; axis < request.dimension; ++axis)
    {
      if (tileSize[axis] > tileSize[longest])
      {
        longest = axis;
      }
    }
    if (tileSize[longest] <= 1)
    {
      std::ostringstream message;
      message << "no tiling of the deconvolution fits the GPU memory budget of " << request.memoryBudget
              << " bytes: a one-voxel tile with its halo needs " << plan.memory.Peak() << " bytes";
      throw std::length_error(message.str());
    }
    tileSize[longest] = (tileSize[longest] + 1) / 2;
    plan = PlanFor(request, tileSize, halo);
  }
  return plan;
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
    const ParityAxis   parity = Parity(plan.itkPadding, plan.gridSize[axis], tile.data.size[axis], plan.kernelSize[axis]);
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
