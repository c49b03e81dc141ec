package buffer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Usage is the space a store's files take on disk.
type Usage struct {
	Total int64
	// LSM is the tables and the memtables' logs, VLog the value log.
	LSM, VLog int64
}

// DiskUsage measures the blocks the files of the store in dir occupy, not
// their apparent sizes: Badger preallocates its logs as sparse files.
func DiskUsage(dir string) (Usage, error) {
	var u Usage
	es, err := os.ReadDir(dir)
	if err != nil {
		return u, fmt.Errorf("measure buffer %s: %w", dir, err)
	}
	for _, e := range es {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed by a compaction meanwhile
		}
		n := fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			n = st.Blocks * 512
		}
		u.Total += n
		switch filepath.Ext(e.Name()) {
		case ".vlog":
			u.VLog += n
		case ".sst", ".mem":
			u.LSM += n
		}
	}
	return u, nil
}

// DiskBytes is the space the store takes on disk.
func (s *Store) DiskBytes() (int64, error) {
	u, err := DiskUsage(s.dir)
	return u.Total, err
}

// GC runs Badger's value-log garbage collection until it finds no file
// with at least discardRatio of its bytes deleted; it reports how many
// files it rewrote.
func (s *Store) GC(discardRatio float64) (int, error) {
	n := 0
	for ; n < 1000; n++ {
		err := s.db.RunValueLogGC(discardRatio)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("value-log GC: %w", err)
		}
	}
	return n, nil
}

// Reclaim gives back the space of deleted entries now rather than after
// enough writes. Badger learns which value-log bytes are garbage only when
// compactions merge deletions with what they delete, so Reclaim flushes the
// memtables and compacts them (Badger's DropPrefix does both, here on a
// sentinel key), with deep also every level into one, then collects the
// value log. Writers wait meanwhile: it takes a moment on a small store.
func (s *Store) Reclaim(deep bool) error {
	if err := s.flush(); err != nil {
		return err
	}
	if deep {
		if err := s.db.Flatten(1); err != nil {
			return fmt.Errorf("reclaim: flatten: %w", err)
		}
	}
	_, err := s.GC(0.2)
	return err
}

func (s *Store) flush() error {
	s.gate.Lock()
	defer s.gate.Unlock()
	k := join(pSentinel, "flush")
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(k, []byte{1}) }); err != nil {
		return fmt.Errorf("reclaim: %w", err)
	}
	if err := s.db.DropPrefix(pSentinel); err != nil {
		return fmt.Errorf("reclaim: flush and compact: %w", err)
	}
	return nil
}

// PruneReport says what Prune removed.
type PruneReport struct {
	Messages int   `json:"messages"`
	Bytes    int64 `json:"bytes"`
	Scans    int   `json:"scans"`
	// Weights counts stable weights (and the marks of the scans that
	// joined them), Tares learned vehicle tares.
	Weights int `json:"weights"`
	Tares   int `json:"tares"`
}

