package buffer

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// ParseKey reads an AES key for encryption at rest from a key file's
// bytes: 16, 24 or 32 raw bytes, or that many bytes in hex (32, 48 or 64
// hex digits, surrounding white space ignored). Bytes that are only hex
// digits are read as hex. name says where they came from, for errors.
func ParseKey(name string, b []byte) ([]byte, error) {
	if t := strings.TrimSpace(string(b)); len(t) == 32 || len(t) == 48 || len(t) == 64 {
		if k, err := hex.DecodeString(t); err == nil {
			return k, nil
		}
	}
	switch len(b) {
	case 16, 24, 32:
		return b, nil
	}
	return nil, fmt.Errorf("encryption key %s holds %d bytes: want a 16, 24 or 32 byte AES key, raw or in hex (e.g. `openssl rand -hex 32 > %s`)", name, len(b), name)
}
