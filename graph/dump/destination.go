package dump

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/idgraph/cdp/destination"
)

// The destination kinds: webhook destinations with their secrets and
// cursors (a copied destination resumes from the feed entry it had
// reached, since the feed is copied with its Seqs), and their deliveries
// (pending, failed, dead and delivered), so that dead letters can still
// be replayed on the target. Leases are not copied. They are read through
// the destination contract and written as they are through
// destination.Loader.
const (
	Destinations Kind = "destinations" // destination.Destination
	Deliveries   Kind = "deliveries"   // destination.Delivery
)

// destinationStore is what a store needs for the destination kinds.
type destinationStore interface {
	destination.Store
	destination.Loader
}

func (s *Stream) pageDestinations(ctx context.Context, after string, limit int) (Batch, error) {
	limit = min(limit, destination.MaxPage)
	ds, err := s.dest.DestinationPage(ctx, after, limit)
	if err != nil {
		return Batch{}, err
	}
	b := Batch{Kind: Destinations, Destinations: ds}
	if len(ds) == limit {
		b.Next = ds[len(ds)-1].ID
	}
	return b, nil
}

// pageDeliveries reads the deliveries of one destination at a time,
// newest first. The cursor is "A" and the id of the last destination
// done, or "D", the destination id and the Number of the last delivery
// read.
func (s *Stream) pageDeliveries(ctx context.Context, after string, limit int) (Batch, error) {
	limit = min(limit, destination.MaxPage)
	b := Batch{Kind: Deliveries}
	id, before := "", uint64(0)
	if after != "" {
		switch after[0] {
		case 'A':
			id = after[1:]
		case 'D':
			var pos string
			var ok bool
			if id, pos, ok = strings.Cut(after[1:], cursorSep); !ok {
				return Batch{}, fmt.Errorf("bad delivery cursor")
			}
			n, err := strconv.ParseUint(pos, 10, 64)
			if err != nil {
				return Batch{}, fmt.Errorf("bad delivery cursor")
			}
			before = n
		default:
			return Batch{}, fmt.Errorf("bad delivery cursor")
		}
	}
	if before == 0 {
		ds, err := s.dest.DestinationPage(ctx, id, 1)
		if err != nil || len(ds) == 0 {
			return b, err
		}
		id = ds[0].ID
	}
	dels, err := s.dest.Deliveries(ctx, destination.DeliveryQuery{DestinationID: id, Before: before, Limit: limit})
	if err != nil {
		return Batch{}, err
	}
	b.Deliveries = dels
	if len(dels) == limit && dels[len(dels)-1].Number > 1 {
		b.Next = "D" + id + cursorSep + strconv.FormatUint(dels[len(dels)-1].Number, 10)
	} else {
		b.Next = "A" + id
	}
	return b, nil
}

// loadDestinations writes a batch of a destination kind as it is.
func (s *Stream) loadDestinations(ctx context.Context, b Batch) error {
	switch {
	case b.Kind == Destinations && len(b.Destinations) > 0:
		return s.dest.LoadDestinations(ctx, b.Destinations)
	case b.Kind == Deliveries && len(b.Deliveries) > 0:
		return s.dest.LoadDeliveries(ctx, b.Deliveries)
	}
	return nil
}

// DeliveryNumbers returns, by destination id, the Number of the newest
// delivery each destination took (destination.Destination.LastNumber),
// from which its next is numbered; nil when the store keeps no
// destinations. A copy's verification compares them: deliveries pruned
// since they were delivered are not counted, but their numbers are not
// taken again.
func (s *Stream) DeliveryNumbers(ctx context.Context) (map[string]uint64, error) {
	if s.dest == nil {
		return nil, nil
	}
	out := map[string]uint64{}
	after := ""
	for {
		ds, err := s.dest.DestinationPage(ctx, after, destination.MaxPage)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			out[d.ID] = d.LastNumber
		}
		if len(ds) < destination.MaxPage {
			return out, nil
		}
		after = ds[len(ds)-1].ID
	}
}
