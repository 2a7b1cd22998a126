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
#ifndef itkCudaFFTConvolutionEngine_h
#define itkCudaFFTConvolutionEngine_h

#include "CudaFFTConvolutionExport.h"
#include "itkCudaDeconvolutionPlanner.h"
#include "itkCudaFFTConvolutionEngineError.h"
#include "itkCudaFFTConvolutionPlanner.h"
#include <cstdint>
#include <limits>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace itk
{
/** \class CudaFFTConvolutionEngine
 * \brief Executes a CudaFFTConvolutionPlanner plan on a CUDA device with cuFFT or VkFFT.
 *
 * Plain C++ over raw host pointers, float or double; no CUDA type and no ITK template appears
 * here, so the ITK filter is compiled by the host compiler and nvcc sees only src/*.cu.
 *
 * For each tile: the tile's axis maps and source block go to the device (the block through the
 * engine's own page-locked staging chunks, copied by several host threads while the DMA of the
 * previous chunk runs, an upload interleaved with the previous tile's download), are padded
 * there with the boundary condition into an in-place real-to-complex FFT buffer, transformed,
 * multiplied with the cached kernel spectrum (which carries 1/N and the kernel normalisation),
 * transformed back, cropped and copied back to the host output buffer the same way.
 *
 * Host memory: the engine page-locks only what it allocates (StagingHostBytes() in all, plus
 * the axis maps). A caller's buffer is never page-locked, registered or replaced; one its owner
 * page-locked (cudaMallocHost, CudaPinnedImportImageContainer) is reached by DMA directly.
 *
 * FFTs: cuFFT, or VkFFT (SetFFTBackend) through a plugin library beside the engine's that is
 * loaded on first use; where VkFFT cannot be had or cannot plan a size, cuFFT does it (one warning
 * line on stderr).
 *
 * Caches: the forward and inverse FFT plans of the last FFT size (sharing one work area) and
 * the kernel spectrum with a copy of the kernel values it was made from: a kernel whose values
 * changed (in place, without any notice) is transformed again. ReleaseResources() frees all
 * device and page-locked memory. One engine serves one caller at a time.
 * \ingroup CudaFFTConvolution
 */
class CudaFFTConvolution_EXPORT CudaFFTConvolutionEngine
{
public:
  using SizeArray = CudaFFTConvolutionPlanner::SizeArray;
  using Box = CudaFFTConvolutionPlanner::Box;
  using Plan = CudaFFTConvolutionPlanner::Plan;
  using DeconvolutionPlan = CudaDeconvolutionPlanner::Plan;

  /** Called between tiles with the fraction done; returns false to abort the run. */
  using ProgressFunction = std::function<bool(double)>;

  /** A host buffer of values and the image region it holds (x fastest). */
  template <typename TValue>
  struct HostBuffer
  {
    TValue * data{ nullptr };
    Box      region;
  };

  /** A buffer in the engine device's memory (x fastest, contiguous) and the region it holds. */
  template <typename TValue>
  struct DeviceBuffer
  {
    TValue * data{ nullptr };
    Box      region;
  };

  /** A CUDA stream as an opaque handle (a cudaStream_t; nullptr is the legacy default stream),
   * so that no CUDA type appears in this header. */
  using StreamHandle = void *;

  /** The kernel of a device-resident run: kernelSize values (x fastest) in host or device
   * memory. With a non-zero \a identity the caller promises that runs giving the same identity
   * give the same values (a kernel object it keeps unchanged): the cached spectrum is reused
   * without looking at the values. With identity 0, host values are compared with the cached
   * copy and device values always make a new spectrum. */
  template <typename TValue>
  struct KernelValues
  {
    const TValue * data{ nullptr };
    bool           onDevice{ false };
    std::uint64_t  identity{ 0 };
  };

  CudaFFTConvolutionEngine();
  ~CudaFFTConvolutionEngine();
  CudaFFTConvolutionEngine(const CudaFFTConvolutionEngine &) = delete;
  CudaFFTConvolutionEngine &
  operator=(const CudaFFTConvolutionEngine &) = delete;

  /** True when a usable CUDA device is present (\a device: an ordinal, -1 for the current
   * one); otherwise \a reason says why not. */
  static bool
  DeviceAvailable(std::string * reason = nullptr, int device = -1);

  /** Free and total memory of a device (-1: the current one), in bytes. */
  static void
  DeviceMemory(std::uint64_t & freeBytes, std::uint64_t & totalBytes, int device = -1);

  /** Page-locked host memory an engine allocates for its staging chunks: the one number the
   * planner counts as page-locked host memory (the driver maps it with device page tables). */
  static std::uint64_t
  StagingHostBytes();

  /** Bytes of one staging chunk: a row longer than this is moved in pieces. */
  static std::uint64_t
  StagingChunkBytes();

  /** The device to run on: an ordinal, or -1 (default) for the calling thread's current device.
   * Changing it frees what the engine holds on the previous device. */
  void
  SetDevice(int device);
  int
  GetDevice() const;

  /** The device ordinal of the last Run; -1 before the first. */
  int
  GetLastDevice() const;

  /** Host threads for the staging copies (the calling thread included); default 8. */
  void
  SetNumberOfThreads(unsigned int threads);

  /** The FFT library under the engine. Auto: VkFFT where its plugin loads and plans the size,
   * otherwise cuFFT. */
  enum class FFTBackend
  {
    Auto,
    CuFFT,
    VkFFT
  };

  /** The backend the next plans are made with; default DefaultFFTBackend(). A change takes effect
   * at the next plan (PreparePlans or a run). */
  void
  SetFFTBackend(FFTBackend backend);
  FFTBackend
  GetFFTBackend() const;

  /** The backend of the engine's last plans (CuFFT or VkFFT; Auto before the first). */
  FFTBackend
  GetLastFFTBackend() const;

  /** The environment's choice, CUDAFFTCONVOLUTION_FFT_BACKEND = cufft, vkfft or auto (case
   * ignored); CuFFT when unset (VkFFT plans cost an NVRTC compile per size), Auto when unknown
   * (with a warning). */
  static FFTBackend
  DefaultFFTBackend();

  /** "auto", "cufft" or "vkfft". */
  static const char *
  FFTBackendName(FFTBackend backend);

  /** Makes this engine's forward and inverse FFT plans for an FFT size (unless it has them)
   * and returns their work-area bytes: planning asks this, and Run then reuses the plans. */
  std::uint64_t
  PreparePlans(const SizeArray & fftSize, unsigned int dimension, unsigned int elementSize);

  /** Exact work-area bytes for the forward and inverse plans of an FFT size (the larger) by the
   * default backend (DefaultFFTBackend()), or by \a backend, for estimates made without an
   * engine (on the current device). */
  static std::uint64_t
  WorkAreaBytes(const SizeArray & fftSize, unsigned int dimension, unsigned int elementSize);
  static std::uint64_t
  WorkAreaBytes(const SizeArray & fftSize, unsigned int dimension, unsigned int elementSize, FFTBackend backend);

  /** Page-locked host memory (cudaMallocHost), which the engine reaches by DMA without
   * staging; nullptr when it cannot be had. Free it with FreePinnedHost, which returns false
   * when the CUDA runtime could not free it (at process exit it may be gone). */
  static void *
  AllocatePinnedHost(std::uint64_t bytes);
  static bool
  FreePinnedHost(void * pointer);

  /** True when the host pointer lies in page-locked memory. */
  static bool
  IsPinnedHost(const void * pointer);

  /** Runs a plan. \a kernel holds the plan's kernelSize values (x fastest); its spectrum is
   * reused when the values, FFT size, precision and \a normalize are those of the cached one.
   * \a constant is the value of a constant boundary condition. Returns false when \a progress
   * asked to abort. */
  template <typename TValue>
  bool
  Run(const Plan &                     plan,
      const HostBuffer<const TValue> & input,
      const HostBuffer<TValue> &       output,
      const TValue *                   kernel,
      bool                             normalize,
      TValue                           constant,
      const ProgressFunction &         progress);

  /** Runs a plan made with Request::deviceResident on buffers in device memory, enqueued on
   * \a stream in the caller's order: the call returns once the work is enqueued (it waits only
   * when a new kernel spectrum is made, to check a normalised kernel's sum). Work already on
   * \a stream that writes the input or kernel is ordered before it, and work the caller
   * enqueues after it sees the output. The engine's device buffers are reused by the next run on
   * any stream, which is ordered after this one. Nothing is staged through the host. */
  template <typename TValue>
  void
  RunOnDevice(const Plan &                       plan,
              const DeviceBuffer<const TValue> & input,
              const DeviceBuffer<TValue> &       output,
              const KernelValues<TValue> &       kernel,
              bool                               normalize,
              TValue                             constant,
              StreamHandle                       stream);

  /** The numbers of a deconvolution; the geometry (algorithm, edges, tiles) is the plan's.
   * Defaults are ITK's. */
  struct DeconvolutionSettings
  {
    unsigned int iterations{ 1 };
    bool         normalize{ false }; //!< divide the kernel by its sum
    double       constant{ 0 };      //!< the value of a Constant boundary (BoundaryCondition edges)
    double       alpha{ 0.1 };       //!< Landweber's step
    /** Richardson-Lucy: a blurred estimate below this gives a ratio of 0 (ITK's DivideOrZeroOut). */
    double divisionThreshold{ 1e-5 };
    double kernelZeroMagnitudeThreshold{ 1e-4 }; //!< Inverse, Tikhonov, Wiener (as ITK's)
    double regularizationConstant{ 0 };          //!< Tikhonov
    double noiseVariance{ 0 };                   //!< Wiener
    /** NonCirculant: voxels where H^T 1 is below this fraction of the kernel's sum get weight 0. */
    double weightThreshold{ 0.01 };
    double background{ 0 };     //!< Richardson-Lucy: a constant added to the blurred estimate
    double totalVariation{ 0 }; //!< Richardson-Lucy-TV's lambda (the plan must ask for it)
    /** Stop a tile when sum|x_k+1 - x_k| / sum|x_k| falls below this; 0: never. */
    double relativeChangeTolerance{ 0 };
    /** Stop a tile when the I-divergence falls by less than this fraction in an iteration; 0: never. */
    double divergenceTolerance{ 0 };
    /** Measure the I-divergence of every iteration (Richardson-Lucy; costs no extra pass). */
    bool computeDivergence{ false };
  };

  /** What an IterationFunction is told before each iteration of a tile. */
  struct IterationReport
  {
    unsigned int iteration{ 0 }; //!< iterations this tile has done
    std::size_t  tile{ 0 };
    std::size_t  tiles{ 1 };
    /** I-divergence of the data from the blurred estimate the previous iteration started from
     * (NaN when not measured or before the first iteration). */
    double divergence{ std::numeric_limits<double>::quiet_NaN() };
    /** sum|x_k+1 - x_k| / sum|x_k| of the previous iteration (NaN when not measured). */
    double relativeChange{ std::numeric_limits<double>::quiet_NaN() };
  };

  /** Called before each iteration (ITK's IterationEvent); returning false ends the tile's
   * iterations there. It may call CopyCurrentEstimate. */
  using IterationFunction = std::function<bool(const IterationReport &)>;

  /** Deconvolves \a input (host memory, any region holding the plan's input) with the kernel
   * and writes the plan's output region into \a output. Each tile's data go up once, all its
   * iterations run on the device, its output block comes down once. */
  template <typename TValue>
  void
  Deconvolve(const DeconvolutionPlan &        plan,
             const HostBuffer<const TValue> & input,
             const HostBuffer<TValue> &       output,
             const KernelValues<TValue> &     kernel,
             const DeconvolutionSettings &    settings,
             const IterationFunction &        onIteration);

  /** Deconvolve on buffers in device memory, on \a stream (the call returns when the result is
   * enqueued; with stopping tolerances or an IterationFunction it waits every iteration). */
  template <typename TValue>
  void
  DeconvolveOnDevice(const DeconvolutionPlan &          plan,
                     const DeviceBuffer<const TValue> & input,
                     const DeviceBuffer<TValue> &       output,
                     const KernelValues<TValue> &       kernel,
                     const DeconvolutionSettings &      settings,
                     const IterationFunction &          onIteration,
                     StreamHandle                       stream);

  /** Within an IterationFunction: copies the current tile's output block of the current
   * estimate into \a output (host memory holding that block), waiting for the device. */
  template <typename TValue>
  void
  CopyCurrentEstimate(const HostBuffer<TValue> & output);

  /** Iterations the last deconvolution's last tile ran. */
  unsigned int
  LastIterations() const;

  /** Whether the last Run reused the cached kernel spectrum, and what comparing the kernel's
   * values with the cached copy cost (milliseconds). */
  bool
  LastRunReusedSpectrum() const;
  double
  LastKernelCheckMilliseconds() const;

  /** Waits for the engine's work on the device, then frees the plans, the kernel spectrum, the
   * device buffers and the page-locked staging. */
  void
  ReleaseResources();

  /** Device bytes currently held by this engine. */
  std::uint64_t
  AllocatedDeviceBytes() const;

  /** Internal: one deconvolution on the engine's device core (defined in the engine's sources;
   * public only because nvcc's kernel stubs must name it). */
  template <typename TValue>
  class DeconvolutionRun;

private:
  class Impl;
  std::unique_ptr<Impl> m_Impl;
};
} // namespace itk

#endif