// Prune applies retention: it removes delivered messages committed before
// cutoff, the records of scans (and their inspections) committed before
// cutoff, stable weights taken before it with the marks of the scans that
// joined them, and vehicle tares last learned before it. Undelivered
// messages are never pruned, whatever their age.
func (s *Store) Prune(cutoff time.Time) (PruneReport, error) {
	var r PruneReport
	var keys [][]byte
	acked := s.acked.Load()
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pOutbox})
		for it.Rewind(); it.Valid(); it.Next() {
			seq, at, ok := parseOutboxKey(it.Item().Key())
			if !ok || seq > acked {
				break
			}
			if at.Before(cutoff) {
				keys = append(keys, it.Item().KeyCopy(nil))
				r.Messages++
				r.Bytes += it.Item().ValueSize()
			}
		}
		it.Close()
		it = txn.NewIterator(badger.IteratorOptions{Prefix: pScan, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var rec scanRecord
			// A record of the skeleton's format has no time: it predates
			// any cutoff.
			err := it.Item().Value(func(v []byte) (err error) { rec, err = decodeScanRecord(v); return err })
			if err != nil || !rec.At.Before(cutoff) {
				continue
			}
			keys = append(keys, it.Item().KeyCopy(nil))
			for _, id := range rec.IDs {
				keys = append(keys, join(pResult, id))
			}
			r.Scans++
		}
		// Weights and their marks end with their time, big-endian.
		for _, p := range [][]byte{pWeight, pWeightUsed} {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
			for it.Rewind(); it.Valid(); it.Next() {
				k := it.Item().Key()
				if len(k) < len(p)+8 {
					continue
				}
				at := time.Unix(0, int64(binary.BigEndian.Uint64(k[len(k)-8:])))
				if at.Before(cutoff) {
					keys = append(keys, it.Item().KeyCopy(nil))
					if bytes.Equal(p, pWeight) {
						r.Weights++
					}
				}
			}
			it.Close()
		}
		tares := txn.NewIterator(badger.IteratorOptions{Prefix: pPlateTare, PrefetchValues: true})
		defer tares.Close()
		for tares.Rewind(); tares.Valid(); tares.Next() {
			var w Weight
			if err := tares.Item().Value(func(v []byte) error { return json.Unmarshal(v, &w) }); err != nil || !w.At.Before(cutoff) {
				continue
			}
			keys = append(keys, tares.Item().KeyCopy(nil))
			r.Tares++
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("prune buffer: %w", err)
	}
	if err := s.deleteKeys(keys, nil); err != nil {
		return PruneReport{}, fmt.Errorf("prune buffer: %w", err)
	}
	return r, nil
}

// deleteKeys deletes keys in as many transactions as it takes; last, if
// set, runs in the final one.
func (s *Store) deleteKeys(keys [][]byte, last func(*badger.Txn) error) error {
	if len(keys) == 0 && last == nil {
		return nil
	}
	s.gate.RLock()
	defer s.gate.RUnlock()
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	for _, k := range keys {
		err := txn.Delete(k)
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err = txn.Commit(); err != nil {
				return err
			}
			txn = s.db.NewTransaction(true)
			err = txn.Delete(k)
		}
		if err != nil {
			return err
		}
	}
	if last != nil {
		if err := last(txn); err != nil {
			return err
		}
	}
	return txn.Commit()
}

// Dropped describes an undelivered message the disk budget dropped.
type Dropped struct {
	Seq   uint64    `json:"seq"`
	Topic string    `json:"topic"`
	Ref   string    `json:"ref,omitempty"`
	At    time.Time `json:"at"`
	Alert bool      `json:"alert,omitempty"`
	Image bool      `json:"image,omitempty"`
	Bytes int64     `json:"bytes"`
}

// BudgetReport says what EnforceBudget found and did.
type BudgetReport struct {
	BudgetBytes int64 `json:"budget_bytes"`
	// Before and After are the store's disk use before and after.
	Before int64 `json:"disk_bytes_before"`
	After  int64 `json:"disk_bytes_after"`
	// Delivered counts delivered messages removed before their retention
	// ended.
	Delivered      int   `json:"delivered_dropped"`
	DeliveredBytes int64 `json:"delivered_dropped_bytes"`
	// Undelivered lists messages dropped before the broker had them: lost
	// to the control rooms.
	Undelivered []Dropped `json:"undelivered_dropped"`
	// Why says, for a drop other than the budget's, what made it.
	Why string `json:"why,omitempty"`
}

// Acted reports whether anything was dropped.
func (r BudgetReport) Acted() bool { return r.Delivered > 0 || len(r.Undelivered) > 0 }

// budgetLowWater is the fraction of the budget a drop brings the store back
// to, so that it does not drop again at the next commit.
const budgetLowWater = 0.8

// MinBudget is the smallest disk budget that leaves room for data: Badger
// itself takes up to a few tens of MB (memtable logs, the value-log file
// being written, tables) that dropping messages cannot shrink.
const MinBudget = 64 << 20

// Drop classes in the order the disk budget takes them: delivered messages
// kept for replay first, then undelivered ones, images before results and
// anything before an alert. Oldest first within a class.
const (
	classDelivered = iota
	classImage
	classResult
	classAlertImage
	classAlert
	nClasses
)

