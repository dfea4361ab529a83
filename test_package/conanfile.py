import os

from conan import ConanFile
from conan.tools.build import can_run
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout


class SpoolTestPackage(ConanFile):
    settings = "os", "arch", "compiler", "build_type"
    _parts = ("sqlite", "smtp", "postgres")  # the recipe's options, one part each

    def requirements(self):
        self.requires(self.tested_reference_str)

    def layout(self):
        cmake_layout(self)

    def generate(self):
        toolchain = CMakeToolchain(self)
        # A package made with -o spool/*:sqlite=True is tested through spool::sqlite
        # too, and so on for each part the options enable.
        for part in self._parts:
            toolchain.cache_variables[f"SPOOL_TEST_{part.upper()}"] = bool(self.dependencies["spool"].options.get_safe(part))
        toolchain.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def test(self):
        if not can_run(self):
            return
        binary = lambda name: os.path.join(self.cpp.build.bindir, name)
        self.run(binary("test_package"), env="conanrun")
        self.run(binary("test_package_ops"), env="conanrun")
        options = self.dependencies["spool"].options
        if options.get_safe("sqlite"):
            database = os.path.join(self.build_folder, "test_package.db")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(database + suffix):
                    os.remove(database + suffix)
            self.run(f'{binary("test_package_sqlite")} "{database}"', env="conanrun")
        for part in ("smtp", "postgres"):
            if options.get_safe(part):
                self.run(binary(f"test_package_{part}"), env="conanrun")
