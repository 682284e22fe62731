"""`make install` picks the CPU build of torch: its check of pip's resolution report (taken from the
Makefile itself) tells a resolution that brings NVIDIA's CUDA packages from one that does not."""

import json
import re
import subprocess
import sys
from pathlib import Path

MAKEFILE = Path(__file__).parents[2] / "Makefile"


def _check_program() -> str:
    text = MAKEFILE.read_text().replace("\\\n", "")
    return re.search(r"^CUDA_BUILD_CHECK := (.+)$", text, re.MULTILINE).group(1).replace("\t", "")


def _brings_cuda(names: list[str]) -> bool:
    report = {"install": [{"metadata": {"name": name, "version": "1"}} for name in names]}
    result = subprocess.run([sys.executable, "-c", _check_program()], input=json.dumps(report), text=True)
    return result.returncode != 0


def test_a_cuda_resolution_is_told_from_a_cpu_one():
    assert _brings_cuda(["torch", "nvidia-cublas-cu12", "nvidia-cudnn-cu12", "sympy"])
    assert not _brings_cuda(["torch", "sympy", "networkx", "filelock"])
