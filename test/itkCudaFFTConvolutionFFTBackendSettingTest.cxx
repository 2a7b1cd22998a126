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

// The filters' FFT backend setting (SetFFTBackend, GetLastFFTBackend), for the convolution filter
// and the deconvolution filters' base.
// - "cpu": the names' one reading (case ignored; an unknown name refused naming the choices, the
//   setting unchanged), the default from CUDAFFTCONVOLUTION_FFT_BACKEND (cuFFT when unset),
//   operator<<, PrintSelf, and that an update on the CPU reports no backend.
// - "gpu": the convolution (float and double) and Richardson-Lucy (plain and non-circulant) with
//   cuFFT, VkFFT and auto on one filter, switched between updates: equal to ITK's convolution
//   and to each other within float tolerance, each reporting the backend that ran
//   (cuFFT in place of VkFFT only where the VkFFT plugin cannot be loaded).

#include "itkCudaFFTConvolutionFFT.h"
#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkCudaRichardsonLucyDeconvolutionImageFilter.h"
#include "itkTestingMacros.h"

#include "CudaFFTConvolutionTestUtilities.h"

#include <cstdlib>
#include <sstream>

namespace
{
using ImageType = itk::Image<float, 3>;
using Enums = itk::CudaFFTConvolutionImageFilterEnums;
using FFTBackend = Enums::FFTBackend;
using ComputeDevice = Enums::ComputeDevice;
using CudaFFTConvolutionTest::Expect;
using CudaFFTConvolutionTest::ToText;

constexpr const char * Variable = "CUDAFFTCONVOLUTION_FFT_BACKEND";

std::string
Printed(const itk::LightObject * object)
{
  std::ostringstream text;
  object->Print(text);
  return text.str();
}

void
CheckNames()
{
  for (const FFTBackend backend : { FFTBackend::AUTO, FFTBackend::CUFFT, FFTBackend::VKFFT })
  {
    const std::string name = Enums::FFTBackendName(backend);
    Expect(Enums::FFTBackendFromName(name) == backend, "the name " + name + " reads back");
    std::ostringstream printed;
    printed << backend;
    Expect(printed.str().find("itk::CudaFFTConvolutionImageFilterEnums::FFTBackend::") == 0, printed.str());
  }
  Expect(std::string(Enums::FFTBackendName(FFTBackend::CUFFT)) == "cufft" &&
           std::string(Enums::FFTBackendName(FFTBackend::VKFFT)) == "vkfft" &&
           std::string(Enums::FFTBackendName(FFTBackend::AUTO)) == "auto",
         "the names are auto, cufft and vkfft");
  Expect(Enums::FFTBackendFromName("VkFFT") == FFTBackend::VKFFT &&
           Enums::FFTBackendFromName("CUFFT") == FFTBackend::CUFFT,
         "case is ignored");
  std::ostringstream invalid;
  invalid << static_cast<FFTBackend>(7);
  Expect(invalid.str().find("INVALID") != std::string::npos, "an invalid value prints as invalid");
}

/** The setting on one filter type: default, names, refusal, PrintSelf. */
template <typename TFilter>
void
CheckSetting(const std::string & what)
{
  unsetenv(Variable);
  Expect(TFilter::New()->GetFFTBackend() == FFTBackend::CUFFT, what + ": cuFFT by default");
  setenv(Variable, "VkFFT", 1);
  Expect(TFilter::New()->GetFFTBackend() == FFTBackend::VKFFT, what + ": the environment's VkFFT by default");
  setenv(Variable, "auto", 1);
  Expect(TFilter::New()->GetFFTBackend() == FFTBackend::AUTO, what + ": the environment's auto by default");
  unsetenv(Variable);

  auto filter = TFilter::New();
  Expect(filter->GetLastFFTBackend() == FFTBackend::AUTO, what + ": no backend before an update");
  const auto before = filter->GetMTime();
  filter->SetFFTBackend("vkfft");
  Expect(filter->GetFFTBackend() == FFTBackend::VKFFT && filter->GetMTime() > before, what + ": set by name, Modified");
  filter->SetFFTBackend(FFTBackend::AUTO);
  Expect(filter->GetFFTBackend() == FFTBackend::AUTO, what + ": set by value");
  filter->SetFFTBackend("CuFFT");
  Expect(filter->GetFFTBackend() == FFTBackend::CUFFT, what + ": names ignore case");
  for (const std::string bad : { "fftw", "", "cufft13", " vkfft" })
  {
    bool refused = false;
    try
    {
      filter->SetFFTBackend(bad);
    }
    catch (const itk::ExceptionObject & error)
    {
      const std::string message = error.GetDescription();
      refused =
        message.find("'" + bad + "'") != std::string::npos && message.find("auto, cufft or vkfft") != std::string::npos;
      if (!refused)
      {
        std::cout << "  the message was: " << message << std::endl;
      }
    }
    Expect(refused && filter->GetFFTBackend() == FFTBackend::CUFFT,
           what + ": '" + bad + "' refused naming it and the choices, the setting kept");
  }
  filter->SetFFTBackend(FFTBackend::VKFFT);
  const std::string printed = Printed(filter);
  Expect(printed.find("FFTBackend: itk::CudaFFTConvolutionImageFilterEnums::FFTBackend::VKFFT") != std::string::npos &&
           printed.find("LastFFTBackend: itk::CudaFFTConvolutionImageFilterEnums::FFTBackend::AUTO") !=
             std::string::npos,
         what + ": PrintSelf shows the backend and the last one");
}

/** An update on the CPU with VkFFT asked for: ITK's FFTs run, no GPU backend is reported. */
void
CheckCPUUpdate(ImageType * input, ImageType * kernel)
{
  auto convolution = itk::CudaFFTConvolutionImageFilter<ImageType>::New();
  convolution->SetInput(input);
  convolution->SetKernelImage(kernel);
  convolution->SetComputeDevice(ComputeDevice::CPU);
  convolution->SetFFTBackend(FFTBackend::VKFFT);
  convolution->Update();
  const double error = CudaFFTConvolutionTest::ScaledDifference(
    convolution->GetOutput(), CudaFFTConvolutionTest::ITKFFTConvolution(input, kernel).GetPointer());
  Expect(error < 1e-5 && convolution->GetLastFFTBackend() == FFTBackend::AUTO,
         "convolution on the CPU: ITK's result (" + ToText(error) + "), no GPU backend reported");
  auto deconvolution = itk::CudaRichardsonLucyDeconvolutionImageFilter<ImageType>::New();
  deconvolution->SetInput(input);
  deconvolution->SetKernelImage(kernel);
  deconvolution->SetComputeDevice(ComputeDevice::CPU);
  deconvolution->SetFFTBackend("vkfft");
  deconvolution->SetNumberOfIterations(2);
  deconvolution->Update();
  Expect(deconvolution->GetLastComputeDevice() == ComputeDevice::CPU &&
           deconvolution->GetLastFFTBackend() == FFTBackend::AUTO,
         "Richardson-Lucy on the CPU: no GPU backend reported");
}

/** What a GPU update with \a asked should report. */
bool
ReportedAsExpected(FFTBackend asked, FFTBackend used)
{
  const bool vkfft = itk::CudaFFTConvolutionFFT::VkFFTAvailable();
  switch (asked)
  {
    case FFTBackend::CUFFT:
      return used == FFTBackend::CUFFT;
    case FFTBackend::VKFFT:
      return used == (vkfft ? FFTBackend::VKFFT : FFTBackend::CUFFT);
    case FFTBackend::AUTO:
      return used == FFTBackend::CUFFT || (vkfft && used == FFTBackend::VKFFT);
  }
  return false;
}

template <typename TPrecision>
void
CheckGPUConvolution(ImageType * input, ImageType * kernel, double tolerance)
{
  const std::string precision = sizeof(TPrecision) == 4 ? "float" : "double";
  const auto        reference = CudaFFTConvolutionTest::ITKFFTConvolution(input, kernel);
  auto              filter = itk::CudaFFTConvolutionImageFilter<ImageType, ImageType, ImageType, TPrecision>::New();
  filter->SetInput(input);
  filter->SetKernelImage(kernel);
  filter->SetComputeDevice(ComputeDevice::GPU);
  filter->SetFFTBackend(FFTBackend::CUFFT);
  filter->Update();
  const ImageType::Pointer cufft = filter->GetOutput();
  cufft->DisconnectPipeline(); // the filter makes a new output for the updates below
  for (const FFTBackend asked : { FFTBackend::CUFFT, FFTBackend::VKFFT, FFTBackend::AUTO, FFTBackend::CUFFT })
  {
    filter->SetFFTBackend(asked);
    filter->Update();
    const double toReference = CudaFFTConvolutionTest::ScaledDifference(filter->GetOutput(), reference.GetPointer());
    const double toCuFFT = CudaFFTConvolutionTest::ScaledDifference(filter->GetOutput(), cufft.GetPointer());
    std::ostringstream what;
    what << "convolution, " << precision << ", " << Enums::FFTBackendName(asked) << " asked, "
         << Enums::FFTBackendName(filter->GetLastFFTBackend()) << " reported: to ITK's " << ToText(toReference)
         << ", to cuFFT's " << ToText(toCuFFT);
    Expect(filter->GetLastComputeDevice() == ComputeDevice::GPU &&
             ReportedAsExpected(asked, filter->GetLastFFTBackend()) && toReference < 1e-5 && toCuFFT < tolerance,
           what.str());
  }
}

void
CheckGPURichardsonLucy(ImageType * input, ImageType * kernel, itk::CudaDeconvolutionImageFilterEnums::Edges edges)
{
  using FilterType = itk::CudaRichardsonLucyDeconvolutionImageFilter<ImageType>;
  auto filter = FilterType::New();
  filter->SetInput(input);
  filter->SetKernelImage(kernel);
  filter->SetNormalize(true);
  filter->SetEdges(edges);
  filter->SetNumberOfIterations(8);
  filter->SetComputeDevice(ComputeDevice::GPU);
  filter->SetFFTBackend(FFTBackend::CUFFT);
  filter->Update();
  const ImageType::Pointer cufft = filter->GetOutput();
  cufft->DisconnectPipeline(); // the filter makes a new output for the updates below
  for (const FFTBackend asked : { FFTBackend::VKFFT, FFTBackend::AUTO })
  {
    filter->SetFFTBackend(asked);
    filter->Update();
    const double       toCuFFT = CudaFFTConvolutionTest::ScaledDifference(filter->GetOutput(), cufft.GetPointer());
    std::ostringstream what;
    what << "Richardson-Lucy, "
         << (edges == itk::CudaDeconvolutionImageFilterEnums::Edges::NonCirculant ? "non-circulant" : "boundary")
         << ", " << Enums::FFTBackendName(asked) << " asked, " << Enums::FFTBackendName(filter->GetLastFFTBackend())
         << " reported: to cuFFT's " << ToText(toCuFFT);
    Expect(ReportedAsExpected(asked, filter->GetLastFFTBackend()) && toCuFFT < 1e-4, what.str());
  }
}
/** The static estimate plans with the backend it is given: each plan's work area is that
 * backend's exact one for the plan's FFT size (the run prints both: where they differ, a
 * backend ignored would fail here). */
void
CheckEstimateBackend()
{
  using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType>;
  using Engine = itk::CudaFFTConvolutionEngine;
  const ImageType::SizeType image{ { 200, 180, 60 } };
  const ImageType::SizeType kernel{ { 9, 9, 7 } };
  for (const FFTBackend backend : { FFTBackend::CUFFT, FFTBackend::VKFFT })
  {
    const auto plan = FilterType::MakeGPUPlan(
      image, kernel, FilterType::OutputRegionEnum::SAME, 0, FilterType::BoundaryEnum::ZERO_FLUX_NEUMANN, backend);
    const auto expected =
      Engine::WorkAreaBytes(plan.fftSize, 3, sizeof(float), itk::CudaFFTConvolutionFilterSupport::ToEngine(backend));
    const auto estimate = FilterType::EstimateGPUMemory(
      image, kernel, FilterType::OutputRegionEnum::SAME, 0, FilterType::BoundaryEnum::ZERO_FLUX_NEUMANN, backend);
    std::cout << Enums::FFTBackendName(backend) << ": work area " << plan.memory.workArea << " bytes, estimate "
              << estimate << std::endl;
    Expect(plan.memory.workArea == expected && estimate == plan.memory.Peak(),
           std::string("the static estimate plans with ") + Enums::FFTBackendName(backend) + "'s work area");
  }
}

} // namespace

