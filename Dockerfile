# avatar-bridge images. Targets:
#   bridge   (default, production): the bridge only; needs LIVEAVATAR_API_KEY.
#   emulator: the bridge with the embedded LiveAvatar emulator, for keyless demos and tests.
# Build: docker build -t avatar-bridge .   |   docker build --target emulator -t avatar-bridge-emu .
# tests/ops/test_dockerfile.py runs these same install commands (no Docker engine there).

# Stage 1: build the project wheel, and every dependency as a wheel, in a throwaway stage.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY server server
COPY clients clients
COPY emulator emulator
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && pip wheel --no-cache-dir --wheel-dir /wheels --find-links /wheels "$(ls /wheels/avatar_bridge-*.whl)[emulator]"

# Stage 2: the shared runtime base: unprivileged user, settings, no build tools.
FROM python:3.11-slim AS runtime
RUN groupadd --gid 10001 bridge && useradd --create-home --uid 10001 --gid 10001 bridge
ENV AVATAR_BRIDGE_LISTEN=0.0.0.0:50051 \
    AVATAR_BRIDGE_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
EXPOSE 50051
# Health follows AVATAR_BRIDGE_LISTEN (the standard gRPC health service; NOT_SERVING on shutdown).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
    CMD ["python", "-m", "avatar_bridge.healthcheck"]
# Exec form: SIGTERM reaches the server directly for a graceful drain.
ENTRYPOINT ["avatar-bridge"]
CMD ["serve"]

# The emulator image: the bridge plus the emulator extra (aiortc, av, fastapi: about 110 MB more).
FROM runtime AS emulator
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels \
       "$(ls /wheels/avatar_bridge-*.whl)[emulator]"
# This image exists to run keyless on the embedded emulator: ask for it explicitly.
ENV AVATAR_BRIDGE_EMULATOR=1
USER 10001:10001

# The production image (last, so the default target): the bridge without the emulator.
FROM runtime AS bridge
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels \
       "$(ls /wheels/avatar_bridge-*.whl)"
USER 10001:10001
