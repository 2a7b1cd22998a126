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

// Streaming and tiling: through StreamingImageFilter with 10 divisions the result equals the
// one-shot result, and PipelineMonitorImageFilter shows that each piece asked the input for
// exactly its window (the requested piece grown by K-1-c below and c above, clipped to the
// input, or the whole axis for a periodic boundary that wraps). A small memory budget forces
// overlap-save tiles inside one request; the tiled result equals the untiled one.

#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkImageAlgorithm.h"
#include "itkImageSource.h"
#include "itkPipelineMonitorImageFilter.h"
#include "itkStreamingImageFilter.h"
#include "itkTestingMacros.h"

#include "CudaFFTConvolutionTestUtilities.h"
#include "itkCudaPinnedImportImageContainer.h"

namespace
{
using namespace CudaFFTConvolutionTest;
using OutputRegion = itk::CudaFFTConvolutionImageFilterEnums::OutputRegion;
using ComputeDevice = itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice;

/** A source that produces exactly the requested region of an image it holds, as a streaming
 * reader does, so that the monitor after it sees every request. */
template <typename TImage>
class RegionSource : public itk::ImageSource<TImage>
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(RegionSource);
  using Self = RegionSource;
  using Pointer = itk::SmartPointer<Self>;
  itkNewMacro(Self);
  itkOverrideGetNameOfClassMacro(RegionSource);

  void
  SetImage(TImage * image)
  {
    m_Image = image;
    this->Modified();
  }

protected:
  RegionSource() = default;
  void
  GenerateOutputInformation() override
  {
    this->GetOutput()->CopyInformation(m_Image);
    this->GetOutput()->SetLargestPossibleRegion(m_Image->GetLargestPossibleRegion());
  }
  void
  GenerateData() override
  {
    TImage * output = this->GetOutput();
    output->SetBufferedRegion(output->GetRequestedRegion());
    output->Allocate();
    itk::ImageAlgorithm::Copy(m_Image.GetPointer(), output, output->GetRequestedRegion(), output->GetRequestedRegion());
  }

private:
  typename TImage::Pointer m_Image;
};

/** The input region a requested output piece needs, written out independently of the planner. */
template <typename TRegion>
TRegion
ExpectedInputRequest(const TRegion &                    piece,
                     const TRegion &                    largest,
                     const typename TRegion::SizeType & kernel,
                     Boundary                           boundary)
{
  TRegion expected = piece;
  for (unsigned int a = 0; a < TRegion::ImageDimension; ++a)
  {
    const long k = static_cast<long>(kernel[a]);
    const long c = k / 2;
    long       lo = piece.GetIndex()[a] - (k - 1 - c);
    long       hi = piece.GetIndex()[a] + static_cast<long>(piece.GetSize()[a]) - 1 + c;
    const long first = largest.GetIndex()[a];
    const long last = first + static_cast<long>(largest.GetSize()[a]) - 1;
    if (boundary == Boundary::Periodic && (lo < first || hi > last))
    {
      lo = first;
      hi = last;
    }
    lo = std::min(std::max(lo, first), last);
    hi = std::min(std::max(hi, first), last);
    expected.SetIndex(a, lo);
    expected.SetSize(a, static_cast<itk::SizeValueType>(hi - lo + 1));
  }
  return expected;
}

