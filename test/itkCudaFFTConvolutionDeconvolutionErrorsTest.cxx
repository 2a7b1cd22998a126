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

// The deconvolution filters' errors and edge cases, on the CPU path ("cpu") or the GPU ("gpu"):
// bad values get a clear itk::ExceptionObject naming a voxel (NaN, infinity, a negative input for
// Richardson-Lucy, a kernel that cannot be normalized), FULL is refused, options only the GPU
// implements are refused on the CPU, zero iterations return the input (the initial estimate), a
// kernel larger than the image works (SAME) or gives an empty output (VALID). StopIteration as
// ITK's: set before an update it stops before the first iteration (and stays set), set by an
// IterationEvent observer it stops there, where GetCurrentEstimate() equals ITK's result after as
// many iterations. And each class's basic object methods.

#include "itkCudaInverseDeconvolutionImageFilter.h"
#include "itkCudaLandweberDeconvolutionImageFilter.h"
#include "itkCudaProjectedLandweberDeconvolutionImageFilter.h"
#include "itkCudaRichardsonLucyDeconvolutionImageFilter.h"
#include "itkCudaTikhonovDeconvolutionImageFilter.h"
#include "itkCudaWienerDeconvolutionImageFilter.h"
#include "itkImageRegionIteratorWithIndex.h"
#include "itkRichardsonLucyDeconvolutionImageFilter.h"
#include "itkTestingMacros.h"

#include <cmath>

#include "CudaFFTConvolutionDeconvolutionTestUtilities.h"

