package embedded

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Layout upgrades.
//
// The layout of the file is every bucket and key of keys.go and every record
// encoding of codec.go; formatVersion (keys.go) names it. Open upgrades a
// file of an older layout in place: it first copies the file aside, next to
// it (cdp.db.v4.bak for a version 4 file), then runs the step of each
// version in turn, each in one bbolt write transaction that also rewrites
// the version, so a failure leaves the file at the last version reached.
//
// # How to add a layout version
//
// Any change that makes a file written before it read differently (a new
// bucket or key, a field added to a record, a different encoding) is a new
// layout version, even when the change needs no data rewritten:
//
//  1. Raise formatVersion to N+1 and say in its comment what changed.
//  2. Add the step upgrades[N]: it turns a version N file into version N+1
//     inside the transaction it is given; Open rewrites the version after
//     it. A step sees only files of version N.
//     A TRAILING OPTIONAL FIELD (for example an event digest at the end of
//     the event record, or the members of a merge change) needs no rewrite
//     when its decoder reads it only if bytes remain (dec: len(d.b) > 0)
//     and takes its absence as the zero value. The step is then empty,
//     func(*bolt.Tx) error { return nil }, but it must exist: the raised
//     version is what makes an older binary refuse the file instead of
//     misreading it. A step that does rewrite records walks their bucket
//     with a cursor, collecting keys before changing them.
//  3. Run go test ./graph/embedded -run TestLayoutGolden -update: it writes
//     testdata/layout-vN+1.db (the fixed dataset of layoutWrites, in the
//     new layout) and testdata/layout-vN+1.dump (every key and value of
//     that file, the golden of the layout). Keep the older fixtures:
//     TestUpgradeCheckedInLayouts opens each of them with the new code.
//     If the new field must be visible after the upgrade, extend
//     checkLayoutData with what the old fixtures should read back.
//
// TestLayoutGolden fails when the layout changes while formatVersion does
// not, and TestEveryLayoutHasAnUpgradeStep when formatVersion is raised
// without a step.

// upgradeStep turns a file of one layout version into the next, inside one
// bbolt write transaction.
type upgradeStep func(btx *bolt.Tx) error

