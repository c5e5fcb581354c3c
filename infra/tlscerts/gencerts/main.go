// Command gencerts makes the TLS material of an engine reached over TLS: a
// CA, a server certificate for the engine's names and addresses, and a
// client certificate for Berth (ECDSA P-256).
//
//	go run ./infra/tlscerts/gencerts -dir certs -hosts manager.example.com,203.0.113.10
//
// Give the engine ca.pem, server-cert.pem and server-key.pem (dockerd
// --tlsverify --tlscacert --tlscert --tlskey); give Berth ca.pem, cert.pem
// and key.pem (DOCKER_CERT_PATH, or their contents as BERTH_TLS_CA,
// BERTH_TLS_CERT and BERTH_TLS_KEY).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"berth/infra/tlscerts"
)

func main() {
	dir := flag.String("dir", "certs", "directory to write the certificates into")
	hosts := flag.String("hosts", "", "comma-separated names and addresses of the engine (its certificate's SANs)")
	days := flag.Int("days", 365, "validity in days")
	flag.Parse()
	if *hosts == "" {
		fmt.Fprintln(os.Stderr, "gencerts: -hosts is required")
		os.Exit(2)
	}
	files, err := tlscerts.WriteEngineSet(*dir, strings.Split(*hosts, ","), time.Duration(*days)*24*time.Hour)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gencerts:", err)
		os.Exit(1)
	}
	fmt.Printf("engine: --tlsverify --tlscacert %s --tlscert %s --tlskey %s\nberth:  DOCKER_CERT_PATH=%s\n",
		files.CA, files.ServerCert, files.ServerKey, files.Dir)
}