template <unsigned int D>
int
StreamOneCase(bool                                             gpu,
              const typename itk::Image<float, D>::IndexType & index,
              const typename itk::Image<float, D>::SizeType &  size,
              const typename itk::Image<float, D>::SizeType &  kernelSize,
              Boundary                                         boundary,
              OutputRegion                                     mode,
              std::mt19937 &                                   generator)
{
  using ImageType = itk::Image<float, D>;
  using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType>;
  using MonitorType = itk::PipelineMonitorImageFilter<ImageType>;
  constexpr unsigned int divisions = 10;

  auto       input = RandomImage<ImageType>(index, size, generator, -1, 2);
  auto       kernel = RandomImage<ImageType>(index, kernelSize, generator, 0.1, 1);
  auto       condition = MakeBoundary<ImageType>(boundary, 0.25);
  const auto device = gpu ? ComputeDevice::GPU : ComputeDevice::CPU;

  auto oneShot = FilterType::New();
  oneShot->SetInput(input);
  oneShot->SetKernelImage(kernel);
  oneShot->SetBoundaryCondition(condition.get());
  oneShot->SetOutputRegion(mode);
  oneShot->SetComputeDevice(device);
  ITK_TRY_EXPECT_NO_EXCEPTION(oneShot->Update());

  auto source = RegionSource<ImageType>::New();
  source->SetImage(input);
  auto inputMonitor = MonitorType::New();
  inputMonitor->SetInput(source->GetOutput());
  auto streamed = FilterType::New();
  streamed->SetInput(inputMonitor->GetOutput());
  streamed->SetKernelImage(kernel);
  streamed->SetBoundaryCondition(condition.get());
  streamed->SetOutputRegion(mode);
  streamed->SetComputeDevice(device);
  auto outputMonitor = MonitorType::New();
  outputMonitor->SetInput(streamed->GetOutput());
  auto streamer = itk::StreamingImageFilter<ImageType, ImageType>::New();
  streamer->SetInput(outputMonitor->GetOutput());
  streamer->SetNumberOfStreamDivisions(divisions);
  ITK_TRY_EXPECT_NO_EXCEPTION(streamer->Update());

  std::ostringstream name;
  name << D << "D " << size << " kernel " << kernelSize << " " << mode << " " << ToString(boundary);
  int          failures = 0;
  const double difference = MaximumDifference(streamer->GetOutput(), oneShot->GetOutput());
  const double scale = MaximumMagnitude(oneShot->GetOutput()) + 1.0;
  std::cout << name.str() << ": streamed vs one-shot " << difference / scale << std::endl;
  if (!(difference >= 0 && difference <= 2e-6 * scale))
  {
    std::cout << "  FAILED: streamed differs from one-shot" << std::endl;
    ++failures;
  }
  // The splitter makes at most 10 pieces (fewer when the slowest axis is short).
  const auto expectedPieces = static_cast<int>(
    streamer->GetRegionSplitter()->GetNumberOfSplits(streamed->GetOutput()->GetLargestPossibleRegion(), divisions));
  if (expectedPieces < 5 || !outputMonitor->VerifyAllInputCanStream(expectedPieces))
  {
    std::cout << "  FAILED: the filter's output was not streamed in " << expectedPieces << " pieces" << std::endl;
    ++failures;
  }
  const auto & pieces = outputMonitor->GetOutputRequestedRegions();
  const auto & requests = inputMonitor->GetOutputRequestedRegions();
  // Each piece propagates its request twice (the filter has two inputs, as ITK's own streaming
  // test notes), unless what it needs is already buffered upstream from the piece before (the
  // last short piece; a periodic boundary that wraps asks for whole axes once).
  if (static_cast<int>(pieces.size()) != expectedPieces)
  {
    std::cout << "  FAILED: " << pieces.size() << " pieces" << std::endl;
    return failures + 1;
  }
  std::size_t                    next = 0;
  typename ImageType::RegionType buffered;
  for (const auto & piece : pieces)
  {
    const auto expected = ExpectedInputRequest(piece, input->GetLargestPossibleRegion(), kernelSize, boundary);
    if (next + 1 < requests.size() && requests[next] == expected && requests[next + 1] == expected)
    {
      buffered = expected;
      next += 2;
    }
    else if (next == 0 || !buffered.IsInside(expected))
    {
      std::cout << "  FAILED: piece " << piece << " needs " << expected << " but the input was asked for "
                << (next < requests.size() ? requests[next] : buffered) << std::endl;
      ++failures;
    }
  }
  if (next != requests.size())
  {
    std::cout << "  FAILED: " << requests.size() - next << " input requests beyond what the pieces need" << std::endl;
    ++failures;
  }
  return failures;
}

