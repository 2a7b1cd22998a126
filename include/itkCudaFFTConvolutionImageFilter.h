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
#ifndef itkCudaFFTConvolutionImageFilter_h
#define itkCudaFFTConvolutionImageFilter_h

#include "itkConvolutionImageFilterBase.h"
#include "itkCudaFFTConvolutionBoundaryConditions.h"
#include "itkCudaFFTConvolutionCompatibility.h"
#include "itkCudaFFTConvolutionEngine.h"
#include "itkCudaFFTConvolutionFilterSupport.h" // the environment's FFT backend, the estimate's default
#include "itkCudaFFTConvolutionImageFilterEnums.h"
#include "itkCudaFFTConvolutionPlanner.h"
#include "itkCudaPinnedImportImageContainer.h" // the opt-in page-locked pixel container
#include "itkImage.h"

#include <complex>
#include <memory>
#include <string>
#include <type_traits>


namespace itk
{
/** \class CudaFFTConvolutionImageFilter
 * \brief Convolves an image with a kernel image by FFT on an NVIDIA GPU (cuFFT).
 *
 * A drop-in for FFTConvolutionImageFilter: the same inputs (the image, and the kernel through
 * SetKernelImage), Normalize, BoundaryCondition and OutputRegionMode, with ITK's geometry
 * (kernel centre floor(K/2) per axis). Beyond ITK's SAME and VALID it offers FULL through
 * SetOutputRegion(CudaFFTConvolutionImageFilterEnums::OutputRegion::FULL) or
 * SetOutputRegionModeToFull(): every voxel any kernel tap reaches, index s - floor(K/2) and size
 * N + K - 1 per axis. Only the region index and size change; origin, spacing and direction stay
 * the input's, so every output voxel lies on the input grid. VALID follows ITK's GetValidRegion:
 * size 0 along an axis where the kernel does not fit.
 *
 * Values outside the input come from the boundary condition: ConstantBoundaryCondition (any
 * constant), ZeroFluxNeumannBoundaryCondition (ITK's default) or PeriodicBoundaryCondition. Any
 * other boundary condition is rejected with an exception rather than silently approximated. No
 * mode wraps around: each tile is padded to at least its window, never circularly aliased.
 * Unlike ITK's filters, which keep the caller's boundary condition by pointer, this filter copies
 * the three it supports, so the object given may be destroyed at once (a Python temporary); the
 * boundary may also be given by name, SetBoundaryCondition("periodic"), which is what
 * itk.cuda_fft_convolution_image_filter(image, kernel_image=k, boundary_condition="periodic") calls.
 *
 * The filter streams: an output requested region needs only that region grown by the kernel
 * (K-1-c voxels below, c above, per axis), clipped to the input, and a streamed result equals
 * the one-shot result. Inside one request the work is cut into overlap-save tiles when it does
 * not fit the GPU memory budget (SetGPUMemoryBudget; by default a share of the free memory).
 *
 * Without a CUDA device, or with SetComputeDevice(CPU), the same plan runs on the CPU through
 * ITK's own FFT filters; GetLastComputeDevice() says which ran and SetComputeDevice(GPU) makes a
 * missing device an exception. The internal precision is float (the default) or double; the
 * input may be any scalar type; the output pixel type must be real.
 *
 * The kernel spectrum is cached while the kernel image (its modification time and buffer), the
 * FFT size, the precision and Normalize are unchanged, so a deconvolution loop or a batch that
 * reuses one PSF transforms it once. A kernel whose pixels are changed in place must be marked
 * Modified(). ReleaseGPUResources() frees every device buffer, the cuFFT plans and the pinned
 * staging; the destructor does too.
 *
 * \warning Like ITK's convolution filters, this filter ignores the kernel's spacing, origin,
 * orientation and start index.
 *
 * \sa FFTConvolutionImageFilter ConvolutionImageFilter
 * \ingroup CudaFFTConvolution
 */
template <typename TInputImage,
          typename TKernelImage = TInputImage,
          typename TOutputImage = TInputImage,
          typename TInternalPrecision = float>
class ITK_TEMPLATE_EXPORT CudaFFTConvolutionImageFilter
  : public ConvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage>
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(CudaFFTConvolutionImageFilter);

