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
#include "itkFFTConvolutionImageFilter.h"
#include "itkImage.h"
#include "itkImageRegionConstIterator.h"
#include "itkImageRegionConstIteratorWithIndex.h"
#include "itkImageRegionIterator.h"
#include "itkImageRegionIteratorWithIndex.h"
#include "itkOutputWindow.h"
#include "itkPeriodicBoundaryCondition.h"
#include "itkZeroFluxNeumannBoundaryCondition.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iomanip>
#include <limits>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

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
  const bool  gpu = argc > 1 && std::string(argv[1]) == "gpu";
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
    case Boundary::Constant: {
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
DirectConvolution(const TInput *                          input,
                  const TKernel *                         kernel,
                  const typename TReference::RegionType & region,
                  Boundary                                boundary,
                  double                                  constant,
                  bool                                    normalize)
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
  double                            largest = 0;
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
/** DirectConvolution for ITK's default boundary (ZeroFluxNeumann: indices clamped to the image)
 * over the whole input region (SAME), fast enough for tens of millions of voxels with small
 * kernels: per axis, a table of the clamped source offset of each (output, tap) pair. The input's
 * and the kernel's buffers must hold their largest regions. */
template <typename TInput, typename TKernel>
typename itk::Image<double, TInput::ImageDimension>::Pointer
ClampedDirectConvolution(const TInput * input, const TKernel * kernel)
{
  constexpr unsigned int D = TInput::ImageDimension;
  using ReferenceType = itk::Image<double, D>;
  const auto                  region = input->GetBufferedRegion();
  auto                        output = MakeImage<ReferenceType>(region.GetIndex(), region.GetSize());
  std::array<std::int64_t, 3> n{ { 1, 1, 1 } };
  std::array<std::int64_t, 3> k{ { 1, 1, 1 } };
  for (unsigned int a = 0; a < D; ++a)
  {
    n[a] = static_cast<std::int64_t>(region.GetSize()[a]);
    k[a] = static_cast<std::int64_t>(kernel->GetBufferedRegion().GetSize()[a]);
  }
  const std::array<std::int64_t, 3>        stride{ { 1, n[0], n[0] * n[1] } };
  std::array<std::vector<std::int64_t>, 3> taps; // taps[a][i * k[a] + j]: offset of x[i - j + k/2]
  for (unsigned int a = 0; a < 3; ++a)
  {
    taps[a].resize(static_cast<std::size_t>(n[a] * k[a]));
    for (std::int64_t i = 0; i < n[a]; ++i)
    {
      for (std::int64_t j = 0; j < k[a]; ++j)
      {
        taps[a][i * k[a] + j] = std::min(std::max<std::int64_t>(i - j + k[a] / 2, 0), n[a] - 1) * stride[a];
      }
    }
  }
  const auto *              x = input->GetBufferPointer();
  const auto *              h = kernel->GetBufferPointer();
  const std::vector<double> weights(h, h + k[0] * k[1] * k[2]);
  double *                  y = output->GetBufferPointer();
  for (std::int64_t i2 = 0; i2 < n[2]; ++i2)
  {
    for (std::int64_t i1 = 0; i1 < n[1]; ++i1)
    {
      for (std::int64_t i0 = 0; i0 < n[0]; ++i0)
      {
        const std::int64_t * t0 = &taps[0][i0 * k[0]];
        double               sum = 0;
        for (std::int64_t j2 = 0; j2 < k[2]; ++j2)
        {
          for (std::int64_t j1 = 0; j1 < k[1]; ++j1)
          {
            const auto *   row = x + taps[2][i2 * k[2] + j2] + taps[1][i1 * k[1] + j1];
            const double * w = &weights[(j2 * k[1] + j1) * k[0]];
            for (std::int64_t j0 = 0; j0 < k[0]; ++j0)
            {
              sum += w[j0] * static_cast<double>(row[t0[j0]]);
            }
          }
        }
        *y++ = sum;
      }
    }
  }
  return output;
}

/** ITK's own FFTConvolutionImageFilter in double (ZeroFluxNeumann, SAME): an independent
 * reference for pipelines whose result is checked repeatedly. */
template <typename TImage>
typename itk::Image<double, TImage::ImageDimension>::Pointer
ITKFFTConvolution(const TImage * input, const TImage * kernel)
{
  using ReferenceType = itk::Image<double, TImage::ImageDimension>;
  auto filter = itk::FFTConvolutionImageFilter<TImage, TImage, ReferenceType, double>::New();
  filter->SetInput(input);
  filter->SetKernelImage(kernel);
  filter->Update();
  typename ReferenceType::Pointer result = filter->GetOutput();
  result->DisconnectPipeline();
  return result;
}

/** Largest |a - b| relative to b's largest magnitude; infinite when the regions differ. */
template <typename TA, typename TB>
double
ScaledDifference(const TA * a, const TB * b)
{
  const double difference = MaximumDifference(a, b);
  return difference < 0 ? std::numeric_limits<double>::infinity()
                        : difference / (MaximumMagnitude(b) + std::numeric_limits<double>::min());
}

/** A number for a test's report, to 3 significant digits (std::to_string would print 0.000000). */
inline std::string
ToText(double value)
{
  std::ostringstream text;
  text << std::setprecision(3) << value;
  return text.str();
}

/** Failures counted by Expect in this process (a test driver runs one test per process). */
inline int &
Failures()
{
  static int failures = 0;
  return failures;
}

/** Prints "ok: what" or "FAILED: what" and counts the failures. */
inline void
Expect(bool condition, const std::string & what)
{
  std::cout << (condition ? "  ok: " : "  FAILED: ") << what << std::endl;
  Failures() += condition ? 0 : 1;
}

/** Collects ITK's warnings (itk::OutputWindow::SetInstance) instead of printing them. */
class WarningCollector : public itk::OutputWindow
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(WarningCollector);
  using Self = WarningCollector;
  using Pointer = itk::SmartPointer<Self>;
  itkNewMacro(Self);
  void
  DisplayText(const char * text) override
  {
    m_Text += text;
  }
  std::string m_Text;

protected:
  WarningCollector() = default;
};
} // namespace CudaFFTConvolutionTest

#endif
