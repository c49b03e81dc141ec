package buffer

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Options size and protect the store.
type Options struct {
	// SyncWrites makes every commit of an inspection or a declaration
	// durable (fsync) before it returns, so that it survives a power cut.
	// Acknowledgements and weights are never synced: losing one in a power
	// cut only means a message sent twice or a weight read again.
	SyncWrites bool
	// EncryptionKey enables encryption at rest (16, 24 or 32 bytes: AES-128,
	// -192 or -256).
	EncryptionKey []byte
	// ReadOnly opens a copy for inspection tools.
	ReadOnly bool
	Logger   *slog.Logger
}

// Sizes chosen for a small edge box (interfaces.md: the daemon stays under
// 150 MB). Badger's defaults (64 MB memtables, 256 MB block cache, 1 GB value
// log files) are sized for servers.
const (
	// memTableSize bounds both the memory of a memtable and its log on
	// disk; only inline values (results) fill it.
	memTableSize = 2 << 20
	// baseTableSize sizes the tables compactions write, and with them the
	// buffers Badger pools to build them (up to 8, twice a table each).
	baseTableSize = 1 << 20
	// valueThreshold sends every value but the smallest (results, outbox
	// messages, annotated images) to the value log and keeps only keys and
	// pointers in the LSM tree: memtables then fill slowly, and a burst of
	// commits costs few flushes and compactions, whose table builders are
	// what Badger holds most memory for (Go heap in use under a burst of
	// 600 scans: 8 MB instead of 30 MB with results kept inline). Deleted
	// values are given back by the value-log GC, whole files at a time.
	valueThreshold = 1 << 10
	// vlogFileSize is small so that the value-log GC, which frees whole
	// files and never the one being written, gives space back at a fine
	// grain under a disk budget.
	vlogFileSize = 8 << 20
	cacheSize    = 8 << 20
)

// Store is the agent's durable buffer.
type Store struct {
	db   *badger.DB
	dir  string
	sync bool
	log  *slog.Logger
	// gate lets Reclaim stop writers: Badger fails writes (ErrBlockedWrites)
	// that arrive while it drops a prefix, so they wait here instead.
	// Writers hold it shared, Reclaim exclusively.
	gate sync.RWMutex
	// mu orders sequence allocation with commits.
	mu      sync.Mutex
	seq     uint64
	acked   atomic.Uint64
	dropped atomic.Uint64
	notify  chan struct{}
	// unsynced is set when an fsync failed: what was committed since may
	// not be on disk, so nothing counts as durably committed (ScanDone)
	// until a sync succeeds again.
	unsynced atomic.Bool
	// syncFn is Badger's Sync; a test makes it fail.
	syncFn func() error
	// reserve is the free space below which writes are refused (disk.go).
	reserve atomic.Int64
}

// Key layout. An outbox key is pOutbox, the sequence and the commit time,
// both big-endian, so that the outbox iterates in order and Stats and the
// disk budget never read a value. The entry's user meta holds metaAlert and
// metaImage.
var (
	pOutbox   = []byte("o/")
	pResult   = []byte("i/")
	pScan     = []byte("s/")
	pDecl     = []byte("d/")
	pWeight   = []byte("w/")
	pSentinel = []byte("x/")
	kSeq      = []byte("m/seq")
	kAcked    = []byte("m/acked")
	kDropped  = []byte("m/dropped")
)

const (
	metaAlert byte = 1 << iota
	metaImage
)

