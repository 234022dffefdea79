# avatar-bridge: the gRPC bridge, with the emulator available for keyless runs.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY server server
COPY clients clients
COPY emulator emulator
RUN pip install --no-cache-dir --prefix=/install '.[emulator]'

FROM python:3.11-slim
# Unprivileged user; the bridge needs no root.
RUN useradd --create-home --uid 10001 bridge
COPY --from=build /install /usr/local
USER bridge
ENV AVATAR_BRIDGE_LISTEN=0.0.0.0:50051 \
    AVATAR_BRIDGE_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
EXPOSE 50051
# The standard gRPC health service; NOT_SERVING during shutdown.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s CMD python -c "import grpc,sys; from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; c=grpc.insecure_channel('127.0.0.1:50051'); r=g.HealthStub(c).Check(h.HealthCheckRequest(), timeout=2); sys.exit(0 if r.status==h.HealthCheckResponse.SERVING else 1)"
# Exec form: SIGTERM reaches the server directly for graceful shutdown.
ENTRYPOINT ["avatar-bridge", "serve"]
