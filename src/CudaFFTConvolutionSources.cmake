# The library's sources, relative to src/: read by src/CMakeLists.txt (the ITK module) and by the
# 3D Slicer extension (slicer/), which compiles them into its CLI modules.
set(CudaFFTConvolution_SRCS
  itkCudaFFTConvolutionImageFilterEnums.cxx
  itkCudaDeconvolutionImageFilterEnums.cxx
  itkCudaFFTConvolutionPlanner.cxx
  itkCudaDeconvolutionPlanner.cxx
  itkCudaFFTConvolutionHostWorkers.cxx
  itkCudaFFTConvolutionCudaSupport.cu
  itkCudaFFTConvolutionStaging.cu
  itkCudaFFTConvolutionEngine.cu
  itkCudaFFTConvolutionDeconvolution.cu
)
