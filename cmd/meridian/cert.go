package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/meridiandb/meridian/internal/certs"
)

// certCmd makes the certificates of a secure deployment.
func certCmd() *cobra.Command {
	var o certs.Options
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Create the CA, node and client certificates of a secure cluster",
		Long: `Create the certificates of a secure cluster in a certs directory:

  meridian cert create-ca --certs-dir certs --ca-key safe/ca.key
  meridian cert create-node 127.0.0.1 localhost db.example.com --certs-dir certs --ca-key safe/ca.key
  meridian cert create-client root --certs-dir certs --ca-key safe/ca.key

Start each node with --certs-dir (it needs ca.crt, node.crt and node.key, not the CA key).
Clients connect with sslmode=verify-full and sslrootcert=certs/ca.crt; a client certificate
(sslcert, sslkey) logs its user in without a password.`,
	}
	f := cmd.PersistentFlags()
	f.StringVar(&o.Dir, "certs-dir", "certs", "directory of the certificates")
	f.StringVar(&o.CAKey, "ca-key", "", "the CA's key file (default <certs-dir>/ca.key); keep it away from the nodes")
	f.DurationVar(&o.Lifetime, "lifetime", 0, fmt.Sprintf("how long the certificate is valid (default %s for a CA, %s for others)", days(certs.DefaultCALifetime), days(certs.DefaultCertLifetime)))
	f.BoolVar(&o.Overwrite, "overwrite", false, "replace existing files")

	done := func(cmd *cobra.Command, files ...string) {
		for _, f := range files {
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", f)
		}
	}
	caKey := func() string {
		if o.CAKey != "" {
			return o.CAKey
		}
		return filepath.Join(o.Dir, certs.CAKey)
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "create-ca",
		Short: "Create the certificate authority (ca.crt, and its key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := certs.CreateCA(o); err != nil {
				return err
			}
			done(cmd, filepath.Join(o.Dir, certs.CACert), caKey())
			return nil
		},
	}, &cobra.Command{
		Use:   "create-node HOST...",
		Short: "Create the node certificate (node.crt, node.key) for the host names and IP addresses clients dial",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, hosts []string) error {
			if err := certs.CreateNode(o, hosts); err != nil {
				return err
			}
			done(cmd, filepath.Join(o.Dir, certs.NodeCert), filepath.Join(o.Dir, certs.NodeKey))
			return nil
		},
	}, &cobra.Command{
		Use:   "create-client USER",
		Short: "Create a client certificate (client.USER.crt, client.USER.key) that logs USER in",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := certs.CreateClient(o, args[0]); err != nil {
				return err
			}
			crt, key := certs.ClientFiles(o.Dir, args[0])
			done(cmd, crt, key)
			return nil
		},
	})
	return cmd
}

// days renders a default lifetime as the flag reads it, in hours, with its length in days.
func days(d time.Duration) string {
	return fmt.Sprintf("%dh, %d days", int(d.Hours()), int(d.Hours()/24))
}
