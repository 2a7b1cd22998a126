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

// Helper of the command-line tool's tests (test/cli/test_cli.py):
//   compare INPUT KERNEL CLI_OUTPUT MODE BOUNDARY CONSTANT NORMALIZE
//     runs the filter on the files and checks that the tool's output file holds the same values on
//     the same physical grid (a file keeps the first voxel's position, not the region index);
//   estimate INPUT KERNEL MODE BUDGET
//     prints the filter's EstimateGPUMemory for the files' sizes;
//   convert INPUT OUTPUT
//     reads a float volume and writes it through ITK's own writer for OUTPUT's extension (e.g. a
//     TIFF stack from ITK's TIFFImageIO, for test/cli/test_tiff_cli.py).

#include "itkConstantBoundaryCondition.h"
#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkImageFileReader.h"
#include "itkImageFileWriter.h"
#include "itkPeriodicBoundaryCondition.h"
#include "itkTestingMacros.h"

#include "CudaFFTConvolutionTestUtilities.h"

int
itkCudaFFTConvolutionCLICompareTest(int argc, char * argv[])
{
  using ImageType = itk::Image<float, 3>;
  using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType>;
  using OutputRegion = itk::CudaFFTConvolutionImageFilterEnums::OutputRegion;
  if (argc < 2)
  {
    std::cerr << "usage: " << itkNameOfTestExecutableMacro(argv) << " compare|estimate|convert ..." << std::endl;
    return EXIT_FAILURE;
  }
  const std::string action = argv[1];
  const auto        parseMode = [](const std::string & mode) {
    return mode == "valid" ? OutputRegion::VALID : mode == "full" ? OutputRegion::FULL : OutputRegion::SAME;
  };
  if (action == "estimate" && argc == 6)
  {
    auto input = itk::ReadImage<ImageType>(argv[2]);
    auto kernel = itk::ReadImage<ImageType>(argv[3]);
    std::cout << FilterType::EstimateGPUMemory(input->GetLargestPossibleRegion().GetSize(),
                                               kernel->GetLargestPossibleRegion().GetSize(),
                                               parseMode(argv[4]),
                                               std::stoull(argv[5]))
              << std::endl;
    return EXIT_SUCCESS;
  }
  if (action == "convert" && argc == 4)
  {
    ITK_TRY_EXPECT_NO_EXCEPTION(itk::WriteImage(itk::ReadImage<ImageType>(argv[2]), argv[3]));
    return EXIT_SUCCESS;
  }
  if (action != "compare" || argc != 9)
  {
    std::cerr << "bad arguments" << std::endl;
    return EXIT_FAILURE;
  }
  auto input = itk::ReadImage<ImageType>(argv[2]);
  auto kernel = itk::ReadImage<ImageType>(argv[3]);
  auto tool = itk::ReadImage<ImageType>(argv[4]);
  auto filter = FilterType::New();
  filter->SetInput(input);
  filter->SetKernelImage(kernel);
  filter->SetOutputRegion(parseMode(argv[5]));
  const std::string                         boundary = argv[6];
  itk::ConstantBoundaryCondition<ImageType> constant;
  itk::PeriodicBoundaryCondition<ImageType> periodic;
  constant.SetConstant(static_cast<float>(std::stod(argv[7])));
  if (boundary == "constant")
    filter->SetBoundaryCondition(&constant);
  else if (boundary == "periodic")
    filter->SetBoundaryCondition(&periodic);
  filter->SetNormalize(std::string(argv[8]) == "1");
  ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
  const ImageType * expected = filter->GetOutput();

  // Same size, same physical position of the first voxel, same spacing and direction.
  ITK_TEST_EXPECT_EQUAL(tool->GetLargestPossibleRegion().GetSize(), expected->GetLargestPossibleRegion().GetSize());
  ImageType::PointType first;
  expected->TransformIndexToPhysicalPoint(expected->GetLargestPossibleRegion().GetIndex(), first);
  ImageType::PointType toolFirst;
  tool->TransformIndexToPhysicalPoint(tool->GetLargestPossibleRegion().GetIndex(), toolFirst);
  ITK_TEST_EXPECT_TRUE(first.EuclideanDistanceTo(toolFirst) < 1e-6);
  ITK_TEST_EXPECT_EQUAL(tool->GetSpacing(), expected->GetSpacing());
  ITK_TEST_EXPECT_EQUAL(tool->GetDirection(), expected->GetDirection());
  double            largest = 0;
  double            scale = 0;
  const std::size_t count = tool->GetBufferedRegion().GetNumberOfPixels();
  for (std::size_t i = 0; i < count; ++i)
  {
    largest = std::max(largest, std::abs(double(tool->GetBufferPointer()[i]) - expected->GetBufferPointer()[i]));
    scale = std::max(scale, std::abs(double(expected->GetBufferPointer()[i])));
  }
  std::cout << "tool vs filter: largest difference " << largest << " (values up to " << scale << ")" << std::endl;
  return largest <= 1e-6 * (scale + 1) ? EXIT_SUCCESS : EXIT_FAILURE;
}
