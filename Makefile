# The two commands of the README:
#   go run ./cmd/cdp serve     run the service on the embedded store
#   make test                  run every test (starts and stops a real Neo4j)

.PHONY: test build generate neo4j-start neo4j-stop fuzz bench

test:
	./dev/test

build:
	go build -o cdp ./cmd/cdp

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