// Open opens (creating) the store in dir, sized for a small edge box.
func Open(dir string, o Options) (*Store, error) {
	if !o.ReadOnly {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, openError(dir, err)
		}
	}
	if n := len(o.EncryptionKey); n != 0 && n != 16 && n != 24 && n != 32 {
		return nil, fmt.Errorf("buffer encryption key is %d bytes; AES needs 16, 24 or 32", n)
	}
	// Badger syncs itself only when asked for every write; commits call
	// Sync instead, so that acknowledgements do not pay for an fsync.
	bo := badger.DefaultOptions(dir).
		WithSyncWrites(false).
		WithMemTableSize(memTableSize).
		WithBaseTableSize(baseTableSize).
		// Uncompressed: the bulk (images) is JPEG already, and the table
		// builders' compression buffers are what Badger holds most memory
		// for under load.
		WithCompression(options.None).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithBlockCacheSize(cacheSize).
		WithValueLogFileSize(vlogFileSize).
		WithValueThreshold(valueThreshold).
		WithNumCompactors(2).
		WithMetricsEnabled(false).
		WithReadOnly(o.ReadOnly).
		WithLogger(badgerLogger{o.Logger})
	if len(o.EncryptionKey) > 0 {
		// Encrypted tables keep their indexes encrypted on disk; the index
		// cache spares decrypting them on every read.
		bo = bo.WithEncryptionKey(o.EncryptionKey).WithIndexCacheSize(cacheSize)
	}
	db, err := badger.Open(bo)
	if errors.Is(err, badger.ErrEncryptionKeyMismatch) {
		if len(o.EncryptionKey) == 0 {
			return nil, fmt.Errorf("open buffer %s: %w: the buffer is encrypted; set buffer.encryption_key_file to its key", dir, err)
		}
		return nil, fmt.Errorf("open buffer %s: %w: this buffer was written with another encryption key (check buffer.encryption_key_file)", dir, err)
	}
	if err != nil {
		return nil, openError(dir, err)
	}
	s := &Store{db: db, dir: dir, sync: o.SyncWrites, log: o.Logger, notify: make(chan struct{}, 1)}
	s.syncFn = db.Sync
	err = db.View(func(txn *badger.Txn) error {
		for _, c := range []struct {
			k []byte
			f func(uint64)
		}{
			{kSeq, func(v uint64) { s.seq = v }},
			{kAcked, s.acked.Store},
			{kDropped, s.dropped.Store},
		} {
			v, err := getUint(txn, c.k)
			if err != nil {
				return err
			}
			c.f(v)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read buffer counters in %s: %w", dir, err)
	}
	return s, nil
}

// openError says what is wrong with a buffer Badger could not open: the
// lock held by another process, files this user may not read or write,
// or a damaged store.
func openError(dir string, err error) error {
	switch {
	case strings.Contains(err.Error(), "Cannot acquire directory lock"):
		return fmt.Errorf("open buffer %s: %w (another gatescan, or a tool, has it open: stop it, or copy the directory to read it)", dir, err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("open buffer %s: %w (user %d may not read and write its files: `chown -R gatescan: %s`, or fix buffer.dir)", dir, err, os.Getuid(), dir)
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EEXIST):
		return fmt.Errorf("open buffer %s: %w (buffer.dir must be a directory)", dir, err)
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("open buffer %s: %w (the disk is full: free space there)", dir, err)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("open buffer %s: %w (the file system is read-only)", dir, err)
	}
	return fmt.Errorf("open buffer %s: %w (Badger cannot read it: damaged files or a disk error? move the directory aside to start with an empty buffer, and keep it for recovery)", dir, err)
}

func getUint(txn *badger.Txn, k []byte) (uint64, error) {
	it, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var out uint64
	err = it.Value(func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("%s holds %d bytes, want 8", k, len(v))
		}
		out = binary.BigEndian.Uint64(v)
		return nil
	})
	return out, err
}

