"""dashboards stage."""
