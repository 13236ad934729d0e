# Dependencies: the distribution's CMake packages where they exist (Debian's -dev packages),
# else plain headers and libraries under CMAKE_PREFIX_PATH (the bundle that
# scripts/prepare_device_bundle.sh makes for GPU machines, which cannot install packages).

find_package(Threads REQUIRED)

find_package(nlohmann_json 3 QUIET)
if(NOT TARGET nlohmann_json::nlohmann_json)
  find_path(SPIKEY_NLOHMANN_JSON_INCLUDE nlohmann/json.hpp REQUIRED)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  set_target_properties(nlohmann_json::nlohmann_json PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${SPIKEY_NLOHMANN_JSON_INCLUDE})
endif()

find_package(CLI11 QUIET)
if(NOT TARGET CLI11::CLI11)
  find_path(SPIKEY_CLI11_INCLUDE CLI/CLI.hpp REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  set_target_properties(CLI11::CLI11 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${SPIKEY_CLI11_INCLUDE})
endif()

# SHA-1 of SpikeGLX recordings (their .meta's fileSHA1): libcrypto from libssl-dev.
find_package(OpenSSL REQUIRED COMPONENTS Crypto)

find_path(SPIKEY_XXHASH_INCLUDE xxhash.h REQUIRED)
find_library(SPIKEY_XXHASH_LIBRARY xxhash REQUIRED)
add_library(spikey_xxhash INTERFACE)
target_include_directories(spikey_xxhash INTERFACE ${SPIKEY_XXHASH_INCLUDE})
target_link_libraries(spikey_xxhash INTERFACE ${SPIKEY_XXHASH_LIBRARY})

find_package(zstd QUIET)
add_library(spikey_zstd INTERFACE)
if(TARGET zstd::libzstd_shared)
  target_link_libraries(spikey_zstd INTERFACE zstd::libzstd_shared)
else()
  find_path(SPIKEY_ZSTD_INCLUDE zstd.h REQUIRED)
  find_library(SPIKEY_ZSTD_LIBRARY zstd REQUIRED)
  target_include_directories(spikey_zstd INTERFACE ${SPIKEY_ZSTD_INCLUDE})
  target_link_libraries(spikey_zstd INTERFACE ${SPIKEY_ZSTD_LIBRARY})
endif()

if(SPIKEY_BUILD_TESTS)
  find_package(GTest REQUIRED)  # CMake's FindGTest also searches plain prefixes
endif()

if(SPIKEY_BUILD_BENCH)
  find_package(benchmark QUIET)
  if(NOT TARGET benchmark::benchmark)
    find_path(SPIKEY_BENCHMARK_INCLUDE benchmark/benchmark.h REQUIRED)
    find_library(SPIKEY_BENCHMARK_LIBRARY benchmark REQUIRED)
    add_library(benchmark::benchmark INTERFACE IMPORTED)
    set_target_properties(benchmark::benchmark PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${SPIKEY_BENCHMARK_INCLUDE}
                                                          INTERFACE_LINK_LIBRARIES "${SPIKEY_BENCHMARK_LIBRARY};Threads::Threads")
  endif()
endif()

# NWB (HDF5) inputs: libhdf5 from libhdf5-dev (found through pkg-config) when present; without
# it, .nwb files are refused with a message saying so (SPIKEY_WITH_HDF5).
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(SPIKEY_HDF5 QUIET IMPORTED_TARGET hdf5)
endif()
if(TARGET PkgConfig::SPIKEY_HDF5)
  set(SPIKEY_WITH_HDF5 ON)
  # Executables link libhdf5's static archive where the distribution has one (Debian's
  # libhdf5-dev does): the shared library brings in libcurl with its TLS, LDAP and Kerberos
  # libraries (for its S3 driver, which spikey never uses), 30 more shared objects whose loading
  # took 5 of the 6 ms of every spikey command's start. The archive is not position independent,
  # so shared objects (the Python module) keep the shared library (SPIKEY_HDF5_LINK, host/).
  find_library(SPIKEY_HDF5_ARCHIVE NAMES libhdf5.a PATHS ${SPIKEY_HDF5_LIBRARY_DIRS} ${SPIKEY_HDF5_LIBDIR} NO_DEFAULT_PATH)
  find_library(SPIKEY_SZIP_LIBRARY NAMES sz)
  find_package(ZLIB QUIET)
  if(SPIKEY_HDF5_ARCHIVE AND SPIKEY_SZIP_LIBRARY AND ZLIB_FOUND)
    add_library(spikey_hdf5_archive INTERFACE)
    target_link_libraries(spikey_hdf5_archive INTERFACE ${SPIKEY_HDF5_ARCHIVE} ${SPIKEY_SZIP_LIBRARY} ZLIB::ZLIB m ${CMAKE_DL_LIBS})
    set(SPIKEY_HDF5_FOR_EXECUTABLES spikey_hdf5_archive)
  else()
    set(SPIKEY_HDF5_FOR_EXECUTABLES PkgConfig::SPIKEY_HDF5)
  endif()
  message(STATUS "spikey: executables link HDF5 as ${SPIKEY_HDF5_FOR_EXECUTABLES}")
else()
  set(SPIKEY_WITH_HDF5 OFF)
endif()
message(STATUS "spikey: NWB (HDF5) inputs ${SPIKEY_WITH_HDF5}")
