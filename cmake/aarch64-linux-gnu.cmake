# aarch64-linux-gnu.cmake: CMake toolchain file for Cortex-A (AArch64 Linux) applications with
# Debian's cross compiler (gcc-aarch64-linux-gnu libc6-dev-arm64-cross). Shipped with qcompile;
# find it with `python3 -c "import qcompile.resources as r; print(r.cmake_dir())"`.
#
#   cmake -S app -B build -DCMAKE_TOOLCHAIN_FILE=<dir>/aarch64-linux-gnu.cmake \
#         -DQC_CPU_FLAGS="-march=armv8.2-a+dotprod -mcpu=cortex-a76"
#
# QC_CPU_FLAGS should match the target the model was generated for (the `cflags` of
# targets/<target>.toml without -O2; `<name>.mk` lists them as <NAME>_TARGET_CFLAGS). Without
# +dotprod the NEON kernels use SMULL/SADALP instead of SDOT: correct on any ARMv8-A core.
# When qemu-aarch64 is installed it becomes the cross-compiling emulator, so ctest and
# add_custom_command can run the built programs on the build machine.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(QC_TOOLCHAIN_PREFIX "aarch64-linux-gnu-" CACHE STRING "Prefix of the cross tools")
set(QC_CPU_FLAGS "-march=armv8-a" CACHE STRING "CPU flags, e.g. -march=armv8.2-a+dotprod -mcpu=cortex-a76")
set(QC_SYSROOT "/usr/aarch64-linux-gnu" CACHE PATH "Target libraries (Debian's libc6-dev-arm64-cross)")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES QC_CPU_FLAGS QC_TOOLCHAIN_PREFIX QC_SYSROOT)

find_program(QC_AARCH64_GCC ${QC_TOOLCHAIN_PREFIX}gcc)
if(NOT QC_AARCH64_GCC)
  message(FATAL_ERROR "${QC_TOOLCHAIN_PREFIX}gcc not found: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross")
endif()
set(CMAKE_C_COMPILER ${QC_AARCH64_GCC})
set(CMAKE_C_FLAGS_INIT "${QC_CPU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,--gc-sections")

find_program(QC_QEMU_AARCH64 qemu-aarch64)
if(QC_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${QC_QEMU_AARCH64} -L ${QC_SYSROOT})
endif()

set(CMAKE_FIND_ROOT_PATH ${QC_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
