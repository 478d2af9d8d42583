"""Running in production: health checks, metrics and structured logs."""
