# The VkFFT backend's plugin, libCudaFFTConvolutionVkFFT.so, made from Debian's header-only VkFFT
# (libvkfft-dev: vkFFT.h) and put beside a library built from src/CudaFFTConvolutionSources.cmake,
# which dlopen()s it from its own folder on first use. VkFFT's CUDA backend calls the CUDA driver
# (libcuda) and NVRTC: only the plugin links them, so the library itself still loads where neither
# exists (no NVIDIA driver: the CPU path runs). Without vkFFT.h nothing is built and the library
# does its FFTs with cuFFT only.
#
#   cudafft_add_vkfft_plugin(ENGINE_TARGET [INSTALL_DESTINATION folder])
#
# ENGINE_TARGET's link calls must use the keyword signature (PRIVATE or LINK_PRIVATE ...).
set(_cudafft_vkfft_plugin_dir ${CMAKE_CURRENT_LIST_DIR})

function(cudafft_add_vkfft_plugin engine)
  cmake_parse_arguments(PARSE_ARGV 1 _arg "" "INSTALL_DESTINATION" "")
  find_path(CUDAFFT_VKFFT_INCLUDE_DIR vkFFT.h DOC "The folder of VkFFT's vkFFT.h (Debian: libvkfft-dev)")
  if(NOT CUDAFFT_VKFFT_INCLUDE_DIR OR NOT TARGET CUDA::cuda_driver OR NOT TARGET CUDA::nvrtc)
    message(STATUS "CudaFFTConvolution: vkFFT.h (libvkfft-dev) or NVRTC not found: FFTs by cuFFT only")
    return()
  endif()
  set(plugin CudaFFTConvolutionVkFFT)
  add_library(${plugin} MODULE ${_cudafft_vkfft_plugin_dir}/itkCudaFFTConvolutionVkFFTPlugin.cxx
    ${_cudafft_vkfft_plugin_dir}/itkCudaFFTConvolutionVkFFTKernelCache.cxx)
  target_include_directories(${plugin} PRIVATE ${_cudafft_vkfft_plugin_dir}/.. ${CUDAFFT_VKFFT_INCLUDE_DIR})
  # Its own static CUDA runtime (VkFFT allocates its tables with it); only the entry point is exported.
  target_link_libraries(${plugin} PRIVATE CUDA::cudart_static CUDA::cuda_driver CUDA::nvrtc)
  set_target_properties(${plugin} PROPERTIES CXX_STANDARD 17 CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON POSITION_INDEPENDENT_CODE ON)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_link_options(${plugin} PRIVATE -Wl,--exclude-libs,ALL -Wl,--no-undefined)
  endif()
  # Beside the engine's library: that is where it looks.
  set_target_properties(${plugin} PROPERTIES LIBRARY_OUTPUT_DIRECTORY $<TARGET_FILE_DIR:${engine}>)
  target_compile_definitions(${engine} PRIVATE CUDAFFT_VKFFT_PLUGIN_NAME="$<TARGET_FILE_NAME:${plugin}>")
  target_link_libraries(${engine} PRIVATE ${CMAKE_DL_LIBS})
  add_dependencies(${engine} ${plugin}) # a run of the engine's library finds it built
  if(_arg_INSTALL_DESTINATION)
    install(TARGETS ${plugin} LIBRARY DESTINATION ${_arg_INSTALL_DESTINATION} COMPONENT RuntimeLibraries)
  endif()
  message(STATUS "CudaFFTConvolution: VkFFT backend plugin ${plugin} (vkFFT.h in ${CUDAFFT_VKFFT_INCLUDE_DIR})")
endfunction()
