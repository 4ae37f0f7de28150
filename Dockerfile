# Builds the cdp binary into a small image. Used by docker-compose.yml.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/cdp ./cmd/cdp

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cdp /cdp
EXPOSE 8080
ENTRYPOINT ["/cdp"]
CMD ["serve"]
