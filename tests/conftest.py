"""Shared test set-up.

Under ``pytest -n N`` every worker would otherwise start its own full set of
BLAS and PyTorch threads and the workers would fight over the cores; one
thread per worker keeps the suite fast and its timings-free results stable.
"""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    try:
        import torch
    except ImportError:  # the NumPy parts are tested without PyTorch too
        pass
    else:
        torch.set_num_threads(1)
