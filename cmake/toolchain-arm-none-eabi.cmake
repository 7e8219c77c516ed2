# Cross-compiling for bare-metal ARM Cortex-M with Debian's gcc-arm-none-eabi
# (12.2) and libnewlib-arm-none-eabi. Used only by the separate firmware
# projects (never by the host build):
#   cmake -S hardware/firmware/boards/stm32f411 -B build-arm \
#         --toolchain cmake/toolchain-arm-none-eabi.cmake
# The CPU flags (-mcpu, -mfloat-abi) belong to each project, since the board
# (Cortex-M4F) and the qemu test (Cortex-M3) differ; this file only picks the
# tools and tells CMake there is no operating system.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(KM_ARM_PREFIX arm-none-eabi- CACHE STRING "Prefix of the bare-metal ARM tools")
find_program(CMAKE_C_COMPILER ${KM_ARM_PREFIX}gcc REQUIRED)
find_program(CMAKE_ASM_COMPILER ${KM_ARM_PREFIX}gcc REQUIRED)
find_program(CMAKE_OBJCOPY ${KM_ARM_PREFIX}objcopy REQUIRED)
find_program(CMAKE_SIZE ${KM_ARM_PREFIX}size REQUIRED)
find_program(CMAKE_OBJDUMP ${KM_ARM_PREFIX}objdump)

# try_compile cannot link without a linker script and startup code.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# Never pick up host libraries or headers.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