/** A budget too small for one tile: the filter tiles, and the result equals the untiled one. */
template <unsigned int D>
int
TileOneCase(bool                                             gpu,
            const typename itk::Image<float, D>::IndexType & index,
            const typename itk::Image<float, D>::SizeType &  size,
            const typename itk::Image<float, D>::SizeType &  kernelSize,
            Boundary                                         boundary,
            OutputRegion                                     mode,
            itk::SizeValueType                               budget,
            std::mt19937 &                                   generator)
{
  using ImageType = itk::Image<float, D>;
  using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType>;
  auto       input = RandomImage<ImageType>(index, size, generator, -1, 2);
  auto       kernel = RandomImage<ImageType>(index, kernelSize, generator, 0.1, 1);
  auto       condition = MakeBoundary<ImageType>(boundary, -0.5);
  const auto device = gpu ? ComputeDevice::GPU : ComputeDevice::CPU;

  auto whole = FilterType::New();
  whole->SetInput(input);
  whole->SetKernelImage(kernel);
  whole->SetBoundaryCondition(condition.get());
  whole->SetOutputRegion(mode);
  whole->SetComputeDevice(device);
  ITK_TRY_EXPECT_NO_EXCEPTION(whole->Update());

  auto tiled = FilterType::New();
  tiled->SetInput(input);
  tiled->SetKernelImage(kernel);
  tiled->SetBoundaryCondition(condition.get());
  tiled->SetOutputRegion(mode);
  tiled->SetComputeDevice(device);
  tiled->SetGPUMemoryBudget(budget);
  ITK_TRY_EXPECT_NO_EXCEPTION(tiled->Update());

  const double difference = MaximumDifference(tiled->GetOutput(), whole->GetOutput());
  const double scale = MaximumMagnitude(whole->GetOutput()) + 1.0;
  std::cout << D << "D " << size << " kernel " << kernelSize << " " << mode << " " << ToString(boundary) << ": "
            << tiled->GetNumberOfTiles() << " tiles of FFT size " << tiled->GetLastFFTSize()[0] << "x"
            << tiled->GetLastFFTSize()[1] << "x" << tiled->GetLastFFTSize()[2] << " vs 1 tile: " << difference / scale
            << std::endl;
  int failures = 0;
  if (whole->GetNumberOfTiles() != 1 || tiled->GetNumberOfTiles() < 2)
  {
    std::cout << "  FAILED: expected 1 tile untiled and several under the budget" << std::endl;
    ++failures;
  }
  if (!(difference >= 0 && difference <= 2e-6 * scale))
  {
    std::cout << "  FAILED: tiled differs from untiled" << std::endl;
    ++failures;
  }
  return failures;
}
/** Repeated updates of one filter (the deconvolution pattern): results stay equal to a fresh
 * filter's, a kernel changed in place (and marked Modified) is never served stale, and the filter
 * never page-locks the caller's input nor replaces the output's pixel container: across updates of
 * one size the output keeps its container and buffer. */
int
RepeatedUpdates(bool gpu, std::mt19937 & generator)
{
  using ImageType = itk::Image<float, 3>;
  using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType>;
  const auto device = gpu ? ComputeDevice::GPU : ComputeDevice::CPU;
  auto       input = RandomImage<ImageType>(
    ImageType::IndexType{ { 0, 0, 0 } }, ImageType::SizeType{ { 64, 48, 40 } }, generator, -1, 2);
  auto kernel =
    RandomImage<ImageType>(ImageType::IndexType{ { 0, 0, 0 } }, ImageType::SizeType{ { 5, 6, 7 } }, generator, 0.1, 1);
  const auto fresh = [&]() {
    auto filter = FilterType::New();
    filter->SetInput(input);
    filter->SetKernelImage(kernel);
    filter->SetComputeDevice(device);
    filter->Update();
    ImageType::Pointer result = filter->GetOutput();
    result->DisconnectPipeline();
    return result;
  };
  auto reused = FilterType::New();
  reused->SetInput(input);
  reused->SetKernelImage(kernel);
  reused->SetComputeDevice(device);
  int                               failures = 0;
  const ImageType::PixelContainer * firstContainer = nullptr;
  const float *                     firstBuffer = nullptr;
  for (int update = 0; update < 4; ++update)
  {
    if (update == 2)
    {
      // Change the kernel in place: the cached spectrum must not be used.
      kernel->GetBufferPointer()[3] += 2.0f;
      kernel->Modified();
    }
    input->GetBufferPointer()[update] += 1.0f; // new data in the same buffer
    input->Modified();
    ITK_TRY_EXPECT_NO_EXCEPTION(reused->Update());
    auto          expected = fresh();
    const double  difference = MaximumDifference(reused->GetOutput(), expected.GetPointer());
    const auto *  container = reused->GetOutput()->GetPixelContainer();
    const float * buffer = reused->GetOutput()->GetBufferPointer();
    if (update == 0)
    {
      firstContainer = container;
      firstBuffer = buffer;
    }
    const bool inputPinned = itk::CudaFFTConvolutionEngine::IsPinnedHost(input->GetBufferPointer());
    std::cout << "update " << update << ": vs a fresh filter " << difference << ", output container "
              << (container == firstContainer ? "kept" : "REPLACED") << ", output buffer "
              << (buffer == firstBuffer ? "kept" : "MOVED") << ", page-locked input " << inputPinned << std::endl;
    if (!(difference >= 0 && difference <= 1e-6 * (MaximumMagnitude(expected.GetPointer()) + 1)))
    {
      std::cout << "  FAILED: a repeated update differs from a fresh filter" << std::endl;
      ++failures;
    }
    if (container != firstContainer || buffer != firstBuffer ||
        dynamic_cast<const itk::CudaPinnedImportImageContainer<itk::SizeValueType, float> *>(container) != nullptr)
    {
      std::cout << "  FAILED: repeated updates of one size must keep the output's own pixel container and buffer"
                << std::endl;
      ++failures;
    }
    if (inputPinned)
    {
      std::cout << "  FAILED: the filter must never page-lock the caller's input" << std::endl;
      ++failures;
    }
  }
  reused->ReleaseGPUResources();
  if (itk::CudaFFTConvolutionEngine::IsPinnedHost(input->GetBufferPointer()))
  {
    std::cout << "  FAILED: ReleaseGPUResources left the input page-locked" << std::endl;
    ++failures;
  }
  return failures;
}
} // namespace

