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

// CudaFFTConvolution: convolves an image file with a kernel (PSF) file on the GPU (or the CPU).
//   CudaFFTConvolution [options] input kernel output
//   CudaFFTConvolution --demo OUTDIR [--demo-scale S]

#include "itkConstantBoundaryCondition.h"
#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkImageFileReader.h"
#include "itkImageFileWriter.h"
#include "itkImageRegionIterator.h"
#include "itkImageRegionIteratorWithIndex.h"
#include "itkPeriodicBoundaryCondition.h"
#include "itkZeroFluxNeumannBoundaryCondition.h"

#include <tclap/CmdLine.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>

namespace
{
constexpr unsigned int Dimension = 3;
using ImageType = itk::Image<float, Dimension>;
using OutputRegion = itk::CudaFFTConvolutionImageFilterEnums::OutputRegion;
using ComputeDevice = itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice;

struct Options
{
  std::string        mode{ "same" };
  std::string        boundary{ "zero-flux-neumann" };
  double             constant{ 0 };
  bool               normalize{ false };
  std::string        precision{ "float" };
  itk::SizeValueType budget{ 0 };
  bool               cpu{ false };
};

OutputRegion
ParseMode(const std::string & mode)
{
  if (mode == "same")
    return OutputRegion::SAME;
  if (mode == "valid")
    return OutputRegion::VALID;
  if (mode == "full")
    return OutputRegion::FULL;
  throw std::invalid_argument("unknown output region mode '" + mode + "' (same, valid or full)");
}

std::unique_ptr<itk::ImageBoundaryCondition<ImageType>>
MakeBoundary(const Options & options)
{
  if (options.boundary == "zero-flux-neumann")
    return std::make_unique<itk::ZeroFluxNeumannBoundaryCondition<ImageType>>();
  if (options.boundary == "periodic")
    return std::make_unique<itk::PeriodicBoundaryCondition<ImageType>>();
  if (options.boundary == "constant")
  {
    auto condition = std::make_unique<itk::ConstantBoundaryCondition<ImageType>>();
    condition->SetConstant(static_cast<float>(options.constant));
    return condition;
  }
  throw std::invalid_argument("unknown boundary condition '" + options.boundary +
                              "' (zero-flux-neumann, constant or periodic)");
}

/** Convolves; returns the output and says where it ran and how long it took. */
template <typename TPrecision>
ImageType::Pointer
Convolve(ImageType * input, ImageType * kernel, const Options & options, bool quiet = false)
{
  using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType, ImageType, ImageType, TPrecision>;
  auto filter = FilterType::New();
  auto boundary = MakeBoundary(options);
  filter->SetInput(input);
  filter->SetKernelImage(kernel);
  filter->SetNormalize(options.normalize);
  filter->SetBoundaryCondition(boundary.get());
  filter->SetOutputRegion(ParseMode(options.mode));
  filter->SetGPUMemoryBudget(options.budget);
  filter->SetComputeDevice(options.cpu ? ComputeDevice::CPU : ComputeDevice::AUTOMATIC);
  const auto start = std::chrono::steady_clock::now();
  filter->Update();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!quiet)
  {
    std::cout << "convolved " << input->GetLargestPossibleRegion().GetSize() << " with "
              << kernel->GetLargestPossibleRegion().GetSize() << " (" << options.mode << ", " << options.boundary
              << ") on the " << (filter->GetLastComputeDevice() == ComputeDevice::GPU ? "GPU" : "CPU") << " in "
              << seconds * 1e3 << " ms, " << filter->GetNumberOfTiles() << " tile(s), FFT size "
              << filter->GetLastFFTSize()[0] << "x" << filter->GetLastFFTSize()[1] << "x" << filter->GetLastFFTSize()[2]
              << std::endl;
  }
  ImageType::Pointer output = filter->GetOutput();
  output->DisconnectPipeline();
  return output;
}

