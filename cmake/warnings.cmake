# SPDX-License-Identifier: Apache-2.0
# Warnings for every lockstep target; errors when LOCKSTEP_WERROR is on (CI).
function(lockstep_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused
    -Woverloaded-virtual -Wformat=2)
  if(LOCKSTEP_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# The protocol core: no exceptions, no RTTI (STYLE §3).
function(lockstep_core target)
  lockstep_warnings(${target})
  target_compile_options(${target} PRIVATE -fno-exceptions -fno-rtti)
endfunction()
