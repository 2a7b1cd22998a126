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
#ifndef itkCudaDeconvolutionImageFilterBase_hxx
#define itkCudaDeconvolutionImageFilterBase_hxx

#include "itkCudaDeconvolutionImageFilterBase.h"

#include "itkCudaFFTConvolutionFilterSupport.h"
#include "itkImageRegionConstIterator.h"
#include "itkImageRegionIterator.h"
#include "itkProgressAccumulator.h"
#include "itkRealToHalfHermitianForwardFFTImageFilter.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace itk
{
template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  CudaDeconvolutionImageFilterBase()
{
  Superclass::SetBoundaryCondition(m_BoundaryConditions.GetDefault());
  // ITK's deconvolution filters pad to sizes their forward FFT handles well (FFTW 13, VNL 5).
  using ForwardFFTType =
    RealToHalfHermitianForwardFFTImageFilter<InternalImageType,
                                             Image<std::complex<TInternalPrecision>, ImageDimension>>;
  const auto forward = ForwardFFTType::New();
  if (forward.IsNotNull())
  {
    m_SizeGreatestPrimeFactor = forward->GetSizeGreatestPrimeFactor();
  }
  m_FFTBackend = CudaFFTConvolutionFilterSupport::DefaultFFTBackend();
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  ~CudaDeconvolutionImageFilterBase()
{
  this->ReleaseGPUResources();
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::SetBoundaryCondition(
  BoundaryConditionType * condition)
{
  bool                    constantChanged = false;
  BoundaryConditionType * own = m_BoundaryConditions.Adopt(condition, constantChanged);
  if (own == nullptr)
  {
    Superclass::SetBoundaryCondition(condition); // ITK's behaviour: the caller's pointer
  }
  else if (this->GetBoundaryCondition() != own)
  {
    Superclass::SetBoundaryCondition(own);
  }
  else if (constantChanged)
  {
    this->Modified();
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::SetBoundaryCondition(
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
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::SetFFTBackend(
  const std::string & name)
{
  this->SetFFTBackend(CudaFFTConvolutionFilterSupport::FFTBackendFromName(name, this->GetNameOfClass()));
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::SetOutputRegionMode(
  const OutputRegionModeEnum mode)
{
  // Python passes enum values as integers: 2 is the module's FULL.
  if (mode != OutputRegionModeEnum::SAME && mode != OutputRegionModeEnum::VALID)
  {
    itkExceptionMacro(<< "output region mode " << static_cast<int>(mode)
                      << " is not available for deconvolution: use SAME or VALID (FULL would have to invent the "
                         "voxels beyond the image)");
  }
  Superclass::SetOutputRegionMode(mode);
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::SetOutputRegion(
  const OutputRegionEnum mode)
{
  this->SetOutputRegionMode(static_cast<OutputRegionModeEnum>(static_cast<int>(mode)));
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::GetPlannerBoundary(
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
auto
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::GetKernelSizeArray()
  const -> PlannerType::SizeArray
{
  const KernelImageType * kernel = this->GetKernelImage();
  if (kernel == nullptr)
  {
    itkExceptionMacro(<< "the kernel image is not set");
  }
  const auto size = CudaFFTConvolutionFilterSupport::ToBox(kernel->GetLargestPossibleRegion()).size;
  for (unsigned int a = 0; a < ImageDimension; ++a)
  {
    if (size[a] == 0)
    {
      itkExceptionMacro(<< "the kernel image has a zero-length axis: its size is "
                        << kernel->GetLargestPossibleRegion().GetSize());
    }
  }
  return size;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
template <typename TImage>
std::string
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::VoxelName(
  const TImage * image,
  std::size_t    offset)
{
  std::ostringstream name;
  name << "index " << image->ComputeIndex(static_cast<OffsetValueType>(offset));
  return name.str();
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  GenerateOutputInformation()
{
  // ImageToImageFilter copies the input's information; only the region depends on the mode.
  Superclass::Superclass::GenerateOutputInformation();
  const InputImageType * input = this->GetInput();
  OutputImageType *      output = this->GetOutput();
  if (input == nullptr || output == nullptr)
  {
    return;
  }
  const auto mode = this->GetOutputRegionMode();
  if (mode != OutputRegionModeEnum::SAME && mode != OutputRegionModeEnum::VALID)
  {
    itkExceptionMacro(<< "output region mode " << static_cast<int>(mode) << " is not available for deconvolution");
  }
  const auto box = CudaFFTConvolutionPlanner::OutputRegion(
    mode == OutputRegionModeEnum::VALID ? OutputRegionEnum::VALID : OutputRegionEnum::SAME,
    ImageDimension,
    CudaFFTConvolutionFilterSupport::ToBox(input->GetLargestPossibleRegion()),
    this->GetKernelSizeArray());
  output->SetLargestPossibleRegion(CudaFFTConvolutionFilterSupport::ToRegion<OutputRegionType>(box));
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  GenerateInputRequestedRegion()
{
  if (auto * input = const_cast<InputImageType *>(this->GetInput()))
  {
    input->SetRequestedRegionToLargestPossibleRegion();
  }
  if (auto * kernel = const_cast<KernelImageType *>(this->GetKernelImage()))
  {
    kernel->SetRequestedRegionToLargestPossibleRegion();
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  EnlargeOutputRequestedRegion(DataObject * output)
{
  Superclass::EnlargeOutputRequestedRegion(output);
  output->SetRequestedRegionToLargestPossibleRegion();
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::MakeRequest(
  const PlannerType::Box & input,
  const PlannerType::Box & output) const -> PlannerType::Request
{
  PlannerType::Request request;
  request.dimension = ImageDimension;
  request.input = input;
  request.kernelSize = this->GetKernelSizeArray();
  request.output = output;
  request.algorithm = this->GetAlgorithm();
  request.edges =
    m_Edges == EdgesEnum::NonCirculant ? PlannerType::Edges::NonCirculant : PlannerType::Edges::BoundaryCondition;
  InputPixelType constant;
  request.boundary = this->GetPlannerBoundary(constant);
  request.itkPadding = PlannerType::PaddingOfItkVersion(ITK_VERSION_MAJOR, ITK_VERSION_MINOR); // ITK's own filters'
  request.greatestPrimeFactor = static_cast<unsigned int>(m_SizeGreatestPrimeFactor);
  request.elementSize = sizeof(InternalPrecisionType);
  for (unsigned int a = 0; a < ImageDimension; ++a)
  {
    request.halo[a] = m_Halo[a];
  }
  request.haloEnergyFraction = m_HaloEnergyFraction;
  const KernelImageType * kernel = this->GetKernelImage();
  if (m_HaloEnergyFraction > 0 && kernel != nullptr && kernel->GetBufferPointer() != nullptr &&
      kernel->GetBufferedRegion() == kernel->GetLargestPossibleRegion())
  {
    request.kernelEnergy = PlannerType::MarginalEnergy(kernel->GetBufferPointer(), request.kernelSize);
  }
  if (CudaFFTConvolutionEngine::DeviceAvailable(nullptr, m_GPUDevice))
  {
    const auto backend = CudaFFTConvolutionFilterSupport::ToEngine(m_FFTBackend);
    request.workArea = [backend](const PlannerType::SizeArray & grid, unsigned int dimension) {
      return CudaFFTConvolutionEngine::WorkAreaBytes(grid, dimension, sizeof(InternalPrecisionType), backend);
    };
  }
  this->FillRequest(request);
  return request;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::FillRequest(
  PlannerType::Request &) const
{}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::FillSettings(
  SettingsType & settings) const
{
  settings.normalize = this->GetNormalize();
  InputPixelType constant;
  this->GetPlannerBoundary(constant);
  settings.constant = static_cast<double>(constant);
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
std::string
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::GetGPUOnlyOption() const
{
  return m_Edges == EdgesEnum::NonCirculant ? "Edges NonCirculant" : "";
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::MakeIterationFunction(
  const PlanType &) -> IterationFunctionType
{
  return IterationFunctionType();
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
SizeValueType
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::EstimateGPUMemory()
{
  return this->MakeGPUPlan().memory.Peak();
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::MakeGPUPlan()
  -> PlannerType::Plan
{
  this->UpdateOutputInformation();
  const auto output = CudaFFTConvolutionFilterSupport::ToBox(this->GetOutput()->GetLargestPossibleRegion());
  if (output.IsEmpty())
  {
    return PlannerType::Plan{}; // no tiles, no bytes
  }
  PlannerType::Request request =
    this->MakeRequest(CudaFFTConvolutionFilterSupport::ToBox(this->GetInput()->GetLargestPossibleRegion()), output);
  request.memoryBudget = CudaFFTConvolutionMemoryPolicy::Budget(m_GPUMemoryBudget, m_Engine.get(), m_GPUDevice);
  try
  {
    return PlannerType::MakePlan(request);
  }
  catch (const std::exception & error)
  {
    itkExceptionMacro(<< error.what());
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
SizeValueType
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::GetAllocatedGPUMemory()
  const
{
  return m_Engine ? m_Engine->AllocatedDeviceBytes() : 0;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::ReleaseGPUResources()
{
  const std::string error = CudaFFTConvolutionFilterSupport::ReleaseResources(m_Engine.get());
  if (!error.empty())
  {
    itkWarningMacro(<< "releasing GPU resources: " << error);
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::VerifyValues(
  const InternalPrecisionType * input,
  const InternalPrecisionType * kernel) const
{
  const InputImageType *  inputImage = this->GetInput();
  const KernelImageType * kernelImage = this->GetKernelImage();
  const std::size_t       inputCount = inputImage->GetBufferedRegion().GetNumberOfPixels();
  const std::size_t       kernelCount = kernelImage->GetBufferedRegion().GetNumberOfPixels();
  for (std::size_t i = 0; i < inputCount; ++i)
  {
    if (!std::isfinite(input[i]))
    {
      itkExceptionMacro(<< "the input image is " << input[i] << " at " << VoxelName(inputImage, i)
                        << ": deconvolution needs finite values");
    }
  }
  double sum = 0;
  double magnitude = 0;
  for (std::size_t i = 0; i < kernelCount; ++i)
  {
    if (!std::isfinite(kernel[i]))
    {
      itkExceptionMacro(<< "the kernel image is " << kernel[i] << " at " << VoxelName(kernelImage, i)
                        << ": deconvolution needs finite values");
    }
    sum += static_cast<double>(kernel[i]);
    magnitude += std::abs(static_cast<double>(kernel[i]));
  }
  if (this->GetNormalize() && (sum == 0.0 || !std::isfinite(sum) || std::abs(sum) <= 1e-12 * magnitude))
  {
    itkExceptionMacro(<< "the kernel sums to " << sum << " (sum of magnitudes " << magnitude
                      << "), so it cannot be normalized");
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
bool
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::ChooseGPU() const
{
  std::string error;
  const bool  gpu = CudaFFTConvolutionFilterSupport::ChooseGPU(m_ComputeDevice, m_GPUDevice, error);
  if (!error.empty())
  {
    itkExceptionMacro(<< error);
  }
  if (!gpu)
  {
    this->VerifyCPUCanRun(m_ComputeDevice == ComputeDeviceEnum::CPU ? "ComputeDevice is CPU"
                                                                    : "no CUDA device is present");
  }
  return gpu;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::VerifyCPUCanRun(
  const std::string & why) const
{
  const std::string option = this->GetGPUOnlyOption();
  if (!option.empty())
  {
    itkExceptionMacro(<< option << " needs a CUDA device (ITK's CPU deconvolution filters lack it), but this update "
                      << "runs on the CPU: " << why);
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::GenerateData()
{
  const bool useGPU = this->ChooseGPU();
  this->AllocateOutputs();
  m_NumberOfTiles = 0;
  m_LastEstimatedGPUMemory = 0;
  const InputImageType *  input = this->GetInput();
  const KernelImageType * kernel = this->GetKernelImage();
  OutputImageType *       output = this->GetOutput();
  if (kernel->GetBufferedRegion() != kernel->GetLargestPossibleRegion())
  {
    itkExceptionMacro(<< "the kernel image buffer " << kernel->GetBufferedRegion()
                      << " does not hold its largest possible region " << kernel->GetLargestPossibleRegion());
  }
  this->GetKernelSizeArray(); // a kernel with a zero-length axis is an error even for an empty output

  // The values in the internal precision: the images' own buffers when the types agree.
  using Support = CudaFFTConvolutionFilterSupport;
  std::vector<InternalPrecisionType> inputStorage;
  std::vector<InternalPrecisionType> kernelStorage;
  std::vector<InternalPrecisionType> outputStorage;
  Buffers                            buffers;
  buffers.input = Support::AsInternal<InternalPrecisionType>(
    input->GetBufferPointer(), input->GetBufferedRegion().GetNumberOfPixels(), inputStorage);
  buffers.kernel = Support::AsInternal<InternalPrecisionType>(
    kernel->GetBufferPointer(), kernel->GetBufferedRegion().GetNumberOfPixels(), kernelStorage);
  this->VerifyValues(buffers.input, buffers.kernel);

  const OutputRegionType outputRegion = output->GetBufferedRegion();
  m_LastComputeDevice = useGPU ? ComputeDeviceEnum::GPU : ComputeDeviceEnum::CPU;
  if (outputRegion.GetNumberOfPixels() == 0)
  {
    return; // VALID with a kernel larger than the image: nothing to compute
  }
  this->UpdateProgress(0.0f);
  if (useGPU)
  {
    buffers.output = Support::InternalTarget<InternalPrecisionType>(
      output->GetBufferPointer(), outputRegion.GetNumberOfPixels(), outputStorage);
    if (this->TryGPU(buffers))
    {
      Support::CopyToOutput<InternalPrecisionType>(outputStorage, output->GetBufferPointer());
      this->UpdateProgress(1.0f);
      return;
    }
  }
  this->RunOnCPU();
  this->UpdateProgress(1.0f);
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
bool
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::TryGPU(
  const Buffers & buffers)
{
  try
  {
    this->RunOnGPU(buffers);
    m_LastComputeDevice = ComputeDeviceEnum::GPU;
    m_LastGPUDevice = m_Engine->GetLastDevice();
    m_LastFFTBackend = CudaFFTConvolutionFilterSupport::FromEngine(m_Engine->GetLastFFTBackend());
    return true;
  }
  catch (const CudaFFTConvolutionEngineError & error)
  {
    // Too little memory even after re-planning, a GPU older than the built code, a broken driver:
    // AUTOMATIC runs ITK's filter on the CPU when it can; GPU reports it.
    this->ReleaseGPUResources();
    if (m_ComputeDevice == ComputeDeviceEnum::GPU || !this->GetGPUOnlyOption().empty())
    {
      itkExceptionMacro(<< "GPU deconvolution failed: " << error.what());
    }
    itkWarningMacro(<< "the GPU could not run this deconvolution (" << error.what()
                    << "); falling back to the CPU (ComputeDevice AUTOMATIC)");
    return false;
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::PlanForGPU(
  const PlannerType::Request & request) const -> PlanType
{
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
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::RunOnGPU(
  const Buffers & buffers)
{
  using Support = CudaFFTConvolutionFilterSupport;
  PlannerType::Request request = this->MakeRequest(Support::ToBox(this->GetInput()->GetLargestPossibleRegion()),
                                                   Support::ToBox(this->GetOutput()->GetBufferedRegion()));
  // The staging threads obey ITK's thread settings.
  Support::PrepareEngine(m_Engine, m_GPUDevice, this->GetMultiThreader()->GetMaximumNumberOfThreads(), m_FFTBackend);
  request.memoryBudget = CudaFFTConvolutionMemoryPolicy::Budget(m_GPUMemoryBudget, m_Engine.get(), m_GPUDevice);
  CudaFFTConvolutionMemoryPolicy::Run(
    *m_Engine,
    m_GPUDevice,
    request.memoryBudget,
    this->PlanForGPU(request),
    [&](std::uint64_t budget) {
      itkDebugMacro(<< "out of GPU memory: retrying with a budget of " << budget << " bytes");
      request.memoryBudget = budget;
      return PlannerType::MakePlan(request);
    },
    [&](const PlanType & plan) { this->RunPlanOnGPU(plan, buffers); });
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::RunPlanOnGPU(
  const PlanType & plan,
  const Buffers &  buffers)
{
  using Support = CudaFFTConvolutionFilterSupport;
  m_NumberOfTiles = plan.tiles.size();
  m_LastEstimatedGPUMemory = plan.memory.Peak();
  SettingsType settings;
  this->FillSettings(settings);
  CudaFFTConvolutionEngine::HostBuffer<const InternalPrecisionType> input;
  input.data = buffers.input;
  input.region = Support::ToBox(this->GetInput()->GetBufferedRegion());
  CudaFFTConvolutionEngine::HostBuffer<InternalPrecisionType> output;
  output.data = buffers.output;
  output.region = Support::ToBox(this->GetOutput()->GetBufferedRegion());
  CudaFFTConvolutionEngine::KernelValues<InternalPrecisionType> kernel;
  kernel.data = buffers.kernel; // identity 0: the engine compares the values with its cached copy
  m_RunningOnGPU = true;
  try
  {
    m_Engine->Deconvolve<InternalPrecisionType>(
      plan, input, output, kernel, settings, this->MakeIterationFunction(plan));
  }
  catch (const CudaFFTConvolutionEngineError &)
  {
    m_RunningOnGPU = false;
    throw; // RunOnGPU re-plans after running out of memory; TryGPU decides about the CPU
  }
  catch (const ExceptionObject &)
  {
    m_RunningOnGPU = false;
    throw; // an observer's
  }
  catch (const std::exception & error)
  {
    m_RunningOnGPU = false;
    itkExceptionMacro(<< error.what()); // e.g. an input the engine rejects
  }
  m_RunningOnGPU = false;
  this->AfterGPURun();
  if (this->GetAbortGenerateData())
  {
    Support::ThrowAborted(__FILE__, __LINE__, ITK_LOCATION, "the deconvolution was aborted");
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  CopyCurrentEstimateFromGPU(InternalPrecisionType * values) const
{
  CudaFFTConvolutionEngine::HostBuffer<InternalPrecisionType> estimate;
  estimate.data = values;
  estimate.region = CudaFFTConvolutionFilterSupport::ToBox(this->GetOutput()->GetBufferedRegion());
  try
  {
    m_Engine->CopyCurrentEstimate<InternalPrecisionType>(estimate);
  }
  catch (const std::exception & error)
  {
    itkExceptionMacro(<< "copying the current estimate from the GPU: " << error.what());
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::RunOnCPU()
{
  m_LastComputeDevice = ComputeDeviceEnum::CPU;
  m_LastGPUDevice = -1;
  m_LastFFTBackend = FFTBackendEnum::AUTO;
  m_NumberOfTiles = 1;
  m_LastEstimatedGPUMemory = 0;
  // ITK's filter on grafted copies, so that its pipeline does not reach ours.
  auto input = InputImageType::New();
  input->Graft(this->GetInput());
  auto kernel = KernelImageType::New();
  kernel->Graft(this->GetKernelImage());
  typename CPUFilterType::Pointer filter = this->MakeCPUFilter();
  filter->SetInput(input);
  filter->SetKernelImage(kernel);
  filter->SetNormalize(this->GetNormalize());
  filter->SetBoundaryCondition(this->GetBoundaryCondition()); // the filter's own copy, alive meanwhile
  filter->SetSizeGreatestPrimeFactor(m_SizeGreatestPrimeFactor);
  filter->SetOutputRegionModeToSame(); // ITK 5.4's deconvolution ignores VALID: the copy crops
  filter->SetNumberOfWorkUnits(this->GetNumberOfWorkUnits());
  auto progress = ProgressAccumulator::New();
  progress->SetMiniPipelineFilter(this);
  progress->RegisterInternalFilter(filter, 1.0f);
  this->RunCPUFilter(filter);
  this->CopyCPUResult(filter->GetOutput());
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::RunCPUFilter(
  CPUFilterType * filter)
{
  filter->Update();
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::CopyCPUResult(
  const InternalImageType * result)
{
  OutputImageType *                      output = this->GetOutput();
  const OutputRegionType                 region = output->GetBufferedRegion();
  typename InternalImageType::RegionType from;
  from.SetIndex(region.GetIndex());
  from.SetSize(region.GetSize());
  ImageRegionConstIterator<InternalImageType> in(result, from);
  ImageRegionIterator<OutputImageType>        out(output, region);
  for (; !in.IsAtEnd(); ++in, ++out)
  {
    out.Set(static_cast<OutputPixelType>(in.Get()));
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::PrintSelf(
  std::ostream & os,
  Indent         indent) const
{
  Superclass::PrintSelf(os, indent);
  os << indent << "Edges: " << m_Edges << std::endl;
  os << indent << "SizeGreatestPrimeFactor: " << m_SizeGreatestPrimeFactor << std::endl;
  os << indent << "Halo: " << m_Halo << std::endl;
  os << indent << "HaloEnergyFraction: " << m_HaloEnergyFraction << std::endl;
  os << indent << "ComputeDevice: " << m_ComputeDevice << std::endl;
  os << indent << "LastComputeDevice: " << m_LastComputeDevice << std::endl;
  os << indent << "GPUDevice: " << m_GPUDevice << std::endl;
  os << indent << "LastGPUDevice: " << m_LastGPUDevice << std::endl;
  os << indent << "FFTBackend: " << m_FFTBackend << std::endl;
  os << indent << "LastFFTBackend: " << m_LastFFTBackend << std::endl;
  os << indent << "GPUMemoryBudget: " << m_GPUMemoryBudget << std::endl;
  os << indent << "NumberOfTiles: " << m_NumberOfTiles << std::endl;
  os << indent << "LastEstimatedGPUMemory: " << m_LastEstimatedGPUMemory << std::endl;
  os << indent << "BoundaryConditionOwned: "
     << (m_BoundaryConditions.Owns(this->GetBoundaryCondition()) ? "true" : "false (the caller's object)") << std::endl;
  os << indent << "ConstantBoundaryConditionConstant: "
     << static_cast<typename NumericTraits<InputPixelType>::PrintType>(m_BoundaryConditions.GetConstant()) << std::endl;
  os << indent << "GPU engine: " << (m_Engine ? "created" : "not created") << std::endl;
}
} // namespace itk

#endif
