import os
import sys

# From the build tree: CTest sets ADXL_LIBRARY and PYTHONPATH; this keeps a plain
# `python3 -m pytest python/tests` from the source tree working too.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
