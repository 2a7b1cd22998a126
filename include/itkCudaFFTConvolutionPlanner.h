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
#ifndef itkCudaFFTConvolutionPlanner_h
#define itkCudaFFTConvolutionPlanner_h

#include "CudaFFTConvolutionExport.h"
#include "itkCudaFFTConvolutionImageFilterEnums.h"
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace itk
{
/** \class CudaFFTConvolutionPlanner
 * \brief Geometry and memory plan of an FFT convolution: pure C++, no CUDA, no ITK templates.
 *
 * The planner owns every geometric decision of CudaFFTConvolutionImageFilter so that the GPU
 * engine and the CPU path execute the same plan:
 * - the output region of each mode (SAME, VALID, FULL) with ITK's kernel centre c = floor(K/2);
 * - the input window an output region needs: per axis K-1-c voxels below and c above;
 * - the source region of that window under a boundary condition (what must be read);
 * - FFT sizes (smooth numbers) and overlap-save tiles under a device-memory budget;
 * - the device memory the engine will allocate for a plan.
 *
 * Axes beyond the image dimension have size 1 and index 0. Along each axis the output voxel n
 * of a tile is y[n] = sum_j k[j] x[n - j + c]; a tile reads the window
 * [n0 - (K-1-c), n0 + t - 1 + c] of length t + K - 1, circularly convolved at FFT length
 * F >= t + K - 1, so no wrapped sample reaches the kept voxels.
 *
 * \ingroup CudaFFTConvolution
 */
class CudaFFTConvolution_EXPORT CudaFFTConvolutionPlanner
{
public:
  static constexpr unsigned int MaximumDimension = 3;
  using IndexArray = std::array<std::int64_t, MaximumDimension>;
  using SizeArray = std::array<std::uint64_t, MaximumDimension>;
  using OutputRegionEnum = CudaFFTConvolutionImageFilterEnums::OutputRegion;

  /** Granularity the device allocator rounds allocations to. */
  static constexpr std::uint64_t AllocationGranularity = 2u << 20;
  /** What cuFFT keeps on the device for a forward and an inverse plan besides the work area. */
  static constexpr std::uint64_t PlanDataBytes = 16u << 20;

  /** An axis-aligned block of voxels: start index and size per axis. */
  struct Box
  {
    IndexArray index{ { 0, 0, 0 } };
    SizeArray  size{ { 1, 1, 1 } };

    std::uint64_t
    NumberOfVoxels() const;
    bool
    IsEmpty() const;
    /** True when this box lies inside \a outer. An empty box lies inside anything. */
    bool
    IsInside(const Box & outer) const;
    bool
    operator==(const Box & other) const;
    bool
    operator!=(const Box & other) const
    {
      return !(*this == other);
    }
  };

  /** Boundary conditions the plan can express (per axis, separable, as ITK's). */
  enum class Boundary : std::uint8_t
  {
    Constant,
    ZeroFluxNeumann,
    Periodic
  };

  /** One overlap-save tile. */
  struct Tile
  {
    Box        output;        //!< output voxels this tile produces
    IndexArray windowIndex{}; //!< first input index of its window (output.index - (K-1-c))
    Box        source;        //!< input voxels it reads (inside the input buffer)
  };

  /** Device bytes the engine allocates for a plan, buffer by buffer. */
  struct MemoryEstimate
  {
    std::uint64_t fftBuffer{ 0 };      //!< in-place real/half-complex FFT buffer
    std::uint64_t kernelSpectrum{ 0 }; //!< cached kernel spectrum, same layout
    std::uint64_t workArea{ 0 };       //!< cuFFT work area shared by the forward and inverse plans
    std::uint64_t planData{ 0 };       //!< what cuFFT keeps per plan besides the work area
    std::uint64_t kernelUpload{ 0 };   //!< the kernel itself, only while its spectrum is made
    std::uint64_t sourceStaging{ 0 };  //!< input tiles as read, all staging slots
    std::uint64_t tileStaging{ 0 };    //!< cropped output tiles, all staging slots
    std::uint64_t axisMaps{ 0 };       //!< padded-position to source-index tables, all slots
    std::uint64_t hostMappings{ 0 };   //!< device page tables of page-locked host memory

    /** The largest amount held at one time. */
    std::uint64_t
    Peak() const;
  };

  /** Returns the cuFFT work-area bytes for an FFT size (the engine's exact answer, or a model). */
  using WorkAreaFunction = std::function<std::uint64_t(const SizeArray & fftSize, unsigned int dimension)>;

  /** What a plan is made from. */
  struct Request
  {
    unsigned int     dimension{ 3 };
    Box              inputLargest;  //!< the input's largest possible region
    Box              inputBuffered; //!< the input region held in memory
    SizeArray        kernelSize{ { 1, 1, 1 } };
    Box              output; //!< the output region to compute (the requested region)
    Boundary         boundary{ Boundary::ZeroFluxNeumann };
    unsigned int     greatestPrimeFactor{ 7 }; //!< FFT sizes have no larger prime factor
    unsigned int     elementSize{ 4 };         //!< bytes per real value (float 4, double 8)
    std::uint64_t    memoryBudget{ 0 };        //!< device bytes; 0 means no limit
    WorkAreaFunction workArea;                 //!< empty: a conservative model
    /** Device allocations are rounded up to this; the CPU path plans host buffers with 1. */
    std::uint64_t allocationGranularity{ AllocationGranularity };
    /** Device bytes cuFFT keeps for the two plans besides the work area (0 on the CPU path). */
    std::uint64_t planDataBytes{ PlanDataBytes };
    /** Host bytes the run may page-lock (image buffers, staging): the driver maps them with
     * device page tables, about 2 MiB per GiB (measured on an H100). */
    std::uint64_t pageLockedHostBytes{ 0 };
    /** The input and output live in device memory (the engine's RunOnDevice): tiles read the
     * input and write the output in place, one after another, so no staging buffers are
     * planned and moving a voxel costs device bandwidth, not PCIe. */
    bool deviceResident{ false };
  };

  /** The plan: one FFT size shared by all tiles, so one cuFFT plan and one kernel spectrum. */
  struct Plan
  {
    unsigned int      dimension{ 3 };
    Box               output;
    SizeArray         kernelSize{ { 1, 1, 1 } };
    Boundary          boundary{ Boundary::ZeroFluxNeumann };
    Box               inputLargest;
    unsigned int      elementSize{ 4 };
    SizeArray         fftSize{ { 1, 1, 1 } };
    SizeArray         tileSize{ { 1, 1, 1 } }; //!< nominal output size of a tile
    std::vector<Tile> tiles;
    std::uint64_t     maxSourceVoxels{ 0 };
    std::uint64_t     maxTileVoxels{ 0 };
    unsigned int      stagingSlots{ 1 }; //!< tiles in flight at once
    MemoryEstimate    memory;
  };

  /** Output largest region of a mode (VALID follows ITK's GetValidRegion, size 0 when empty). */
  static Box
  OutputRegion(OutputRegionEnum mode, unsigned int dimension, const Box & inputLargest, const SizeArray & kernelSize);

  /** The input window an output box needs, before any boundary condition (may leave the image). */
  static Box
  InputWindow(const Box & output, const SizeArray & kernelSize, unsigned int dimension);

  /** The input voxels a window reads under a boundary condition; empty when it reads none. */
  static Box
  SourceRegion(const Box & window, Boundary boundary, const Box & inputLargest, unsigned int dimension);

  /** Smallest m >= n whose prime factors are all <= greatestPrimeFactor. */
  static std::uint64_t
  NextSmoothSize(std::uint64_t n, unsigned int greatestPrimeFactor);

  /** Number of elements of the half-complex spectrum of an FFT size. */
  static std::uint64_t
  NumberOfSpectrumElements(const SizeArray & fftSize);

  /** The conservative work-area model used when the engine gives none (the spectrum's bytes). */
  static std::uint64_t
  ModelWorkArea(const SizeArray & fftSize, unsigned int elementSize);

  /** Device memory of a plan whose FFT size, largest source and largest tile are given. */
  static MemoryEstimate
  EstimateMemory(const SizeArray & fftSize,
                 std::uint64_t     maxSourceVoxels,
                 std::uint64_t     maxTileVoxels,
                 std::uint64_t     kernelVoxels,
                 unsigned int      stagingSlots,
                 unsigned int      elementSize,
                 std::uint64_t     workAreaBytes,
                 std::uint64_t     granularity = AllocationGranularity,
                 std::uint64_t     planDataBytes = PlanDataBytes,
                 std::uint64_t     pageLockedHostBytes = 0);

  /** Makes the plan: one tile when it fits the budget, else overlap-save tiles that fit.
   * Throws std::invalid_argument for inconsistent requests and std::length_error when no
   * tiling fits the budget (the message names both numbers). */
  static Plan
  MakePlan(const Request & request);

  /** For one axis of one tile: for each padded position p < fftSize[axis], the offset inside
   * tile.source it reads, or -1 for the constant boundary value (and for FFT padding). */
  static std::vector<std::int64_t>
  AxisSourceMap(const Plan & plan, const Tile & tile, unsigned int axis);

  /** Offset of the first kept voxel in a tile's padded result, per axis: K - 1 - c. */
  static IndexArray
  CropOffset(const SizeArray & kernelSize);

  /** The default device-memory budget: 80% of what is free plus what this filter already holds
   * (its buffers are released before the next plan allocates), computed as
   * (freeDeviceBytes + heldBytes) / 10 * 8. The one place for this rule.
   * Below 10 bytes in all it is 0, which a Request reads as "no limit". */
  static std::uint64_t
  DefaultMemoryBudget(std::uint64_t freeDeviceBytes, std::uint64_t heldBytes);

  /** Where kernel voxel \a j lands along one axis of the kernel as the FFT sees it: cyclically
   * shifted so that its centre floor(K/2) is at the origin, i.e. (j - floor(K/2) + F) mod F for
   * a kernel of length K = \a kernelLength padded to F = \a fftLength.
   * E.g. K = 4, F = 8: j = 0 lands at 6 and j = 2 at 0.
   * Throws std::invalid_argument when F is 0 or shorter than K. */
  static std::int64_t
  KernelPlacement(std::uint64_t j, std::uint64_t kernelLength, std::uint64_t fftLength);
};

/** Writes a box as [index] + [size]. */
extern CudaFFTConvolution_EXPORT std::ostream &
                                 operator<<(std::ostream & out, const CudaFFTConvolutionPlanner::Box & box);
} // namespace itk

#endif
