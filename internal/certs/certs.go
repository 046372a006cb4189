package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names in a certs directory.
const (
	CACert   = "ca.crt"
	CAKey    = "ca.key"
	NodeCert = "node.crt"
	NodeKey  = "node.key"
)

// Default lifetimes: the CA outlives the certificates it signs.
const (
	DefaultCALifetime   = 10 * 365 * 24 * time.Hour
	DefaultCertLifetime = 5 * 365 * 24 * time.Hour
)

// backdate starts a certificate's validity an hour early, so that a machine whose clock is a
// little behind the one that made it still accepts it.
const backdate = time.Hour

// ClientFiles are the paths of user's client certificate and key in dir.
func ClientFiles(dir, user string) (cert, key string) {
	return filepath.Join(dir, "client."+user+".crt"), filepath.Join(dir, "client."+user+".key")
}

// Options says where a certificate goes and for how long it is valid.
type Options struct {
	// Dir is the certs directory; it is created if missing.
	Dir string
	// CAKey is the CA's key file (default Dir/ca.key).
	CAKey string
	// Lifetime is how long the certificate is valid (default DefaultCALifetime for a CA,
	// DefaultCertLifetime for others).
	Lifetime time.Duration
	// Overwrite replaces existing files; without it, making a file that exists fails.
	Overwrite bool
}

func (o Options) caKey() string {
	if o.CAKey != "" {
		return o.CAKey
	}
	return filepath.Join(o.Dir, CAKey)
}

func (o Options) lifetime(def time.Duration) time.Duration {
	if o.Lifetime > 0 {
		return o.Lifetime
	}
	return def
}

// CreateCA makes a self-signed certificate authority: Dir/ca.crt and its key.
func CreateCA(o Options) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating the CA key: %w", err)
	}
	tmpl, err := template(pkix.Name{Organization: []string{"Meridian"}, CommonName: "Meridian CA"}, o.lifetime(DefaultCALifetime))
	if err != nil {
		return err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.MaxPathLenZero = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("signing the CA certificate: %w", err)
	}
	return writePair(o, filepath.Join(o.Dir, CACert), o.caKey(), der, key)
}

// CreateNode makes the node certificate, Dir/node.crt and node.key, signed by the CA, valid
// for hosts: DNS names and IP addresses clients (and other nodes) dial. It serves as a TLS
// server and client certificate.
func CreateNode(o Options, hosts []string) error {
	if len(hosts) == 0 {
		return errors.New("a node certificate needs at least one host name or IP address")
	}
	tmpl, err := template(pkix.Name{Organization: []string{"Meridian"}, CommonName: "node"}, o.lifetime(DefaultCertLifetime))
	if err != nil {
		return err
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	return sign(o, tmpl, filepath.Join(o.Dir, NodeCert), filepath.Join(o.Dir, NodeKey))
}

// CreateClient makes user's client certificate (common name user), signed by the CA.
func CreateClient(o Options, user string) error {
	if user == "" || strings.ContainsAny(user, `/\`) || user == "." || user == ".." {
		return fmt.Errorf("invalid user name %q for a client certificate", user)
	}
	tmpl, err := template(pkix.Name{Organization: []string{"Meridian"}, CommonName: user}, o.lifetime(DefaultCertLifetime))
	if err != nil {
		return err
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	cert, key := ClientFiles(o.Dir, user)
	return sign(o, tmpl, cert, key)
}

func template(subject pkix.Name, lifetime time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating a serial number: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(lifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}, nil
}

// sign makes a key, signs tmpl for it with the CA and writes both.
func sign(o Options, tmpl *x509.Certificate, certPath, keyPath string) error {
	ca, caKey, err := loadCA(o)
	if err != nil {
		return err
	}
	if tmpl.NotAfter.After(ca.NotAfter) {
		return fmt.Errorf("the certificate would outlive its CA (valid until %s); choose a shorter lifetime", ca.NotAfter.Format(time.DateOnly))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating a key: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("signing the certificate: %w", err)
	}
	return writePair(o, certPath, keyPath, der, key)
}

func loadCA(o Options) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(filepath.Join(o.Dir, CACert))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the CA certificate (create it with `meridian cert create-ca`): %w", err)
	}
	keyPEM, err := os.ReadFile(o.caKey())
	if err != nil {
		return nil, nil, fmt.Errorf("reading the CA key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("loading the CA from %s and %s: %w", CACert, o.caKey(), err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("the CA key in %s cannot sign", o.caKey())
	}
	return pair.Leaf, signer, nil
}

// writePair writes a certificate and its key (PKCS #8), the key readable by its owner only,
// as libpq insists.
func writePair(o Options, certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("creating the certs directory: %w", err)
	}
	if dir := filepath.Dir(keyPath); dir != o.Dir {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating the key's directory: %w", err)
		}
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding the key: %w", err)
	}
	if !o.Overwrite {
		for _, p := range []string{certPath, keyPath} {
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("%s exists; pass --overwrite to replace it", p)
			}
		}
	}
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFile replaces path with data through a temporary file, so that a reader never sees
// half a certificate.
func writeFile(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// ServerTLS is the TLS configuration of a node's SQL server, from Dir's node certificate and
// CA: clients may present a certificate signed by the CA, which then names their user.
func ServerTLS(dir string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, NodeCert), filepath.Join(dir, NodeKey))
	if err != nil {
		return nil, fmt.Errorf("loading the node certificate from %s (create it with `meridian cert create-node`): %w", dir, err)
	}
	pool, err := CAPool(dir)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientCAs:    pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// CAPool reads Dir/ca.crt, which may hold several CA certificates (while one replaces
// another).
func CAPool(dir string) (*x509.CertPool, error) {
	caPEM, err := os.ReadFile(filepath.Join(dir, CACert))
	if err != nil {
		return nil, fmt.Errorf("reading the CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %s", filepath.Join(dir, CACert))
	}
	return pool, nil
}
