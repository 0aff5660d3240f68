"""Device memory from Python: registering tensor-like objects (see device_child.py)."""
import os
import subprocess

import pytest

from children import child_command, child_env

DOUBLE = os.environ.get("ADXL_TEST_CUDA_DOUBLE")


@pytest.mark.skipif(not DOUBLE, reason="ADXL_TEST_CUDA_DOUBLE (set by the build) is not set")
def test_device_tensor_registers_as_device_memory():
    out = subprocess.run(child_command("device_child.py"), env=child_env(ADXL_CUDA_LIBRARY=DOUBLE),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().endswith("ok")
