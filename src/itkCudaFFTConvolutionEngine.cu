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
#include "itkCudaFFTConvolutionEngine.h"

#include <cuda_runtime.h>
#include <cufft.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <map>
#include <tuple>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

namespace itk
{
namespace
{
using Planner = CudaFFTConvolutionPlanner;

const char *
CufftErrorText(cufftResult result)
{
  switch (result)
  {
    case CUFFT_SUCCESS:
      return "CUFFT_SUCCESS";
    case CUFFT_INVALID_PLAN:
      return "CUFFT_INVALID_PLAN";
    case CUFFT_ALLOC_FAILED:
      return "CUFFT_ALLOC_FAILED: cuFFT failed to allocate GPU or CPU memory";
    case CUFFT_INVALID_VALUE:
      return "CUFFT_INVALID_VALUE";
    case CUFFT_INTERNAL_ERROR:
      return "CUFFT_INTERNAL_ERROR";
    case CUFFT_EXEC_FAILED:
      return "CUFFT_EXEC_FAILED: cuFFT failed to execute an FFT on the GPU";
    case CUFFT_SETUP_FAILED:
      return "CUFFT_SETUP_FAILED: the cuFFT library failed to initialize";
    case CUFFT_INVALID_SIZE:
      return "CUFFT_INVALID_SIZE";
    case CUFFT_INVALID_DEVICE:
      return "CUFFT_INVALID_DEVICE";
    case CUFFT_NO_WORKSPACE:
      return "CUFFT_NO_WORKSPACE";
    case CUFFT_NOT_IMPLEMENTED:
      return "CUFFT_NOT_IMPLEMENTED";
    case CUFFT_NOT_SUPPORTED:
      return "CUFFT_NOT_SUPPORTED";
    default:
      return "unknown cuFFT error";
  }
}

void
Check(cudaError_t result, const char * call)
{
  if (result != cudaSuccess)
  {
    cudaGetLastError(); // clear a sticky-free error so later calls are not blamed
    std::ostringstream message;
    message << call << " failed: " << cudaGetErrorName(result) << ": " << cudaGetErrorString(result);
    throw CudaFFTConvolutionEngineError(message.str(), result == cudaErrorMemoryAllocation);
  }
}

void
Check(cufftResult result, const char * call)
{
  if (result != CUFFT_SUCCESS)
  {
    std::ostringstream message;
    message << call << " failed: " << CufftErrorText(result);
    throw CudaFFTConvolutionEngineError(message.str(), result == CUFFT_ALLOC_FAILED);
  }
}

#define CUDAFFT_CHECK(call) Check((call), #call)

/** Checks the launch of a kernel just enqueued. */
void
CheckLaunch(const char * kernelName)
{
  Check(cudaGetLastError(), kernelName);
}

template <typename T>
struct FFTTraits;
template <>
struct FFTTraits<float>
{
  using Complex = cufftComplex;
  static cufftResult
  ExecForward(cufftHandle plan, float * data)
  {
    return cufftExecR2C(plan, data, reinterpret_cast<cufftComplex *>(data));
  }
  static cufftResult
  ExecInverse(cufftHandle plan, float * data)
  {
    return cufftExecC2R(plan, reinterpret_cast<cufftComplex *>(data), data);
  }
};
template <>
struct FFTTraits<double>
{
  using Complex = cufftDoubleComplex;
  static cufftResult
  ExecForward(cufftHandle plan, double * data)
  {
    return cufftExecD2Z(plan, data, reinterpret_cast<cufftDoubleComplex *>(data));
  }
  static cufftResult
  ExecInverse(cufftHandle plan, double * data)
  {
    return cufftExecZ2D(plan, reinterpret_cast<cufftDoubleComplex *>(data), data);
  }
};

constexpr unsigned int ThreadsPerBlock = 256;

unsigned int
BlocksFor(std::uint64_t count)
{
  const std::uint64_t blocks = (count + ThreadsPerBlock - 1) / ThreadsPerBlock;
  return static_cast<unsigned int>(std::max<std::uint64_t>(1, std::min<std::uint64_t>(blocks, 65535u * 8)));
}

/** Extents of the in-place FFT buffer: F0 x F1 x F2 reals in rows of \p pitch values. */
struct FFTLayout
{
  long long f0, f1, f2, pitch;
};

/** Writes the padded, boundary-extended tile into the FFT buffer (one thread per voxel). */
template <typename T>
__global__ void
PadTile(T * __restrict__ fft,
        FFTLayout layout,
        const T * __restrict__ source,
        long long s0,
        long long s1,
        const long long * __restrict__ maps,
        T constant)
{
  // Every value of every row, the in-place layout's padding columns (p0 >= F0) included: cuFFT
  // loads them with its vectors, so they are written (with zeros) rather than left unset.
  const long long total = layout.pitch * layout.f1 * layout.f2;
  const long long * map0 = maps;
  const long long * map1 = maps + layout.f0;
  const long long * map2 = map1 + layout.f1;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
  {
    const long long p0 = i % layout.pitch;
    const long long row = i / layout.pitch;
    if (p0 >= layout.f0)
    {
      fft[i] = T(0);
      continue;
    }
    const long long p1 = row % layout.f1;
    const long long p2 = row / layout.f1;
    const long long i0 = map0[p0];
    const long long i1 = map1[p1];
    const long long i2 = map2[p2];
    fft[i] = (i0 < 0 || i1 < 0 || i2 < 0) ? constant : source[(i2 * s1 + i1) * s0 + i0];
  }
}

/** Places the kernel, scaled, with its centre at the origin (the cyclic shift / ifftshift). */
template <typename T>
__global__ void
ScatterKernel(T * __restrict__ fft,
              FFTLayout layout,
              const T * __restrict__ kernel,
              long long k0,
              long long k1,
              long long k2,
              const double * __restrict__ sums,
              double scale,
              bool normalize)
{
  const long long total = k0 * k1 * k2;
  const double    factor = normalize ? scale / sums[0] : scale;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
  {
    const long long j0 = i % k0;
    const long long j1 = (i / k0) % k1;
    const long long j2 = i / (k0 * k1);
    const long long p0 = (j0 - k0 / 2 + layout.f0) % layout.f0;
    const long long p1 = (j1 - k1 / 2 + layout.f1) % layout.f1;
    const long long p2 = (j2 - k2 / 2 + layout.f2) % layout.f2;
    fft[(p2 * layout.f1 + p1) * layout.pitch + p0] = static_cast<T>(static_cast<double>(kernel[i]) * factor);
  }
}

/** sums[0] += sum of values, sums[1] += sum of magnitudes (double accumulation). */
template <typename T>
__global__ void
SumKernel(const T * __restrict__ values, long long count, double * sums)
{
  __shared__ double partial[2][ThreadsPerBlock];
  double            sum = 0;
  double            magnitude = 0;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
  {
    const double v = static_cast<double>(values[i]);
    sum += v;
    magnitude += fabs(v);
  }
  partial[0][threadIdx.x] = sum;
  partial[1][threadIdx.x] = magnitude;
  __syncthreads();
  for (unsigned int half = blockDim.x / 2; half > 0; half /= 2)
  {
    if (threadIdx.x < half)
    {
      partial[0][threadIdx.x] += partial[0][threadIdx.x + half];
      partial[1][threadIdx.x] += partial[1][threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0)
  {
    atomicAdd(&sums[0], partial[0][0]);
    atomicAdd(&sums[1], partial[1][0]);
  }
}

template <typename TComplex>
__global__ void
MultiplySpectra(TComplex * __restrict__ data, const TComplex * __restrict__ spectrum, long long count)
{
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
  {
    const TComplex a = data[i];
    const TComplex b = spectrum[i];
    TComplex       product;
    product.x = a.x * b.x - a.y * b.y;
    product.y = a.x * b.y + a.y * b.x;
    data[i] = product;
  }
}

/** Copies the kept voxels of a tile out of the FFT buffer into a compact block. */
template <typename T>
__global__ void
CropTile(const T * __restrict__ fft,
         FFTLayout layout,
         long long o0,
         long long o1,
         long long o2,
         T * __restrict__ tile,
         long long t0,
         long long t1,
         long long t2)
{
  const long long total = t0 * t1 * t2;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
  {
    const long long x = i % t0;
    const long long row = i / t0;
    const long long y = row % t1;
    const long long z = row / t1;
    tile[i] = fft[((z + o2) * layout.f1 + (y + o1)) * layout.pitch + (x + o0)];
  }
}

/** A few host threads for the copies between pageable image buffers and pinned staging. */
class HostWorkers
{
public:
  HostWorkers()
  {
    const unsigned int hardware = std::max(1u, std::thread::hardware_concurrency());
    const unsigned int helpers = std::min(hardware, 8u) - 1;
    for (unsigned int i = 0; i < helpers; ++i)
    {
      m_Threads.emplace_back([this, i] { Work(i + 1); });
    }
  }
  ~HostWorkers()
  {
    {
      std::lock_guard<std::mutex> lock(m_Mutex);
      m_Stop = true;
    }
    m_Wake.notify_all();
    for (auto & thread : m_Threads)
    {
      thread.join();
    }
  }

  /** Runs job(begin, end) over [0, count) split across the workers and the calling thread. */
  void
  ParallelFor(std::uint64_t count, const std::function<void(std::uint64_t, std::uint64_t)> & job)
  {
    const unsigned int parts = static_cast<unsigned int>(m_Threads.size()) + 1;
    if (count < 2 * parts || m_Threads.empty())
    {
      job(0, count);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(m_Mutex);
      m_Job = &job;
      m_Count = count;
      m_Pending = static_cast<unsigned int>(m_Threads.size());
      ++m_Generation;
    }
    m_Wake.notify_all();
    RunPart(0);
    std::unique_lock<std::mutex> lock(m_Mutex);
    m_Done.wait(lock, [this] { return m_Pending == 0; });
    m_Job = nullptr;
  }

private:
  void
  RunPart(unsigned int part)
  {
    const unsigned int  parts = static_cast<unsigned int>(m_Threads.size()) + 1;
    const std::uint64_t begin = m_Count * part / parts;
    const std::uint64_t end = m_Count * (part + 1) / parts;
    if (begin < end)
    {
      (*m_Job)(begin, end);
    }
  }

  void
  Work(unsigned int part)
  {
    std::uint64_t seen = 0;
    for (;;)
    {
      {
        std::unique_lock<std::mutex> lock(m_Mutex);
        m_Wake.wait(lock, [&] { return m_Stop || m_Generation != seen; });
        if (m_Stop)
        {
          return;
        }
        seen = m_Generation;
      }
      RunPart(part);
      {
        std::lock_guard<std::mutex> lock(m_Mutex);
        --m_Pending;
      }
      m_Done.notify_one();
    }
  }

  std::vector<std::thread>                                     m_Threads;
  std::mutex                                                   m_Mutex;
  std::condition_variable                                      m_Wake;
  std::condition_variable                                      m_Done;
  const std::function<void(std::uint64_t, std::uint64_t)> *    m_Job{ nullptr };
  std::uint64_t                                                m_Count{ 0 };
  std::uint64_t                                                m_Generation{ 0 };
  unsigned int                                                 m_Pending{ 0 };
  bool                                                         m_Stop{ false };
};

/** A block of rows of a box inside a host buffer: row r is (y, z) = (r % size1, r / size1). */
struct RowBlock
{
  std::uint64_t rowBytes;   //!< bytes of one row of the box
  std::uint64_t bufferRow;  //!< elements per row of the host buffer
  std::uint64_t bufferRows; //!< rows per slice of the host buffer
  std::uint64_t boxRows;    //!< rows per slice of the box (box size1)
  std::uint64_t offset0, offset1, offset2; //!< box start inside the buffer
  std::uint64_t elementSize;

  std::uint64_t
  HostOffsetBytes(std::uint64_t row) const
  {
    const std::uint64_t y = row % boxRows + offset1;
    const std::uint64_t z = row / boxRows + offset2;
    return ((z * bufferRows + y) * bufferRow + offset0) * elementSize;
  }
};

RowBlock
MakeRowBlock(const Planner::Box & box, const Planner::Box & buffer, unsigned int elementSize)
{
  RowBlock rows;
  rows.rowBytes = box.size[0] * elementSize;
  rows.bufferRow = buffer.size[0];
  rows.bufferRows = buffer.size[1];
  rows.boxRows = box.size[1];
  rows.offset0 = static_cast<std::uint64_t>(box.index[0] - buffer.index[0]);
  rows.offset1 = static_cast<std::uint64_t>(box.index[1] - buffer.index[1]);
  rows.offset2 = static_cast<std::uint64_t>(box.index[2] - buffer.index[2]);
  rows.elementSize = elementSize;
  return rows;
}

/** True when the host range is page-locked (cudaMallocHost or cudaHostRegister): DMA reaches it. */
bool
IsPinned(const void * pointer)
{
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, pointer) != cudaSuccess)
  {
    cudaGetLastError();
    return false;
  }
  return attributes.type == cudaMemoryTypeHost;
}

/** Enqueues a copy between a box of a pinned host buffer and a compact device block. */
void
CopyBoxAsync(void *               host,
             const Planner::Box & buffer,
             const Planner::Box & box,
             unsigned int         elementSize,
             void *               device,
             bool                 toDevice,
             cudaStream_t         stream)
{
  const std::uint64_t rowBytes = box.size[0] * elementSize;
  const std::uint64_t offset0 = static_cast<std::uint64_t>(box.index[0] - buffer.index[0]);
  const std::uint64_t offset1 = static_cast<std::uint64_t>(box.index[1] - buffer.index[1]);
  const std::uint64_t offset2 = static_cast<std::uint64_t>(box.index[2] - buffer.index[2]);
  char *              hostStart = static_cast<char *>(host) +
                     ((offset2 * buffer.size[1] + offset1) * buffer.size[0] + offset0) * elementSize;
  const bool wholeRows = box.size[0] == buffer.size[0];
  if (wholeRows && (box.size[1] == buffer.size[1] || box.size[2] == 1))
  {
    // Contiguous on both sides: one linear DMA.
    const std::uint64_t bytes = rowBytes * box.size[1] * box.size[2];
    CUDAFFT_CHECK(toDevice ? cudaMemcpyAsync(device, hostStart, bytes, cudaMemcpyHostToDevice, stream)
                           : cudaMemcpyAsync(hostStart, device, bytes, cudaMemcpyDeviceToHost, stream));
    return;
  }
  cudaMemcpy3DParms parameters{};
  cudaPitchedPtr    hostPointer = make_cudaPitchedPtr(host, buffer.size[0] * elementSize, buffer.size[0] * elementSize, buffer.size[1]);
  cudaPitchedPtr    devicePointer = make_cudaPitchedPtr(device, rowBytes, rowBytes, box.size[1]);
  const cudaPos     hostPosition = make_cudaPos(offset0 * elementSize, offset1, offset2);
  if (toDevice)
  {
    parameters.srcPtr = hostPointer;
    parameters.srcPos = hostPosition;
    parameters.dstPtr = devicePointer;
    parameters.kind = cudaMemcpyHostToDevice;
  }
  else
  {
    parameters.srcPtr = devicePointer;
    parameters.dstPtr = hostPointer;
    parameters.dstPos = hostPosition;
    parameters.kind = cudaMemcpyDeviceToHost;
  }
  parameters.extent = make_cudaExtent(rowBytes, box.size[1], box.size[2]);
  CUDAFFT_CHECK(cudaMemcpy3DAsync(&parameters, stream));
}

constexpr std::uint64_t StagingChunkBytes = 16u << 20;
} // namespace

class CudaFFTConvolutionEngine::Impl
{
public:
  ~Impl() { Release(); }

