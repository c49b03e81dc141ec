// Package testkit holds the small helpers any test may use: polling for a
// condition, a log the test reads while it is written, a free loopback
// address. It links nothing of the project, so a driver's tests using it
// do not link OpenCV or the simulators.
package testkit

import (
	"bytes"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// Eventually polls cond until it holds, failing the test with what after d.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Returns waits at most d for the error of a goroutine's work, what, on
// done, and fails the test if none came or it is not nil. It fails with
// Error, not Fatal, so that it may run in a Cleanup among others.
func Returns(t testing.TB, done <-chan error, d time.Duration, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s returned: %v", what, err)
		}
	case <-time.After(d):
		t.Errorf("%s did not return within %v", what, d)
	}
}

// LogBuffer is a log the test reads while it is written, echoed to
// standard error under go test -v.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if testing.Verbose() {
		os.Stderr.Write(p)
	}
	return l.buf.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// FreeAddr returns a loopback address no one listens on (a port just
// freed): for a listener the test starts, or a broker that is not there.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
