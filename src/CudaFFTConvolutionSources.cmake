# The library's sources, relative to src/: read by src/CMakeLists.txt (the ITK module), the C ABI
# library (capi/) and the 3D Slicer extension (slicer/), which compiles them into its CLI modules.
# The VkFFT plugin (vkfft/) is not among them: vkfft/CudaFFTConvolutionVkFFTPlugin.cmake builds it
# beside a library made of them (without it, that library uses cuFFT only).
set(CudaFFTConvolution_SRCS
  itkCudaFFTConvolutionImageFilterEnums.cxx
  itkCudaDeconvolutionImageFilterEnums.cxx
  itkCudaFFTConvolutionPlanner.cxx
  itkCudaDeconvolutionPlanner.cxx
  itkCudaFFTConvolutionHostWorkers.cxx
  itkMicroscopePSF.cxx
  itkCudaFFTConvolutionCudaSupport.cu
  itkCudaFFTConvolutionFFT.cu
  itkCudaFFTConvolutionCuFFTPlans.cu
  itkCudaFFTConvolutionVkFFTPlans.cu
  itkCudaFFTConvolutionPruningCheck.cu
  itkCudaFFTConvolutionStaging.cu
  itkCudaFFTConvolutionEngineResources.cu
  itkCudaFFTConvolutionEnginePlans.cu
  itkCudaFFTConvolutionEngineSpectrum.cu
  itkCudaFFTConvolutionEngineTiles.cu
  itkCudaFFTConvolutionEngineRuns.cu
  itkCudaFFTConvolutionEngine.cu
  itkCudaFFTConvolutionDeconvolutionTiles.cu
  itkCudaFFTConvolutionDeconvolutionIterations.cu
  itkCudaFFTConvolutionDeconvolution.cu
)
