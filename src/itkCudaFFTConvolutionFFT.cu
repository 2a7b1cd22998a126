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
#include "itkCudaFFTConvolutionFFT.h"

#include "itkCudaFFTConvolutionCudaSupport.h"
#include "itkCudaFFTConvolutionFFTPlans.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>

namespace itk
{
namespace
{
using namespace CudaFFTConvolutionFFTDetail;
using Backend = CudaFFTConvolutionFFT::Backend;
using FacesBackend = CudaFFTConvolutionImageFilterEnums::FFTBackend;

// The names and their reading are the faces' (filters, C ABI, tools): one table for all.
static_assert(static_cast<int>(FacesBackend::AUTO) == static_cast<int>(Backend::Auto) &&
                static_cast<int>(FacesBackend::CUFFT) == static_cast<int>(Backend::CuFFT) &&
                static_cast<int>(FacesBackend::VKFFT) == static_cast<int>(Backend::VkFFT),
              "the filters' FFTBackend enum must have the engine's values");

Backend
FromFaces(FacesBackend backend)
{
  return static_cast<Backend>(static_cast<int>(backend));
}

/** What a plan is made for. */
struct PlanKey
{
  SizeArray    fft{ { 0, 0, 0 } };
  unsigned int dimension{ 0 };
  unsigned int elementSize{ 0 };
  Backend      requested{ Backend::Auto };
  int          device{ -1 };