namespace
{
using ImageType = itk::Image<float, 2>;
using RichardsonLucyType = itk::CudaRichardsonLucyDeconvolutionImageFilter<ImageType>;
using LandweberType = itk::CudaLandweberDeconvolutionImageFilter<ImageType>;
using ProjectedLandweberType = itk::CudaProjectedLandweberDeconvolutionImageFilter<ImageType>;
using InverseType = itk::CudaInverseDeconvolutionImageFilter<ImageType>;
using TikhonovType = itk::CudaTikhonovDeconvolutionImageFilter<ImageType>;
using WienerType = itk::CudaWienerDeconvolutionImageFilter<ImageType>;
using ComputeDevice = itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice;
using Edges = itk::CudaDeconvolutionImageFilterEnums::Edges;
using CudaFFTConvolutionTest::Expect;

/** Runs \a action and expects an ExceptionObject whose description contains \a text. */
void
ExpectFailure(const std::string & what, const std::function<void()> & action, const std::string & text)
{
  try
  {
    action();
    Expect(false, what + ": no exception");
  }
  catch (const itk::ExceptionObject & error)
  {
    const std::string description = error.GetDescription();
    Expect(description.find(text) != std::string::npos, what + ": \"" + description + "\"");
  }
}

template <typename TFilter>
typename TFilter::Pointer
MakeFilter(ImageType * input, ImageType * kernel, ComputeDevice device)
{
  auto filter = TFilter::New();
  filter->SetInput(input);
  filter->SetKernelImage(kernel);
  filter->SetComputeDevice(device);
  return filter;
}

int
ExerciseObjects()
{
  auto richardsonLucy = RichardsonLucyType::New();
  ITK_EXERCISE_BASIC_OBJECT_METHODS(
    richardsonLucy, CudaRichardsonLucyDeconvolutionImageFilter, CudaIterativeDeconvolutionImageFilter);
  ITK_TEST_SET_GET_VALUE(1u, richardsonLucy->GetNumberOfIterations());
  ITK_TEST_SET_GET_VALUE(0.0, richardsonLucy->GetBackground());
  ITK_TEST_SET_GET_VALUE(0.0, richardsonLucy->GetTotalVariation());
  ITK_TEST_SET_GET_BOOLEAN(richardsonLucy, Acceleration, true);
  ITK_TEST_SET_GET_BOOLEAN(richardsonLucy, ComputeDivergence, true);
  ITK_TEST_SET_GET_VALUE(Edges::BoundaryCondition, richardsonLucy->GetEdges());
  ITK_TEST_SET_GET_VALUE(ComputeDevice::AUTOMATIC, richardsonLucy->GetComputeDevice());
  // ITK's forward FFT's greatest prime factor: 13 with FFTW.
  itk::SizeValueType expectedPrime =
    itk::RealToHalfHermitianForwardFFTImageFilter<itk::Image<float, 2>>::New()->GetSizeGreatestPrimeFactor();
  ITK_TEST_SET_GET_VALUE(expectedPrime, richardsonLucy->GetSizeGreatestPrimeFactor());
  richardsonLucy->SetTotalVariation(-1);
  ITK_TEST_SET_GET_VALUE(0.0, richardsonLucy->GetTotalVariation()); // clamped: off
  auto landweber = LandweberType::New();
  ITK_EXERCISE_BASIC_OBJECT_METHODS(
    landweber, CudaLandweberDeconvolutionImageFilter, CudaIterativeDeconvolutionImageFilter);
  ITK_TEST_SET_GET_VALUE(0.1, landweber->GetAlpha());
  auto projected = ProjectedLandweberType::New();
  ITK_EXERCISE_BASIC_OBJECT_METHODS(
    projected, CudaProjectedLandweberDeconvolutionImageFilter, CudaLandweberDeconvolutionImageFilter);
  auto inverse = InverseType::New();
  ITK_EXERCISE_BASIC_OBJECT_METHODS(inverse, CudaInverseDeconvolutionImageFilter, CudaDeconvolutionImageFilterBase);
  ITK_TEST_SET_GET_VALUE(1.0e-4, inverse->GetKernelZeroMagnitudeThreshold());
  auto tikhonov = TikhonovType::New();
  ITK_EXERCISE_BASIC_OBJECT_METHODS(
    tikhonov, CudaTikhonovDeconvolutionImageFilter, CudaInverseDeconvolutionImageFilter);
  ITK_TEST_SET_GET_VALUE(0.0, tikhonov->GetRegularizationConstant());
  auto wiener = WienerType::New();
  ITK_EXERCISE_BASIC_OBJECT_METHODS(wiener, CudaWienerDeconvolutionImageFilter, CudaInverseDeconvolutionImageFilter);
  ITK_TEST_SET_GET_VALUE(0.0, wiener->GetNoiseVariance());
  std::ostringstream edges;
  edges << Edges::NonCirculant;
  Expect(edges.str() == "itk::CudaDeconvolutionImageFilterEnums::Edges::NonCirculant", "Edges operator<<");
  return EXIT_SUCCESS;
}

void
CheckBadValues(ImageType * input, ImageType * kernel, ComputeDevice device)
{
  auto nan = CudaFFTConvolutionTest::Crop(input, input->GetBufferedRegion());
  nan->SetPixel(ImageType::IndexType{ { 5, 7 } }, std::numeric_limits<float>::quiet_NaN());
  ExpectFailure(
    "NaN input", [&] { MakeFilter<TikhonovType>(nan, kernel, device)->Update(); }, "at index [5, 7]");
  auto infinite = CudaFFTConvolutionTest::Crop(kernel, kernel->GetBufferedRegion());
  infinite->SetPixel(ImageType::IndexType{ { 2, 1 } }, std::numeric_limits<float>::infinity());
  ExpectFailure(
    "infinite kernel",
    [&] { MakeFilter<LandweberType>(input, infinite, device)->Update(); },
    "the kernel image is inf at index [2, 1]");
  auto negative = CudaFFTConvolutionTest::Crop(input, input->GetBufferedRegion());
  negative->SetPixel(ImageType::IndexType{ { 9, 3 } }, -0.5f);
  ExpectFailure(
    "negative input for Richardson-Lucy",
    [&] { MakeFilter<RichardsonLucyType>(negative, kernel, device)->Update(); },
    "non-negative input (it models counts), but the input is -0.5 at index [9, 3]");
  CudaFFTConvolutionTest::ExpectNoException("a negative input for Landweber",
                                            [&] { MakeFilter<LandweberType>(negative, kernel, device)->Update(); });

  auto zeroSum = CudaFFTConvolutionTest::MakeImage<ImageType>(ImageType::IndexType{}, ImageType::SizeType{ { 2, 1 } });
  zeroSum->GetBufferPointer()[0] = 1;
  zeroSum->GetBufferPointer()[1] = -1;
  ExpectFailure(
    "zero-sum kernel with Normalize",
    [&] {
      auto filter = MakeFilter<WienerType>(input, zeroSum, device);
      filter->NormalizeOn();
      filter->Update();
    },
    "cannot be normalized");
  ExpectFailure(
    "zero-sum kernel for Richardson-Lucy",
    [&] { MakeFilter<RichardsonLucyType>(input, zeroSum, device)->Update(); },
    "a kernel with a positive sum, but the kernel sums to 0");
  auto empty = CudaFFTConvolutionTest::MakeImage<ImageType>(ImageType::IndexType{}, ImageType::SizeType{ { 3, 0 } });
  ExpectFailure(
    "kernel with a zero-length axis",
    [&] { MakeFilter<InverseType>(input, empty, device)->Update(); },
    "zero-length axis");
}

void
CheckSettingsRefused(ImageType * input, ImageType * kernel, ComputeDevice device, bool gpu)
{
  ExpectFailure(
    "FULL through the module's enum",
    [&] { RichardsonLucyType::New()->SetOutputRegion(itk::CudaFFTConvolutionImageFilterEnums::OutputRegion::FULL); },
    "not available for deconvolution");
  ExpectFailure(
    "FULL as ITK's enum value 2 (Python)",
    [&] {
      InverseType::New()->SetOutputRegionMode(
        static_cast<itk::ConvolutionImageFilterBaseEnums::ConvolutionImageFilterOutputRegion>(2));
    },
    "not available for deconvolution");
  ExpectFailure(
    "an unknown boundary name",
    [&] { LandweberType::New()->SetBoundaryCondition(std::string("mirror")); },
    "unknown boundary condition \"mirror\"");

  // On the CPU path the options ITK lacks are refused, whatever the machine has.
  const auto onCPU = [&](const std::string & what, const std::function<void(RichardsonLucyType *)> & set) {
    ExpectFailure(
      what + " on the CPU",
      [&] {
        auto filter = MakeFilter<RichardsonLucyType>(input, kernel, ComputeDevice::CPU);
        set(filter);
        filter->Update();
      },
      "needs a CUDA device");
  };
  onCPU("NonCirculant edges", [](RichardsonLucyType * f) { f->SetEdges(Edges::NonCirculant); });
  onCPU("acceleration", [](RichardsonLucyType * f) { f->AccelerationOn(); });
  onCPU("total variation", [](RichardsonLucyType * f) { f->SetTotalVariation(0.01); });
  onCPU("background", [](RichardsonLucyType * f) { f->SetBackground(1); });
  onCPU("relative change tolerance", [](RichardsonLucyType * f) { f->SetRelativeChangeTolerance(1e-3); });
  onCPU("divergence tolerance", [](RichardsonLucyType * f) { f->SetDivergenceTolerance(1e-3); });
  onCPU("divergence history", [](RichardsonLucyType * f) { f->ComputeDivergenceOn(); });
  if (gpu)
  {
    ExpectFailure(
      "acceleration for Landweber on the GPU",
      [&] {
        auto filter = MakeFilter<LandweberType>(input, kernel, device);
        filter->AccelerationOn();
        filter->Update();
      },
      "Richardson-Lucy only");
  }
  else if (!itk::CudaFFTConvolutionEngine::DeviceAvailable())
  {
    ExpectFailure(
      "ComputeDevice GPU without a device",
      [&] { MakeFilter<InverseType>(input, kernel, ComputeDevice::GPU)->Update(); },
      "the GPU was required");
  }
}

void
CheckZeroIterations(ImageType * input, ImageType * kernel, ComputeDevice device)
{
  // Zero iterations give the initial estimate, which is the input (BoundaryCondition edges).
  for (const auto normalize : { false, true })
  {
    auto filter = MakeFilter<RichardsonLucyType>(input, kernel, device);
    filter->SetNumberOfIterations(0);
    filter->SetNormalize(normalize);
    unsigned int events = 0;
    filter->AddObserver(itk::IterationEvent(), [&events](const itk::EventObject &) { ++events; });
    CudaFFTConvolutionTest::ExpectNoException("update", [&] { filter->Update(); });
    const double difference = CudaFFTConvolutionTest::MaximumDifference(filter->GetOutput(), input);
    Expect(difference == 0,
           "zero iterations return the input (Normalize " + std::to_string(normalize) + "): max difference " +
             CudaFFTConvolutionTest::ToText(difference));
    Expect(filter->GetIteration() == 0 && events == 0, "zero iterations: no IterationEvent, GetIteration() is 0");
  }
  auto landweber = MakeFilter<ProjectedLandweberType>(input, kernel, device);
  landweber->SetNumberOfIterations(0);
  CudaFFTConvolutionTest::ExpectNoException("update", [&] { landweber->Update(); });
  const double difference = CudaFFTConvolutionTest::MaximumDifference(landweber->GetOutput(), input);
  Expect(difference == 0,
         "zero projected Landweber iterations return the input: max difference " +
           CudaFFTConvolutionTest::ToText(difference));
}

void
CheckStopIteration(ComputeDevice device)
{
  // A size for which ITK 5.2 pads as the GPU does (see the parity test).
  std::mt19937 generator(7);
  auto         input = CudaFFTConvolutionTest::RandomImage<ImageType>(
    ImageType::IndexType{ { 3, -2 } }, ImageType::SizeType{ { 43, 34 } }, generator, 0, 1);
  auto kernel = CudaFFTConvolutionTest::MakeKernel<ImageType>(ImageType::SizeType{ { 5, 5 } }, 0, 1.2, 1.25);
  const unsigned int stopAt = 3;
  auto               filter = MakeFilter<RichardsonLucyType>(input, kernel, device);
  filter->SetNumberOfIterations(8);
  ImageType::Pointer estimate;
  unsigned int       events = 0;
  filter->AddObserver(itk::IterationEvent(), [&](const itk::EventObject &) {
    ++events;
    if (filter->GetIteration() == stopAt)
    {
      const auto * current = filter->GetCurrentEstimate();
      estimate = CudaFFTConvolutionTest::Crop(current, current->GetBufferedRegion());
      filter->SetStopIteration(true);
    }
  });
  auto reference = itk::RichardsonLucyDeconvolutionImageFilter<ImageType, ImageType, ImageType, float>::New();
  reference->SetInput(input);
  reference->SetKernelImage(kernel);
  reference->SetNumberOfIterations(stopAt);
  if (!CudaFFTConvolutionTest::ExpectNoException("StopIteration", [&] {
        filter->Update();
        reference->Update();
      }))
  {
    return;
  }
  Expect(filter->GetIteration() == stopAt && events == stopAt + 1 && filter->GetCurrentEstimate() == nullptr,
         "an observer's StopIteration stops after " + std::to_string(filter->GetIteration()) + " iterations, " +
           std::to_string(events) + " events");
  const double toITK =
    estimate.IsNull() ? 1.0 : CudaFFTConvolutionTest::ScaledDifference(estimate.GetPointer(), reference->GetOutput());
  const double output = CudaFFTConvolutionTest::ScaledDifference(filter->GetOutput(), reference->GetOutput());
  Expect(toITK <= 1e-4 && output <= 1e-4,
         "GetCurrentEstimate() in the observer and the output vs ITK after " + std::to_string(stopAt) +
           " iterations: " + CudaFFTConvolutionTest::ToText(toITK) + ", " + CudaFFTConvolutionTest::ToText(output));
  // Like ITK, StopIteration stays set: the next update stops before its first iteration.
  events = 0;
  filter->Modified();
  CudaFFTConvolutionTest::ExpectNoException("update", [&] { filter->Update(); });
  const double unchanged = CudaFFTConvolutionTest::MaximumDifference(filter->GetOutput(), input.GetPointer());
  Expect(filter->GetIteration() == 0 && events == 1 && unchanged == 0,
         "StopIteration left set: the next update does 0 iterations (" + std::to_string(events) +
           " event) and returns the input");
}

void
CheckLargeKernel(ComputeDevice device)
{
  std::mt19937 generator(11);
  auto         small = CudaFFTConvolutionTest::RandomImage<ImageType>(
    ImageType::IndexType{ { 2, -3 } }, ImageType::SizeType{ { 9, 7 } }, generator, 0.1, 1);
  auto large = CudaFFTConvolutionTest::MakeKernel<ImageType>(ImageType::SizeType{ { 13, 12 } }, 0.5, 3, 1);
  auto filter = MakeFilter<RichardsonLucyType>(small, large, device);
  filter->SetNumberOfIterations(3);
  CudaFFTConvolutionTest::ExpectNoException("update", [&] { filter->Update(); });
  Expect(filter->GetOutput()->GetBufferedRegion() == small->GetLargestPossibleRegion(),
         "a kernel larger than the image: SAME has the input's region");
  const double magnitude = CudaFFTConvolutionTest::MaximumMagnitude(filter->GetOutput());
  Expect(std::isfinite(magnitude) && magnitude > 0, "a kernel larger than the image: finite values");
  auto valid = MakeFilter<WienerType>(small, large, device);
  valid->SetOutputRegionModeToValid();
  CudaFFTConvolutionTest::ExpectNoException("update", [&] { valid->Update(); });
  Expect(valid->GetOutput()->GetLargestPossibleRegion().GetNumberOfPixels() == 0,
         "a kernel larger than the image: VALID is empty");
}
} // namespace

