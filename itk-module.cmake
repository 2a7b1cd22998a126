set(DOCUMENTATION "FFT convolution of an image with a kernel image on NVIDIA GPUs through cuFFT:
itk::CudaFFTConvolutionImageFilter, a drop-in for itk::FFTConvolutionImageFilter with SAME, VALID
and FULL output regions, ITK's boundary conditions, streaming, overlap-save tiles under a GPU memory
budget, and a CPU path through ITK's own FFT filters where no GPU is present, and GPU deconvolution
(Richardson-Lucy, Landweber, projected Landweber, inverse, Tikhonov, Wiener) with ITK's
deconvolution filters as the CPU path.")

itk_module(CudaFFTConvolution
  ENABLE_SHARED
  DEPENDS
    ITKCommon
    ITKConvolution
    ITKDeconvolution
    ITKFFT
  TEST_DEPENDS
    ITKTestKernel
    ITKImageGrid
    ITKImageIntensity
  DESCRIPTION
    "${DOCUMENTATION}"
  EXCLUDE_FROM_DEFAULT
)
