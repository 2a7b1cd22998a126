# What both CLI modules of the extension build on: the ITK module's library (src/) as a static
# library with the CUDA runtime and cuFFT linked statically, so that each CLI runs as its own
# process beside Slicer's ITK; and cudafft_embed_description(NAME), which makes NAMEXML.h from
# apps/NAME.xml for --xml, as the ITK module's build of the tools does (apps/CMakeLists.txt).
set(CUDAFFT_ROOT ${CMAKE_CURRENT_LIST_DIR}/..)

include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  message(FATAL_ERROR "The CudaFFTConvolution extension needs the CUDA toolkit (nvcc and cuFFT)")
endif()
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES "80-real;90-real;75-virtual")
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

find_package(ITK REQUIRED COMPONENTS ITKCommon ITKConvolution ITKDeconvolution ITKFFT ITKIOImageBase ITKIONRRD
  ITKIONIFTI ITKIOPNG ITKIOTIFF ITKTIFF)
set(ITK_NO_IO_FACTORY_REGISTER_MANAGER 0)
include(${ITK_USE_FILE})
find_path(TCLAP_INCLUDE_DIR tclap/CmdLine.h HINTS ${SlicerExecutionModel_SOURCE_DIR}/tclap/include REQUIRED)

# The library's export header, as the ITK module system would generate it (static here).
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/CudaFFTConvolutionExport.h
  "#ifndef CudaFFTConvolutionExport_h\n#define CudaFFTConvolutionExport_h\n#define CudaFFTConvolution_EXPORT\n#endif\n")

include(${CUDAFFT_ROOT}/src/CudaFFTConvolutionSources.cmake)
list(TRANSFORM CudaFFTConvolution_SRCS PREPEND ${CUDAFFT_ROOT}/src/)
add_library(CudaFFTConvolutionStatic STATIC ${CudaFFTConvolution_SRCS})
target_include_directories(CudaFFTConvolutionStatic PUBLIC ${CMAKE_CURRENT_BINARY_DIR} ${CUDAFFT_ROOT}/include)
target_link_libraries(CudaFFTConvolutionStatic PUBLIC ${ITK_LIBRARIES} CUDA::cudart_static CUDA::cufft_static)
set_target_properties(CudaFFTConvolutionStatic PROPERTIES CXX_STANDARD 17 CUDA_STANDARD 17
  POSITION_INDEPENDENT_CODE ON)

# NAMEXML.h in the current binary folder, holding apps/NAME.xml as the string NAMEXML.
function(cudafft_embed_description name)
  file(READ ${CUDAFFT_ROOT}/apps/${name}.xml CUDAFFT_CLI_XML)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/${name}XML.h.in
    "static const char * const ${name}XML = R\"SEMXML(\@CUDAFFT_CLI_XML\@)SEMXML\";\n")
  configure_file(${CMAKE_CURRENT_BINARY_DIR}/${name}XML.h.in ${CMAKE_CURRENT_BINARY_DIR}/${name}XML.h @ONLY)
endfunction()
