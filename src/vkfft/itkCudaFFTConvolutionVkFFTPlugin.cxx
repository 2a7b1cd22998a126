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

// The VkFFT plugin (libCudaFFTConvolutionVkFFT.so): in-place real transforms in cuFFT's padded
// layout by VkFFT's CUDA backend (kernels compiled by NVRTC when a plan is made). The only file
// that includes vkFFT.h; it links the CUDA driver and NVRTC, which the engine's library must not.

#define VKFFT_BACKEND 1
#include <vkFFT.h>

#include "itkCudaFFTConvolutionVkFFTPlugin.h" // src/: the interface the engine loads it through

#include <clocale>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <new>
#include <string>

struct CudaFFTVkFFTPlan
{
  VkFFTApplication app{};
  bool             initialized{ false };
  CUdevice         device{};
  CUcontext        context{ nullptr }; // the device's primary context, retained
  // VkFFT keeps pointers to these and reads them at every launch: the stream, the data and the
  // work area change without re-planning.
  cudaStream_t stream{ nullptr };
  void *       data{ nullptr };
  void *       workArea{ nullptr };
  uint64_t     bufferBytes{ 0 };
  bool         usesWorkArea{ false };
};

namespace
{
int
Fail(char * message, size_t bytes, int code, const char * format, ...)
{
  if (message != nullptr && bytes > 0)
  {
    va_list arguments;
    va_start(arguments, format);
    std::vsnprintf(message, bytes, format, arguments);
    va_end(arguments);
  }
  return code != 0 ? code : -1;
}

#define CUDAFFT_VKFFT_NAME(code) \
  case code:                     \
    return #code;
const char *
ResultName(VkFFTResult result)
{
  switch (result)
  {
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_MALLOC_FAILED)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_INSUFFICIENT_CODE_BUFFER)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_INSUFFICIENT_TEMP_BUFFER)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_PLAN_NOT_INITIALIZED)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_INVALID_DEVICE)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_EMPTY_buffer)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_EMPTY_tempBuffer)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_UNSUPPORTED_RADIX)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_UNSUPPORTED_FFT_LENGTH)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_UNSUPPORTED_FFT_LENGTH_R2C)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_FAILED_TO_ALLOCATE)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_FAILED_TO_SYNCHRONIZE)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_FAILED_TO_COPY)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_FAILED_TO_CREATE_PROGRAM)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_FAILED_TO_COMPILE_PROGRAM)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_FAILED_TO_GET_CODE_SIZE)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_FAILED_TO_GET_CODE)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_FAILED_TO_LOAD_MODULE)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_FAILED_TO_GET_FUNCTION)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_FAILED_TO_SET_DYNAMIC_SHARED_MEMORY)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_FAILED_TO_MODULE_GET_GLOBAL)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_FAILED_TO_LAUNCH_KERNEL)
    CUDAFFT_VKFFT_NAME(VKFFT_ERROR_FAILED_TO_GET_ATTRIBUTE)
    default:
      return "VkFFT error";
  }
}
#undef CUDAFFT_VKFFT_NAME

const char *
DriverErrorName(CUresult result)
{
  const char * name = nullptr;
  return cuGetErrorName(result, &name) == CUDA_SUCCESS && name != nullptr ? name : "unknown CUDA driver error";
}

/** Makes a context current for a scope (VkFFT's driver calls act on the current context). */
class ContextScope
{
public:
  explicit ContextScope(CUcontext context)
    : m_Result(cuCtxPushCurrent(context))
  {}
  ~ContextScope()
  {
    CUcontext popped = nullptr;
    if (m_Result == CUDA_SUCCESS)
    {
      cuCtxPopCurrent(&popped);
    }
  }
  ContextScope(const ContextScope &) = delete;
  ContextScope &
  operator=(const ContextScope &) = delete;
  CUresult
  Result() const
  {
    return m_Result;
  }

private:
  CUresult m_Result;
};

