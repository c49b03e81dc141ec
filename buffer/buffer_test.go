package buffer

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func open(t testing.TB, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// commit queues one scan's worth of messages, as the agent does.
func commit(t testing.TB, s *Store, scan string, msgs ...Message) {
	t.Helper()
	ok, err := s.CommitScan(scan, []Record{{ID: "id-" + scan, Data: []byte(`{"scan":"` + scan + `"}`)}}, msgs)
	if err != nil || !ok {
		t.Fatalf("commit %s: ok=%v err=%v", scan, ok, err)
	}
}

func msg(topic string, payload string) Message {
	return Message{Topic: topic, QoS: 1, Payload: []byte(payload)}
}

func seqs(ms []Message) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func TestMessageRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for _, m := range []Message{
		{Topic: "a/b", QoS: 1, Payload: []byte(`{"x":1}`), Ref: "abc"},
		{Topic: "gatescan/v1/s/g/status", QoS: 1, Retained: true, Payload: []byte{}},
		{Topic: "img", QoS: 0, Payload: []byte{0xFF, 0xD8, 0, 1, 2, '{'}, Image: true, Alert: true},
		{Topic: strings.Repeat("t", 300), QoS: 2, Payload: bytes.Repeat([]byte{7}, 70000), Ref: strings.Repeat("r", 200)},
	} {
		t.Run(m.Topic[:min(len(m.Topic), 10)], func(t *testing.T) {
			s := open(t, t.TempDir(), Options{})
			defer s.Close()
			m.At = at
			if err := s.Enqueue(m); err != nil {
				t.Fatal(err)
			}
			got, err := s.Pending(0, 10, 0)
			if err != nil || len(got) != 1 {
				t.Fatalf("pending: %v %v", got, err)
			}
			g := got[0]
			if g.Seq != 1 || g.Topic != m.Topic || g.QoS != m.QoS || g.Retained != m.Retained || !bytes.Equal(g.Payload, m.Payload) ||
				g.Ref != m.Ref || g.Alert != m.Alert || g.Image != m.Image || !g.At.Equal(at) {
				t.Errorf("got %+v\nwant %+v", g, m)
			}
		})
	}
}

// TestCommitScanIdempotent: a scan committed again after a crash between
// commit and clean-up is not queued twice.
func TestCommitScanIdempotent(t *testing.T) {
	s := open(t, t.TempDir(), Options{SyncWrites: true})
	defer s.Close()
	commit(t, s, "scan-1", msg("insp", "a"), msg("img", "b"))
	ok, err := s.CommitScan("scan-1", []Record{{ID: "id-scan-1", Data: []byte("other")}}, []Message{msg("insp", "again")})
	if err != nil || ok {
		t.Fatalf("second commit: ok=%v err=%v, want ok=false", ok, err)
	}
	done, err := s.ScanDone("scan-1")
	if err != nil || !done {
		t.Errorf("ScanDone = %v, %v", done, err)
	}
	if done, _ := s.ScanDone("scan-2"); done {
		t.Error("ScanDone(scan-2) = true for a scan never committed")
	}
	got, _ := s.Pending(0, 100, 0)
	if len(got) != 2 || string(got[0].Payload) != "a" {
		t.Errorf("pending %v, want the first commit's 2 messages only", got)
	}
	if r, err := s.Result("id-scan-1"); err != nil || string(r) != `{"scan":"scan-1"}` {
		t.Errorf("result %q %v, want the first commit's", r, err)
	}
}

