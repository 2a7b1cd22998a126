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

// The VkFFT backend of the FFT layer, on the engine's side: loads the VkFFT plugin
// (libCudaFFTConvolutionVkFFT.so, built only where vkFFT.h was found) from the directory of the
// library holding this code, or from $CUDAFFTCONVOLUTION_VKFFT_PLUGIN, and wraps its plans.
// The plugin, not this library, links the CUDA driver and NVRTC: this library loads without them.

#include "itkCudaFFTConvolutionFFTPlans.h"

#include "itkCudaFFTConvolutionVkFFTPlugin.h"

#ifdef CUDAFFT_VKFFT_PLUGIN_NAME
#  include <dlfcn.h>
#endif

#include <cstdlib>
#include <sstream>

namespace itk
{
namespace CudaFFTConvolutionFFTDetail
{
namespace
{
/** The plugin's functions, or why they cannot be had. */
struct Plugin
{
  const CudaFFTVkFFTFunctions * functions{ nullptr };
  std::string                   whyNot;
};

#ifdef CUDAFFT_VKFFT_PLUGIN_NAME
/** The directory of the shared library (or executable) this code was linked into. */
std::string
OwnDirectory()
{
  Dl_info info{};
  if (dladdr(reinterpret_cast<void *>(&OwnDirectory), &info) == 0 || info.dli_fname == nullptr)
  {
    return ".";
  }
  const std::string path = info.dli_fname;
  const auto        slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

Plugin
LoadPlugin()
{
  const char *      chosen = std::getenv("CUDAFFTCONVOLUTION_VKFFT_PLUGIN");
  const std::string path =
    chosen != nullptr && *chosen != '\0' ? chosen : OwnDirectory() + "/" CUDAFFT_VKFFT_PLUGIN_NAME;
  Plugin plugin;
  // Never closed: plans may live until the process ends.
  void * handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr)
  {
    const char * error = dlerror();
    plugin.whyNot = "the VkFFT plugin cannot be loaded: " + std::string(error != nullptr ? error : path);
    return plugin;
  }
  const auto                    entry = reinterpret_cast<CudaFFTVkFFTEntry>(dlsym(handle, CUDAFFT_VKFFT_PLUGIN_ENTRY));
  const CudaFFTVkFFTFunctions * functions = entry != nullptr ? entry() : nullptr;
  if (functions == nullptr || functions->abi != CUDAFFT_VKFFT_PLUGIN_ABI)
  {
    plugin.whyNot = "the VkFFT plugin " + path + " is not of this library's version";
    return plugin;
  }
  plugin.functions = functions;
  return plugin;
}
#else
Plugin
LoadPlugin()
{
  Plugin plugin;
  plugin.whyNot = "this build has no VkFFT backend (vkFFT.h of libvkfft-dev was not found when it was configured)";
  return plugin;
}
#endif

/** Loaded once per process and never freed (plans freed after main still call it). */
const Plugin &
ThePlugin()
{
  static const Plugin * plugin = new Plugin(LoadPlugin());
  return *plugin;
}

class VkFFTPlans final : public FFTPlans
{
public:
  VkFFTPlans(const CudaFFTVkFFTFunctions * functions, CudaFFTVkFFTPlan * plan, std::uint64_t workBytes)
    : m_Functions(functions)
    , m_Plan(plan)
    , m_WorkBytes(workBytes)
  {}

  ~VkFFTPlans() override { m_Functions->destroy(m_Plan); }

  VkFFTPlans(const VkFFTPlans &) = delete;
  VkFFTPlans &
  operator=(const VkFFTPlans &) = delete;

  Backend
  Kind() const override
  {
    return Backend::VkFFT;
  }

  std::uint64_t
  WorkAreaBytes() const override
  {
    return m_WorkBytes;
  }

  void
  AttachWorkArea(void * workArea) override
  {
    m_Functions->set_work_area(m_Plan, workArea);
  }

  void
  SetStream(cudaStream_t stream) override
  {
    m_Functions->set_stream(m_Plan, stream);
  }

  void
  Forward(void * data) override
  {
    Execute(data, 0);
  }

  void
  Inverse(void * data) override
  {
    Execute(data, 1);
  }

private:
  void
  Execute(void * data, int inverse)
  {
    char message[512] = "";
    if (m_Functions->execute(m_Plan, data, inverse, message, sizeof(message)) != 0)
    {
      throw CudaFFTConvolutionEngineError(
        std::string("VkFFT's ") + (inverse ? "inverse" : "forward") + " transform failed: " + message, false);
    }
  }

  const CudaFFTVkFFTFunctions * m_Functions;
  CudaFFTVkFFTPlan *            m_Plan;
  std::uint64_t                 m_WorkBytes;
};
} // namespace

bool
VkFFTBuilt()
{
#ifdef CUDAFFT_VKFFT_PLUGIN_NAME
  return true;
#else
  return false;
#endif
}

bool
VkFFTLoadable(std::string * whyNot)
{
  const Plugin & plugin = ThePlugin();
  if (whyNot != nullptr)
  {
    *whyNot = plugin.whyNot;
  }
  return plugin.functions != nullptr;
}

std::unique_ptr<FFTPlans>
MakeVkFFTPlans(const SizeArray & fft,
               unsigned int      dimension,
               unsigned int      elementSize,
               int               device,
               std::string &     whyNot,
               const ZeroBlock * zero)
{
  const Plugin & plugin = ThePlugin();
  if (plugin.functions == nullptr)
  {
    whyNot = plugin.whyNot;
    return nullptr;
  }
  const std::uint64_t   size[3] = { fft[0], dimension > 1 ? fft[1] : 1, dimension > 2 ? fft[2] : 1 };
  CudaFFTVkFFTPlan *    plan = nullptr;
  std::uint64_t         workBytes = 0;
  char                  message[1024] = "";
  const std::uint64_t * zeroBegin = zero != nullptr ? zero->begin.data() : nullptr;
  const std::uint64_t * zeroEnd = zero != nullptr ? zero->end.data() : nullptr;
  if (plugin.functions->create(
        device, size, dimension, elementSize, zeroBegin, zeroEnd, &plan, &workBytes, message, sizeof(message)) != 0)
  {
    std::ostringstream why;
    why << "VkFFT cannot plan the " << size[0] << "x" << size[1] << "x" << size[2]
        << (elementSize == 8 ? " double" : " float") << (zero != nullptr ? " pruned" : "") << " transform: " << message;
    whyNot = why.str();
    return nullptr;
  }
  return std::unique_ptr<FFTPlans>(new VkFFTPlans(plugin.functions, plan, workBytes));
}
} // namespace CudaFFTConvolutionFFTDetail
} // namespace itk
