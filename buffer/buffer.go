package buffer

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Options size and protect the store.
type Options struct {
	// SyncWrites fsyncs every commit so it survives a power cut.
	SyncWrites bool
	// EncryptionKey enables encryption at rest (16, 24 or 32 bytes).
	EncryptionKey []byte
	// ReadOnly opens a copy for inspection tools.
	ReadOnly bool
	Logger   *slog.Logger
}

// Store is the agent's durable buffer.
type Store struct {
	db     *badger.DB
	mu     sync.Mutex // orders sequence allocation with commits
	seq    uint64
	notify chan struct{}
}

// Key prefixes.
var (
	pOutbox = []byte("o/")
	pResult = []byte("i/")
	pScan   = []byte("s/")
	pDecl   = []byte("d/")
	pWeight = []byte("w/")
	kSeq    = []byte("m/seq")
)

// Open opens (creating) the store in dir, sized for a small edge box.
func Open(dir string, o Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("buffer directory %s: %w", dir, err)
	}
	bo := badger.DefaultOptions(dir).
		WithSyncWrites(o.SyncWrites).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithBlockCacheSize(8 << 20).
		WithValueLogFileSize(64 << 20).
		WithValueThreshold(4 << 10).
		WithNumCompactors(2).
		WithReadOnly(o.ReadOnly).
		WithLogger(badgerLogger{o.Logger})
	if len(o.EncryptionKey) > 0 {
		bo = bo.WithEncryptionKey(o.EncryptionKey).WithIndexCacheSize(8 << 20)
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open buffer %s: %w (is another gatescan running on it? copy the directory to read it)", dir, err)
	}
	s := &Store{db: db, notify: make(chan struct{}, 1)}
	err = db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(kSeq)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			if len(v) == 8 {
				s.seq = binary.BigEndian.Uint64(v)
			}
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read buffer sequence: %w", err)
	}
	return s, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// DB exposes Badger for maintenance (GC, size).
func (s *Store) DB() *badger.DB { return s.db }

// Message is one outbox entry.
type Message struct {
	Seq      uint64    `json:"seq"`
	Topic    string    `json:"topic"`
	QoS      byte      `json:"qos"`
	Retained bool      `json:"retained,omitempty"`
	Payload  []byte    `json:"payload"`
	At       time.Time `json:"at"`
	// Alert marks messages dropped last under a disk budget.
	Alert bool `json:"alert,omitempty"`
}

// Record is a keyed value committed with an inspection.
type Record struct {
	ID   string
	Data []byte
}

// CommitScan durably records a scan's inspection results and queues their
// messages, in one transaction. It is idempotent per scan id: a scan
// committed before (a crash between commit and clean-up) is not queued
// again, and ok is false.
func (s *Store) CommitScan(scanKey string, results []Record, msgs []Message) (ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.seq
	err = s.db.Update(func(txn *badger.Txn) error {
		if _, err := txn.Get(append(pScan, scanKey...)); err == nil {
			return errDone
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		ids := make([]string, len(results))
		for i, r := range results {
			ids[i] = r.ID
			if err := txn.Set(append(pResult, r.ID...), r.Data); err != nil {
				return err
			}
		}
		idb, _ := json.Marshal(ids)
		if err := txn.Set(append(pScan, scanKey...), idb); err != nil {
			return err
		}
		for i := range msgs {
			seq++
			msgs[i].Seq = seq
			b, _ := json.Marshal(msgs[i])
			if err := txn.Set(outboxKey(seq), b); err != nil {
				return err
			}
		}
		return txn.Set(kSeq, binary.BigEndian.AppendUint64(nil, seq))
	})
	if errors.Is(err, errDone) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("commit scan %s: %w", scanKey, err)
	}
	s.seq = seq
	s.wake()
	return true, nil
}

var errDone = errors.New("already committed")

// Enqueue queues messages that are not part of an inspection (status).
func (s *Store) Enqueue(msgs ...Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.seq
	err := s.db.Update(func(txn *badger.Txn) error {
		for i := range msgs {
			seq++
			msgs[i].Seq = seq
			b, _ := json.Marshal(msgs[i])
			if err := txn.Set(outboxKey(seq), b); err != nil {
				return err
			}
		}
		return txn.Set(kSeq, binary.BigEndian.AppendUint64(nil, seq))
	})
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	s.seq = seq
	s.wake()
	return nil
}

func (s *Store) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Notify is signalled when messages are queued.
func (s *Store) Notify() <-chan struct{} { return s.notify }

