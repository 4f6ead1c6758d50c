"""streams: pull cameras once, fan packets out to the recorder, live relay and detectors."""