/** The halo from the kernel's energy in the filter's plan (the planner on its own is tested in
 * itkCudaDeconvolutionPlannerTest): smaller than 2K for a Gaussian well inside its array, 2K with
 * a fraction of 0, an explicit halo kept, less FFT work under the same budget; a fraction of 1 is
 * refused. */
void
CheckEnergyHalo()
{
  auto input = CudaFFTConvolutionTest::MakeImage<ImageType>(ImageType::IndexType{ { 0, 0 } },
                                                            ImageType::SizeType{ { 2048, 2048 } });
  input->FillBuffer(1.0f);
  auto kernel =
    CudaFFTConvolutionTest::MakeImage<ImageType>(ImageType::IndexType{ { 0, 0 } }, ImageType::SizeType{ { 31, 31 } });
  for (itk::ImageRegionIteratorWithIndex<ImageType> it(kernel, kernel->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    const double x = it.GetIndex()[0] - 15.0;
    const double y = it.GetIndex()[1] - 15.0;
    it.Set(static_cast<float>(std::exp(-(x * x + y * y) / (2 * 1.5 * 1.5))));
  }
  auto filter = MakeFilter<RichardsonLucyType>(input, kernel, ComputeDevice::AUTOMATIC);
  filter->SetNumberOfIterations(20);
  filter->SetGPUMemoryBudget(filter->EstimateGPUMemory() / 2);
  const auto energy = filter->MakeGPUPlan();
  filter->SetHaloEnergyFraction(0);
  const auto twice = filter->MakeGPUPlan();
  filter->SetHalo(ImageType::SizeType{ { 5, 7 } });
  const auto given = filter->MakeGPUPlan();
  std::cout << "energy halo " << energy.halo[0] << "x" << energy.halo[1] << ", " << energy.tiles.size()
            << " tiles; 2K: " << twice.tiles.size() << " tiles" << std::endl;
  Expect(energy.halo[0] > 0 && energy.halo[0] < 62 && energy.halo[1] == energy.halo[0], "the energy halo is below 2K");
  Expect(twice.halo[0] == 62 && twice.halo[1] == 62, "fraction 0: 2K");
  Expect(given.halo[0] == 5 && given.halo[1] == 7, "an explicit halo is kept");
  // Fewer tiles or smaller grids (which of the two depends on the ITK padding the plan follows):
  // less FFT work under the same budget either way.
  const auto work = [](const auto & plan) {
    double voxels = static_cast<double>(plan.tiles.size());
    for (unsigned int axis = 0; axis < 2; ++axis)
      voxels *= static_cast<double>(plan.gridSize[axis]);
    return voxels;
  };
  std::cout << "grid voxels over all tiles: energy halo " << work(energy) << ", 2K " << work(twice) << std::endl;
  Expect(energy.tiles.size() > 1 && energy.tiles.size() <= twice.tiles.size() && work(energy) < work(twice),
         "less FFT work (tiles times grid) with the energy halo");
  filter->SetHaloEnergyFraction(1.0);
  ExpectFailure(
    "a halo energy fraction of 1", [&] { filter->EstimateGPUMemory(); }, "energy fraction");
}

int
itkCudaFFTConvolutionDeconvolutionErrorsTest(int argc, char * argv[])
{
  bool       skip = false;
  const bool gpu = CudaFFTConvolutionTest::WantsGPU(argc, argv, skip);
  if (skip)
  {
    return CudaFFTConvolutionTest::SkipReturnCode;
  }
  const auto device = gpu ? ComputeDevice::GPU : ComputeDevice::CPU;
  if (ExerciseObjects() != EXIT_SUCCESS)
  {
    return EXIT_FAILURE;
  }
  std::mt19937 generator(5);
  auto         input = CudaFFTConvolutionTest::RandomImage<ImageType>(
    ImageType::IndexType{ { 0, 0 } }, ImageType::SizeType{ { 24, 18 } }, generator, 0.1, 1);
  auto kernel = CudaFFTConvolutionTest::MakeKernel<ImageType>(ImageType::SizeType{ { 5, 3 } }, 0.5, 1, 1);
  CheckBadValues(input, kernel, device);
  CheckSettingsRefused(input, kernel, device, gpu);
  CheckZeroIterations(input, kernel, device);
  CheckStopIteration(device);
  CheckLargeKernel(device);
  CheckEnergyHalo();
  std::cout << (CudaFFTConvolutionTest::Failures() == 0 ? "all checks passed" : "FAILED checks: ")
            << (CudaFFTConvolutionTest::Failures() == 0 ? "" : std::to_string(CudaFFTConvolutionTest::Failures()))
            << std::endl;
  return CudaFFTConvolutionTest::Failures() == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
