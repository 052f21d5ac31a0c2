"""``python -m remi_ops.beacon check``: the health-check command (``remi_ops.beacon.check``)."""

import sys

from remi_ops.beacon.check import main

sys.exit(main())
