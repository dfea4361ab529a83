#!/usr/bin/env python3
"""Checks that the Conan recipe, the vcpkg port and manifest and the CMake
presets parse and agree with the CMake project, since neither Conan nor vcpkg
can run on spool's machines. Usage: check-packaging.py SOURCE_DIR VERSION"""

import ast
import json
import pathlib
import py_compile
import sys
import tempfile

source = pathlib.Path(sys.argv[1])
version = sys.argv[2]
problems = []


def check(condition, message):
    if not condition:
        problems.append(message)


def load_json(relative):
    try:
        return json.loads((source / relative).read_text())
    except (OSError, json.JSONDecodeError) as e:
        problems.append(f"{relative}: {e}")
        return {}


# Conan: the recipe and the test package compile, and say what a header-only recipe must.
with tempfile.TemporaryDirectory() as scratch:
    for recipe in ("conanfile.py", "test_package/conanfile.py"):
        try:
            py_compile.compile(str(source / recipe), doraise=True, cfile=str(pathlib.Path(scratch) / "recipe.pyc"))
        except py_compile.PyCompileError as e:
            problems.append(f"{recipe}: {e.msg}")

tree = ast.parse((source / "conanfile.py").read_text())
recipe = next(n for n in tree.body if isinstance(n, ast.ClassDef))
attributes = {t.id: n.value for n in recipe.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
methods = {n.name: ast.unparse(n) for n in recipe.body if isinstance(n, ast.FunctionDef)}
check(ast.literal_eval(attributes.get("package_type", ast.Constant(None))) == "header-library",
      "conanfile.py: package_type must be header-library")
check(ast.literal_eval(attributes.get("no_copy_source", ast.Constant(False))) is True, "conanfile.py: no_copy_source must be True")
check("version" not in attributes and "set_version" in methods,
      "conanfile.py: the version must come from include/spool/version.hpp (set_version), not be written again")
package_id = methods.get("package_id", "")
check("self.info.settings.clear()" in package_id and "self.info.requires.clear()" in package_id
      and "self.info.clear()" not in package_id,
      "conanfile.py: package_id must clear settings and requires but keep the options (sqlite changes the package)")
check("sqlite" in ast.literal_eval(attributes.get("options", ast.Constant({}))), "conanfile.py: a sqlite option is expected")
for dependency in ("boost/", "range-v3/"):
    check(dependency in methods.get("requirements", ""), f"conanfile.py: requirements must name {dependency}")
for switch in ("SPOOL_BUILD_TESTS", "SPOOL_BUILD_EXAMPLES", "SPOOL_BUILD_BENCHMARKS", "SPOOL_BUILD_SPOOLCTL"):
    check(f"['{switch}'] = False" in methods.get("generate", ""), f"conanfile.py: generate must turn {switch} off")
check("CMake(self).install()" in methods.get("package", ""), "conanfile.py: package must run the CMake install")
check("['SPOOL_WITH_SQLITE'] = bool(self.options.sqlite)" in methods.get("generate", ""),
      "conanfile.py: the sqlite option must drive SPOOL_WITH_SQLITE")
check("'share', 'spool'" in methods.get("package_info", ""), "conanfile.py: package_info must point CMake at share/spool")

# vcpkg: the port and the manifests parse, carry the project's version, and build what the tests verify.
port = load_json("packaging/vcpkg/ports/spool/vcpkg.json")
manifest = load_json("vcpkg.json")
configuration = load_json("vcpkg-configuration.json")
check(port.get("version") == version, f"port vcpkg.json: version {port.get('version')} is not the project's {version}")
check(manifest.get("version") == version, f"vcpkg.json: version {manifest.get('version')} is not the project's {version}")
check("catch2" in manifest.get("features", {}).get("test", {}).get("dependencies", []),
      "vcpkg.json: the test feature must bring catch2")
for overlay in configuration.get("overlay-ports", []):
    check((source / overlay / "spool" / "portfile.cmake").is_file(), f"vcpkg-configuration.json: no port at {overlay}/spool")
portfile = (source / "packaging/vcpkg/ports/spool/portfile.cmake").read_text()
for needed in ("-DSPOOL_BUILD_TESTS=OFF", "-DSPOOL_BUILD_EXAMPLES=OFF", "-DSPOOL_BUILD_BENCHMARKS=OFF", "-DSPOOL_BUILD_SPOOLCTL=OFF",
               "FEATURES sqlite SPOOL_WITH_SQLITE", "vcpkg_cmake_config_fixup(CONFIG_PATH share/spool)"):
    check(needed in portfile, f"portfile.cmake: expected {needed}")
check("spool::spool" in (source / "packaging/vcpkg/ports/spool/usage").read_text(), "usage: must name spool::spool")

# Presets: schema 6, and the presets the README and CI name.
presets = load_json("CMakePresets.json")
check(presets.get("version") == 6, "CMakePresets.json: schema version 6 expected (CMake 3.25)")
workflows = {w["name"] for w in presets.get("workflowPresets", [])}
for name in ("dev", "ci-gcc", "ci-clang", "catch3", "asan-ubsan", "tsan"):
    check(name in workflows, f"CMakePresets.json: no workflow preset {name}")
for p in presets.get("configurePresets", []):
    flags = p.get("cacheVariables", {})
    check("-Werror" not in flags.get("CMAKE_CXX_FLAGS", ""), f"preset {p['name']}: use SPOOL_WARNINGS_AS_ERRORS, not -Werror")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"packaging files agree with spool {version}")
