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
//   CudaFFTConvolution --demo OUTDIR [--demo-scale S] [--demo-format nrrd|tif]
// Image files: any format ITK reads, TIFF stacks and OME-TIFF included (CudaFFTConvolutionImageFiles.h).

#include "CudaFFTConvolutionCLISupport.h"
#include "CudaFFTConvolutionImageFiles.h"
#include "CudaFFTConvolutionDemo.h"
#include "CudaFFTConvolutionXML.h"

#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkImageFileReader.h"

#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <vector>

namespace
{
using namespace CudaFFTConvolutionCLI;
using ComputeDevice = itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice;

struct Options
{
  std::string        mode{ "same" };
  std::string        boundary{ "zero-flux-neumann" };
  double             constant{ 0 };
  bool               normalize{ false };
  std::string        precision{ "float" };
  itk::SizeValueType budget{ 0 }; // 0: automatic
  bool               cpu{ false };
  std::string        fftBackend{}; // "": the environment's (cuFFT when unset)
  bool               progress{ false };
  std::string        spacing;               // --spacing "sx,sy[,sz]", "" for the file's
  std::string        outputType{ "float" }; // ParseOutputType
};

/** What a run reports back (Slicer's return parameters). */
struct Report
{
  std::string  device;
  double       seconds{ 0 };
  int          gpu{ -1 }; // the CUDA device ordinal, -1 on the CPU
  unsigned int tiles{ 0 };
  std::string  fftBackend{ "none" }; // cufft or vkfft on the GPU
};

template <typename TImage, typename TPrecision>
typename TImage::Pointer
Convolve(const TImage * input, const TImage * kernel, const Options & options, Report & report)
{
  using FilterType = itk::CudaFFTConvolutionImageFilter<TImage, TImage, TImage, TPrecision>;
  auto filter = FilterType::New();
  auto boundary = MakeBoundary<TImage>(options.boundary, options.constant);
  filter->SetInput(input);
  filter->SetKernelImage(kernel);
  filter->SetNormalize(options.normalize);
  filter->SetBoundaryCondition(boundary.get());
  filter->SetOutputRegion(ParseMode(options.mode));
  filter->SetGPUMemoryBudget(options.budget);
  filter->SetComputeDevice(options.cpu ? ComputeDevice::CPU : ComputeDevice::AUTOMATIC);
  SetFFTBackend(filter.GetPointer(), options.fftBackend);
  if (options.progress)
  {
    PrintProgressEvents(filter);
  }
  const auto start = std::chrono::steady_clock::now();
  filter->Update();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.device = filter->GetLastComputeDevice() == ComputeDevice::GPU ? "GPU" : "CPU";
  report.gpu = filter->GetLastGPUDevice();
  report.tiles = static_cast<unsigned int>(filter->GetNumberOfTiles());
  report.fftBackend = LastFFTBackendName(filter.GetPointer());
  std::cout << "convolved " << input->GetLargestPossibleRegion().GetSize() << " with "
            << kernel->GetLargestPossibleRegion().GetSize() << " (" << options.mode << ", " << options.boundary
            << (options.normalize ? ", normalized" : "") << ") on the " << report.device
            << (report.fftBackend != "none" ? " (" + report.fftBackend + ")" : std::string()) << " in "
            << report.seconds * 1e3 << " ms: " << filter->GetNumberOfTiles() << " tile(s), FFT size "
            << filter->GetLastFFTSize()[0] << "x" << filter->GetLastFFTSize()[1] << "x" << filter->GetLastFFTSize()[2]
            << std::endl;
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
  CheckPrecision(options.precision);
  return Convolve<TImage, float>(input, kernel, options, report);
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
  const auto               mode = ParseMode(options.mode);
  const auto               imageSize = readSize(inputFile);
  const auto               kernelSize = readSize(kernelFile);
  std::string              budgetText;
  const itk::SizeValueType budget = PlanningBudget(options.budget, budgetText);
  // The plan the filter would make: the backend set with --fft-backend, else the environment's.
  const auto backend = options.fftBackend.empty()
                         ? itk::CudaFFTConvolutionFilterSupport::DefaultFFTBackend()
                         : itk::CudaFFTConvolutionImageFilterEnums::FFTBackendFromName(options.fftBackend);
  const auto estimate = [&](auto precision) {
    using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType, ImageType, ImageType, decltype(precision)>;
    return FilterType::MakeGPUPlan(imageSize, kernelSize, mode, budget, ParseBoundary(options.boundary), backend);
  };
  const auto   plan = options.precision == "double" ? estimate(double{}) : estimate(float{});
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
Run(const std::string & inputFile,
    const std::string & kernelFile,
    const std::string & outputFile,
    const Options &     options)
{
  using ImageType = itk::Image<float, VDimension>;
  Report report;
  ParseMode(options.mode);
  MakeBoundary<ImageType>(options.boundary, options.constant);
  const auto           spacing = ParseSpacing(options.spacing, VDimension);
  ImageFileInformation information;
  auto                 input = ReadImageFile<ImageType>(inputFile, spacing, information);
  auto                 kernel = ReadKernelFile<ImageType>(kernelFile, input.GetPointer());
  const auto           outputType = ParseOutputType(options.outputType, information.componentType);
  auto                 output = Convolve<ImageType>(input, kernel, options, report);
  WriteImageFile<ImageType>(output, outputFile, outputType, information.unit);
  return report;
}

/** Seconds since \a start. */
double
SecondsSince(std::chrono::steady_clock::time_point start)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int
Demo(const std::string & folder, unsigned int scale, const std::string & format, const Options & base)
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
  auto                      phantom = Phantom(
    size, 50 / s, { { 100 / s, 100 / s, 50 / s }, { 250 / s, 200 / s, 100 / s }, { 400 / s, 400 / s, 150 / s } });
  const double phantomSeconds = SecondsSince(start);
  start = Clock::now();
  auto         psf = WidefieldPSF(psfSize, s);
  const double psfSeconds = SecondsSince(start);
  phantom->SetSpacing(psf->GetSpacing()); // the PSF's voxels (um): the volumes overlay in a viewer
  if (!itksys::SystemTools::MakeDirectory(folder))
  {
    throw UsageError("cannot create the folder '" + folder + "'");
  }
  double     volumeSeconds = 0;
  double     projectionSeconds = 0;
  const auto write = [&](const ImageType * image, const std::string & name, double gamma) {
    auto begin = Clock::now();
    if (format == "tif")
      WriteImageFile(image, folder + "/" + name + ".tif", itk::IOComponentEnum::FLOAT, "");
    else
      WriteVolume(image, folder + "/" + name + ".nrrd");
    volumeSeconds += SecondsSince(begin);
    begin = Clock::now();
    WriteProjections(image, folder + "/" + name + ".png", gamma);
    projectionSeconds += SecondsSince(begin);
  };
  write(phantom, "phantom", 1.0);
  write(psf, "psf", 0.3);
  std::cout << "demo: phantom " << size << " (three spheres of radius " << 50 / s << ") and a widefield PSF " << psfSize
            << " (Gibson-Lanni: NA 1.4 oil, water 5 um deep) in " << folder << std::endl;
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
  std::cout << "demo: wrote phantom, psf and convolved-{same,valid,full} as ."
            << (format == "tif" ? "tif stacks" : "nrrd volumes") << " (uncompressed) and .png projections (xy | zy)"
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
/** Convolves (or, with --estimate, plans) the files named on the command line. */
int
ConvolveFiles(const std::vector<std::string> & paths,
              bool                             estimate,
              const Options &                  options,
              const std::string &              returnParameterFile)
{
  if (paths.size() != (estimate ? 2u : 3u))
  {
    throw UsageError(estimate ? "--estimate takes an input and a kernel file"
                              : "give an input, a kernel and an output file (or --demo FOLDER)");
  }
  const unsigned int dimension = ImageAndKernelDimension(paths[0], paths[1], "kernel");
  if (estimate)
  {
    dimension == 2 ? PrintEstimate<2>(paths[0], paths[1], options) : PrintEstimate<3>(paths[0], paths[1], options);
    return EXIT_SUCCESS;
  }
  const Report report =
    dimension == 2 ? Run<2>(paths[0], paths[1], paths[2], options) : Run<3>(paths[0], paths[1], paths[2], options);
  ReturnParameters parameters;
  parameters.Add("computeDevice", report.device);
  parameters.Add("elapsedSeconds", report.seconds);
  parameters.Add("fftBackend", report.fftBackend);
  parameters.Write(returnParameterFile);
  return EXIT_SUCCESS;
}

int
Main(int argc, char * argv[])
{
  TCLAP::CmdLine cmd("Convolves an image with a kernel (PSF) by FFT on an NVIDIA GPU (cuFFT), or on the CPU through "
                     "ITK's FFT filters where no GPU is present. Also a 3D Slicer CLI module (--xml).",
                     ' ',
                     "1.0.0");
  TCLAP::ValueArg<std::string> mode(
    "", "mode", "output region: same (default), valid or full", false, "same", "mode", cmd);
  TCLAP::ValueArg<std::string> boundary(
    "", "boundary", "zero-flux-neumann (default), constant or periodic", false, "zero-flux-neumann", "condition", cmd);
  TCLAP::ValueArg<double> constant(
    "", "constant", "value outside the image for --boundary constant", false, 0, "value", cmd);
  TCLAP::SwitchArg             normalize("", "normalize", "divide the kernel by its sum", cmd);
  TCLAP::ValueArg<std::string> precision(
    "", "precision", "internal precision: float (default) or double", false, "float", "precision", cmd);
  TCLAP::ValueArg<std::string> budget("",
                                      "budget",
                                      "GPU memory budget: auto (80% of the free memory) or a size such as 4GiB",
                                      false,
                                      "auto",
                                      "size",
                                      cmd);
  TCLAP::SwitchArg             cpu("", "cpu", "run on the CPU (ITK's FFT filters) even where a GPU is present", cmd);
  TCLAP::ValueArg<std::string> fftBackend("",
                                          "fft-backend",
                                          "the GPU's FFT library: auto, cufft or vkfft (default: the environment's "
                                          "CUDAFFTCONVOLUTION_FFT_BACKEND, cufft when unset)",
                                          false,
                                          "",
                                          "backend",
                                          cmd);
  TCLAP::SwitchArg             estimate(
    "", "estimate", "print the GPU memory plan and tiling for input and kernel, then exit", cmd);
  TCLAP::ValueArg<std::string> demo(
    "", "demo", "run the demo, writing its volumes and pictures to this folder", false, "", "folder", cmd);
  TCLAP::ValueArg<std::string> spacing(
    "", "spacing", "voxel spacing of the input, sx,sy[,sz], instead of the file's", false, "", "sx,sy,sz", cmd);
  TCLAP::ValueArg<std::string> outputType(
    "",
    "output-type",
    "voxel type of the output file: float (default), input (the input's), double, uint8, int8, uint16, int16, uint32 "
    "or int32 (integers rounded and clamped)",
    false,
    "float",
    "type",
    cmd);
  TCLAP::ValueArg<std::string> demoFormat(
    "", "demo-format", "the demo's volumes as nrrd (default) or tif stacks", false, "nrrd", "format", cmd);
  TCLAP::ValueArg<unsigned int> demoScale(
    "", "demo-scale", "divide the demo's sizes by this (1: the notebook's)", false, 1, "factor", cmd);
  SlicerArguments                       slicer(cmd);
  TCLAP::UnlabeledMultiArg<std::string> files(
    "files", "input image, kernel (PSF) image and output image", false, "input kernel output", cmd);
  cmd.parse(argc, argv);

  Options options;
  options.mode = mode.getValue();
  options.boundary = boundary.getValue();
  options.constant = constant.getValue();
  options.normalize = normalize.getValue();
  options.precision = precision.getValue();
  options.budget = ParseBudget(budget.getValue());
  options.cpu = cpu.getValue();
  options.fftBackend = fftBackend.getValue();
  options.progress = true;
  options.spacing = spacing.getValue();
  options.outputType = outputType.getValue();
  ParseMode(options.mode);
  ParseOutputType(options.outputType);
  CheckFFTBackend(options.fftBackend);
  CheckPrecision(options.precision);
  if (!demo.isSet())
  {
    return ConvolveFiles(files.getValue(), estimate.getValue(), options, slicer.returnParameterFile.getValue());
  }
  if (demoScale.getValue() < 1 || demoScale.getValue() > 16)
  {
    throw UsageError("--demo-scale must be between 1 and 16");
  }
  if (demoFormat.getValue() != "nrrd" && demoFormat.getValue() != "tif")
  {
    throw UsageError("unknown --demo-format '" + demoFormat.getValue() + "': use nrrd or tif");
  }
  options.progress = false;
  return Demo(demo.getValue(), demoScale.getValue(), demoFormat.getValue(), options);
}
} // namespace

int
main(int argc, char * argv[])
{
  if (PrintXMLIfAsked(argc, argv, CudaFFTConvolutionXML))
  {
    return EXIT_SUCCESS;
  }
  return RunReportingErrors("CudaFFTConvolution", [&] { return Main(argc, argv); });
}
