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

// Data in and out of the filter:
// - rows longer than a staging chunk (1D float and double rows of 20 MB, 2D float rows of 18 MB)
//   and a 40 MB volume (80 MB on the GPU) cut into sub-box tiles of several chunks each, against
//   a direct sum;
// - a streamed pipeline whose upstream buffer grows and shrinks between pieces of different
//   sizes, against the one-shot result and ITK's FFTConvolutionImageFilter;
// - a grafted output (the caller's image) keeps receiving each update's result in its own buffer;
// - a 20-update DisconnectPipeline batch: every kept output is right, none is page-locked;
// - a kernel edited in place without Modified() (SetPixel, FillBuffer) is never served stale.

#include "itkCommand.h"
#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkImageRegionSplitterBase.h"
#include "itkShiftScaleImageFilter.h"
#include "itkStreamingImageFilter.h"
#include "itkTestingMacros.h"

#include "CudaFFTConvolutionTestUtilities.h"

namespace
{
using namespace CudaFFTConvolutionTest;
using ComputeDevice = itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice;
using ImageType = itk::Image<float, 3>;
using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType>;
using PinnedContainerType = itk::CudaPinnedImportImageContainer<itk::SizeValueType, float>;
constexpr itk::SizeValueType MiB = 1u << 20;


ComputeDevice
DeviceOf(bool gpu)
{
  return gpu ? ComputeDevice::GPU : ComputeDevice::CPU;
}

/** Convolves a random image of \a size with a random kernel (internal precision \a TPrecision,
 * memory budget \a budget, 0 for none) and compares with the direct sum. */
template <typename TImage, typename TPrecision>
int
LongRowsCase(bool                              gpu,
             const typename TImage::SizeType & size,
             const typename TImage::SizeType & kernelSize,
             itk::SizeValueType                budget,
             double                            tolerance,
             std::mt19937 &                    generator)
{
  using FilterOfImage = itk::CudaFFTConvolutionImageFilter<TImage, TImage, TImage, TPrecision>;
  const typename TImage::IndexType origin{};
  auto                             input = RandomImage<TImage>(origin, size, generator, -1, 1);
  auto                             kernel = RandomImage<TImage>(origin, kernelSize, generator, 0.1, 1);
  auto                             filter = MakeConvolution<FilterOfImage, TImage>(input, kernel, DeviceOf(gpu));
  filter->SetGPUMemoryBudget(budget);
  ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
  const double       error = ScaledDifference(filter->GetOutput(),
                                        ClampedDirectConvolution(input.GetPointer(), kernel.GetPointer()).GetPointer());
  const auto &       fft = filter->GetLastFFTSize();
  std::ostringstream what;
  what << TImage::ImageDimension << "D " << size << " (" << sizeof(typename TImage::PixelType) * size[0]
       << "-byte rows), kernel " << kernelSize << ", precision " << sizeof(TPrecision) * 8
       << " bits: " << filter->GetNumberOfTiles() << " tile(s) of FFT size " << fft[0] << "x" << fft[1] << "x" << fft[2]
       << ", vs the direct sum " << error;
  Expect(error <= tolerance, what.str());
  if (budget != 0)
  {
    // A tile whose FFT is shorter than the whole axis plus the kernel cuts the rows or slices:
    // it is a sub-box read and written with strides.
    bool subBox = false;
    for (unsigned int a = 0; a + 1 < TImage::ImageDimension; ++a)
    {
      subBox = subBox || fft[a] < size[a] + kernelSize[a] - 1;
    }
    Expect(filter->GetNumberOfTiles() > 1 && subBox, "the budget cuts the volume into several sub-box tiles");
  }
  if (budget != 0 && gpu)
  {
    const auto blockBytes = fft[0] * fft[1] * fft[2] * sizeof(TPrecision);
    const auto chunkBytes = itk::CudaFFTConvolutionEngine::StagingChunkBytes();
    Expect(blockBytes > 2 * chunkBytes,
           "each tile's block (" + ToText(blockBytes / double(MiB)) + " MiB) spans several " +
             ToText(chunkBytes / double(MiB)) + " MiB staging chunks");
  }
  return 0;
}

/** A budget that cuts \a size into tiles: half what one tile needs, or on the GPU the largest of a
 * few tried whose plan has several sub-box tiles (cut along x or y) that each read more than two
 * staging chunks. */
itk::SizeValueType
SeveralTilesBudget(bool gpu, const ImageType::SizeType & size, const ImageType::SizeType & kernel)
{
  const itk::SizeValueType whole = FilterType::EstimateGPUMemory(size, kernel);
  for (const double fraction : { 0.8, 0.7, 0.6, 0.5, 0.4 })
  {
    const auto budget = static_cast<itk::SizeValueType>(fraction * static_cast<double>(whole));
    const auto plan =
      gpu ? FilterType::MakeGPUPlan(size, kernel, FilterType::OutputRegionEnum::SAME, budget) : FilterType::PlanType{};
    if (plan.tiles.size() > 1 && (plan.tileSize[0] < size[0] || plan.tileSize[1] < size[1]) &&
        plan.maxSourceVoxels * sizeof(float) > 2 * itk::CudaFFTConvolutionEngine::StagingChunkBytes())
    {
      return budget;
    }
  }
  return whole / 2;
}

/** Rows longer than the engine's staging chunk, and a volume of several chunks per tile. */
int
LongRows(bool gpu, std::mt19937 & generator)
{
  std::cout << "rows longer than a staging chunk" << std::endl;
  using Signal = itk::Image<float, 1>;
  using DoubleSignal = itk::Image<double, 1>;
  using Plane = itk::Image<float, 2>;
  int failures = 0;
  failures +=
    LongRowsCase<Signal, float>(gpu, Signal::SizeType{ { 5000000 } }, Signal::SizeType{ { 7 } }, 0, 1e-5, generator);
  failures +=
    LongRowsCase<Plane, float>(gpu, Plane::SizeType{ { 4500000, 3 } }, Plane::SizeType{ { 5, 3 } }, 0, 1e-5, generator);
  failures += LongRowsCase<DoubleSignal, double>(
    gpu, DoubleSignal::SizeType{ { 2500000 } }, DoubleSignal::SizeType{ { 7 } }, 0, 1e-12, generator);
  // 40 MB of float under a budget that cuts it into sub-box tiles; on the GPU 80 MB, so that each
  // of the tiles moves several staging chunks (x the longest axis: the planner cuts it first).
  const ImageType::SizeType volume{ { gpu ? 512u : 256u, 256, 160 } };
  const ImageType::SizeType kernel{ { 5, 5, 5 } };
  failures +=
    LongRowsCase<ImageType, float>(gpu, volume, kernel, SeveralTilesBudget(gpu, volume, kernel), 1e-5, generator);
  return failures;
}

/** Splits the slowest axis into pieces of the given lengths, so that streamed pieces differ in
 * size and the buffers upstream of the filter grow and shrink from one piece to the next. */
class UnevenSplitter : public itk::ImageRegionSplitterBase
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(UnevenSplitter);
  using Self = UnevenSplitter;
  using Pointer = itk::SmartPointer<Self>;
  itkNewMacro(Self);
  itkOverrideGetNameOfClassMacro(UnevenSplitter);
  std::vector<itk::SizeValueType> m_Lengths;

protected:
  UnevenSplitter() = default;
  unsigned int
  GetNumberOfSplitsInternal(unsigned int,
                            const itk::IndexValueType[],
                            const itk::SizeValueType[],
                            unsigned int) const override
  {
    return static_cast<unsigned int>(m_Lengths.size());
  }
  unsigned int
  GetSplitInternal(unsigned int dimension,
                   unsigned int i,
                   unsigned int,
                   itk::IndexValueType index[],
                   itk::SizeValueType  size[]) const override
  {
    for (unsigned int piece = 0; piece < i; ++piece)
    {
      index[dimension - 1] += static_cast<itk::IndexValueType>(m_Lengths[piece]);
    }
    size[dimension - 1] = m_Lengths[i];
    return static_cast<unsigned int>(m_Lengths.size());
  }
};