/** VkFFT's code generator sets the process's locale to "C" and back, restoring from the pointer
 * setlocale returned, which the switch may have freed. Set to "C" first (so VkFFT saves and
 * restores the static "C"), then restore a copy of the caller's locale. */
class CLocaleScope
{
public:
  CLocaleScope()
  {
    const char * current = std::setlocale(LC_ALL, nullptr);
    m_Saved = current != nullptr ? current : "";
    std::setlocale(LC_ALL, "C");
  }
  ~CLocaleScope()
  {
    if (!m_Saved.empty())
    {
      std::setlocale(LC_ALL, m_Saved.c_str());
    }
  }
  CLocaleScope(const CLocaleScope &) = delete;
  CLocaleScope &
  operator=(const CLocaleScope &) = delete;

private:
  std::string m_Saved;
};

/** One plan at a time: the locale switch is process-wide, and NVRTC's compile is the slow part
 * anyway. Never destroyed, so that plans freed after main still find it. */
std::mutex &
PlanMutex()
{
  static std::mutex * mutex = new std::mutex;
  return *mutex;
}

int
RetainContext(CudaFFTVkFFTPlan & plan, int device, char * message, size_t bytes)
{
  CUresult result = cuInit(0);
  if (result == CUDA_SUCCESS)
  {
    result = cuDeviceGet(&plan.device, device);
  }
  if (result == CUDA_SUCCESS)
  {
    result = cuDevicePrimaryCtxRetain(&plan.context, plan.device);
  }
  if (result != CUDA_SUCCESS)
  {
    plan.context = nullptr;
    return Fail(message,
                bytes,
                static_cast<int>(result),
                "the CUDA driver cannot open device %d: %s",
                device,
                DriverErrorName(result));
  }
  return 0;
}

/** Size-1 axes beyond x are dropped: they change neither the transform nor the layout, and
 * VkFFT's kernels are not made for them. Returns the dimension left; kept[i]: the axis of size
 * that compact axis i is. */
uint64_t
CompactSize(const uint64_t size[3], unsigned int dimension, uint64_t compact[3], unsigned int kept[3])
{
  uint64_t count = 1;
  compact[0] = size[0];
  compact[1] = compact[2] = 1;
  kept[0] = kept[1] = kept[2] = 0;
  for (unsigned int axis = 1; axis < dimension; ++axis)
  {
    if (size[axis] > 1)
    {
      kept[count] = axis;
      compact[count++] = size[axis];
    }
  }
  return count;
}

/** VkFFT's spatial zero padding on the axes whose [begin, end) is not empty. */
void
ConfigureZeroBlock(VkFFTConfiguration & configuration,
                   const unsigned int   kept[3],
                   const uint64_t *     zeroBegin,
                   const uint64_t *     zeroEnd)
{
  if (zeroBegin == nullptr || zeroEnd == nullptr)
  {
    return;
  }
  for (uint64_t i = 0; i < configuration.FFTdim; ++i)
  {
    const unsigned int axis = kept[i];
    if (zeroBegin[axis] < zeroEnd[axis] && zeroEnd[axis] <= configuration.size[i])
    {
      configuration.performZeropadding[i] = 1;
      configuration.fft_zeropad_left[i] = zeroBegin[axis];
      configuration.fft_zeropad_right[i] = zeroEnd[axis];
    }
  }
}

