package buffer

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// pImages keys the note, by scan key, that a committed scan's annotated
// images are still to be queued: the scan's commit writes it (ScanCommit.
// Images), the transaction that queues the images deletes it
// (QueueImages). The images are made after the commit, so that the result
// does not wait for them; a note found at start names a scan whose images
// a crash lost in between.
var pImages = []byte("v/")

// PendingImages is a committed scan's note that its annotated images
// are to follow.
type PendingImages struct {
	// Key is the scan's key.
	Key string `json:"-"`
	// Note is what the caller needs to make the images again (its own
	// format, recorded at the commit).
	Note json.RawMessage `json:"note"`
	// Tries counts the starts that began making them again (RetryImages):
	// a try that never ended (the agent crashed in it) is not made again.
	Tries int `json:"tries,omitempty"`
	// At is when the scan was committed.
	At time.Time `json:"at"`
}

// putPendingImages records, in the scan's commit, that its images follow.
func putPendingImages(txn *badger.Txn, scanKey string, note json.RawMessage, now time.Time) error {
	b, err := json.Marshal(PendingImages{Note: note, At: now.UTC()})
	if err != nil {
		return fmt.Errorf("note of the pending images: %w", err)
	}
	return txn.Set(join(pImages, scanKey), b)
}

// QueueImages queues a committed scan's annotated images and deletes its
// note that they were pending, in one transaction (synced as commits
// are): whatever the moment of a crash, the images are either queued or
// still noted as pending. With no images (none made, or not kept with
// the disk low) it only deletes the note.
func (s *Store) QueueImages(scanKey string, msgs ...Message) error {
	if len(msgs) == 0 {
		return s.DropPendingImages(scanKey)
	}
	err := s.enqueue(msgs, func(txn *badger.Txn) error { return txn.Delete(join(pImages, scanKey)) })
	if err != nil {
		return fmt.Errorf("images of scan %s: %w", scanKey, err)
	}
	return nil
}

// DropPendingImages deletes the note that the scan's images are pending,
// durably, if there is one: for images that will not be made.
func (s *Store) DropPendingImages(scanKey string) error {
	k := join(pImages, scanKey)
	found := false
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(k)
		found = err == nil
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		return err
	})
	if err == nil && found {
		err = s.Update(true, func(txn *badger.Txn) error { return txn.Delete(k) })
	}
	if err != nil {
		return fmt.Errorf("drop the note of scan %s's pending images: %w", scanKey, err)
	}
	return nil
}

// ImagesPending returns every committed scan whose images are noted as
// pending, in key order. A note that cannot be read comes with its Note
// nil.
func (s *Store) ImagesPending() ([]PendingImages, error) {
	var all []PendingImages
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pImages, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			p := PendingImages{Key: string(it.Item().Key()[len(pImages):])}
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &p) }); err != nil {
				p.Note = nil
			}
			all = append(all, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the pending images: %w", err)
	}
	return all, nil
}

// RetryImages records, durably, that making the scan's pending images
// again begins, before anything that could crash on them runs, and
// returns the note with this try counted.
func (s *Store) RetryImages(scanKey string) (PendingImages, error) {
	k := join(pImages, scanKey)
	var p PendingImages
	err := s.Update(true, func(txn *badger.Txn) error {
		it, err := txn.Get(k)
		if err != nil {
			return err
		}
		if err := it.Value(func(v []byte) error { return json.Unmarshal(v, &p) }); err != nil {
			return fmt.Errorf("note is corrupt: %w", err)
		}
		p.Tries++
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		return txn.Set(k, b)
	})
	if err != nil {
		return PendingImages{}, fmt.Errorf("record a try at scan %s's pending images: %w", scanKey, err)
	}
	p.Key = scanKey
	return p, nil
}
