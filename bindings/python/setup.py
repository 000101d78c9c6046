"""Builds libstark.so with the Go toolchain and ships it inside the package.

`pip install ./bindings/python` runs, from the repository root (found
relative to this file, or given by STARK_SOURCE_DIR):

    go build -buildmode=c-shared -trimpath -o <build>/stark/libstark.so ./capi

GO (default: go on PATH) selects the toolchain. The wheel is platform
specific (it carries a native library).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Command, setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent


def repo_root() -> Path:
    env = os.environ.get("STARK_SOURCE_DIR")
    candidates = [Path(env)] if env else [HERE.parent.parent, *HERE.parents]
    for c in candidates:
        if (c / "go.mod").is_file() and (c / "capi").is_dir() and (c / "abi" / "stark.h").is_file():
            return c
    raise SystemExit(
        "stark: cannot find the STARK repository (go.mod, capi/, abi/stark.h) above "
        f"{HERE}; build from a checkout (pip install ./bindings/python) or set STARK_SOURCE_DIR"
    )


class BuildLib(Command):
    """Builds libstark.so into the package (build_py runs it)."""

    description = "build libstark.so with go build -buildmode=c-shared"
    user_options: list[tuple[str, str | None, str]] = []

    def initialize_options(self) -> None:
        self.build_lib: str | None = None

    def finalize_options(self) -> None:
        self.set_undefined_options("build_py", ("build_lib", "build_lib"))

    def run(self) -> None:
        assert self.build_lib is not None
        out = Path(self.build_lib).resolve() / "stark" / "libstark.so"
        out.parent.mkdir(parents=True, exist_ok=True)
        prebuilt = os.environ.get("STARK_PREBUILT_LIB")
        if prebuilt:  # make test: the library `make lib` already built
            print(f"stark: using {prebuilt}")
            shutil.copyfile(prebuilt, out)
            return
        go = os.environ.get("GO", "go")
        if shutil.which(go) is None:
            raise SystemExit(
                f"stark: the Go toolchain ({go!r}) is not on PATH; it is needed to build libstark.so. "
                "Install Go (https://go.dev/dl/, the version in go.mod) and retry, or set GO=/path/to/go."
            )
        root = repo_root()
        env = dict(os.environ, CGO_ENABLED="1")
        cmd = [go, "build", "-buildmode=c-shared", "-trimpath"]
        if sys.platform.startswith("linux"):  # as `make lib`: export the C ABI only
            script = root / "capi" / "libstark.map"
            cmd.append(f"-ldflags=-extldflags '-Wl,-soname,libstark.so.1 -Wl,--version-script={script}'")
        cmd += ["-o", str(out), "./capi"]
        print("stark: " + " ".join(cmd) + f"  (in {root})")
        try:
            subprocess.run(cmd, cwd=root, env=env, check=True)
        except subprocess.CalledProcessError as e:
            raise SystemExit(f"stark: go build failed with status {e.returncode}") from None
        header = out.with_name("libstark.h")  # cgo's generated header: not needed
        if header.exists():
            header.unlink()


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        self.run_command("build_lib_stark")


class BinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:  # a platform wheel: it carries libstark.so
        return True


setup(
    cmdclass={"build_py": BuildPy, "build_lib_stark": BuildLib},
    distclass=BinaryDistribution,
)
