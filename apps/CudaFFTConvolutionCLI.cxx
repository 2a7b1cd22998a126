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
// Also a 3D Slicer CLI module: --xml prints its description, arguments come in Slicer's shape
// (--flag value, bare boolean flags, positionals), progress goes to stdout as <filter-progress>.
//   CudaFFTConvolution [options] input kernel output
//   CudaFFTConvolution --estimate input kernel          (the GPU memory plan, then exit)
//   CudaFFTConvolution --demo OUTDIR [--demo-scale S]

#include "CudaFFTConvolutionDemo.h"
#include "CudaFFTConvolutionXML.h"

#include "itkCommand.h"
#include "itkConstantBoundaryCondition.h"
#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkImageFileReader.h"
#include "itkImageFileWriter.h"
#include "itkImageIOFactory.h"
#include "itkPeriodicBoundaryCondition.h"
#include "itkZeroFluxNeumannBoundaryCondition.h"
#include "itksys/SystemTools.hxx"

#include <tclap/CmdLine.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <unistd.h>

namespace
{
using OutputRegion = itk::CudaFFTConvolutionImageFilterEnums::OutputRegion;
using ComputeDevice = itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice;

/** A failure the user caused: its message is printed on one line. */
struct UsageError : std::runtime_error
{
  using std::runtime_error::runtime_error;
};

struct Options
{
  std::string        mode{ "same" };
  std::string        boundary{ "zero-flux-neumann" };
  double             constant{ 0 };
  bool               normalize{ false };
  std::string        precision{ "float" };
  itk::SizeValueType budget{ 0 }; // 0: automatic
  bool               cpu{ false };
  bool               progress{ false };
};

/** What a run reports back (Slicer's return parameters). */
struct Report
{
  std::string  device;
  double       seconds{ 0 };
  int          gpu{ -1 }; // the CUDA device ordinal, -1 on the CPU
  unsigned int tiles{ 0 };
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
  throw UsageError("unknown output region mode '" + mode + "': use same, valid or full");
}

/** "auto" (0), or a positive number of bytes with an optional unit: 4GiB, 512MiB, 2e9. */
itk::SizeValueType
ParseBudget(const std::string & text)
{
  if (text == "auto" || text.empty())
    return 0;
  std::size_t  used = 0;
  double       value = 0;
  try
  {
    value = std::stod(text, &used);
  }
  catch (const std::exception &)
  {
    used = 0;
  }
  const std::string unit = text.substr(used);
  double            scale = 0;
  if (unit.empty() || unit == "B")
    scale = 1;
  else if (unit == "KiB")
    scale = 1024.0;
  else if (unit == "MiB")
    scale = 1024.0 * 1024.0;
  else if (unit == "GiB")
    scale = 1024.0 * 1024.0 * 1024.0;
  if (used == 0 || scale == 0 || !(value * scale >= 1))
  {
    throw UsageError("the GPU memory budget '" + text + "' must be 'auto' or a positive size such as 4GiB or 512MiB");
  }
  return static_cast<itk::SizeValueType>(value * scale);
}

/** ITK's messages can span lines; a CLI says what went wrong on one. */
std::string
OneLine(std::string text)
{
  for (auto & c : text)
  {
    if (c == '\n' || c == '\r')
      c = ' ';
  }
  const auto first = text.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : text.substr(first);
}

/** Dimension of an image file, read from its header; a clear message when it cannot be read. */
unsigned int
FileDimension(const std::string & fileName, const char * what)
{
  if (!itksys::SystemTools::FileExists(fileName, true))
  {
    throw UsageError(std::string("the ") + what + " file '" + fileName + "' does not exist");
  }
  auto io = itk::ImageIOFactory::CreateImageIO(fileName.c_str(), itk::ImageIOFactory::IOFileModeEnum::ReadMode);
  if (io.IsNull())
  {
    throw UsageError(std::string("the ") + what + " file '" + fileName + "' is not an image ITK can read");
  }
  io->SetFileName(fileName);
  try
  {
    io->ReadImageInformation();
  }
  catch (const itk::ExceptionObject & error)
  {
    throw UsageError(std::string("the ") + what + " file '" + fileName + "' cannot be read: " +
                     OneLine(error.GetDescription()));
  }
  return io->GetNumberOfDimensions();
}

/** Writes through a temporary name in the same folder and renames: no partial output file. */
template <typename TImage>
void
WriteAtomically(const TImage * image, const std::string & fileName)
{
  const std::string folder = itksys::SystemTools::GetFilenamePath(fileName);
  const std::string partial = (folder.empty() ? std::string() : folder + "/") + ".partial-" + std::to_string(getpid()) +
                              "-" + itksys::SystemTools::GetFilenameName(fileName);
  try
  {
    auto writer = itk::ImageFileWriter<TImage>::New();
    writer->SetInput(image);
    writer->SetFileName(partial);
    writer->UseCompressionOn();
    writer->Update();
  }
  catch (...)
  {
    std::remove(partial.c_str());
    throw;
  }
  if (std::rename(partial.c_str(), fileName.c_str()) != 0)
  {
    std::remove(partial.c_str());
    throw UsageError("cannot write the output file '" + fileName + "'");
  }
}

/** The boundary condition by name, for plans made before a filter exists (--estimate). */
itk::CudaFFTConvolutionImageFilterEnums::Boundary
ParseBoundary(const std::string & boundary)
{
  using Boundary = itk::CudaFFTConvolutionImageFilterEnums::Boundary;
  if (boundary == "zero-flux-neumann")
    return Boundary::ZERO_FLUX_NEUMANN;
  if (boundary == "constant")
    return Boundary::CONSTANT;
  if (boundary == "periodic")
    return Boundary::PERIODIC;
  throw UsageError("unknown boundary condition '" + boundary + "': use zero-flux-neumann, constant or periodic");
}

template <typename TImage>
std::unique_ptr<itk::ImageBoundaryCondition<TImage>>
MakeBoundary(const Options & options)
{
  using Boundary = itk::CudaFFTConvolutionImageFilterEnums::Boundary;
  switch (ParseBoundary(options.boundary))
  {
    case Boundary::PERIODIC:
      return std::make_unique<itk::PeriodicBoundaryCondition<TImage>>();
    case Boundary::CONSTANT:
    {
      auto condition = std::make_unique<itk::ConstantBoundaryCondition<TImage>>();
      condition->SetConstant(static_cast<typename TImage::PixelType>(options.constant));
      return condition;
    }
    case Boundary::ZERO_FLUX_NEUMANN:
      break;
  }
  return std::make_unique<itk::ZeroFluxNeumannBoundaryCondition<TImage>>();
}

template <typename TImage, typename TPrecision>
typename TImage::Pointer
Convolve(const TImage * input, const TImage * kernel, const Options & options, Report & report)
{
  using FilterType = itk::CudaFFTConvolutionImageFilter<TImage, TImage, TImage, TPrecision>;
  auto filter = FilterType::New();
  auto boundary = MakeBoundary<TImage>(options);
  filter->SetInput(input);
  filter->SetKernelImage(kernel);
  filter->SetNormalize(options.normalize);
  filter->SetBoundaryCondition(boundary.get());
  filter->SetOutputRegion(ParseMode(options.mode));
  filter->SetGPUMemoryBudget(options.budget);
  filter->SetComputeDevice(options.cpu ? ComputeDevice::CPU : ComputeDevice::AUTOMATIC);
  if (options.progress)
  {
    auto printer = itk::CStyleCommand::New();
    printer->SetCallback([](itk::Object * caller, const itk::EventObject &, void *) {
      const auto * process = static_cast<const itk::ProcessObject *>(caller);
      std::cout << "<filter-progress>" << process->GetProgress() << "</filter-progress>" << std::endl;
    });
    filter->AddObserver(itk::ProgressEvent(), printer);
  }
  const auto start = std::chrono::steady_clock::now();
  filter->Update();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.device = filter->GetLastComputeDevice() == ComputeDevice::GPU ? "GPU" : "CPU";
  report.gpu = filter->GetLastGPUDevice();
  report.tiles = static_cast<unsigned int>(filter->GetNumberOfTiles());
  std::cout << "convolved " << input->GetLargestPossibleRegion().GetSize() << " with "
            << kernel->GetLargestPossibleRegion().GetSize() << " (" << options.mode << ", " << options.boundary
            << (options.normalize ? ", normalized" : "") << ") on the " << report.device << " in " << report.seconds * 1e3
            << " ms: " << filter->GetNumberOfTiles() << " tile(s), FFT size " << filter->GetLastFFTSize()[0] << "x"
            << filter->GetLastFFTSize()[1] << "x" << filter->GetLastFFTSize()[2] << std::endl;
  typename TImage::Pointer output = filter->GetOutput();
  output->DisconnectPipeline();
  return output;
}

template <typename TImage>
typename TImage::Pointer
Convolve(const TImage * input, const TImage * kernel, const Options & options, Report & report)
{
  if (options.precision == "double")
    return Convolve<TImage, double>(input, kernel, options, report);
  if (options.precision == "float")
    return Convolve<TImage, float>(input, kernel, options, report);
  throw UsageError("unknown precision '" + options.precision + "': use float or double");
}

/** The plan the filter would make, printed: bytes, tiles, FFT size, the largest buffers. */
template <unsigned int VDimension>
void
PrintEstimate(const std::string & inputFile, const std::string & kernelFile, const Options & options)
{
  using ImageType = itk::Image<float, VDimension>;
  auto readSize = [](const std::string & fileName) {
    auto reader = itk::ImageFileReader<ImageType>::New();
    reader->SetFileName(fileName);
    reader->UpdateOutputInformation();
    return reader->GetOutput()->GetLargestPossibleRegion().GetSize();
  };
  const auto mode = ParseMode(options.mode);
  const auto imageSize = readSize(inputFile);
  const auto kernelSize = readSize(kernelFile);
  itk::SizeValueType budget = options.budget;
  std::string        budgetText = std::to_string(budget) + " bytes";
  if (budget == 0)
  {
    std::string reason;
    if (itk::CudaFFTConvolutionEngine::DeviceAvailable(&reason))
    {
      std::uint64_t freeBytes = 0;
      std::uint64_t totalBytes = 0;
      itk::CudaFFTConvolutionEngine::DeviceMemory(freeBytes, totalBytes);
      budget = freeBytes / 10 * 8;
      budgetText = std::to_string(budget) + " bytes (80% of the free GPU memory)";
    }
    else
    {
      budgetText = "none (no GPU: " + reason + ")";
    }
  }
  const auto estimate = [&](auto precision) {
    using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType, ImageType, ImageType, decltype(precision)>;
    return FilterType::MakeGPUPlan(imageSize, kernelSize, mode, budget, ParseBoundary(options.boundary));
  };
  const auto plan = options.precision == "double" ? estimate(double{}) : estimate(float{});
  const auto & m = plan.memory;
  std::cout << "image " << imageSize << ", kernel " << kernelSize << ", " << options.mode << ", " << options.boundary
            << ", " << options.precision << "\nbudget: " << budgetText << "\nestimate: " << m.Peak() << " bytes ("
            << m.Peak() / 1048576.0 << " MiB)\ntiles: " << plan.tiles.size() << " of output size " << plan.tileSize[0]
            << "x" << plan.tileSize[1] << "x" << plan.tileSize[2] << ", FFT size " << plan.fftSize[0] << "x"
            << plan.fftSize[1] << "x" << plan.fftSize[2] << "\nbuffers: FFT " << m.fftBuffer << ", kernel spectrum "
            << m.kernelSpectrum << ", cuFFT work area " << m.workArea << ", cuFFT plans " << m.planData << ", kernel "
            << m.kernelUpload << ", input staging " << m.sourceStaging << ", output staging " << m.tileStaging
            << ", maps " << m.axisMaps << ", page tables " << m.hostMappings << std::endl;
}

template <unsigned int VDimension>
Report
Run(const std::string & inputFile, const std::string & kernelFile, const std::string & outputFile, const Options & options)
{
  using ImageType = itk::Image<float, VDimension>;
  Report report;
  ParseMode(options.mode);
  MakeBoundary<ImageType>(options);
  auto input = itk::ReadImage<ImageType>(inputFile);
  auto kernel = itk::ReadImage<ImageType>(kernelFile);
  auto output = Convolve<ImageType>(input, kernel, options, report);
  WriteAtomically<ImageType>(output, outputFile);
  return report;
}

/** Seconds since \a start. */
double
SecondsSince(std::chrono::steady_clock::time_point start)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int
Demo(const std::string & folder, unsigned int scale, const Options & base)
{
  using namespace CudaFFTConvolutionDemo;
  using Clock = std::chrono::steady_clock;
  // The notebook: 128 x 512 x 512 (z, y, x), spheres of radius 50 at (x, y, z) = (100, 100, 50),
  // (250, 200, 100), (400, 400, 150), a 128 x 256 x 256 PSF. --demo-scale divides every length.
  const double              s = static_cast<double>(scale);
  const ImageType::SizeType size{ { 512 / scale, 512 / scale, 128 / scale } };
  const ImageType::SizeType psfSize{ { 256 / scale, 256 / scale, 128 / scale } };
  const auto                total = Clock::now();
  auto                      start = Clock::now();
  auto phantom = Phantom(size, 50 / s, { { 100 / s, 100 / s, 50 / s }, { 250 / s, 200 / s, 100 / s }, { 400 / s, 400 / s, 150 / s } });
  const double phantomSeconds = SecondsSince(start);
  start = Clock::now();
  auto         psf = GaussianBeamPSF(psfSize, 2.0 / s, 6.0 / s);
  const double psfSeconds = SecondsSince(start);
  if (!itksys::SystemTools::MakeDirectory(folder))
  {
    throw UsageError("cannot create the folder '" + folder + "'");
  }
  double     volumeSeconds = 0;
  double     projectionSeconds = 0;
  const auto write = [&](const ImageType * image, const std::string & name, double gamma) {
    auto begin = Clock::now();
    WriteVolume(image, folder + "/" + name + ".nrrd");
    volumeSeconds += SecondsSince(begin);
    begin = Clock::now();
    WriteProjections(image, folder + "/" + name + ".png", gamma);
    projectionSeconds += SecondsSince(begin);
  };
  write(phantom, "phantom", 1.0);
  write(psf, "psf", 0.3);
  std::cout << "demo: phantom " << size << " (three spheres of radius " << 50 / s
            << ") and a Gaussian-beam widefield PSF " << psfSize << " in " << folder << std::endl;
  std::ostringstream convolutions;
  convolutions << std::fixed << std::setprecision(2);
  double convolveSeconds = 0;
  for (const std::string mode : { "same", "valid", "full" })
  {
    Options options = base;
    options.mode = mode;
    options.normalize = true;
    options.boundary = "constant";
    Report report;
    auto   result = Convolve<ImageType>(phantom, psf, options, report);
    convolveSeconds += report.seconds;
    convolutions << "\n    " << mode << ": " << report.seconds << " s on the " << report.device
                 << (report.gpu >= 0 ? " " + std::to_string(report.gpu) : std::string()) << ", " << report.tiles
                 << " tile(s)";
    write(result, "convolved-" + mode, 0.5);
    if (report.device == "CPU")
    {
      std::cout << "  (no GPU was used: " << (options.cpu ? "--cpu was given" : "no CUDA device is present") << ")"
                << std::endl;
    }
  }
  std::cout << "demo: wrote phantom, psf and convolved-{same,valid,full} as .nrrd volumes (uncompressed) and .png "
               "projections (xy | zy)"
            << std::endl;
  std::ostringstream timing;
  timing << std::fixed << std::setprecision(2) << "demo timing: " << SecondsSince(total) << " s in all\n  generate "
         << phantomSeconds + psfSeconds << " s (phantom " << phantomSeconds << ", PSF " << psfSeconds
         << ")\n  convolve " << convolveSeconds << " s" << convolutions.str() << "\n  write "
         << volumeSeconds + projectionSeconds << " s (volumes " << volumeSeconds << ", projections "
         << projectionSeconds << ")";
  std::cout << timing.str() << std::endl;
  return EXIT_SUCCESS;
}
} // namespace