  /** Device allocation that the engine counts. */
  struct DeviceBuffer
  {
    void *        pointer{ nullptr };
    std::uint64_t bytes{ 0 };
  };

  void
  Allocate(DeviceBuffer & buffer, std::uint64_t bytes, const char * what)
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
    m_Peak = std::max(m_Peak, m_Allocated);
  }

  void
  Free(DeviceBuffer & buffer)
  {
    if (buffer.pointer != nullptr)
    {
      cudaFree(buffer.pointer);
      m_Allocated -= buffer.bytes;
    }
    buffer.pointer = nullptr;
    buffer.bytes = 0;
  }

  void
  AllocatePinned(void *& pointer, std::uint64_t & capacity, std::uint64_t bytes)
  {
    if (capacity >= bytes && pointer != nullptr)
    {
      return;
    }
    if (pointer != nullptr)
    {
      cudaFreeHost(pointer);
      pointer = nullptr;
      capacity = 0;
    }
    CUDAFFT_CHECK(cudaMallocHost(&pointer, bytes));
    capacity = bytes;
  }

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
    for (auto & event : m_ChunkEvents)
    {
      CUDAFFT_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    }
    for (unsigned int slot = 0; slot < 2; ++slot)
    {
      CUDAFFT_CHECK(cudaEventCreateWithFlags(&m_InputReady[slot], cudaEventDisableTiming));
      CUDAFFT_CHECK(cudaEventCreateWithFlags(&m_ComputeDone[slot], cudaEventDisableTiming));
      CUDAFFT_CHECK(cudaEventCreateWithFlags(&m_Downloaded[slot], cudaEventDisableTiming));
    }
  }

  void
  DestroyPlans()
  {
    if (m_PlansValid)
    {
      cufftDestroy(m_ForwardPlan);
      cufftDestroy(m_InversePlan);
      m_PlansValid = false;
    }
    Free(m_WorkArea);
    m_AttachedWorkArea = nullptr;
  }

  static void
  MakePlans(const SizeArray & fft,
            unsigned int      dimension,
            unsigned int      elementSize,
            cufftHandle &     forward,
            cufftHandle &     inverse,
            std::uint64_t &   workBytes)
  {
    // cuFFT wants the slowest axis first; ITK's x (axis 0) is the fastest.
    long long n[3];
    long long realEmbed[3];
    long long complexEmbed[3];
    for (unsigned int i = 0; i < dimension; ++i)
    {
      const unsigned int axis = dimension - 1 - i;
      n[i] = static_cast<long long>(fft[axis]);
      realEmbed[i] = n[i];
      complexEmbed[i] = n[i];
    }
    realEmbed[dimension - 1] = 2 * (n[dimension - 1] / 2 + 1);
    complexEmbed[dimension - 1] = n[dimension - 1] / 2 + 1;
    const long long realDistance = realEmbed[dimension - 1] * static_cast<long long>(fft[1] * fft[2]);
    const long long complexDistance = complexEmbed[dimension - 1] * static_cast<long long>(fft[1] * fft[2]);
    const bool      isDouble = elementSize == 8;
    std::size_t     forwardWork = 0;
    std::size_t     inverseWork = 0;
    CUDAFFT_CHECK(cufftCreate(&forward));
    CUDAFFT_CHECK(cufftCreate(&inverse));
    try
    {
      CUDAFFT_CHECK(cufftSetAutoAllocation(forward, 0));
      CUDAFFT_CHECK(cufftSetAutoAllocation(inverse, 0));
      CUDAFFT_CHECK(cufftMakePlanMany64(forward,
                                        static_cast<int>(dimension),
                                        n,
                                        realEmbed,
                                        1,
                                        realDistance,
                                        complexEmbed,
                                        1,
                                        complexDistance,
                                        isDouble ? CUFFT_D2Z : CUFFT_R2C,
                                        1,
                                        &forwardWork));
      CUDAFFT_CHECK(cufftMakePlanMany64(inverse,
                                        static_cast<int>(dimension),
                                        n,
                                        complexEmbed,
                                        1,
                                        complexDistance,
                                        realEmbed,
                                        1,
                                        realDistance,
                                        isDouble ? CUFFT_Z2D : CUFFT_C2R,
                                        1,
                                        &inverseWork));
    }
    catch (...)
    {
      cufftDestroy(forward);
      cufftDestroy(inverse);
      throw;
    }
    workBytes = std::max(forwardWork, inverseWork);
  }

  /** Makes the plans of an FFT size unless they exist; returns their work-area bytes. Planning
   * asks for these (PreparePlans) and Run then finds them made. */
  std::uint64_t
  EnsurePlans(const SizeArray & fft, unsigned int dimension, unsigned int elementSize)
  {
    if (m_PlansValid && m_PlanSize == fft && m_PlanDimension == dimension && m_PlanElementSize == elementSize)
    {
      return m_PlanWorkBytes;
    }
    DestroyPlans();
    EnsureStreams();
    MakePlans(fft, dimension, elementSize, m_ForwardPlan, m_InversePlan, m_PlanWorkBytes);
    m_PlansValid = true;
    m_PlanSize = fft;
    m_PlanDimension = dimension;
    m_PlanElementSize = elementSize;
    CUDAFFT_CHECK(cufftSetStream(m_ForwardPlan, m_Compute));
    CUDAFFT_CHECK(cufftSetStream(m_InversePlan, m_Compute));
    return m_PlanWorkBytes;
  }

  /** One work area serves both plans: they never run at the same time. */
  void
  AttachWorkArea()
  {
    Allocate(m_WorkArea, std::max<std::uint64_t>(m_PlanWorkBytes, 1), "cuFFT work area");
    if (m_AttachedWorkArea != m_WorkArea.pointer)
    {
      CUDAFFT_CHECK(cufftSetWorkArea(m_ForwardPlan, m_WorkArea.pointer));
      CUDAFFT_CHECK(cufftSetWorkArea(m_InversePlan, m_WorkArea.pointer));
      m_AttachedWorkArea = m_WorkArea.pointer;
    }
  }

  struct SpectrumKey
  {
    std::uint64_t kernelKey{ 0 };
    SizeArray     fftSize{ { 0, 0, 0 } };
    unsigned int  dimension{ 0 };
    unsigned int  elementSize{ 0 };
    bool          normalize{ false };
    SizeArray     kernelSize{ { 0, 0, 0 } };
    bool
    operator==(const SpectrumKey & o) const
    {
      return kernelKey == o.kernelKey && fftSize == o.fftSize && dimension == o.dimension &&
             elementSize == o.elementSize && normalize == o.normalize && kernelSize == o.kernelSize;
    }
  };

  static SpectrumKey
  KeyFor(std::uint64_t kernelKey, const Plan & plan, bool normalize)
  {
    SpectrumKey key;
    key.kernelKey = kernelKey;
    key.fftSize = plan.fftSize;
    key.dimension = plan.dimension;
    key.elementSize = plan.elementSize;
    key.normalize = normalize;
    key.kernelSize = plan.kernelSize;
    return key;
  }

  template <typename T>
  void
  MakeSpectrum(const Plan & plan, const T * kernel, const SpectrumKey & key)
  {
    m_SpectrumValid = false;
    const std::uint64_t bufferBytes = Planner::NumberOfSpectrumElements(plan.fftSize) * 2 * sizeof(T);
    Allocate(m_Spectrum, bufferBytes, "kernel spectrum");
    const std::uint64_t kernelVoxels = plan.kernelSize[0] * plan.kernelSize[1] * plan.kernelSize[2];
    DeviceBuffer        upload;
    try
    {
      // Two doubles for the sums first, then the kernel (16 bytes keep both aligned).
      Allocate(upload, 2 * sizeof(double) + kernelVoxels * sizeof(T), "kernel");
      double * sums = static_cast<double *>(upload.pointer);
      T * deviceKernel = reinterpret_cast<T *>(static_cast<char *>(upload.pointer) + 2 * sizeof(double));
      CUDAFFT_CHECK(cudaMemcpyAsync(deviceKernel, kernel, kernelVoxels * sizeof(T), cudaMemcpyHostToDevice, m_Compute));
      if (key.normalize)
      {
        // The sum divides the kernel on the device; the host reads it only to refuse a zero sum.
        CUDAFFT_CHECK(cudaMemsetAsync(sums, 0, 2 * sizeof(double), m_Compute));
        SumKernel<T><<<BlocksFor(kernelVoxels), ThreadsPerBlock, 0, m_Compute>>>(
          deviceKernel, static_cast<long long>(kernelVoxels), sums);
        CheckLaunch("SumKernel");
        double hostSums[2] = { 0, 0 };
        CUDAFFT_CHECK(cudaMemcpyAsync(hostSums, sums, sizeof(hostSums), cudaMemcpyDeviceToHost, m_Compute));
        CUDAFFT_CHECK(cudaStreamSynchronize(m_Compute));
        if (hostSums[0] == 0.0 || !std::isfinite(hostSums[0]) || std::abs(hostSums[0]) <= 1e-12 * hostSums[1])
        {
          std::ostringstream message;
          message << "the kernel sums to " << hostSums[0] << " (sum of magnitudes " << hostSums[1]
                  << "), so it cannot be normalized";
          throw std::invalid_argument(message.str());
        }
      }
      const FFTLayout layout = Layout(plan.fftSize);
      CUDAFFT_CHECK(cudaMemsetAsync(m_Spectrum.pointer, 0, bufferBytes, m_Compute));
      const double fftVoxels = static_cast<double>(plan.fftSize[0] * plan.fftSize[1] * plan.fftSize[2]);
      ScatterKernel<T><<<BlocksFor(kernelVoxels), ThreadsPerBlock, 0, m_Compute>>>(
        static_cast<T *>(m_Spectrum.pointer),
        layout,
        deviceKernel,
        static_cast<long long>(plan.kernelSize[0]),
        static_cast<long long>(plan.kernelSize[1]),
        static_cast<long long>(plan.kernelSize[2]),
        sums,
        1.0 / fftVoxels,
        key.normalize);
      CheckLaunch("ScatterKernel");
      CUDAFFT_CHECK(FFTTraits<T>::ExecForward(m_ForwardPlan, static_cast<T *>(m_Spectrum.pointer)));
      CUDAFFT_CHECK(cudaStreamSynchronize(m_Compute));
    }
    catch (...)
    {
      cudaStreamSynchronize(m_Compute);
      Free(upload);
      throw;
    }
    Free(upload);
    m_SpectrumKey = key;
    m_SpectrumValid = true;
  }

  static FFTLayout
  Layout(const SizeArray & fft)
  {
    FFTLayout layout;
    layout.f0 = static_cast<long long>(fft[0]);
    layout.f1 = static_cast<long long>(fft[1]);
    layout.f2 = static_cast<long long>(fft[2]);
    layout.pitch = 2 * (layout.f0 / 2 + 1);
    return layout;
  }

  /** Copies a box of the host buffer to device memory through pinned chunks, overlapping the
   * host copy of one chunk with the DMA of the previous one. */
  void
  Upload(const void * host, const Box & buffer, const Box & box, unsigned int elementSize, void * device)
  {
    const RowBlock      rows = MakeRowBlock(box, buffer, elementSize);
    const std::uint64_t rowCount = box.size[1] * box.size[2];
    const std::uint64_t rowsPerChunk = std::max<std::uint64_t>(1, m_PinnedBytes / std::max<std::uint64_t>(1, rows.rowBytes));
    const char *        source = static_cast<const char *>(host);
    char *              destination = static_cast<char *>(device);
    unsigned int        slot = 0;
    for (std::uint64_t first = 0; first < rowCount; first += rowsPerChunk, slot ^= 1)
    {
      const std::uint64_t count = std::min(rowsPerChunk, rowCount - first);
      CUDAFFT_CHECK(cudaEventSynchronize(m_ChunkEvents[slot])); // the slot's previous DMA is done
      char * pinned = static_cast<char *>(m_Pinned[slot]);
      m_Workers.ParallelFor(count, [&](std::uint64_t begin, std::uint64_t end) {
        for (std::uint64_t r = begin; r < end; ++r)
        {
          std::memcpy(pinned + r * rows.rowBytes, source + rows.HostOffsetBytes(first + r), rows.rowBytes);
        }
      });
      CUDAFFT_CHECK(cudaMemcpyAsync(
        destination + first * rows.rowBytes, pinned, count * rows.rowBytes, cudaMemcpyHostToDevice, m_Upload));
      CUDAFFT_CHECK(cudaEventRecord(m_ChunkEvents[slot], m_Upload));
    }
  }

  /** Copies a compact device block to a box of the host buffer through pinned chunks, copying
   * one chunk out on the host while the next one's DMA runs. */
  void
  Download(const void * device, void * host, const Box & buffer, const Box & box, unsigned int elementSize)
  {
    const RowBlock      rows = MakeRowBlock(box, buffer, elementSize);
    const std::uint64_t rowCount = box.size[1] * box.size[2];
    const std::uint64_t rowsPerChunk = std::max<std::uint64_t>(1, m_PinnedBytes / std::max<std::uint64_t>(1, rows.rowBytes));
    const std::uint64_t chunks = (rowCount + rowsPerChunk - 1) / rowsPerChunk;
    const char *        source = static_cast<const char *>(device);
    char *              destination = static_cast<char *>(host);
    const auto          enqueue = [&](std::uint64_t chunk) {
      const std::uint64_t first = chunk * rowsPerChunk;
      const std::uint64_t count = std::min(rowsPerChunk, rowCount - first);
      CUDAFFT_CHECK(cudaMemcpyAsync(m_Pinned[2 + chunk % 2],
                                    source + first * rows.rowBytes,
                                    count * rows.rowBytes,
                                    cudaMemcpyDeviceToHost,
                                    m_Download));
      CUDAFFT_CHECK(cudaEventRecord(m_ChunkEvents[2 + chunk % 2], m_Download));
    };
    for (std::uint64_t chunk = 0; chunk < std::min<std::uint64_t>(2, chunks); ++chunk)
    {
      enqueue(chunk);
    }
    for (std::uint64_t chunk = 0; chunk < chunks; ++chunk)
    {
      const std::uint64_t first = chunk * rowsPerChunk;
      const std::uint64_t count = std::min(rowsPerChunk, rowCount - first);
      CUDAFFT_CHECK(cudaEventSynchronize(m_ChunkEvents[2 + chunk % 2]));
      const char * pinned = static_cast<const char *>(m_Pinned[2 + chunk % 2]);
      m_Workers.ParallelFor(count, [&](std::uint64_t begin, std::uint64_t end) {
        for (std::uint64_t r = begin; r < end; ++r)
        {
          std::memcpy(destination + rows.HostOffsetBytes(first + r), pinned + r * rows.rowBytes, rows.rowBytes);
        }
      });
      if (chunk + 2 < chunks)
      {
        enqueue(chunk + 2);
      }
    }
  }

  template <typename T>
  bool
  Run(const Plan &                     plan,
      const HostBuffer<const T> &      input,
      const HostBuffer<T> &            output,
      const T *                        kernel,
      std::uint64_t                    kernelKey,
      bool                             normalize,
      T                                constant,
      const ProgressFunction &         progress)
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
    EnsureStreams();
    EnsurePlans(plan.fftSize, plan.dimension, sizeof(T));
    AttachWorkArea();
    const SpectrumKey key = KeyFor(kernelKey, plan, normalize);
    if (!(m_SpectrumValid && m_SpectrumKey == key))
    {
      if (kernel == nullptr)
      {
        throw std::invalid_argument("the kernel spectrum is not cached and no kernel was given");
      }
      MakeSpectrum<T>(plan, kernel, key);
    }
    const FFTLayout     layout = Layout(plan.fftSize);
    const std::uint64_t spectrumElements = Planner::NumberOfSpectrumElements(plan.fftSize);
    Allocate(m_FFTBuffer, spectrumElements * 2 * sizeof(T), "FFT buffer");
    // Two slots of staging when there are several tiles: tile t+1 is uploaded while tile t is
    // computed and tile t-1 downloaded. The planner counted plan.stagingSlots of each.
    const unsigned int  slots = plan.tiles.size() > 1 ? 2 : 1;
    const std::uint64_t mapLength = plan.fftSize[0] + plan.fftSize[1] + plan.fftSize[2];
    for (unsigned int slot = 0; slot < slots; ++slot)
    {
      Allocate(m_Source[slot], std::max<std::uint64_t>(plan.maxSourceVoxels, 1) * sizeof(T), "input tile");
      Allocate(m_Tile[slot], std::max<std::uint64_t>(plan.maxTileVoxels, 1) * sizeof(T), "output tile");
      Allocate(m_Maps[slot], mapLength * sizeof(long long), "axis maps");
    }
    const bool inputPinned = IsPinned(input.data);
    const bool outputPinned = IsPinned(output.data);
    // Staging chunks only for a pageable side: Upload uses chunks 0-1, Download chunks 2-3.
    for (unsigned int chunk = 0; chunk < 4; ++chunk)
    {
      if (!(chunk < 2 ? inputPinned : outputPinned))
      {
        AllocatePinned(m_Pinned[chunk], m_PinnedCapacity[chunk], m_PinnedBytes);
      }
    }
    std::vector<long long> maps(mapLength);
    const auto             cropOffset = Planner::CropOffset(plan.kernelSize);
    using Complex = typename FFTTraits<T>::Complex;

    // Enqueues tile t: its maps and source block (slot t % 2), then its computation.
    const auto enqueue = [&](std::size_t t) {
      const auto &       tile = plan.tiles[t];
      const unsigned int slot = static_cast<unsigned int>(t % slots);
      std::size_t        at = 0;
      for (unsigned int axis = 0; axis < 3; ++axis)
      {
        for (const std::int64_t value : Planner::AxisSourceMap(plan, tile, axis))
        {
          maps[at++] = value;
        }
      }
      // Tile t - 2 has finished reading this slot's maps and source block.
      CUDAFFT_CHECK(cudaEventSynchronize(m_ComputeDone[slot]));
      CUDAFFT_CHECK(cudaMemcpy(m_Maps[slot].pointer, maps.data(), mapLength * sizeof(long long), cudaMemcpyHostToDevice));
      if (!tile.source.IsEmpty())
      {
        if (inputPinned)
        {
          CopyBoxAsync(const_cast<T *>(input.data), input.region, tile.source, sizeof(T), m_Source[slot].pointer, true, m_Upload);
        }
        else
        {
          Upload(input.data, input.region, tile.source, sizeof(T), m_Source[slot].pointer);
        }
      }
      CUDAFFT_CHECK(cudaEventRecord(m_InputReady[slot], m_Upload));
      CUDAFFT_CHECK(cudaStreamWaitEvent(m_Compute, m_InputReady[slot], 0));
      // Tile t - 2's result has left this slot's output block.
      CUDAFFT_CHECK(cudaStreamWaitEvent(m_Compute, m_Downloaded[slot], 0));

      const std::uint64_t paddedVoxels = static_cast<std::uint64_t>(layout.pitch) * plan.fftSize[1] * plan.fftSize[2];
      PadTile<T><<<BlocksFor(paddedVoxels), ThreadsPerBlock, 0, m_Compute>>>(
        static_cast<T *>(m_FFTBuffer.pointer),
        layout,
        static_cast<const T *>(m_Source[slot].pointer),
        static_cast<long long>(tile.source.size[0]),
        static_cast<long long>(tile.source.size[1]),
        static_cast<const long long *>(m_Maps[slot].pointer),
        constant);
      CheckLaunch("PadTile");
      CUDAFFT_CHECK(FFTTraits<T>::ExecForward(m_ForwardPlan, static_cast<T *>(m_FFTBuffer.pointer)));
      MultiplySpectra<Complex><<<BlocksFor(spectrumElements), ThreadsPerBlock, 0, m_Compute>>>(
        static_cast<Complex *>(m_FFTBuffer.pointer),
        static_cast<const Complex *>(m_Spectrum.pointer),
        static_cast<long long>(spectrumElements));
      CheckLaunch("MultiplySpectra");
      CUDAFFT_CHECK(FFTTraits<T>::ExecInverse(m_InversePlan, static_cast<T *>(m_FFTBuffer.pointer)));
      CropTile<T><<<BlocksFor(tile.output.NumberOfVoxels()), ThreadsPerBlock, 0, m_Compute>>>(
        static_cast<const T *>(m_FFTBuffer.pointer),
        layout,
        cropOffset[0],
        cropOffset[1],
        cropOffset[2],
        static_cast<T *>(m_Tile[slot].pointer),
        static_cast<long long>(tile.output.size[0]),
        static_cast<long long>(tile.output.size[1]),
        static_cast<long long>(tile.output.size[2]));
      CheckLaunch("CropTile");
      CUDAFFT_CHECK(cudaEventRecord(m_ComputeDone[slot], m_Compute));
    };

    // Moves tile t's result to the host buffer (asynchronously when that buffer is page-locked).
    const auto retrieve = [&](std::size_t t) {
      const auto &       tile = plan.tiles[t];
      const unsigned int slot = static_cast<unsigned int>(t % slots);
      CUDAFFT_CHECK(cudaStreamWaitEvent(m_Download, m_ComputeDone[slot], 0));
      if (outputPinned)
      {
        CopyBoxAsync(output.data, output.region, tile.output, sizeof(T), m_Tile[slot].pointer, false, m_Download);
      }
      else
      {
        Download(m_Tile[slot].pointer, output.data, output.region, tile.output, sizeof(T));
      }
      CUDAFFT_CHECK(cudaEventRecord(m_Downloaded[slot], m_Download));
    };

    bool completed = true;
    for (std::size_t t = 0; t < plan.tiles.size(); ++t)
    {
      enqueue(t);
      if (t > 0)
      {
        retrieve(t - 1);
        if (progress && !progress(static_cast<double>(t) / static_cast<double>(plan.tiles.size())))
        {
          completed = false;
          break;
        }
      }
    }
    if (completed)
    {
      retrieve(plan.tiles.size() - 1);
    }
    CUDAFFT_CHECK(cudaStreamSynchronize(m_Compute));
    CUDAFFT_CHECK(cudaStreamSynchronize(m_Download));
    if (completed && progress)
    {
      completed = progress(1.0);
    }
    return completed;
  }

  void
  Release()
  {
    if (m_Compute != nullptr)
    {
      cudaStreamSynchronize(m_Compute);
      cudaStreamSynchronize(m_Upload);
      cudaStreamSynchronize(m_Download);
    }
    DestroyPlans();
    Free(m_Spectrum);
    m_SpectrumValid = false;
    Free(m_FFTBuffer);
    for (unsigned int slot = 0; slot < 2; ++slot)
    {
      Free(m_Source[slot]);
      Free(m_Tile[slot]);
      Free(m_Maps[slot]);
    }
    for (unsigned int slot = 0; slot < 4; ++slot)
    {
      if (m_Pinned[slot] != nullptr)
      {
        cudaFreeHost(m_Pinned[slot]);
        m_Pinned[slot] = nullptr;
        m_PinnedCapacity[slot] = 0;
      }
    }
    if (m_Compute != nullptr)
    {
      for (auto & event : m_ChunkEvents)
      {
        cudaEventDestroy(event);
        event = nullptr;
      }
      for (unsigned int slot = 0; slot < 2; ++slot)
      {
        cudaEventDestroy(m_InputReady[slot]);
        cudaEventDestroy(m_ComputeDone[slot]);
        cudaEventDestroy(m_Downloaded[slot]);
      }
      cudaStreamDestroy(m_Compute);
      cudaStreamDestroy(m_Upload);
      cudaStreamDestroy(m_Download);
      m_Compute = m_Upload = m_Download = nullptr;
    }
  }

  HostWorkers   m_Workers;
  cudaStream_t  m_Compute{ nullptr };
  cudaStream_t  m_Upload{ nullptr };
  cudaStream_t  m_Download{ nullptr };
  cudaEvent_t   m_ChunkEvents[4]{};
  cudaEvent_t   m_InputReady[2]{};
  cudaEvent_t   m_ComputeDone[2]{};
  cudaEvent_t   m_Downloaded[2]{};
  bool          m_PlansValid{ false };
  cufftHandle   m_ForwardPlan{};
  cufftHandle   m_InversePlan{};
  SizeArray     m_PlanSize{ { 0, 0, 0 } };
  unsigned int  m_PlanDimension{ 0 };
  unsigned int  m_PlanElementSize{ 0 };
  std::uint64_t m_PlanWorkBytes{ 0 };
  DeviceBuffer  m_WorkArea;
  void *        m_AttachedWorkArea{ nullptr };
  DeviceBuffer  m_Spectrum;
  bool          m_SpectrumValid{ false };
  SpectrumKey   m_SpectrumKey;
  DeviceBuffer  m_FFTBuffer;
  DeviceBuffer  m_Source[2];
  DeviceBuffer  m_Tile[2];
  DeviceBuffer  m_Maps[2];
  void *        m_Pinned[4]{};
  std::uint64_t m_PinnedCapacity[4]{};
  std::uint64_t m_PinnedBytes{ StagingChunkBytes };
  std::uint64_t m_Allocated{ 0 };
  std::uint64_t m_Peak{ 0 };
};

