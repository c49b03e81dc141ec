package buffer

import (
	"testing"
	"time"
)

// TestAttemptsSurviveAndEndWithTheCommit: attempts are counted across a
// reopening of the store (a crash), the failure of one kept, and the
// record goes with the scan's commit or ForgetAttempts.
func TestAttemptsSurviveAndEndWithTheCommit(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 2; want++ {
		a, err := s.BeginAttempt("k")
		if err != nil || a.Count != want {
			t.Fatalf("attempt %d: %+v, %v", want, a, err)
		}
		s.Close()
		if s, err = Open(dir, Options{SyncWrites: true}); err != nil {
			t.Fatal(err)
		}
	}
	s.BeginAttempt("k")
	if a, _ := s.EndAttempt("k"); a.Count != 2 {
		t.Errorf("an attempt taken back still counts: %+v", a)
	}
	if a, _ := s.FailAttempt("k", "boom"); a.Count != 2 || a.Failure != "boom" || a.First.IsZero() || a.Last.Before(a.First) {
		t.Errorf("after a failure: %+v", a)
	}
	ident := &ScanIdentity{Lane: "L1", ScannedAt: time.Date(2026, 12, 6, 7, 0, 0, 1, time.UTC), Images: "ab"}
	if ok, err := s.Commit(ScanCommit{Key: "k", Identity: ident, Quarantined: true}); !ok || err != nil {
		t.Fatalf("commit: %v %v", ok, err)
	}
	if a, _ := s.BeginAttempt("k"); a.Count != 1 {
		t.Errorf("attempts not ended by the commit: %+v", a)
	}
	c, found, err := s.Committed("k")
	if err != nil || !found || !c.Identity.Same(ident) || !c.Quarantined {
		t.Errorf("committed %+v %v %v", c, found, err)
	}
	other := *ident
	other.Lane = "L2"
	if c.Identity.Same(&other) || (*ScanIdentity)(nil).Same(ident) {
		t.Error("other lane, or no identity, taken for the same scan")
	}
	if err := s.ForgetAttempts("k"); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.BeginAttempt("k"); a.Count != 1 {
		t.Errorf("attempts not forgotten: %+v", a)
	}
	if _, found, _ := s.Committed("none"); found {
		t.Error("a scan never committed found")
	}
	s.Close()
}
