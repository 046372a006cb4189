// Command meridian is the one Meridian binary: it runs nodes and the tools around them.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/meridiandb/meridian/server"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "meridian",
		Short:         "Meridian: a distributed, serializable SQL database that speaks PostgreSQL",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(demoCmd(), startSingleNodeCmd())
	return root
}

func logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func demoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run a throwaway single-node Meridian on a temporary store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := os.MkdirTemp("", "meridian-demo-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			cfg := server.Config{
				StoreDir:   dir,
				ListenAddr: freeOr("127.0.0.1:26257"),
				HTTPAddr:   freeOr("127.0.0.1:8080"),
				Logger:     logger(),
			}
			return run(cmd, cfg, "temporary, deleted on exit")
		},
	}
}

func startSingleNodeCmd() *cobra.Command {
	cfg := server.Config{}
	cmd := &cobra.Command{
		Use:   "start-single-node",
		Short: "Run a single-node Meridian on a persistent store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(cfg.StoreDir, 0o755); err != nil {
				return err
			}
			cfg.Logger = logger()
			return run(cmd, cfg, "persistent")
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.StoreDir, "store", "meridian-data", "directory holding the node's data")
	f.StringVar(&cfg.ListenAddr, "listen-addr", "127.0.0.1:26257", "address for SQL clients (PostgreSQL wire protocol)")
	f.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8080", "address for the HTTP status endpoints (/health)")
	f.StringVar(&cfg.Password, "password", os.Getenv("MERIDIAN_PASSWORD"), "password every SQL user must present (default $MERIDIAN_PASSWORD; empty: trust)")
	return cmd
}

// run starts a node and serves until SIGINT or SIGTERM.
func run(cmd *cobra.Command, cfg server.Config, storeKind string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Stop()
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "Meridian is running.\n")
	fmt.Fprintf(out, "sql:   %s\n", n.SQLURL("root"))
	if a := n.HTTPAddr(); a != "" {
		fmt.Fprintf(out, "http:  http://%s/health\n", a)
	}
	fmt.Fprintf(out, "store: %s (%s)\n", cfg.StoreDir, storeKind)
	fmt.Fprintf(out, "Connect with: psql %q\nPress Ctrl-C to stop.\n", n.SQLURL("root"))
	<-ctx.Done()
	fmt.Fprintln(out, "Shutting down.")
	return nil
}

// freeOr returns addr if it can be bound now, else the same host with a free port, so that a
// demo starts even when the usual ports are taken.
func freeOr(addr string) string {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		ln.Close()
		return addr
	}
	host, _, _ := net.SplitHostPort(addr)
	return net.JoinHostPort(host, "0")
}
