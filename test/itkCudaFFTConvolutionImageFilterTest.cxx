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

// Compares CudaFFTConvolutionImageFilter, on the CPU path ("cpu") or the GPU ("gpu"), with
// independent references: ITK's spatial ConvolutionImageFilter (SAME, VALID), ITK's
// FFTConvolutionImageFilter (SAME, VALID, some cases) and a direct sum in double (all modes),
// for 1D/2D/3D, odd/even/prime sizes, non-zero start indices, kernels larger than the image,
// every boundary condition, Normalize, float and double precision and an integer input type.
// Prints the largest relative error of each group.

#include "itkConvolutionImageFilter.h"
#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkFFTConvolutionImageFilter.h"
#include "itkTestingMacros.h"

#include "CudaFFTConvolutionTestUtilities.h"

#include <iomanip>
#include <map>

namespace
{
using namespace CudaFFTConvolutionTest;
using OutputRegion = itk::CudaFFTConvolutionImageFilterEnums::OutputRegion;

struct Results
{
  std::map<std::string, double> largestError; //!< per group, relative to the output's scale
  int                           cases{ 0 };
  int                           failures{ 0 };

  void
  Record(const std::string & group, double error, double tolerance, const std::string & description)
  {
    auto & largest = largestError[group];
    largest = std::max(largest, error < 0 ? std::numeric_limits<double>::infinity() : error);
    if (!(error >= 0 && error <= tolerance))
    {
      ++failures;
      std::cout << "FAILED " << group << ": " << description << " error " << error << " > " << tolerance << std::endl;
    }
  }
};

const char *
ModeName(OutputRegion mode)
{
  return mode == OutputRegion::SAME ? "SAME" : mode == OutputRegion::VALID ? "VALID" : "FULL";
}

template <unsigned int D, typename TInputPixel, typename TPrecision>
void
RunCase(Results &                                        results,
        bool                                             gpu,
        const typename itk::Image<float, D>::IndexType & index,
        const typename itk::Image<float, D>::SizeType &  size,
        const typename itk::Image<float, D>::SizeType &  kernelSize,
        Boundary                                         boundary,
        double                                           constant,
        bool                                             normalize,
        OutputRegion                                     mode,
        bool                                             compareWithFFTFilter,
        std::mt19937 &                                   generator)
{
  using InputImageType = itk::Image<TInputPixel, D>;
  using KernelImageType = itk::Image<float, D>;
  using OutputImageType = itk::Image<TPrecision, D>;
  using ReferenceImageType = itk::Image<double, D>;
  ++results.cases;

  const bool integral = std::is_integral<TInputPixel>::value;
  auto       input = RandomImage<InputImageType>(index, size, generator, integral ? -60 : -2, integral ? 90 : 3);
  typename KernelImageType::IndexType kernelIndex;
  kernelIndex.Fill(7); // ignored, as by ITK's filters
  auto kernel = RandomImage<KernelImageType>(kernelIndex, kernelSize, generator, 0.05, 1.0);

  using FilterType = itk::CudaFFTConvolutionImageFilter<InputImageType, KernelImageType, OutputImageType, TPrecision>;
  auto filter = FilterType::New();
  filter->SetInput(input);
  filter->SetKernelImage(kernel);
  filter->SetNormalize(normalize);
  auto condition = MakeBoundary<InputImageType>(boundary, constant);
  filter->SetBoundaryCondition(condition.get());
  filter->SetOutputRegion(mode);
  filter->SetComputeDevice(gpu ? itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice::GPU
                               : itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice::CPU);

  std::ostringstream description;
  description << D << "D image " << size << " at " << index << ", kernel " << kernelSize << ", " << ModeName(mode)
              << ", " << ToString(boundary)
              << (boundary == Boundary::Constant ? "(" + std::to_string(constant) + ")" : "")
              << (normalize ? ", normalized" : "") << ", " << (sizeof(TPrecision) == 4 ? "float" : "double")
              << (integral ? ", short input" : "");

  // The expected region, from the geometry table (independent of the planner).
  typename OutputImageType::RegionType expected;
  for (unsigned int a = 0; a < D; ++a)
  {
    const long n = static_cast<long>(size[a]);
    const long k = static_cast<long>(kernelSize[a]);
    const long c = k / 2;
    long       start = index[a];
    long       length = n;
    if (mode == OutputRegion::VALID)
    {
      start = index[a] + (k - 1 - c);
      length = n - k + 1;
      if (n < 2 * c || length <= 0)
      {
        start = (n < 2 * c) ? 0 : start; // ITK's GetValidRegion
        length = 0;
      }
    }
    else if (mode == OutputRegion::FULL)
    {
      start = index[a] - c;
      length = n + k - 1;
    }
    expected.SetIndex(a, start);
    expected.SetSize(a, static_cast<itk::SizeValueType>(length));
  }

  try
  {
    filter->Update();
  }
  catch (const itk::ExceptionObject & error)
  {
    ++results.failures;
    std::cout << "FAILED with an exception: " << description.str() << "\n" << error << std::endl;
    return;
  }
  const auto * output = filter->GetOutput();
  const bool   ranOnGPU = filter->GetLastComputeDevice() == itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice::GPU;
  if (output->GetLargestPossibleRegion() != expected || ranOnGPU != gpu)
  {
    ++results.failures;
    std::cout << "FAILED region or device: " << description.str() << ": region " << output->GetLargestPossibleRegion()
              << " expected " << expected << ", ran on " << filter->GetLastComputeDevice() << std::endl;
    return;
  }
  if (expected.GetNumberOfPixels() == 0)
  {
    return; // VALID with a kernel that does not fit: an empty output, as ITK's GetValidRegion says
  }

  // Scale of the output values: errors are judged relative to it.
  double kernelSum = 0;
  double kernelMagnitude = 0;
  for (itk::ImageRegionConstIterator<KernelImageType> it(kernel, kernel->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    kernelSum += it.Get();
    kernelMagnitude += std::abs(it.Get());
  }
  const double scale = std::max(MaximumMagnitude(input.GetPointer()), std::abs(constant)) * kernelMagnitude /
                       (normalize ? std::abs(kernelSum) : 1.0);
  const double      tolerance = sizeof(TPrecision) == 4 ? 2e-6 : 1e-12;
  const std::string device = gpu ? "GPU" : "CPU";
  const std::string precision = sizeof(TPrecision) == 4 ? "float" : "double";
  const std::string group = device + " " + std::to_string(D) + "D " + ModeName(mode) + " " + precision;

  auto direct = DirectConvolution<InputImageType, KernelImageType, ReferenceImageType>(
    input.GetPointer(), kernel.GetPointer(), expected, boundary, constant, normalize);
  results.Record(
    group + " vs direct sum", MaximumDifference(output, direct.GetPointer()) / scale, tolerance, description.str());

  if (mode == OutputRegion::FULL)
  {
    return;
  }
  // ITK's own filters on a double copy of the input, with the same boundary condition.
  using DoubleInputType = itk::Image<double, D>;
  auto copy = MakeImage<DoubleInputType>(index, size);
  std::copy(input->GetBufferPointer(),
            input->GetBufferPointer() + input->GetBufferedRegion().GetNumberOfPixels(),
            copy->GetBufferPointer());
  auto       itkCondition = MakeBoundary<DoubleInputType>(boundary, constant);
  const auto itkMode = mode == OutputRegion::VALID
                         ? itk::ConvolutionImageFilterBaseEnums::ConvolutionImageFilterOutputRegion::VALID
                         : itk::ConvolutionImageFilterBaseEnums::ConvolutionImageFilterOutputRegion::SAME;
  using SpatialType = itk::ConvolutionImageFilter<DoubleInputType, KernelImageType, ReferenceImageType>;
  auto spatial = SpatialType::New();
  spatial->SetInput(copy);
  spatial->SetKernelImage(kernel);
  spatial->SetNormalize(normalize);
  spatial->SetBoundaryCondition(itkCondition.get());
  spatial->SetOutputRegionMode(itkMode);
  spatial->Update();
  results.Record(group + " vs ITK ConvolutionImageFilter",
                 MaximumDifference(output, spatial->GetOutput()) / scale,
                 tolerance,
                 description.str());
  if (compareWithFFTFilter)
  {
    using ITKFFTType = itk::FFTConvolutionImageFilter<DoubleInputType, KernelImageType, ReferenceImageType, double>;
    auto itkFFT = ITKFFTType::New();
    itkFFT->SetInput(copy);
    itkFFT->SetKernelImage(kernel);
    itkFFT->SetNormalize(normalize);
    itkFFT->SetBoundaryCondition(itkCondition.get());
    itkFFT->SetOutputRegionMode(itkMode);
    itkFFT->Update();
    results.Record(group + " vs ITK FFTConvolutionImageFilter",
                   MaximumDifference(output, itkFFT->GetOutput()) / scale,
                   tolerance,
                   description.str());
  }
}

template <unsigned int D, typename TInputPixel, typename TPrecision>
void
RunAllModesAndBoundaries(Results &                                        results,
                         bool                                             gpu,
                         const typename itk::Image<float, D>::IndexType & index,
                         const typename itk::Image<float, D>::SizeType &  size,
                         const typename itk::Image<float, D>::SizeType &  kernelSize,
                         std::mt19937 &                                   generator)
{
  for (const auto mode : { OutputRegion::SAME, OutputRegion::VALID, OutputRegion::FULL })
  {
    for (const auto boundary : { Boundary::ZeroFluxNeumann, Boundary::Constant, Boundary::Periodic })
    {
      for (const bool normalize : { false, true })
      {
        // A constant of the input pixel type: 1.5 for real inputs, 2 for integers.
        const double constant =
          (boundary == Boundary::Constant && normalize) ? (std::is_integral<TInputPixel>::value ? 2.0 : 1.5) : 0.0;
        RunCase<D, TInputPixel, TPrecision>(
          results, gpu, index, size, kernelSize, boundary, constant, normalize, mode, !normalize, generator);
      }
    }
  }
}
} // namespace

int
itkCudaFFTConvolutionImageFilterTest(int argc, char * argv[])
{
  bool       skip = false;
  const bool gpu = WantsGPU(argc, argv, skip);
  if (skip)
  {
    return SkipReturnCode;
  }
  {
    using ImageType = itk::Image<float, 3>;
    using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType>;
    auto filter = FilterType::New();
    ITK_EXERCISE_BASIC_OBJECT_METHODS(filter, CudaFFTConvolutionImageFilter, ConvolutionImageFilterBase);
    ITK_TEST_SET_GET_BOOLEAN(filter, Normalize, true);
    ITK_TEST_SET_GET_VALUE(filter->GetOutputRegion(), itk::CudaFFTConvolutionImageFilterEnums::OutputRegion::SAME);
    filter->SetOutputRegionModeToFull();
    ITK_TEST_SET_GET_VALUE(filter->GetOutputRegion(), itk::CudaFFTConvolutionImageFilterEnums::OutputRegion::FULL);
    filter->SetOutputRegionModeToValid();
    ITK_TEST_SET_GET_VALUE(filter->GetOutputRegion(), itk::CudaFFTConvolutionImageFilterEnums::OutputRegion::VALID);
    ITK_TEST_SET_GET_VALUE(filter->GetOutputRegionMode(),
                           itk::ConvolutionImageFilterBaseEnums::ConvolutionImageFilterOutputRegion::VALID);
    filter->SetOutputRegionMode(itk::ConvolutionImageFilterBaseEnums::ConvolutionImageFilterOutputRegion::SAME);
    ITK_TEST_SET_GET_VALUE(filter->GetOutputRegion(), itk::CudaFFTConvolutionImageFilterEnums::OutputRegion::SAME);
    filter->SetGPUMemoryBudget(1234);
    ITK_TEST_SET_GET_VALUE(filter->GetGPUMemoryBudget(), 1234u);
  }

  Results      results;
  std::mt19937 generator(20261124);
  using I1 = itk::Image<float, 1>::IndexType;
  using S1 = itk::Image<float, 1>::SizeType;
  using I2 = itk::Image<float, 2>::IndexType;
  using S2 = itk::Image<float, 2>::SizeType;
  using I3 = itk::Image<float, 3>::IndexType;
  using S3 = itk::Image<float, 3>::SizeType;

  // 1D: odd, even, prime, and a kernel longer than the image.
  for (const S1 kernel : { S1{ { 1 } }, S1{ { 4 } }, S1{ { 5 } }, S1{ { 16 } } })
  {
    RunAllModesAndBoundaries<1, float, float>(results, gpu, I1{ { 3 } }, S1{ { 13 } }, kernel, generator);
  }
  // 2D: odd/even/prime sizes, negative and positive start index, a kernel wider than the image.
  for (const S2 kernel : { S2{ { 3, 3 } }, S2{ { 4, 6 } }, S2{ { 5, 2 } }, S2{ { 1, 7 } }, S2{ { 20, 3 } } })
  {
    RunAllModesAndBoundaries<2, float, float>(results, gpu, I2{ { -2, 5 } }, S2{ { 17, 12 } }, kernel, generator);
  }
  // 3D, including a kernel deeper than the image.
  for (const S3 kernel : { S3{ { 3, 3, 3 } }, S3{ { 4, 5, 2 } }, S3{ { 2, 2, 9 } } })
  {
    RunAllModesAndBoundaries<3, float, float>(results, gpu, I3{ { 1, -1, 2 } }, S3{ { 11, 8, 7 } }, kernel, generator);
  }
  // Double precision and an integer input type.
  RunAllModesAndBoundaries<2, float, double>(
    results, gpu, I2{ { 4, -3 } }, S2{ { 16, 13 } }, S2{ { 6, 5 } }, generator);
  RunAllModesAndBoundaries<3, double, double>(
    results, gpu, I3{ { 0, 0, 0 } }, S3{ { 10, 9, 8 } }, S3{ { 3, 4, 5 } }, generator);
  RunAllModesAndBoundaries<2, short, float>(results, gpu, I2{ { 0, 2 } }, S2{ { 15, 14 } }, S2{ { 5, 4 } }, generator);
  RunAllModesAndBoundaries<3, short, double>(
    results, gpu, I3{ { -1, 0, 1 } }, S3{ { 9, 7, 6 } }, S3{ { 2, 3, 3 } }, generator);

  std::cout << "\nLargest error relative to max|x| * sum|k| (per group):\n";
  for (const auto & entry : results.largestError)
  {
    std::cout << "  " << std::left << std::setw(60) << entry.first << std::scientific << std::setprecision(2)
              << entry.second << "\n";
  }
  std::cout << results.cases << " cases, " << results.failures << " failures" << std::endl;
  return results.failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