int
itkCudaFFTConvolutionFFTBackendSettingTest(int argc, char * argv[])
{
  bool       skip = false;
  const bool gpu = CudaFFTConvolutionTest::WantsGPU(argc, argv, skip);
  if (skip)
  {
    return CudaFFTConvolutionTest::SkipReturnCode;
  }
  std::mt19937 generator(18);
  auto         input = CudaFFTConvolutionTest::RandomImage<ImageType>(
    ImageType::IndexType{ { 0, 0, 0 } }, ImageType::SizeType{ { 30, 22, 13 } }, generator, 0.1, 1);
  auto kernel = CudaFFTConvolutionTest::RandomImage<ImageType>(
    ImageType::IndexType{ { 0, 0, 0 } }, ImageType::SizeType{ { 5, 4, 3 } }, generator, 0.05, 1);
  if (!gpu)
  {
    CheckNames();
    CheckSetting<itk::CudaFFTConvolutionImageFilter<ImageType>>("convolution");
    CheckSetting<itk::CudaRichardsonLucyDeconvolutionImageFilter<ImageType>>("Richardson-Lucy");
    CheckCPUUpdate(input, kernel);
  }
  else
  {
    unsetenv(Variable);
    std::string whyNot;
    std::cout << "VkFFT plugin: " << (itk::CudaFFTConvolutionFFT::VkFFTAvailable(&whyNot) ? "loads" : whyNot)
              << std::endl;
    CheckEstimateBackend();
    CheckGPUConvolution<float>(input, kernel, 1e-5);
    CheckGPUConvolution<double>(input, kernel, 1e-6); // computed in double, written to float pixels
    CheckGPURichardsonLucy(input, kernel, itk::CudaDeconvolutionImageFilterEnums::Edges::BoundaryCondition);
    CheckGPURichardsonLucy(input, kernel, itk::CudaDeconvolutionImageFilterEnums::Edges::NonCirculant);
  }
  std::cout << (CudaFFTConvolutionTest::Failures() == 0 ? "all checks passed" : "FAILED checks: ")
            << (CudaFFTConvolutionTest::Failures() == 0 ? "" : std::to_string(CudaFFTConvolutionTest::Failures()))
            << std::endl;
  return CudaFFTConvolutionTest::Failures() == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