CudaFFTConvolutionEngine::CudaFFTConvolutionEngine()
  : m_Impl(new Impl)
{}

CudaFFTConvolutionEngine::~CudaFFTConvolutionEngine() = default;

bool
CudaFFTConvolutionEngine::DeviceAvailable(std::string * reason)
{
  int               count = 0;
  const cudaError_t result = cudaGetDeviceCount(&count);
  if (result != cudaSuccess || count == 0)
  {
    cudaGetLastError();
    if (reason != nullptr)
    {
      *reason = result != cudaSuccess ? std::string("no usable CUDA device: ") + cudaGetErrorName(result) + ": " +
                                          cudaGetErrorString(result)
                                      : std::string("no CUDA device is present");
    }
    return false;
  }
  return true;
}

void
CudaFFTConvolutionEngine::DeviceMemory(std::uint64_t & freeBytes, std::uint64_t & totalBytes)
{
  std::size_t freeMemory = 0;
  std::size_t totalMemory = 0;
  CUDAFFT_CHECK(cudaMemGetInfo(&freeMemory, &totalMemory));
  freeBytes = freeMemory;
  totalBytes = totalMemory;
}

std::uint64_t
CudaFFTConvolutionEngine::WorkAreaBytes(const SizeArray & fftSize, unsigned int dimension, unsigned int elementSize)
{
  // Making plans costs milliseconds: remember the answer per size (shared by all engines).
  using Key = std::tuple<std::uint64_t, std::uint64_t, std::uint64_t, unsigned int, unsigned int>;
  static std::mutex                        mutex;
  static std::map<Key, std::uint64_t>      known;
  const Key                                key{ fftSize[0], fftSize[1], fftSize[2], dimension, elementSize };
  {
    std::lock_guard<std::mutex> lock(mutex);
    const auto                  found = known.find(key);
    if (found != known.end())
    {
      return found->second;
    }
  }
  cufftHandle   forward{};
  cufftHandle   inverse{};
  std::uint64_t workBytes = 0;
  Impl::MakePlans(fftSize, dimension, elementSize, forward, inverse, workBytes);
  cufftDestroy(forward);
  cufftDestroy(inverse);
  std::lock_guard<std::mutex> lock(mutex);
  known[key] = workBytes;
  return workBytes;
}