VkFFTConfiguration
Configure(CudaFFTVkFFTPlan & plan,
          const uint64_t     size[3],
          unsigned int       dimension,
          unsigned int       elementSize,
          const uint64_t *   zeroBegin,
          const uint64_t *   zeroEnd)
{
  VkFFTConfiguration configuration{};
  unsigned int       kept[3];
  configuration.FFTdim = CompactSize(size, dimension, configuration.size, kept);
  ConfigureZeroBlock(configuration, kept, zeroBegin, zeroEnd);
  configuration.performR2C = 1; // in place: rows of size[0] / 2 + 1 complex values, as cuFFT's
  configuration.doublePrecision = elementSize == 8 ? 1 : 0;
  configuration.normalize = 0; // unnormalised inverse, as cuFFT's
  configuration.device = &plan.device;
  configuration.stream = &plan.stream;
  configuration.num_streams = 1; // 0 would launch on the legacy default stream, not plan.stream
  const uint64_t * n = configuration.size;
  plan.bufferBytes = (n[0] / 2 + 1) * n[1] * n[2] * 2 * elementSize;
  configuration.buffer = &plan.data;
  configuration.bufferSize = &plan.bufferBytes;
  // The temporary buffer of the four-step passes comes from the engine's work area (counted in
  // its memory estimate), never from VkFFT's own allocation. It holds at most the buffer.
  configuration.userTempBuffer = 1;
  configuration.tempBuffer = &plan.workArea;
  configuration.tempBufferSize = &plan.bufferBytes;
  return configuration;
}

template <typename TFunction>
void
ForEachAxis(const VkFFTApplication & app, TFunction function)
{
  for (const VkFFTPlan * fft : { app.localFFTPlan, app.localFFTPlan_inverse })
  {
    if (fft == nullptr)
    {
      continue;
    }
    for (uint64_t i = 0; i < app.configuration.FFTdim; ++i)
    {
      for (uint64_t j = 0; j < fft->numAxisUploads[i]; ++j)
      {
        function(*fft, i, fft->axes[i][j]);
      }
    }
    if (fft->multiUploadR2C)
    {
      function(*fft, 0, fft->R2Cdecomposition);
    }
  }
}

/** Why the plan must not be used, or nullptr. VkFFT 1.2.26 updates a kernel's constants with a
 * synchronous cuMemcpyHtoD between launches when a grid is split: on the engine's non-blocking
 * streams that races with the kernel before. Bluestein's buffers would not be counted. */
const char *
UnsafeFeature(const VkFFTApplication & app)
{
  const char * unsafe = nullptr;
  ForEachAxis(app, [&](const VkFFTPlan &, uint64_t axis, const VkFFTAxis & pass) {
    if (app.useBluesteinFFT[axis])
    {
      unsafe = "it would use Bluestein's algorithm";
    }
    else if (pass.pushConstants.structSize > 0)
    {
      unsafe = "its grid would be split with constants updated between launches";
    }
  });
  return unsafe;
}

/** VkFFT needs its temporary buffer for an axis done in several passes (the condition under which
 * it would allocate one itself). */
bool
UsesTempBuffer(const VkFFTApplication & app)
{
  bool uses = false;
  ForEachAxis(
    app, [&](const VkFFTPlan & fft, uint64_t axis, const VkFFTAxis &) { uses = uses || fft.numAxisUploads[axis] > 1; });
  return uses;
}

int
Initialize(CudaFFTVkFFTPlan & plan, const VkFFTConfiguration & configuration, char * message, size_t bytes)
{
  std::lock_guard<std::mutex> lock(PlanMutex());
  const ContextScope          scope(plan.context);
  if (scope.Result() != CUDA_SUCCESS)
  {
    return Fail(
      message, bytes, static_cast<int>(scope.Result()), "cuCtxPushCurrent failed: %s", DriverErrorName(scope.Result()));
  }
  const CLocaleScope locale;
  const VkFFTResult  result = initializeVkFFT(&plan.app, configuration);
  if (result != VKFFT_SUCCESS)
  {
    // initializeVkFFT has freed what it made.
    return Fail(message,
                bytes,
                static_cast<int>(result),
                "initializeVkFFT failed: %s (%d)",
                ResultName(result),
                static_cast<int>(result));
  }
  plan.initialized = true;
  return 0;
}