  bool
  operator<(const PlanKey & o) const
  {
    return std::tie(fft, dimension, elementSize, requested, device) <
           std::tie(o.fft, o.dimension, o.elementSize, o.requested, o.device);
  }
};

/** What the layer remembers across its objects: warnings given, sizes VkFFT declined, estimates
 * and VkFFT plans made by estimates. Never destroyed: engines may be freed after main. */
struct SharedState
{
  std::mutex                                               mutex;
  std::set<std::string>                                    warned;
  std::map<PlanKey, std::string>                           declined; // requested: always VkFFT
  std::map<PlanKey, std::uint64_t>                         estimates;
  std::list<std::pair<PlanKey, std::unique_ptr<FFTPlans>>> spares;
};

SharedState &
Shared()
{
  static SharedState * state = new SharedState;
  return *state;
}

/** VkFFT plans kept from estimates: enough for the estimate just before a run; each holds only
 * its kernels (and a twiddle table in double precision). */
constexpr std::size_t MaximumSpares = 2;

/** One line on stderr, once per process for each message. */
void
Warn(const std::string & message)
{
  SharedState &               shared = Shared();
  std::lock_guard<std::mutex> lock(shared.mutex);
  if (shared.warned.insert(message).second)
  {
    std::cerr << "CudaFFTConvolution warning: " << message << std::endl;
  }
}

PlanKey
KeyOf(const SizeArray & fft, unsigned int dimension, unsigned int elementSize, Backend requested)
{
  PlanKey key;
  key.fft = fft;
  key.dimension = dimension;
  key.elementSize = elementSize;
  key.requested = requested;
  CUDAFFT_CHECK(cudaGetDevice(&key.device));
  return key;
}

/** VkFFT's plans, or nullptr with the reason; a size VkFFT declined once is not tried again
 * (planning compiles kernels). */
std::unique_ptr<FFTPlans>
TryVkFFT(PlanKey key, std::string & whyNot)
{
  key.requested = Backend::VkFFT;
  SharedState & shared = Shared();
  {
    std::lock_guard<std::mutex> lock(shared.mutex);
    const auto                  found = shared.declined.find(key);
    if (found != shared.declined.end())
    {
      whyNot = found->second;
      return nullptr;
    }
  }
  std::unique_ptr<FFTPlans> plans = MakeVkFFTPlans(key.fft, key.dimension, key.elementSize, key.device, whyNot);
  if (plans == nullptr && VkFFTLoadable(nullptr))
  {
    std::lock_guard<std::mutex> lock(shared.mutex);
    shared.declined[key] = whyNot;
  }
  return plans;
}

/** Auto's choice: VkFFT from this many grid values on. Measured on an H100 (2026-12-06), VkFFT
 * (pruned where it can) was faster on every large grid (151 and 527 million values: 20-45% less
 * per Richardson-Lucy iteration); on small grids the two are close, and a VkFFT plan costs an
 * NVRTC compile (0.1-1.5 s) at its first use. */
constexpr std::uint64_t AutoVkFFTValues = std::uint64_t{ 1 } << 24;

bool
AutoPicksVkFFT(const PlanKey & key)
{
  std::uint64_t values = 1;
  for (unsigned int axis = 0; axis < key.dimension; ++axis)
  {
    values *= key.fft[axis];
  }
  return VkFFTBuilt() && values >= AutoVkFFTValues;
}

/** The plans of the backend asked for, or cuFFT's when VkFFT cannot be had (said on stderr
 * unless Auto was asked for in a build without VkFFT). Auto: VkFFT for large grids. */
std::unique_ptr<FFTPlans>
MakeWithFallback(const PlanKey & key)
{
  if (key.requested == Backend::VkFFT || (key.requested == Backend::Auto && AutoPicksVkFFT(key)))
  {
    std::string               whyNot;
    std::unique_ptr<FFTPlans> plans = TryVkFFT(key, whyNot);
    if (plans != nullptr)
    {
      return plans;
    }
    Warn(whyNot + "; cuFFT does these transforms");
  }
  return MakeCuFFTPlans(key.fft, key.dimension, key.elementSize);
}

std::unique_ptr<FFTPlans>
TakeSpare(const PlanKey & key)
{
  SharedState &               shared = Shared();
  std::lock_guard<std::mutex> lock(shared.mutex);
  for (auto spare = shared.spares.begin(); spare != shared.spares.end(); ++spare)
  {
    if (!(spare->first < key) && !(key < spare->first))
    {
      std::unique_ptr<FFTPlans> plans = std::move(spare->second);
      shared.spares.erase(spare);
      return plans;
    }
  }
  return nullptr;
}

void
KeepSpare(const PlanKey & key, std::unique_ptr<FFTPlans> plans)
{
  SharedState &               shared = Shared();
  std::lock_guard<std::mutex> lock(shared.mutex);
  shared.spares.emplace_back(key, std::move(plans));
  if (shared.spares.size() > MaximumSpares)
  {
    shared.spares.pop_front();
  }
}

/** Pruned plans kept per layer object: the forward and the inverse boxes of a run's tiles. */
constexpr std::size_t MaximumPrunedPlans = 4;

/** Per axis, the larger of the two zero slabs outside a live box (VkFFT prunes one interval per
 * axis); false when no axis has one, or the box is empty (nothing to prune then). */
bool
ZeroBlockOutside(const CudaFFTConvolutionFFT::Box & live,
                 const SizeArray &                  fft,
                 unsigned int                       dimension,
                 ZeroBlock &                        zero)
{
  bool any = false;
  for (unsigned int axis = 0; axis < dimension; ++axis)
  {
    const std::uint64_t begin = std::min(live.index[axis], fft[axis]);
    const std::uint64_t end = std::min(begin + live.size[axis], fft[axis]);
    if (end <= begin)
    {
      return false;
    }
    const std::uint64_t before = begin;
    const std::uint64_t after = fft[axis] - end;
    if (after >= before && after > 0)
    {
      zero.begin[axis] = end;
      zero.end[axis] = fft[axis];
    }
    else if (before > 0)
    {
      zero.begin[axis] = 0;
      zero.end[axis] = begin;
    }
    any = any || before > 0 || after > 0;
  }
  return any;
}
} // namespace

CudaFFTConvolutionFFT::CudaFFTConvolutionFFT() = default;

CudaFFTConvolutionFFT::~CudaFFTConvolutionFFT() = default;

bool
CudaFFTConvolutionFFT::Has(const SizeArray & fft,
                           unsigned int      dimension,
                           unsigned int      elementSize,
                           Backend           requested) const
{
  return m_Plans != nullptr && m_Size == fft && m_Dimension == dimension && m_ElementSize == elementSize &&
         m_Requested == requested;
}

std::uint64_t
CudaFFTConvolutionFFT::Make(const SizeArray & fft, unsigned int dimension, unsigned int elementSize, Backend requested)
{
  Destroy();
  const PlanKey             key = KeyOf(fft, dimension, elementSize, requested);
  std::unique_ptr<FFTPlans> plans = TakeSpare(key);
  m_Plans = plans != nullptr ? std::move(plans) : MakeWithFallback(key);
  m_Size = fft;
  m_Dimension = dimension;
  m_ElementSize = elementSize;
  m_Requested = requested;
  m_Pruning = PruningEnabled();
  if (m_Stream != nullptr)
  {
    m_Plans->SetStream(m_Stream);
  }
  return m_Plans->WorkAreaBytes();
}

bool
CudaFFTConvolutionFFT::Valid() const
{
  return m_Plans != nullptr;
}

CudaFFTConvolutionFFT::Backend
CudaFFTConvolutionFFT::UsedBackend() const
{
  return m_Plans != nullptr ? m_Plans->Kind() : Backend::Auto;
}

std::uint64_t
CudaFFTConvolutionFFT::WorkAreaBytes() const
{
  return m_Plans != nullptr ? m_Plans->WorkAreaBytes() : 0;
}

void
CudaFFTConvolutionFFT::AttachWorkArea(void * workArea)
{
  if (workArea != m_AttachedWorkArea)
  {
    m_Plans->AttachWorkArea(workArea);
    for (auto & pruned : m_Pruned)
    {
      if (pruned.second != nullptr)
      {
        pruned.second->AttachWorkArea(workArea);
      }
    }
    m_AttachedWorkArea = workArea;
  }
}

void
CudaFFTConvolutionFFT::SetStream(cudaStream_t stream)
{
  m_Stream = stream;
  m_Plans->SetStream(stream);
  for (auto & pruned : m_Pruned)
  {
    if (pruned.second != nullptr)
    {
      pruned.second->SetStream(stream);
    }
  }
}

void
CudaFFTConvolutionFFT::Forward(void * data, const Box * live)
{
  PlansFor(live).Forward(data);
}

void
CudaFFTConvolutionFFT::Inverse(void * data, const Box * live)
{
  PlansFor(live).Inverse(data);
}

bool
CudaFFTConvolutionFFT::Prunes() const
{
  return m_Plans != nullptr && m_Pruning && m_Plans->Kind() == Backend::VkFFT;
}

FFTPlans &
CudaFFTConvolutionFFT::PlansFor(const Box * live)
{
  ZeroBlock zero;
  if (live == nullptr || !Prunes() || !ZeroBlockOutside(*live, m_Size, m_Dimension, zero))
  {
    return *m_Plans;
  }
  for (auto & pruned : m_Pruned)
  {
    if (*pruned.first == zero)
    {
      return pruned.second != nullptr ? *pruned.second : *m_Plans;
    }
  }
  if (m_Pruned.size() >= MaximumPrunedPlans)
  {
    // What the oldest plans enqueued must finish before their kernels are unloaded.
    CUDAFFT_CHECK(cudaStreamSynchronize(m_Stream));
    m_Pruned.erase(m_Pruned.begin());
  }
  m_Pruned.emplace_back(std::unique_ptr<ZeroBlock>(new ZeroBlock(zero)), MakePruned(zero));
  return m_Pruned.back().second != nullptr ? *m_Pruned.back().second : *m_Plans;
}

CudaFFTConvolutionFFT::PlansPointer
CudaFFTConvolutionFFT::MakePruned(const ZeroBlock & zero)
{
  int device = 0;
  CUDAFFT_CHECK(cudaGetDevice(&device));
  std::string  whyNot;
  PlansPointer plans = MakeVkFFTPlans(m_Size, m_Dimension, m_ElementSize, device, whyNot, &zero);
  if (plans != nullptr && plans->WorkAreaBytes() > m_Plans->WorkAreaBytes())
  {
    // Never seen: the zero block does not change how VkFFT splits an axis. The work area was
    // sized for the full plans, so these could not run.
    whyNot = "VkFFT's pruned plans would need a larger work area";
    plans.reset();
  }
  if (plans != nullptr)
  {
    plans->SetStream(m_Stream);
    if (m_AttachedWorkArea != nullptr)
    {
      plans->AttachWorkArea(m_AttachedWorkArea);
    }
    if (!PrunedPlansAgree(*m_Plans, *plans, m_Size, m_Dimension, m_ElementSize, zero, m_Stream, whyNot))
    {
      plans.reset();
    }
  }
  if (plans == nullptr)
  {
    Warn(whyNot + "; the transforms are not pruned");
  }
  return plans;
}

void
CudaFFTConvolutionFFT::Destroy()
{
  m_Pruned.clear();
  m_Plans.reset();
  m_AttachedWorkArea = nullptr;
}

bool
CudaFFTConvolutionFFT::PruningEnabled()
{
  const char * value = std::getenv("CUDAFFTCONVOLUTION_FFT_PRUNING");
  if (value == nullptr || *value == '\0')
  {
    return true;
  }
  std::string name(value);
  std::transform(
    name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return !(name == "0" || name == "off" || name == "no" || name == "false");
}

CudaFFTConvolutionFFT::Backend
CudaFFTConvolutionFFT::DefaultBackend()
{
  const char * value = std::getenv("CUDAFFTCONVOLUTION_FFT_BACKEND");
  if (value == nullptr || *value == '\0')
  {
    // VkFFT compiles each size with NVRTC at plan time (1.3-1.6 s on an H100) and has no plan
    // cache on disk yet: opt-in until it has, so that a first call costs what it did.
    return Backend::CuFFT;
  }
  try
  {
    return FromFaces(CudaFFTConvolutionImageFilterEnums::FFTBackendFromName(value));
  }
  catch (const std::invalid_argument & error)
  {
    Warn("CUDAFFTCONVOLUTION_FFT_BACKEND: " + std::string(error.what()) + "; auto is used");
  }
  return Backend::Auto;
}

const char *
CudaFFTConvolutionFFT::BackendName(Backend backend)
{
  return CudaFFTConvolutionImageFilterEnums::FFTBackendName(
    static_cast<CudaFFTConvolutionImageFilterEnums::FFTBackend>(static_cast<int>(backend)));
}

std::uint64_t
CudaFFTConvolutionFFT::EstimateWorkAreaBytes(const SizeArray & fft,
                                             unsigned int      dimension,
                                             unsigned int      elementSize,
                                             Backend           requested)
{
  const PlanKey key = KeyOf(fft, dimension, elementSize, requested);
  SharedState & shared = Shared();
  {
    std::lock_guard<std::mutex> lock(shared.mutex);
    const auto                  found = shared.estimates.find(key);
    if (found != shared.estimates.end())
    {
      return found->second;
    }
  }
  std::unique_ptr<FFTPlans> plans = MakeWithFallback(key);
  const std::uint64_t       bytes = plans->WorkAreaBytes();
  {
    std::lock_guard<std::mutex> lock(shared.mutex);
    shared.estimates[key] = bytes;
  }
  if (plans->Kind() == Backend::VkFFT)
  {
    KeepSpare(key, std::move(plans));
  }
  return bytes;
}

bool
CudaFFTConvolutionFFT::VkFFTBuilt()
{
  return CudaFFTConvolutionFFTDetail::VkFFTBuilt();
}

bool
CudaFFTConvolutionFFT::VkFFTAvailable(std::string * whyNot)
{
  return VkFFTLoadable(whyNot);
}
} // namespace itk