func putUint(txn *badger.Txn, k []byte, v uint64) error {
	return txn.Set(k, binary.BigEndian.AppendUint64(nil, v))
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// DB exposes Badger for maintenance.
func (s *Store) DB() *badger.DB { return s.db }

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Update runs fn in a read-write transaction. With durable, and the store
// opened with SyncWrites, the commit is on disk when Update returns: use it
// for anything whose source is deleted once stored (a declaration file).
func (s *Store) Update(durable bool, fn func(txn *badger.Txn) error) error {
	if err := s.room(false); err != nil {
		return err
	}
	s.gate.RLock()
	defer s.gate.RUnlock()
	if err := s.db.Update(fn); err != nil {
		return err
	}
	if durable {
		return s.syncNow()
	}
	return nil
}

// syncNow makes what was committed durable when the store syncs its
// commits. A failed fsync leaves the store unsynced until one succeeds:
// the kernel may have dropped the dirty pages, so a later success of
// another commit's sync is the only proof that everything is on disk.
func (s *Store) syncNow() error {
	if !s.sync {
		return nil
	}
	if err := s.syncFn(); err != nil {
		s.unsynced.Store(true)
		return fmt.Errorf("sync buffer to disk: %w", err)
	}
	s.unsynced.Store(false)
	return nil
}

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
	// Image marks an annotated image: under a disk budget it goes before
	// the results of its class.
	Image bool `json:"image,omitempty"`
	// Ref names what the message is about (an inspection id), for the
	// report of a drop.
	Ref string `json:"ref,omitempty"`
}

func (m *Message) meta() byte {
	var b byte
	if m.Alert {
		b |= metaAlert
	}
	if m.Image {
		b |= metaImage
	}
	return b
}

// msgFormat is the first byte of an encoded message. A version of the
// skeleton stored JSON, which starts with '{'.
const msgFormat = 1

// encode lays a message out as format, QoS, retained, topic and ref
// (uvarint-prefixed), then the payload as is: images are stored without the
// base64 that JSON would add.
func (m *Message) encode() []byte {
	b := make([]byte, 0, 3+2*binary.MaxVarintLen32+len(m.Topic)+len(m.Ref)+len(m.Payload))
	ret := byte(0)
	if m.Retained {
		ret = 1
	}
	b = append(b, msgFormat, m.QoS, ret)
	b = binary.AppendUvarint(b, uint64(len(m.Topic)))
	b = append(b, m.Topic...)
	b = binary.AppendUvarint(b, uint64(len(m.Ref)))
	b = append(b, m.Ref...)
	return append(b, m.Payload...)
}

func (m *Message) decode(v []byte) error {
	if len(v) > 0 && v[0] == '{' {
		return json.Unmarshal(v, m)
	}
	if len(v) < 3 || v[0] != msgFormat {
		return fmt.Errorf("unknown message format %d (%d bytes)", firstByte(v), len(v))
	}
	m.QoS, m.Retained = v[1], v[2] == 1
	v = v[3:]
	str := func() (string, error) {
		n, k := binary.Uvarint(v)
		if k <= 0 || uint64(len(v)-k) < n {
			return "", errors.New("truncated message")
		}
		s := string(v[k : k+int(n)])
		v = v[k+int(n):]
		return s, nil
	}
	var err error
	if m.Topic, err = str(); err != nil {
		return err
	}
	if m.Ref, err = str(); err != nil {
		return err
	}
	m.Payload = append([]byte(nil), v...)
	return nil
}

func firstByte(v []byte) int {
	if len(v) == 0 {
		return -1
	}
	return int(v[0])
}

// Record is a keyed value committed with an inspection.
type Record struct {
	ID   string
	Data []byte
}

// scanRecord is the value of a scan's key: its inspections and when it was
// committed (for retention), and which scan it was (see ScanIdentity;
// absent from records of older versions).
type scanRecord struct {
	IDs         []string      `json:"ids"`
	At          time.Time     `json:"at"`
	Identity    *ScanIdentity `json:"identity,omitempty"`
	Quarantined bool          `json:"quarantined,omitempty"`
}

// ScanCommit is one scan's commit: its key (the scan id, or the scan id
// and its identity when the id was reused), which scan it is, its results
// and their messages, and the weighings it joined.
type ScanCommit struct {
	Key      string
	Identity *ScanIdentity
	// Quarantined marks a scan that could not be inspected: its files go
	// to quarantine, not processed/.
	Quarantined bool
	Results     []Record
	Messages    []Message
	Consumed    []Weight
	// Images, when set, notes that the scan's annotated images follow
	// (QueueImages): what the caller needs to make them again if a crash
	// comes first (see ImagesPending).
	Images json.RawMessage
}

