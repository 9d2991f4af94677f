"""`python -m stream_apps {cameras|ops} worker ...`: a Faust worker of one app."""

import sys

from stream_apps.app import APPS

name = sys.argv.pop(1) if len(sys.argv) > 1 and sys.argv[1] in APPS else "cameras"
APPS[name]().main()
