# arm-none-eabi.cmake: CMake toolchain file for bare-metal Arm Cortex-M builds with the GNU
# Arm Embedded toolchain (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi). Shipped with
# qcompile; find it with `python3 -c "import qcompile.resources as r; print(r.cmake_dir())"`.
#
#   cmake -S firmware -B build -DCMAKE_TOOLCHAIN_FILE=<dir>/arm-none-eabi.cmake \
#         -DQC_CPU_FLAGS="-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16"
#
# QC_CPU_FLAGS must match the target the model was generated for (the -m flags of the
# `cflags` of targets/<target>.toml; `<name>.mk` lists them as <NAME>_TARGET_CFLAGS). No
# optimisation here: the model's CMakeLists.txt adds the target's to the model library itself.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(QC_TOOLCHAIN_PREFIX "arm-none-eabi-" CACHE STRING "Prefix of the cross tools")
set(QC_CPU_FLAGS "" CACHE STRING "CPU, FPU and ABI flags, e.g. -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
# compiler checks (try_compile) read this file again in a fresh project: pass the settings on
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES QC_CPU_FLAGS QC_TOOLCHAIN_PREFIX)
if(QC_CPU_FLAGS STREQUAL "")
  message(FATAL_ERROR "arm-none-eabi.cmake: set -DQC_CPU_FLAGS=\"-mcpu=... -mthumb ...\" (see targets/*.toml)")
endif()

find_program(QC_ARM_GCC ${QC_TOOLCHAIN_PREFIX}gcc)
if(NOT QC_ARM_GCC)
  message(FATAL_ERROR "${QC_TOOLCHAIN_PREFIX}gcc not found: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
endif()
set(CMAKE_C_COMPILER ${QC_ARM_GCC})
set(CMAKE_ASM_COMPILER ${QC_ARM_GCC})
find_program(CMAKE_OBJCOPY ${QC_TOOLCHAIN_PREFIX}objcopy)
find_program(CMAKE_SIZE ${QC_TOOLCHAIN_PREFIX}size)

# No OS to run test programs on: compiler checks build a static library instead.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT "${QC_CPU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "${QC_CPU_FLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=nano.specs -Wl,--gc-sections")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
