"""Structure of the 3D Slicer extension in slicer/ (no Slicer build can run here): the names agree
with the tool, every source it compiles exists, the catalog entry follows Slicer's schema."""
import json
import os
import re
import struct
import xml.etree.ElementTree as ElementTree

import pytest

ROOT = os.environ.get("CUDAFFT_SOURCE", os.path.join(os.path.dirname(__file__), "..", ".."))
SLICER = os.path.join(ROOT, "slicer")


def read(*parts):
    with open(os.path.join(*parts)) as f:
        return f.read()


def cmake_set(text, name):
    match = re.search(r'set\(%s\s+"?([^")]*)"?\)' % re.escape(name), text)
    return match.group(1) if match else None


MODULES = ("CudaFFTConvolution", "CudaDeconvolution")


def test_extension_cmake():
    text = read(SLICER, "CMakeLists.txt")
    for name in ("EXTENSION_HOMEPAGE", "EXTENSION_CATEGORY", "EXTENSION_CONTRIBUTORS", "EXTENSION_DESCRIPTION",
                 "EXTENSION_ICONURL", "EXTENSION_DEPENDS"):
        assert cmake_set(text, name), name
    assert "find_package(Slicer REQUIRED)" in text
    assert "include(${Slicer_USE_FILE})" in text
    assert "CudaFFTConvolutionLibrary.cmake" in text
    for module in MODULES:
        assert "add_subdirectory(%s)" % module in text
    assert "Slicer_EXTENSION_GENERATE_CONFIG" in text and "Slicer_EXTENSION_CPACK" in text


def test_library_compiles_every_source_of_the_module():
    """The extension's library takes its sources from the list the ITK module builds from, and
    that list holds every source in src/."""
    text = read(SLICER, "CudaFFTConvolutionLibrary.cmake")
    assert "${CUDAFFT_ROOT}/src/CudaFFTConvolutionSources.cmake" in text
    assert "CUDA::cudart_static" in text  # beside Slicer's libraries, it brings its own CUDA runtime
    listed = re.findall(r"^\s+(\S+\.(?:cxx|cu))$", read(ROOT, "src", "CudaFFTConvolutionSources.cmake"), re.MULTILINE)
    present = [name for name in os.listdir(os.path.join(ROOT, "src")) if name.endswith((".cxx", ".cu"))]
    assert sorted(listed) == sorted(present)
    assert "CudaFFTConvolutionSources.cmake" in read(ROOT, "src", "CMakeLists.txt")


@pytest.mark.parametrize("module", MODULES)
def test_module_cmake_names_and_sources(module):
    text = read(SLICER, module, "CMakeLists.txt")
    assert cmake_set(text, "MODULE_NAME") == module and "." not in module  # Slicer: no dot in a CLI's file name
    description = os.path.join(ROOT, "apps", module + ".xml")
    assert ElementTree.parse(description).getroot().tag == "executable"
    sources = re.findall(r"\$\{CUDAFFT_ROOT\}/([\w/]+\.(?:cxx|cu))", text)
    assert "apps/%sCLI.cxx" % module in sources
    for source in sources:
        assert os.path.exists(os.path.join(ROOT, source)), source
    assert "cudafft_embed_description(${MODULE_NAME})" in text  # --xml prints apps/MODULE.xml
    assert "Slicer_INSTALL_CLIMODULES_BIN_DIR" in text
    assert "${MODULE_NAME}.xml" in text  # the description goes next to the executable


def test_catalog_entry_follows_the_schema():
    entry = json.loads(read(SLICER, "SlicerCudaFFTConvolution.json"))
    allowed = {"$schema", "category", "scm_url", "scm_revision", "scm_type", "build_dependencies",
               "build_subdirectory", "enabled", "tier", "dicom_support_rule"}
    assert {"$schema", "category", "scm_url"} <= set(entry)
    assert set(entry) <= allowed
    assert entry["$schema"].endswith("slicer-extension-catalog-entry-schema-v1.0.2.json#")
    assert entry["category"] == cmake_set(read(SLICER, "CMakeLists.txt"), "EXTENSION_CATEGORY")
    assert os.path.exists(os.path.join(ROOT, entry["build_subdirectory"], "CMakeLists.txt"))
    assert isinstance(entry["build_dependencies"], list)


def test_icon():
    icon_url = cmake_set(read(SLICER, "CMakeLists.txt"), "EXTENSION_ICONURL")
    name = icon_url.rsplit("/", 1)[1]
    with open(os.path.join(SLICER, name), "rb") as f:
        header = f.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (128, 128)