/** What the buffer of an upstream filter's output was after each execution. */
struct BufferLog
{
  ImageType *                                              image{ nullptr };
  std::vector<std::pair<const void *, itk::SizeValueType>> pieces;
};

void
LogBuffer(itk::Object *, const itk::EventObject &, void * clientData)
{
  auto * log = static_cast<BufferLog *>(clientData);
  log->pieces.emplace_back(log->image->GetBufferPointer(), log->image->GetBufferedRegion().GetNumberOfPixels());
}

using ShiftScaleType = itk::ShiftScaleImageFilter<ImageType, ImageType>;

ShiftScaleType::Pointer
MakeShiftScale(ImageType * input)
{
  auto shift = ShiftScaleType::New();
  shift->SetInput(input);
  shift->SetShift(0.25);
  shift->SetScale(1.5);
  return shift;
}

/** source -> ShiftScale -> the filter -> StreamingImageFilter in pieces of 10, 2, 8, 3 and 13
 * slices of 1/4 MB: ShiftScale's output buffer is reallocated per piece by ITK, which keeps the
 * pointer while the capacity fits, so the buffer first shrinks, then grows in place (the same
 * pointer, more bytes than the piece before), shrinks, and grows again to a new pointer. */
int
GrowingUpstreamBuffer(bool gpu, std::mt19937 & generator)
{
  std::cout << "an upstream buffer that grows between streamed pieces" << std::endl;
  auto input = RandomImage<ImageType>(
    ImageType::IndexType{ { 0, 0, 0 } }, ImageType::SizeType{ { 256, 256, 36 } }, generator, -1, 1);
  auto kernel =
    RandomImage<ImageType>(ImageType::IndexType{ { 0, 0, 0 } }, ImageType::SizeType{ { 5, 4, 5 } }, generator, 0.1, 1);
  auto shifted = MakeShiftScale(input);
  auto oneShot = MakeConvolution<FilterType, ImageType>(shifted->GetOutput(), kernel, DeviceOf(gpu));
  ITK_TRY_EXPECT_NO_EXCEPTION(oneShot->Update());
  const auto reference = ITKFFTConvolution(shifted->GetOutput(), kernel.GetPointer());

  auto      shift = MakeShiftScale(input);
  BufferLog log;
  log.image = shift->GetOutput();
  auto logger = itk::CStyleCommand::New();
  logger->SetCallback(LogBuffer);
  logger->SetClientData(&log);
  shift->AddObserver(itk::EndEvent(), logger);
  auto streamed = MakeConvolution<FilterType, ImageType>(shift->GetOutput(), kernel, DeviceOf(gpu));
  auto splitter = UnevenSplitter::New();
  splitter->m_Lengths = { 10, 2, 8, 3, 13 };
  auto streamer = itk::StreamingImageFilter<ImageType, ImageType>::New();
  streamer->SetInput(streamed->GetOutput());
  streamer->SetRegionSplitter(splitter);
  streamer->SetNumberOfStreamDivisions(static_cast<unsigned int>(splitter->m_Lengths.size()));
  ITK_TRY_EXPECT_NO_EXCEPTION(streamer->Update());

  bool grewInPlace = false;
  bool grewMoved = false;
  for (std::size_t p = 0; p < log.pieces.size(); ++p)
  {
    std::cout << "  piece " << p << ": upstream buffer " << log.pieces[p].first << ", " << log.pieces[p].second
              << " voxels" << std::endl;
    const bool grew = p > 0 && log.pieces[p].second > log.pieces[p - 1].second;
    grewInPlace = grewInPlace || (grew && log.pieces[p].first == log.pieces[p - 1].first);
    grewMoved = grewMoved || (grew && log.pieces[p].first != log.pieces[p - 1].first);
  }
  Expect(log.pieces.size() == splitter->m_Lengths.size() && grewInPlace && grewMoved,
         "the upstream buffer grew between pieces, in place and to a new pointer");
  const double vsOneShot = ScaledDifference(streamer->GetOutput(), oneShot->GetOutput());
  Expect(vsOneShot <= 2e-6, "streamed equals one-shot (" + ToText(vsOneShot) + ")");
  const double vsITK = ScaledDifference(streamer->GetOutput(), reference.GetPointer());
  Expect(vsITK <= 1e-5, "streamed equals ITK's FFTConvolutionImageFilter (" + ToText(vsITK) + ")");
  return 0;
}