void *
CudaFFTConvolutionEngine::AllocatePinnedHost(std::uint64_t bytes)
{
  void * pointer = nullptr;
  if (cudaMallocHost(&pointer, bytes) != cudaSuccess)
  {
    cudaGetLastError();
    return nullptr;
  }
  return pointer;
}

void
CudaFFTConvolutionEngine::FreePinnedHost(void * pointer)
{
  if (pointer != nullptr && cudaFreeHost(pointer) != cudaSuccess)
  {
    cudaGetLastError(); // at process exit the runtime may already be gone
  }
}

bool
CudaFFTConvolutionEngine::RegisterHost(const void * pointer, std::uint64_t bytes)
{
  if (cudaHostRegister(const_cast<void *>(pointer), bytes, cudaHostRegisterDefault) != cudaSuccess)
  {
    cudaGetLastError();
    return false;
  }
  return true;
}

void
CudaFFTConvolutionEngine::UnregisterHost(const void * pointer)
{
  if (pointer != nullptr && cudaHostUnregister(const_cast<void *>(pointer)) != cudaSuccess)
  {
    cudaGetLastError();
  }
}

std::uint64_t
CudaFFTConvolutionEngine::PreparePlans(const SizeArray & fftSize, unsigned int dimension, unsigned int elementSize)
{
  return m_Impl->EnsurePlans(fftSize, dimension, elementSize);
}

