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
#ifndef itkCudaFFTConvolutionEngineImpl_cuh
#define itkCudaFFTConvolutionEngineImpl_cuh

// Internal to the engine: its state and device core (plans, transfer function, buffers, one
// tile's pad / transform / multiply / crop), shared by the convolution runs and the
// deconvolution layer. The class is declared here; its members are defined by layer:
//   itkCudaFFTConvolutionEngineResources.cu  device scope, allocations, page-locked buffers, streams, release
//   itkCudaFFTConvolutionEnginePlans.cu      FFT plans, their work area and the run's buffers
//   itkCudaFFTConvolutionEngineSpectrum.cu   the kernel spectrum and its cache
//   itkCudaFFTConvolutionEngineTiles.cu      a tile's axis maps, its computation and its transfers
//   itkCudaFFTConvolutionEngineRuns.cu       a run over host buffers and a device-resident run
// The member templates are instantiated there for float and double.

#include "itkCudaFFTConvolutionEngine.h"

#include "itkCudaFFTConvolutionCudaSupport.h"
#include "itkCudaFFTConvolutionFFT.h"
#include "itkCudaFFTConvolutionHostWorkers.h"
#include "itkCudaFFTConvolutionKernels.cuh"
#include "itkCudaFFTConvolutionStaging.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>
#include <vector>

namespace itk
{
namespace CudaFFTConvolutionEngineDetail
{
using Planner = CudaFFTConvolutionPlanner;
using namespace CudaFFTConvolutionCuda;
using namespace CudaFFTConvolutionKernels;

/** A device allocation that the engine counts. */
struct DeviceAllocation
{
  void *        pointer{ nullptr };
  std::uint64_t bytes{ 0 };
};

/** A page-locked host buffer the engine owns (the axis maps go up from it asynchronously). */
struct PinnedBuffer
{
  void *        pointer{ nullptr };
  std::uint64_t bytes{ 0 };
};

inline FFTLayout
Layout(const Planner::SizeArray & fft)
{
  FFTLayout layout;
  layout.f0 = static_cast<long long>(fft[0]);
  layout.f1 = static_cast<long long>(fft[1]);
  layout.f2 = static_cast<long long>(fft[2]);
  layout.pitch = 2 * (layout.f0 / 2 + 1);
  return layout;
}

inline double
Milliseconds(std::chrono::steady_clock::time_point since)
{
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}
} // namespace CudaFFTConvolutionEngineDetail

using namespace CudaFFTConvolutionEngineDetail;

class CudaFFTConvolutionEngine::Impl
{
public:
  ~Impl() { ReleaseOnResidentDevice(); }

  // ---- device scope, memory, streams, release (itkCudaFFTConvolutionEngineResources.cu) ----
  /** Makes the engine's device current for a scope; what it holds on another device is freed. */
  int
  Enter(std::unique_ptr<DeviceScope> & scope);

  /** Frees what the engine holds with its device current. After the CUDA runtime has shut down
   * (an engine destroyed after main) the device cannot be made current: then it only forgets. */
  void
  ReleaseOnResidentDevice();

  /** Makes \a buffer hold at least \a bytes (kept when it does); a failure throws, out of memory told apart. */
  void
  Allocate(DeviceAllocation & buffer, std::uint64_t bytes, const char * what);

  /** Frees a device buffer once no device-resident run uses it. */
  void
  Free(DeviceAllocation & buffer);

  /** Makes \a buffer hold at least \a bytes of page-locked host memory. */
  static void
  AllocatePinned(PinnedBuffer & buffer, std::uint64_t bytes);

  static void
  FreePinned(PinnedBuffer & buffer);

  /** The compute, upload and download streams and the slots' events, made once. */
  void
  EnsureStreams();

  /** Blocks until the last device-resident run (enqueued on a caller's stream) has finished
   * with the engine's buffers, plans and page-locked maps. */
  void
  WaitForDeviceRuns();

  /** Leaves no work in flight on buffers the caller may free (after a failure). */
  void
  Drain();

  /** Frees everything the engine holds on the current device. */
  void
  Release();

  /** Frees the deconvolution layer's buffers. */
  void
  ReleaseDeconvolution();

  // ---- plans and buffers (itkCudaFFTConvolutionEnginePlans.cu) -------------------------------
  /** The plans run on the stream of the run at hand. */
  void
  SetPlanStream(cudaStream_t stream)
  {
    m_FFT.SetStream(stream);
  }

  /** Destroys the plans (after any device-resident run) and frees their work area. */
  void
  DestroyPlans();

  /** Makes the plans of an FFT size (by the engine's FFT backend) unless they exist; returns
   * their work-area bytes. */
  std::uint64_t
  EnsurePlans(const SizeArray & fft, unsigned int dimension, unsigned int elementSize);

  /** One work area serves both plans: they never run at the same time. */
  void
  AttachWorkArea();

