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
#ifndef CudaFFTConvolutionTestUtilities_h
#define CudaFFTConvolutionTestUtilities_h

// Helpers shared by the module's tests: random images, the independent direct-sum reference,
// comparison, and the GPU/CPU switch with the CTest skip code.

#include "itkConstantBoundaryCondition.h"
#include "itkCudaFFTConvolutionEngine.h"
#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkImage.h"
#include "itkImageRegionConstIterator.h"
#include "itkImageRegionConstIteratorWithIndex.h"
#include "itkImageRegionIterator.h"
#include "itkImageRegionIteratorWithIndex.h"
#include "itkPeriodicBoundaryCondition.h"
#include "itkZeroFluxNeumannBoundaryCondition.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <iostream>
#include <memory>
#include <random>
#include <string>

namespace CudaFFTConvolutionTest
{
/** CTest's SKIP_RETURN_CODE for GPU tests on a machine without a CUDA device. */
constexpr int SkipReturnCode = 77;

enum class Boundary
{
  ZeroFluxNeumann,
  Constant,
  Periodic
};

inline const char *
ToString(Boundary boundary)
{
  switch (boundary)
  {
    case Boundary::ZeroFluxNeumann:
      return "ZeroFluxNeumann";
    case Boundary::Constant:
      return "Constant";
    case Boundary::Periodic:
      return "Periodic";
  }
  return "?";
}

/** Parses the device argument: "cpu" or "gpu". For "gpu" without a device, says so; the
 * caller returns SkipReturnCode. */
inline bool
WantsGPU(int argc, char * argv[], bool & skip)
{
  skip = false;
  const bool gpu = argc > 1 && std::string(argv[1]) == "gpu";
  std::string reason;
  if (gpu && !itk::CudaFFTConvolutionEngine::DeviceAvailable(&reason))
  {
    std::cout << "GPU test skipped: " << reason << std::endl;
    skip = true;
  }
  return gpu;
}

/** A convolution filter of \a input with \a kernel on \a device. */
template <typename TFilter, typename TImage>
typename TFilter::Pointer
MakeConvolution(TImage * input, TImage * kernel, itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice device)
{
  auto filter = TFilter::New();
  filter->SetInput(input);
  filter->SetKernelImage(kernel);
  filter->SetComputeDevice(device);
  return filter;
}

/** The device's free memory now, in bytes. */
inline std::uint64_t
FreeDeviceBytes()
{
  std::uint64_t freeBytes = 0;
  std::uint64_t totalBytes = 0;
  itk::CudaFFTConvolutionEngine::DeviceMemory(freeBytes, totalBytes);
  return freeBytes;
}

template <typename TImage>
typename TImage::Pointer
MakeImage(const typename TImage::IndexType & index, const typename TImage::SizeType & size)
{
  auto image = TImage::New();
  image->SetRegions(typename TImage::RegionType(index, size));
  image->Allocate();
  return image;
}

/** An image of random values in [low, high] (rounded for integer pixel types). */
template <typename TImage>
typename TImage::Pointer
RandomImage(const typename TImage::IndexType & index,
            const typename TImage::SizeType &  size,
            std::mt19937 &                     generator,
            double                             low,
            double                             high)
{
  auto                                   image = MakeImage<TImage>(index, size);
  std::uniform_real_distribution<double> distribution(low, high);
  using PixelType = typename TImage::PixelType;
  for (itk::ImageRegionIterator<TImage> it(image, image->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    const double value = distribution(generator);
    it.Set(static_cast<PixelType>(std::is_integral<PixelType>::value ? std::round(value) : value));
  }
  return image;
}

/** A boundary condition object of a kind, for the input image type. */
template <typename TImage>
std::unique_ptr<itk::ImageBoundaryCondition<TImage>>
MakeBoundary(Boundary boundary, double constant)
{
  switch (boundary)
  {
    case Boundary::Constant:
    {
      auto condition = std::make_unique<itk::ConstantBoundaryCondition<TImage>>();
      condition->SetConstant(static_cast<typename TImage::PixelType>(constant));
      return condition;
    }
    case Boundary::Periodic:
      return std::make_unique<itk::PeriodicBoundaryCondition<TImage>>();
    case Boundary::ZeroFluxNeumann:
    default:
      return std::make_unique<itk::ZeroFluxNeumannBoundaryCondition<TImage>>();
  }
}

/** The direct sum y[n] = sum_j k[j] x[n - j + floor(K/2)] in double over \a region, with x
 * outside the image given by the boundary condition. Independent of the filter's code. */
template <typename TInput, typename TKernel, typename TReference>
typename TReference::Pointer
DirectConvolution(const TInput *                         input,
                  const TKernel *                        kernel,
                  const typename TReference::RegionType & region,
                  Boundary                               boundary,
                  double                                 constant,
                  bool                                   normalize)
{
  constexpr unsigned int D = TInput::ImageDimension;
  auto                   output = MakeImage<TReference>(region.GetIndex(), region.GetSize());
  const auto             inRegion = input->GetLargestPossibleRegion();
  const auto             kRegion = kernel->GetLargestPossibleRegion();
  double                 kernelSum = 0;
  for (itk::ImageRegionConstIterator<TKernel> k(kernel, kRegion); !k.IsAtEnd(); ++k)
  {
    kernelSum += static_cast<double>(k.Get());
  }
  const double scale = normalize ? 1.0 / kernelSum : 1.0;
  for (itk::ImageRegionIteratorWithIndex<TReference> out(output, region); !out.IsAtEnd(); ++out)
  {
    double sum = 0;
    for (itk::ImageRegionConstIteratorWithIndex<TKernel> k(kernel, kRegion); !k.IsAtEnd(); ++k)
    {
      typename TInput::IndexType at;
      bool                       inside = true;
      for (unsigned int a = 0; a < D; ++a)
      {
        const long j = k.GetIndex()[a] - kRegion.GetIndex()[a];
        const long c = static_cast<long>(kRegion.GetSize()[a] / 2);
        long       g = out.GetIndex()[a] - j + c;
        const long s = inRegion.GetIndex()[a];
        const long n = static_cast<long>(inRegion.GetSize()[a]);
        if (g < s || g >= s + n)
        {
          switch (boundary)
          {
            case Boundary::Constant:
              inside = false;
              break;
            case Boundary::ZeroFluxNeumann:
              g = std::min(std::max(g, s), s + n - 1);
              break;
            case Boundary::Periodic:
              g = s + (((g - s) % n) + n) % n;
              break;
          }
        }
        at[a] = g;
      }
      const double x = inside ? static_cast<double>(input->GetPixel(at)) : constant;
      sum += static_cast<double>(k.Get()) * scale * x;
    }
    out.Set(sum);
  }
  return output;
}

/** Largest |a - b| over b's region; -1 when the regions differ (printed). */
template <typename TA, typename TB>
double
MaximumDifference(const TA * a, const TB * b)
{
  if (a->GetBufferedRegion() != b->GetBufferedRegion())
  {
    std::cout << "regions differ: " << a->GetBufferedRegion() << " vs " << b->GetBufferedRegion() << std::endl;
    return -1;
  }
  double largest = 0;
  itk::ImageRegionConstIterator<TA> ia(a, a->GetBufferedRegion());
  itk::ImageRegionConstIterator<TB> ib(b, b->GetBufferedRegion());
  for (; !ia.IsAtEnd(); ++ia, ++ib)
  {
    const double difference = std::abs(static_cast<double>(ia.Get()) - static_cast<double>(ib.Get()));
    if (!(difference <= largest)) // NaN counts as infinitely wrong
    {
      largest = std::isnan(difference) ? std::numeric_limits<double>::infinity() : difference;
    }
  }
  return largest;
}

/** Largest |value| of an image (the scale errors are judged against). */
template <typename TImage>
double
MaximumMagnitude(const TImage * image)
{
  double largest = 0;
  for (itk::ImageRegionConstIterator<TImage> it(image, image->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    largest = std::max(largest, std::abs(static_cast<double>(it.Get())));
  }
  return largest;
}
} // namespace CudaFFTConvolutionTest

#endif