func classOf(seq, acked uint64, meta byte) int {
	switch {
	case seq <= acked:
		return classDelivered
	case meta&metaAlert != 0 && meta&metaImage != 0:
		return classAlertImage
	case meta&metaAlert != 0:
		return classAlert
	case meta&metaImage != 0:
		return classImage
	}
	return classResult
}

// EnforceBudget keeps the store within budget bytes on disk. Over budget,
// it first reclaims the space of what was already deleted; if that is not
// enough it drops messages, in this order, until the live data fits in
// 80 % of the budget: delivered messages kept for replay, oldest first;
// then undelivered images, undelivered results, undelivered images of
// alerts and, the very last thing, undelivered alerts, each oldest first.
// It never drops the messages below half the budget: what is over budget
// beyond that is Badger's own, which dropping cannot shrink (a budget under
// MinBudget). The caller reports what the returned BudgetReport lists.
func (s *Store) EnforceBudget(budget int64) (BudgetReport, error) {
	rep := BudgetReport{BudgetBytes: budget}
	u, err := DiskUsage(s.dir)
	if err != nil {
		return rep, err
	}
	rep.Before, rep.After = u.Total, u.Total
	if budget <= 0 || u.Total <= budget {
		return rep, nil
	}
	// Space held by deletions not yet compacted comes back without losing
	// anything.
	if err := s.Reclaim(false); err != nil {
		return rep, err
	}
	if u, err = DiskUsage(s.dir); err != nil {
		return rep, err
	}
	rep.After = u.Total
	if u.Total <= budget {
		return rep, nil
	}
	need := u.Total - int64(float64(budget)*budgetLowWater)

	type cand struct {
		key   []byte
		seq   uint64
		bytes int64
	}
	var classes [nClasses][]cand
	acked := s.acked.Load()
	err = s.db.View(func(txn *badger.Txn) error {
		eachOutboxKey(txn, func(seq uint64, _ time.Time, item *badger.Item) {
			c := classOf(seq, acked, item.UserMeta())
			classes[c] = append(classes[c], cand{item.KeyCopy(nil), seq, item.EstimatedSize()})
		})
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("disk budget: %w", err)
	}
	live := int64(0)
	for _, c := range classes {
		for _, x := range c {
			live += x.bytes
		}
	}
	need = min(need, live-budget/2)
	var keys [][]byte
	var lost []uint64
	freed := int64(0)
	for c := range classes {
		for _, x := range classes[c] {
			if freed >= need {
				break
			}
			keys = append(keys, x.key)
			freed += x.bytes
			if c == classDelivered {
				rep.Delivered++
				rep.DeliveredBytes += x.bytes
			} else {
				lost = append(lost, x.seq)
			}
		}
	}
	if len(lost) > 0 {
		if rep.Undelivered, err = s.describe(lost); err != nil {
			return rep, fmt.Errorf("disk budget: %w", err)
		}
	}
	dropped := s.dropped.Load() + uint64(len(lost))
	err = s.deleteKeys(keys, func(txn *badger.Txn) error { return putUint(txn, kDropped, dropped) })
	if err != nil {
		return rep, fmt.Errorf("disk budget: drop %d messages: %w", len(keys), err)
	}
	s.dropped.Store(dropped)
	if err := s.Reclaim(true); err != nil {
		return rep, err
	}
	if rep.After, err = s.DiskBytes(); err != nil {
		return rep, err
	}
	return rep, nil
}

// Drop removes one undelivered message from the outbox, counts it as
// dropped and returns its description, for the report: the publisher
// drops an image the broker refuses to take. Delivery of what follows is
// unaffected (Pending skips the gap).
func (s *Store) Drop(seq uint64) (Dropped, error) {
	ds, err := s.describe([]uint64{seq})
	if err != nil {
		return Dropped{}, fmt.Errorf("drop message %d: %w", seq, err)
	}
	if len(ds) == 0 {
		return Dropped{}, fmt.Errorf("drop message %d: not in the outbox", seq)
	}
	if seq <= s.acked.Load() {
		return Dropped{}, fmt.Errorf("drop message %d: already delivered", seq)
	}
	var key []byte
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: outboxSeek(seq)})
		defer it.Close()
		if it.Rewind(); it.Valid() {
			key = it.Item().KeyCopy(nil)
		}
		return nil
	})
	if err != nil || key == nil {
		return Dropped{}, fmt.Errorf("drop message %d: its key: %v", seq, err)
	}
	dropped := s.dropped.Load() + 1
	err = s.deleteKeys([][]byte{key}, func(txn *badger.Txn) error { return putUint(txn, kDropped, dropped) })
	if err != nil {
		return Dropped{}, fmt.Errorf("drop message %d: %w", seq, err)
	}
	s.dropped.Store(dropped)
	return ds[0], nil
}

