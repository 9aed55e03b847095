# switchyard_set_warnings(target): the warning set every Switchyard-owned target compiles with.
function(switchyard_set_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
      -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
      # Designated initializers that omit defaulted Options fields are the intended idiom.
      -Wno-missing-field-initializers)
    if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
      target_compile_options(${target} PRIVATE -Wthread-safety)
    else()
      # GCC 12 at -O2 reports Boost.Function's small-buffer copy (behind Signals2 slots) as
      # uninitialized; a known false positive. Clang builds keep both warnings on.
      target_compile_options(${target} PRIVATE -Wno-uninitialized -Wno-maybe-uninitialized)
      # GCC 12 at -O3 reports std::string concatenation with short literals as an overlapping
      # memcpy (GCC bug 105329, fixed in 13): a false positive inside libstdc++.
      if(CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
        target_compile_options(${target} PRIVATE -Wno-restrict)
      endif()
    endif()
    if(SWITCHYARD_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()
