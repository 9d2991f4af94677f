"""python -m inference_workers.simulator OUT.jsonl [TRUTH.json] [--cameras N] ..."""

from inference_workers.simulator import main

raise SystemExit(main())
