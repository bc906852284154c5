"""`python -m sim.aggregate FOLDER`: a sweep's output folder into its table and figures.

The public entry point stays here; the work is in ``sim.sweeps.aggregate``.
"""

import sys

from sim.sweeps.aggregate import main

if __name__ == "__main__":
    sys.exit(main())
