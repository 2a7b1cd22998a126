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
#ifndef itkCudaDeconvolutionPlanner_h
#define itkCudaDeconvolutionPlanner_h

#include "itkCudaFFTConvolutionPlanner.h"

#include <cmath>

namespace itk
{
/** \class CudaDeconvolutionPlanner
 * \brief Geometry and memory plan of an FFT deconvolution: pure C++, no CUDA, no ITK templates.
 *
 * A deconvolution works on a grid (the FFT size) that holds the observed data of a tile (all of
 * the image, or a block of it with a halo) at an offset. Two ways to treat the edges:
 * - BoundaryCondition (ITK parity): as ITK's FFTConvolutionImageFilter pads for its
 *   deconvolution filters, which changed in ITK 5.3 (ItkPadding):
 *   - KernelRadius (ITK 5.3 and later): the data are extended by the kernel radius floor(K/2) on
 *     each side with the boundary condition, then to a size whose greatest prime factor is at
 *     most greatestPrimeFactor, (P - n - 2r) / 2 of the extra voxels below, the rest above, again
 *     with the boundary condition of that extended block;
 *   - KernelSize (ITK 5.2): the data are extended at once to the smallest such size P >= n + K,
 *     (P - n) / 2 voxels below, the rest above, with the boundary condition.
 *   The deconvolution is circulant on that grid; the extended voxels count as data.
 * - NonCirculant (Bertero and Boccacci): the grid holds every object voxel that reaches the data,
 *   n + K - 1 voxels per axis, the data at offset K - 1 - floor(K/2), and no wrapped sample
 *   reaches the data. Voxels outside the data are unknown: the likelihood is taken over the data
 *   only and the update is weighted by 1 / (H^T 1) (zero where that is below a threshold).
 *
 * Volumes larger than the memory budget are cut into tiles; each tile deconvolves its output block
 * plus a halo on each side (clipped to the image) and keeps the output block. All tiles share one
 * grid size, so one FFT plan and one transfer function. Of the tilings that fit the budget (any
 * number of tiles along any axis) the plan takes the one of least predicted time (CostModel: the
 * tiles' FFTs and elementwise passes per iteration, their transfers and a fixed cost per tile).
 *
 * The halo is, per axis, either given, or from the kernel's marginal energy profile on that axis
 * (EnergyHalo: the radius holding all but haloEnergyFraction of it, and the spread of the
 * iterations; a kernel whose energy reaches its array's edge keeps 2K), or, with no kernel
 * energy, twice the kernel size (the seam error each leaves is measured in docs/deconvolution.md).
 * \ingroup CudaFFTConvolution
 */
class CudaFFTConvolution_EXPORT CudaDeconvolutionPlanner
{
public:
  using Geometry = CudaFFTConvolutionPlanner;
  using Box = Geometry::Box;
  using IndexArray = Geometry::IndexArray;
  using SizeArray = Geometry::SizeArray;
  using Boundary = Geometry::Boundary;
  using WorkAreaFunction = Geometry::WorkAreaFunction;

  enum class Algorithm : std::uint8_t
  {
    RichardsonLucy,
    Landweber,
    ProjectedLandweber,
    Inverse,
    Tikhonov,
    Wiener
  };

  enum class Edges : std::uint8_t
  {
    BoundaryCondition, //!< ITK's padding, circulant on the padded grid (ITK parity)
    NonCirculant       //!< Bertero-Boccacci: the full object grid, weighted by 1 / (H^T 1)
  };

  /** How ITK's FFTConvolutionImageFilter pads the data of its deconvolution filters. */
  enum class ItkPadding : std::uint8_t
  {
    KernelRadius, //!< ITK 5.3 and later: by floor(K/2), then to a smooth size
    KernelSize    //!< ITK 5.2: to a smooth size of at least n + K
  };

  /** The padding of the ITK these headers are compiled against (a C++ caller without ITK, such as
   * the C ABI, gets KernelRadius). */
  static constexpr ItkPadding
  PaddingOfItkVersion(unsigned int major, unsigned int minor)
  {
    return major < 5 || (major == 5 && minor < 3) ? ItkPadding::KernelSize : ItkPadding::KernelRadius;
  }

  /** Iterations when a caller names none, for every face but ITK's filters, which keep ITK's
   * default of 1 (drop-ins); and the most any face accepts. 0 returns the initial estimate. */
  static constexpr unsigned int DefaultIterations = 10;
  static constexpr unsigned int MaximumIterations = 100000;

  static bool
  IsIterative(Algorithm algorithm);

