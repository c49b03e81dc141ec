package buffer

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestPendingImages: a scan committed with a note that its images follow
// keeps the note across a crash (the store closed and opened again);
// queueing the images deletes it in the same transaction, and a scan
// committed without a note has none. A note dropped for images that
// will not be made (the disk low) is gone too, and a try at making them
// again is counted durably.
func TestPendingImages(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SyncWrites: true})
	note := json.RawMessage(`{"sidecar":"/in/a.json"}`)
	for _, key := range []string{"a", "b", "c"} {
		c := ScanCommit{Key: key, Results: []Record{{ID: "id-" + key, Data: []byte(`{}`)}}, Messages: []Message{msg("r", key)}, Images: note}
		if ok, err := s.Commit(c); !ok || err != nil {
			t.Fatalf("commit %s: %v %v", key, ok, err)
		}
	}
	if ok, err := s.Commit(ScanCommit{Key: "quarantined", Quarantined: true, Messages: []Message{msg("r", "q")}}); !ok || err != nil {
		t.Fatalf("commit without images: %v %v", ok, err)
	}
	// Committed again (a crash before the clean-up): the note stays as it was.
	if ok, err := s.Commit(ScanCommit{Key: "a", Images: json.RawMessage(`{"other":1}`)}); ok || err != nil {
		t.Fatalf("second commit of a: %v %v", ok, err)
	}
	// The crash: the images were never queued.
	s.Close()
	s = open(t, dir, Options{SyncWrites: true})
	defer s.Close()
	got := pendingKeys(t, s)
	if want := "a b c"; got != want {
		t.Fatalf("pending images after the crash: %q, want %q", got, want)
	}
	all, _ := s.ImagesPending()
	if string(all[0].Note) != string(note) || all[0].Tries != 0 || all[0].At.IsZero() {
		t.Errorf("note of a: %+v, want the note committed, no try, the commit's time", all[0])
	}

	// b's images are made and queued: the note goes with them.
	if err := s.QueueImages("b", Message{Topic: "img/b", QoS: 1, Payload: []byte("jpeg"), Image: true}); err != nil {
		t.Fatal(err)
	}
	// c's are not kept (the disk low): the note goes alone.
	if err := s.QueueImages("c"); err != nil {
		t.Fatal(err)
	}
	// A note already gone is no error, and writes nothing.
	if err := s.DropPendingImages("c"); err != nil {
		t.Fatal(err)
	}
	if got := pendingKeys(t, s); got != "a" {
		t.Errorf("pending after b queued and c dropped: %q, want a", got)
	}
	p, err := s.Pending(0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	images := 0
	for _, m := range p {
		if m.Image {
			images++
			if m.Topic != "img/b" || string(m.Payload) != "jpeg" {
				t.Errorf("image queued as %s %q", m.Topic, m.Payload)
			}
		}
	}
	if len(p) != 5 || images != 1 {
		t.Errorf("outbox holds %d messages, %d images: want the 4 results and b's image", len(p), images)
	}

	// A try at a's images survives a crash in it.
	if r, err := s.RetryImages("a"); err != nil || r.Tries != 1 || string(r.Note) != string(note) || r.Key != "a" {
		t.Fatalf("first try: %+v %v", r, err)
	}
	s.Close()
	s = open(t, dir, Options{SyncWrites: true})
	all, _ = s.ImagesPending()
	if len(all) != 1 || all[0].Tries != 1 {
		t.Fatalf("after a crash in the try: %+v, want a with one try", all)
	}
	if _, err := s.RetryImages("gone"); err == nil {
		t.Error("a try at a scan with no pending images: no error")
	}
	if err := s.DropPendingImages("a"); err != nil {
		t.Fatal(err)
	}
	if got := pendingKeys(t, s); got != "" {
		t.Errorf("pending after a dropped: %q", got)
	}
}

// TestQueueImagesRefusedKeepsNote: images the full disk refuses are not
// queued, and their note stays (for the next start to count or make
// them); once there is room the note alone can go.
func TestQueueImagesRefusedKeepsNote(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	if ok, err := s.Commit(ScanCommit{Key: "a", Images: json.RawMessage(`{}`)}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	free, err := s.FreeBytes()
	if err != nil {
		t.Fatal(err)
	}
	s.SetReserve(free * 2) // over the reserve for commits, not for small writes
	if err := s.QueueImages("a", Message{Topic: "img/a", Payload: []byte("jpeg"), Image: true}); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("images with the disk full: %v, want ErrDiskFull", err)
	}
	if got := pendingKeys(t, s); got != "a" {
		t.Fatalf("pending after the refusal: %q, want a", got)
	}
	if err := s.DropPendingImages("a"); err != nil {
		t.Fatalf("note dropped with the disk low: %v", err)
	}
	if p, _ := s.Pending(0, 10, 0); len(p) != 0 || pendingKeys(t, s) != "" {
		t.Errorf("after the drop: %d queued, pending %q", len(p), pendingKeys(t, s))
	}
}

func pendingKeys(t *testing.T, s *Store) string {
	t.Helper()
	all, err := s.ImagesPending()
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for i, p := range all {
		if i > 0 {
			out += " "
		}
		out += p.Key
	}
	return out
}
