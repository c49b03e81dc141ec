package buffer

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CredentialPath resolves a secret's file name: a relative name is a
// systemd credential (LoadCredential=NAME:/etc/...) when the service has
// them ($CREDENTIALS_DIRECTORY), else relative to the working directory.
func CredentialPath(name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		return filepath.Join(dir, name)
	}
	return name
}

// LoadKey reads an AES key for encryption at rest from a file (see
// CredentialPath): 16, 24 or 32 raw bytes, or that many bytes in hex (32,
// 48 or 64 hex digits, surrounding white space ignored). A file holding
// only hex digits is read as hex.
func LoadKey(name string) ([]byte, error) {
	path := CredentialPath(name)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("buffer.encryption_key_file: %w", err)
	}
	if t := strings.TrimSpace(string(b)); len(t) == 32 || len(t) == 48 || len(t) == 64 {
		if k, err := hex.DecodeString(t); err == nil {
			return k, nil
		}
	}
	switch len(b) {
	case 16, 24, 32:
		return b, nil
	}
	return nil, fmt.Errorf("buffer.encryption_key_file %s holds %d bytes: want a 16, 24 or 32 byte AES key, raw or in hex (e.g. `openssl rand -hex 32 > %s`)", path, len(b), path)
}
