"""`python -m stream_apps {cameras|ops} [worker ...]`: one stream worker.

``cameras`` is the batched confluent-kafka host (stream_apps/shells/cameras.py);
``ops`` is a Faust worker (the remaining arguments go to Faust). An entry point
like the CLI: it loads the settings (exit 2 on a bad one) and hands them down.
"""

import sys

from brightkitchen.settings import SettingsError, load

name = sys.argv.pop(1) if len(sys.argv) > 1 and sys.argv[1] in ("cameras", "ops") else "cameras"
try:
    settings = load()
except SettingsError as exc:
    print(f"invalid BK_* settings: {exc}", file=sys.stderr)
    sys.exit(2)
if name == "cameras":
    from stream_apps.shells.cameras import main

    main(settings)
else:
    from stream_apps.agents.ops import make_ops_app

    make_ops_app(settings).main()
