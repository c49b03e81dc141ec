package buffer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// TestFailedSyncIsNotCommitted: when the fsync after a commit fails, the
// commit is not reported done, and ScanDone does not say the scan is
// committed (its files would be deleted) until a sync succeeds.
func TestFailedSyncIsNotCommitted(t *testing.T) {
	s := open(t, t.TempDir(), Options{SyncWrites: true})
	eio := errors.New("input/output error")
	s.syncFn = func() error { return eio }
	ok, err := s.CommitScan("scan-1", []Record{{ID: "r1", Data: []byte(`{}`)}}, []Message{{Topic: "t", QoS: 1, Payload: []byte("x")}})
	if ok || !errors.Is(err, eio) {
		t.Fatalf("commit with a failing fsync: ok %v err %v, want an error", ok, err)
	}
	if done, err := s.ScanDone("scan-1"); done || err == nil || !strings.Contains(err.Error(), "may not be on disk") {
		t.Fatalf("ScanDone after the failed fsync: %v %v, want not done and why", done, err)
	}
	s.syncFn = s.db.Sync // the disk recovers
	if done, err := s.ScanDone("scan-1"); !done || err != nil {
		t.Fatalf("ScanDone once a sync succeeds: %v %v, want done", done, err)
	}
	// Without sync_writes nothing is promised, nothing is checked.
	s2 := open(t, t.TempDir(), Options{})
	s2.syncFn = func() error { return eio }
	if ok, err := s2.CommitScan("scan-2", nil, nil); !ok || err != nil {
		t.Fatalf("commit without sync_writes: %v %v", ok, err)
	}
}

// TestOpenSaysWhatIsWrong: a buffer Badger cannot open is reported with
// its real cause, not always as "another gatescan running".
func TestOpenSaysWhatIsWrong(t *testing.T) {
	t.Run("locked", func(t *testing.T) {
		dir := t.TempDir()
		open(t, dir, Options{})
		_, err := Open(dir, Options{})
		if err == nil || !strings.Contains(err.Error(), "another gatescan") {
			t.Fatalf("second open: %v, want another process named", err)
		}
	})
	t.Run("damaged", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir, Options{})
		s.Close()
		if err := os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("this is not a manifest at all"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		if err == nil || strings.Contains(err.Error(), "another gatescan") || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("damaged MANIFEST: %v, want damage named and no other process blamed", err)
		}
	})
	t.Run("not a directory", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o600)
		_, err := Open(f, Options{})
		if err == nil || strings.Contains(err.Error(), "another gatescan") || !strings.Contains(err.Error(), "must be a directory") {
			t.Fatalf("a file as buffer.dir: %v", err)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		if os.Getuid() == 0 {
			t.Skip("root reads every file: a permission error needs another user")
		}
		dir := t.TempDir()
		s := open(t, dir, Options{})
		s.Close()
		os.Chmod(dir, 0)
		defer os.Chmod(dir, 0o700)
		_, err := Open(dir, Options{})
		if err == nil || strings.Contains(err.Error(), "another gatescan") || !strings.Contains(err.Error(), "chown") {
			t.Fatalf("unreadable directory: %v", err)
		}
	})
}

// TestPruneWeightsAndTares: retention removes weights (and the marks of
// the scans that joined them) and learned tares, not only messages.
func TestPruneWeightsAndTares(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	now := time.Now()
	old, recent := now.Add(-48*time.Hour), now.Add(-time.Hour)
	for _, w := range []Weight{{Lane: "L1", GrossKg: 30000, At: old}, {Lane: "L1", GrossKg: 31000, At: recent}, {Lane: "L2", GrossKg: 1, At: old}} {
		if err := s.PutWeight(w); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CommitScan("joined-old", nil, nil, Weight{Lane: "L1", At: old}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPlateTare("OLD-1", 15000, old); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPlateTare("NEW-1", 16000, recent); err != nil {
		t.Fatal(err)
	}
	r, err := s.Prune(now.Add(-24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r.Weights != 2 || r.Tares != 1 {
		t.Errorf("pruned %d weights and %d tares, want 2 and 1", r.Weights, r.Tares)
	}
	if _, ok, _ := s.PlateTare("OLD-1"); ok {
		t.Error("old tare kept")
	}
	if kg, ok, _ := s.PlateTare("NEW-1"); !ok || kg != 16000 {
		t.Error("recent tare pruned")
	}
	if _, found, _ := s.nearestWeight("L1", old, time.Minute, nil); found {
		t.Error("old weight kept")
	}
	if w, found, _ := s.nearestWeight("L1", recent, time.Minute, nil); !found || w.GrossKg != 31000 {
		t.Error("recent weight pruned")
	}
	n := 0
	s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pWeightUsed})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if n != 0 {
		t.Errorf("%d marks of joined weights kept past retention", n)
	}
}

// TestReserveRefusesWrites: with less free space than the reserve, every
// write that adds data fails with ErrDiskFull (Badger never writes into a
// full disk through its memory maps) and reads go on.
func TestReserveRefusesWrites(t *testing.T) {
	s := open(t, t.TempDir(), Options{SyncWrites: true})
	if _, err := s.CommitScan("before", nil, []Message{{Topic: "t", QoS: 1, Payload: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	free, err := s.FreeBytes()
	if err != nil || free <= 0 {
		t.Fatalf("free space: %d %v", free, err)
	}
	s.SetReserve(free + 1<<40)
	for what, err := range map[string]error{
		"commit":      func() error { _, err := s.CommitScan("after", nil, nil); return err }(),
		"enqueue":     s.Enqueue(Message{Topic: "t", QoS: 1}),
		"declaration": s.StoreDeclaration("MSKU9070323", []byte("{}"), 0),
		"weight":      s.PutWeight(Weight{Lane: "L1", GrossKg: 1, At: time.Now()}),
		"ack":         s.Ack(1),
	} {
		if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "MB free") {
			t.Errorf("%s with the disk under the reserve: %v, want ErrDiskFull saying how much is free", what, err)
		}
	}
	if done, err := s.ScanDone("before"); !done || err != nil {
		t.Errorf("reads with the disk full: %v %v", done, err)
	}
	if p, err := s.Pending(0, 10, 0); err != nil || len(p) != 1 {
		t.Errorf("pending with the disk full: %d %v", len(p), err)
	}
	// Between a quarter of the reserve and the reserve, small writes (an
	// acknowledgement, a scan's attempt) still go; commits do not.
	s.SetReserve(free * 2)
	if _, err := s.CommitScan("after", nil, nil); !errors.Is(err, ErrDiskFull) {
		t.Errorf("commit under the reserve: %v, want ErrDiskFull", err)
	}
	if err := s.Ack(1); err != nil {
		t.Errorf("ack above a quarter of the reserve: %v", err)
	}
	if _, err := s.BeginAttempt("after"); err != nil {
		t.Errorf("attempt above a quarter of the reserve: %v", err)
	}
	s.SetReserve(0)
	if _, err := s.CommitScan("after", nil, nil); err != nil {
		t.Errorf("commit once there is room: %v", err)
	}
}
