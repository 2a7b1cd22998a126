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
#ifndef itkCudaFFTConvolutionDeconvolutionRun_cuh
#define itkCudaFFTConvolutionDeconvolutionRun_cuh

// Internal to the engine: one deconvolution on the engine's device core. The class is declared
// here; its members are defined by responsibility:
//   itkCudaFFTConvolutionDeconvolutionTiles.cu       buffers, a tile's data and maps, its output block
//   itkCudaFFTConvolutionDeconvolutionIterations.cu  the device steps and the algorithms' iterations
// and the engine's entry points (Deconvolve, DeconvolveOnDevice) in itkCudaFFTConvolutionDeconvolution.cu.
// The members those files call across are instantiated for float and double.

#include "itkCudaFFTConvolutionDeconvolutionKernels.cuh"
#include "itkCudaFFTConvolutionEngineImpl.cuh"

#include <functional>
#include <limits>

namespace itk
{
namespace CudaFFTConvolutionDeconvolutionDetail
{
using DeconvolutionPlanner = CudaDeconvolutionPlanner;
using Algorithm = DeconvolutionPlanner::Algorithm;
using namespace CudaFFTConvolutionDeconvolutionKernels;

/** Copies a t0 x t1 x t2 box between pitched buffers (CropTile with a source layout). */
template <typename T>
void
CopyBox(const T *                                     source,
        const CudaFFTConvolutionPlanner::SizeArray &  sourceSize,
        const CudaFFTConvolutionPlanner::IndexArray & at,
        T *                                           destination,
        const CudaFFTConvolutionPlanner::SizeArray &  destinationSize,
        const CudaFFTConvolutionPlanner::SizeArray &  box,
        cudaStream_t                                  stream,
        long long                                     sourcePitch = 0);
} // namespace CudaFFTConvolutionDeconvolutionDetail

using namespace CudaFFTConvolutionDeconvolutionDetail;

/** One deconvolution on the engine's device core: its plan, settings, stream and the current
 * tile; the buffers are the engine's (kept between runs). */
template <typename T>
class CudaFFTConvolutionEngine::DeconvolutionRun
{
public:
  using Complex = typename FFTTraits<T>::Complex;
  using Tile = DeconvolutionPlanner::Tile;
  /** Puts a tile's data into the compact data buffer, ordered before the run's stream. */
  using LoadFunction = std::function<void(const Tile &)>;
  /** Writes a tile's output block from the estimate buffer (grid layout, at an offset). */
  using StoreFunction = std::function<void(const Tile &, const T * estimate, const Planner::IndexArray & offset)>;

  DeconvolutionRun(Impl &                        engine,
                   const DeconvolutionPlan &     plan,
                   const DeconvolutionSettings & settings,
                   const IterationFunction &     onIteration,
                   cudaStream_t                  stream);

  /** Plans, transfer function and the buffers the plan needs (others are freed). */
  void
  Prepare(const KernelValues<T> & kernel);

  /** Loads, deconvolves and stores one tile. */
  void
  RunTile(std::size_t t, const LoadFunction & load, const StoreFunction & store);

  /** The grid position of the tile's first output voxel. */
  Planner::IndexArray
  OutputOffset() const;

  /** Where the estimate the user sees lives now (x_k when accelerated; Landweber's in the FFT buffer). */
  const T *
  CurrentEstimate() const;

  /** Copies the current tile's output block of the current estimate into host memory. */
  void
  CopyEstimate(const HostBuffer<T> & output);

  /** Moves the tile's output block from a compact device block to a host buffer. */
  void
  Download(const HostBuffer<T> & output, void * block);

  cudaStream_t
  Stream() const
  {
    return m_Stream;
  }

  T *
  DataBuffer() const
  {
    return static_cast<T *>(m_Engine.m_Data.pointer);
  }

  const FFTLayout &
  GridLayout() const
  {
    return m_Layout;
  }

private:
  // ---- buffers and the tile (itkCudaFFTConvolutionDeconvolutionTiles.cu) ---------------------
  /** Allocates \a buffer when \a needed, frees it otherwise. */
  void
  Need(DeviceAllocation & buffer, bool needed, std::uint64_t bytes, const char * what);

  /** The FFT buffer as real values: the padded grid. */
  T *
  Grid() const
  {
    return static_cast<T *>(m_Engine.m_FFTBuffer.pointer);
  }