  using Self = CudaFFTConvolutionImageFilter;
  using Superclass = ConvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage>;
  using Pointer = SmartPointer<Self>;
  using ConstPointer = SmartPointer<const Self>;

  itkNewMacro(Self);
  itkOverrideGetNameOfClassMacro(CudaFFTConvolutionImageFilter);

  static constexpr unsigned int ImageDimension = TInputImage::ImageDimension;

  using InputImageType = TInputImage;
  using KernelImageType = TKernelImage;
  using OutputImageType = TOutputImage;
  using InputPixelType = typename InputImageType::PixelType;
  using KernelPixelType = typename KernelImageType::PixelType;
  using OutputPixelType = typename OutputImageType::PixelType;
  using InputRegionType = typename InputImageType::RegionType;
  using OutputRegionType = typename OutputImageType::RegionType;
  using InternalPrecisionType = TInternalPrecision;
  using InternalImageType = Image<InternalPrecisionType, ImageDimension>;
  using InternalComplexImageType = Image<std::complex<InternalPrecisionType>, ImageDimension>;

  using typename Superclass::BoundaryConditionType;
  using typename Superclass::OutputRegionModeEnum;
  using OutputRegionEnum = CudaFFTConvolutionImageFilterEnums::OutputRegion;
  using ComputeDeviceEnum = CudaFFTConvolutionImageFilterEnums::ComputeDevice;
  using FFTBackendEnum = CudaFFTConvolutionImageFilterEnums::FFTBackend;
  using BoundaryEnum = CudaFFTConvolutionImageFilterEnums::Boundary;
  using PlannerType = CudaFFTConvolutionPlanner;
  using PlanType = PlannerType::Plan;

  static_assert(ImageDimension >= 1 && ImageDimension <= 3, "CudaFFTConvolutionImageFilter supports 1 to 3 dimensions");
  static_assert(std::is_same<TInternalPrecision, float>::value || std::is_same<TInternalPrecision, double>::value,
                "the internal precision must be float or double");
  static_assert(std::is_floating_point<OutputPixelType>::value, "the output pixel type must be float or double");
  static_assert(std::is_arithmetic<InputPixelType>::value && std::is_arithmetic<KernelPixelType>::value,
                "the input and kernel pixel types must be scalar");

  /** Sets the boundary condition. A ConstantBoundaryCondition (its constant included),
   * ZeroFluxNeumannBoundaryCondition or PeriodicBoundaryCondition of TInputImage (exactly that
   * type) is copied into the filter, and the superclass is handed the filter's own copy: the
   * object given may be destroyed right after the call, as a Python temporary is, and
   * GetBoundaryCondition() returns the copy. A change made to the caller's object afterwards is
   * seen once it is set again. The filter is Modified() when the condition it applies changes
   * (its kind or its constant), as itkSetMacro does for a value. Any other condition (nullptr
   * included) is kept by pointer as by ITK's filters, so it must outlive the updates, and an
   * update rejects it with an exception. */
  void
  SetBoundaryCondition(BoundaryConditionType * condition) override;

  /** Sets the boundary condition by name (case-insensitive, '_' and '-' alike):
   * "zero-flux-neumann" (also "zero_flux_neumann" and "neumann"), "constant" (the constant 0;
   * SetBoundaryCondition with a ConstantBoundaryCondition sets another) or "periodic". An unknown
   * name throws an ExceptionObject that names it and lists these. For ITK's Python functional
   * interface: boundary_condition="periodic". */
  virtual void
  SetBoundaryCondition(const std::string & name);

  /** ITK's SAME or VALID (ConvolutionImageFilterBaseEnums); FULL through SetOutputRegion. */
  void
  SetOutputRegionMode(const OutputRegionModeEnum mode) override;
  void
  SetOutputRegionModeToSame() override;
  void
  SetOutputRegionModeToValid() override;
  void
  SetOutputRegionModeToFull();

  /** The output region mode including FULL; authoritative (ITK's getter says SAME for FULL). */
  virtual void
  SetOutputRegion(const OutputRegionEnum mode);
  itkGetEnumMacro(OutputRegion, OutputRegionEnum);

  /** Where to run: AUTOMATIC (default), GPU (a missing device is an error) or CPU. */
  itkSetEnumMacro(ComputeDevice, ComputeDeviceEnum);
  itkGetEnumMacro(ComputeDevice, ComputeDeviceEnum);