/** The caller grafts its own image onto the output before each update, as ITK's composite
 * filters do, and changes the input between updates: each result lands in the caller's buffer. */
int
GraftedOutput(bool gpu, std::mt19937 & generator)
{
  std::cout << "a grafted output" << std::endl;
  const ImageType::IndexType origin{ { 0, 0, 0 } };
  const ImageType::SizeType  size{ { 40, 36, 30 } };
  auto                       input = RandomImage<ImageType>(origin, size, generator, -1, 1);
  auto       kernel = RandomImage<ImageType>(origin, ImageType::SizeType{ { 5, 4, 3 } }, generator, 0.1, 1);
  auto       callerImage = MakeImage<ImageType>(origin, size);
  const auto callerContainer = callerImage->GetPixelContainer();
  const auto callerBuffer = callerImage->GetBufferPointer();
  auto       filter = MakeConvolution<FilterType, ImageType>(input, kernel, DeviceOf(gpu));
  for (int update = 0; update < 4; ++update)
  {
    std::uniform_real_distribution<float> values(-1, 1);
    for (itk::ImageRegionIterator<ImageType> it(input, input->GetBufferedRegion()); !it.IsAtEnd(); ++it)
    {
      it.Set(values(generator));
    }
    input->Modified();
    filter->GraftOutput(callerImage);
    ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
    const double error = ScaledDifference(callerImage.GetPointer(),
                                          ITKFFTConvolution(input.GetPointer(), kernel.GetPointer()).GetPointer());
    Expect(error <= 1e-5,
           "update " + std::to_string(update) + ": the caller's image holds this update's result (" + ToText(error) +
             ")");
    Expect(callerImage->GetPixelContainer() == callerContainer && callerImage->GetBufferPointer() == callerBuffer &&
             filter->GetOutput()->GetPixelContainer() == callerContainer,
           "update " + std::to_string(update) + ": the output's buffer is still the caller's");
  }
  return 0;
}

