import os
import re

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import load

required_conan_version = ">=2.0"


class SpoolConan(ConanFile):
    name = "spool"
    description = "Header-only C++20 store-and-forward message spooler with compile-time composed stores, transports and preprocessors"
    # No licence has been chosen for spool yet; this must be settled before publishing.
    license = "LicenseRef-spool-unlicensed"
    topics = ("messaging", "spooler", "store-and-forward", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {"sqlite": [True, False], "smtp": [True, False], "postgres": [True, False]}
    default_options = {"sqlite": False, "smtp": False, "postgres": False, "boost/*:header_only": True}
    exports_sources = "CMakeLists.txt", "cmake/*", "include/*"
    no_copy_source = True

    def set_version(self):
        # The version is written once, in include/spool/version.hpp, as CMake reads it.
        header = load(self, os.path.join(self.recipe_folder, "include", "spool", "version.hpp"))
        parts = [re.search(rf"#define SPOOL_VERSION_{p} (\d+)", header).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
        self.version = ".".join(parts)

    def requirements(self):
        self.requires("boost/1.81.0")
        self.requires("range-v3/0.12.0")
        if self.options.sqlite:
            self.requires("sqlite3/3.40.1")
        if self.options.smtp:
            self.requires("openssl/[>=3.0 <4]")
        if self.options.postgres:
            self.requires("libpq/[>=14 <17]")

    def validate(self):
        check_min_cppstd(self, 20)

    def layout(self):
        cmake_layout(self, src_folder=".")

    def generate(self):
        toolchain = CMakeToolchain(self)
        # Exactly the install the consumer tests in tests/ verify: no tests, no examples.
        toolchain.cache_variables["SPOOL_BUILD_TESTS"] = False
        toolchain.cache_variables["SPOOL_BUILD_EXAMPLES"] = False
        toolchain.cache_variables["SPOOL_BUILD_BENCHMARKS"] = False
        toolchain.cache_variables["SPOOL_BUILD_SPOOLCTL"] = False  # the recipe packages the library; spoolctl comes with the CMake install
        toolchain.cache_variables["SPOOL_INSTALL"] = True
        toolchain.cache_variables["SPOOL_WITH_SQLITE"] = bool(self.options.sqlite)
        toolchain.cache_variables["SPOOL_WITH_SMTP"] = bool(self.options.smtp)
        toolchain.cache_variables["SPOOL_WITH_POSTGRES"] = bool(self.options.postgres)
        # No recipe option yet for the parts on system libraries Conan Center
        # does not package (libopendkim; libcrypt for the dashboard): off, so
        # that a Conan build does not look for them.
        toolchain.cache_variables["SPOOL_WITH_DKIM"] = False
        toolchain.cache_variables["SPOOL_WITH_WEB"] = False
        toolchain.generate()
        CMakeDeps(self).generate()

    def build(self):
        CMake(self).configure()

    def package(self):
        CMake(self).install()

    def package_id(self):
        # Header-only: neither settings nor dependencies change what is packaged,
        # but the sqlite, smtp and postgres options do (their headers and CMake targets),
        # so it stays in the package id. Clearing everything served one option's
        # package for the other (found by the first real `conan create`).
        self.info.settings.clear()
        self.info.requires.clear()

    def package_info(self):
        # CMake users get spool's own installed config (share/spool), the one the
        # find_package consumer test builds against; other generators use these fields.
        self.cpp_info.set_property("cmake_find_mode", "none")
        self.cpp_info.set_property("pkg_config_name", "spool")
        # With components, Conan reads the directories from the components, not
        # from cpp_info itself (found by the first real `conan create`: the
        # test package could not find share/spool).
        # ops (the metrics) needs nothing beyond the core, so it is always there.
        components = ["spool", "ops"] + [part for part in ("sqlite", "smtp", "postgres") if self.options.get_safe(part)]
        for name in components:
            component = self.cpp_info.components[name]
            component.builddirs = [os.path.join("share", "spool")]
            component.bindirs = []
            component.libdirs = []
        self.cpp_info.components["spool"].requires = ["boost::headers", "range-v3::range-v3"]
        self.cpp_info.components["ops"].requires = ["spool"]
        if self.options.sqlite:
            self.cpp_info.components["sqlite"].requires = ["spool", "sqlite3::sqlite3"]
        if self.options.smtp:
            self.cpp_info.components["smtp"].requires = ["spool", "openssl::ssl"]
            self.cpp_info.components["smtp"].system_libs = ["resolv", "pthread"]
        if self.options.postgres:
            self.cpp_info.components["postgres"].requires = ["spool", "libpq::libpq"]