  /** The kernel's sum (after normalisation) from the transfer function's zero frequency. */
  double
  KernelSum();

  /** Sends the tile's axis data maps up, once the previous tile has read them. */
  void
  SendMaps();

  /** The tile's data as the kernels read them: compact values, the maps and their box on the grid. */
  DataOnGrid
  Data() const;

  /** The tile's data on the grid (non-circulant edges: the only voxels compared with the data). */
  CudaFFTConvolutionFFT::Box
  DataBox() const;

  // ---- device steps (itkCudaFFTConvolutionDeconvolutionIterations.cu) -------------------------
  /** \a live (optional): the grid is zero outside it. */
  void
  Forward(const CudaFFTConvolutionFFT::Box * live = nullptr)
  {
    m_Engine.m_FFT.Forward(Grid(), live);
  }

  /** \a live (optional): only the result inside it is read (the rest may be left undefined). */
  void
  Inverse(const CudaFFTConvolutionFFT::Box * live = nullptr)
  {
    m_Engine.m_FFT.Inverse(Grid(), live);
  }

  /** The FFT buffer as its half-complex spectrum. */
  Complex *
  Spectrum() const
  {
    return reinterpret_cast<Complex *>(Grid());
  }

  /** The kernel's transfer function: the engine's cached spectrum. */
  const Complex *
  TransferFunction() const
  {
    return static_cast<const Complex *>(m_Engine.m_Spectrum.pointer);
  }

  /** The grid = H * grid, or H^T * grid; \a zeroOutside: the grid is zero outside it on entry;
   * \a neededInside: only the result inside it is read afterwards. */
  void
  Blur(bool                               adjoint,
       const CudaFFTConvolutionFFT::Box * zeroOutside = nullptr,
       const CudaFFTConvolutionFFT::Box * neededInside = nullptr);

  /** The data, extended to the grid as the plan says, into the FFT buffer. */
  void
  PadData();

  /** Copies a grid-sized buffer on the run's stream. */
  void
  CopyGrid(void * to, const void * from);

  /** Zeroes the statistics of every slot. */
  void
  ZeroStatistics();

  /** Sums the statistics' slots into the first (before anything reads them). */
  void
  FoldStatistics();

  /** The initial estimate (and its copy in the FFT buffer), weights and data spectrum. */
  void
  Initialize();

  /** Richardson-Lucy: the ratio of the data to the blurred estimate, blurred back, times the
   * estimate (the FFT buffer holds the estimate on entry and the new one on exit). */
  void
  RichardsonLucyIteration(bool measure);

  /** The update of an iteration (Biggs-Andrews' two halves when accelerated); a stencil (total
   * variation) must not read what it writes, so then the plain update ping-pongs. */
  template <bool TotalVariation>
  void
  Update(const RowLaunch & launch, const T * weights, T lambda);

  /** Landweber (projected: negatives clamped): one gradient step in the spectrum. */
  void
  LandweberIteration();

  /** The statistics of the iteration just enqueued (waits for it). */
  void
  ReadStatistics(IterationReport & report);

  /** True when the I-divergence is measured every iteration. */
  bool
  Measuring() const
  {
    return m_Settings.computeDivergence || m_Settings.divergenceTolerance > 0;
  }

  /** True when a tolerance says the tile has converged. */
  bool
  Converged(const IterationReport & report, double previousDivergence) const;

  /** The tile's iterations, until their number, a tolerance or the IterationFunction stops them. */
  void
  Iterate();

  /** Inverse, Tikhonov, Wiener: one pass over the data's spectrum. */
  void
  Direct();

  Impl &                        m_Engine;
  const DeconvolutionPlan &     m_Plan;
  const DeconvolutionSettings & m_Settings;
  const IterationFunction &     m_OnIteration;
  cudaStream_t                  m_Stream;
  const Planner::Plan           m_Transform;
  const FFTLayout               m_Layout;
  const long long               m_SpectrumElements;
  const double                  m_Voxels;
  std::uint64_t                 m_MapValues{ 0 };
  double *                      m_Statistics{ nullptr };
  T *                           m_X{ nullptr };
  T *                           m_XNext{ nullptr };
  T                             m_WeightThreshold{ 0 };
  const Tile *                  m_Tile{ nullptr };
  std::size_t                   m_TileIndex{ 0 };
};
} // namespace itk

#endif
