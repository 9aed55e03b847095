# Driver of the consumer tests: cmake -DMODE=<mode> ... -P run_consumer.cmake
#
#   MODE=install          install BUILD_DIR into PREFIX (removed first)
#   MODE=check_install    the installed package files name no build-tree, source-tree or install
#                         prefix path (so they are relocatable) and the headers are all there
#   MODE=find_package     configure, build and run consumers/find_package against PREFIX
#   MODE=add_subdirectory configure, build and run consumers/add_subdirectory on SOURCE_DIR
#   MODE=pkg_config       compile the consumer with the flags `pkg-config` gives, link, run
#   MODE=relocate         install BUILD_DIR into WORK_DIR/installed, move it to WORK_DIR/moved,
#                         then run the find_package and pkg-config consumers against the new place
#   MODE=adapters         configure, build and run consumers/adapters against PREFIX with
#                         find_package(switchyard COMPONENTS <COMPONENTS>) (comma-separated)
#   MODE=readme           extract the first ```cpp block of SOURCE_DIR/README.md, build it with
#                         consumers/readme against PREFIX and run it in an empty directory; fails
#                         when README.md has no such block
#
# Common variables: SOURCE_DIR, BUILD_DIR (the tested build), WORK_DIR (scratch), CONSUMER_TARGET
# (switchyard or switchyard_header_only), VERSION, GENERATOR, MAKE_PROGRAM, CXX_COMPILER,
# BUILD_TYPE, SHARED, PKG_CONFIG, PKGCONFIG_DIR and CMAKE_DIR (relative to the prefix), CXX_FLAGS
# and EXE_LINKER_FLAGS (the tested build's, e.g. sanitizer flags the library was built with).
cmake_minimum_required(VERSION 3.20)

# Consumer builds are the heavy part; two jobs keep them inside CI's two cores. They build with
# no optimisation and no debug information (empty CMAKE_BUILD_TYPE): the cheapest build that still
# proves the package, and the header-only consumer alone needs about 1.3 GB even so.
set(jobs 2)

# run(<what> <command...>): runs the command, fails with its output, else echoes it (except for
# the file-by-file install log).
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "${what} failed (${rc}):\n${command}\n${out}")
  endif()
  string(STRIP "${out}" out)
  if(out AND NOT what STREQUAL "install")
    message(STATUS "${what}:\n${out}")
  endif()
endfunction()

function(install_build prefix)
  file(REMOVE_RECURSE "${prefix}")
  run("install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}"
      --config "${BUILD_TYPE}")
  message(STATUS "installed ${BUILD_DIR} into ${prefix}")
endfunction()

