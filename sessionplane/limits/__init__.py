"""Rate limits (``APIG.0308``): per caller (access key or user) and per project, counted in the store."""
