"""The alert engine wired to the registry, the time-series store and delivery (issue 6):

- `registry_view`: one read of the registry as the engine's, the model's and delivery's inputs;
- `snapshot`: the engine's `SnapshotSource` (registry + store + grazing model), which also
  writes `pasture_state` points after each evaluation;
- `sink`: the engine's `NotificationSink`, handing each transition to the `Deliverer` with
  its recipients;
- `service`: the engine loop and the delivery worker as one start/stop unit, run inside
  `jaylym serve` (FastAPI lifespan) or alone by `jaylym alerts`.
"""