// CommitScan durably records a scan's inspection results and queues their
// messages, in one transaction. It is idempotent per scan key: a scan
// committed before (a crash between commit and clean-up) is not queued
// again, and ok is false. consumed are the weighings the scan joined,
// marked as its own in the same transaction: whatever the moment of a
// crash, a weight never joins two trucks' scans.
func (s *Store) CommitScan(scanKey string, results []Record, msgs []Message, consumed ...Weight) (ok bool, err error) {
	return s.Commit(ScanCommit{Key: scanKey, Results: results, Messages: msgs, Consumed: consumed})
}

// Commit is CommitScan with the scan's identity; the record of the scan's
// attempts (BeginAttempt) goes in the same transaction.
func (s *Store) Commit(c ScanCommit) (ok bool, err error) {
	scanKey, results, msgs, consumed := c.Key, c.Results, c.Messages, c.Consumed
	if err := s.room(true); err != nil {
		return false, fmt.Errorf("commit scan %s: %w", scanKey, err)
	}
	s.gate.RLock()
	defer s.gate.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	seq := s.seq
	err = s.db.Update(func(txn *badger.Txn) error {
		if _, err := txn.Get(scanKeyOf(scanKey)); err == nil {
			return errDone
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		rec := scanRecord{IDs: make([]string, len(results)), At: now.UTC(), Identity: c.Identity, Quarantined: c.Quarantined}
		for i, r := range results {
			rec.IDs[i] = r.ID
			if err := txn.Set(join(pResult, r.ID), r.Data); err != nil {
				return err
			}
		}
		b, _ := json.Marshal(rec)
		if err := txn.Set(scanKeyOf(scanKey), b); err != nil {
			return err
		}
		if err := txn.Delete(join(pAttempt, scanKey)); err != nil {
			return err
		}
		for _, w := range consumed {
			if err := txn.Set(usedKey(w.Lane, w.At), []byte(scanKey)); err != nil {
				return err
			}
		}
		if c.Images != nil {
			if err := putPendingImages(txn, scanKey, c.Images, now); err != nil {
				return err
			}
		}
		return s.queue(txn, &seq, msgs, now)
	})
	if errors.Is(err, errDone) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("commit scan %s: %w", scanKey, err)
	}
	s.seq = seq
	// Queued even if the sync fails (delivering it early does no harm),
	// but not reported committed: the caller keeps the scan's files.
	s.wake()
	if err := s.syncNow(); err != nil {
		return false, fmt.Errorf("commit scan %s: %w", scanKey, err)
	}
	return true, nil
}

var errDone = errors.New("already committed")

// queue adds msgs to the outbox in txn, numbering them from *seq.
func (s *Store) queue(txn *badger.Txn, seq *uint64, msgs []Message, now time.Time) error {
	for i := range msgs {
		*seq++
		m := &msgs[i]
		m.Seq = *seq
		if m.At.IsZero() {
			m.At = now
		}
		e := badger.NewEntry(outboxKey(m.Seq, m.At), m.encode()).WithMeta(m.meta())
		if err := txn.SetEntry(e); err != nil {
			return err
		}
	}
	return putUint(txn, kSeq, *seq)
}

// Enqueue durably queues messages that are not part of an inspection (a
// report of dropped messages).
func (s *Store) Enqueue(msgs ...Message) error {
	if err := s.enqueue(msgs, nil); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	return nil
}

// enqueue queues msgs durably, with also (if set) in the same
// transaction.
func (s *Store) enqueue(msgs []Message, also func(*badger.Txn) error) error {
	if err := s.room(true); err != nil {
		return err
	}
	s.gate.RLock()
	defer s.gate.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.seq
	err := s.db.Update(func(txn *badger.Txn) error {
		if also != nil {
			if err := also(txn); err != nil {
				return err
			}
		}
		return s.queue(txn, &seq, msgs, time.Now())
	})
	if err != nil {
		return err
	}
	s.seq = seq
	s.wake()
	return s.syncNow()
}

