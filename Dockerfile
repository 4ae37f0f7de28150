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
# The embedded store's folder, owned by the runtime user (nonroot, 65532),
# which has no shell to create it: a named volume mounted on /data starts
# with this owner, so the store can be written there. Its group is root
# (0) with the owner's rights, for platforms that run the image under an
# arbitrary uid in group 0 (OpenShift, say).
RUN mkdir -p /out/data && chmod 0775 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cdp /cdp
COPY --from=build --chown=65532:0 /out/data /data
# The embedded store (used unless NEO4J_URI is set) goes to /data, not to
# ./data under the image's working directory, where no volume is expected
# and the data would go with the container: mount one there to keep it,
#   docker run -v cdp-data:/data ...
ENV CDP_DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["/cdp"]
CMD ["serve"]
