"""``python -m fanout_local.cli``: the same as the ``fanout`` console script."""

import sys

from . import main

sys.exit(main())
