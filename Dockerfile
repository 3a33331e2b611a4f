# syntax=docker/dockerfile:1

# Build: static binaries, no cgo, reproducible paths.
FROM golang:1.26.8-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/ ./cmd/vaultd ./cmd/vaultctl \
 && mkdir -p /out/data

# Run: distroless static, no shell, non-root (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/vaultd /out/vaultctl /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/data /var/lib/vault
USER 65532:65532
ENV VAULT_ENV=production \
    VAULT_LISTEN_ADDR=0.0.0.0:8000 \
    VAULT_DATA_DIR=/var/lib/vault \
    VAULT_LOG_FORMAT=json
EXPOSE 8000
VOLUME ["/var/lib/vault"]
ENTRYPOINT ["/usr/local/bin/vaultd"]
