"""Operations: Prometheus metrics, health probes, secure connections, structured logs."""
