# Builds the cdp binary into a small image. Used by docker-compose.yml.
# Like the binary, the image listens on 127.0.0.1:8080 unless told
# otherwise, which inside a container no published port reaches: run it
# with -e CDP_ADDR=0.0.0.0:8080 (as docker-compose.yml does), which also
# makes it enforce API keys from the start.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The version cdp version prints: docker build --build-arg VERSION=v1.2.3 .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/cdp ./cmd/cdp

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cdp /cdp
EXPOSE 8080
ENTRYPOINT ["/cdp"]
CMD ["serve"]