// TestCommitConsumesWeight: the weighing a scan joined is its own from the
// commit on, in the same transaction: free for that scan (re-inspected
// after a crash), taken for any other, and still free when the commit did
// not happen.
func TestCommitConsumesWeight(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	t0 := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	w := Weight{Lane: "L1", GrossKg: 30000, At: t0}
	if err := s.PutWeight(w); err != nil {
		t.Fatal(err)
	}
	free := func(scanID string) bool {
		t.Helper()
		_, ok, err := s.NearestFreeWeight("L1", t0.Add(30*time.Second), 5*time.Minute, scanID)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !free("A") || !free("B") {
		t.Fatal("a weighing no scan committed is not free")
	}
	if ok, err := s.CommitScan("A", nil, []Message{msg("insp", "a")}, w); err != nil || !ok {
		t.Fatalf("commit: %v %v", ok, err)
	}
	if !free("A") {
		t.Error("scan A lost its own weighing")
	}
	if free("B") {
		t.Error("scan B can take the weighing scan A committed with")
	}
	// A second commit of A (after a crash) changes nothing.
	if ok, _ := s.CommitScan("A", nil, nil, w); ok || free("B") {
		t.Error("recommitting A freed its weighing or queued again")
	}
}

// TestCommitLargeScan: two containers with big results and images fit in
// one commit (Badger limits what a transaction holds inline).
func TestCommitLargeScan(t *testing.T) {
	s := open(t, t.TempDir(), Options{SyncWrites: true})
	defer s.Close()
	res := bytes.Repeat([]byte{'r'}, 15<<10)
	img := bytes.Repeat([]byte{0xFF}, 1<<20)
	var recs []Record
	var msgs []Message
	for i := range 2 {
		recs = append(recs, Record{ID: fmt.Sprint("c", i), Data: res})
		msgs = append(msgs, Message{Topic: "insp", Payload: res}, Message{Topic: "alert", Payload: res, Alert: true},
			Message{Topic: "img", Payload: img, Image: true})
	}
	if ok, err := s.CommitScan("big", recs, msgs); err != nil || !ok {
		t.Fatalf("commit: %v %v", ok, err)
	}
	got, _ := s.Pending(0, 10, 0)
	if len(got) != 6 || len(got[2].Payload) != 1<<20 {
		t.Errorf("pending %d messages", len(got))
	}
}

// TestResumeAfterReopen: delivery state and sequence numbers survive a
// restart; delivery resumes after the last acknowledged message, in order.
func TestResumeAfterReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SyncWrites: true})
	for i := range 10 {
		commit(t, s, fmt.Sprint("scan-", i), msg("insp", fmt.Sprint(i)))
	}
	if err := s.Ack(4); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(2); err != nil { // late, out-of-date: ignored
		t.Fatal(err)
	}
	s.Close()

	s = open(t, dir, Options{SyncWrites: true})
	defer s.Close()
	got, err := s.Pending(0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{5, 6, 7, 8, 9, 10}; fmt.Sprint(seqs(got)) != fmt.Sprint(want) {
		t.Fatalf("pending after reopen %v, want %v", seqs(got), want)
	}
	commit(t, s, "scan-new", msg("insp", "new"))
	got, _ = s.Pending(8, 100, 0)
	if want := []uint64{9, 10, 11}; fmt.Sprint(seqs(got)) != fmt.Sprint(want) {
		t.Errorf("pending after 8: %v, want %v", seqs(got), want)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 7 || st.Kept != 4 || st.AckedSeq != 4 || st.LastSeq != 11 || st.Oldest.IsZero() || st.DiskBytes == 0 {
		t.Errorf("stats %+v: want 7 pending, 4 kept, acked 4, last 11", st)
	}
}

func TestPendingLimits(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	big := strings.Repeat("x", 100<<10)
	for i := range 6 {
		commit(t, s, fmt.Sprint(i), msg("img", big))
	}
	for _, c := range []struct {
		limit, maxBytes, want int
	}{
		{10, 0, 6},
		{4, 0, 4},
		{10, 250 << 10, 2},
		{10, 1, 1}, // the first always comes, however big
	} {
		got, err := s.Pending(0, c.limit, c.maxBytes)
		if err != nil || len(got) != c.want {
			t.Errorf("Pending(0, %d, %d) gave %d messages (%v), want %d", c.limit, c.maxBytes, len(got), err, c.want)
		}
	}
}

func TestPrune(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	for i := range 6 {
		commit(t, s, fmt.Sprint("old-", i), msg("insp", "old"))
	}
	cutoff := time.Now()
	time.Sleep(2 * time.Millisecond) // commit times are taken from the clock
	commit(t, s, "new", msg("insp", "new"))
	if err := s.Ack(4); err != nil {
		t.Fatal(err)
	}
	r, err := s.Prune(cutoff)
	if err != nil {
		t.Fatal(err)
	}
	// Delivered and old: 1-4. Old but undelivered (5, 6) stay.
	if r.Messages != 4 || r.Scans != 6 {
		t.Errorf("pruned %+v, want 4 messages and 6 scans", r)
	}
	st, _ := s.Stats()
	if st.Pending != 3 || st.Kept != 0 {
		t.Errorf("after prune: %+v, want 3 pending, nothing kept", st)
	}
	if done, _ := s.ScanDone("old-1"); done {
		t.Error("scan record old-1 survived its retention")
	}
	if _, err := s.Result("id-old-1"); err == nil {
		t.Error("result of old-1 survived its retention")
	}
	if done, _ := s.ScanDone("new"); !done {
		t.Error("scan record of the new scan pruned")
	}
}

// TestEnforceBudget fills the store beyond a budget and checks the order
// things go in: delivered first, then undelivered images, results, alert
// images, and alerts last.
func TestEnforceBudget(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	img := bytes.Repeat([]byte{0xAB}, 512<<10)
	res := bytes.Repeat([]byte{'r'}, 2<<10)
	add := func(n int, m Message) {
		for range n {
			m.Payload = img
			if !m.Image {
				m.Payload = res
			}
			if err := s.Enqueue(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(20, Message{Topic: "delivered", Image: true}) // 1-20, 10 MB
	if err := s.Ack(20); err != nil {
		t.Fatal(err)
	}
	add(20, Message{Topic: "image", Image: true})                    // 21-40, 10 MB
	add(20, Message{Topic: "result"})                                // 41-60
	add(10, Message{Topic: "alert-image", Image: true, Alert: true}) // 61-70, 5 MB
	add(10, Message{Topic: "alert", Alert: true, Ref: "insp-x"})     // 71-80
	if err := s.Reclaim(false); err != nil {
		t.Fatal(err)
	}
	before, _ := s.DiskBytes()
	t.Logf("disk before: %.1f MB", float64(before)/(1<<20))

	// Room for all but ~12 MB: the delivered images and some undelivered
	// ones go, nothing else.
	budget := before - 10<<20
	rep, err := s.EnforceBudget(budget)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("budget %.1f MB: %+v", float64(budget)/(1<<20), summary(rep))
	if rep.Delivered != 20 {
		t.Errorf("dropped %d delivered messages, want all 20 first", rep.Delivered)
	}
	if len(rep.Undelivered) == 0 {
		t.Fatal("nothing undelivered dropped; the budget needs some")
	}
	for i, d := range rep.Undelivered {
		if d.Topic != "image" || d.Seq != uint64(21+i) {
			t.Errorf("dropped #%d: %+v; want the oldest undelivered images, in order", i, d)
		}
	}
	if rep.After > budget {
		t.Errorf("disk %d after enforcing, over the budget %d", rep.After, budget)
	}
	st, _ := s.Stats()
	if st.Dropped != uint64(len(rep.Undelivered)) || st.PendingAlerts != 20 {
		t.Errorf("stats after: %+v", st)
	}

	// A budget that only alerts fit in.
	rep, err = s.EnforceBudget(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("budget 4 MB: %+v", summary(rep))
	left, _ := s.Pending(0, 1000, 0)
	for _, m := range left {
		if m.Topic != "alert" && m.Topic != "alert-image" {
			t.Errorf("%s (seq %d) kept while alerts were dropped", m.Topic, m.Seq)
		}
	}
	alerts := 0
	for _, m := range left {
		if m.Topic == "alert" {
			alerts++
		}
	}
	if alerts != 10 {
		t.Errorf("%d of 10 alerts left; alerts go last", alerts)
	}
	for _, d := range rep.Undelivered {
		if d.Topic == "alert" {
			t.Errorf("alert %d dropped while alert images remained", d.Seq)
		}
	}
	// Still works.
	commit(t, s, "after", msg("insp", "after"))
}

func summary(r BudgetReport) string {
	n := map[string]int{}
	for _, d := range r.Undelivered {
		n[d.Topic]++
	}
	return fmt.Sprintf("before %.1f MB after %.1f MB delivered %d undelivered %v", float64(r.Before)/(1<<20), float64(r.After)/(1<<20), r.Delivered, n)
}

// TestReclaimFreesDisk: deleted images come back as free disk space on
// demand, not only after enough new writes.
func TestReclaimFreesDisk(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	img := bytes.Repeat([]byte{1}, 256<<10)
	for i := range 160 { // 40 MB
		commit(t, s, fmt.Sprint(i), Message{Topic: "img", Payload: img, Image: true})
	}
	full, _ := s.DiskBytes()
	if err := s.Ack(150); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Reclaim(false); err != nil {
		t.Fatal(err)
	}
	after, _ := s.DiskBytes()
	t.Logf("disk %.1f MB full, %.1f MB after pruning 150 of 160 images", float64(full)/(1<<20), float64(after)/(1<<20))
	if after > full/3 {
		t.Errorf("disk %d after reclaiming, want under a third of %d", after, full)
	}
}

func TestEncryptionAtRest(t *testing.T) {
	secret := []byte("CONTAINER-MSCU1234565-SECRET-PAYLOAD")
	// leaks looks for the secret in the files of a store open (in its
	// logs) and closed (in its tables).
	var leaks func(dir string) bool
	write := func(dir string, key []byte) bool {
		s := open(t, dir, Options{EncryptionKey: key, SyncWrites: true})
		commit(t, s, "scan", Message{Topic: "t", Payload: secret})
		if err := s.StoreDeclaration("MSCU1234565", secret, 0); err != nil {
			t.Fatal(err)
		}
		open := leaks(dir)
		s.Close()
		return open || leaks(dir)
	}
	leaks = func(dir string) bool {
		es, _ := os.ReadDir(dir)
		for _, e := range es {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			if bytes.Contains(b, secret) {
				return true
			}
		}
		return false
	}
	if !write(t.TempDir(), nil) {
		t.Fatal("the payload is not found in an unencrypted store: the check below proves nothing")
	}
	key, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	enc := t.TempDir()
	if write(enc, key) {
		t.Error("plaintext payload found in the files of an encrypted store")
	}
	s, err := Open(enc, Options{EncryptionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Pending(0, 10, 0)
	if len(got) != 1 || !bytes.Equal(got[0].Payload, secret) {
		t.Errorf("read back %v", got)
	}
	s.Close()

	wrong := bytes.Repeat([]byte{9}, 32)
	for _, c := range []struct {
		name string
		key  []byte
		want string
	}{
		{"wrong key", wrong, "another encryption key"},
		{"no key", nil, "encrypted"},
		{"bad length", []byte("short"), "16, 24 or 32"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(enc, Options{EncryptionKey: c.key})
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0x9c}, 32)
	hexKey := "000102030405060708090a0b0c0d0e0f"
	want16, _ := hex.DecodeString(hexKey)
	for _, c := range []struct {
		name string
		in   []byte
		want []byte
		err  string
	}{
		{"raw32", raw, raw, ""},
		{"hex16", []byte(hexKey + "\n"), want16, ""},
		{"raw24", bytes.Repeat([]byte{1}, 24), bytes.Repeat([]byte{1}, 24), ""},
		{"raw32 ending in a newline", append(bytes.Repeat([]byte{7}, 31), '\n'), append(bytes.Repeat([]byte{7}, 31), '\n'), ""},
		{"short", []byte("abc"), nil, "holds 3 bytes"},
		{"badhex", []byte(strings.Repeat("zz", 16) + "\n"), nil, "holds 33 bytes"}, // neither
	} {
		t.Run(c.name, func(t *testing.T) {
			k, err := ParseKey(c.name, c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("error %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil || !bytes.Equal(k, c.want) {
				t.Errorf("key %x, %v; want %x", k, err, c.want)
			}
		})
	}
}

// TestCopyWhileWriting copies a store another goroutine keeps writing, as
// `gatescan outbox status` does with the daemon's, and opens the copy.
func TestCopyWhileWriting(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	defer s.Close()
	for i := range 50 {
		commit(t, s, fmt.Sprint("pre-", i), Message{Topic: "img", Payload: bytes.Repeat([]byte{2}, 40<<10)})
	}
	s.Ack(10)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			commit(t, s, fmt.Sprint("during-", i), Message{Topic: "img", Payload: bytes.Repeat([]byte{3}, 40<<10)})
		}
	})
	cp, err := Copy(dir, t.TempDir())
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	// Read-write: Badger truncates the torn tail of a log copied mid-write.
	c, err := Open(cp, Options{})
	if err != nil {
		t.Fatalf("open the copy: %v", err)
	}
	defer c.Close()
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.AckedSeq != 10 || st.Kept != 10 || st.Pending < 40 {
		t.Errorf("copy's stats %+v: want acked 10, 10 kept, at least 40 pending", st)
	}
}
