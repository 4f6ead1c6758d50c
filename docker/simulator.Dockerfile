# Synthetic RTSP cameras (GStreamer's RTSP server through Debian's python3-gi), for demos and load tests.
# Build from the repository root:  docker build -f docker/simulator.Dockerfile -t vms-simulator .
FROM debian:bookworm-slim

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools \
      gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly \
      gstreamer1.0-plugins-bad gstreamer1.0-libav fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10002 --create-home simulator

COPY streams/simulator/gst_server.py /opt/simulator/gst_server.py
COPY docker/simulator-cameras.json /opt/simulator/cameras.json

USER simulator
EXPOSE 8554
ENTRYPOINT ["python3", "-u", "/opt/simulator/gst_server.py", "--address", "0.0.0.0", "--port", "8554", "--no-stdin"]
CMD ["--spec", "/opt/simulator/cameras.json"]
