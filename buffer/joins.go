package buffer

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// What the joining of scans with weights and declarations keeps.
var (
	pWeightUsed = []byte("wu/")
	pPlateTare  = []byte("p/")
)

// StoreDeclaration stores a container's declaration, replacing an older
// one; it expires after ttl (0: never).
func (s *Store) StoreDeclaration(containerID string, data []byte, ttl time.Duration) error {
	_, err := s.StoreDeclarationIf(containerID, data, ttl, func([]byte) bool { return true })
	return err
}

// StoreDeclarationIf stores a container's declaration like
// StoreDeclaration, unless one is stored already and replace, given it,
// says no: the read and the write are one transaction, so a declaration
// stored meanwhile is seen. stored reports whether data went in.
func (s *Store) StoreDeclarationIf(containerID string, data []byte, ttl time.Duration, replace func(old []byte) bool) (stored bool, err error) {
	for range 10 {
		stored = true
		err = s.Update(true, func(txn *badger.Txn) error {
			k := append(append([]byte{}, pDecl...), containerID...)
			if it, err := txn.Get(k); err == nil {
				old, err := it.ValueCopy(nil)
				if err != nil {
					return err
				}
				if !replace(old) {
					stored = false
					return nil
				}
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			e := badger.NewEntry(k, data)
			if ttl > 0 {
				e = e.WithTTL(ttl)
			}
			return txn.SetEntry(e)
		})
		if !errors.Is(err, badger.ErrConflict) {
			break
		}
	}
	return stored && err == nil, err
}

// NearestFreeWeight returns the lane's stable weight closest in time to at,
// within window either side, that no other scan has joined. A weight joined
// by scanID itself still counts, so that re-inspecting a scan after a crash
// joins the same weight.
func (s *Store) NearestFreeWeight(lane string, at time.Time, window time.Duration, scanID string) (Weight, bool, error) {
	return s.nearestWeight(lane, at, window, func(txn *badger.Txn, w Weight) (bool, error) {
		by, err := usedBy(txn, lane, w.At)
		return by != "" && by != scanID, err
	})
}

func usedKey(lane string, at time.Time) []byte {
	return append(append([]byte{}, pWeightUsed...), weightKey(lane, at)[len(pWeight):]...)
}

func usedBy(txn *badger.Txn, lane string, at time.Time) (string, error) {
	it, err := txn.Get(usedKey(lane, at))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	v, err := it.ValueCopy(nil)
	return string(v), err
}

// PutPlateTare records a vehicle's tare learned from a weighing without a
// container.
func (s *Store) PutPlateTare(plate string, kg float64, at time.Time) error {
	if plate == "" {
		return errors.New("plate tare needs a plate")
	}
	b, _ := json.Marshal(Weight{Lane: plate, GrossKg: kg, At: at})
	return s.Update(false, func(txn *badger.Txn) error {
		return txn.Set(append(append([]byte{}, pPlateTare...), plate...), b)
	})
}

// PlateTare returns a learned vehicle tare, if any.
func (s *Store) PlateTare(plate string) (float64, bool, error) {
	if plate == "" {
		return 0, false, nil
	}
	b, err := s.get(append(append([]byte{}, pPlateTare...), plate...))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read tare of %s: %w", plate, err)
	}
	var w Weight
	if err := json.Unmarshal(b, &w); err != nil {
		return 0, false, fmt.Errorf("tare of %s is corrupt: %w", plate, err)
	}
	return w.GrossKg, true, nil
}