function(cmake_consumer project binary_dir)
  file(REMOVE_RECURSE "${binary_dir}")
  set(configure "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/consumers/${project}" -B "${binary_dir}"
      -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_BUILD_TYPE="
      "-DSWITCHYARD_CONSUMER_TARGET=${CONSUMER_TARGET}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
      "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${EXE_LINKER_FLAGS}" ${ARGN})
  if(MAKE_PROGRAM)
    list(APPEND configure "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
  run("configure ${project}" ${configure})
  run("build ${project}" "${CMAKE_COMMAND}" --build "${binary_dir}" --target consumer
      --parallel ${jobs})
  run("run ${project} (${CONSUMER_TARGET})" "${binary_dir}/consumer")
endfunction()

function(find_package_consumer prefix binary_dir)
  cmake_consumer(find_package "${binary_dir}" "-DCMAKE_PREFIX_PATH=${prefix}"
                 "-DSWITCHYARD_EXPECTED_PREFIX=${prefix}" "-DSWITCHYARD_EXPECTED_VERSION=${VERSION}")
endfunction()

function(pkg_config_consumer prefix binary_dir)
  file(REMOVE_RECURSE "${binary_dir}")
  file(MAKE_DIRECTORY "${binary_dir}")
  set(ENV{PKG_CONFIG_PATH} "${prefix}/${PKGCONFIG_DIR}")
  foreach(query modversion cflags libs)
    execute_process(COMMAND "${PKG_CONFIG}" --print-errors --${query} ${CONSUMER_TARGET}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE ${query} ERROR_VARIABLE err
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "pkg-config --${query} ${CONSUMER_TARGET} failed:\n${err}")
    endif()
  endforeach()
  if(NOT modversion STREQUAL VERSION)
    message(FATAL_ERROR "pkg-config says ${CONSUMER_TARGET} ${modversion}, expected ${VERSION}")
  endif()
  message(STATUS "pkg-config ${CONSUMER_TARGET}: ${cflags} ${libs}")
  separate_arguments(cflags UNIX_COMMAND "${cflags}")
  separate_arguments(libs UNIX_COMMAND "${libs}")
  # Every -I and -L of Switchyard's own must resolve inside the prefix under test.
  get_filename_component(real_prefix "${prefix}" REALPATH)
  foreach(flag IN LISTS cflags libs)
    if(flag MATCHES "^-[IL](.*)$")
      get_filename_component(dir "${CMAKE_MATCH_1}" REALPATH)
      if(EXISTS "${dir}/switchyard" OR EXISTS "${dir}/libswitchyard.a" OR
         EXISTS "${dir}/libswitchyard.so")
        string(FIND "${dir}/" "${real_prefix}/" at)
        if(NOT at EQUAL 0)
          message(FATAL_ERROR "pkg-config points ${CONSUMER_TARGET} at ${dir}, outside ${real_prefix}")
        endif()
        set(found_own_dir TRUE)
      endif()
    endif()
  endforeach()
  if(NOT found_own_dir)
    message(FATAL_ERROR "pkg-config flags of ${CONSUMER_TARGET} name no directory inside ${real_prefix}")
  endif()
  set(extra "")
  if(SHARED AND CONSUMER_TARGET STREQUAL "switchyard")
    execute_process(COMMAND "${PKG_CONFIG}" --variable=libdir switchyard OUTPUT_VARIABLE libdir
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    list(APPEND extra "-Wl,-rpath,${libdir}")
  endif()
  separate_arguments(build_flags UNIX_COMMAND "${CXX_FLAGS} ${EXE_LINKER_FLAGS}")
  run("compile and link with pkg-config flags"
      "${CXX_COMPILER}" -std=c++20 ${build_flags} ${cflags} "-DSWITCHYARD_EXPECTED_VERSION=\"${VERSION}\""
      "${SOURCE_DIR}/tests/consumers/program/consumer.cpp" -o "${binary_dir}/consumer"
      ${libs} ${extra})
  run("run pkg-config consumer (${CONSUMER_TARGET})" "${binary_dir}/consumer")
endfunction()

# The first ```cpp fenced block of `readme`, written to `out`; fails when there is none, when it
# never closes or when it is empty. Read as one string: C++ is full of the `;` that would split
# a CMake list of lines.
function(extract_first_cpp_block readme out)
  file(READ "${readme}" text)
  set(text "\n${text}")
  set(open_fence "\n```cpp\n")
  string(FIND "${text}" "${open_fence}" start)
  if(start EQUAL -1)
    message(FATAL_ERROR "${readme} has no ```cpp block: the README must show a C++ example")
  endif()
  string(LENGTH "${open_fence}" fence_length)
  math(EXPR start "${start} + ${fence_length}")
  string(SUBSTRING "${text}" ${start} -1 rest)
  set(rest "\n${rest}")
  string(FIND "${rest}" "\n```" end)
  if(end EQUAL -1)
    message(FATAL_ERROR "${readme}: the first ```cpp block is never closed")
  endif()
  string(SUBSTRING "${rest}" 1 ${end} code)
  string(STRIP "${code}" stripped)
  if(stripped STREQUAL "")
    message(FATAL_ERROR "${readme}: the first ```cpp block is empty")
  endif()
  file(WRITE "${out}" "${code}")
  message(STATUS "extracted the first C++ example of ${readme} into ${out}")
endfunction()

# The umbrella header for the installed compiled package and the embedded header-only target only
# (see program/consumer.cpp); every other consumer compiles the headers the program uses.
if((MODE STREQUAL "find_package" AND CONSUMER_TARGET STREQUAL "switchyard") OR
   (MODE STREQUAL "add_subdirectory" AND CONSUMER_TARGET STREQUAL "switchyard_header_only"))
  string(APPEND CXX_FLAGS " -DSWITCHYARD_CONSUMER_UMBRELLA")
endif()

if(MODE STREQUAL "install")
  install_build("${PREFIX}")

elseif(MODE STREQUAL "check_install")
  get_filename_component(real_build "${BUILD_DIR}" REALPATH)
  get_filename_component(real_source "${SOURCE_DIR}" REALPATH)
  get_filename_component(real_prefix "${PREFIX}" REALPATH)
  file(GLOB_RECURSE package_files "${PREFIX}/${CMAKE_DIR}/*" "${PREFIX}/${PKGCONFIG_DIR}/*.pc")
  list(LENGTH package_files n)
  if(n LESS 6)
    message(FATAL_ERROR "expected the CMake package and pkg-config files, found: ${package_files}")
  endif()
  set(problems "")
  foreach(file IN LISTS package_files)
    file(READ "${file}" text)
    foreach(path "${BUILD_DIR}" "${real_build}" "${SOURCE_DIR}" "${real_source}" "${PREFIX}"
                 "${real_prefix}")
      string(FIND "${text}" "${path}" at)
      if(NOT at EQUAL -1)
        string(APPEND problems "\n  ${file} contains ${path}")
      endif()
    endforeach()
  endforeach()
  # Every header of the source tree is installed (the -inl files included: header-only needs them).
  file(GLOB_RECURSE headers RELATIVE "${SOURCE_DIR}/include" "${SOURCE_DIR}/include/*.hpp")
  foreach(header IN LISTS headers)
    if(NOT EXISTS "${PREFIX}/include/${header}")
      string(APPEND problems "\n  ${header} is not installed")
    endif()
  endforeach()
  if(problems)
    message(FATAL_ERROR "installed tree is not clean:${problems}")
  endif()
  list(LENGTH headers nh)
  message(STATUS "${n} package files free of build, source and prefix paths; ${nh} headers installed")

elseif(MODE STREQUAL "find_package")
  find_package_consumer("${PREFIX}" "${WORK_DIR}")

elseif(MODE STREQUAL "add_subdirectory")
  cmake_consumer(add_subdirectory "${WORK_DIR}" "-DSWITCHYARD_SOURCE_DIR=${SOURCE_DIR}"
                 "-DBUILD_SHARED_LIBS=${SHARED}" "-DSWITCHYARD_EXPECTED_VERSION=${VERSION}")

elseif(MODE STREQUAL "pkg_config")
  pkg_config_consumer("${PREFIX}" "${WORK_DIR}")

elseif(MODE STREQUAL "relocate")
  install_build("${WORK_DIR}/installed")
  file(REMOVE_RECURSE "${WORK_DIR}/moved")
  file(RENAME "${WORK_DIR}/installed" "${WORK_DIR}/moved")
  if(EXISTS "${WORK_DIR}/installed")
    message(FATAL_ERROR "the original prefix still exists")
  endif()
  find_package_consumer("${WORK_DIR}/moved" "${WORK_DIR}/find_package")
  if(PKG_CONFIG)
    pkg_config_consumer("${WORK_DIR}/moved" "${WORK_DIR}/pkg_config")
  endif()

elseif(MODE STREQUAL "adapters")
  cmake_consumer(adapters "${WORK_DIR}" "-DCMAKE_PREFIX_PATH=${PREFIX}"
                 "-DSWITCHYARD_COMPONENTS=${COMPONENTS}"
                 "-DSWITCHYARD_TEST_DATA=${SOURCE_DIR}/tests/data")

elseif(MODE STREQUAL "readme")
  file(REMOVE_RECURSE "${WORK_DIR}")
  file(MAKE_DIRECTORY "${WORK_DIR}/run")
  extract_first_cpp_block("${SOURCE_DIR}/README.md" "${WORK_DIR}/readme_example.cpp")
  set(binary_dir "${WORK_DIR}/build")
  set(configure "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/consumers/readme" -B "${binary_dir}"
      -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_BUILD_TYPE="
      "-DSWITCHYARD_CONSUMER_TARGET=${CONSUMER_TARGET}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
      "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${EXE_LINKER_FLAGS}"
      "-DCMAKE_PREFIX_PATH=${PREFIX}" "-DREADME_EXAMPLE=${WORK_DIR}/readme_example.cpp")
  if(MAKE_PROGRAM)
    list(APPEND configure "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
  run("configure the README example" ${configure})
  run("build the README example" "${CMAKE_COMMAND}" --build "${binary_dir}" --target consumer
      --parallel ${jobs})
  # In an empty directory, as a first run would be: the example creates its store there.
  execute_process(COMMAND "${binary_dir}/consumer" WORKING_DIRECTORY "${WORK_DIR}/run"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the README example failed (${rc}):\n${out}")
  endif()
  message(STATUS "the README example ran:\n${out}")

else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
