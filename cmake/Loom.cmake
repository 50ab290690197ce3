# Shared build settings and the loom_module() helper.

set(LOOM_WARNING_FLAGS -Wall -Wextra -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND LOOM_WARNING_FLAGS -Wshadow=local)
endif()
if(LOOM_FATAL_WARNINGS)
  list(APPEND LOOM_WARNING_FLAGS -Werror)
endif()

if(LOOM_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(LOOM_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LOOM_FUZZ=ON needs clang (CC=clang CXX=clang++)")
  endif()
  # Instrument all project code for coverage-guided fuzzing; the fuzzer main is linked only
  # into the fuzz targets.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# loom_module(NAME DEPS other_module ... [TEST_DEPS ...])
# Declares the static library loom_NAME from every *.cc under src/NAME except *_test.cc and,
# when tests are on, one test binary NAME_test from the *_test.cc files (tests sit beside the
# code).
function(loom_module name)
  cmake_parse_arguments(ARG "" "" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "_test\\.cc$")
  if(NOT srcs)
    # A module that is all headers so far (or being written): still linkable.
    add_library(loom_${name} INTERFACE)
    target_include_directories(loom_${name} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(loom_${name} INTERFACE ${ARG_DEPS})
  else()
    add_library(loom_${name} STATIC ${srcs})
    target_include_directories(loom_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_compile_options(loom_${name} PRIVATE ${LOOM_WARNING_FLAGS})
    target_link_libraries(loom_${name} PUBLIC ${ARG_DEPS})
  endif()
  if(LOOM_BUILD_TESTS)
    file(GLOB_RECURSE tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
    if(tests)
      add_executable(${name}_test ${tests})
      target_compile_options(${name}_test PRIVATE ${LOOM_WARNING_FLAGS})
      target_compile_definitions(${name}_test PRIVATE
        LOOM_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
        LOOM_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared")
      target_link_libraries(${name}_test PRIVATE loom_${name} ${ARG_TEST_DEPS}
                            GTest::gtest GTest::gtest_main)
      gtest_discover_tests(${name}_test PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
    endif()
  endif()
endfunction()
