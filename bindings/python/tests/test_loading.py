"""Loading: STARK_LIBRARY, the ABI version check at import, ctypes declarations."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import stark
from stark import _lib


def test_version_and_path() -> None:
    assert stark.abi_version[0] == _lib.ABI_MAJOR
    assert stark.abi_version[1] >= _lib.ABI_MINOR
    assert os.path.exists(stark.library_path)


def test_loaded_with_cdll_and_prototypes() -> None:
    # CDLL (not PyDLL): ctypes releases the GIL around every call.
    assert type(_lib.lib) is __import__("ctypes").CDLL
    for name in _lib.PROTOTYPES:
        fn = getattr(_lib.lib, name)
        assert fn.argtypes is not None and fn.restype is not None, name


def _import_with(lib: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, STARK_LIBRARY=lib)
    return subprocess.run([sys.executable, "-c", "import stark"], env=env, capture_output=True, text=True)


def test_stark_library_override(tmp_path: Path) -> None:
    copy = tmp_path / "libstark-copy.so"
    shutil.copy(stark.library_path, copy)
    env = dict(os.environ, STARK_LIBRARY=str(copy))
    out = subprocess.run(
        [sys.executable, "-c", "import stark; print(stark.library_path)"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(copy)


def test_missing_library_is_an_import_error(tmp_path: Path) -> None:
    out = _import_with(str(tmp_path / "nope.so"))
    assert out.returncode != 0 and "ImportError" in out.stderr and "STARK_LIBRARY" in out.stderr


@pytest.mark.parametrize("version,ok", [((2, 0), False), ((0, 9), False), ((1, _lib.ABI_MINOR), True)])
def test_version_check(tmp_path: Path, version: tuple[int, int], ok: bool) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build a fake library")
    # A stand-in exporting every symbol the package declares, reporting `version`.
    body = "\n".join(f"int {name}(void) {{ return 0; }}" for name in _lib.PROTOTYPES if name != "stark_abi_version")
    src = tmp_path / "fake.c"
    src.write_text(
        textwrap.dedent(
            f"""
            unsigned stark_abi_version(void) {{ return ({version[0]}u << 16) | {version[1]}u; }}
            {body}
            """
        )
    )
    so = tmp_path / "libfake.so"
    subprocess.run([cc, "-shared", "-fPIC", "-w", "-o", str(so), str(src)], check=True)
    out = _import_with(str(so))
    if ok:
        assert out.returncode == 0, out.stderr
    else:
        assert out.returncode != 0
        assert "ImportError" in out.stderr
        assert f"C ABI {version[0]}.{version[1]}" in out.stderr and str(so) in out.stderr
        assert f"needs {_lib.ABI_MAJOR}.{_lib.ABI_MINOR}" in out.stderr


def test_public_names_have_docstrings() -> None:
    for name in stark.__all__:
        obj = getattr(stark, name)
        if callable(obj) or isinstance(obj, type):
            assert obj.__doc__, name
    for cls in (stark.Runtime, stark.ActorRef, stark.Message, stark.Buffer, stark.Timer, stark.Module):
        for attr, val in vars(cls).items():
            if not attr.startswith("_") and callable(val):
                assert val.__doc__, f"{cls.__name__}.{attr}"
