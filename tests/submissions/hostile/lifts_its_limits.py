"""Lifts its memory limit, then allocates 3 GiB (capped). EXPECT: memory"""
import resource

import numpy as np

try:
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
except (ValueError, OSError):
    pass
hoard = [np.empty(32 << 20) for _ in range(12)]
