package testbroker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a throw-away certificate authority with a server certificate for
// 127.0.0.1 and localhost, a client certificate it signed, and a client
// certificate from another, untrusted authority. All files are PEM.
type PKI struct {
	CAFile                  string
	ServerCert, ServerKey   string
	ClientCert, ClientKey   string
	RogueCAFile             string
	RogueCert, RogueKey     string
	ExpiredCert, ExpiredKey string
}

// NewPKI generates a PKI in a temporary directory.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	p := &PKI{}
	ca, caKey := newCA(t, "gatescan test CA")
	p.CAFile = writeCert(t, dir, "ca.pem", ca)
	p.ServerCert, p.ServerKey = leaf(t, dir, "server", ca, caKey, x509.ExtKeyUsageServerAuth, time.Now().Add(24*time.Hour))
	p.ClientCert, p.ClientKey = leaf(t, dir, "client", ca, caKey, x509.ExtKeyUsageClientAuth, time.Now().Add(24*time.Hour))
	p.ExpiredCert, p.ExpiredKey = leaf(t, dir, "expired", ca, caKey, x509.ExtKeyUsageClientAuth, time.Now().Add(-time.Hour))
	rogue, rogueKey := newCA(t, "someone else's CA")
	p.RogueCAFile = writeCert(t, dir, "rogue-ca.pem", rogue)
	p.RogueCert, p.RogueKey = leaf(t, dir, "rogue", rogue, rogueKey, x509.ExtKeyUsageClientAuth, time.Now().Add(24*time.Hour))
	return p
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newCA(t testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	return issue(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, nil)
}

func leaf(t testing.TB, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, use x509.ExtKeyUsage, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	c, key := issue(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{use},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}, ca, caKey)
	certFile = writeCert(t, dir, name+".pem", c)
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// issue generates a key and a certificate for it from tmpl, given a fresh
// serial number, signed by parent's key, or by its own when parent is nil
// (a root).
func issue(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial(t)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func writeCert(t testing.TB, dir, name string, c *x509.Certificate) string {
	t.Helper()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}
