// Package tlscerts makes the TLS material of a Docker engine reached over TLS:
// a CA, a server certificate for the engine's addresses and a client
// certificate for Berth, all ECDSA P-256. It writes the file names Docker and
// Berth expect (DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem).
package tlscerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Authority is a CA that signs server and client certificates.
type Authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	PEM  []byte // the CA certificate
}

// NewAuthority makes a self-signed CA named name, valid for validFor.
func NewAuthority(name string, validFor time.Duration) (*Authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Berth"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(validFor),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Authority{cert: cert, key: key, PEM: pemBlock("CERTIFICATE", der)}, nil
}

// Pair is a certificate and its key, PEM-encoded.
type Pair struct {
	CertPEM, KeyPEM []byte
}

// Server issues a server certificate for the given host names and IP
// addresses (its SANs).
func (a *Authority) Server(hosts []string, validFor time.Duration) (Pair, error) {
	tmpl := a.leaf("berth engine", validFor, x509.ExtKeyUsageServerAuth)
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return a.issue(tmpl)
}

// Client issues a client certificate named name.
func (a *Authority) Client(name string, validFor time.Duration) (Pair, error) {
	return a.issue(a.leaf(name, validFor, x509.ExtKeyUsageClientAuth))
}

func (a *Authority) leaf(name string, validFor time.Duration, usage x509.ExtKeyUsage) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"Berth"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(validFor),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
}

func (a *Authority) issue(tmpl *x509.Certificate) (Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return Pair{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Pair{}, err
	}
	return Pair{CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: pemBlock("EC PRIVATE KEY", keyDER)}, nil
}

// Files names the files of one engine's TLS material.
type Files struct {
	Dir                   string
	CA                    string // ca.pem: the CA both sides trust
	ServerCert, ServerKey string // server-cert.pem, server-key.pem: the engine's (--tlscert/--tlskey)
	ClientCert, ClientKey string // cert.pem, key.pem: Berth's (DOCKER_CERT_PATH)
}

// WriteEngineSet makes a CA, a server certificate for hosts and a client
// certificate, and writes them into dir: the client side as DOCKER_CERT_PATH
// expects it, the server side for dockerd's --tls* flags. Keys are 0600.
func WriteEngineSet(dir string, hosts []string, validFor time.Duration) (Files, error) {
	ca, err := NewAuthority("berth engine CA", validFor)
	if err != nil {
		return Files{}, err
	}
	server, err := ca.Server(hosts, validFor)
	if err != nil {
		return Files{}, err
	}
	client, err := ca.Client("berth", validFor)
	if err != nil {
		return Files{}, err
	}
	f := Files{
		Dir:        dir,
		CA:         filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "server-cert.pem"),
		ServerKey:  filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "cert.pem"),
		ClientKey:  filepath.Join(dir, "key.pem"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Files{}, err
	}
	for path, content := range map[string][]byte{
		f.CA: ca.PEM, f.ServerCert: server.CertPEM, f.ServerKey: server.KeyPEM,
		f.ClientCert: client.CertPEM, f.ClientKey: client.KeyPEM,
	} {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			return Files{}, fmt.Errorf("write %s: %w", path, err)
		}
	}
	return f, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}