bool
CudaFFTConvolutionEngine::IsPinnedHost(const void * pointer)
{
  return IsPinned(pointer);
}

bool
CudaFFTConvolutionEngine::HasKernelSpectrum(std::uint64_t kernelKey, const Plan & plan, bool normalize) const
{
  return m_Impl->m_SpectrumValid && m_Impl->m_SpectrumKey == Impl::KeyFor(kernelKey, plan, normalize);
}

template <typename TValue>
bool
CudaFFTConvolutionEngine::Run(const Plan &                     plan,
                              const HostBuffer<const TValue> & input,
                              const HostBuffer<TValue> &       output,
                              const TValue *                   kernel,
                              std::uint64_t                    kernelKey,
                              bool                             normalize,
                              TValue                           constant,
                              const ProgressFunction &         progress)
{
  try
  {
    return m_Impl->Run<TValue>(plan, input, output, kernel, kernelKey, normalize, constant, progress);
  }
  catch (...)
  {
    // Leave no work in flight on buffers the caller may free.
    if (m_Impl->m_Compute != nullptr)
    {
      cudaStreamSynchronize(m_Impl->m_Compute);
      cudaStreamSynchronize(m_Impl->m_Upload);
      cudaStreamSynchronize(m_Impl->m_Download);
      cudaGetLastError();
    }
    throw;
  }
}

void
CudaFFTConvolutionEngine::ReleaseResources()
{
  m_Impl->Release();
}

std::uint64_t
CudaFFTConvolutionEngine::AllocatedDeviceBytes() const
{
  return m_Impl->m_Allocated;
}

std::uint64_t
CudaFFTConvolutionEngine::PeakDeviceBytes() const
{
  return m_Impl->m_Peak;
}

void
CudaFFTConvolutionEngine::ResetPeak()
{
  m_Impl->m_Peak = m_Impl->m_Allocated;
}

template CudaFFTConvolution_EXPORT bool
CudaFFTConvolutionEngine::Run<float>(const Plan &,
                                     const HostBuffer<const float> &,
                                     const HostBuffer<float> &,
                                     const float *,
                                     std::uint64_t,
                                     bool,
                                     float,
                                     const ProgressFunction &);
template CudaFFTConvolution_EXPORT bool
CudaFFTConvolutionEngine::Run<double>(const Plan &,
                                      const HostBuffer<const double> &,
                                      const HostBuffer<double> &,
                                      const double *,
                                      std::uint64_t,
                                      bool,
                                      double,
                                      const ProgressFunction &);
} // namespace itk
