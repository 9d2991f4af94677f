"""DeepStream interop: ``nvmsgconv`` payloads in, ``bk.detections.v1`` records out.

Cities that already run NVIDIA DeepStream keep their pipelines and point
``nvmsgbroker`` at a Kafka topic; this bridge republishes what arrives there in
the contract's form. Both payload schemas of ``Gst-nvmsgconv`` are read:

- **minimal** (``payload-type=1``), one message per frame::

    {"version": "4.0", "id": 1234, "@timestamp": "2026-11-02T08:00:00.000Z",
     "sensorId": "cam-1", "objects": ["17|100|50|300|400|mouse|#|||||||0.92", ...]}

  each object is ``trackingId|left|top|right|bottom|label`` in source-frame
  pixels, then ``|#|`` and the classifier attributes with the confidence last;
  further ``|#|embedding|…`` or ``|#|pose2D|…`` sections are ignored;
- **full** (``payload-type=0``), one message per *object*::

    {"messageid": ..., "@timestamp": ..., "sensor": {"id": "cam-1", ...},
     "object": {"id": "17", "mouse": {"confidence": 0.92}, "bbox": {"topleftx": 100,
                "toplefty": 50, "bottomrightx": 300, "bottomrighty": 400}, "pose": {}, ...}}

  where the object's label is the key of its attribute block (``pose``,
  ``embedding``, ``bbox``, ``location``, ``coordinate`` are not labels).
  Messages of one frame are grouped by :class:`FullSchemaFrames`
  (``full_schema``).

**Layout.** One role a module: ``payloads`` (payload parsing: `DeepStreamAdapter`,
`parse_timestamp`, `parse_frame_size`, `load_frame_sizes`, `schema_of`, the
errors; what DeepStream does not send), ``full_schema`` (`FullSchemaFrames`:
full-schema messages grouped into frames), ``bridge`` (`Bridge`, the
consume-independent core, and `run_bridge`, the Kafka loop).
"""

from inference_workers.deepstream.bridge import Bridge, run_bridge
from inference_workers.deepstream.full_schema import FullSchemaFrames
from inference_workers.deepstream.payloads import (
    DEFAULT_FRAME_SIZE,
    Converted,
    DeepStreamAdapter,
    DeepStreamPayloadError,
    ObjectError,
    load_frame_sizes,
    parse_frame_size,
    parse_timestamp,
    schema_of,
)

__all__ = [
    "DEFAULT_FRAME_SIZE",
    "Bridge",
    "Converted",
    "DeepStreamAdapter",
    "DeepStreamPayloadError",
    "FullSchemaFrames",
    "ObjectError",
    "load_frame_sizes",
    "parse_frame_size",
    "parse_timestamp",
    "run_bridge",
    "schema_of",
]
