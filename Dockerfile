# syntax=docker/dockerfile:1
# Sendoka: a static binary on a distroless, non-root base.
#   docker build -t sendoka .
#   docker run -p 8080:8080 -v sendoka-data:/data sendoka
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/sendoka ./hosts/sendoka

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sendoka /usr/local/bin/sendoka
ENV SENDOKA_ADDR=0.0.0.0:8080 \
    SENDOKA_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
USER nonroot:nonroot
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/usr/local/bin/sendoka", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/sendoka"]
CMD ["serve"]
