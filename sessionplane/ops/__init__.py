"""Operations: /metrics, /healthz, /readyz, and the background loops of the serving process."""