// ScanDone reports whether a scan's results are committed.
func (s *Store) ScanDone(scanKey string) (bool, error) {
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(append(pScan, scanKey...))
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Result returns a stored inspection result.
func (s *Store) Result(id string) ([]byte, error) {
	return s.get(append(pResult, id...))
}

func (s *Store) get(k []byte) ([]byte, error) {
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(k)
		if err != nil {
			return err
		}
		out, err = it.ValueCopy(nil)
		return err
	})
	return out, err
}

// Pending returns up to limit queued messages with a sequence above after,
// in order.
func (s *Store) Pending(after uint64, limit int) ([]Message, error) {
	var out []Message
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pOutbox, PrefetchValues: true, PrefetchSize: min(limit, 64)})
		defer it.Close()
		for it.Seek(outboxKey(after + 1)); it.ValidForPrefix(pOutbox) && len(out) < limit; it.Next() {
			var m Message
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &m) }); err != nil {
				return fmt.Errorf("outbox entry %x is corrupt: %w", it.Item().Key(), err)
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// Ack removes a delivered message.
func (s *Store) Ack(seq uint64) error {
	return s.db.Update(func(txn *badger.Txn) error { return txn.Delete(outboxKey(seq)) })
}

// Stats describes the outbox and the store's size on disk.
type Stats struct {
	Pending   int       `json:"pending"`
	Oldest    time.Time `json:"oldest,omitempty"`
	LSMBytes  int64     `json:"lsm_bytes"`
	VLogBytes int64     `json:"vlog_bytes"`
}

// Stats counts the outbox.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pOutbox, PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if st.Pending == 0 {
				var m Message
				_ = it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &m) })
				st.Oldest = m.At
			}
			st.Pending++
		}
		return nil
	})
	st.LSMBytes, st.VLogBytes = s.db.Size()
	return st, err
}

// PutDeclaration stores a container's declaration, replacing an older one.
func (s *Store) PutDeclaration(containerID string, data []byte) error {
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(append(pDecl, containerID...), data)
	})
}

// Declaration returns the stored declaration of a container, or nil.
func (s *Store) Declaration(containerID string) ([]byte, error) {
	b, err := s.get(append(pDecl, containerID...))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	return b, err
}

// EachDeclaration calls fn with every stored container number.
func (s *Store) EachDeclaration(fn func(containerID string) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pDecl})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := fn(string(it.Item().Key()[len(pDecl):])); err != nil {
				return err
			}
		}
		return nil
	})
}

// Weight is a lane's stable truck weight.
type Weight struct {
	Lane    string    `json:"lane"`
	GrossKg float64   `json:"gross_kg"`
	At      time.Time `json:"at"`
}

// PutWeight stores a stable truck weight.
func (s *Store) PutWeight(w Weight) error {
	b, _ := json.Marshal(w)
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(weightKey(w.Lane, w.At), b)
	})
}

// NearestWeight returns the lane's stable weight closest in time to at,
// within window either side.
func (s *Store) NearestWeight(lane string, at time.Time, window time.Duration) (Weight, bool, error) {
	var best Weight
	found := false
	prefix := append(append(append([]byte{}, pWeight...), lane...), '/')
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(weightKey(lane, at.Add(-window))); it.ValidForPrefix(prefix); it.Next() {
			var w Weight
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &w) }); err != nil {
				continue
			}
			if w.At.After(at.Add(window)) {
				break
			}
			if !found || absDur(w.At.Sub(at)) < absDur(best.At.Sub(at)) {
				best, found = w, true
			}
		}
		return nil
	})
	return best, found, err
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func outboxKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{}, pOutbox...), seq)
}

func weightKey(lane string, at time.Time) []byte {
	k := append(append(append([]byte{}, pWeight...), lane...), '/')
	return binary.BigEndian.AppendUint64(k, uint64(at.UnixNano()))
}

// badgerLogger sends Badger's chatter to slog at debug level, warnings and
// errors at their own.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) log(level slog.Level, f string, a ...any) {
	if b.l != nil {
		b.l.Log(context.Background(), level, fmt.Sprintf(f, a...), "component", "badger")
	}
}
func (b badgerLogger) Errorf(f string, a ...any)   { b.log(slog.LevelError, f, a...) }
func (b badgerLogger) Warningf(f string, a ...any) { b.log(slog.LevelWarn, f, a...) }
func (b badgerLogger) Infof(f string, a ...any)    { b.log(slog.LevelDebug, f, a...) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.log(slog.LevelDebug, f, a...) }