  /** Bytes of one tile's axis maps (one index per grid position of each axis). */
  static std::uint64_t
  MapBytes(const Plan & plan)
  {
    return (plan.fftSize[0] + plan.fftSize[1] + plan.fftSize[2]) * sizeof(long long);
  }

  /** Streams, plans (on \a stream), work area and FFT buffer: what every run needs. */
  void
  PrepareTransform(const Plan & plan, unsigned int elementSize, cudaStream_t stream);

  /** PrepareTransform, and the staging buffers of every slot, before any tile runs. */
  void
  PrepareBuffers(const Plan & plan, unsigned int elementSize);

  // ---- the kernel spectrum (itkCudaFFTConvolutionEngineSpectrum.cu) --------------------------
  struct SpectrumKey
  {
    SizeArray    fftSize{ { 0, 0, 0 } };
    SizeArray    kernelSize{ { 0, 0, 0 } };
    unsigned int dimension{ 0 };
    unsigned int elementSize{ 0 };
    bool         normalize{ false };
    bool
    operator==(const SpectrumKey & o) const
    {
      return fftSize == o.fftSize && kernelSize == o.kernelSize && dimension == o.dimension &&
             elementSize == o.elementSize && normalize == o.normalize;
    }
  };

  /** True when \a kernel holds the values the cached spectrum was made from (compared by the
   * staging threads: a few hundred microseconds for a 32 MiB kernel). */
  bool
  SameKernelValues(const void * kernel, std::uint64_t bytes);

  /** Makes the kernel spectrum unless the cached one is of the same kernel (see KernelValues),
   * on \a stream. */
  template <typename T>
  void
  EnsureSpectrum(const Plan & plan, const KernelValues<T> & kernel, bool normalize, cudaStream_t stream);

  /** Reads the kernel's sums back and refuses to normalise a kernel that sums to zero. */
  static void
  CheckNormalizable(const double * deviceSums, cudaStream_t stream);

  /** Uploads the kernel, scatters it (centred at the origin, 1/N folded in) and transforms it. */
  template <typename T>
  void
  MakeSpectrum(const Plan & plan, const KernelValues<T> & kernel, bool normalize, cudaStream_t stream);

  // ---- one tile (itkCudaFFTConvolutionEngineTiles.cu) ----------------------------------------
  /** Where a tile reads its source block and writes its kept voxels: row and slice pitches in
   * values (a compact staging block, or the part of a caller's device buffer). */
  template <typename T>
  struct TileEnds
  {
    const T *         source{ nullptr };
    long long         sourceRow{ 1 };
    long long         sourceRows{ 1 };
    const long long * maps{ nullptr };
    T *               destination{ nullptr };
    long long         destinationRow{ 1 };
    long long         destinationRows{ 1 };
  };

  /** Sends a tile's axis maps up from the slot's page-locked buffer, on the upload stream. */
  void
  SendMaps(const Plan & plan, const Planner::Tile & tile, unsigned int slot);

  /** Where a tile's padded grid can be non-zero: the box of its source values, for a zero
   * constant boundary; false for other boundaries (the padding is not zero) and empty sources. */
  static bool
  NonZeroBox(const Plan & plan, const Planner::Tile & tile, double constant, CudaFFTConvolutionFFT::Box & box);

  /** Pads, transforms, multiplies, transforms back and crops one tile on \a stream: the one
   * computation every run (host or device buffers, any tile) goes through. The transforms are
   * told what is zero and what is cropped (pruned where the FFT layer can). */
  template <typename T>
  void
  ComputeTile(const Plan & plan, const Planner::Tile & tile, const TileEnds<T> & ends, T constant, cudaStream_t stream);

  /** ComputeTile from and to a staging slot on the compute stream, once the slot's input is up
   * and its previous result has left. */
  template <typename T>
  void
  EnqueueCompute(const Plan & plan, const Planner::Tile & tile, unsigned int slot, T constant);

  /** Moves tile \a up's source block to the device and tile \a down's result to the host
   * buffer (either may be absent), interleaved; the download waits for its tile's compute. */
  template <typename T>
  void
  MoveTiles(const HostBuffer<const T> & input,
            const HostBuffer<T> &       output,
            const Planner::Tile *       up,
            unsigned int                upSlot,
            const Planner::Tile *       down,
            unsigned int                downSlot);

  /** Every tile's axis maps, in one page-locked buffer that the previous device run has
   * finished sending; tile t's maps start at t * MapBytes(plan). */
  const long long *
  FillAllMaps(const Plan & plan);

  /** True when the device holds the axis maps of every tile of \a plan (uploaded by an earlier
   * device-resident run of the same plan). */
  bool
  HasDeviceMaps(const Plan & plan) const;

