# The two commands of the README:
#   go run ./cmd/cdp serve     run the service on the embedded store
#   make test                  run every test (starts and stops a real Neo4j)

.PHONY: test build generate neo4j-start neo4j-stop fuzz bench release

# The version stamped into binaries (cdp version): the nearest tag, the
# commit, and -dirty for uncommitted changes. make release VERSION=v1.2.3
# overrides it.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
RELEASE_LDFLAGS := -s -w -X main.version=$(VERSION)
RELEASE_PLATFORMS := linux/amd64 linux/arm64
# Where make release writes (make release DIST=/tmp/out).
DIST ?= dist

test:
	./dev/test

build:
	go build -ldflags "-X main.version=$(VERSION)" -o cdp ./cmd/cdp

# Static binaries (no cgo, no local paths) for each platform into dist/,
# named cdp-OS-ARCH, with their SHA-256 sums in dist/SHA256SUMS. Only
# these files are replaced: DIST may be a folder holding other things
# (make release DIST=~/bin).
RELEASE_FILES := $(foreach p,$(RELEASE_PLATFORMS),cdp-$(subst /,-,$(p)))
release:
	@case '$(VERSION)' in *[!A-Za-z0-9._+-]*|'') echo "make release: VERSION '$(VERSION)' must be letters, digits, dots, dashes, pluses and underscores" >&2; exit 2;; esac
	mkdir -p '$(DIST)'
	cd '$(DIST)' && rm -f $(RELEASE_FILES) SHA256SUMS
	$(foreach p,$(RELEASE_PLATFORMS),CGO_ENABLED=0 GOOS=$(word 1,$(subst /, ,$(p))) GOARCH=$(word 2,$(subst /, ,$(p))) go build -trimpath -ldflags "$(RELEASE_LDFLAGS)" -o '$(DIST)/cdp-$(subst /,-,$(p))' ./cmd/cdp &&) true
	cd '$(DIST)' && { command -v sha256sum >/dev/null && sha256sum $(RELEASE_FILES) || shasum -a 256 $(RELEASE_FILES); } > SHA256SUMS
	@echo "built $(VERSION):" && cd '$(DIST)' && ls -l $(RELEASE_FILES) SHA256SUMS

generate:
	go generate ./...

neo4j-start:
	dev/neo4j/start

neo4j-stop:
	dev/neo4j/stop

fuzz:
	go test ./ingest -run '^$$' -fuzz FuzzParseMessage -fuzztime 3m

bench: build
	./cdp bench