  /** Where the last update ran: GPU or CPU (AUTOMATIC before the first update). With AUTOMATIC,
   * an update the GPU cannot run (no kernel image for this GPU, too little memory even after
   * re-planning smaller tiles) runs on the CPU with a warning, and this says CPU. */
  itkGetEnumMacro(LastComputeDevice, ComputeDeviceEnum);

  /** The CUDA device to run on: an ordinal, or -1 (default) for the calling thread's current
   * device. The thread's current device is left as it was. */
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

  /** Device bytes the filter may use; 0 (default) means 80% of the device's free memory. The CPU
   * path tiles under the same budget when it is set. */
  itkSetMacro(GPUMemoryBudget, SizeValueType);
  itkGetConstMacro(GPUMemoryBudget, SizeValueType);

  /** Number of tiles and FFT size of the last update's plan. */
  itkGetConstMacro(NumberOfTiles, SizeValueType);
  const PlannerType::SizeArray &
  GetLastFFTSize() const
  {
    return m_LastFFTSize;
  }

  /** Device bytes the last GPU update's plan was estimated to need (never below its peak). */
  itkGetConstMacro(LastEstimatedGPUMemory, SizeValueType);

  /** Device bytes an update would need for an image and kernel of these sizes, before any
   * pipeline exists: the plan this filter would make (one tile when it fits \a budget, 0 meaning
   * no limit; else tiles) under \a boundary (a periodic boundary reads whole axes per tile), with
   * the exact work area of \a backend's transforms when a device is present (by default the
   * environment's backend, as a new filter's; pass the one set with SetFFTBackend). */
  static SizeValueType
  EstimateGPUMemory(const typename InputImageType::SizeType &  imageSize,
                    const typename KernelImageType::SizeType & kernelSize,
                    OutputRegionEnum                           mode = OutputRegionEnum::SAME,
                    SizeValueType                              budget = 0,
                    BoundaryEnum                               boundary = BoundaryEnum::ZERO_FLUX_NEUMANN,
                    FFTBackendEnum backend = CudaFFTConvolutionFilterSupport::DefaultFFTBackend());

#if !defined(ITK_WRAPPING_PARSER) // PlanType is not wrapped: Python would get an opaque, leaked pointer
  /** The whole GPU plan behind EstimateGPUMemory: tiles, FFT size, each buffer's bytes.
   * C++ only; Python has EstimateGPUMemory. */
  static PlanType
  MakeGPUPlan(const typename InputImageType::SizeType &  imageSize,
              const typename KernelImageType::SizeType & kernelSize,
              OutputRegionEnum                           mode = OutputRegionEnum::SAME,
              SizeValueType                              budget = 0,
              BoundaryEnum                               boundary = BoundaryEnum::ZERO_FLUX_NEUMANN,
              FFTBackendEnum                             backend = CudaFFTConvolutionFilterSupport::DefaultFFTBackend())
  {
    return PlanForSizes(imageSize, kernelSize, mode, budget, boundary, backend);
  }
#endif

  /** Frees every GPU buffer, cuFFT plan, cached kernel spectrum and pinned staging buffer. */
  void
  ReleaseGPUResources();

protected:
  CudaFFTConvolutionImageFilter();
  ~CudaFFTConvolutionImageFilter() override;

  void
  GenerateOutputInformation() override;

  void
  GenerateInputRequestedRegion() override;

  void
  GenerateData() override;

  void
  PrintSelf(std::ostream & os, Indent indent) const override;

  /** The planner's boundary for the filter's boundary condition; throws for unsupported ones. */
  PlannerType::Boundary
  GetPlannerBoundary(InputPixelType & constant) const;

  PlannerType::SizeArray
  GetKernelSizeArray() const;

private:
  /** MakeGPUPlan and EstimateGPUMemory; out of the wrapping's sight (PlanType is not wrapped). */
  static PlanType
  PlanForSizes(const typename InputImageType::SizeType &  imageSize,
               const typename KernelImageType::SizeType & kernelSize,
               OutputRegionEnum                           mode,
               SizeValueType                              budget,
               BoundaryEnum                               boundary,
               FFTBackendEnum                             backend);

