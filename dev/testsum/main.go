// Command testsum reads `go test -json` from stdin, prints the output of
// failed tests and the package lines, and closes with a count of passed,
// failed and skipped tests, plus how many Neo4j-backed tests ran, so a run
// shows at a glance that the real database was exercised. It also lists
// the slowest tests (those without subtests, or the subtests
// themselves), so that a run that got slower shows where.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// slowestShown is how many of the slowest tests the summary lists.
const slowestShown = 10

// timing is one finished test's duration.
type timing struct {
	id      string
	elapsed float64
}

// slowest returns the n longest of times whose test has no subtest in
// times (a parent's time is its subtests'), longest first, ties by id.
func slowest(times []timing, n int) []timing {
	parent := map[string]bool{}
	for _, t := range times {
		if i := strings.LastIndex(t.id, "/"); i > 0 {
			parent[t.id[:i]] = true
		}
	}
	var leaves []timing
	for _, t := range times {
		if !parent[t.id] {
			leaves = append(leaves, t)
		}
	}
	sort.Slice(leaves, func(i, j int) bool {
		if leaves[i].elapsed != leaves[j].elapsed {
			return leaves[i].elapsed > leaves[j].elapsed
		}
		return leaves[i].id < leaves[j].id
	})
	if len(leaves) > n {
		leaves = leaves[:n]
	}
	return leaves
}

func main() {
	var times []timing
	var passed, failed, skipped, neo4jRan, neo4jSkipped int
	output := map[string][]string{} // package/test -> lines
	var failedTests []string
	var skipReasons []string
	pkgFailed := false
	running := map[string]bool{} // tests started and not ended
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			fmt.Println(string(line)) // build errors come as plain text
			continue
		}
		id := e.Package + " " + e.Test
		switch e.Action {
		case "run":
			running[id] = true
		case "output":
			output[id] = append(output[id], e.Output)
			if e.Test == "" && (strings.HasPrefix(e.Output, "ok ") || strings.HasPrefix(e.Output, "FAIL") || strings.HasPrefix(e.Output, "?")) {
				fmt.Print(e.Output)
			}
		case "pass", "fail", "skip":
			if e.Test == "" {
				if e.Action == "fail" {
					pkgFailed = true
					// Tests still running when the package died (a timeout or
					// a panic) hold the stack dump; show them.
					for rid := range running {
						if strings.HasPrefix(rid, e.Package+" ") {
							fmt.Printf("\n--- DID NOT FINISH: %s\n", rid)
							for _, l := range output[rid] {
								fmt.Print(l)
							}
						}
					}
					// A package that fails to build or panics has no test events.
					for _, l := range output[id] {
						if !strings.HasPrefix(l, "ok ") && !strings.HasPrefix(l, "FAIL") {
							fmt.Print(l)
						}
					}
				}
				continue
			}
			delete(running, id)
			times = append(times, timing{id, e.Elapsed})
			neo := strings.Contains(e.Test, "neo4j") || strings.Contains(e.Test, "Neo4j") || strings.Contains(e.Package, "neo4jstore")
			switch e.Action {
			case "pass":
				passed++
				if neo {
					neo4jRan++
				}
			case "fail":
				failed++
				failedTests = append(failedTests, id)
				if neo {
					neo4jRan++
				}
			case "skip":
				skipped++
				if neo {
					neo4jSkipped++
				}
				for _, l := range output[id] {
					if strings.Contains(l, ".go:") {
						skipReasons = append(skipReasons, strings.TrimSpace(e.Test+": "+strings.TrimSpace(l)))
					}
				}
			}
		}
	}
	sort.Strings(failedTests)
	for _, id := range failedTests {
		fmt.Printf("\n--- FAIL: %s\n", id)
		for _, l := range output[id] {
			fmt.Print(l)
		}
	}
	if len(skipReasons) > 0 {
		fmt.Println("\nskipped:")
		for _, r := range skipReasons {
			fmt.Println("  " + r)
		}
	}
	fmt.Printf("\nslowest tests:\n")
	for _, t := range slowest(times, slowestShown) {
		fmt.Printf("  %8.1fs  %s\n", t.elapsed, t.id)
	}
	fmt.Printf("\nNeo4j-backed tests: %d ran, %d skipped\n", neo4jRan, neo4jSkipped)
	fmt.Printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 || pkgFailed {
		os.Exit(1)
	}
}
