package buffer

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// ScanResults returns the inspection results committed for a scan, in the
// order they were committed (one per container), and when; nil results
// when the scan was never committed or its record was pruned. A result
// pruned on its own is left out. `gatescan replay` uses it to compare a
// kept scan's stored verdicts with a new inspection of it.
func (s *Store) ScanResults(scanKey string) (results [][]byte, committed time.Time, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(scanKeyOf(scanKey))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var rec scanRecord
		if err := it.Value(func(v []byte) (err error) { rec, err = decodeScanRecord(v); return err }); err != nil {
			return fmt.Errorf("scan record is corrupt: %w", err)
		}
		committed = rec.At
		for _, id := range rec.IDs {
			r, err := txn.Get(join(pResult, id))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			b, err := r.ValueCopy(nil)
			if err != nil {
				return err
			}
			results = append(results, b)
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("results of scan %s: %w", scanKey, err)
	}
	return results, committed, nil
}

// decodeScanRecord decodes a scan key's value, in either format: the
// record, or the skeleton's bare list of ids (commit time unknown).
func decodeScanRecord(v []byte) (scanRecord, error) {
	var rec scanRecord
	if len(v) > 0 && v[0] == '[' {
		return rec, json.Unmarshal(v, &rec.IDs)
	}
	return rec, json.Unmarshal(v, &rec)
}

// ScanIdentity is what tells two scans apart when a scanner reuses a
// scan id (a counter reset, two lanes numbering alike): the lane, the
// time the scan ended and the XXH64 of its images.
type ScanIdentity struct {
	Lane      string    `json:"lane"`
	ScannedAt time.Time `json:"scanned_at"`
	Images    string    `json:"images_xxh64"`
}

// Same reports whether i and o are the same scan delivered twice.
func (i *ScanIdentity) Same(o *ScanIdentity) bool {
	return i != nil && o != nil && i.Lane == o.Lane && i.ScannedAt.Equal(o.ScannedAt) && i.Images == o.Images
}

// CommittedScan is what the buffer holds of a committed scan.
type CommittedScan struct {
	At time.Time
	// Identity is nil for a scan committed by a version that did not
	// record it.
	Identity    *ScanIdentity
	Quarantined bool
}

// Committed returns the record of the scan committed under key, if any.
func (s *Store) Committed(key string) (CommittedScan, bool, error) {
	var c CommittedScan
	found := false
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(scanKeyOf(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return it.Value(func(v []byte) error {
			rec, err := decodeScanRecord(v)
			if err != nil {
				return fmt.Errorf("scan record is corrupt: %w", err)
			}
			c = CommittedScan{At: rec.At, Identity: rec.Identity, Quarantined: rec.Quarantined}
			return nil
		})
	})
	if err != nil {
		return CommittedScan{}, false, fmt.Errorf("scan %s: %w", key, err)
	}
	return c, found, nil
}

// pAttempt keys the record of a scan's attempts (by scan key) until its
// commit deletes it.
var pAttempt = []byte("a/")

// Attempts is what the buffer knows of the tries to inspect a scan.
type Attempts struct {
	// Count is how many times an inspection of the scan was started.
	Count int       `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Failure is why the last attempt that failed without taking the agent
	// down did (a recovered panic); "" when they never came back.
	Failure string `json:"failure,omitempty"`
}

// BeginAttempt records, durably (synced when the store syncs writes),
// that an inspection of the scan under key starts, before anything that
// could crash or hang on it runs: after a crash, the count says how many
// times the scan was tried. It returns the record with this attempt.
func (s *Store) BeginAttempt(key string) (Attempts, error) {
	return s.updateAttempts(key, func(a *Attempts, now time.Time) {
		a.Count++
		if a.First.IsZero() {
			a.First = now
		}
		a.Last = now
	})
}

// EndAttempt takes back an attempt that came back without failing on the
// scan itself (its commit refused by a full disk, a file unreadable for
// want of descriptors): it must not bring the scan nearer quarantine.
func (s *Store) EndAttempt(key string) (Attempts, error) {
	return s.updateAttempts(key, func(a *Attempts, _ time.Time) { a.Count = max(0, a.Count-1) })
}

// FailAttempt records why an attempt failed while the agent lived on.
func (s *Store) FailAttempt(key, why string) (Attempts, error) {
	return s.updateAttempts(key, func(a *Attempts, _ time.Time) { a.Failure = why })
}

// ForgetAttempts drops the record of a scan's attempts, for a scan that
// ends without a commit (rejected as invalid).
func (s *Store) ForgetAttempts(key string) error {
	return s.Update(false, func(txn *badger.Txn) error { return txn.Delete(join(pAttempt, key)) })
}

func (s *Store) updateAttempts(key string, change func(*Attempts, time.Time)) (Attempts, error) {
	var a Attempts
	k := join(pAttempt, key)
	err := s.Update(true, func(txn *badger.Txn) error {
		a = Attempts{}
		it, err := txn.Get(k)
		if err == nil {
			if err := it.Value(func(v []byte) error { return json.Unmarshal(v, &a) }); err != nil {
				a = Attempts{} // a corrupt count starts again rather than block the scan
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		change(&a, time.Now().UTC())
		b, _ := json.Marshal(a)
		return txn.Set(k, b)
	})
	if err != nil {
		return Attempts{}, fmt.Errorf("record the attempt at scan %s: %w", key, err)
	}
	return a, nil
}
