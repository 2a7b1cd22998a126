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
// tile's pad / transform / multiply / crop), shared by the convolution runs
// (itkCudaFFTConvolutionEngine.cu) and the deconvolution layer (itkCudaFFTConvolutionDeconvolution.cu).

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

  /** Makes the engine's device current for a scope; what it holds on another device is freed. */
  int
  Enter(std::unique_ptr<DeviceScope> & scope)
  {
    scope.reset(new DeviceScope(m_Device));
    if (m_ResidentDevice >= 0 && m_ResidentDevice != scope->Device())
    {
      ReleaseOnResidentDevice();
    }
    m_ResidentDevice = scope->Device();
    return m_ResidentDevice;
  }

  /** Frees what the engine holds with its device current. After the CUDA runtime has shut down
   * (an engine destroyed after main) the device cannot be made current: then it only forgets. */
  void
  ReleaseOnResidentDevice()
  {
    std::unique_ptr<DeviceScope> resident;
    if (m_ResidentDevice >= 0)
    {
      try
      {
        resident.reset(new DeviceScope(m_ResidentDevice));
      }
      catch (const CudaFFTConvolutionEngineError &)
      {}
    }
    Release();
  }

  // ---- device memory ----------------------------------------------------------------------
  void
  Allocate(DeviceAllocation & buffer, std::uint64_t bytes, const char * what)
  {
    if (buffer.bytes >= bytes && buffer.pointer != nullptr)
    {
      return;
    }
    Free(buffer);
    const cudaError_t result = cudaMalloc(&buffer.pointer, bytes);
    if (result != cudaSuccess)
    {
      buffer.pointer = nullptr;
      cudaGetLastError();
      std::ostringstream message;
      message << "cudaMalloc of " << bytes << " bytes for the " << what << " failed: " << cudaGetErrorName(result)
              << ": " << cudaGetErrorString(result);
      throw CudaFFTConvolutionEngineError(message.str(), result == cudaErrorMemoryAllocation);
    }
    buffer.bytes = bytes;
    m_Allocated += bytes;
  }

  void
  Free(DeviceAllocation & buffer)
  {
    if (buffer.pointer != nullptr)
    {
      WaitForDeviceRuns();
      cudaFree(buffer.pointer);
      m_Allocated -= buffer.bytes;
    }
    buffer = DeviceAllocation{};
  }

  static void
  AllocatePinned(PinnedBuffer & buffer, std::uint64_t bytes)
  {
    if (buffer.bytes >= bytes && buffer.pointer != nullptr)
    {
      return;
    }
    FreePinned(buffer);
    CUDAFFT_CHECK(cudaMallocHost(&buffer.pointer, bytes));
    buffer.bytes = bytes;
  }

  static void
  FreePinned(PinnedBuffer & buffer)
  {
    if (buffer.pointer != nullptr)
    {
      cudaFreeHost(buffer.pointer);
    }
    buffer = PinnedBuffer{};
  }

  // ---- streams, events and plans ----------------------------------------------------------
  void
  EnsureStreams()
  {
    if (m_Compute != nullptr)
    {
      return;
    }
    CUDAFFT_CHECK(cudaStreamCreateWithFlags(&m_Compute, cudaStreamNonBlocking));
    CUDAFFT_CHECK(cudaStreamCreateWithFlags(&m_Upload, cudaStreamNonBlocking));
    CUDAFFT_CHECK(cudaStreamCreateWithFlags(&m_Download, cudaStreamNonBlocking));
    for (unsigned int slot = 0; slot < 2; ++slot)
    {
      CUDAFFT_CHECK(cudaEventCreateWithFlags(&m_InputReady[slot], cudaEventDisableTiming));
      CUDAFFT_CHECK(cudaEventCreateWithFlags(&m_ComputeDone[slot], cudaEventDisableTiming));
      CUDAFFT_CHECK(cudaEventCreateWithFlags(&m_Downloaded[slot], cudaEventDisableTiming));
    }
    CUDAFFT_CHECK(cudaEventCreateWithFlags(&m_DeviceRunDone, cudaEventDisableTiming));
  }

  /** Blocks until the last device-resident run (enqueued on a caller's stream) has finished
   * with the engine's buffers, plans and page-locked maps. */
  void
  WaitForDeviceRuns()
  {
    if (m_DeviceRunPending)
    {
      m_DeviceRunPending = false;
      CUDAFFT_CHECK(cudaEventSynchronize(m_DeviceRunDone));
    }
  }

  /** The plans run on the stream of the run at hand. */
  void
  SetPlanStream(cudaStream_t stream)
  {
    m_FFT.SetStream(stream);
  }

  void
  DestroyPlans()
  {
    if (m_FFT.Valid())
    {
      WaitForDeviceRuns();
      m_FFT.Destroy();
    }
    Free(m_WorkArea);
  }

  /** Makes the plans of an FFT size (by the engine's FFT backend) unless they exist; returns
   * their work-area bytes. */
  std::uint64_t
  EnsurePlans(const SizeArray & fft, unsigned int dimension, unsigned int elementSize)
  {
    if (m_FFT.Has(fft, dimension, elementSize, m_FFTBackend))
    {
      return m_FFT.WorkAreaBytes();
    }
    DestroyPlans();
    EnsureStreams();
    const std::uint64_t bytes = m_FFT.Make(fft, dimension, elementSize, m_FFTBackend);
    m_LastFFTBackend = m_FFT.UsedBackend();
    return bytes;
  }

  /** One work area serves both plans: they never run at the same time. */
  void
  AttachWorkArea()
  {
    Allocate(m_WorkArea, std::max<std::uint64_t>(m_FFT.WorkAreaBytes(), 1), "FFT work area");
    m_FFT.AttachWorkArea(m_WorkArea.pointer);
  }

  static std::uint64_t
  MapBytes(const Plan & plan)
  {
    return (plan.fftSize[0] + plan.fftSize[1] + plan.fftSize[2]) * sizeof(long long);
  }

  /** Streams, plans (on \a stream), work area and FFT buffer: what every run needs. */
  void
  PrepareTransform(const Plan & plan, unsigned int elementSize, cudaStream_t stream)
  {
    EnsurePlans(plan.fftSize, plan.dimension, elementSize);
    SetPlanStream(stream);
    AttachWorkArea();
    Allocate(m_FFTBuffer, Planner::NumberOfSpectrumElements(plan.fftSize) * 2 * elementSize, "FFT buffer");
  }

  /** PrepareTransform, and the staging buffers of every slot, before any tile runs. */
  void
  PrepareBuffers(const Plan & plan, unsigned int elementSize)
  {
    EnsureStreams();
    PrepareTransform(plan, elementSize, m_Compute);
    const std::uint64_t mapBytes = MapBytes(plan);
    for (unsigned int slot = 0; slot < plan.stagingSlots; ++slot)
    {
      Allocate(m_Source[slot], std::max<std::uint64_t>(plan.maxSourceVoxels, 1) * elementSize, "input tile");
      Allocate(m_Tile[slot], std::max<std::uint64_t>(plan.maxTileVoxels, 1) * elementSize, "output tile");
      Allocate(m_Maps[slot], mapBytes, "axis maps");
      AllocatePinned(m_HostMaps[slot], mapBytes);
    }
  }

  // ---- the kernel spectrum ----------------------------------------------------------------
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
  SameKernelValues(const void * kernel, std::uint64_t bytes)
  {
    if (m_KernelValues.size() != bytes)
    {
      return false;
    }
    std::atomic<bool> same{ true };
    m_Workers->ParallelFor(bytes, 1u << 20, [&](std::uint64_t begin, std::uint64_t end) {
      if (same &&
          std::memcmp(m_KernelValues.data() + begin, static_cast<const char *>(kernel) + begin, end - begin) != 0)
      {
        same = false;
      }
    });
    return same;
  }

  /** Makes the kernel spectrum unless the cached one is of the same kernel (see KernelValues),
   * on \a stream. */
  template <typename T>
  void
  EnsureSpectrum(const Plan & plan, const KernelValues<T> & kernel, bool normalize, cudaStream_t stream)
  {
    if (kernel.data == nullptr)
    {
      throw std::invalid_argument("no kernel values were given");
    }
    SpectrumKey key;
    key.fftSize = plan.fftSize;
    key.kernelSize = plan.kernelSize;
    key.dimension = plan.dimension;
    key.elementSize = sizeof(T);
    key.normalize = normalize;
    const std::uint64_t bytes = plan.kernelSize[0] * plan.kernelSize[1] * plan.kernelSize[2] * sizeof(T);
    const auto          start = std::chrono::steady_clock::now();
    const bool          sameKernel = m_SpectrumValid && m_SpectrumKey == key && m_KernelIdentity == kernel.identity;
    if (kernel.identity != 0)
    {
      m_ReusedSpectrum = sameKernel;
    }
    else
    {
      m_ReusedSpectrum = sameKernel && !kernel.onDevice && SameKernelValues(kernel.data, bytes);
    }
    m_KernelCheckMilliseconds = Milliseconds(start);
    if (!m_ReusedSpectrum)
    {
      m_SpectrumValid = false;
      m_KernelValues.clear();
      MakeSpectrum<T>(plan, kernel, normalize, stream);
      if (kernel.identity == 0 && !kernel.onDevice)
      {
        const char * values = reinterpret_cast<const char *>(kernel.data);
        m_KernelValues.assign(values, values + bytes);
      }
      m_KernelIdentity = kernel.identity;
      m_SpectrumKey = key;
      m_SpectrumValid = true;
    }
  }

  /** Reads the kernel's sums back and refuses to normalise a kernel that sums to zero. */
  static void
  CheckNormalizable(const double * deviceSums, cudaStream_t stream)
  {
    double sums[2] = { 0, 0 };
    CUDAFFT_CHECK(cudaMemcpyAsync(sums, deviceSums, sizeof(sums), cudaMemcpyDeviceToHost, stream));
    CUDAFFT_CHECK(cudaStreamSynchronize(stream));
    if (sums[0] == 0.0 || !std::isfinite(sums[0]) || std::abs(sums[0]) <= 1e-12 * sums[1])
    {
      std::ostringstream message;
      message << "the kernel sums to " << sums[0] << " (sum of magnitudes " << sums[1]
              << "), so it cannot be normalized";
      throw std::invalid_argument(message.str());
    }
  }

  template <typename T>
  void
  MakeSpectrum(const Plan & plan, const KernelValues<T> & kernel, bool normalize, cudaStream_t stream)
  {
    const std::uint64_t bufferBytes = Planner::NumberOfSpectrumElements(plan.fftSize) * 2 * sizeof(T);
    Allocate(m_Spectrum, bufferBytes, "kernel spectrum");
    const std::uint64_t kernelVoxels = plan.kernelSize[0] * plan.kernelSize[1] * plan.kernelSize[2];
    DeviceAllocation    upload;
    try
    {
      // Two doubles for the sums first, then a host kernel's values (16 bytes keep both aligned).
      Allocate(upload, 2 * sizeof(double) + (kernel.onDevice ? 0 : kernelVoxels * sizeof(T)), "kernel");
      double *  sums = static_cast<double *>(upload.pointer);
      const T * deviceKernel = kernel.data;
      if (!kernel.onDevice)
      {
        T * values = reinterpret_cast<T *>(static_cast<char *>(upload.pointer) + 2 * sizeof(double));
        CUDAFFT_CHECK(cudaMemcpyAsync(values, kernel.data, kernelVoxels * sizeof(T), cudaMemcpyHostToDevice, stream));
        deviceKernel = values;
      }
      if (normalize)
      {
        CUDAFFT_CHECK(cudaMemsetAsync(sums, 0, 2 * sizeof(double), stream));
        SumKernel<T><<<BlocksFor(kernelVoxels), ThreadsPerBlock, 0, stream>>>(
          deviceKernel, static_cast<long long>(kernelVoxels), sums);
        CheckLaunch("SumKernel");
        CheckNormalizable(sums, stream);
      }
      CUDAFFT_CHECK(cudaMemsetAsync(m_Spectrum.pointer, 0, bufferBytes, stream));
      const double fftVoxels = static_cast<double>(plan.fftSize[0] * plan.fftSize[1] * plan.fftSize[2]);
      ScatterKernel<T>
        <<<BlocksFor(kernelVoxels), ThreadsPerBlock, 0, stream>>>(static_cast<T *>(m_Spectrum.pointer),
                                                                  Layout(plan.fftSize),
                                                                  deviceKernel,
                                                                  static_cast<long long>(plan.kernelSize[0]),
                                                                  static_cast<long long>(plan.kernelSize[1]),
                                                                  static_cast<long long>(plan.kernelSize[2]),
                                                                  sums,
                                                                  1.0 / fftVoxels,
                                                                  normalize);
      CheckLaunch("ScatterKernel");
      m_FFT.Forward(m_Spectrum.pointer);
      CUDAFFT_CHECK(cudaStreamSynchronize(stream)); // the upload buffer is freed next
    }
    catch (...)
    {
      cudaStreamSynchronize(stream);
      Free(upload);
      throw;
    }
    Free(upload);
  }

  // ---- one tile ---------------------------------------------------------------------------
  /** Sends a tile's axis maps up from the slot's page-locked buffer, on the upload stream. */
  void
  SendMaps(const Plan & plan, const Planner::Tile & tile, unsigned int slot)
  {
    // Tile t - slots has finished reading this slot's maps and source block.
    CUDAFFT_CHECK(cudaEventSynchronize(m_ComputeDone[slot]));
    auto *      maps = static_cast<long long *>(m_HostMaps[slot].pointer);
    std::size_t at = 0;
    for (unsigned int axis = 0; axis < 3; ++axis)
    {
      for (const std::int64_t value : Planner::AxisSourceMap(plan, tile, axis))
      {
        maps[at++] = value;
      }
    }
    CUDAFFT_CHECK(
      cudaMemcpyAsync(m_Maps[slot].pointer, maps, at * sizeof(long long), cudaMemcpyHostToDevice, m_Upload));
  }

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

  /** Where a tile's padded grid can be non-zero: the box of its source values, for a zero
   * constant boundary; false for other boundaries (the padding is not zero) and empty sources. */
  static bool
  NonZeroBox(const Plan & plan, const Planner::Tile & tile, double constant, CudaFFTConvolutionFFT::Box & box)
  {
    if (plan.boundary != Planner::Boundary::Constant || constant != 0)
    {
      return false;
    }
    for (unsigned int axis = 0; axis < Planner::MaximumDimension; ++axis)
    {
      const std::vector<std::int64_t> map = Planner::AxisSourceMap(plan, tile, axis);
      const auto first = std::find_if(map.begin(), map.end(), [](std::int64_t i) { return i >= 0; });
      const auto last = std::find_if(map.rbegin(), map.rend(), [](std::int64_t i) { return i >= 0; });
      if (first == map.end())
      {
        return false;
      }
      box.index[axis] = static_cast<std::uint64_t>(first - map.begin());
      box.size[axis] = static_cast<std::uint64_t>(map.rend() - last) - box.index[axis];
    }
    return true;
  }

  /** Pads, transforms, multiplies, transforms back and crops one tile on \a stream: the one
   * computation every run (host or device buffers, any tile) goes through. The transforms are
   * told what is zero and what is cropped (pruned where the FFT layer can). */
  template <typename T>
  void
  ComputeTile(const Plan & plan, const Planner::Tile & tile, const TileEnds<T> & ends, T constant, cudaStream_t stream)
  {
    using Complex = typename FFTTraits<T>::Complex;
    const FFTLayout     layout = Layout(plan.fftSize);
    const std::uint64_t spectrumElements = Planner::NumberOfSpectrumElements(plan.fftSize);
    T *                 fft = static_cast<T *>(m_FFTBuffer.pointer);
    const RowLaunch     pad = RowsOf(layout.pitch, layout.f1, layout.f2);
    PadTile<T><<<pad.grid, pad.block, 0, stream>>>(
      fft, layout, ends.source, ends.sourceRow, ends.sourceRows, ends.maps, constant);
    CheckLaunch("PadTile");
    CudaFFTConvolutionFFT::Box nonZero;
    const bool                 zeroOutside = NonZeroBox(plan, tile, static_cast<double>(constant), nonZero);
    m_FFT.Forward(fft, zeroOutside ? &nonZero : nullptr);
    MultiplySpectra<Complex>
      <<<BlocksFor(spectrumElements), ThreadsPerBlock, 0, stream>>>(reinterpret_cast<Complex *>(fft),
                                                                    static_cast<const Complex *>(m_Spectrum.pointer),
                                                                    static_cast<long long>(spectrumElements));
    CheckLaunch("MultiplySpectra");
    const auto                 crop = Planner::CropOffset(plan.kernelSize);
    CudaFFTConvolutionFFT::Box cropped;
    for (unsigned int axis = 0; axis < Planner::MaximumDimension; ++axis)
    {
      cropped.index[axis] = static_cast<std::uint64_t>(crop[axis]);
      cropped.size[axis] = tile.output.size[axis];
    }
    m_FFT.Inverse(fft, &cropped);
    const RowLaunch cropLaunch = RowsOf(static_cast<long long>(tile.output.size[0]),
                                        static_cast<long long>(tile.output.size[1]),
                                        static_cast<long long>(tile.output.size[2]));
    CropTile<T><<<cropLaunch.grid, cropLaunch.block, 0, stream>>>(fft,
                                                                  layout,
                                                                  crop[0],
                                                                  crop[1],
                                                                  crop[2],
                                                                  ends.destination,
                                                                  static_cast<long long>(tile.output.size[0]),
                                                                  static_cast<long long>(tile.output.size[1]),
                                                                  static_cast<long long>(tile.output.size[2]),
                                                                  ends.destinationRow,
                                                                  ends.destinationRows);
    CheckLaunch("CropTile");
  }

  /** ComputeTile from and to a staging slot on the compute stream, once the slot's input is up
   * and its previous result has left. */
  template <typename T>
  void
  EnqueueCompute(const Plan & plan, const Planner::Tile & tile, unsigned int slot, T constant)
  {
    CUDAFFT_CHECK(cudaEventRecord(m_InputReady[slot], m_Upload));
    CUDAFFT_CHECK(cudaStreamWaitEvent(m_Compute, m_InputReady[slot], 0));
    CUDAFFT_CHECK(cudaStreamWaitEvent(m_Compute, m_Downloaded[slot], 0));
    TileEnds<T> ends;
    ends.source = static_cast<const T *>(m_Source[slot].pointer);
    ends.sourceRow = static_cast<long long>(tile.source.size[0]);
    ends.sourceRows = static_cast<long long>(tile.source.size[1]);
    ends.maps = static_cast<const long long *>(m_Maps[slot].pointer);
    ends.destination = static_cast<T *>(m_Tile[slot].pointer);
    ends.destinationRow = static_cast<long long>(tile.output.size[0]);
    ends.destinationRows = static_cast<long long>(tile.output.size[1]);
    ComputeTile<T>(plan, tile, ends, constant, m_Compute);
    CUDAFFT_CHECK(cudaEventRecord(m_ComputeDone[slot], m_Compute));
  }

  /** Moves tile \a up's source block to the device and tile \a down's result to the host
   * buffer (either may be absent), interleaved; the download waits for its tile's compute. */
  template <typename T>
  void
  MoveTiles(const HostBuffer<const T> & input,
            const HostBuffer<T> &       output,
            const Planner::Tile *       up,
            unsigned int                upSlot,
            const Planner::Tile *       down,
            unsigned int                downSlot)
  {
    CudaFFTConvolutionStaging::Transfer upload;
    CudaFFTConvolutionStaging::Transfer download;
    const bool                          uploading = up != nullptr && !up->source.IsEmpty();
    if (uploading)
    {
      upload = { const_cast<T *>(input.data), input.region, up->source, sizeof(T), m_Source[upSlot].pointer };
    }
    if (down != nullptr)
    {
      download = { output.data, output.region, down->output, sizeof(T), m_Tile[downSlot].pointer };
      CUDAFFT_CHECK(cudaStreamWaitEvent(m_Download, m_ComputeDone[downSlot], 0));
    }
    m_Staging.Move(
      uploading ? &upload : nullptr, m_Upload, down != nullptr ? &download : nullptr, m_Download, *m_Workers);
    if (down != nullptr)
    {
      CUDAFFT_CHECK(cudaEventRecord(m_Downloaded[downSlot], m_Download));
    }
  }

  // ---- a run ------------------------------------------------------------------------------
  template <typename T>
  bool
  Run(const Plan &                plan,
      const HostBuffer<const T> & input,
      const HostBuffer<T> &       output,
      const T *                   kernel,
      bool                        normalize,
      T                           constant,
      const ProgressFunction &    progress)
  {
    if (plan.tiles.empty())
    {
      return true;
    }
    if (plan.elementSize != sizeof(T))
    {
      throw std::invalid_argument("the plan was made for another precision");
    }
    if (!plan.output.IsInside(output.region))
    {
      throw std::invalid_argument("the output buffer does not hold the planned output region");
    }
    if (plan.stagingSlots < 1 || plan.stagingSlots > 2)
    {
      throw std::invalid_argument("the plan asks for an unsupported number of staging slots");
    }
    std::unique_ptr<DeviceScope> scope;
    m_LastDevice = Enter(scope);
    WaitForDeviceRuns();
    m_DeviceMapsValid = false; // the slots' maps overwrite them
    PrepareBuffers(plan, sizeof(T));
    EnsureSpectrum<T>(plan, KernelValues<T>{ kernel, false, 0 }, normalize, m_Compute);
    const unsigned int slots = plan.stagingSlots;
    // Tile t is uploaded while tile t - 1 is computed (or downloaded, with one slot).
    bool completed = true;
    for (std::size_t t = 0; t < plan.tiles.size() && completed; ++t)
    {
      const unsigned int slot = static_cast<unsigned int>(t % slots);
      SendMaps(plan, plan.tiles[t], slot);
      const Planner::Tile * previous = t > 0 ? &plan.tiles[t - 1] : nullptr;
      MoveTiles<T>(input, output, &plan.tiles[t], slot, previous, static_cast<unsigned int>((t + slots - 1) % slots));
      EnqueueCompute<T>(plan, plan.tiles[t], slot, constant);
      if (t > 0 && progress)
      {
        completed = progress(static_cast<double>(t) / static_cast<double>(plan.tiles.size()));
      }
    }
    if (completed)
    {
      const std::size_t last = plan.tiles.size() - 1;
      MoveTiles<T>(input, output, nullptr, 0, &plan.tiles[last], static_cast<unsigned int>(last % slots));
    }
    CUDAFFT_CHECK(cudaStreamSynchronize(m_Compute));
    CUDAFFT_CHECK(cudaStreamSynchronize(m_Upload));
    CUDAFFT_CHECK(cudaStreamSynchronize(m_Download));
    return completed && (!progress || progress(1.0));
  }

  // ---- a device-resident run --------------------------------------------------------------
  /** Offset of \a index in a buffer holding \a region (x fastest), in values. */
  static std::int64_t
  Offset(const Box & region, const Planner::IndexArray & index)
  {
    const auto rows = static_cast<std::int64_t>(region.size[1]);
    const auto row = static_cast<std::int64_t>(region.size[0]);
    return ((index[2] - region.index[2]) * rows + (index[1] - region.index[1])) * row + (index[0] - region.index[0]);
  }

  template <typename T>
  static void
  CheckDevicePlan(const Plan & plan, const DeviceBuffer<const T> & input, const DeviceBuffer<T> & output)
  {
    if (plan.elementSize != sizeof(T))
    {
      throw std::invalid_argument("the plan was made for another precision");
    }
    if (!plan.output.IsInside(output.region) || (!plan.tiles.empty() && output.data == nullptr))
    {
      throw std::invalid_argument("the output buffer does not hold the planned output region");
    }
    for (const Planner::Tile & tile : plan.tiles)
    {
      if (!tile.source.IsEmpty() && (!tile.source.IsInside(input.region) || input.data == nullptr))
      {
        throw std::invalid_argument("the input buffer does not hold the input region the plan reads");
      }
    }
  }

  /** Every tile's axis maps, in one page-locked buffer that the previous device run has
   * finished sending; tile t's maps start at t * MapBytes(plan). */
  const long long *
  FillAllMaps(const Plan & plan)
  {
    const std::uint64_t mapValues = MapBytes(plan) / sizeof(long long);
    AllocatePinned(m_HostMaps[0], std::max<std::uint64_t>(plan.tiles.size() * MapBytes(plan), 1));
    auto * maps = static_cast<long long *>(m_HostMaps[0].pointer);
    for (std::size_t t = 0; t < plan.tiles.size(); ++t)
    {
      long long * at = maps + t * mapValues;
      for (unsigned int axis = 0; axis < 3; ++axis)
      {
        for (const std::int64_t value : Planner::AxisSourceMap(plan, plan.tiles[t], axis))
        {
          *at++ = value;
        }
      }
    }
    return maps;
  }

  /** True when the device holds the axis maps of every tile of \a plan (uploaded by an earlier
   * device-resident run of the same plan). */
  bool
  HasDeviceMaps(const Plan & plan) const
  {
    if (!m_DeviceMapsValid || m_DeviceMapsPlan.fftSize != plan.fftSize || m_DeviceMapsPlan.boundary != plan.boundary ||
        m_DeviceMapsPlan.kernelSize != plan.kernelSize || m_DeviceMapsPlan.inputLargest != plan.inputLargest ||
        m_DeviceMapsPlan.tiles.size() != plan.tiles.size())
    {
      return false;
    }
    for (std::size_t t = 0; t < plan.tiles.size(); ++t)
    {
      const Planner::Tile & a = m_DeviceMapsPlan.tiles[t];
      const Planner::Tile & b = plan.tiles[t];
      if (a.output != b.output || a.source != b.source || a.windowIndex != b.windowIndex)
      {
        return false;
      }
    }
    return true;
  }

  /** Every tile's axis maps in device memory (tile t's at t * MapBytes(plan)), made and sent on
   * \a stream only when the plan changed: back-to-back runs of one plan neither recompute nor
   * re-upload them and never wait on the host. */
  const long long *
  EnsureDeviceMaps(const Plan & plan, cudaStream_t stream)
  {
    if (HasDeviceMaps(plan))
    {
      return static_cast<const long long *>(m_Maps[0].pointer);
    }
    WaitForDeviceRuns(); // the page-locked maps are about to be rewritten
    m_DeviceMapsValid = false;
    const std::uint64_t bytes = std::max<std::size_t>(plan.tiles.size(), 1) * MapBytes(plan);
    Allocate(m_Maps[0], bytes, "axis maps");
    const long long * hostMaps = FillAllMaps(plan);
    CUDAFFT_CHECK(
      cudaMemcpyAsync(m_Maps[0].pointer, hostMaps, plan.tiles.size() * MapBytes(plan), cudaMemcpyHostToDevice, stream));
    m_DeviceMapsPlan.fftSize = plan.fftSize;
    m_DeviceMapsPlan.boundary = plan.boundary;
    m_DeviceMapsPlan.kernelSize = plan.kernelSize;
    m_DeviceMapsPlan.inputLargest = plan.inputLargest;
    m_DeviceMapsPlan.tiles = plan.tiles;
    m_DeviceMapsValid = true;
    return static_cast<const long long *>(m_Maps[0].pointer);
  }

  template <typename T>
  void
  RunOnDevice(const Plan &                  plan,
              const DeviceBuffer<const T> & input,
              const DeviceBuffer<T> &       output,
              const KernelValues<T> &       kernel,
              bool                          normalize,
              T                             constant,
              cudaStream_t                  stream)
  {
    CheckDevicePlan<T>(plan, input, output);
    if (plan.tiles.empty())
    {
      return;
    }
    std::unique_ptr<DeviceScope> scope;
    m_LastDevice = Enter(scope);
    EnsureStreams();
    // The previous device run (perhaps on another stream) uses the same buffers: the device
    // orders this run after it; the host does not wait (a buffer that must be reallocated is
    // freed only after a host wait, in Free).
    if (m_DeviceRunPending)
    {
      CUDAFFT_CHECK(cudaStreamWaitEvent(stream, m_DeviceRunDone, 0));
    }
    PrepareTransform(plan, sizeof(T), stream);
    EnsureSpectrum<T>(plan, kernel, normalize, stream);
    const long long *   maps = EnsureDeviceMaps(plan, stream);
    const std::uint64_t mapValues = MapBytes(plan) / sizeof(long long);
    for (std::size_t t = 0; t < plan.tiles.size(); ++t)
    {
      const Planner::Tile & tile = plan.tiles[t];
      TileEnds<T>           ends;
      ends.source = tile.source.IsEmpty() ? input.data : input.data + Offset(input.region, tile.source.index);
      ends.sourceRow = static_cast<long long>(input.region.size[0]);
      ends.sourceRows = static_cast<long long>(input.region.size[1]);
      ends.maps = maps + t * mapValues;
      ends.destination = output.data + Offset(output.region, tile.output.index);
      ends.destinationRow = static_cast<long long>(output.region.size[0]);
      ends.destinationRows = static_cast<long long>(output.region.size[1]);
      ComputeTile<T>(plan, tile, ends, constant, stream);
    }
    CUDAFFT_CHECK(cudaEventRecord(m_DeviceRunDone, stream));
    m_DeviceRunPending = true;
  }

  /** Leaves no work in flight on buffers the caller may free (after a failure). */
  void
  Drain()
  {
    if (m_Compute != nullptr)
    {
      cudaStreamSynchronize(m_Compute);
      cudaStreamSynchronize(m_Upload);
      cudaStreamSynchronize(m_Download);
      if (m_DeviceRunPending)
      {
        cudaEventSynchronize(m_DeviceRunDone);
        m_DeviceRunPending = false;
      }
      cudaGetLastError();
    }
  }

  void
  Release()
  {
    Drain();
    DestroyPlans();
    Free(m_Spectrum);
    m_SpectrumValid = false;
    m_KernelValues.clear();
    m_KernelValues.shrink_to_fit();
    Free(m_FFTBuffer);
    m_DeviceMapsValid = false;
    ReleaseDeconvolution();
    for (unsigned int slot = 0; slot < 2; ++slot)
    {
      Free(m_Source[slot]);
      Free(m_Tile[slot]);
      Free(m_Maps[slot]);
      FreePinned(m_HostMaps[slot]);
    }
    m_Staging.Release();
    if (m_Compute != nullptr)
    {
      for (unsigned int slot = 0; slot < 2; ++slot)
      {
        cudaEventDestroy(m_InputReady[slot]);
        cudaEventDestroy(m_ComputeDone[slot]);
        cudaEventDestroy(m_Downloaded[slot]);
        m_InputReady[slot] = m_ComputeDone[slot] = m_Downloaded[slot] = nullptr;
      }
      cudaEventDestroy(m_DeviceRunDone);
      m_DeviceRunDone = nullptr;
      cudaStreamDestroy(m_Compute);
      cudaStreamDestroy(m_Upload);
      cudaStreamDestroy(m_Download);
      m_Compute = m_Upload = m_Download = nullptr;
    }
    cudaGetLastError();
    m_ResidentDevice = -1;
  }

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

  // The deconvolution layer's buffers (itkCudaFFTConvolutionDeconvolution.cu), kept between runs.
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

  /** Frees the deconvolution layer's buffers. */
  void
  ReleaseDeconvolution()
  {
    for (DeviceAllocation * buffer :
         { &m_Estimate, &m_NextEstimate, &m_Data, &m_DataSpectrum, &m_Weights, &m_Previous, &m_Step, &m_GridMaps })
    {
      Free(*buffer);
    }
    FreePinned(m_HostStatistics);
  }
};

} // namespace itk

#endif
