# syntax=docker/dockerfile:1
# One image for every kfgate command (serve, authn, bootstrap, lint, ...): a static binary on a
# distroless base, run as the non-root user 65532. Build: docker build --build-arg VERSION=v0.1.0 .
# test/install parses this file; it is not built there.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO off: the binary is static and runs on distroless/static, which has no libc.
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/kfgate ./cmd/kfgate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kfgate /usr/local/bin/kfgate
# distroless's nonroot user, by number so that the kubelet can verify runAsNonRoot.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kfgate"]
