"""lossbench: which loss gives the better model on data like mine, and what does it cost?

Importing the package is cheap; numba, pandas and scipy load only when a module needs them.
"""

from lossbench._version import __version__
from lossbench.errors import LossbenchError

__all__ = ["LossbenchError", "__version__"]
