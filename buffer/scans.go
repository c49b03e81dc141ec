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
