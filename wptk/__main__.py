import sys

from wptk.cli import main

sys.exit(main())
