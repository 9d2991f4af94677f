"""`python -m stream_apps {cameras|ops} [worker ...]`: one stream worker.

``cameras`` is the batched confluent-kafka host (stream_apps/shells/cameras.py);
``ops`` is a Faust worker (the remaining arguments go to Faust).
"""

import sys

name = sys.argv.pop(1) if len(sys.argv) > 1 and sys.argv[1] in ("cameras", "ops") else "cameras"
if name == "cameras":
    from stream_apps.shells.cameras import main

    main()
else:
    from stream_apps.app import APPS

    APPS[name]().main()
