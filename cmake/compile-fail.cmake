# Run with -P: builds one target that must not compile, and checks that the
# compiler said what spool promises, in one error.
#   -DBUILD_DIR=... -DTARGET=... -DEXPECT=<regex>
execute_process(
  COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}"
  RESULT_VARIABLE result
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)

if(result EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled, but it must not")
endif()
string(REGEX MATCH "${EXPECT}" matched "${output}")
if(NOT matched)
  message(FATAL_ERROR "${TARGET} failed to compile without the expected message «${EXPECT}». Compiler output:\n${output}")
endif()
string(REGEX MATCHALL "error:" errors "${output}")
list(LENGTH errors count)
# Exactly one diagnostic: the build tool says the command failed in words of its own.
if(count GREATER 1)
  message(FATAL_ERROR "${TARGET}: expected one error, the compiler gave ${count}:\n${output}")
endif()
message(STATUS "${TARGET}: failed to compile as expected, with: ${matched}")
