package main

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// Two cdp serve processes on one Neo4j behind a load balancer that
// alternates between them: events arrive through both, the process
// holding the destination's lease is killed with kill -9 mid-delivery,
// and the events that follow arrive through the survivor alone. The
// survivor takes the destination over once the lease expires, and every
// event reaches the receiver in exactly one delivery, in feed order; the
// only request sent twice is the batch the kill cut short, under its own
// delivery id, as DEPLOYMENT.md promises.
func TestKilledLeaseHolderAlternatingReplicas(t *testing.T) {
	pair := startLeasePair(t, 1, "alternating", 3)
	rcv, cmdA, addrA, logsA, cmdB, addrB, logsB, destID := pair.rcv, pair.cmd[0], pair.addr[0], pair.logs[0], pair.cmd[1], pair.addr[1], pair.logs[1], pair.destID
	trackVia := func(addr, msg string, i int) {
		t.Helper()
		body := fmt.Sprintf(`{"messageId":%q,"userId":"u%d","event":"Viewed"}`, msg, i%4)
		resp, err := http.Post("http://"+addr+"/v1/track", "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("track %s: status %d", msg, resp.StatusCode)
		}
	}
	var want []string
	for i := range 10 {
		msg := fmt.Sprintf("a%02d", i)
		want = append(want, msg)
		trackVia([]string{addrA, addrB}[i%2], msg, i)
	}
	waitUntil(t, 60*time.Second, "the first delivery attempt", func() bool { seen, _ := rcv.state(); return len(seen) > 0 })
	victim, survivor := cmdA, addrB
	if pair.holder(t) == 1 {
		victim, survivor = cmdB, addrA
	}
	if err := victim.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = victim.Wait()
	seen, _ := rcv.state()
	cut := seen[0]
	// The load balancer now sends everything to the survivor.
	for i := 10; i < 16; i++ {
		msg := fmt.Sprintf("a%02d", i)
		want = append(want, msg)
		trackVia(survivor, msg, i)
	}
	rcv.mu.Lock()
	rcv.blocking = false
	rcv.mu.Unlock()
	waitUntil(t, 120*time.Second, "every event at the receiver", func() bool {
		_, ok := rcv.state()
		n := 0
		for _, d := range ok {
			n += len(d.msgIDs)
		}
		return n >= len(want)
	})
	seen, ok := rcv.state()
	in := map[string][]string{} // event -> the deliveries that held it
	delivered := map[string]int{}
	var last uint64
	for _, d := range ok {
		delivered[d.id]++
		for i, m := range d.msgIDs {
			in[m] = append(in[m], d.id)
			if d.seqs[i] <= last {
				t.Errorf("delivery %s holds seq %d after seq %d: out of feed order", d.id, d.seqs[i], last)
			}
			last = d.seqs[i]
		}
	}
	for _, m := range want {
		if len(in[m]) != 1 {
			t.Errorf("event %s reached the receiver in deliveries %v, want exactly one", m, in[m])
		}
	}
	if len(in) != len(want) {
		t.Errorf("the receiver got %d distinct events, want %d", len(in), len(want))
	}
	for id, n := range delivered {
		if n > 1 {
			t.Errorf("delivery %s was answered 200 %d times", id, n)
		}
	}
	requests := map[string]int{}
	for _, id := range seen {
		requests[id]++
	}
	for id, n := range requests {
		if n > 1 && id != cut {
			t.Errorf("delivery %s was sent %d times; only the batch the kill cut short, %s, is sent again", id, n, cut)
		}
	}
	if len(ok) == 0 || ok[0].id != cut {
		t.Errorf("the survivor first delivered %v, want the batch cut short, %s", ok, cut)
	}
	if t.Failed() {
		t.Logf("destination %s; logs of A:\n%s\nlogs of B:\n%s", destID, logsA.String(), logsB.String())
	}
}
