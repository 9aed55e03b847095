"""Conan 2 recipe of Switchyard, built from this checkout.

    conan create . --build=missing                      # compiled library (static by default)
    conan create . -o "switchyard/*:header_only=True"   # headers only
    conan create . -o "switchyard/*:shared=True"

Consumers get the same names as from Switchyard's own CMake package:
find_package(switchyard CONFIG REQUIRED) with switchyard::switchyard (unless header_only) and
switchyard::switchyard_header_only, and the pkg-config modules switchyard and
switchyard_header_only. tests/packaging checks that version and requirements match CMakeLists.txt.
"""
import os

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, rmdir

required_conan_version = ">=2.0"


class SwitchyardConan(ConanFile):
    name = "switchyard"
    version = "0.1.0"
    description = ("Embeddable C++20 library to version ML models inside an inference service "
                   "and ship new versions safely: model registry, weighted and sticky A/B routing "
                   "(GrowthBook- and Unleash-compatible bucketing), deployments with fallback, "
                   "shadow traffic, canary rollouts with a sequential judge and automatic "
                   "rollback, drift monitoring, statistics, experiments, monitoring exposition.")
    license = "Apache-2.0"
    topics = ("machine-learning", "model-registry", "a-b-testing", "traffic-splitting",
              "inference")
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "shared": [True, False],
        "fPIC": [True, False],
        "header_only": [True, False],
    }
    default_options = {
        "shared": False,
        "fPIC": True,
        "header_only": False,
        # Switchyard uses Boost.Math and Boost.Signals2, both header-only.
        "boost/*:header_only": True,
    }
    exports_sources = ("CMakeLists.txt", "cmake/*", "include/*", "src/*", "CHANGELOG.md",
                       "LICENSE")

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC

    def configure(self):
        if self.options.header_only:
            self.options.rm_safe("shared")
            self.options.rm_safe("fPIC")
            self.package_type = "header-library"
        elif self.options.shared:
            self.options.rm_safe("fPIC")

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        # Public: their headers appear in Switchyard's headers.
        self.requires("eigen/3.4.0", transitive_headers=True)
        self.requires("xtensor/0.24.7", transitive_headers=True)
        self.requires("cereal/1.3.2", transitive_headers=True)
        self.requires("boost/1.83.0", transitive_headers=True)
        # Used header-only (XXH_INLINE_ALL in serving/bucketing.hpp): nothing of it is linked.
        self.requires("xxhash/0.8.3", transitive_headers=True)
        # Used by the compiled part; header-only consumers compile that part themselves.
        header_only = bool(self.options.header_only)
        self.requires("sqlite3/[>=3.42 <4]", transitive_headers=header_only)
        self.requires("openssl/[>=1.1 <4]", transitive_headers=header_only)
        # Reads shadow deployment YAML (shadow/shadow_config-inl.hpp), in the compiled part.
        self.requires("yaml-cpp/0.8.0", transitive_headers=header_only)

    def validate(self):
        check_min_cppstd(self, 20)

    def package_id(self):
        if self.info.options.header_only:
            self.info.clear()

    def generate(self):
        deps = CMakeDeps(self)
        deps.generate()
        tc = CMakeToolchain(self)
        tc.cache_variables["SWITCHYARD_BUILD_TESTS"] = False
        tc.cache_variables["SWITCHYARD_BUILD_EXAMPLES"] = False
        tc.cache_variables["SWITCHYARD_BUILD_BENCHMARKS"] = False
        tc.cache_variables["SWITCHYARD_BUILD_CLI"] = False
        tc.cache_variables["SWITCHYARD_INSTALL"] = True
        tc.cache_variables["SWITCHYARD_WERROR"] = False
        tc.generate()

    def build(self):
        if self.options.header_only:
            return
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "LICENSE", src=self.source_folder,
             dst=os.path.join(self.package_folder, "licenses"))
        if self.options.header_only:
            copy(self, "*.hpp", src=os.path.join(self.source_folder, "include"),
                 dst=os.path.join(self.package_folder, "include"))
            return
        cmake = CMake(self)
        cmake.install()
        # Conan's generators describe the package from package_info(); drop Switchyard's own files.
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))
        rmdir(self, os.path.join(self.package_folder, "lib", "pkgconfig"))
        rmdir(self, os.path.join(self.package_folder, "share"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "switchyard")
        self.cpp_info.set_property("pkg_config_name", "switchyard_all_do_not_use")
        requires = ["eigen::eigen", "xtensor::xtensor", "cereal::cereal", "boost::headers",
                    "xxhash::xxhash", "sqlite3::sqlite3", "openssl::crypto",
                    "yaml-cpp::yaml-cpp"]
        system_libs = ["pthread", "m"] if self.settings.os in ("Linux", "FreeBSD") else []

        header_only = self.cpp_info.components["switchyard_header_only"]
        header_only.set_property("cmake_target_name", "switchyard::switchyard_header_only")
        header_only.set_property("pkg_config_name", "switchyard_header_only")
        header_only.defines = ["SWITCHYARD_HEADER_ONLY"]
        header_only.requires = requires
        header_only.system_libs = system_libs
        header_only.bindirs = []
        header_only.libdirs = []

        if not self.options.header_only:
            library = self.cpp_info.components["switchyard_library"]
            library.set_property("cmake_target_name", "switchyard::switchyard")
            library.set_property("pkg_config_name", "switchyard")
            library.libs = ["switchyard"]
            library.requires = requires
            library.system_libs = system_libs
            if self.options.shared:
                library.defines = ["SWITCHYARD_SHARED"]
