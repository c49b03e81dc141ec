package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecret(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cret\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "blank"), []byte(" \n"), 0o600)
	os.WriteFile(filepath.Join(dir, "cred"), []byte("from-credential"), 0o600)
	const env = "GATESCAN_TEST_SECRET"
	for _, c := range []struct {
		name      string
		s         Secret
		env, cred string
		want, err string
	}{
		{"value", Secret{Key: "k", Value: "inline"}, "", "", "inline", ""},
		{"none", Secret{Key: "k"}, "", "", "", ""},
		{"file wins over value", Secret{Key: "k", Value: "inline", File: filepath.Join(dir, "pw")}, "", "", "s3cret", ""},
		{"env wins over file", Secret{Key: "k", File: filepath.Join(dir, "pw"), Env: env}, "from-env", "", "from-env", ""},
		{"systemd credential", Secret{Key: "k", File: "cred"}, "", dir, "from-credential", ""},
		{"missing file", Secret{Key: "mqtt.password_file", File: filepath.Join(dir, "nope")}, "", "", "", "mqtt.password_file: open"},
		{"blank file", Secret{Key: "http.token_file", File: filepath.Join(dir, "blank")}, "", "", "", "is empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(env, c.env)
			t.Setenv("CREDENTIALS_DIRECTORY", c.cred)
			got, err := c.s.Text()
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// Every secret of the config is read the same way: the HTTP token honours
// $CREDENTIALS_DIRECTORY like the others.
func TestTokenFileIsACredential(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("tok\n"), 0o600)
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	got, err := HTTP{TokenFile: "token"}.LoadToken()
	if err != nil || got != "tok" {
		t.Fatalf("token %q, %v", got, err)
	}
}