  /** The fraction of the kernel's energy a halo may leave out when a caller names none: the
   * largest whose seams stayed below 1e-4 of the maximum, three times over, on a compact Gaussian
   * and a widefield (Gaussian-beam) PSF after 20 Richardson-Lucy iterations (docs/deconvolution.md). */
  static constexpr double DefaultHaloEnergyFraction = 1e-2;

  /** Per axis, the kernel's marginal energy profile: entry i of axis a sums |k| over the voxels
   * whose index on axis a is i. */
  using EnergyProfiles = std::array<std::vector<double>, 3>;

  /** Predicted seconds of a tiling: tiles x (iterations x (FFTs x fft x N log2 N + elementwise x
   * N) + setup FFTs x fft x N log2 N) + host bytes / hostBandwidth + tiles x perTile, N the grid's
   * voxels. The defaults are fitted to an H100 (docs/deconvolution.md); only the ratios matter for the choice. */
  struct CostModel
  {
    double fftSecondsPerVoxelLog2{ 0.6e-12 };    //!< one real/half-complex FFT, per voxel and log2 N
    double elementwiseSecondsPerVoxel{ 35e-12 }; //!< one iteration's elementwise passes, per voxel
    double hostBytesPerSecond{ 12e9 };           //!< host to device and back (staged)
    double perTileSeconds{ 2e-3 };               //!< launches, synchronisation, axis maps
  };

  /** What a plan is made from. */
  struct Request
  {
    unsigned int dimension{ 3 };
    Box          input; //!< the observed image (all of it is read)
    SizeArray    kernelSize{ { 1, 1, 1 } };
    Box          output; //!< the voxels to write, inside the input
    Algorithm    algorithm{ Algorithm::RichardsonLucy };
    Edges        edges{ Edges::BoundaryCondition };
    Boundary     boundary{ Boundary::ZeroFluxNeumann };
    ItkPadding   itkPadding{ ItkPadding::KernelRadius }; //!< with Edges::BoundaryCondition
    /** Grid sizes have no larger prime factor: ITK's FFT's for parity (FFTW 13, VNL 5). */
    unsigned int     greatestPrimeFactor{ 7 };
    bool             accelerate{ false };     //!< Richardson-Lucy with Biggs-Andrews extrapolation
    bool             totalVariation{ false }; //!< Richardson-Lucy with total-variation regularisation
    unsigned int     elementSize{ 4 };
    std::uint64_t    memoryBudget{ 0 }; //!< device bytes; 0 means no limit
    WorkAreaFunction workArea;          //!< empty: a conservative model
    std::uint64_t    allocationGranularity{ Geometry::AllocationGranularity };
    std::uint64_t    planDataBytes{ Geometry::PlanDataBytes };
    /** Voxels of data kept on each side of a tile's output block; 0 on an axis: from the kernel's
     * energy when kernelEnergy is given, haloEnergyFraction > 0 and the algorithm iterates, else
     * DefaultHalo (the direct methods' reach is the inverse's, not the kernel's). */
    SizeArray      halo{ { 0, 0, 0 } };
    EnergyProfiles kernelEnergy; //!< empty: no energy halo (MarginalEnergy fills it)
    double         haloEnergyFraction{ DefaultHaloEnergyFraction };
    unsigned int   iterations{ DefaultIterations }; //!< for the cost model only
    CostModel      cost;
  };

  struct Tile
  {
    Box output; //!< voxels this tile writes
    Box data;   //!< observed voxels it reads: output plus the halo, inside the input
  };

  /** Device bytes of a plan, buffer by buffer (all sized for the largest tile). */
  struct MemoryEstimate
  {
    std::uint64_t fftBuffer{ 0 };        //!< in-place real/half-complex FFT buffer
    std::uint64_t transferFunction{ 0 }; //!< the kernel spectrum
    std::uint64_t estimate{ 0 };         //!< the current estimate on the grid (iterative)
    std::uint64_t data{ 0 };             //!< the observed data of a tile, compact (also the output block)
    std::uint64_t dataSpectrum{ 0 };     //!< Landweber: the spectrum of the padded data
    std::uint64_t weights{ 0 };          //!< non-circulant: 1 / (H^T 1) on the grid
    std::uint64_t acceleration{ 0 };     //!< previous estimate and step (Biggs-Andrews)
    std::uint64_t regularization{ 0 };   //!< total variation without acceleration: the update's copy
    std::uint64_t workArea{ 0 };         //!< cuFFT work area
    std::uint64_t planData{ 0 };
    std::uint64_t axisMaps{ 0 };
    std::uint64_t kernelUpload{ 0 }; //!< the kernel, only while its spectrum is made

