# GradmapCuda.cmake — GM_CUDA=AUTO|ON|OFF. With nvcc present (AUTO) or required (ON), enables
# the CUDA language, compiles kernels/*.cu for an explicit architecture list (a machine with
# nvcc but no GPU has no "native" architecture), finds cuDNN and cuBLAS and builds the static
# library gradmap_cuda. Sets GM_HAVE_CUDA.
set(GM_HAVE_CUDA OFF)
string(TOUPPER "${GM_CUDA}" _gm_cuda)
if(NOT _gm_cuda STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # sm_80 (A100), sm_90 (H100/H200) as SASS, and compute_90 PTX for anything newer.
      set(CMAKE_CUDA_ARCHITECTURES 80-real 90-real 90-virtual)
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    find_package(CUDNN)
    if(CUDNN_FOUND AND TARGET CUDA::cublas)
      set(GM_HAVE_CUDA ON)
    elseif(_gm_cuda STREQUAL "ON")
      message(FATAL_ERROR "GM_CUDA=ON but cuDNN or cuBLAS was not found (set CUDNN_ROOT)")
    else()
      message(STATUS "gradmap: nvcc found but cuDNN/cuBLAS missing; building without CUDA")
    endif()
  elseif(_gm_cuda STREQUAL "ON")
    message(FATAL_ERROR "GM_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()

if(GM_HAVE_CUDA)
  # The plugin: kernels/*.cu (nvcc) and host/cuda/*.c (the C host side of the backend). A MODULE
  # library, opened with dlopen by host/cuda_loader.c, so neither gradmap nor its tests link the
  # CUDA libraries. It lands in the top of the build tree, where the loader looks for it.
  file(GLOB GM_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/kernels/*.cu
       ${CMAKE_CURRENT_SOURCE_DIR}/host/cuda/*.c)
  add_library(gradmap_cuda MODULE ${GM_CUDA_SOURCES})
  target_include_directories(gradmap_cuda PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${CUDAToolkit_INCLUDE_DIRS})
  # -fmad=false: the shared math of kernels/*_math.h must round like the C build, which is
  # compiled with -ffp-contract=off; nvcc would otherwise fuse a*b+c into one FMA.
  set(_gm_nvcc_flags -fmad=false -Werror all-warnings -Xcompiler=-Wall,-Wextra)
  if(NOT GM_WERROR)
    set(_gm_nvcc_flags -fmad=false -Xcompiler=-Wall,-Wextra)
  endif()
  target_compile_options(gradmap_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:${_gm_nvcc_flags}>
                         $<$<COMPILE_LANGUAGE:C>:${GM_C_WARNINGS}>)
  # Only the entry point is exported (it is marked visible in host/cuda/cuda_plugin_entry.c).
  set_target_properties(gradmap_cuda PROPERTIES
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}
    C_VISIBILITY_PRESET hidden CUDA_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  # The static runtime loads the driver (libcuda.so) itself when first used, so a missing driver
  # is an error code from the first CUDA call, reported as "no device".
  target_link_libraries(gradmap_cuda PRIVATE CUDA::cudart_static CUDA::cublas CUDNN::cudnn)
  message(STATUS "gradmap: CUDA ${CUDAToolkit_VERSION}, cuDNN ${CUDNN_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}")
else()
  message(STATUS "gradmap: building without CUDA (GM_CUDA=${GM_CUDA})")
endif()
