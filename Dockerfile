# syntax=docker/dockerfile:1

# Build: static binaries, no cgo, reproducible paths, stamped with VERSION
# (docker compose passes VAULT_VERSION; `make build` uses git describe).
FROM golang:1.26.8-alpine AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download && go mod verify
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X github.com/securevault/vault/cmd/internal/buildinfo.version=${VERSION}" \
      -o /out/ ./cmd/vaultd ./cmd/vaultctl \
 && mkdir -p /out/data /out/tls

# Run: distroless static, no shell, non-root (uid 65532). The directories a
# volume is mounted on belong to that user, so a new volume does too.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/vaultd /out/vaultctl /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/data /var/lib/vault
COPY --from=build --chown=65532:65532 /out/tls /etc/vault/tls
USER 65532:65532
ENV VAULT_ENV=production \
    VAULT_LISTEN_ADDR=0.0.0.0:8000 \
    VAULT_DATA_DIR=/var/lib/vault \
    VAULT_LOG_FORMAT=json
EXPOSE 8000
VOLUME ["/var/lib/vault"]
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=6 CMD ["/usr/local/bin/vaultctl", "health"]
ENTRYPOINT ["/usr/local/bin/vaultd"]