func (s *Store) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Notify is signalled when messages are queued.
func (s *Store) Notify() <-chan struct{} { return s.notify }

// ScanDone reports whether a scan's results are committed, durably: after
// a failed fsync it syncs again first, and fails if that fails too, so
// that a scan whose commit may not be on disk is not deleted as done.
func (s *Store) ScanDone(scanKey string) (bool, error) {
	if s.unsynced.Load() {
		if err := s.syncNow(); err != nil {
			return false, fmt.Errorf("scan %s: its commit may not be on disk: %w", scanKey, err)
		}
	}
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(scanKeyOf(scanKey))
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Result returns a stored inspection result.
func (s *Store) Result(id string) ([]byte, error) {
	return s.get(join(pResult, id))
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

// Pending returns, in order, queued messages not yet delivered with a
// sequence above after: up to limit of them and, beyond the first, up to
// maxBytes of payload (0: no limit), so that a backlog of images is read a
// few at a time.
func (s *Store) Pending(after uint64, limit, maxBytes int) ([]Message, error) {
	after = max(after, s.acked.Load())
	var out []Message
	size := 0
	err := s.db.View(func(txn *badger.Txn) error {
		// No prefetch: a backlog of images would be read ahead into memory.
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pOutbox})
		defer it.Close()
		for it.Seek(outboxSeek(after + 1)); it.ValidForPrefix(pOutbox) && len(out) < limit; it.Next() {
			item := it.Item()
			if len(out) > 0 && maxBytes > 0 && size+int(item.ValueSize()) > maxBytes {
				break
			}
			seq, at, ok := parseOutboxKey(item.Key())
			if !ok {
				return fmt.Errorf("outbox key %x is malformed", item.Key())
			}
			m := Message{Seq: seq, At: at, Alert: item.UserMeta()&metaAlert != 0, Image: item.UserMeta()&metaImage != 0}
			if err := item.Value(m.decode); err != nil {
				return fmt.Errorf("outbox entry %d is corrupt: %w", seq, err)
			}
			if m.Seq == 0 { // JSON of the skeleton's format
				m.Seq, m.At = seq, at
			}
			size += len(m.Payload)
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// Ack records that the broker acknowledged every queued message up to and
// including seq: the publisher delivers in order, so one number is the
// whole delivery state. Delivered messages stay, for replay, until Prune or
// the disk budget removes them. Ack is not synced: a power cut can at worst
// make the agent send a message again.
func (s *Store) Ack(seq uint64) error {
	if seq <= s.acked.Load() {
		return nil
	}
	err := s.Update(false, func(txn *badger.Txn) error { return putUint(txn, kAcked, seq) })
	if err != nil {
		return fmt.Errorf("record delivery up to message %d: %w", seq, err)
	}
	s.acked.Store(seq)
	return nil
}

// Acked returns the sequence number delivered up to.
func (s *Store) Acked() uint64 { return s.acked.Load() }

// Stats describes the outbox and the store's size on disk.
type Stats struct {
	// Pending counts messages not yet acknowledged by the broker.
	Pending       int   `json:"pending"`
	PendingAlerts int   `json:"pending_alerts"`
	PendingBytes  int64 `json:"pending_bytes"`
	// Oldest is when the oldest pending message was committed.
	Oldest     time.Time `json:"oldest,omitzero"`
	OldestAgeS float64   `json:"oldest_age_s"`
	// Kept counts delivered messages kept for replay.
	Kept      int    `json:"delivered_kept"`
	KeptBytes int64  `json:"delivered_kept_bytes"`
	LastSeq   uint64 `json:"last_seq"`
	AckedSeq  uint64 `json:"acked_seq"`
	// Dropped counts undelivered messages ever dropped by the disk budget.
	Dropped uint64 `json:"dropped"`
	// DiskBytes is the space the store takes on disk; LSMBytes and
	// VLogBytes are its tables and its value log.
	DiskBytes int64 `json:"disk_bytes"`
	LSMBytes  int64 `json:"lsm_bytes"`
	VLogBytes int64 `json:"vlog_bytes"`
}

// Stats counts the outbox from its keys alone (no value is read) and
// measures the directory.
func (s *Store) Stats() (Stats, error) {
	st := Stats{AckedSeq: s.acked.Load(), Dropped: s.dropped.Load()}
	s.mu.Lock()
	st.LastSeq = s.seq
	s.mu.Unlock()
	err := s.db.View(func(txn *badger.Txn) error {
		eachOutboxKey(txn, func(seq uint64, at time.Time, item *badger.Item) {
			if seq <= st.AckedSeq {
				st.Kept++
				st.KeptBytes += item.ValueSize()
				return
			}
			if st.Pending == 0 {
				st.Oldest = at.UTC()
				st.OldestAgeS = max(0, time.Since(at).Seconds())
			}
			st.Pending++
			st.PendingBytes += item.ValueSize()
			if item.UserMeta()&metaAlert != 0 {
				st.PendingAlerts++
			}
		})
		return nil
	})
	d, err2 := DiskUsage(s.dir)
	st.DiskBytes, st.LSMBytes, st.VLogBytes = d.Total, d.LSM, d.VLog
	return st, errors.Join(err, err2)
}

// Declaration returns the stored declaration of a container, or nil.
func (s *Store) Declaration(containerID string) ([]byte, error) {
	b, err := s.get(join(pDecl, containerID))
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
	return s.Update(false, func(txn *badger.Txn) error {
		return txn.Set(weightKey(w.Lane, w.At), b)
	})
}

// nearestWeight returns the lane's stable weight closest in time to at,
// within window either side, among those skip (when not nil) keeps.
func (s *Store) nearestWeight(lane string, at time.Time, window time.Duration, skip func(txn *badger.Txn, w Weight) (bool, error)) (Weight, bool, error) {
	var best Weight
	found := false
	prefix := append(append(append([]byte{}, pWeight...), lane...), '/')
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Seek(weightKey(lane, at.Add(-window))); it.ValidForPrefix(prefix); it.Next() {
			var w Weight
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &w) }); err != nil {
				continue
			}
			if w.At.After(at.Add(window)) {
				break
			}
			if skip != nil {
				if no, err := skip(txn, w); err != nil {
					return err
				} else if no {
					continue
				}
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

func join(prefix []byte, s string) []byte {
	return append(append(make([]byte, 0, len(prefix)+len(s)), prefix...), s...)
}

func scanKeyOf(scanKey string) []byte { return join(pScan, scanKey) }

func outboxKey(seq uint64, at time.Time) []byte {
	k := make([]byte, 0, len(pOutbox)+16)
	k = append(k, pOutbox...)
	k = binary.BigEndian.AppendUint64(k, seq)
	return binary.BigEndian.AppendUint64(k, uint64(at.UnixNano()))
}

// outboxSeek is where the entry of seq, if any, starts.
func outboxSeek(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{}, pOutbox...), seq)
}

// eachOutboxKey calls fn with each outbox entry in sequence order, its
// sequence and time read from its key: what fn reads of item (its size,
// its metadata) needs no value read. A malformed key is passed over.
func eachOutboxKey(txn *badger.Txn, fn func(seq uint64, at time.Time, item *badger.Item)) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: pOutbox})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		if seq, at, ok := parseOutboxKey(item.Key()); ok {
			fn(seq, at, item)
		}
	}
}

func parseOutboxKey(k []byte) (seq uint64, at time.Time, ok bool) {
	k = k[len(pOutbox):]
	switch len(k) {
	case 16:
		return binary.BigEndian.Uint64(k), time.Unix(0, int64(binary.BigEndian.Uint64(k[8:]))), true
	case 8: // the skeleton's key, without the time
		return binary.BigEndian.Uint64(k), time.Time{}, true
	}
	return 0, time.Time{}, false
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