// describe reads what the report of a drop needs about messages seqs
// (ascending).
func (s *Store) describe(seqs []uint64) ([]Dropped, error) {
	out := make([]Dropped, 0, len(seqs))
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pOutbox})
		defer it.Close()
		for _, want := range seqs {
			it.Seek(outboxSeek(want))
			if !it.ValidForPrefix(pOutbox) {
				break
			}
			item := it.Item()
			seq, at, _ := parseOutboxKey(item.Key())
			if seq != want {
				continue
			}
			var m Message
			if err := item.Value(m.decode); err != nil {
				return fmt.Errorf("outbox entry %d is corrupt: %w", seq, err)
			}
			out = append(out, Dropped{Seq: seq, Topic: m.Topic, Ref: m.Ref, At: at.UTC(),
				Alert: item.UserMeta()&metaAlert != 0, Image: item.UserMeta()&metaImage != 0, Bytes: item.ValueSize()})
		}
		return nil
	})
	return out, err
}

// Copy copies the store's files from dir, which a running daemon may hold,
// into a new directory under tmp and returns it. Badger recovers a copy
// taken mid-write as it would after a power cut; a table deleted by a
// compaction during the copy makes it start over.
func Copy(dir, tmp string) (string, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		dst, err := os.MkdirTemp(tmp, "gatescan-buffer-")
		if err != nil {
			return "", fmt.Errorf("copy buffer: %w", err)
		}
		if lastErr = copyOnce(dir, dst); lastErr == nil {
			return dst, nil
		}
		os.RemoveAll(dst)
		if errors.Is(lastErr, os.ErrNotExist) && attempt == 0 {
			if _, err := os.Stat(dir); err != nil {
				return "", fmt.Errorf("copy buffer: %w", err)
			}
		}
	}
	return "", fmt.Errorf("copy buffer %s (it kept changing): %w", dir, lastErr)
}

func copyOnce(dir, dst string) error {
	es, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	// The manifest first: a table it names that vanishes during the copy is
	// then noticed as missing rather than silently absent from a newer
	// manifest.
	slices.SortStableFunc(es, func(a, b os.DirEntry) int {
		return rank(a.Name()) - rank(b.Name())
	})
	for _, e := range es {
		if !e.Type().IsRegular() || e.Name() == "LOCK" {
			continue
		}
		if err := copyFile(filepath.Join(dir, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func rank(name string) int {
	switch {
	case name == "MANIFEST", name == "KEYREGISTRY":
		return 0
	case strings.HasSuffix(name, ".sst"):
		return 1
	}
	return 2
}

// copyFile copies src, streaming: a value-log file is tens of MB.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// OpenCopy opens a copy (see Copy) of the buffer in dir, made under tmp
// (os.TempDir() when empty), for a tool that reads it while the daemon may
// run: a tool never opens the daemon's own directory, even read-only, since
// its lock would keep a starting daemon out. done closes the copy and
// removes it.
func OpenCopy(dir, tmp string, o Options) (s *Store, done func(), err error) {
	if tmp == "" {
		tmp = os.TempDir()
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		return nil, nil, fmt.Errorf("%s is not a gatescan buffer (no MANIFEST): %w", dir, err)
	}
	cp, err := Copy(dir, tmp)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (set TMPDIR to a disk with room for it)", err)
	}
	// Read-write: Badger truncates the torn tail of a log copied mid-write.
	o.ReadOnly = false
	s, err = Open(cp, o)
	if err != nil {
		os.RemoveAll(cp)
		return nil, nil, fmt.Errorf("open the copy of %s: %w", dir, err)
	}
	return s, func() { s.Close(); os.RemoveAll(cp) }, nil
}
