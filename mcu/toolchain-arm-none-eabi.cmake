# SPDX-License-Identifier: Apache-2.0
# CMake toolchain file: bare-metal Cortex-M4 (Thumb-2) with the Arm GNU toolchain
# (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib).
#   cmake -S mcu -B build-mcu -DCMAKE_TOOLCHAIN_FILE=mcu/toolchain-arm-none-eabi.cmake
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(LOCKSTEP_MCU_TRIPLE arm-none-eabi CACHE STRING "Cross toolchain prefix")
find_program(LOCKSTEP_MCU_CXX ${LOCKSTEP_MCU_TRIPLE}-g++ REQUIRED)
find_program(LOCKSTEP_MCU_CC ${LOCKSTEP_MCU_TRIPLE}-gcc REQUIRED)
set(CMAKE_C_COMPILER ${LOCKSTEP_MCU_CC})
set(CMAKE_CXX_COMPILER ${LOCKSTEP_MCU_CXX})
set(CMAKE_ASM_COMPILER ${LOCKSTEP_MCU_CC})
find_program(CMAKE_AR ${LOCKSTEP_MCU_TRIPLE}-ar REQUIRED)
find_program(CMAKE_RANLIB ${LOCKSTEP_MCU_TRIPLE}-ranlib REQUIRED)
find_program(CMAKE_OBJCOPY ${LOCKSTEP_MCU_TRIPLE}-objcopy REQUIRED)
find_program(CMAKE_SIZE ${LOCKSTEP_MCU_TRIPLE}-size REQUIRED)
find_program(CMAKE_NM ${LOCKSTEP_MCU_TRIPLE}-nm REQUIRED)

# No host executables can run: test the compiler by building a static library.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# The target: Cortex-M4, Thumb, soft-float ABI (the core uses no floating point).
# -Os, no exceptions, no RTTI, one section per function/object so --gc-sections
# can drop what an image does not reference.
set(LOCKSTEP_MCU_ARCH "-mcpu=cortex-m4 -mthumb -mfloat-abi=soft")
set(CMAKE_C_FLAGS_INIT "${LOCKSTEP_MCU_ARCH} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${LOCKSTEP_MCU_ARCH} -ffunction-sections -fdata-sections -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${LOCKSTEP_MCU_ARCH} -nostartfiles -Wl,--gc-sections")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
