"""What an operator watches: metrics in Prometheus' text format, health and readiness, structured logs.

Nothing here knows of the web app: web/ops_views.py serves these at /healthz, /readyz and /metrics."""
