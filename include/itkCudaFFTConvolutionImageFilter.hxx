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
#ifndef itkCudaFFTConvolutionImageFilter_hxx
#define itkCudaFFTConvolutionImageFilter_hxx

#include "itkCudaFFTConvolutionImageFilter.h"

#include "itkConstantBoundaryCondition.h"
#include "itkHalfHermitianToRealInverseFFTImageFilter.h"
#include "itkPeriodicBoundaryCondition.h"
#include "itkRealToHalfHermitianForwardFFTImageFilter.h"
#include "itkZeroFluxNeumannBoundaryCondition.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <typeinfo>

namespace itk
{
namespace CudaFFTConvolutionDetail
{
template <typename TRegion>
CudaFFTConvolutionPlanner::Box
ToBox(const TRegion & region)
{
  CudaFFTConvolutionPlanner::Box box;
  for (unsigned int a = 0; a < TRegion::ImageDimension; ++a)
  {
    box.index[a] = region.GetIndex()[a];
    box.size[a] = region.GetSize()[a];
  }
  return box;
}

template <typename TRegion>
TRegion
ToRegion(const CudaFFTConvolutionPlanner::Box & box)
{
  TRegion region;
  for (unsigned int a = 0; a < TRegion::ImageDimension; ++a)
  {
    region.SetIndex(a, box.index[a]);
    region.SetSize(a, box.size[a]);
  }
  return region;
}

/** The values of a buffer as TInternal: the buffer itself when the types agree, else a copy. */
template <typename TInternal>
const TInternal *
AsInternal(const TInternal * values, std::size_t, std::vector<TInternal> &)
{
  return values;
}
template <typename TInternal, typename TPixel>
const TInternal *
AsInternal(const TPixel * values, std::size_t count, std::vector<TInternal> & storage)
{
  storage.assign(values, values + count);
  return storage.data();
}

/** Where to write TInternal results: the output buffer itself when the types agree. */
template <typename TInternal>
TInternal *
InternalTarget(TInternal * values, std::size_t, std::vector<TInternal> &)
{
  return values;
}
template <typename TInternal, typename TPixel>
TInternal *
InternalTarget(TPixel *, std::size_t count, std::vector<TInternal> & storage)
{
  storage.resize(count);
  return storage.data();
}

template <typename TInternal>
void
CopyToOutput(const std::vector<TInternal> &, TInternal *)
{}
template <typename TInternal, typename TPixel>
void
CopyToOutput(const std::vector<TInternal> & storage, TPixel * values)
{
  std::copy(storage.begin(), storage.end(), values);
}

[[noreturn]] inline void
ThrowAborted(const char * file, unsigned int line)
{
  ProcessAborted aborted(file, line);
  aborted.SetLocation("CudaFFTConvolutionImageFilter::GenerateData");
  aborted.SetDescription("CudaFFTConvolutionImageFilter: the update was aborted between tiles");
  throw aborted;
}

inline void
MixKey(std::uint64_t & key, std::uint64_t value)
{
  key ^= value + 0x9e3779b97f4a7c15ULL + (key << 6) + (key >> 2);
}
} // namespace CudaFFTConvolutionDetail

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  CudaFFTConvolutionImageFilter() = default;

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  ~CudaFFTConvolutionImageFilter()
{
  this->ReleaseGPUResources();
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::SetOutputRegionMode(
  const OutputRegionModeEnum mode)
{
  // Python passes enum values as integers: 2 is CudaFFTConvolutionImageFilterEnums::OutputRegion::FULL.
  switch (static_cast<int>(mode))
  {
    case static_cast<int>(OutputRegionEnum::VALID):
      this->SetOutputRegion(OutputRegionEnum::VALID);
      break;
    case static_cast<int>(OutputRegionEnum::FULL):
      this->SetOutputRegion(OutputRegionEnum::FULL);
      break;
    default:
      this->SetOutputRegion(OutputRegionEnum::SAME);
      break;
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::SetOutputRegionModeToSame()
{
  this->SetOutputRegion(OutputRegionEnum::SAME);
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::SetOutputRegionModeToValid()
{
  this->SetOutputRegion(OutputRegionEnum::VALID);
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::SetOutputRegionModeToFull()
{
  this->SetOutputRegion(OutputRegionEnum::FULL);
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::SetOutputRegion(
  const OutputRegionEnum mode)
{
  if (mode != OutputRegionEnum::SAME && mode != OutputRegionEnum::VALID && mode != OutputRegionEnum::FULL)
  {
    itkExceptionMacro(<< "unknown output region mode " << static_cast<int>(mode) << "; use SAME, VALID or FULL");
  }
  // ITK's own enum knows SAME and VALID only; it says SAME for FULL.
  Superclass::SetOutputRegionMode(mode == OutputRegionEnum::VALID ? OutputRegionModeEnum::VALID
                                                                   : OutputRegionModeEnum::SAME);
  if (m_OutputRegion != mode)
  {
    m_OutputRegion = mode;
    this->Modified();
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
SizeValueType
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::EstimateGPUMemory(
  const typename InputImageType::SizeType &  imageSize,
  const typename KernelImageType::SizeType & kernelSize,
  OutputRegionEnum                           mode,
  SizeValueType                              budget)
{
  return MakeGPUPlan(imageSize, kernelSize, mode, budget).memory.Peak();
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::MakeGPUPlan(
  const typename InputImageType::SizeType &  imageSize,
  const typename KernelImageType::SizeType & kernelSize,
  OutputRegionEnum                           mode,
  SizeValueType                              budget) -> PlanType
{
  PlannerType::Request request;
  request.dimension = ImageDimension;
  for (unsigned int a = 0; a < ImageDimension; ++a)
  {
    request.inputLargest.size[a] = imageSize[a];
    request.kernelSize[a] = kernelSize[a];
  }
  request.inputBuffered = request.inputLargest;
  request.output = PlannerType::OutputRegion(mode, ImageDimension, request.inputLargest, request.kernelSize);
  request.elementSize = sizeof(InternalPrecisionType);
  request.memoryBudget = budget;
  request.pageLockedHostBytes =
    (request.inputBuffered.NumberOfVoxels() + request.output.NumberOfVoxels()) * sizeof(InternalPrecisionType) +
    (64u << 20);
  if (CudaFFTConvolutionEngine::DeviceAvailable())
  {
    request.workArea = [](const PlannerType::SizeArray & fft, unsigned int dimension) {
      return CudaFFTConvolutionEngine::WorkAreaBytes(fft, dimension, sizeof(InternalPrecisionType));
    };
  }
  try
  {
    return PlannerType::MakePlan(request);
  }
  catch (const std::exception & error)
  {
    itkGenericExceptionMacro(<< "CudaFFTConvolutionImageFilter::MakeGPUPlan: " << error.what());
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::ReleaseGPUResources()
{
  this->UnregisterInput();
  m_PreviousInput = nullptr;
  if (m_Engine)
  {
    m_Engine->ReleaseResources();
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::GetKernelSizeArray() const
  -> PlannerType::SizeArray
{
  PlannerType::SizeArray size{ { 1, 1, 1 } };
  const auto *           kernel = this->GetKernelImage();
  if (kernel == nullptr)
  {
    itkExceptionMacro(<< "the kernel image is not set");
  }
  const auto kernelSize = kernel->GetLargestPossibleRegion().GetSize();
  for (unsigned int a = 0; a < ImageDimension; ++a)
  {
    size[a] = kernelSize[a];
    if (size[a] == 0)
    {
      itkExceptionMacro(<< "the kernel image has a zero-length axis: its size is " << kernelSize);
    }
  }
  return size;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::GetPlannerBoundary(
  InputPixelType & constant) const -> PlannerType::Boundary
{
  const BoundaryConditionType * condition = this->GetBoundaryCondition();
  constant = InputPixelType{};
  if (condition == nullptr)
  {
    itkExceptionMacro(<< "no boundary condition is set");
  }
  // Exact types only: a subclass may behave differently and must not be approximated.
  if (typeid(*condition) == typeid(ConstantBoundaryCondition<TInputImage>))
  {
    constant = static_cast<const ConstantBoundaryCondition<TInputImage> *>(condition)->GetConstant();
    return PlannerType::Boundary::Constant;
  }
  if (typeid(*condition) == typeid(ZeroFluxNeumannBoundaryCondition<TInputImage>))
  {
    return PlannerType::Boundary::ZeroFluxNeumann;
  }
  if (typeid(*condition) == typeid(PeriodicBoundaryCondition<TInputImage>))
  {
    return PlannerType::Boundary::Periodic;
  }
  itkExceptionMacro(<< "the boundary condition " << condition->GetNameOfClass()
                    << " is not supported; use ConstantBoundaryCondition, ZeroFluxNeumannBoundaryCondition or "
                       "PeriodicBoundaryCondition");
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::GenerateOutputInformation()
{
  // ImageToImageFilter copies the input's information; only the region depends on the mode.
  Superclass::Superclass::GenerateOutputInformation();
  const InputImageType * input = this->GetInput();
  OutputImageType *      output = this->GetOutput();
  if (input == nullptr || output == nullptr)
  {
    return;
  }
  const auto box = PlannerType::OutputRegion(m_OutputRegion,
                                             ImageDimension,
                                             CudaFFTConvolutionDetail::ToBox(input->GetLargestPossibleRegion()),
                                             this->GetKernelSizeArray());
  output->SetLargestPossibleRegion(CudaFFTConvolutionDetail::ToRegion<OutputRegionType>(box));
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::GenerateInputRequestedRegion()
{
  auto * input = const_cast<InputImageType *>(this->GetInput());
  auto * kernel = const_cast<KernelImageType *>(this->GetKernelImage());
  if (input == nullptr || kernel == nullptr)
  {
    return;
  }
  kernel->SetRequestedRegionToLargestPossibleRegion();

  OutputImageType *      output = this->GetOutput();
  const OutputRegionType requested = output->GetRequestedRegion();
  if (requested.GetNumberOfPixels() == 0)
  {
    InputRegionType nothing = input->GetLargestPossibleRegion();
    nothing.SetSize(typename InputRegionType::SizeType{});
    input->SetRequestedRegion(nothing);
    return;
  }
  if (!output->GetLargestPossibleRegion().IsInside(requested))
  {
    InvalidRequestedRegionError error(__FILE__, __LINE__);
    error.SetLocation(ITK_LOCATION);
    std::ostringstream description;
    description << "Requested region " << requested << " is outside the largest possible region "
                << output->GetLargestPossibleRegion();
    error.SetDescription(description.str());
    error.SetDataObject(output);
    throw error;
  }
  InputPixelType constant;
  const auto     boundary = this->GetPlannerBoundary(constant);
  const auto     window = PlannerType::InputWindow(
    CudaFFTConvolutionDetail::ToBox(requested), this->GetKernelSizeArray(), ImageDimension);
  const auto source = PlannerType::SourceRegion(
    window, boundary, CudaFFTConvolutionDetail::ToBox(input->GetLargestPossibleRegion()), ImageDimension);
  input->SetRequestedRegion(CudaFFTConvolutionDetail::ToRegion<InputRegionType>(source));
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
std::uint64_t
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::GetKernelKey() const
{
  const KernelImageType * kernel = this->GetKernelImage();
  std::uint64_t           key = reinterpret_cast<std::uintptr_t>(kernel);
  CudaFFTConvolutionDetail::MixKey(key, reinterpret_cast<std::uintptr_t>(kernel->GetBufferPointer()));
  CudaFFTConvolutionDetail::MixKey(key, kernel->GetMTime());
  CudaFFTConvolutionDetail::MixKey(key, kernel->GetUpdateMTime());
  CudaFFTConvolutionDetail::MixKey(key, kernel->GetPixelContainer()->GetMTime());
  return key;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::KernelValues() const
  -> std::vector<InternalPrecisionType>
{
  const KernelImageType * kernel = this->GetKernelImage();
  if (kernel->GetBufferedRegion() != kernel->GetLargestPossibleRegion())
  {
    itkExceptionMacro(<< "the kernel image buffer " << kernel->GetBufferedRegion()
                      << " does not hold its largest possible region " << kernel->GetLargestPossibleRegion());
  }
  const KernelPixelType * values = kernel->GetBufferPointer();
  return std::vector<InternalPrecisionType>(values, values + kernel->GetBufferedRegion().GetNumberOfPixels());
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::GenerateData()
{
  OutputImageType *      output = this->GetOutput();
  const InputImageType * input = this->GetInput();
  m_NumberOfTiles = 0;

  // Where to run.
  std::string gpuMissing;
  bool        useGPU = false;
  if (m_ComputeDevice != ComputeDeviceEnum::CPU)
  {
    useGPU = CudaFFTConvolutionEngine::DeviceAvailable(&gpuMissing);
    if (!useGPU && m_ComputeDevice == ComputeDeviceEnum::GPU)
    {
      itkExceptionMacro(<< "the GPU was required (ComputeDevice GPU) but " << gpuMissing);
    }
  }
  m_LastComputeDevice = useGPU ? ComputeDeviceEnum::GPU : ComputeDeviceEnum::CPU;
  if (useGPU)
  {
    this->PinBuffersForRepeatedUpdates();
  }
  this->AllocateOutputs();
  const OutputRegionType outputRegion = output->GetBufferedRegion();
  if (outputRegion.GetNumberOfPixels() == 0)
  {
    return; // e.g. VALID with a kernel larger than the image: nothing to compute
  }

  InputPixelType          constant;
  PlannerType::Request    request;
  request.dimension = ImageDimension;
  request.inputLargest = CudaFFTConvolutionDetail::ToBox(input->GetLargestPossibleRegion());
  request.inputBuffered = CudaFFTConvolutionDetail::ToBox(input->GetBufferedRegion());
  request.kernelSize = this->GetKernelSizeArray();
  request.output = CudaFFTConvolutionDetail::ToBox(outputRegion);
  request.boundary = this->GetPlannerBoundary(constant);
  request.elementSize = sizeof(InternalPrecisionType);
  m_BoundaryConstant = static_cast<InternalPrecisionType>(constant);
  request.memoryBudget = m_GPUMemoryBudget;
  if (useGPU)
  {
    request.greatestPrimeFactor = 7;
    try
    {
      if (request.memoryBudget == 0)
      {
        std::uint64_t freeBytes = 0;
        std::uint64_t totalBytes = 0;
        CudaFFTConvolutionEngine::DeviceMemory(freeBytes, totalBytes);
        // What this filter already holds is free for it too.
        const std::uint64_t held = m_Engine ? m_Engine->AllocatedDeviceBytes() : 0;
        request.memoryBudget = (freeBytes + held) / 10 * 8;
      }
      // The engine makes the chosen size's plans while planning and reuses them to run.
      if (!m_Engine)
      {
        m_Engine.reset(new CudaFFTConvolutionEngine);
      }
      CudaFFTConvolutionEngine * engine = m_Engine.get();
      request.workArea = [engine](const PlannerType::SizeArray & fft, unsigned int dimension) {
        return engine->PreparePlans(fft, dimension, sizeof(InternalPrecisionType));
      };
      // Repeated updates page-lock the input and output buffers, besides 64 MiB of staging.
      request.pageLockedHostBytes = (request.inputBuffered.NumberOfVoxels() + request.output.NumberOfVoxels()) *
                                      sizeof(InternalPrecisionType) +
                                    (64u << 20);
    }
    catch (const CudaFFTConvolutionEngineError & error)
    {
      itkExceptionMacro(<< "GPU convolution failed: " << error.what());
    }
  }
  else
  {
    using ForwardFFTType = RealToHalfHermitianForwardFFTImageFilter<InternalImageType, InternalComplexImageType>;
    auto forward = ForwardFFTType::New();
    if (forward.IsNull())
    {
      itkExceptionMacro(<< "no CPU FFT implementation is registered with ITK's object factory");
    }
    request.greatestPrimeFactor = std::min<unsigned int>(7, static_cast<unsigned int>(forward->GetSizeGreatestPrimeFactor()));
    // The budget then bounds host FFT buffers: no device granularity, no cuFFT plans.
    request.allocationGranularity = 1;
    request.planDataBytes = 0;
  }

  PlanType plan;
  try
  {
    plan = PlannerType::MakePlan(request);
  }
  catch (const CudaFFTConvolutionEngineError & error)
  {
    itkExceptionMacro(<< "GPU convolution failed: " << error.what());
  }
  catch (const std::exception & error)
  {
    itkExceptionMacro(<< error.what());
  }
  const auto adoptPlan = [this, useGPU](const PlanType & adopted) {
    m_NumberOfTiles = adopted.tiles.size();
    m_LastFFTSize = adopted.fftSize;
    m_LastEstimatedGPUMemory = useGPU ? adopted.memory.Peak() : 0;
  };
  adoptPlan(plan);

  std::vector<InternalPrecisionType> inputStorage;
  std::vector<InternalPrecisionType> outputStorage;
  const InternalPrecisionType *      inputValues = CudaFFTConvolutionDetail::AsInternal<InternalPrecisionType>(
    input->GetBufferPointer(), input->GetBufferedRegion().GetNumberOfPixels(), inputStorage);
  InternalPrecisionType * outputValues = CudaFFTConvolutionDetail::InternalTarget<InternalPrecisionType>(
    output->GetBufferPointer(), outputRegion.GetNumberOfPixels(), outputStorage);

  const auto & kernelSpacing = this->GetKernelImage()->GetSpacing();
  const auto & inputSpacing = input->GetSpacing();
  for (unsigned int a = 0; a < ImageDimension; ++a)
  {
    if (std::abs(kernelSpacing[a] - inputSpacing[a]) > 1e-6 * std::abs(inputSpacing[a]))
    {
      itkWarningMacro(<< "the kernel's spacing " << kernelSpacing << " differs from the image's " << inputSpacing
                      << "; the kernel is applied voxel for voxel (its spacing is ignored, as by ITK's filters)");
      break;
    }
  }

  this->UpdateProgress(0.0f);
  if (useGPU)
  {
    for (unsigned int attempt = 0;; ++attempt)
    {
      try
      {
        this->RunOnGPU(plan, inputValues, outputValues);
        break;
      }
      catch (const CudaFFTConvolutionEngineError & error)
      {
        if (!error.OutOfMemory() || attempt >= 3)
        {
          itkExceptionMacro(<< "GPU convolution failed: " << error.what());
        }
        // Something else took the memory the plan counted on: free ours and plan smaller tiles
        // for what is free now.
        if (m_Engine)
        {
          m_Engine->ReleaseResources();
        }
        std::uint64_t freeBytes = 0;
        std::uint64_t totalBytes = 0;
        try
        {
          CudaFFTConvolutionEngine::DeviceMemory(freeBytes, totalBytes);
        }
        catch (const CudaFFTConvolutionEngineError & query)
        {
          itkExceptionMacro(<< "GPU convolution failed: " << error.what() << "; then " << query.what());
        }
        const std::uint64_t previous = request.memoryBudget;
        request.memoryBudget = std::min<std::uint64_t>(freeBytes / 10 * 8, previous / 2);
        try
        {
          plan = PlannerType::MakePlan(request);
        }
        catch (const std::exception & replanning)
        {
          itkExceptionMacro(<< "GPU out of memory: " << error.what() << "; only " << freeBytes
                            << " bytes are free now, and " << replanning.what());
        }
        itkDebugMacro(<< "out of GPU memory (" << error.what() << "): retrying with a budget of "
                      << request.memoryBudget << " bytes, " << plan.tiles.size() << " tiles");
        adoptPlan(plan);
      }
    }
  }
  else
  {
    this->RunOnCPU(plan, inputValues, outputValues);
  }
  CudaFFTConvolutionDetail::CopyToOutput<InternalPrecisionType>(outputStorage, output->GetBufferPointer());
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::PinBuffersForRepeatedUpdates()
{
  // Page-locking costs about what one staged transfer saves, so only buffers that come back
  // (a deconvolution loop, a batch, a re-executed pipeline) are page-locked: the output when an
  // update makes the same size as the one before, the input when its buffer is the one before.
  OutputImageType *   output = this->GetOutput();
  const SizeValueType outputPixels = output->GetRequestedRegion().GetNumberOfPixels();
  if (std::is_same<OutputPixelType, InternalPrecisionType>::value && outputPixels == m_PreviousOutputPixels &&
      dynamic_cast<const PinnedContainerType *>(output->GetPixelContainer()) == nullptr)
  {
    output->SetPixelContainer(PinnedContainerType::New());
  }
  m_PreviousOutputPixels = outputPixels;

  const InputImageType * input = this->GetInput();
  const auto *           container = input->GetPixelContainer();
  if (m_RegisteredInput.GetPointer() != container || m_RegisteredPointer != input->GetBufferPointer())
  {
    this->UnregisterInput();
    if (std::is_same<InputPixelType, InternalPrecisionType>::value && container == m_PreviousInput &&
        input->GetBufferPointer() != nullptr && !CudaFFTConvolutionEngine::IsPinnedHost(input->GetBufferPointer()) &&
        CudaFFTConvolutionEngine::RegisterHost(input->GetBufferPointer(),
                                               input->GetBufferedRegion().GetNumberOfPixels() * sizeof(InputPixelType)))
    {
      // Holding the container keeps the registered memory alive until it is unregistered.
      m_RegisteredInput = container;
      m_RegisteredPointer = input->GetBufferPointer();
    }
  }
  m_PreviousInput = container;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::UnregisterInput()
{
  if (m_RegisteredInput)
  {
    CudaFFTConvolutionEngine::UnregisterHost(m_RegisteredPointer);
    m_RegisteredInput = nullptr;
    m_RegisteredPointer = nullptr;
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::RunOnGPU(
  const PlanType &              plan,
  const InternalPrecisionType * input,
  InternalPrecisionType *       output)
{
  const std::uint64_t                key = this->GetKernelKey();
  const bool                         normalize = this->GetNormalize();
  std::vector<InternalPrecisionType> kernel;
  if (!m_Engine->HasKernelSpectrum(key, plan, normalize))
  {
    kernel = this->KernelValues();
  }
  CudaFFTConvolutionEngine::HostBuffer<const InternalPrecisionType> in;
  in.data = input;
  in.region = CudaFFTConvolutionDetail::ToBox(this->GetInput()->GetBufferedRegion());
  CudaFFTConvolutionEngine::HostBuffer<InternalPrecisionType> out;
  out.data = output;
  out.region = CudaFFTConvolutionDetail::ToBox(this->GetOutput()->GetBufferedRegion());
  bool completed = false;
  try
  {
    completed = m_Engine->Run<InternalPrecisionType>(
      plan,
      in,
      out,
      kernel.empty() ? nullptr : kernel.data(),
      key,
      normalize,
      m_BoundaryConstant,
      [this](double fraction) {
        this->UpdateProgress(static_cast<float>(fraction));
        return !this->GetAbortGenerateData();
      });
  }
  catch (const CudaFFTConvolutionEngineError &)
  {
    throw; // GenerateData retries out-of-memory failures with smaller tiles
  }
  catch (const std::exception & error)
  {
    itkExceptionMacro(<< error.what());
  }
  if (!completed)
  {
    CudaFFTConvolutionDetail::ThrowAborted(__FILE__, __LINE__);
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::RunOnCPU(
  const PlanType &              plan,
  const InternalPrecisionType * input,
  InternalPrecisionType *       output)
{
  using ForwardFFTType = RealToHalfHermitianForwardFFTImageFilter<InternalImageType, InternalComplexImageType>;
  using InverseFFTType = HalfHermitianToRealInverseFFTImageFilter<InternalComplexImageType, InternalImageType>;
  using ComplexType = typename InternalComplexImageType::PixelType;

  typename InternalImageType::RegionType padded;
  for (unsigned int a = 0; a < ImageDimension; ++a)
  {
    padded.SetSize(a, plan.fftSize[a]);
  }
  const auto f0 = static_cast<std::int64_t>(plan.fftSize[0]);
  const auto f1 = static_cast<std::int64_t>(plan.fftSize[1]);
  const auto f2 = static_cast<std::int64_t>(plan.fftSize[2]);

  // The kernel spectrum: centre at the origin, normalised if asked (ITK's inverse FFT has 1/N).
  const std::uint64_t key = this->GetKernelKey();
  const bool          normalize = this->GetNormalize();
  if (m_CPUSpectrum.IsNull() || m_CPUSpectrumKey != key || m_CPUSpectrumSize != plan.fftSize ||
      m_CPUSpectrumNormalized != normalize)
  {
    const auto kernel = this->KernelValues();
    double     sum = 0;
    double     magnitude = 0;
    for (const auto value : kernel)
    {
      sum += static_cast<double>(value);
      magnitude += std::abs(static_cast<double>(value));
    }
    if (normalize && (sum == 0.0 || !std::isfinite(sum) || std::abs(sum) <= 1e-12 * magnitude))
    {
      itkExceptionMacro(<< "the kernel sums to " << sum << " (sum of magnitudes " << magnitude
                        << "), so it cannot be normalized");
    }
    const double scale = normalize ? 1.0 / sum : 1.0;
    auto         shifted = InternalImageType::New();
    shifted->SetRegions(padded);
    shifted->Allocate(true);
    InternalPrecisionType * values = shifted->GetBufferPointer();
    const auto              k = plan.kernelSize;
    std::size_t             j = 0;
    for (std::uint64_t j2 = 0; j2 < k[2]; ++j2)
    {
      for (std::uint64_t j1 = 0; j1 < k[1]; ++j1)
      {
        for (std::uint64_t j0 = 0; j0 < k[0]; ++j0, ++j)
        {
          // Kernel voxel j goes to (j - floor(K/2)) mod F: its centre lands on the origin.
          const std::int64_t p0 = (static_cast<std::int64_t>(j0) - static_cast<std::int64_t>(k[0] / 2) + f0) % f0;
          const std::int64_t p1 = (static_cast<std::int64_t>(j1) - static_cast<std::int64_t>(k[1] / 2) + f1) % f1;
          const std::int64_t p2 = (static_cast<std::int64_t>(j2) - static_cast<std::int64_t>(k[2] / 2) + f2) % f2;
          values[(p2 * f1 + p1) * f0 + p0] = static_cast<InternalPrecisionType>(kernel[j] * scale);
        }
      }
    }
    auto forward = ForwardFFTType::New();
    forward->SetInput(shifted);
    forward->Update();
    m_CPUSpectrum = forward->GetOutput();
    m_CPUSpectrum->DisconnectPipeline();
    m_CPUSpectrumKey = key;
    m_CPUSpectrumSize = plan.fftSize;
    m_CPUSpectrumNormalized = normalize;
  }

  const auto inputBox = CudaFFTConvolutionDetail::ToBox(this->GetInput()->GetBufferedRegion());
  const auto outputBox = CudaFFTConvolutionDetail::ToBox(this->GetOutput()->GetBufferedRegion());
  const auto crop = PlannerType::CropOffset(plan.kernelSize);
  for (std::size_t t = 0; t < plan.tiles.size(); ++t)
  {
    const auto & tile = plan.tiles[t];
    const auto   map0 = PlannerType::AxisSourceMap(plan, tile, 0);
    const auto   map1 = PlannerType::AxisSourceMap(plan, tile, 1);
    const auto   map2 = PlannerType::AxisSourceMap(plan, tile, 2);
    // The source box lies inside the input buffer: offsets of its first voxel there.
    const std::int64_t b0 = tile.source.index[0] - inputBox.index[0];
    const std::int64_t b1 = tile.source.index[1] - inputBox.index[1];
    const std::int64_t b2 = tile.source.index[2] - inputBox.index[2];
    const auto         n0 = static_cast<std::int64_t>(inputBox.size[0]);
    const auto         n1 = static_cast<std::int64_t>(inputBox.size[1]);

    auto tileImage = InternalImageType::New();
    tileImage->SetRegions(padded);
    tileImage->Allocate();
    InternalPrecisionType * values = tileImage->GetBufferPointer();
    for (std::int64_t p2 = 0; p2 < f2; ++p2)
    {
      for (std::int64_t p1 = 0; p1 < f1; ++p1)
      {
        InternalPrecisionType * row = values + (p2 * f1 + p1) * f0;
        if (map1[p1] < 0 || map2[p2] < 0)
        {
          std::fill(row, row + f0, m_BoundaryConstant);
          continue;
        }
        const InternalPrecisionType * source = input + ((map2[p2] + b2) * n1 + (map1[p1] + b1)) * n0 + b0;
        for (std::int64_t p0 = 0; p0 < f0; ++p0)
        {
          row[p0] = map0[p0] < 0 ? m_BoundaryConstant : source[map0[p0]];
        }
      }
    }

    auto forward = ForwardFFTType::New();
    forward->SetInput(tileImage);
    forward->Update();
    typename InternalComplexImageType::Pointer spectrum = forward->GetOutput();
    ComplexType *                              data = spectrum->GetBufferPointer();
    const ComplexType *                        kernelSpectrum = m_CPUSpectrum->GetBufferPointer();
    const std::size_t                          count = spectrum->GetBufferedRegion().GetNumberOfPixels();
    for (std::size_t i = 0; i < count; ++i)
    {
      data[i] *= kernelSpectrum[i];
    }
    auto inverse = InverseFFTType::New();
    inverse->SetInput(spectrum);
    inverse->SetActualXDimensionIsOdd(plan.fftSize[0] % 2 == 1);
    inverse->Update();
    const InternalPrecisionType * result = inverse->GetOutput()->GetBufferPointer();

    const auto o0 = static_cast<std::int64_t>(outputBox.size[0]);
    const auto o1 = static_cast<std::int64_t>(outputBox.size[1]);
    for (std::uint64_t z = 0; z < tile.output.size[2]; ++z)
    {
      for (std::uint64_t y = 0; y < tile.output.size[1]; ++y)
      {
        const std::int64_t outZ = tile.output.index[2] - outputBox.index[2] + static_cast<std::int64_t>(z);
        const std::int64_t outY = tile.output.index[1] - outputBox.index[1] + static_cast<std::int64_t>(y);
        const std::int64_t outX = tile.output.index[0] - outputBox.index[0];
        const InternalPrecisionType * from =
          result + ((static_cast<std::int64_t>(z) + crop[2]) * f1 + static_cast<std::int64_t>(y) + crop[1]) * f0 + crop[0];
        std::copy(from, from + tile.output.size[0], output + (outZ * o1 + outY) * o0 + outX);
      }
    }
    this->UpdateProgress(static_cast<float>(t + 1) / static_cast<float>(plan.tiles.size()));
    if (this->GetAbortGenerateData())
    {
      CudaFFTConvolutionDetail::ThrowAborted(__FILE__, __LINE__);
    }
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::PrintSelf(
  std::ostream & os,
  Indent         indent) const
{
  Superclass::PrintSelf(os, indent);
  os << indent << "OutputRegion: " << m_OutputRegion << std::endl;
  os << indent << "ComputeDevice: " << m_ComputeDevice << std::endl;
  os << indent << "LastComputeDevice: " << m_LastComputeDevice << std::endl;
  os << indent << "GPUMemoryBudget: " << m_GPUMemoryBudget << std::endl;
  os << indent << "NumberOfTiles: " << m_NumberOfTiles << std::endl;
  os << indent << "LastEstimatedGPUMemory: " << m_LastEstimatedGPUMemory << std::endl;
  os << indent << "LastFFTSize: [" << m_LastFFTSize[0] << ", " << m_LastFFTSize[1] << ", " << m_LastFFTSize[2] << "]"
     << std::endl;
  os << indent << "BoundaryConstant: " << static_cast<typename NumericTraits<InternalPrecisionType>::PrintType>(m_BoundaryConstant)
     << std::endl;
  os << indent << "GPU engine: " << (m_Engine ? "created" : "not created") << std::endl;
}
} // namespace itk

#endif