int
itkCudaFFTConvolutionStreamingTest(int argc, char * argv[])
{
  bool       skip = false;
  const bool gpu = WantsGPU(argc, argv, skip);
  if (skip)
  {
    return SkipReturnCode;
  }
  std::mt19937 generator(7);
  int          failures = 0;
  using I2 = itk::Image<float, 2>::IndexType;
  using S2 = itk::Image<float, 2>::SizeType;
  using I3 = itk::Image<float, 3>::IndexType;
  using S3 = itk::Image<float, 3>::SizeType;
  for (const auto mode : { OutputRegion::SAME, OutputRegion::VALID, OutputRegion::FULL })
  {
    for (const auto boundary : { Boundary::ZeroFluxNeumann, Boundary::Constant, Boundary::Periodic })
    {
      failures += StreamOneCase<2>(gpu, I2{ { 3, -2 } }, S2{ { 41, 37 } }, S2{ { 7, 4 } }, boundary, mode, generator);
      failures +=
        StreamOneCase<3>(gpu, I3{ { 0, 5, -1 } }, S3{ { 13, 12, 23 } }, S3{ { 3, 4, 5 } }, boundary, mode, generator);
    }
  }
  // Tiles: the CPU path plans host buffers byte for byte, so a few hundred KiB force tiles; the
  // GPU rounds allocations to 2 MiB and keeps cuFFT plans, so it needs a larger volume.
  const itk::SizeValueType MiB = 1 << 20;
  for (const auto mode : { OutputRegion::SAME, OutputRegion::VALID, OutputRegion::FULL })
  {
    for (const auto boundary : { Boundary::ZeroFluxNeumann, Boundary::Constant, Boundary::Periodic })
    {
      if (gpu)
      {
        // A periodic boundary that wraps reads whole axes per tile, so it needs more room.
        const itk::SizeValueType budget = (boundary == Boundary::Periodic ? 72 : 52) * MiB;
        failures += TileOneCase<3>(
          gpu, I3{ { 2, -3, 1 } }, S3{ { 160, 150, 140 } }, S3{ { 7, 6, 5 } }, boundary, mode, budget, generator);
      }
      else
      {
        failures += TileOneCase<3>(
          gpu, I3{ { 2, -3, 1 } }, S3{ { 40, 36, 30 } }, S3{ { 7, 6, 5 } }, boundary, mode, 400 * 1024, generator);
        failures +=
          TileOneCase<2>(gpu, I2{ { 1, 1 } }, S2{ { 90, 70 } }, S2{ { 9, 8 } }, boundary, mode, 64 * 1024, generator);
      }
    }
  }
  failures += RepeatedUpdates(gpu, generator);
  std::cout << failures << " failures" << std::endl;
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
