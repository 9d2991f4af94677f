"""Framework-free record handling: decode, engines, outputs (no Kafka, no Faust).

``camera`` is the camera app's per-partition pipeline, ``ops`` the ops app's;
``output`` is the record both hand their shell, ``dlq`` the dead letter.
"""
