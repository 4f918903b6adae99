"""Operations subsystem: health checks, metrics, API description."""