// upgrades holds, under N, the step from layout version N to N+1, for every
// N from oldestLayout to formatVersion-1.
var upgrades = map[uint64]upgradeStep{
	// 4 to 5: event digests and message ids, and merge members, are
	// trailing or optional fields that version 4 records simply lack.
	4: func(*bolt.Tx) error { return nil },
	// 5 to 6: the API key and audit buckets (access.go), created empty.
	5: func(btx *bolt.Tx) error {
		for _, name := range accessBuckets {
			if _, err := btx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	},
	// 6 to 7: the suppression buckets (suppress.go), created empty.
	6: func(btx *bolt.Tx) error {
		for _, name := range suppressionBuckets {
			if _, err := btx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	},
	// 7 to 8: the consent buckets (consent.go), created empty.
	7: func(btx *bolt.Tx) error {
		for _, name := range consentBuckets {
			if _, err := btx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	},
	// 8 to 9: the erasure receipt buckets (receipt.go), created empty.
	8: func(btx *bolt.Tx) error {
		for _, name := range receiptBuckets {
			if _, err := btx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	},
	// 9 to 10: the audience buckets (audience.go), created empty.
	9: func(btx *bolt.Tx) error {
		for _, name := range audienceBuckets {
			if _, err := btx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	},
	// 10 to 11: the profile facts bucket (facts.go), created empty.
	10: func(btx *bolt.Tx) error {
		for _, name := range factsBuckets {
			if _, err := btx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	},
	// 11 to 12: the change feed bucket (feed.go), created empty: the feed
	// starts with the upgrade.
	11: func(btx *bolt.Tx) error {
		for _, name := range feedBuckets {
			if _, err := btx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	},
	// 12 to 13: the destination buckets (destination.go), created empty.
	12: func(btx *bolt.Tx) error {
		for _, name := range destinationBuckets {
			if _, err := btx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	},
	// 13 to 14: an event's campaign and an audience's static flag are
	// trailing or optional fields that version 13 records simply lack.
	13: func(*bolt.Tx) error { return nil },
	// 14 to 15: the bucket of retired profile ids (retired.go), created
	// empty.
	14: func(btx *bolt.Tx) error {
		for _, name := range retiredBuckets {
			if _, err := btx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	},
	// 15 to 16: an API key's creator is an optional field that version
	// 15 records simply lack: those keys have none.
	15: func(*bolt.Tx) error { return nil },
}

// oldestLayout is the oldest layout this build upgrades. Versions 1 to 3
// were never released; a file of one of them is refused.
const oldestLayout = 4

// layout is what one build of the store reads and writes: tests open files
// with the next version's code path by adding a step and a version here.
type layout struct {
	version uint64                 // the layout written and read
	oldest  uint64                 // the oldest layout upgraded
	steps   map[uint64]upgradeStep // steps[N] upgrades N to N+1
}

var currentLayout = layout{version: formatVersion, oldest: oldestLayout, steps: upgrades}

// Upgrade describes a layout upgrade Open is about to make.
type Upgrade struct {
	Path   string // the database file
	From   uint64 // its layout version
	To     uint64 // the version this build reads
	Backup string // the copy of the file as it was, already written
}

// Options tune OpenWith.
type Options struct {
	// OnUpgrade, when set, is called once the file of an older layout has
	// been copied aside and before it is upgraded, so the caller can log
	// it. Open itself logs nothing.
	OnUpgrade func(Upgrade)
	// NoUpgrade refuses a file of an older layout with ErrOlderLayout,
	// leaving it as it is, instead of upgrading it.
	NoUpgrade bool
	// ReadOnly opens an existing file to be read only, writing nothing to
	// it (not even the commit that opening otherwise makes): a file of an
	// older layout is refused with ErrOlderLayout, as with NoUpgrade, and
	// every write fails. The lock it takes is shared, so it still refuses
	// a file a running server holds (ErrInUse), but not another reader.
	ReadOnly bool
	// InitialMmapSize is the least size, in bytes, of the file's memory
	// map (bbolt's option of that name; 0 for bbolt's own start). While
	// the file fits in the map, no commit waits for a long read (a scan
	// under a Snapshot, a backup) to end.
	InitialMmapSize int
}

// ErrOlderLayout is the error of a file of an older layout opened with
// NoUpgrade.
var ErrOlderLayout = errors.New("holds an older layout, which opening it would upgrade in place")

// storedVersion returns the layout version of the file, or fresh when the
// file holds none yet (a new file).
func storedVersion(db *bolt.DB) (version uint64, fresh bool, err error) {
	err = db.View(func(btx *bolt.Tx) error {
		meta := btx.Bucket(bucketMeta)
		if meta == nil {
			fresh = true
			return nil
		}
		v := meta.Get(metaFormat)
		switch {
		case v == nil:
			fresh = true
		case len(v) != 8:
			return fmt.Errorf("the file holds an unreadable layout version %x", v)
		default:
			version = decodeU64(v)
		}
		return nil
	})
	return version, fresh, err
}

// checkVersion says whether a file of version v can be opened by lay, with
// an upgrade when v is older.
func (lay layout) checkVersion(v uint64) error {
	switch {
	case v > lay.version:
		return fmt.Errorf("the file holds layout version %d, written by a newer build; this build reads versions up to %d (use a build that reads version %d)", v, lay.version, v)
	case v < lay.oldest:
		return fmt.Errorf("the file holds layout version %d, which this build cannot upgrade (it upgrades versions %d to %d); start from an empty data dir", v, lay.oldest, lay.version)
	}
	for n := v; n < lay.version; n++ {
		if lay.steps[n] == nil {
			return fmt.Errorf("the file holds layout version %d and this build has no upgrade from version %d to %d", v, n, n+1)
		}
	}
	return nil
}

// upgrade copies the file at path aside, then brings it from version from
// to lay.version, one step and one transaction per version.
func (lay layout) upgrade(db *bolt.DB, path string, from uint64, onUpgrade func(Upgrade)) error {
	backup, err := backupFile(db, path, from)
	if err != nil {
		return fmt.Errorf("copy the file of layout version %d aside before upgrading it: %w", from, err)
	}
	if onUpgrade != nil {
		onUpgrade(Upgrade{Path: path, From: from, To: lay.version, Backup: backup})
	}
	for n := from; n < lay.version; n++ {
		err := db.Update(func(btx *bolt.Tx) error {
			if err := lay.steps[n](btx); err != nil {
				return err
			}
			meta := btx.Bucket(bucketMeta)
			if meta == nil {
				return errors.New("the meta bucket is missing")
			}
			return meta.Put(metaFormat, u64(n+1))
		})
		if err != nil {
			return fmt.Errorf("upgrade the layout from version %d to %d: %w (the file is left at version %d; its copy from before the upgrade is %s)", n, n+1, err, n, backup)
		}
	}
	return nil
}

// backupFile writes a consistent copy of the open database next to path,
// as path.vN.bak, or path.vN.bak.2 and so on when that name is taken: an
// existing copy is never overwritten. It returns the copy's path.
func backupFile(db *bolt.DB, path string, version uint64) (string, error) {
	base := fmt.Sprintf("%s.v%d.bak", path, version)
	for i := 1; i <= 100; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s.%d", base, i)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if err := writeCopy(db, f); err != nil {
			_ = f.Close()
			_ = os.Remove(name)
			return "", fmt.Errorf("write %s: %w", name, err)
		}
		if err := f.Close(); err != nil {
			_ = os.Remove(name)
			return "", fmt.Errorf("write %s: %w", name, err)
		}
		return name, syncDir(filepath.Dir(name))
	}
	return "", fmt.Errorf("%s and 99 numbered copies already exist; move old copies away", base)
}

func writeCopy(db *bolt.DB, f *os.File) error {
	if err := db.View(func(btx *bolt.Tx) error {
		_, err := btx.WriteTo(f)
		return err
	}); err != nil {
		return err
	}
	return f.Sync()
}

// syncDir makes a new file's directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
