"""`jaylym` command groups that write the registry: the same validation and policy as the
API (they go through api.crud with an admin principal), for the operator at the server."""
