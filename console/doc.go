// Package console serves the web console at /console/ and the GraphiQL page
// at /graphiql from files embedded in the binary: hand-written HTML, CSS
// and JavaScript under static/, and third-party files under static/vendor/
// that vendor/update.sh fetches at the versions vendor/package-lock.json
// pins (TestVendoredFilesMatchSums checks them against vendor/SHA256SUMS).
//
// The console is a client of the public GraphQL API like any other: it
// holds no data and needs no key to be served; every request it makes for
// data carries the key the user signs in with.
package console
