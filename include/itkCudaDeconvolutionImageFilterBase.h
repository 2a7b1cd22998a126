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
#ifndef itkCudaDeconvolutionImageFilterBase_h
#define itkCudaDeconvolutionImageFilterBase_h

#include "itkConvolutionImageFilterBase.h"
#include "itkCudaDeconvolutionImageFilterEnums.h"
#include "itkCudaDeconvolutionPlanner.h"
#include "itkCudaFFTConvolutionBoundaryConditions.h"
#include "itkCudaFFTConvolutionCompatibility.h"
#include "itkCudaFFTConvolutionEngine.h"
#include "itkCudaFFTConvolutionImageFilterEnums.h"
#include "itkFFTConvolutionImageFilter.h"
#include "itkImage.h"

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace itk
{
/** \class CudaDeconvolutionImageFilterBase
 * \brief Base of the module's deconvolution filters: FFT deconvolution on an NVIDIA GPU, with
 * ITK's deconvolution filters as the CPU path.
 *
 * The inputs are those of ITK's deconvolution filters (the blurred image, and the kernel through
 * SetKernelImage), with Normalize, BoundaryCondition, OutputRegionMode and
 * SizeGreatestPrimeFactor (default: that of ITK's forward FFT, 13 with FFTW). With the default
 * Edges (BoundaryCondition) the GPU deconvolves on ITK's padded grid (ITK 5.3 and later: the
 * image extended by the kernel radius with the boundary condition, then to an FFT-friendly size),
 * so results match ITK's. Edges NonCirculant (GPU only) does not assume the image repeats.
 *
 * Output: SAME is the input's largest region; VALID is ITK's valid region (the voxels whose
 * whole kernel footprint lies inside the image; empty where the kernel does not fit). ITK's own
 * deconvolution filters ignore VALID; these crop their result. There is no FULL mode.
 *
 * The whole image and kernel are read (no streaming). On the GPU, volumes larger than the memory
 * budget (SetGPUMemoryBudget; default 80% of the free memory) are cut into tiles, each
 * deconvolved with a halo (SetHalo; default twice the kernel size per side) and its block kept.
 *
 * Without a CUDA device, or with SetComputeDevice(CPU), the update runs ITK's own filter of the
 * same algorithm (RichardsonLucyDeconvolutionImageFilter etc.) in TInternalPrecision. Options ITK
 * lacks (NonCirculant edges, acceleration, total variation, background, stopping tolerances,
 * divergence measurement) then raise an exception instead of being ignored.
 *
 * The boundary conditions the engine implements (Constant, ZeroFluxNeumann, Periodic) are
 * copied into the filter as by CudaFFTConvolutionImageFilter, or set by name.
 *
 * Input values are checked before any work: NaN or infinity in the image or kernel is an
 * exception naming the voxel, as is a kernel that cannot be normalized.
 *
 * \warning Like ITK's filters, these ignore the kernel's spacing, origin, orientation and start
 * index.
 * \sa CudaFFTConvolutionImageFilter IterativeDeconvolutionImageFilter
 * \ingroup CudaFFTConvolution
 */
template <typename TInputImage,
          typename TKernelImage = TInputImage,
          typename TOutputImage = TInputImage,
          typename TInternalPrecision = float>
class ITK_TEMPLATE_EXPORT CudaDeconvolutionImageFilterBase
  : public ConvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage>
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(CudaDeconvolutionImageFilterBase);

  using Self = CudaDeconvolutionImageFilterBase;
  using Superclass = ConvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage>;
  using Pointer = SmartPointer<Self>;
  using ConstPointer = SmartPointer<const Self>;

  itkOverrideGetNameOfClassMacro(CudaDeconvolutionImageFilterBase);

  static constexpr unsigned int ImageDimension = TInputImage::ImageDimension;

  using InputImageType = TInputImage;
  using KernelImageType = TKernelImage;
  using OutputImageType = TOutputImage;
  using InputPixelType = typename InputImageType::PixelType;
  using KernelPixelType = typename KernelImageType::PixelType;
  using OutputPixelType = typename OutputImageType::PixelType;
  using InputRegionType = typename InputImageType::RegionType;
  using OutputRegionType = typename OutputImageType::RegionType;
  using SizeType = typename InputImageType::SizeType;
  using InternalPrecisionType = TInternalPrecision;
  using InternalImageType = Image<InternalPrecisionType, ImageDimension>;

  using typename Superclass::BoundaryConditionType;
  using typename Superclass::OutputRegionModeEnum;
  using OutputRegionEnum = CudaFFTConvolutionImageFilterEnums::OutputRegion;
  using ComputeDeviceEnum = CudaFFTConvolutionImageFilterEnums::ComputeDevice;
  using FFTBackendEnum = CudaFFTConvolutionImageFilterEnums::FFTBackend;
  using EdgesEnum = CudaDeconvolutionImageFilterEnums::Edges;
  using PlannerType = CudaDeconvolutionPlanner;
  using PlanType = PlannerType::Plan;
  using AlgorithmEnum = PlannerType::Algorithm;
  using SettingsType = CudaFFTConvolutionEngine::DeconvolutionSettings;
  using IterationFunctionType = CudaFFTConvolutionEngine::IterationFunction;

  /** ITK's filter of the same algorithm: the CPU path. */
  using CPUFilterType = FFTConvolutionImageFilter<TInputImage, TKernelImage, InternalImageType, TInternalPrecision>;

  static_assert(ImageDimension >= 1 && ImageDimension <= 3, "the deconvolution filters support 1 to 3 dimensions");
  static_assert(std::is_same<TInternalPrecision, float>::value || std::is_same<TInternalPrecision, double>::value,
                "the internal precision must be float or double");
  static_assert(std::is_arithmetic<InputPixelType>::value && std::is_arithmetic<KernelPixelType>::value &&
                  std::is_arithmetic<OutputPixelType>::value,
                "the input, kernel and output pixel types must be scalar");

  /** Copies a ConstantBoundaryCondition (with its constant), ZeroFluxNeumannBoundaryCondition or
   * PeriodicBoundaryCondition of TInputImage into the filter (see CudaFFTConvolutionImageFilter);
   * any other condition is kept by pointer and rejected by the update. */
  void
  SetBoundaryCondition(BoundaryConditionType * condition) override;

  /** "zero-flux-neumann" (also "neumann"), "constant" (the constant 0) or "periodic". */
  virtual void
  SetBoundaryCondition(const std::string & name);

  /** SAME or VALID; any other value (FULL) is refused with an exception. */
  void
  SetOutputRegionMode(const OutputRegionModeEnum mode) override;

  /** The module's enum: SAME or VALID; FULL is refused with an exception. */
  virtual void
  SetOutputRegion(const OutputRegionEnum mode);

  /** How the edges are treated: BoundaryCondition (default, ITK's results) or NonCirculant (GPU). */
  itkSetEnumMacro(Edges, EdgesEnum);
  itkGetEnumMacro(Edges, EdgesEnum);

  /** FFT sizes have no prime factor larger than this (default: ITK's forward FFT's). */
  itkSetMacro(SizeGreatestPrimeFactor, SizeValueType);
  itkGetConstMacro(SizeGreatestPrimeFactor, SizeValueType);

  /** Voxels of data read on each side of a tile's output block when the GPU tiles; 0 along an
   * axis (the default) means the halo from the kernel's energy (HaloEnergyFraction), or twice
   * the kernel size where that fraction is 0. */
  itkSetMacro(Halo, SizeType);
  itkGetConstReferenceMacro(Halo, SizeType);

  /** Where the halo is 0: twice the radius about the kernel's centre holding all but this
   * fraction of its marginal energy, per axis (default 1e-2; docs/deconvolution.md gives the seam error it
   * leaves); 0: twice the kernel size. In [0, 1). */
  itkSetMacro(HaloEnergyFraction, double);
  itkGetConstMacro(HaloEnergyFraction, double);

  /** Where to run: AUTOMATIC (default), GPU (a missing device is an error) or CPU. */
  itkSetEnumMacro(ComputeDevice, ComputeDeviceEnum);
  itkGetEnumMacro(ComputeDevice, ComputeDeviceEnum);

  /** Where the last update ran: GPU or CPU (AUTOMATIC before the first update). */
  itkGetEnumMacro(LastComputeDevice, ComputeDeviceEnum);

  /** The CUDA device: an ordinal, or -1 (default) for the calling thread's current one. */
  itkSetMacro(GPUDevice, int);
  itkGetConstMacro(GPUDevice, int);

  /** The CUDA device ordinal the last update ran on; -1 when it ran on the CPU. */
  itkGetConstMacro(LastGPUDevice, int);

  /** The FFT library under the GPU engine: AUTO (VkFFT where it plans the size, else cuFFT),
   * CUFFT or VKFFT (CudaFFTConvolutionImageFilterEnums::FFTBackend). By default the environment's
   * choice, CUDAFFTCONVOLUTION_FFT_BACKEND read when the filter is made; cuFFT when it is unset.
   * The CPU path ignores it. */
  itkSetEnumMacro(FFTBackend, FFTBackendEnum);
  itkGetEnumMacro(FFTBackend, FFTBackendEnum);

  /** Sets the FFT backend by name: "auto", "cufft" or "vkfft" (case ignored); another name throws
   * an ExceptionObject that names it and the choices. For ITK's Python functional interface:
   * fft_backend="vkfft". */
  virtual void
  SetFFTBackend(const std::string & name);

  /** The backend the last GPU update transformed with: CUFFT or VKFFT (CUFFT where VKFFT was
   * asked for but its plugin could not be loaded or could not plan the size: the engine then
   * warns on stderr). AUTO before the first GPU update and after an update on the CPU. */
  itkGetEnumMacro(LastFFTBackend, FFTBackendEnum);

  /** Device bytes the filter may use; 0 (default) means 80% of the device's free memory. */
  itkSetMacro(GPUMemoryBudget, SizeValueType);
  itkGetConstMacro(GPUMemoryBudget, SizeValueType);

  /** Tiles of the last update (1 on the CPU, 0 before the first update or for an empty output). */
  itkGetConstMacro(NumberOfTiles, SizeValueType);

  /** Device bytes the last GPU update's plan was estimated to need (0 after a CPU update). */
  itkGetConstMacro(LastEstimatedGPUMemory, SizeValueType);

  /** Device bytes an update with the current inputs and settings would need: the plan it would
   * make now (under GPUMemoryBudget, or the default share of the free memory when a device is
   * present), with cuFFT's exact work area when a device is present. Brings the pipeline's
   * information up to date; 0 for an empty output. */
  SizeValueType
  EstimateGPUMemory();

#if !defined(ITK_WRAPPING_PARSER) // the plan's type is not wrapped
  /** The whole plan behind EstimateGPUMemory: tiles, FFT size, each buffer's bytes. C++ only. */
  PlannerType::Plan
  MakeGPUPlan();
#endif

  /** Device bytes the filter's GPU engine holds now (its buffers stay allocated between updates
   * until ReleaseGPUResources; during an IterationEvent, those of the running deconvolution). */
  SizeValueType
  GetAllocatedGPUMemory() const;

  /** Frees every GPU buffer, cuFFT plan and cached kernel spectrum of the filter. */
  void
  ReleaseGPUResources();

protected:
  CudaDeconvolutionImageFilterBase();
  ~CudaDeconvolutionImageFilterBase() override;

  void
  GenerateOutputInformation() override;

  /** The largest possible region of both inputs. */
  void
  GenerateInputRequestedRegion() override;

  /** The whole output is computed at once. */
  void
  EnlargeOutputRequestedRegion(DataObject * output) override;

  void
  GenerateData() override;

  void
  PrintSelf(std::ostream & os, Indent indent) const override;

  /** The algorithm a subclass implements. */
  virtual AlgorithmEnum
  GetAlgorithm() const = 0;

  /** ITK's filter of the algorithm with the subclass's parameters set (the base sets the inputs,
   * Normalize, the boundary condition and SizeGreatestPrimeFactor). */
  virtual typename CPUFilterType::Pointer
  MakeCPUFilter() const = 0;

  /** Runs ITK's filter (iterative subclasses add the iterations and their events). */
  virtual void
  RunCPUFilter(CPUFilterType * filter);

  /** Adds the subclass's choices to the plan request (e.g. acceleration). */
  virtual void
  FillRequest(PlannerType::Request & request) const;

  /** Adds the subclass's parameters to the engine's settings; the base sets Normalize and the
   * constant of a constant boundary. */
  virtual void
  FillSettings(SettingsType & settings) const;

  /** Checks the values before any work; the base rejects NaN and infinity, and a kernel that
   * cannot be normalized when Normalize is on. Throws an ExceptionObject naming a voxel. */
  virtual void
  VerifyValues(const InternalPrecisionType * input, const InternalPrecisionType * kernel) const;

  /** The name of the first option set that only the GPU implements, or "" (the base: Edges
   * NonCirculant). */
  virtual std::string
  GetGPUOnlyOption() const;

  /** The engine's IterationFunction for a plan (empty for the direct methods). */
  virtual IterationFunctionType
  MakeIterationFunction(const PlanType & plan);

  /** Called after the engine's run returns (iterative subclasses read the iterations done). */
  virtual void
  AfterGPURun()
  {}

  /** Copies the current estimate of the running GPU deconvolution (its current tile's block)
   * into \a values, which hold the output region; for GetCurrentEstimate. */
  void
  CopyCurrentEstimateFromGPU(InternalPrecisionType * values) const;

  /** Iterations the last GPU run's last tile did. */
  unsigned int
  GetLastGPUIterations() const
  {
    return m_Engine ? m_Engine->LastIterations() : 0;
  }

  /** True while the GPU runs the update (false on the CPU path). */
  bool
  IsRunningOnGPU() const
  {
    return m_RunningOnGPU;
  }

  /** The planner's boundary for the filter's boundary condition; throws for unsupported ones. */
  PlannerType::Boundary
  GetPlannerBoundary(InputPixelType & constant) const;

  PlannerType::SizeArray
  GetKernelSizeArray() const;

  /** Names the voxel at \a offset of an image's buffer, for messages. */
  template <typename TImage>
  static std::string
  VoxelName(const TImage * image, std::size_t offset);

private:
  /** The buffers of one update in the internal precision. */
  struct Buffers
  {
    const InternalPrecisionType * input{ nullptr };
    const InternalPrecisionType * kernel{ nullptr };
    InternalPrecisionType *       output{ nullptr };
  };

  /** The request both the estimate and the update plan from. */
  PlannerType::Request
  MakeRequest(const PlannerType::Box & input, const PlannerType::Box & output) const;

  /** True to run on the GPU; throws when the GPU was required but is missing, or when the CPU
   * would have to run an option only the GPU has. */
  bool
  ChooseGPU() const;

  void
  VerifyCPUCanRun(const std::string & why) const;

  /** Runs on the GPU; false when AUTOMATIC should fall back to the CPU (after a warning). */
  bool
  TryGPU(const Buffers & buffers);

  void
  RunOnGPU(const Buffers & buffers);

  PlanType
  PlanForGPU(const PlannerType::Request & request) const;

  void
  RunPlanOnGPU(const PlanType & plan, const Buffers & buffers);

  void
  RunOnCPU();

  /** Copies ITK's SAME result into the output (its region only: VALID crops). */
  void
  CopyCPUResult(const InternalImageType * result);

  EdgesEnum         m_Edges{ EdgesEnum::BoundaryCondition };
  SizeValueType     m_SizeGreatestPrimeFactor{ 13 };
  SizeType          m_Halo{};
  double            m_HaloEnergyFraction{ PlannerType::DefaultHaloEnergyFraction };
  ComputeDeviceEnum m_ComputeDevice{ ComputeDeviceEnum::AUTOMATIC };
  ComputeDeviceEnum m_LastComputeDevice{ ComputeDeviceEnum::AUTOMATIC };
  int               m_GPUDevice{ -1 };
  int               m_LastGPUDevice{ -1 };
  FFTBackendEnum    m_FFTBackend{ FFTBackendEnum::CUFFT }; // the constructor reads the environment
  FFTBackendEnum    m_LastFFTBackend{ FFTBackendEnum::AUTO };
  SizeValueType     m_GPUMemoryBudget{ 0 };
  SizeValueType     m_NumberOfTiles{ 0 };
  SizeValueType     m_LastEstimatedGPUMemory{ 0 };
  bool              m_RunningOnGPU{ false };

  CudaFFTConvolutionBoundaryConditions<TInputImage> m_BoundaryConditions{};

  std::unique_ptr<CudaFFTConvolutionEngine> m_Engine;
};
} // namespace itk

#ifndef ITK_MANUAL_INSTANTIATION
#  include "itkCudaDeconvolutionImageFilterBase.hxx"
#endif

#endif