  /** The request both paths plan from: geometry, precision, the engine's page-locked bytes. */
  static PlannerType::Request
  MakeRequest(const PlannerType::Box &       inputLargest,
              const PlannerType::Box &       inputBuffered,
              const PlannerType::SizeArray & kernelSize,
              const PlannerType::Box &       output,
              PlannerType::Boundary          boundary);

  /** True to run on the GPU; throws when the GPU (or a missing device ordinal) was required. */
  bool
  ChooseGPU() const;

  /** Runs on the GPU; false when AUTOMATIC should fall back to the CPU (after a warning). */
  bool
  TryGPU(PlannerType::Request request, const InternalPrecisionType * input, InternalPrecisionType * output);

  /** Plans for the GPU under the budget (default: a share of the free memory). */
  PlanType
  PlanForGPU(PlannerType::Request & request);

  /** Runs on the GPU, re-planning smaller tiles when another allocation took the memory. */
  void
  RunOnGPU(PlannerType::Request request, const InternalPrecisionType * input, InternalPrecisionType * output);

  void
  RunPlanOnGPU(const PlanType & plan, const InternalPrecisionType * input, InternalPrecisionType * output);

  void
  RunOnCPU(PlannerType::Request request, const InternalPrecisionType * input, InternalPrecisionType * output);

  void
  EnsureCPUSpectrum(const PlanType & plan);

  /** The region of an FFT-sized image of a plan (index 0). */
  static typename InternalImageType::RegionType
  FFTRegion(const PlanType & plan);

  typename InternalImageType::Pointer
  ShiftedKernel(const PlanType & plan, const InternalPrecisionType * kernel, double scale) const;

  typename InternalImageType::Pointer
  PaddedTile(const PlanType & plan, const PlannerType::Tile & tile, const InternalPrecisionType * input) const;

  void
  RunTileOnCPU(const PlanType &              plan,
               const PlannerType::Tile &     tile,
               const InternalPrecisionType * input,
               InternalPrecisionType *       output);

  void
  AdoptPlan(const PlanType & plan, bool gpu);

  void
  WarnAboutKernelSpacing();

  /** The kernel's values in the internal precision: its own buffer when the types agree. */
  const InternalPrecisionType *
  KernelValues(std::vector<InternalPrecisionType> & storage) const;

  OutputRegionEnum       m_OutputRegion{ OutputRegionEnum::SAME };
  ComputeDeviceEnum      m_ComputeDevice{ ComputeDeviceEnum::AUTOMATIC };
  ComputeDeviceEnum      m_LastComputeDevice{ ComputeDeviceEnum::AUTOMATIC };
  SizeValueType          m_GPUMemoryBudget{ 0 };
  SizeValueType          m_NumberOfTiles{ 0 };
  SizeValueType          m_LastEstimatedGPUMemory{ 0 };
  PlannerType::SizeArray m_LastFFTSize{ { 0, 0, 0 } };
  InternalPrecisionType  m_BoundaryConstant{};

  // The boundary conditions the filter supports, owned by it: SetBoundaryCondition copies a given
  // one here and hands the superclass a pointer to the copy, never to the caller's object.
  CudaFFTConvolutionBoundaryConditions<TInputImage> m_BoundaryConditions{};

  int            m_GPUDevice{ -1 };
  int            m_LastGPUDevice{ -1 };
  FFTBackendEnum m_FFTBackend{ FFTBackendEnum::CUFFT }; // the constructor reads the environment
  FFTBackendEnum m_LastFFTBackend{ FFTBackendEnum::AUTO };

  std::unique_ptr<CudaFFTConvolutionEngine> m_Engine;

  const KernelImageType * m_SpacingWarnedKernel{ nullptr };
  ModifiedTimeType        m_SpacingWarnedTime{ 0 };

  // The CPU path's cached kernel spectrum and the kernel values it was made from.
  typename InternalComplexImageType::Pointer m_CPUSpectrum;
  std::vector<InternalPrecisionType>         m_CPUKernelValues;
  PlannerType::SizeArray                     m_CPUSpectrumSize{ { 0, 0, 0 } };
  bool                                       m_CPUSpectrumNormalized{ false };
};
} // namespace itk

#ifndef ITK_MANUAL_INSTANTIATION
#  include "itkCudaFFTConvolutionImageFilter.hxx"
#endif

#endif
