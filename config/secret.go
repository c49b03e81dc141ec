package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Secret says where one secret comes from, in order: the environment
// variable Env when set, else the file File (a relative name is a systemd
// credential, LoadCredential=NAME:/etc/..., when the service has them in
// $CREDENTIALS_DIRECTORY, else relative to the working directory), else
// Value as written in the config. Key is the config key, for errors.
type Secret struct {
	Key   string
	Value string
	File  string
	Env   string
}

// Read returns the secret's bytes as stored: a file is not trimmed, for
// binary keys.
func (s Secret) Read() ([]byte, error) {
	if s.Env != "" {
		if v := os.Getenv(s.Env); v != "" {
			return []byte(v), nil
		}
	}
	if s.File == "" {
		return []byte(s.Value), nil
	}
	path := CredentialPath(s.File)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (check the file, or the service's LoadCredential=)", s.Key, err)
	}
	return b, nil
}

// Text returns a text secret without surrounding white space ("" when none
// is configured); a file that holds only white space is an error.
func (s Secret) Text() (string, error) {
	b, err := s.Read()
	if err != nil {
		return "", err
	}
	t := strings.TrimSpace(string(b))
	if t == "" && s.File != "" && (s.Env == "" || os.Getenv(s.Env) == "") {
		return "", fmt.Errorf("%s %s is empty: write the secret into it", s.Key, CredentialPath(s.File))
	}
	return t, nil
}

// CredentialPath resolves a secret's file name: a relative name is a
// systemd credential when the service has them ($CREDENTIALS_DIRECTORY).
func CredentialPath(name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		return filepath.Join(dir, name)
	}
	return name
}

// PasswordEnv overrides the broker password from the environment.
const PasswordEnv = "GATESCAN_MQTT_PASSWORD"

// PasswordSecret is where the broker password comes from.
func (m MQTT) PasswordSecret() Secret {
	return Secret{Key: "mqtt.password_file", Value: m.Password, File: m.PasswordFile, Env: PasswordEnv}
}

// TokenSecret is where the HTTP listener's token comes from.
func (h HTTP) TokenSecret() Secret {
	return Secret{Key: "http.token_file", Value: h.Token, File: h.TokenFile}
}

// EncryptionKeySecret is where the buffer's key for encryption at rest
// comes from (see buffer.ParseKey).
func (b Buffer) EncryptionKeySecret() Secret {
	return Secret{Key: "buffer.encryption_key_file", File: b.EncryptionKeyFile}
}
