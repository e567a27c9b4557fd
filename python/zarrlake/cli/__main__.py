"""``python -m zarrlake.cli``: the same as the ``zarrlake`` command."""

import sys

from . import main

sys.exit(main())
