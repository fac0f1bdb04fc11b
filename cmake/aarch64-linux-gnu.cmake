# CMake toolchain: cross-compiles libjnce.so and its C tests for linux-aarch64 with Debian's
# gcc-aarch64-linux-gnu, against the linux-arm64 OpenBLAS of org.bytedeco:openblas; the tests run
# under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR). native/cross/aarch64.sh does all of it.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/usr/aarch64-linux-gnu)