int
main(int argc, char * argv[])
{
  // Slicer reads the description from stdout; nothing else may be printed.
  for (int i = 1; i < argc; ++i)
  {
    if (std::string(argv[i]) == "--xml")
    {
      std::cout << CudaFFTConvolutionXML;
      return EXIT_SUCCESS;
    }
  }
  try
  {
    TCLAP::CmdLine cmd("Convolves an image with a kernel (PSF) by FFT on an NVIDIA GPU (cuFFT), or on the CPU through "
                       "ITK's FFT filters where no GPU is present. Also a 3D Slicer CLI module (--xml).",
                       ' ',
                       "1.0.0");
    TCLAP::ValueArg<std::string> mode("", "mode", "output region: same (default), valid or full", false, "same", "mode", cmd);
    TCLAP::ValueArg<std::string> boundary(
      "", "boundary", "zero-flux-neumann (default), constant or periodic", false, "zero-flux-neumann", "condition", cmd);
    TCLAP::ValueArg<double>      constant("", "constant", "value outside the image for --boundary constant", false, 0, "value", cmd);
    TCLAP::SwitchArg             normalize("", "normalize", "divide the kernel by its sum", cmd);
    TCLAP::ValueArg<std::string> precision("", "precision", "internal precision: float (default) or double", false, "float", "precision", cmd);
    TCLAP::ValueArg<std::string> budget("", "budget", "GPU memory budget: auto (80% of the free memory) or a size such as 4GiB", false, "auto", "size", cmd);
    TCLAP::SwitchArg             cpu("", "cpu", "run on the CPU (ITK's FFT filters) even where a GPU is present", cmd);
    TCLAP::SwitchArg             estimate("", "estimate", "print the GPU memory plan and tiling for input and kernel, then exit", cmd);
    TCLAP::ValueArg<std::string> demo("", "demo", "run the demo, writing its volumes and pictures to this folder", false, "", "folder", cmd);
    TCLAP::ValueArg<unsigned int> demoScale("", "demo-scale", "divide the demo's sizes by this (1: the notebook's)", false, 1, "factor", cmd);
    TCLAP::ValueArg<std::string> returnParameterFile("", "returnparameterfile", "file to write output parameters to (Slicer)", false, "", "file", cmd);
    TCLAP::ValueArg<std::string> processInformation("", "processinformationaddress", "ignored (Slicer)", false, "", "address", cmd);
    TCLAP::SwitchArg             xml("", "xml", "print the Slicer module description and exit", cmd);
    TCLAP::UnlabeledMultiArg<std::string> files("files", "input image, kernel (PSF) image and output image", false, "input kernel output", cmd);
    cmd.parse(argc, argv);

    Options options;
    options.mode = mode.getValue();
    options.boundary = boundary.getValue();
    options.constant = constant.getValue();
    options.normalize = normalize.getValue();
    options.precision = precision.getValue();
    options.budget = ParseBudget(budget.getValue());
    options.cpu = cpu.getValue();
    options.progress = true;
    ParseMode(options.mode);
    if (options.precision != "float" && options.precision != "double")
    {
      throw UsageError("unknown precision '" + options.precision + "': use float or double");
    }

    if (demo.isSet())
    {
      if (demoScale.getValue() < 1 || demoScale.getValue() > 16)
      {
        throw UsageError("--demo-scale must be between 1 and 16");
      }
      options.progress = false;
      return Demo(demo.getValue(), demoScale.getValue(), options);
    }
    const auto & paths = files.getValue();
    if (paths.size() != (estimate.getValue() ? 2u : 3u))
    {
      throw UsageError(estimate.getValue() ? "--estimate takes an input and a kernel file"
                                           : "give an input, a kernel and an output file (or --demo FOLDER)");
    }
    const unsigned int dimension = FileDimension(paths[0], "input");
    const unsigned int kernelDimension = FileDimension(paths[1], "kernel");
    if (dimension != kernelDimension)
    {
      throw UsageError("the input has " + std::to_string(dimension) + " dimensions but the kernel has " +
                       std::to_string(kernelDimension));
    }
    if (dimension != 2 && dimension != 3)
    {
      throw UsageError("the input has " + std::to_string(dimension) + " dimensions; 2 or 3 are supported");
    }
    if (estimate.getValue())
    {
      dimension == 2 ? PrintEstimate<2>(paths[0], paths[1], options) : PrintEstimate<3>(paths[0], paths[1], options);
      return EXIT_SUCCESS;
    }
    const Report report =
      dimension == 2 ? Run<2>(paths[0], paths[1], paths[2], options) : Run<3>(paths[0], paths[1], paths[2], options);
    if (returnParameterFile.isSet())
    {
      std::ofstream parameters(returnParameterFile.getValue());
      parameters << "computeDevice = " << report.device << "\nelapsedSeconds = " << report.seconds << "\n";
    }
    return EXIT_SUCCESS;
  }
  catch (const TCLAP::ArgException & error)
  {
    std::cerr << "CudaFFTConvolution: " << OneLine(error.error()) << " (" << error.argId() << ")" << std::endl;
  }
  catch (const itk::ExceptionObject & error)
  {
    std::cerr << "CudaFFTConvolution: " << OneLine(error.GetDescription()) << std::endl;
  }
  catch (const std::exception & error)
  {
    std::cerr << "CudaFFTConvolution: " << OneLine(error.what()) << std::endl;
  }
  return EXIT_FAILURE;
}
