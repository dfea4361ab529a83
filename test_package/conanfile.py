import os

from conan import ConanFile
from conan.tools.build import can_run
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout


class SpoolTestPackage(ConanFile):
    settings = "os", "arch", "compiler", "build_type"

    def requirements(self):
        self.requires(self.tested_reference_str)

    def layout(self):
        cmake_layout(self)

    def generate(self):
        toolchain = CMakeToolchain(self)
        # A package made with -o spool/*:sqlite=True is tested through spool::sqlite too.
        toolchain.cache_variables["SPOOL_TEST_SQLITE"] = bool(self.dependencies["spool"].options.sqlite)
        toolchain.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def test(self):
        if can_run(self):
            self.run(os.path.join(self.cpp.build.bindir, "test_package"), env="conanrun")
            if self.dependencies["spool"].options.sqlite:
                database = os.path.join(self.build_folder, "test_package.db")
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(database + suffix):
                        os.remove(database + suffix)
                self.run(f'{os.path.join(self.cpp.build.bindir, "test_package_sqlite")} "{database}"', env="conanrun")