  /** Every tile's axis maps in device memory (tile t's at t * MapBytes(plan)), made and sent on
   * \a stream only when the plan changed: back-to-back runs of one plan neither recompute nor
   * re-upload them and never wait on the host. */
  const long long *
  EnsureDeviceMaps(const Plan & plan, cudaStream_t stream);

  // ---- runs (itkCudaFFTConvolutionEngineRuns.cu) ---------------------------------------------
  /** Offset of \a index in a buffer holding \a region (x fastest), in values. */
  static std::int64_t
  Offset(const Box & region, const Planner::IndexArray & index)
  {
    const auto rows = static_cast<std::int64_t>(region.size[1]);
    const auto row = static_cast<std::int64_t>(region.size[0]);
    return ((index[2] - region.index[2]) * rows + (index[1] - region.index[1])) * row + (index[0] - region.index[0]);
  }

  /** A plan over host buffers: tile t is uploaded while tile t - 1 is computed. */
  template <typename T>
  bool
  Run(const Plan &                plan,
      const HostBuffer<const T> & input,
      const HostBuffer<T> &       output,
      const T *                   kernel,
      bool                        normalize,
      T                           constant,
      const ProgressFunction &    progress);

  /** Refuses device buffers that do not hold what the plan reads and writes. */
  template <typename T>
  static void
  CheckDevicePlan(const Plan & plan, const DeviceBuffer<const T> & input, const DeviceBuffer<T> & output);

  /** A plan over device buffers, enqueued on \a stream after the previous device run. */
  template <typename T>
  void
  RunOnDevice(const Plan &                  plan,
              const DeviceBuffer<const T> & input,
              const DeviceBuffer<T> &       output,
              const KernelValues<T> &       kernel,
              bool                          normalize,
              T                             constant,
              cudaStream_t                  stream);

  int                                            m_Device{ -1 };
  int                                            m_ResidentDevice{ -1 };
  int                                            m_LastDevice{ -1 };
  std::unique_ptr<CudaFFTConvolutionHostWorkers> m_Workers{ new CudaFFTConvolutionHostWorkers(8) };
  CudaFFTConvolutionStaging                      m_Staging;
  cudaStream_t                                   m_Compute{ nullptr };
  cudaStream_t                                   m_Upload{ nullptr };
  cudaStream_t                                   m_Download{ nullptr };
  cudaEvent_t                                    m_InputReady[2]{};
  cudaEvent_t                                    m_ComputeDone[2]{};
  cudaEvent_t                                    m_Downloaded[2]{};
  cudaEvent_t                                    m_DeviceRunDone{ nullptr };
  bool                                           m_DeviceRunPending{ false };
  std::uint64_t                                  m_KernelIdentity{ 0 };
  CudaFFTConvolutionFFT                          m_FFT;
  FFTBackend                                     m_FFTBackend{ CudaFFTConvolutionFFT::DefaultBackend() };
  FFTBackend                                     m_LastFFTBackend{ FFTBackend::Auto };
  DeviceAllocation                               m_WorkArea;
  DeviceAllocation                               m_Spectrum;
  bool                                           m_SpectrumValid{ false };
  SpectrumKey                                    m_SpectrumKey;
  std::vector<char>                              m_KernelValues;
  bool                                           m_ReusedSpectrum{ false };
  double                                         m_KernelCheckMilliseconds{ 0 };
  DeviceAllocation                               m_FFTBuffer;
  DeviceAllocation                               m_Source[2];
  DeviceAllocation                               m_Tile[2];
  DeviceAllocation                               m_Maps[2];
  PinnedBuffer                                   m_HostMaps[2];
  std::uint64_t                                  m_Allocated{ 0 };
  bool m_DeviceMapsValid{ false }; //!< m_Maps[0] holds m_DeviceMapsPlan's maps
  Plan m_DeviceMapsPlan;

  // The deconvolution layer's buffers (itkCudaFFTConvolutionDeconvolutionRun.cuh), kept between runs.
  DeviceAllocation m_Estimate;     //!< the estimate on the grid (Richardson-Lucy: y when accelerated)
  DeviceAllocation m_NextEstimate; //!< total variation without acceleration: the update's target
  DeviceAllocation m_Data;         //!< a tile's observed data, compact; also its output block
  DeviceAllocation m_DataSpectrum; //!< Landweber: the padded data's spectrum
  DeviceAllocation m_Weights;      //!< non-circulant: 1 / (H^T 1)
  DeviceAllocation m_Previous;     //!< Biggs-Andrews: x_k
  DeviceAllocation m_Step;         //!< Biggs-Andrews: g_k-1
  DeviceAllocation m_GridMaps;     //!< a tile's axis data maps, then the statistics (doubles)
  PinnedBuffer     m_HostStatistics;
  void *           m_ActiveDeconvolution{ nullptr }; //!< the run an IterationFunction may query
  unsigned int     m_ActiveElementSize{ 0 };
  unsigned int     m_LastIterations{ 0 };
};

} // namespace itk

#endif