    std::uint64_t
    Peak() const;
  };

  struct Plan
  {
    unsigned int      dimension{ 3 };
    Algorithm         algorithm{ Algorithm::RichardsonLucy };
    Edges             edges{ Edges::BoundaryCondition };
    Boundary          boundary{ Boundary::ZeroFluxNeumann };
    ItkPadding        itkPadding{ ItkPadding::KernelRadius };
    bool              accelerate{ false };
    bool              totalVariation{ false };
    SizeArray         kernelSize{ { 1, 1, 1 } };
    unsigned int      elementSize{ 4 };
    unsigned int      greatestPrimeFactor{ 7 };
    Box               input;
    Box               output;
    SizeArray         halo{ { 0, 0, 0 } };
    SizeArray         gridSize{ { 1, 1, 1 } }; //!< the FFT size of every tile
    std::vector<Tile> tiles;
    std::uint64_t     maxDataVoxels{ 0 };
    MemoryEstimate    memory;
  };

  /** Makes the plan: one tile when it fits the budget, else the tiling of least predicted time
   * that fits. Throws std::invalid_argument for inconsistent requests and std::length_error when
   * nothing fits. */
  static Plan
  MakePlan(const Request & request);

  /** The plan of tiles of (at most) \a tileSize output voxels, whatever the budget. */
  static Plan
  PlanForTileSize(const Request & request, const SizeArray & tileSize);

  /** The halo a request resolves to, per axis (given, from the kernel's energy, or DefaultHalo). */
  static SizeArray
  ResolveHalo(const Request & request);

  /** Predicted seconds of a plan under the request's cost model and iterations. */
  static double
  PredictSeconds(const Request & request, const Plan & plan);

  /** The kernel's marginal energy profiles (|k| summed over the other axes), x fastest in memory. */
  template <typename T>
  static EnergyProfiles
  MarginalEnergy(const T * kernel, const SizeArray & kernelSize)
  {
    EnergyProfiles profiles;
    for (unsigned int axis = 0; axis < 3; ++axis)
    {
      profiles[axis].assign(static_cast<std::size_t>(kernelSize[axis]), 0.0);
    }
    std::uint64_t i = 0;
    for (std::uint64_t z = 0; z < kernelSize[2]; ++z)
    {
      for (std::uint64_t y = 0; y < kernelSize[1]; ++y)
      {
        for (std::uint64_t x = 0; x < kernelSize[0]; ++x, ++i)
        {
          const double value = std::abs(static_cast<double>(kernel[i]));
          profiles[0][x] += value;
          profiles[1][y] += value;
          profiles[2][z] += value;
        }
      }
    }
    return profiles;
  }

  /** Per axis, from the kernel's marginal energy profile: 2 r + ceil(2 r50 sqrt(iterations)), r
   * the least radius about c = floor(K/2) whose window [c - r, c + r] holds all but \a fraction
   * of the energy (the light that reaches a voxel through the blur and its adjoint) and r50 the
   * radius holding half of it (how far the iterations carry a tile edge's error inwards,
   * diffusively), at most twice the kernel size; 0 where the profile is all zero; twice the
   * kernel size (DefaultHalo) where the window must reach the array's far edge, since the energy
   * is then cut off by the array. */
  static SizeArray
  EnergyHalo(const EnergyProfiles & profiles, unsigned int dimension, double fraction, unsigned int iterations);

  /** The grid a data block of \a dataSize needs (before tiles share the largest one). */
  static SizeArray
  GridSize(const Request & request, const SizeArray & dataSize);

  /** For one axis of one tile: for each grid position, the offset inside tile.data it reads, or
   * -1 (the constant of a Constant boundary; outside the data when NonCirculant). */
  static std::vector<std::int64_t>
  AxisDataMap(const Plan & plan, const Tile & tile, unsigned int axis);

  /** Grid position of the tile's first data voxel, per axis (the data start at this offset in
   * the grid; its output block starts at this plus output.index - data.index). */
  static IndexArray
  DataOffset(const Plan & plan, const Tile & tile);

  /** The halo used when a request leaves it 0 and gives no kernel energy: twice the kernel size
   * on each side. */
  static SizeArray
  DefaultHalo(const SizeArray & kernelSize, unsigned int dimension);

  /** Device memory of one tile's grid. */
  static MemoryEstimate
  EstimateMemory(const Request & request, const SizeArray & gridSize, std::uint64_t dataVoxels);
};
} // namespace itk

#endif
