import sys

from xqg_core.cli import main

sys.exit(main())
