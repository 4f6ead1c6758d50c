"""dashboard: the FastAPI application (REST API, WHEP signaling, the operators' web pages)."""
