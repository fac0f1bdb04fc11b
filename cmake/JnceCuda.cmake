# JnceCuda.cmake - builds libjnce_cuda.so from native/src/cuda/*.cu when nvcc is found.
#
# JNCE_CUDA=AUTO (default) builds it when CMake finds a CUDA compiler and skips quietly
# otherwise; ON requires it; OFF never builds it, nor does a JNCE_SANITIZE=ON build. The CUDA
# runtime is linked statically and cuBLAS is opened with dlopen at run time (src/cuda/gemm.cu),
# so the library needs no CUDA library at link or load time besides the driver (libcuda.so,
# loaded by the runtime when a context is first needed), and no cuBLAS header to compile.
#
# JNCE_CUDA_ARCHITECTURES: sm_90 code for H100/H200 plus compute_80 PTX that newer GPUs
# compile at load time; override with -DJNCE_CUDA_ARCHITECTURES=... (CMake's syntax).
set(JNCE_CUDA AUTO CACHE STRING "Build libjnce_cuda.so: AUTO (when nvcc is found), ON or OFF")
set_property(CACHE JNCE_CUDA PROPERTY STRINGS AUTO ON OFF)
set(JNCE_CUDA_ARCHITECTURES "90-real;80-virtual" CACHE STRING "GPU architectures of libjnce_cuda.so")

set(JNCE_CUDA_BUILT OFF)
if(JNCE_SANITIZE)
  message(STATUS "jnce: JNCE_SANITIZE=ON, libjnce_cuda.so is not built")
elseif(NOT JNCE_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    set(JNCE_CUDA_BUILT ON)
  elseif(JNCE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "JNCE_CUDA=ON but no CUDA compiler (nvcc) was found; set CMAKE_CUDA_COMPILER")
  else()
    message(STATUS "jnce: no nvcc found, libjnce_cuda.so is not built")
  endif()
endif()

if(JNCE_CUDA_BUILT)
  file(GLOB JNCE_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/cuda/*.cu)
  add_library(jnce_cuda SHARED ${JNCE_CUDA_SOURCES})
  target_include_directories(jnce_cuda PRIVATE include src/cuda)
  set_target_properties(jnce_cuda PROPERTIES
    CUDA_ARCHITECTURES "${JNCE_CUDA_ARCHITECTURES}"
    CUDA_RUNTIME_LIBRARY Static
    CUDA_STANDARD 17
    CXX_VISIBILITY_PRESET hidden
    CUDA_VISIBILITY_PRESET hidden
    POSITION_INDEPENDENT_CODE ON)
  string(REPLACE ";" "," jnce_archs "${JNCE_CUDA_ARCHITECTURES}")
  target_compile_definitions(jnce_cuda PRIVATE JNCE_CUDA_ARCHS="${jnce_archs}")
  target_compile_options(jnce_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-fno-math-errno>)
  target_link_libraries(jnce_cuda PRIVATE ${CMAKE_DL_LIBS} Threads::Threads)
  target_link_options(jnce_cuda PRIVATE -Wl,--no-undefined -Wl,-z,noexecstack)
  message(STATUS "jnce: building libjnce_cuda.so for CUDA architectures ${JNCE_CUDA_ARCHITECTURES} with ${CMAKE_CUDA_COMPILER}")
  if(DEFINED JNCE_OUTPUT_DIR)
    add_custom_command(TARGET jnce_cuda POST_BUILD
      COMMAND ${CMAKE_COMMAND} -E make_directory "${JNCE_OUTPUT_DIR}"
      COMMAND ${CMAKE_COMMAND} -E copy "$<TARGET_FILE:jnce_cuda>" "${JNCE_OUTPUT_DIR}/")
  endif()
endif()