void
Destroy(CudaFFTVkFFTPlan * plan)
{
  if (plan == nullptr)
  {
    return;
  }
  if (plan->initialized)
  {
    // After the CUDA runtime shut down (an engine freed after main) these calls fail harmlessly.
    const ContextScope scope(plan->context);
    deleteVkFFT(&plan->app);
  }
  if (plan->context != nullptr)
  {
    cuDevicePrimaryCtxRelease(plan->device);
  }
  delete plan;
}

int
Create(int                 device,
       const uint64_t      size[3],
       unsigned int        dimension,
       unsigned int        elementSize,
       const uint64_t *    zeroBegin,
       const uint64_t *    zeroEnd,
       CudaFFTVkFFTPlan ** out,
       uint64_t *          workAreaBytes,
       char *              message,
       size_t              bytes)
{
  *out = nullptr;
  *workAreaBytes = 0;
  if (dimension < 1 || dimension > 3 || (elementSize != 4 && elementSize != 8) || size[0] < 2)
  {
    return Fail(message,
                bytes,
                -1,
                "unsupported transform (dimension %u, %u-byte values, x length %llu)",
                dimension,
                elementSize,
                static_cast<unsigned long long>(size[0]));
  }
  CudaFFTVkFFTPlan * plan = new (std::nothrow) CudaFFTVkFFTPlan;
  if (plan == nullptr)
  {
    return Fail(message, bytes, VKFFT_ERROR_MALLOC_FAILED, "out of host memory");
  }
  int code = RetainContext(*plan, device, message, bytes);
  if (code == 0)
  {
    code = Initialize(*plan, Configure(*plan, size, dimension, elementSize, zeroBegin, zeroEnd), message, bytes);
  }
  const char * unsafe = code == 0 ? UnsafeFeature(plan->app) : nullptr;
  if (unsafe != nullptr)
  {
    code = Fail(message, bytes, -1, "%s", unsafe);
  }
  if (code != 0)
  {
    Destroy(plan);
    return code;
  }
  plan->usesWorkArea = UsesTempBuffer(plan->app);
  *workAreaBytes = plan->usesWorkArea ? plan->bufferBytes : 0;
  *out = plan;
  return 0;
}

void
SetWorkArea(CudaFFTVkFFTPlan * plan, void * workArea)
{
  plan->workArea = workArea;
}

void
SetStream(CudaFFTVkFFTPlan * plan, void * stream)
{
  plan->stream = static_cast<cudaStream_t>(stream);
}

int
Execute(CudaFFTVkFFTPlan * plan, void * data, int inverse, char * message, size_t bytes)
{
  if (plan->usesWorkArea && plan->workArea == nullptr)
  {
    return Fail(message, bytes, VKFFT_ERROR_EMPTY_tempBuffer, "no work area is attached");
  }
  // The calling thread may have another context current (VkFFT launches on the current one).
  const ContextScope scope(plan->context);
  if (scope.Result() != CUDA_SUCCESS)
  {
    return Fail(
      message, bytes, static_cast<int>(scope.Result()), "cuCtxPushCurrent failed: %s", DriverErrorName(scope.Result()));
  }
  plan->data = data;
  VkFFTLaunchParams launch{};
  launch.buffer = &plan->data;
  launch.tempBuffer = &plan->workArea;
  const VkFFTResult result = VkFFTAppend(&plan->app, inverse ? 1 : -1, &launch);
  if (result != VKFFT_SUCCESS)
  {
    return Fail(message,
                bytes,
                static_cast<int>(result),
                "VkFFTAppend failed: %s (%d)",
                ResultName(result),
                static_cast<int>(result));
  }
  return 0;
}
} // namespace

extern "C" __attribute__((visibility("default"))) const CudaFFTVkFFTFunctions *
CudaFFTConvolutionVkFFTPlugin(void)
{
  static const CudaFFTVkFFTFunctions functions = {
    CUDAFFT_VKFFT_PLUGIN_ABI, VkFFTGetVersion(), Create, SetWorkArea, SetStream, Execute, Destroy
  };
  return &functions;
}
