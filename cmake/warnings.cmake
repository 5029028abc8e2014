# SPDX-License-Identifier: Apache-2.0
# Warnings for every lockstep target (the mcu/ build uses the same list);
# errors when LOCKSTEP_WERROR is on (CI).
set(LOCKSTEP_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual -Wformat=2)
function(lockstep_warnings target)
  target_compile_options(${target} PRIVATE ${LOCKSTEP_WARNING_FLAGS})
  if(LOCKSTEP_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# The protocol core: no exceptions, no RTTI.
function(lockstep_core target)
  lockstep_warnings(${target})
  target_compile_options(${target} PRIVATE -fno-exceptions -fno-rtti)
endfunction()
