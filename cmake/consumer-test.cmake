# Run with -P: builds tests/package against spool in one of three ways and runs it.
#   -DMODE=find_package|add_subdirectory|fetchcontent|pkg-config
#   -DSPOOL_SOURCE_DIR -DSPOOL_BINARY_DIR -DWORK_DIR -DCXX -DVERSION
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT result EQUAL 0)
    list(JOIN ARGN " " command)
    message(FATAL_ERROR "failed: ${command}\n${out}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

if(MODE STREQUAL "find_package" OR MODE STREQUAL "pkg-config")
  run("${CMAKE_COMMAND}" --install "${SPOOL_BINARY_DIR}" --prefix "${prefix}")
endif()

# spoolctl is installed with the package, and runs from the install prefix.
if(MODE STREQUAL "find_package" AND SPOOLCTL)
  run("${prefix}/bin/spoolctl" --help)
  if(NOT last_output MATCHES "Exit codes")
    message(FATAL_ERROR "the installed spoolctl's --help does not give its exit codes:\n${last_output}")
  endif()
endif()

if(MODE STREQUAL "pkg-config")
  set(ENV{PKG_CONFIG_PATH} "${prefix}/share/pkgconfig")
  run(pkg-config --cflags spool)
  string(STRIP "${last_output}" cflags)
  string(REGEX REPLACE "^-I" "" include_dir "${cflags}")
  file(REAL_PATH "${include_dir}" include_dir)
  file(REAL_PATH "${prefix}/include" expected_dir)
  if(NOT include_dir STREQUAL expected_dir)
    message(FATAL_ERROR "pkg-config --cflags spool gave «${cflags}», not the installed ${expected_dir}")
  endif()
  run(pkg-config --modversion spool)
  string(STRIP "${last_output}" pc_version)
  if(NOT pc_version STREQUAL VERSION)
    message(FATAL_ERROR "pkg-config says version ${pc_version}, the project is ${VERSION}")
  endif()
  # Only the installed copy of the headers is on the path: the build tree's are not.
  run("${CXX}" -std=c++20 ${cflags} "${SPOOL_SOURCE_DIR}/tests/package/consumer.cpp" -pthread -o "${WORK_DIR}/consumer")
  run("${WORK_DIR}/consumer")
else()
  run("${CMAKE_COMMAND}" -S "${SPOOL_SOURCE_DIR}/tests/package" -B "${WORK_DIR}/build" -G Ninja
      -DCMAKE_CXX_COMPILER=${CXX} -DSPOOL_CONSUME=${MODE} -DSPOOL_SOURCE_DIR=${SPOOL_SOURCE_DIR}
      -DSPOOL_EXPECTED_VERSION=${VERSION} -DCMAKE_PREFIX_PATH=${prefix})
  run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
  run("${WORK_DIR}/build/sqlite_consumer" "${WORK_DIR}/consumer.db")
  run("${WORK_DIR}/build/smtp_consumer")
  run("${WORK_DIR}/build/postgres_consumer")
  run("${WORK_DIR}/build/ops_consumer")
  run("${WORK_DIR}/build/dkim_consumer")
  run("${WORK_DIR}/build/web_consumer" "${WORK_DIR}/web_consumer.db")
  run("${WORK_DIR}/build/consumer")
endif()
message(STATUS "${MODE} consumer: ${last_output}")