/** One filter, a new input every update, each output disconnected and kept. */
int
DisconnectedBatch(bool gpu, std::mt19937 & generator)
{
  std::cout << "a DisconnectPipeline batch of 20 updates" << std::endl;
  const ImageType::IndexType origin{ { 0, 0, 0 } };
  auto kernel = RandomImage<ImageType>(origin, ImageType::SizeType{ { 5, 5, 5 } }, generator, 0.1, 1);
  auto filter = FilterType::New();
  std::vector<ImageType::Pointer> inputs;
  std::vector<ImageType::Pointer> kept;
  filter->SetKernelImage(kernel);
  filter->SetComputeDevice(DeviceOf(gpu));
  for (int update = 0; update < 20; ++update)
  {
    inputs.push_back(RandomImage<ImageType>(origin, ImageType::SizeType{ { 48, 40, 32 } }, generator, -1, 1));
    filter->SetInput(inputs.back());
    ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
    ImageType::Pointer output = filter->GetOutput();
    output->DisconnectPipeline();
    kept.push_back(output);
  }
  double worst = 0;
  int    pageLocked = 0;
  for (std::size_t i = 0; i < kept.size(); ++i)
  {
    worst = std::max(worst,
                     ScaledDifference(kept[i].GetPointer(),
                                      ITKFFTConvolution(inputs[i].GetPointer(), kernel.GetPointer()).GetPointer()));
    pageLocked += itk::CudaFFTConvolutionEngine::IsPinnedHost(kept[i]->GetBufferPointer()) ? 1 : 0;
    pageLocked += dynamic_cast<const PinnedContainerType *>(kept[i]->GetPixelContainer()) != nullptr ? 1 : 0;
    pageLocked += itk::CudaFFTConvolutionEngine::IsPinnedHost(inputs[i]->GetBufferPointer()) ? 1 : 0;
  }
  Expect(worst <= 1e-5, "every kept output equals ITK's result (worst " + ToText(worst) + ")");
  Expect(pageLocked == 0, "no kept output and no input is page-locked (" + std::to_string(pageLocked) + " are)");
  return 0;
}

/** A kernel changed in place without Modified(): the next update must use the new values. */
int
KernelEditedInPlace(bool gpu, std::mt19937 & generator)
{
  std::cout << "a kernel edited in place without Modified()" << std::endl;
  const ImageType::IndexType origin{ { 0, 0, 0 } };
  auto input = RandomImage<ImageType>(origin, ImageType::SizeType{ { 40, 36, 30 } }, generator, -1, 1);
  auto kernel = RandomImage<ImageType>(origin, ImageType::SizeType{ { 5, 5, 5 } }, generator, 0.1, 1);
  auto filter = MakeConvolution<FilterType, ImageType>(input, kernel, DeviceOf(gpu));
  ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
  const std::vector<std::pair<std::string, std::function<void()>>> edits = {
    { "SetPixel",
      [&] {
        kernel->SetPixel(ImageType::IndexType{ { 2, 2, 2 } }, 6.0f);
      } },
    { "SetPixel off centre",
      [&] {
        kernel->SetPixel(ImageType::IndexType{ { 0, 1, 4 } }, -3.0f);
      } },
    { "FillBuffer", [&] { kernel->FillBuffer(0.25f); } },
  };
  for (const auto & edit : edits)
  {
    edit.second(); // no kernel->Modified()
    input->Modified();
    ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
    const double error =
      ScaledDifference(filter->GetOutput(), ITKFFTConvolution(input.GetPointer(), kernel.GetPointer()).GetPointer());
    Expect(error <= 1e-5, edit.first + ": the result uses the edited kernel (" + ToText(error) + ")");
  }
  return 0;
}
} // namespace

int
itkCudaFFTConvolutionTransfersTest(int argc, char * argv[])
{
  bool       skip = false;
  const bool gpu = WantsGPU(argc, argv, skip);
  if (skip)
  {
    return SkipReturnCode;
  }
  std::mt19937 generator(13);
  int          failures = 0;
  failures += LongRows(gpu, generator);
  failures += GrowingUpstreamBuffer(gpu, generator);
  failures += GraftedOutput(gpu, generator);
  failures += DisconnectedBatch(gpu, generator);
  failures += KernelEditedInPlace(gpu, generator);
  failures += Failures();
  std::cout << failures << " failures" << std::endl;
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