ImageType::Pointer
Convolve(ImageType * input, ImageType * kernel, const Options & options)
{
  if (options.precision == "double")
    return Convolve<double>(input, kernel, options);
  if (options.precision == "float")
    return Convolve<float>(input, kernel, options);
  throw std::invalid_argument("unknown precision '" + options.precision + "' (float or double)");
}

void
Write(ImageType * image, const std::string & fileName)
{
  auto writer = itk::ImageFileWriter<ImageType>::New();
  writer->SetInput(image);
  writer->SetFileName(fileName);
  writer->UseCompressionOn();
  writer->Update();
}

/** The originating notebook's phantom: solid spheres of radius r (value 1) centred at (x, y, z),
 * clipped by the volume. */
ImageType::Pointer
Phantom(const ImageType::SizeType & size, double radius, const std::vector<std::array<double, 3>> & centres)
{
  auto image = ImageType::New();
  image->SetRegions(size);
  image->Allocate(true);
  for (itk::ImageRegionIteratorWithIndex<ImageType> it(image, image->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    for (const auto & centre : centres)
    {
      double distance2 = 0;
      for (unsigned int a = 0; a < 3; ++a)
      {
        const double d = it.GetIndex()[a] - centre[a];
        distance2 += d * d;
      }
      if (distance2 <= radius * radius)
      {
        it.Set(1.0f);
      }
    }
  }
  return image;
}

/** A widefield PSF from the Gaussian-beam model: each z plane a Gaussian of width
 * sigma(z) = sigma0 * sqrt(1 + (z / zR)^2) carrying the same energy, which gives the double cone
 * (the missing cone) of a widefield microscope. Normalised to sum 1. */
ImageType::Pointer
GaussianBeamPSF(const ImageType::SizeType & size, double sigma0, double rayleighRange)
{
  auto image = ImageType::New();
  image->SetRegions(size);
  image->Allocate();
  double sum = 0;
  for (itk::ImageRegionIteratorWithIndex<ImageType> it(image, image->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    const double x = it.GetIndex()[0] - static_cast<double>(size[0] / 2);
    const double y = it.GetIndex()[1] - static_cast<double>(size[1] / 2);
    const double z = it.GetIndex()[2] - static_cast<double>(size[2] / 2);
    const double sigma = sigma0 * std::sqrt(1.0 + (z / rayleighRange) * (z / rayleighRange));
    const double value = std::exp(-(x * x + y * y) / (2 * sigma * sigma)) / (sigma * sigma);
    it.Set(static_cast<float>(value));
    sum += value;
  }
  for (itk::ImageRegionIterator<ImageType> it(image, image->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    it.Set(static_cast<float>(it.Get() / sum));
  }
  return image;
}

int
Demo(const std::string & directory, unsigned int scale, const Options & base)
{
  // The notebook: 128 x 512 x 512 (z, y, x), spheres of radius 50 at (x, y, z) = (100, 100, 50),
  // (250, 200, 100), (400, 400, 150), a 128 x 256 x 256 PSF. --demo-scale divides every length.
  const double s = static_cast<double>(scale);
  const ImageType::SizeType size{ { 512 / scale, 512 / scale, 128 / scale } };
  const ImageType::SizeType psfSize{ { 256 / scale, 256 / scale, 128 / scale } };
  auto phantom = Phantom(size, 50 / s, { { 100 / s, 100 / s, 50 / s }, { 250 / s, 200 / s, 100 / s }, { 400 / s, 400 / s, 150 / s } });
  auto psf = GaussianBeamPSF(psfSize, 2.0 / s, 6.0 / s);
  itksys::SystemTools::MakeDirectory(directory);
  Write(phantom, directory + "/phantom.nrrd");
  Write(psf, directory + "/psf.nrrd");
  std::cout << "phantom " << size << " and Gaussian-beam widefield PSF " << psfSize << " written to " << directory
            << std::endl;
  for (const std::string mode : { "same", "valid", "full" })
  {
    Options options = base;
    options.mode = mode;
    options.normalize = true;
    options.boundary = "constant";
    auto result = Convolve(phantom, psf, options);
    Write(result, directory + "/convolved-" + mode + ".nrrd");
  }
  return EXIT_SUCCESS;
}
} // namespace

int
main(int argc, char * argv[])
{
  try
  {
    TCLAP::CmdLine cmd("Convolves an image with a kernel (PSF) by FFT on an NVIDIA GPU (cuFFT), or on the CPU "
                       "through ITK's FFT filters where no GPU is present.",
                       ' ',
                       "1.0");
    TCLAP::ValueArg<std::string> mode("", "mode", "output region: same (default), valid or full", false, "same", "mode", cmd);
    TCLAP::ValueArg<std::string> boundary("", "boundary", "zero-flux-neumann (default), constant or periodic", false,
                                          "zero-flux-neumann", "condition", cmd);
    TCLAP::ValueArg<double>      constant("", "constant", "value outside the image for --boundary constant", false, 0, "value", cmd);
    TCLAP::SwitchArg             normalize("", "normalize", "divide the kernel by its sum", cmd);
    TCLAP::ValueArg<std::string> precision("", "precision", "internal precision: float (default) or double", false,
                                           "float", "precision", cmd);
    TCLAP::ValueArg<double>      budget("", "budget", "GPU memory budget in bytes (default: 80% of the free memory)",
                                   false, 0, "bytes", cmd);
    TCLAP::SwitchArg             cpu("", "cpu", "run on the CPU (ITK's FFT filters)", cmd);
    TCLAP::ValueArg<std::string> demo("", "demo", "run the demo, writing its volumes to this folder", false, "", "folder", cmd);
    TCLAP::ValueArg<unsigned int> demoScale("", "demo-scale", "divide the demo's sizes by this (1: the notebook's)", false,
                                            1, "factor", cmd);
    TCLAP::UnlabeledMultiArg<std::string> files("files", "input image, kernel (PSF) image and output image files",
                                                false, "input kernel output", cmd);
    cmd.parse(argc, argv);

    Options options;
    options.mode = mode.getValue();
    options.boundary = boundary.getValue();
    options.constant = constant.getValue();
    options.normalize = normalize.getValue();
    options.precision = precision.getValue();
    if (budget.getValue() < 0)
    {
      throw std::invalid_argument("the budget must not be negative");
    }
    options.budget = static_cast<itk::SizeValueType>(budget.getValue());
    options.cpu = cpu.getValue();
    ParseMode(options.mode);
    MakeBoundary(options);

    if (demo.isSet())
    {
      if (demoScale.getValue() < 1 || demoScale.getValue() > 16)
      {
        throw std::invalid_argument("--demo-scale must be between 1 and 16");
      }
      return Demo(demo.getValue(), demoScale.getValue(), options);
    }
    const auto & paths = files.getValue();
    if (paths.size() != 3)
    {
      throw std::invalid_argument("give an input, a kernel and an output file (or --demo FOLDER)");
    }
    auto image = itk::ReadImage<ImageType>(paths[0]);
    auto psf = itk::ReadImage<ImageType>(paths[1]);
    auto result = Convolve(image, psf, options);
    Write(result, paths[2]);
    return EXIT_SUCCESS;
  }
  catch (const TCLAP::ArgException & error)
  {
    std::cerr << "CudaFFTConvolution: " << error.error() << " (" << error.argId() << ")" << std::endl;
  }
  catch (const itk::ExceptionObject & error)
  {
    std::cerr << "CudaFFTConvolution: " << error.GetDescription() << std::endl;
  }
  catch (const std::exception & error)
  {
    std::cerr << "CudaFFTConvolution: " << error.what() << std::endl;
  }
  return EXIT_FAILURE;
}
