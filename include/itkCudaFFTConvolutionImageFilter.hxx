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

#include "itkCudaFFTConvolutionFilterSupport.h"
#include "itkHalfHermitianToRealInverseFFTImageFilter.h"
#include "itkMath.h"
#include "itkRealToHalfHermitianForwardFFTImageFilter.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace itk
{
namespace CudaFFTConvolutionDetail
{
[[noreturn]] inline void
ThrowAborted(const char * file, unsigned int line)
{
  CudaFFTConvolutionFilterSupport::ThrowAborted(file,
                                                line,
                                                "CudaFFTConvolutionImageFilter::GenerateData",
                                                "CudaFFTConvolutionImageFilter: the update was aborted between tiles");
}
} // namespace CudaFFTConvolutionDetail

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  CudaFFTConvolutionImageFilter()
{
  // ITK's default (ZeroFluxNeumann), as the filter's own copy like any supported condition set later.
  Superclass::SetBoundaryCondition(m_BoundaryConditions.GetDefault());
  m_FFTBackend = CudaFFTConvolutionFilterSupport::DefaultFFTBackend();
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::SetFFTBackend(
  const std::string & name)
{
  this->SetFFTBackend(CudaFFTConvolutionFilterSupport::FFTBackendFromName(name, this->GetNameOfClass()));
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  ~CudaFFTConvolutionImageFilter()
{
  this->ReleaseGPUResources();
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::SetBoundaryCondition(
  BoundaryConditionType * condition)
{
  // Exact types only (see CudaFFTConvolutionBoundaryConditions): any other condition is kept by
  // pointer and rejected at the update.
  bool                    constantChanged = false;
  BoundaryConditionType * own = m_BoundaryConditions.Adopt(condition, constantChanged);
  if (own == nullptr)
  {
    Superclass::SetBoundaryCondition(condition); // ITK's behaviour: the caller's pointer
    return;
  }
  if (this->GetBoundaryCondition() != own)
  {
    Superclass::SetBoundaryCondition(own); // another kind (or the caller's object): Modified()
  }
  else if (constantChanged)
  {
    this->Modified(); // the same kind with another constant
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::SetBoundaryCondition(
  const std::string & name)
{
  std::unique_ptr<BoundaryConditionType> condition;
  try
  {
    condition = CudaFFTConvolutionBoundaryConditions<TInputImage>::FromName(name);
  }
  catch (const std::invalid_argument & error)
  {
    itkExceptionMacro(<< error.what());
  }
  this->SetBoundaryCondition(condition.get()); // copies it
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
    case static_cast<int>(OutputRegionEnum::SAME):
      this->SetOutputRegion(OutputRegionEnum::SAME);
      break;
    default:
      itkExceptionMacro(<< "unknown output region mode " << static_cast<int>(mode) << "; use SAME, VALID or FULL");
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
  SizeValueType                              budget,
  BoundaryEnum                               boundary,
  FFTBackendEnum                             backend)
{
  return PlanForSizes(imageSize, kernelSize, mode, budget, boundary, backend).memory.Peak();
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::PlanForSizes(
  const typename InputImageType::SizeType &  imageSize,
  const typename KernelImageType::SizeType & kernelSize,
  OutputRegionEnum                           mode,
  SizeValueType                              budget,
  BoundaryEnum                               boundary,
  FFTBackendEnum                             backend) -> PlanType
{
  PlannerType::Box       image;
  PlannerType::SizeArray kernel{ { 1, 1, 1 } };
  for (unsigned int a = 0; a < ImageDimension; ++a)
  {
    image.size[a] = imageSize[a];
    kernel[a] = kernelSize[a];
  }
  const auto           boxes = PlannerType::OutputRegion(mode, ImageDimension, image, kernel);
  const auto           planner = boundary == BoundaryEnum::PERIODIC   ? PlannerType::Boundary::Periodic
                                 : boundary == BoundaryEnum::CONSTANT ? PlannerType::Boundary::Constant
                                                                      : PlannerType::Boundary::ZeroFluxNeumann;
  PlannerType::Request request = MakeRequest(image, image, kernel, boxes, planner);
  request.memoryBudget = budget;
  if (CudaFFTConvolutionEngine::DeviceAvailable())
  {
    const auto engineBackend = CudaFFTConvolutionFilterSupport::ToEngine(backend);
    request.workArea = [engineBackend](const PlannerType::SizeArray & fft, unsigned int dimension) {
      return CudaFFTConvolutionEngine::WorkAreaBytes(fft, dimension, sizeof(InternalPrecisionType), engineBackend);
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
auto
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::MakeRequest(
  const PlannerType::Box &       inputLargest,
  const PlannerType::Box &       inputBuffered,
  const PlannerType::SizeArray & kernelSize,
  const PlannerType::Box &       output,
  PlannerType::Boundary          boundary) -> PlannerType::Request
{
  PlannerType::Request request;
  request.dimension = ImageDimension;
  request.inputLargest = inputLargest;
  request.inputBuffered = inputBuffered;
  request.kernelSize = kernelSize;
  request.output = output;
  request.boundary = boundary;
  request.elementSize = sizeof(InternalPrecisionType);
  request.greatestPrimeFactor = 7;
  // The engine page-locks only its own staging; image buffers are never page-locked.
  request.pageLockedHostBytes = CudaFFTConvolutionEngine::StagingHostBytes();
  return request;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::ReleaseGPUResources()
{
  const std::string error = CudaFFTConvolutionFilterSupport::ReleaseResources(m_Engine.get());
  if (!error.empty())
  {
    itkWarningMacro(<< "releasing GPU resources: " << error);
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
  try
  {
    return CudaFFTConvolutionBoundaryConditions<TInputImage>::ToPlanner(this->GetBoundaryCondition(), constant);
  }
  catch (const std::invalid_argument & error)
  {
    itkExceptionMacro(<< error.what());
  }
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
                                             CudaFFTConvolutionFilterSupport::ToBox(input->GetLargestPossibleRegion()),
                                             this->GetKernelSizeArray());
  output->SetLargestPossibleRegion(CudaFFTConvolutionFilterSupport::ToRegion<OutputRegionType>(box));
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  GenerateInputRequestedRegion()
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
    CudaFFTConvolutionFilterSupport::ToBox(requested), this->GetKernelSizeArray(), ImageDimension);
  const auto source = PlannerType::SourceRegion(
    window, boundary, CudaFFTConvolutionFilterSupport::ToBox(input->GetLargestPossibleRegion()), ImageDimension);
  input->SetRequestedRegion(CudaFFTConvolutionFilterSupport::ToRegion<InputRegionType>(source));
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::KernelValues(
  std::vector<InternalPrecisionType> & storage) const -> const InternalPrecisionType *
{
  const KernelImageType * kernel = this->GetKernelImage();
  if (kernel->GetBufferedRegion() != kernel->GetLargestPossibleRegion())
  {
    itkExceptionMacro(<< "the kernel image buffer " << kernel->GetBufferedRegion()
                      << " does not hold its largest possible region " << kernel->GetLargestPossibleRegion());
  }
  // The kernel's own buffer when its type is the internal one: read each update, never cached
  // by pointer or time stamp, so values changed in place without Modified() are seen.
  return CudaFFTConvolutionFilterSupport::AsInternal<InternalPrecisionType>(
    kernel->GetBufferPointer(), kernel->GetBufferedRegion().GetNumberOfPixels(), storage);
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
bool
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::ChooseGPU() const
{
  std::string error;
  const bool  gpu = CudaFFTConvolutionFilterSupport::ChooseGPU(m_ComputeDevice, m_GPUDevice, error);
  if (!error.empty())
  {
    itkExceptionMacro(<< error);
  }
  return gpu;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::GenerateData()
{
  OutputImageType *      output = this->GetOutput();
  const InputImageType * input = this->GetInput();
  m_NumberOfTiles = 0;
  const bool useGPU = this->ChooseGPU();
  this->AllocateOutputs();
  const OutputRegionType outputRegion = output->GetBufferedRegion();
  if (outputRegion.GetNumberOfPixels() == 0)
  {
    m_LastComputeDevice = useGPU ? ComputeDeviceEnum::GPU : ComputeDeviceEnum::CPU;
    return; // e.g. VALID with a kernel larger than the image: nothing to compute
  }
  InputPixelType constant;
  const auto     boundary = this->GetPlannerBoundary(constant);
  m_BoundaryConstant = static_cast<InternalPrecisionType>(constant);
  PlannerType::Request request = MakeRequest(CudaFFTConvolutionFilterSupport::ToBox(input->GetLargestPossibleRegion()),
                                             CudaFFTConvolutionFilterSupport::ToBox(input->GetBufferedRegion()),
                                             this->GetKernelSizeArray(),
                                             CudaFFTConvolutionFilterSupport::ToBox(outputRegion),
                                             boundary);
  request.memoryBudget = m_GPUMemoryBudget;
  this->WarnAboutKernelSpacing();

  std::vector<InternalPrecisionType> inputStorage;
  std::vector<InternalPrecisionType> outputStorage;
  const InternalPrecisionType *      inputValues = CudaFFTConvolutionFilterSupport::AsInternal<InternalPrecisionType>(
    input->GetBufferPointer(), input->GetBufferedRegion().GetNumberOfPixels(), inputStorage);
  InternalPrecisionType * outputValues = CudaFFTConvolutionFilterSupport::InternalTarget<InternalPrecisionType>(
    output->GetBufferPointer(), outputRegion.GetNumberOfPixels(), outputStorage);
  this->UpdateProgress(0.0f);
  if (!(useGPU && this->TryGPU(request, inputValues, outputValues)))
  {
    this->RunOnCPU(request, inputValues, outputValues);
  }
  CudaFFTConvolutionFilterSupport::CopyToOutput<InternalPrecisionType>(outputStorage, output->GetBufferPointer());
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
bool
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::TryGPU(
  PlannerType::Request          request,
  const InternalPrecisionType * input,
  InternalPrecisionType *       output)
{
  try
  {
    this->RunOnGPU(request, input, output);
    m_LastComputeDevice = ComputeDeviceEnum::GPU;
    m_LastGPUDevice = m_Engine->GetLastDevice();
    m_LastFFTBackend = CudaFFTConvolutionFilterSupport::FromEngine(m_Engine->GetLastFFTBackend());
    return true;
  }
  catch (const CudaFFTConvolutionEngineError & error)
  {
    // Too little memory even for small tiles, a GPU older than the built code, a broken driver:
    // AUTOMATIC runs the same plan on the CPU; GPU reports it.
    this->ReleaseGPUResources();
    if (m_ComputeDevice == ComputeDeviceEnum::GPU)
    {
      itkExceptionMacro(<< "GPU convolution failed: " << error.what());
    }
    itkWarningMacro(<< "the GPU could not run this convolution (" << error.what()
                    << "); falling back to the CPU (ComputeDevice AUTOMATIC)");
    return false;
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::PlanForGPU(
  PlannerType::Request & request) -> PlanType
{
  // The staging threads obey ITK's thread settings.
  CudaFFTConvolutionFilterSupport::PrepareEngine(
    m_Engine, m_GPUDevice, this->GetMultiThreader()->GetMaximumNumberOfThreads(), m_FFTBackend);
  request.memoryBudget = CudaFFTConvolutionMemoryPolicy::Budget(request.memoryBudget, m_Engine.get(), m_GPUDevice);
  // The engine makes the chosen size's plans while planning and reuses them to run.
  CudaFFTConvolutionEngine * engine = m_Engine.get();
  request.workArea = [engine](const PlannerType::SizeArray & fft, unsigned int dimension) {
    return engine->PreparePlans(fft, dimension, sizeof(InternalPrecisionType));
  };
  try
  {
    return PlannerType::MakePlan(request);
  }
  catch (const std::length_error & error)
  {
    if (m_GPUMemoryBudget != 0)
    {
      itkExceptionMacro(<< error.what()); // the caller's budget is too small: their error
    }
    throw CudaFFTConvolutionEngineError(std::string("too little free GPU memory: ") + error.what(), true);
  }
  catch (const std::invalid_argument & error)
  {
    itkExceptionMacro(<< error.what());
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::RunOnGPU(
  PlannerType::Request          request,
  const InternalPrecisionType * input,
  InternalPrecisionType *       output)
{
  PlanType plan = this->PlanForGPU(request);
  CudaFFTConvolutionMemoryPolicy::Run(
    *m_Engine,
    m_GPUDevice,
    request.memoryBudget,
    plan,
    [&](std::uint64_t budget) {
      itkDebugMacro(<< "out of GPU memory: retrying with a budget of " << budget << " bytes");
      request.memoryBudget = budget;
      return PlannerType::MakePlan(request);
    },
    [&](const PlanType & current) {
      this->AdoptPlan(current, true);
      this->RunPlanOnGPU(current, input, output);
    });
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::RunPlanOnGPU(
  const PlanType &              plan,
  const InternalPrecisionType * input,
  InternalPrecisionType *       output)
{
  std::vector<InternalPrecisionType>                                kernelStorage;
  const InternalPrecisionType *                                     kernel = this->KernelValues(kernelStorage);
  CudaFFTConvolutionEngine::HostBuffer<const InternalPrecisionType> in;
  in.data = input;
  in.region = CudaFFTConvolutionFilterSupport::ToBox(this->GetInput()->GetBufferedRegion());
  CudaFFTConvolutionEngine::HostBuffer<InternalPrecisionType> out;
  out.data = output;
  out.region = CudaFFTConvolutionFilterSupport::ToBox(this->GetOutput()->GetBufferedRegion());
  bool completed = false;
  try
  {
    completed = m_Engine->Run<InternalPrecisionType>(
      plan, in, out, kernel, this->GetNormalize(), m_BoundaryConstant, [this](double fraction) {
        this->UpdateProgress(static_cast<float>(fraction));
        return !this->GetAbortGenerateData();
      });
  }
  catch (const CudaFFTConvolutionEngineError &)
  {
    throw; // RunOnGPU re-plans out-of-memory failures; TryGPU decides about the CPU
  }
  catch (const std::exception & error)
  {
    itkExceptionMacro(<< error.what()); // bad input, e.g. a kernel that sums to zero
  }
  if (!completed)
  {
    CudaFFTConvolutionDetail::ThrowAborted(__FILE__, __LINE__);
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::AdoptPlan(
  const PlanType & plan,
  bool             gpu)
{
  m_NumberOfTiles = plan.tiles.size();
  m_LastFFTSize = plan.fftSize;
  m_LastEstimatedGPUMemory = gpu ? plan.memory.Peak() : 0;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::WarnAboutKernelSpacing()
{
  const KernelImageType * kernel = this->GetKernelImage();
  const auto &            kernelSpacing = kernel->GetSpacing();
  const auto &            inputSpacing = this->GetInput()->GetSpacing();
  for (unsigned int a = 0; a < ImageDimension; ++a)
  {
    if (std::abs(kernelSpacing[a] - inputSpacing[a]) > 1e-6 * std::abs(inputSpacing[a]))
    {
      // Once per kernel image and spacing, not on every update of a loop.
      if (m_SpacingWarnedKernel != kernel || m_SpacingWarnedTime != kernel->GetMTime())
      {
        itkWarningMacro(<< "the kernel's spacing " << kernelSpacing << " differs from the image's " << inputSpacing
                        << "; the kernel is applied voxel for voxel (its spacing is ignored, as by ITK's filters)");
        m_SpacingWarnedKernel = kernel;
        m_SpacingWarnedTime = kernel->GetMTime();
      }
      return;
    }
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::RunOnCPU(
  PlannerType::Request          request,
  const InternalPrecisionType * input,
  InternalPrecisionType *       output)
{
  using ForwardFFTType = RealToHalfHermitianForwardFFTImageFilter<InternalImageType, InternalComplexImageType>;
  auto forward = ForwardFFTType::New();
  if (forward.IsNull())
  {
    itkExceptionMacro(<< "no CPU FFT implementation is registered with ITK's object factory");
  }
  // The CPU plan bounds host FFT buffers: the caller's budget only, no device granularity, no
  // cuFFT plans, nothing page-locked.
  request.greatestPrimeFactor =
    std::min<unsigned int>(7, static_cast<unsigned int>(forward->GetSizeGreatestPrimeFactor()));
  request.memoryBudget = m_GPUMemoryBudget;
  request.allocationGranularity = 1;
  request.planDataBytes = 0;
  request.pageLockedHostBytes = 0;
  request.workArea = nullptr;
  PlanType plan;
  try
  {
    plan = PlannerType::MakePlan(request);
  }
  catch (const std::exception & error)
  {
    itkExceptionMacro(<< error.what());
  }
  this->AdoptPlan(plan, false);
  m_LastComputeDevice = ComputeDeviceEnum::CPU;
  m_LastGPUDevice = -1;
  m_LastFFTBackend = FFTBackendEnum::AUTO;
  this->EnsureCPUSpectrum(plan);
  for (std::size_t t = 0; t < plan.tiles.size(); ++t)
  {
    this->RunTileOnCPU(plan, plan.tiles[t], input, output);
    this->UpdateProgress(static_cast<float>(t + 1) / static_cast<float>(plan.tiles.size()));
    if (this->GetAbortGenerateData())
    {
      CudaFFTConvolutionDetail::ThrowAborted(__FILE__, __LINE__);
    }
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::EnsureCPUSpectrum(
  const PlanType & plan)
{
  using ForwardFFTType = RealToHalfHermitianForwardFFTImageFilter<InternalImageType, InternalComplexImageType>;
  std::vector<InternalPrecisionType> storage;
  const InternalPrecisionType *      kernel = this->KernelValues(storage);
  const std::size_t                  count = this->GetKernelImage()->GetBufferedRegion().GetNumberOfPixels();
  const bool                         normalize = this->GetNormalize();
  // Compared by value, as the GPU engine does: a kernel changed in place is transformed again.
  if (m_CPUSpectrum.IsNotNull() && m_CPUSpectrumSize == plan.fftSize && m_CPUSpectrumNormalized == normalize &&
      m_CPUKernelValues.size() == count && std::equal(kernel, kernel + count, m_CPUKernelValues.begin()))
  {
    return;
  }
  double sum = 0;
  double magnitude = 0;
  for (std::size_t i = 0; i < count; ++i)
  {
    sum += static_cast<double>(kernel[i]);
    magnitude += std::abs(static_cast<double>(kernel[i]));
  }
  if (normalize && (sum == 0.0 || !std::isfinite(sum) || std::abs(sum) <= 1e-12 * magnitude))
  {
    itkExceptionMacro(<< "the kernel sums to " << sum << " (sum of magnitudes " << magnitude
                      << "), so it cannot be normalized");
  }
  auto forward = ForwardFFTType::New();
  forward->SetInput(this->ShiftedKernel(plan, kernel, normalize ? 1.0 / sum : 1.0));
  forward->Update();
  m_CPUSpectrum = forward->GetOutput();
  m_CPUSpectrum->DisconnectPipeline();
  m_CPUKernelValues.assign(kernel, kernel + count);
  m_CPUSpectrumSize = plan.fftSize;
  m_CPUSpectrumNormalized = normalize;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::FFTRegion(
  const PlanType & plan) -> typename InternalImageType::RegionType
{
  typename InternalImageType::RegionType region;
  for (unsigned int a = 0; a < ImageDimension; ++a)
  {
    region.SetSize(a, plan.fftSize[a]);
  }
  return region;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::ShiftedKernel(
  const PlanType &              plan,
  const InternalPrecisionType * kernel,
  double                        scale) const -> typename InternalImageType::Pointer
{
  // The kernel at FFT size with its centre at the origin (ITK's inverse FFT carries 1/N).
  auto shifted = InternalImageType::New();
  shifted->SetRegions(FFTRegion(plan));
  shifted->Allocate(true);
  InternalPrecisionType * values = shifted->GetBufferPointer();
  const auto &            k = plan.kernelSize;
  const auto &            f = plan.fftSize;
  std::size_t             j = 0;
  for (std::uint64_t j2 = 0; j2 < k[2]; ++j2)
  {
    const std::int64_t p2 = PlannerType::KernelPlacement(j2, k[2], f[2]);
    for (std::uint64_t j1 = 0; j1 < k[1]; ++j1)
    {
      const std::int64_t p1 = PlannerType::KernelPlacement(j1, k[1], f[1]);
      for (std::uint64_t j0 = 0; j0 < k[0]; ++j0, ++j)
      {
        const std::int64_t p0 = PlannerType::KernelPlacement(j0, k[0], f[0]);
        values[(p2 * static_cast<std::int64_t>(f[1]) + p1) * static_cast<std::int64_t>(f[0]) + p0] =
          static_cast<InternalPrecisionType>(static_cast<double>(kernel[j]) * scale);
      }
    }
  }
  return shifted;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::PaddedTile(
  const PlanType &              plan,
  const PlannerType::Tile &     tile,
  const InternalPrecisionType * input) const -> typename InternalImageType::Pointer
{
  // The planner's axis maps say which source voxel (or the constant) each padded voxel holds.
  const auto         inputBox = CudaFFTConvolutionFilterSupport::ToBox(this->GetInput()->GetBufferedRegion());
  const auto         map0 = PlannerType::AxisSourceMap(plan, tile, 0);
  const auto         map1 = PlannerType::AxisSourceMap(plan, tile, 1);
  const auto         map2 = PlannerType::AxisSourceMap(plan, tile, 2);
  const std::int64_t b0 = tile.source.index[0] - inputBox.index[0];
  const std::int64_t b1 = tile.source.index[1] - inputBox.index[1];
  const std::int64_t b2 = tile.source.index[2] - inputBox.index[2];
  const auto         n0 = static_cast<std::int64_t>(inputBox.size[0]);
  const auto         n1 = static_cast<std::int64_t>(inputBox.size[1]);
  auto               image = InternalImageType::New();
  image->SetRegions(FFTRegion(plan));
  image->Allocate();
  InternalPrecisionType * row = image->GetBufferPointer();
  for (std::size_t p2 = 0; p2 < map2.size(); ++p2)
  {
    for (std::size_t p1 = 0; p1 < map1.size(); ++p1, row += map0.size())
    {
      if (map1[p1] < 0 || map2[p2] < 0)
      {
        std::fill(row, row + map0.size(), m_BoundaryConstant);
        continue;
      }
      const InternalPrecisionType * source = input + ((map2[p2] + b2) * n1 + (map1[p1] + b1)) * n0 + b0;
      for (std::size_t p0 = 0; p0 < map0.size(); ++p0)
      {
        row[p0] = map0[p0] < 0 ? m_BoundaryConstant : source[map0[p0]];
      }
    }
  }
  return image;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaFFTConvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::RunTileOnCPU(
  const PlanType &              plan,
  const PlannerType::Tile &     tile,
  const InternalPrecisionType * input,
  InternalPrecisionType *       output)
{
  using ForwardFFTType = RealToHalfHermitianForwardFFTImageFilter<InternalImageType, InternalComplexImageType>;
  using InverseFFTType = HalfHermitianToRealInverseFFTImageFilter<InternalComplexImageType, InternalImageType>;
  using ComplexType = typename InternalComplexImageType::PixelType;
  auto forward = ForwardFFTType::New();
  forward->SetInput(this->PaddedTile(plan, tile, input));
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

  // Crop: the kept voxels start at the planner's crop offset of the padded result.
  const auto         crop = PlannerType::CropOffset(plan.kernelSize);
  const auto         outputBox = CudaFFTConvolutionFilterSupport::ToBox(this->GetOutput()->GetBufferedRegion());
  const auto         f0 = static_cast<std::int64_t>(plan.fftSize[0]);
  const auto         f1 = static_cast<std::int64_t>(plan.fftSize[1]);
  const auto         o0 = static_cast<std::int64_t>(outputBox.size[0]);
  const auto         o1 = static_cast<std::int64_t>(outputBox.size[1]);
  const std::int64_t x = tile.output.index[0] - outputBox.index[0];
  for (std::int64_t z = 0; z < static_cast<std::int64_t>(tile.output.size[2]); ++z)
  {
    for (std::int64_t y = 0; y < static_cast<std::int64_t>(tile.output.size[1]); ++y)
    {
      const std::int64_t            outZ = tile.output.index[2] - outputBox.index[2] + z;
      const std::int64_t            outY = tile.output.index[1] - outputBox.index[1] + y;
      const InternalPrecisionType * from = result + ((z + crop[2]) * f1 + y + crop[1]) * f0 + crop[0];
      std::copy(from, from + tile.output.size[0], output + (outZ * o1 + outY) * o0 + x);
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
  os << indent << "BoundaryConstant: "
     << static_cast<typename NumericTraits<InternalPrecisionType>::PrintType>(m_BoundaryConstant) << std::endl;
  const BoundaryConditionType * condition = this->GetBoundaryCondition();
  const bool                    owned = m_BoundaryConditions.Owns(condition);
  os << indent << "BoundaryConditionOwned: " << (owned ? "true" : "false (the caller's object)") << std::endl;
  os << indent << "ConstantBoundaryConditionConstant: "
     << static_cast<typename NumericTraits<InputPixelType>::PrintType>(m_BoundaryConditions.GetConstant()) << std::endl;
  os << indent << "GPUDevice: " << m_GPUDevice << std::endl;
  os << indent << "LastGPUDevice: " << m_LastGPUDevice << std::endl;
  os << indent << "FFTBackend: " << m_FFTBackend << std::endl;
  os << indent << "LastFFTBackend: " << m_LastFFTBackend << std::endl;
  os << indent << "GPU engine: " << (m_Engine ? "created" : "not created") << std::endl;
}
} // namespace itk

#endif
