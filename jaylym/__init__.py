"""Jaylym shared core: settings, telemetry models, time-series stores, geo helpers and the CLI.

Everything the ingest, the API and the tools have in common lives here, so that no service
reads the environment or speaks to a store on its own terms.
"""

__version__ = "0.1.0"
